/* matmul_q8raw_neon_dotprod.c: Q8_0 on the RAW GGUF rows (zero-copy; matmul.h "Raw ukernels"),
 * AArch64 with the dot-product extension. Layout "q8_0_rows": n rows of k/32 blocks of 34 bytes
 * (fp16 scale, 32 int8) at any address (byte-aligned vld1 loads only; rows past n never read).
 *
 * Decode (one row of X): 4 rows of W at a time, lane i = row i. Per block and row, two sdot
 * (signed x signed, no bias tricks needed) leave 4 int32 partials; two pairwise-add levels put
 * the 4 rows' sums in the 4 lanes; the 4 fp16 scales come in with lane loads. The float step is
 * the contract's acc + (dw * dx) * (float)isum (fp-contract is off for this file: see the .inc).
 *
 * Prefill (2+ rows of X): up to TG 4-row tiles at a time, K in slices of KS blocks; each slice is
 * re-laid into the q8_0x4_neon layout on the stack (a 4 x 4 dword transpose per half block) and
 * the x4 tile kernel of matmul_quant_x4_neon.inc runs over every row of X; the accumulators go
 * through y between slices (exact), so the blocks are still accumulated in order. */
#if !defined(__ARM_FEATURE_DOTPROD)
#error "needs -march=armv8.2-a+dotprod (name the file *_neon_dotprod.c)"
#endif
#define CLV_MM_SDOT 1
#define CLV_X4_TILES_ONLY 1
#include "matmul_quant_x4_neon.inc"

#define BPB 34     /* bytes per Q8_0 block */
#define XBB 136    /* bytes per block of a q8_0x4_neon tile: 8 groups of 16 B, then 4 fp16 scales */
#define KS 64      /* blocks per prefill K-slice: 8.5 KiB per packed tile */
#define TG 4       /* tiles packed per K-slice */

static size_t raw_size(int64_t n, int64_t k) { return (size_t)n * (size_t)(k / 32) * BPB; }
/* "Packing" tiles [t0, t1) (of NR rows) = copying their rows, for callers that pack anyway. */
static void raw_copy(const void *src, void *dst, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    size_t rs = (size_t)(k / 32) * BPB;
    int64_t r0 = t0 * NR, r1 = t1 * NR < n ? t1 * NR : n;
    if (r1 > r0) memcpy((uint8_t *)dst + r0 * rs, (const uint8_t *)src + r0 * rs, (size_t)(r1 - r0) * rs);
}

/* Row pointers of a 4-row tile with `valid` real rows (the rest repeat the last one). */
INLINE void row_ptrs(const uint8_t *w, size_t rs, int64_t valid, const uint8_t **p) {
    for (int i = 0; i < NR; i++) p[i] = w + (size_t)(i < valid ? i : valid - 1) * rs;
}

INLINE float32x4_t scales4(const uint8_t *const *p, size_t off) {
    uint16_t h[NR];
    for (int i = 0; i < NR; i++) memcpy(&h[i], p[i] + off, 2);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

/* ------------------------------------------------------------------------ decode */

static void rows4_x1(const uint8_t *const *p, int64_t valid, int64_t nb, const clv_lhs_q8 *x,
                     float *y) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    size_t off = 0;
    for (int64_t b = 0; b < nb; b++, off += BPB) {
        int8x16_t x0 = vld1q_s8(x[b].qs), x1 = vld1q_s8(x[b].qs + 16);
        int32x4_t s[NR];
        for (int i = 0; i < NR; i++) {
            __builtin_prefetch(p[i] + off + 512);
            int32x4_t a = vdotq_s32(vdupq_n_s32(0), vld1q_s8((const int8_t *)p[i] + off + 2), x0);
            s[i] = vdotq_s32(a, vld1q_s8((const int8_t *)p[i] + off + 18), x1);
        }
        int32x4_t isum = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
        acc = accum(acc, scales4(p, off), x[b].d, isum);
    }
    store_row(y, acc, valid);
}

/* ------------------------------------------------------------------------ prefill */

