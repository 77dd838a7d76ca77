/* attention, neon: the generic body attention_simd.inc compiled with neon's vector primitives. */
#include "../../simd/simd_neon.h"
#include "attention_simd.inc"
