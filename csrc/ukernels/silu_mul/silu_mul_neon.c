/* silu_mul, neon: the generic body silu_mul_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "silu_mul_simd.inc"
