/* gelu, neon: the generic body gelu_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "gelu_simd.inc"
