/* add, avx512: the generic body add_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "add_simd.inc"
