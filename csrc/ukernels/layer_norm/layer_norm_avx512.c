/* layer_norm, avx512: the generic body layer_norm_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "layer_norm_simd.inc"
