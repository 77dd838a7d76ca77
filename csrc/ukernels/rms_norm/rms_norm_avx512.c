/* rms_norm, avx512: the generic body rms_norm_simd.inc compiled with avx512's vector primitives. */
#include "../../simd/simd_avx512.h"
#include "rms_norm_simd.inc"
