/* scale, avx2: the generic body scale_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "scale_simd.inc"
