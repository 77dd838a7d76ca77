/* to_f16, avx512: the generic body to_f16_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "to_f16_simd.inc"
