/* Helpers for the variant tables of the non-matmul ops. Each op NAME has a generic SIMD body
 * csrc/ukernels/NAME/NAME_simd.inc compiled once per ISA by NAME_avx2.c, NAME_avx512.c and
 * NAME_neon.c (each a few lines), and a scalar reference NAME_scalar.c that holds the table:
 *
 *   CLV_DECLARE_SIMD(rms_norm, (const float *x, ...))
 *   const clv_variant clv_rms_norm_variants[] = {
 *       CLV_SIMD_VARIANTS(rms_norm)
 *       {"scalar", 0, (const void *)rms_norm_scalar},
 *       {0, 0, 0},
 *   };
 *
 * Only the variants of the architecture being compiled are listed (the others are not built). */
#ifndef CLV_OPS_VARIANTS_H
#define CLV_OPS_VARIANTS_H
#include "clavis_ops.h"

#if defined(__x86_64__) || defined(__i386__)
#define CLV_DECLARE_SIMD(op, params) void clv_##op##_avx512 params; void clv_##op##_avx2 params;
#define CLV_SIMD_VARIANTS(op)                                   \
    {"avx512", CLV_CPU_AVX512, (const void *)clv_##op##_avx512}, \
    {"avx2", CLV_CPU_AVX2, (const void *)clv_##op##_avx2},
#elif defined(__aarch64__)
#define CLV_DECLARE_SIMD(op, params) void clv_##op##_neon params;
#define CLV_SIMD_VARIANTS(op) {"neon", CLV_CPU_NEON, (const void *)clv_##op##_neon},
#else
#define CLV_DECLARE_SIMD(op, params)
#define CLV_SIMD_VARIANTS(op)
#endif

#define CLV_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CLV_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
