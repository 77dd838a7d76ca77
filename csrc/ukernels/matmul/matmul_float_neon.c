/* f32 / f16 / bf16 weights x f32 activations on AArch64 NEON, f32 accumulation.
 *
 * Packing "rows": the raw GGUF rows unchanged (nr = 1), as the scalar and x86 float variants.
 * Register tiles of up to 4 rows of X x 4 rows of W: per 4-wide step of K, 4 + 4 loads feed 16
 * FMAs into 16 accumulators (of 32 NEON registers), reduced once per tile at the end of K.
 * f16 weights widen with fcvtl (baseline Armv8), bf16 with a 16-bit left shift. The K tail
 * (K % 4) is finished in scalar code. */
#if !defined(__aarch64__)
#error "AArch64 only (name the file *_neon.c)"
#endif
#include <arm_neon.h>
#include <string.h>

#include "matmul.h"
#include "../../formats/fp16.h"

#define INLINE static inline __attribute__((always_inline))

INLINE float32x4_t ld_f32(const float *p) { return vld1q_f32(p); }
INLINE float32x4_t ld_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
INLINE float32x4_t ld_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
INLINE float sc_f32(const float *p) { return *p; }
INLINE float sc_f16(const uint16_t *p) { return clv_fp16_to_fp32(*p); }
INLINE float sc_bf16(const uint16_t *p) { return clv_bf16_to_fp32(*p); }

/* Y[m..m+R, n..n+C] for R, C in 1..4 (constants after inlining) */
#define DEFINE_TILE(NAME, ELT)                                                                     \
    INLINE void NAME##_tile(const clv_matmul_args *a, int64_t m, int64_t n, const int R,          \
                            const int C) {                                                        \
        const int64_t k = a->k, kv = k / 4 * 4;                                                   \
        const float *x[4];                                                                        \
        const ELT *w[4];                                                                          \
        for (int r = 0; r < R; r++) x[r] = (const float *)((const uint8_t *)a->lhs + (m + r) * a->lhs_stride); \
        for (int c = 0; c < C; c++) w[c] = (const ELT *)a->packed + (n + c) * k;                  \
        float32x4_t acc[4][4];                                                                    \
        for (int r = 0; r < R; r++)                                                               \
            for (int c = 0; c < C; c++) acc[r][c] = vdupq_n_f32(0.0f);                            \
        for (int64_t i = 0; i < kv; i += 4) {                                                     \
            float32x4_t wv[4];                                                                    \
            for (int c = 0; c < C; c++) wv[c] = ld_##NAME(w[c] + i);                              \
            for (int r = 0; r < R; r++) {                                                         \
                float32x4_t xv = vld1q_f32(x[r] + i);                                             \
                for (int c = 0; c < C; c++) acc[r][c] = vfmaq_f32(acc[r][c], xv, wv[c]);         \
            }                                                                                     \
        }                                                                                         \
        for (int r = 0; r < R; r++)                                                               \
            for (int c = 0; c < C; c++) {                                                         \
                float s = vaddvq_f32(acc[r][c]);                                                  \
                for (int64_t i = kv; i < k; i++) s += x[r][i] * sc_##NAME(w[c] + i);              \
                a->y[(m + r) * a->y_stride + n + c] = s;                                          \
            }                                                                                     \
    }                                                                                             \
    static void NAME##_run(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0,         \
                           int64_t n1) {                                                          \
        if (n1 > a->n) n1 = a->n;                                                                 \
        for (int64_t m = m0; m < m1; m += 4) {                                                    \
            int R = m1 - m < 4 ? (int)(m1 - m) : 4;                                               \
            for (int64_t n = n0; n < n1; n += 4) {                                                \
                int C = n1 - n < 4 ? (int)(n1 - n) : 4;                                           \
                if (R == 4 && C == 4) NAME##_tile(a, m, n, 4, 4);                                 \
                else if (R == 1 && C == 4) NAME##_tile(a, m, n, 1, 4);                            \
                else                                                                              \
                    for (int r = 0; r < R; r++)                                                   \
                        for (int c = 0; c < C; c++) NAME##_tile(a, m + r, n + c, 1, 1);           \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
    static size_t NAME##_size(int64_t n, int64_t k) { return (size_t)(n * k) * sizeof(ELT); }     \
    static void NAME##_pack(const void *src, void *dst, int64_t n, int64_t k, int64_t t0,         \
                            int64_t t1) {                                                         \
        size_t rs = (size_t)k * sizeof(ELT);                                                      \
        memcpy((uint8_t *)dst + t0 * rs, (const uint8_t *)src + t0 * rs, (size_t)(t1 - t0) * rs); \
    }

DEFINE_TILE(f32, float)
DEFINE_TILE(f16, uint16_t)
DEFINE_TILE(bf16, uint16_t)

const clv_matmul_ukernel clv_mm_f32_neon = {"f32_rows", CLV_TYPE_F32, 1, 4, 1, f32_size, f32_pack, NULL, f32_run};
const clv_matmul_ukernel clv_mm_f16_neon = {"f16_rows", CLV_TYPE_F16, 1, 4, 1, f16_size, f16_pack, NULL, f16_run};
const clv_matmul_ukernel clv_mm_bf16_neon = {"bf16_rows", CLV_TYPE_BF16, 1, 4, 1, bf16_size, bf16_pack, NULL, bf16_run};
