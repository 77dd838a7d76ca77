/* scale, neon: the generic body scale_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "scale_simd.inc"
