/* The variant tables of the five matmul ops (best first, scalar last). `fn` points at a
 * clv_matmul_ukernel (matmul.h). Adding a variant = its file + one line here. */
#include "matmul.h"

#define UK(NAME) extern const clv_matmul_ukernel NAME;
UK(clv_mm_f32_scalar) UK(clv_mm_f16_scalar) UK(clv_mm_bf16_scalar)
UK(clv_mm_q8_0_scalar) UK(clv_mm_q4_0_scalar)
#if defined(__x86_64__)
UK(clv_mm_q8_0_rows_avx512vnni) UK(clv_mm_q4_0_avx512vnni) UK(clv_mm_q8_0_avx512vnni) UK(clv_mm_q4_0_avx512) UK(clv_mm_q8_0_avx512)
UK(clv_mm_f32_avx512) UK(clv_mm_f16_avx512) UK(clv_mm_bf16_avx512)
UK(clv_mm_q4_0_avx2) UK(clv_mm_q8_0_avx2)
UK(clv_mm_f32_avx2) UK(clv_mm_f16_avx2) UK(clv_mm_bf16_avx2)
#define X86_AVX512 (CLV_CPU_AVX2 | CLV_CPU_AVX512)
#define X86_VNNI (X86_AVX512 | CLV_CPU_AVX512VNNI)
#endif
#if defined(__aarch64__)
UK(clv_mm_q4_0_neon_i8mm) UK(clv_mm_q8_0_neon_i8mm) UK(clv_mm_q8_0_rows_neon_dotprod) UK(clv_mm_q4_0_neon_dotprod) UK(clv_mm_q8_0_neon_dotprod)
UK(clv_mm_q4_0_neon) UK(clv_mm_q8_0_neon)
UK(clv_mm_f32_neon) UK(clv_mm_f16_neon) UK(clv_mm_bf16_neon)
#define ARM_DOT (CLV_CPU_NEON | CLV_CPU_DOTPROD)
#define ARM_I8MM (ARM_DOT | CLV_CPU_I8MM)
#endif
#undef UK

#define V(NAME, FEATURES, UKERNEL) {NAME, FEATURES, (const void *)&UKERNEL},
#define END {0, 0, 0},

const clv_variant clv_matmul_q4_0_variants[] = {
#if defined(__x86_64__)
    V("avx512vnni", X86_VNNI, clv_mm_q4_0_avx512vnni)
    V("avx512", X86_AVX512, clv_mm_q4_0_avx512)
    V("avx2", CLV_CPU_AVX2, clv_mm_q4_0_avx2)
#endif
#if defined(__aarch64__)
    V("neon_i8mm", ARM_I8MM, clv_mm_q4_0_neon_i8mm)
    V("neon_dotprod", ARM_DOT, clv_mm_q4_0_neon_dotprod)
    V("neon", CLV_CPU_NEON, clv_mm_q4_0_neon)
#endif
    V("scalar", 0, clv_mm_q4_0_scalar)
    END
};

const clv_variant clv_matmul_q8_0_variants[] = {
#if defined(__x86_64__)
    /* packed first: the zero-copy variant loads at once but decodes at 0.68x of it at ~65 GB/s
     * (0.91x at ~39 GB/s), 1B Q8_0, 2 threads; kernels.use_variant selects it */
    V("avx512vnni", X86_VNNI, clv_mm_q8_0_avx512vnni)
    V("avx512vnni_raw", X86_VNNI, clv_mm_q8_0_rows_avx512vnni)   /* zero-copy: no packing */
    V("avx512", X86_AVX512, clv_mm_q8_0_avx512)
    V("avx2", CLV_CPU_AVX2, clv_mm_q8_0_avx2)
#endif
#if defined(__aarch64__)
    V("neon_i8mm", ARM_I8MM, clv_mm_q8_0_neon_i8mm)
    V("neon_dotprod", ARM_DOT, clv_mm_q8_0_neon_dotprod)
    V("neon_dotprod_raw", ARM_DOT, clv_mm_q8_0_rows_neon_dotprod)   /* zero-copy: no packing */
    V("neon", CLV_CPU_NEON, clv_mm_q8_0_neon)
#endif
    V("scalar", 0, clv_mm_q8_0_scalar)
    END
};

const clv_variant clv_matmul_f32_variants[] = {
#if defined(__x86_64__)
    V("avx512", X86_AVX512, clv_mm_f32_avx512)
    V("avx2", CLV_CPU_AVX2, clv_mm_f32_avx2)
#endif
#if defined(__aarch64__)
    V("neon", CLV_CPU_NEON, clv_mm_f32_neon)
#endif
    V("scalar", 0, clv_mm_f32_scalar)
    END
};

const clv_variant clv_matmul_f16_variants[] = {
#if defined(__x86_64__)
    V("avx512", X86_AVX512, clv_mm_f16_avx512)
    V("avx2", CLV_CPU_AVX2, clv_mm_f16_avx2)
#endif
#if defined(__aarch64__)
    V("neon", CLV_CPU_NEON, clv_mm_f16_neon)
#endif
    V("scalar", 0, clv_mm_f16_scalar)
    END
};

const clv_variant clv_matmul_bf16_variants[] = {
#if defined(__x86_64__)
    V("avx512", X86_AVX512, clv_mm_bf16_avx512)
    V("avx2", CLV_CPU_AVX2, clv_mm_bf16_avx2)
#endif
#if defined(__aarch64__)
    V("neon", CLV_CPU_NEON, clv_mm_bf16_neon)
#endif
    V("scalar", 0, clv_mm_bf16_scalar)
    END
};
