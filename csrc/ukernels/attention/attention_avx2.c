/* attention, avx2: the generic body attention_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "attention_simd.inc"
