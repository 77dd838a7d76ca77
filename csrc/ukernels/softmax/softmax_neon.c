/* softmax, neon: the generic body softmax_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "softmax_simd.inc"
