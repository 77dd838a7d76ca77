/* silu_mul, avx512: the generic body silu_mul_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "silu_mul_simd.inc"
