/* layer_norm, avx2: the generic body layer_norm_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "layer_norm_simd.inc"
