/* add, neon: the generic body add_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "add_simd.inc"
