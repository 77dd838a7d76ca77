/* silu_mul, avx2: the generic body silu_mul_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "silu_mul_simd.inc"
