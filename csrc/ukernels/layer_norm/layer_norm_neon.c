/* layer_norm, neon: the generic body layer_norm_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "layer_norm_simd.inc"
