/* matmul_q8raw_avx512vnni.c: Q8_0 on the RAW GGUF rows (zero-copy; matmul.h "Raw ukernels"),
 * AVX-512 VNNI. Layout "q8_0_rows": n rows of k/32 blocks of 34 bytes (fp16 scale, 32 int8),
 * at any address (unaligned loads only; rows past n are never read).
 *
 * Decode (one row of X): 16 rows of W at a time, lane i = row i, as in q8_0x16. Per block, each
 * zmm holds two rows' 32 quants (rows j and j+4, or 8+j and 12+j); vpdpbusd(w + 128 as u8, x
 * as s8) leaves 8 exact int32 partials per row, a 3-level unpack/shuffle tree adds the 8 partials
 * of all 16 rows into one zmm with row i in lane i, and 128 * sum(x) comes off all 16 at once. The 16 fp16 scales
 * come in with scalar loads. The float step is the contract's acc + (dw * dx) * (float)isum.
 * Memory: the 16 rows are 16 interleaved streams, which the hardware prefetchers serve badly
 * (measured 14 GB/s from DRAM against 27 for the linear q8_0x16 tiles); so while working on a
 * tile the kernel prefetches a tile 2-3 ahead (16 rows = one linear span) into L2, in step with
 * its own progress: about as fast as q8_0x16 from DRAM (k 2048 and 8192, one Zen 5 core). Tried
 * and dropped: reading the tile linearly (one row at a time, isums of 16 blocks per row, then a
 * 16 x 16 transpose to lanes = rows): 18.5 GB/s from DRAM against 23 for this, 14 at k 8192.
 *
 * Prefill (2+ rows of X): up to TG 16-row tiles at a time, K in slices of KS blocks; each slice
 * is re-laid into the q8_0x16 layout in a stack buffer (a 16 x 8 dword transpose per block, the
 * same tree without the adds) and the x16 VNNI tile kernel runs over every row of X; the
 * accumulators go through y between slices (exact: a float store and load change nothing),
 * so the blocks are still accumulated in order. */
#define CLV_MM_VNNI 1
#define CLV_X16_TILES_ONLY 1
#include "matmul_quant_x16.inc"

#ifndef PF_BYTES
#define PF_BYTES (192 << 10) /* decode prefetches (into L2) the tile >= this many bytes and >= 2
                                tiles ahead (6 tiles at k 2048, 2 at k 8192): measured 1-2 GB/s
                                better than 96 KiB, 384 KiB worse; an extra per-row L1 prefetch
                                gained < 1 GB/s from DRAM and cost 5 GB/s hot */
#endif
#ifndef KS
#define KS 32  /* blocks per prefill K-slice: 17 KiB per packed tile, 4 KiB of activations */
#endif
#ifndef TG
#define TG 4   /* tiles packed per K-slice in prefill (68 KiB of stack) */
#endif

static size_t raw_size(int64_t n, int64_t k) { return (size_t)n * (size_t)(k / 32) * BPB; }
/* "Packing" tiles [t0, t1) (of NR rows) = copying their rows, for callers that pack anyway. */
static void raw_copy(const void *src, void *dst, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    size_t rs = (size_t)(k / 32) * BPB;
    int64_t r0 = t0 * NR, r1 = t1 * NR < n ? t1 * NR : n;
    if (r1 > r0) memcpy((uint8_t *)dst + r0 * rs, (const uint8_t *)src + r0 * rs, (size_t)(r1 - r0) * rs);
}

/* The 16 rows' sums of their 8 dword partials: v[j] as loaded by load2 (see LO). */
INLINE __m512i reduce16(const __m512i *v) {
    __m512i t[4], u[2];
    for (int i = 0; i < 4; i++)
        t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++)
        u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                                _mm512_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* ------------------------------------------------------------------------ decode */

/* y[0:valid] = one row x (nb blocks) against the 16 rows at w + o[i]. Signed x signed as
 * (w + 128) (u8: w ^ 0x80) x x (s8) minus 128 * sum(x), and sum(x) is the block's s, shared by
 * all 16 rows: one xor and one vpdpbusd per row pair. Measured (hot, one core): 42 GB/s with
 * (x + 128) x w - 128 * sum(w) (a second vpdpbusd per row pair), 40 with the sign trick. */
