/* gelu, avx2: the generic body gelu_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "gelu_simd.inc"
