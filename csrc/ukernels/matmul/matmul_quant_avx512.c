/* AVX-512 (F/BW/VL) Q4_0 / Q8_0 matmul without VNNI (vpmaddubsw + vpmaddwd); kernels in
 * matmul_quant_x16.inc. Same packing as the VNNI variant. */
#define CLV_MM_VNNI 0
#include "matmul_quant_x16.inc"

const clv_matmul_ukernel clv_mm_q4_0_avx512 = {
    "q4_0x16_avx512", CLV_TYPE_Q4_0, NR, Q4_MR, 32, q4_size, q4_pack, clv_lhs_quant_avx512, q4_run,
    0, SLAB * NR, SLICE_NB * 32,   /* long rows in slabs (matmul_quant_x16.inc) */
};
const clv_matmul_ukernel clv_mm_q8_0_avx512 = {
    "q8_0x16_avx512", CLV_TYPE_Q8_0, NR, MR, 32, q8_size, q8_pack, clv_lhs_quant_avx512, q8_run,
};