/* 4 x 4 transpose of dwords: out[g] = dword g of a, b, c, d. */
INLINE void transpose4(int8x16_t a, int8x16_t b, int8x16_t c, int8x16_t d, uint8_t *out) {
    int32x4_t t0 = vtrn1q_s32(vreinterpretq_s32_s8(a), vreinterpretq_s32_s8(b));
    int32x4_t t1 = vtrn2q_s32(vreinterpretq_s32_s8(a), vreinterpretq_s32_s8(b));
    int32x4_t t2 = vtrn1q_s32(vreinterpretq_s32_s8(c), vreinterpretq_s32_s8(d));
    int32x4_t t3 = vtrn2q_s32(vreinterpretq_s32_s8(c), vreinterpretq_s32_s8(d));
    int64x2_t u0 = vreinterpretq_s64_s32(t0), u1 = vreinterpretq_s64_s32(t1);
    int64x2_t u2 = vreinterpretq_s64_s32(t2), u3 = vreinterpretq_s64_s32(t3);
    vst1q_s64((int64_t *)(void *)(out + 0), vtrn1q_s64(u0, u2));
    vst1q_s64((int64_t *)(void *)(out + 16), vtrn1q_s64(u1, u3));
    vst1q_s64((int64_t *)(void *)(out + 32), vtrn2q_s64(u0, u2));
    vst1q_s64((int64_t *)(void *)(out + 48), vtrn2q_s64(u1, u3));
}

/* Blocks [b0, b0 + nbs) of the 4 rows p[i] into `dst`, q8_0x4_neon layout. */
INLINE void pack_slice(const uint8_t *const *p, int64_t b0, int64_t nbs, uint8_t *dst) {
    for (int64_t b = 0; b < nbs; b++, dst += XBB) {
        size_t off = (size_t)(b0 + b) * BPB;
        for (int h = 0; h < 2; h++) {
            size_t o = off + 2 + 16 * h;
            transpose4(vld1q_s8((const int8_t *)p[0] + o), vld1q_s8((const int8_t *)p[1] + o),
                       vld1q_s8((const int8_t *)p[2] + o), vld1q_s8((const int8_t *)p[3] + o),
                       dst + 64 * h);
        }
        for (int i = 0; i < NR; i++) memcpy(dst + 128 + 2 * i, p[i] + off, 2);
    }
}

static void tiles_prefill(const clv_matmul_args *a, const uint8_t *w, size_t rs, int nt,
                          int64_t valid, int64_t m0, int64_t m1, int64_t n) {
    int64_t nb = a->k / 32;
    uint8_t buf[TG][KS * XBB] __attribute__((aligned(16)));
    const uint8_t *p[TG][NR];
    for (int t = 0; t < nt; t++) row_ptrs(w + (size_t)t * NR * rs, rs, t < nt - 1 ? NR : valid, p[t]);
    for (int64_t b0 = 0; b0 < nb; b0 += KS) {
        int64_t nbs = nb - b0 < KS ? nb - b0 : KS;
        for (int t = 0; t < nt; t++) pack_slice(p[t], b0, nbs, buf[t]);
        for (int64_t m = m0; m < m1; m += MR) {
            int R = m1 - m < MR ? (int)(m1 - m) : MR;
            const clv_lhs_q8 *x[MR];
            for (int r = 0; r < R; r++)
                x[r] = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + (m + r) * a->lhs_stride) + b0;
            for (int t = 0; t < nt; t++) {
                int64_t vt = t < nt - 1 ? NR : valid;
                float *y = a->y + m * a->y_stride + n + t * NR;
                float32x4_t acc[MR];
                for (int r = 0; r < R; r++) {
                    float tmp[NR] = {0};
                    if (b0) memcpy(tmp, y + r * a->y_stride, (size_t)vt * sizeof(float));
                    acc[r] = vld1q_f32(tmp);
                }
                switch (R) {
                case 1: q8_tile(buf[t], nbs, x, 1, acc); break;
                case 2: q8_tile(buf[t], nbs, x, 2, acc); break;
                case 3: q8_tile(buf[t], nbs, x, 3, acc); break;
                default: q8_tile(buf[t], nbs, x, 4, acc); break;
                }
                for (int r = 0; r < R; r++) store_row(y + r * a->y_stride, acc[r], vt);
            }
        }
    }
}

/* ------------------------------------------------------------------------ driver */

static void raw_run(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    int64_t nb = a->k / 32;
    size_t rs = (size_t)nb * BPB;
    if (n1 > a->n) n1 = a->n;
    if (m1 - m0 >= 2) {
        clv_raw_prefill(a, rs, m0, m1, n0, n1, NR, TG, tiles_prefill);
        return;
    }
    const clv_lhs_q8 *x = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + m0 * a->lhs_stride);
    for (int64_t n = n0; n < n1; n += NR) {
        const uint8_t *p[NR];
        int64_t valid = n1 - n < NR ? n1 - n : NR;
        row_ptrs((const uint8_t *)a->packed + (size_t)n * rs, rs, valid, p);
        rows4_x1(p, valid, nb, x, a->y + m0 * a->y_stride + n);
    }
}

const clv_matmul_ukernel clv_mm_q8_0_rows_neon_dotprod = {
    "q8_0_rows_neon", CLV_TYPE_Q8_0, NR, MR, 32, raw_size, raw_copy, clv_lhs_quant_ref, raw_run, 1,
};
