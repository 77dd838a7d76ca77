/* rope, avx512: the generic body rope_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "rope_simd.inc"
