/* conv1d_gelu, avx512: the generic body conv1d_gelu_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "conv1d_gelu_simd.inc"
