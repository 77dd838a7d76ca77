/* attention, avx512: the generic body attention_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "attention_simd.inc"
