/* softmax, avx512: the generic body softmax_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "softmax_simd.inc"
