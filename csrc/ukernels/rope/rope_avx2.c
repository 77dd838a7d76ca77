/* rope, avx2: the generic body rope_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "rope_simd.inc"
