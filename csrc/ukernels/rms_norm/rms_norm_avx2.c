/* rms_norm, avx2: the generic body rms_norm_simd.inc compiled with avx2's vector primitives. */
#include "../../simd/simd_avx2.h"
#include "rms_norm_simd.inc"
