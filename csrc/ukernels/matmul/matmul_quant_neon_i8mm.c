/* Q4_0 / Q8_0 matmul for AArch64 with the int8 matrix-multiply extension (smmla).
 *
 * smmla multiplies a 2x8 int8 block of X by the transpose of a 2x8 int8 block of W into a 2x2
 * int32 tile. Weights are packed in tiles of 4 rows = 2 row pairs (the last tile padded with
 * zero rows); per tile, per 32-element block:
 *   q4_0x4_i8mm: for each pair p, 2 x 16 B: chunk c (0, 1) = [row 2p: qs[8c..8c+7],
 *                row 2p+1: qs[8c..8c+7]] (raw GGUF bytes), whose low nibbles are elements
 *                8c..8c+7 and high nibbles elements 16+8c..16+8c+7; then the 4 fp16 scales.
 *   q8_0x4_i8mm: for each pair p, 4 x 16 B: chunk c (0..3) = [row 2p: qs[8c..8c+7],
 *                row 2p+1: qs[8c..8c+7]]; then the 4 fp16 scales.
 * X rows are paired on the fly (an odd last row is paired with itself, only one is stored).
 * An int32 tile lane order is (x_a w_0, x_a w_1, x_b w_0, x_b w_1). The float math per block is
 * the contract of matmul.h, acc + (dw * dx) * (float)isum, unfused (fp-contract off). */
#if !defined(__ARM_FEATURE_MATMUL_INT8)
#error "needs -march=armv8.6-a+i8mm (name the file *_neon_i8mm.c)"
#endif
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")
#endif
#include <arm_neon.h>
#include <string.h>

#include "matmul.h"

#define NR 4
#define MR 4
#define INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------------------ packing */

static size_t blk_bytes(int qb) { return (size_t)(qb * NR + 2 * NR); }
static size_t tile_bytes(int64_t k, int qb) { return (size_t)(k / 32) * blk_bytes(qb); }

/* `bpb` raw bytes per GGUF block (18 or 34), `qb` quant bytes per row and block (16 or 32) */
static void pack_i8mm(const uint8_t *src, uint8_t *dst, int64_t n, int64_t k, int64_t t0,
                      int64_t t1, int bpb, int qb) {
    int64_t nb = k / 32;
    size_t rs = (size_t)nb * bpb;
    for (int64_t t = t0; t < t1; t++) {
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *blk = dst + t * tile_bytes(k, qb) + b * blk_bytes(qb);
            for (int i = 0; i < NR; i++) {
                int64_t row = t * NR + i;
                uint8_t *sc = blk + qb * NR + 2 * i;
                /* row i = pair i/2, half i%2 of each 16-byte chunk */
                uint8_t *q = blk + (i / 2) * 2 * qb + (i % 2) * 8;
                if (row >= n) {
                    memset(sc, 0, 2);
                    for (int c = 0; c < qb / 8; c++) memset(q + 16 * c, 0, 8);
                    continue;
                }
                const uint8_t *s = src + row * rs + b * bpb;
                memcpy(sc, s, 2);
                for (int c = 0; c < qb / 8; c++) memcpy(q + 16 * c, s + 2 + 8 * c, 8);
            }
        }
    }
}

static size_t q4_size(int64_t n, int64_t k) { return (size_t)clv_matmul_tiles(n, NR) * tile_bytes(k, 16); }
static size_t q8_size(int64_t n, int64_t k) { return (size_t)clv_matmul_tiles(n, NR) * tile_bytes(k, 32); }
static void q4_pack(const void *s, void *d, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    pack_i8mm(s, d, n, k, t0, t1, 18, 16);
}
static void q8_pack(const void *s, void *d, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    pack_i8mm(s, d, n, k, t0, t1, 34, 32);
}

/* ------------------------------------------------------------------------ tiles */

/* The X operands of one row pair and block: chunk e = [x_a[8e..8e+7], x_b[8e..8e+7]] */
typedef struct { int8x16_t c[4]; float32x4_t dx; int32x4_t s8; } xpair;

INLINE xpair load_xpair(const clv_lhs_q8 *xa, const clv_lhs_q8 *xb) {
    xpair p;
    for (int e = 0; e < 4; e++) p.c[e] = vcombine_s8(vld1_s8(xa->qs + 8 * e), vld1_s8(xb->qs + 8 * e));
    float dx[4] = {xa->d, xa->d, xb->d, xb->d};
    int32_t s8[4] = {8 * xa->s, 8 * xa->s, 8 * xb->s, 8 * xb->s};
    p.dx = vld1q_f32(dx);
    p.s8 = vld1q_s32(s8);
    return p;
}

/* acc + (dw * dx) * (float)isum, each step rounded */
INLINE float32x4_t accum(float32x4_t acc, float32x4_t dw, float32x4_t dx, int32x4_t isum) {
    return vaddq_f32(acc, vmulq_f32(vmulq_f32(dw, dx), vcvtq_f32_s32(isum)));
}

/* dw lanes for pair 0: (dw0, dw1, dw0, dw1); pair 1: (dw2, dw3, dw2, dw3) */
INLINE void load_dw(const uint8_t *p, float32x4_t *d0, float32x4_t *d1) {
    float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)p)));
    *d0 = vcombine_f32(vget_low_f32(dw), vget_low_f32(dw));
    *d1 = vcombine_f32(vget_high_f32(dw), vget_high_f32(dw));
}

