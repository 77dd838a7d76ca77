/* Q4_0 / Q8_0 matmul for AArch64 with the dot-product extension (sdot by lane). */
#if !defined(__ARM_FEATURE_DOTPROD)
#error "needs -march=armv8.2-a+dotprod (name the file *_neon_dotprod.c)"
#endif
#define CLV_MM_SDOT 1
#include "matmul_quant_x4_neon.inc"

const clv_matmul_ukernel clv_mm_q4_0_neon_dotprod = {
    "q4_0x4_neon", CLV_TYPE_Q4_0, NR, MR, 32, q4_size, q4_pack, clv_lhs_quant_ref, q4_run,
};
const clv_matmul_ukernel clv_mm_q8_0_neon_dotprod = {
    "q8_0x4_neon", CLV_TYPE_Q8_0, NR, MR, 32, q8_size, q8_pack, clv_lhs_quant_ref, q8_run,
};
