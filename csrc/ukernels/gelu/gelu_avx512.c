/* gelu, avx512: the generic body gelu_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "gelu_simd.inc"
