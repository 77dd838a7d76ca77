/* rms_norm, neon: the generic body rms_norm_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "rms_norm_simd.inc"
