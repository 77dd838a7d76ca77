/* to_f16, neon: the generic body to_f16_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "to_f16_simd.inc"
