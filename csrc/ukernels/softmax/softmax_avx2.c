/* softmax, avx2: the generic body softmax_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "softmax_simd.inc"
