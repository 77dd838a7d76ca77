/* conv1d_gelu, neon: the generic body conv1d_gelu_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "conv1d_gelu_simd.inc"
