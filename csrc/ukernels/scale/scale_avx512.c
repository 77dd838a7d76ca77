/* scale, avx512: the generic body scale_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "scale_simd.inc"