INLINE void rows16_x1(const uint8_t *w, const size_t *o, int64_t valid, int64_t nb,
                      const clv_lhs_q8 *x, float *y, const uint8_t *pf, size_t pfm) {
    const __m512i zero = _mm512_setzero_si512(), c80 = _mm512_set1_epi8((char)0x80);
    __m512 acc = _mm512_setzero_ps();
    size_t off = 0;
    for (int64_t b = 0; b < nb; b++, off += BPB) {
        const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[b].qs));
        __m512i p[8];
        for (size_t l = (size_t)b * pfm * 16 * BPB & ~(size_t)63; l < (size_t)(b + 1) * pfm * 16 * BPB; l += 64)
            _mm_prefetch((const char *)(pf + l), _MM_HINT_T1);
        for (int j = 0; j < 8; j++) {
            __m512i wv = load2(w + o[LO(j)] + off + 2, w + o[LO(j) + 4] + off + 2);
            p[j] = _mm512_dpbusd_epi32(zero, _mm512_xor_si512(wv, c80), xv);
        }
        __m512i isum = _mm512_sub_epi32(reduce16(p), _mm512_set1_epi32(128 * x[b].s));
        acc = accum(acc, _mm512_cvtph_ps(scales16_h(w + off, o)), x[b].d, isum);
    }
    store_tile(y, acc, valid);
}

/* ------------------------------------------------------------------------ prefill */

/* Rows [m0, m1) of X against the nt (<= TG) 16-row tiles at w + t * 16 * rs (the last one with
 * `valid` real rows), into y[.., n ..]. Per K-slice: the tiles are packed once, then each group
 * of MR rows of X is made unsigned once (x ^ 0x80 for the VNNI tile kernel) and runs over all
 * of them. */
static void tiles_prefill(const clv_matmul_args *a, const uint8_t *w, size_t rs, int nt,
                          int64_t valid, int64_t m0, int64_t m1, int64_t n) {
    int64_t nb = a->k / 32;
    uint8_t buf[TG][KS / 2 * (2 * 32 + 2 * 512)] __attribute__((aligned(64)));
    uint8_t xbuf[MR][KS * 32] __attribute__((aligned(64)));
    size_t o[TG][16];
    for (int t = 0; t < nt; t++) row_offsets(rs, t < nt - 1 ? NR : valid, o[t]);
    for (int64_t b0 = 0; b0 < nb; b0 += KS) {
        int64_t nbs = nb - b0 < KS ? nb - b0 : KS;
        for (int t = 0; t < nt; t++) pack_slice(w + (size_t)t * NR * rs, o[t], b0, nbs, buf[t]);
        for (int64_t m = m0; m < m1; m += MR) {
            int R = m1 - m < MR ? (int)(m1 - m) : MR;
            const clv_lhs_q8 *x[MR];
            const uint8_t *xu[MR];
            for (int r = 0; r < R; r++) {
                x[r] = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + (m + r) * a->lhs_stride) + b0;
                for (int64_t b = 0; b < nbs; b++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)x[r][b].qs);
                    _mm256_store_si256((__m256i *)(xbuf[r] + b * 32), _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)));
                }
                xu[r] = xbuf[r];
            }
            for (int t = 0; t < nt; t++) {
                int64_t vt = t < nt - 1 ? NR : valid;
                __mmask16 vm = vt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << vt) - 1);
                float *y = a->y + m * a->y_stride + n + t * NR;
                __m512 acc[MR];
                for (int r = 0; r < R; r++)
                    acc[r] = b0 ? _mm512_maskz_loadu_ps(vm, y + r * a->y_stride) : _mm512_setzero_ps();
                switch (R) {
                case 1: q8_tile_vnni(buf[t], nbs, x, xu, 1, acc); break;
                case 2: q8_tile_vnni(buf[t], nbs, x, xu, 2, acc); break;
                case 3: q8_tile_vnni(buf[t], nbs, x, xu, 3, acc); break;
                default: q8_tile_vnni(buf[t], nbs, x, xu, 4, acc); break;
                }
                for (int r = 0; r < R; r++) store_tile(y + r * a->y_stride, acc[r], vt);
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
    size_t pft = (PF_BYTES + NR * rs - 1) / (NR * rs);
    if (pft < 2) pft = 2;
    for (int64_t n = n0; n < n1; n += NR) {
        const uint8_t *w = (const uint8_t *)a->packed + (size_t)n * rs;
        int64_t valid = n1 - n < NR ? n1 - n : NR;
        size_t o[16];
        row_offsets(rs, valid, o);
        /* the chunk's first tile prefetches the next pft tiles, each later one the pft-th next */
        if (n == n0) rows16_x1(w, o, valid, nb, x, a->y + m0 * a->y_stride + n, w + NR * rs, pft);
        else rows16_x1(w, o, valid, nb, x, a->y + m0 * a->y_stride + n, w + pft * NR * rs, 1);
    }
}

const clv_matmul_ukernel clv_mm_q8_0_rows_avx512vnni = {
    "q8_0_rows_avx512", CLV_TYPE_Q8_0, NR, MR, 32, raw_size, raw_copy, clv_lhs_quant_avx512, raw_run, 1,
};