/* P (1..2) pairs of X rows against one tile: acc[2 P + p] = pair P x W pair p */
INLINE void q4_tile(const uint8_t *p, int64_t nb, const clv_lhs_q8 *const *x, const int P, float32x4_t *acc) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    for (int64_t b = 0; b < nb; b++, p += 64 + 8) {
        __builtin_prefetch(p + 512);
        int8x16_t lo[4], hi[4];   /* [pair * 2 + chunk] */
        for (int j = 0; j < 4; j++) {
            uint8x16_t v = vld1q_u8(p + 16 * j);
            lo[j] = vreinterpretq_s8_u8(vandq_u8(v, m4));
            hi[j] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
        }
        float32x4_t dw0, dw1;
        load_dw(p + 64, &dw0, &dw1);
        for (int q = 0; q < P; q++) {
            xpair xp = load_xpair(x[2 * q] + b, x[2 * q + 1] + b);
            for (int wp = 0; wp < 2; wp++) {
                int32x4_t s = vdupq_n_s32(0);
                s = vmmlaq_s32(s, xp.c[0], lo[2 * wp]);
                s = vmmlaq_s32(s, xp.c[1], lo[2 * wp + 1]);
                s = vmmlaq_s32(s, xp.c[2], hi[2 * wp]);
                s = vmmlaq_s32(s, xp.c[3], hi[2 * wp + 1]);
                acc[2 * q + wp] = accum(acc[2 * q + wp], wp ? dw1 : dw0, xp.dx, vsubq_s32(s, xp.s8));
            }
        }
    }
}

INLINE void q8_tile(const uint8_t *p, int64_t nb, const clv_lhs_q8 *const *x, const int P, float32x4_t *acc) {
    for (int64_t b = 0; b < nb; b++, p += 128 + 8) {
        __builtin_prefetch(p + 1024);
        int8x16_t w[8];   /* [pair * 4 + chunk] */
        for (int j = 0; j < 8; j++) w[j] = vld1q_s8((const int8_t *)p + 16 * j);
        float32x4_t dw0, dw1;
        load_dw(p + 128, &dw0, &dw1);
        for (int q = 0; q < P; q++) {
            xpair xp = load_xpair(x[2 * q] + b, x[2 * q + 1] + b);
            for (int wp = 0; wp < 2; wp++) {
                int32x4_t s = vdupq_n_s32(0);
                for (int c = 0; c < 4; c++) s = vmmlaq_s32(s, xp.c[c], w[4 * wp + c]);
                acc[2 * q + wp] = accum(acc[2 * q + wp], wp ? dw1 : dw0, xp.dx, s);
            }
        }
    }
}

/* Row a of a pair: (acc[0] lanes 0-1, acc[1] lanes 0-1); row b: lanes 2-3 */
INLINE void store_pair(float *ya, float *yb, float32x4_t a0, float32x4_t a1, int64_t valid) {
    float32x4_t ra = vcombine_f32(vget_low_f32(a0), vget_low_f32(a1));
    float32x4_t rb = vcombine_f32(vget_high_f32(a0), vget_high_f32(a1));
    float t[NR];
    if (valid >= NR) {
        vst1q_f32(ya, ra);
        if (yb) vst1q_f32(yb, rb);
        return;
    }
    vst1q_f32(t, ra);
    memcpy(ya, t, (size_t)valid * sizeof(float));
    if (yb) {
        vst1q_f32(t, rb);
        memcpy(yb, t, (size_t)valid * sizeof(float));
    }
}

/* ------------------------------------------------------------------------ drivers */

#define DEFINE_RUN(NAME, TILE, QB)                                                                 \
    static void NAME(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {    \
        int64_t nb = a->k / 32;                                                                     \
        size_t tb = tile_bytes(a->k, QB);                                                           \
        if (n1 > a->n) n1 = a->n;                                                                   \
        for (int64_t m = m0; m < m1; m += MR) {                                                     \
            int R = m1 - m < MR ? (int)(m1 - m) : MR, P = (R + 1) / 2;                              \
            const clv_lhs_q8 *x[MR];                                                                \
            for (int r = 0; r < MR; r++) /* an odd last row pairs with itself */                    \
                x[r] = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + (m + (r < R ? r : R - 1)) * a->lhs_stride); \
            for (int64_t n = n0; n < n1; n += NR) {                                                 \
                const uint8_t *p = (const uint8_t *)a->packed + (size_t)(n / NR) * tb;              \
                float32x4_t acc[2 * (MR / 2)];                                                      \
                for (int i = 0; i < 2 * (MR / 2); i++) acc[i] = vdupq_n_f32(0.0f);                  \
                if (P == 1) TILE(p, nb, x, 1, acc);                                                 \
                else TILE(p, nb, x, 2, acc);                                                        \
                for (int q = 0; q < P; q++) {                                                       \
                    float *ya = a->y + (m + 2 * q) * a->y_stride + n;                               \
                    float *yb = 2 * q + 1 < R ? ya + a->y_stride : NULL;                            \
                    store_pair(ya, yb, acc[2 * q], acc[2 * q + 1], n1 - n);                         \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

DEFINE_RUN(q4_run, q4_tile, 16)
DEFINE_RUN(q8_run, q8_tile, 32)

const clv_matmul_ukernel clv_mm_q4_0_neon_i8mm = {
    "q4_0x4_i8mm", CLV_TYPE_Q4_0, NR, MR, 32, q4_size, q4_pack, clv_lhs_quant_ref, q4_run,
};
const clv_matmul_ukernel clv_mm_q8_0_neon_i8mm = {
    "q8_0x4_i8mm", CLV_TYPE_Q8_0, NR, MR, 32, q8_size, q8_pack, clv_lhs_quant_ref, q8_run,
};
