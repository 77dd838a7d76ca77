/* add, avx2: the generic body add_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "add_simd.inc"
