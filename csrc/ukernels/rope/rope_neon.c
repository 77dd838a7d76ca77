/* rope, neon: the generic body rope_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "rope_simd.inc"
