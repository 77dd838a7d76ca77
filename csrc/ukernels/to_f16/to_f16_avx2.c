/* to_f16, avx2: the generic body to_f16_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "to_f16_simd.inc"
