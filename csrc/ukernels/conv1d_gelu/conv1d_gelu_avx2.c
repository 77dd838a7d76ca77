/* conv1d_gelu, avx2: the generic body conv1d_gelu_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "conv1d_gelu_simd.inc"
