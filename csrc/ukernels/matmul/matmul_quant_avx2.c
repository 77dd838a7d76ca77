/* AVX2 Q4_0 / Q8_0 matmul: 8-row interleaved tiles, int8 activations, vpmaddubsw + vpmaddwd
 * (exact: no int16 pair sum saturates with 4-bit or |w| <= 128 times |x| <= 127).
 *
 * Packed layouts (tiles of 8 rows of W, the last padded with zero rows; tiles padded to 64 B):
 *   q4_0x8: per block 128 B of nibbles (4 groups of 32 B; group g holds for row i, lane i, the
 *           raw bytes qs[4g .. 4g+3]: low nibbles elements 4g.., high 16+4g..) and 8 fp16 scales;
 *   q8_0x8: per block 256 B (8 groups of 32 B, lane i = row i) and 8 fp16 scales;
 *   blocks in groups of 4 (quants, then scales), see q_off / s_off.
 * Float steps follow the result contract of matmul.h (mul, mul, add; never fused). */
#include <immintrin.h>
#include <string.h>

#include "matmul.h"

#define NR 8
#define MR 4
#define INLINE static inline __attribute__((always_inline))

INLINE __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}

INLINE __m256 accum(__m256 acc, __m256 dw, float dx, __m256i isum) {
    __m256 p = _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_set1_ps(dx)), _mm256_cvtepi32_ps(isum));
    __asm__("" : "+x"(p));   /* keep the product rounded on its own: no FMA contraction */
    return _mm256_add_ps(acc, p);
}

static size_t tile_bytes(int64_t k, int qbytes) {
    return ((size_t)(k / 32) * (size_t)(qbytes + 16) + 63) & ~(size_t)63;
}

/* Blocks are stored in groups of 4: the 4 blocks' quants, then their 4 x 8 fp16 scales; a group
 * is a whole number of cache lines, so a tile is one linear stream with aligned quant loads. */
#define G 4
static inline size_t q_off(int64_t b, int QB) { return (size_t)(b / G) * G * (QB + 16) + (size_t)(b % G) * QB; }
static inline size_t s_off(int64_t b, int64_t nb, int QB) {
    int64_t g0 = b / G * G, gc = nb - g0 < G ? nb - g0 : G;
    return (size_t)g0 * (QB + 16) + (size_t)gc * QB + (size_t)(b - g0) * 16;
}

static void pack_x8(const uint8_t *src, uint8_t *dst, int64_t n, int64_t k, int64_t t0,
                    int64_t t1, int bpb, int qb) {
    int64_t nb = k / 32;
    size_t rs = (size_t)nb * bpb, tb = tile_bytes(k, qb * NR);
    for (int64_t t = t0; t < t1; t++) {
        uint8_t *tile = dst + t * tb;
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *qs = tile + q_off(b, qb * NR), *sc = tile + s_off(b, nb, qb * NR);
            for (int i = 0; i < NR; i++) {
                int64_t row = t * NR + i;
                const uint8_t *blk = src + row * rs + b * bpb;
                for (int g = 0; g < qb / 4; g++) {
                    if (row < n) memcpy(qs + g * 32 + i * 4, blk + 2 + 4 * g, 4);
                    else memset(qs + g * 32 + i * 4, 0, 4);
                }
                if (row < n) memcpy(sc + i * 2, blk, 2);
                else memset(sc + i * 2, 0, 2);
            }
        }
    }
}

static size_t q4_size(int64_t n, int64_t k) { return (size_t)clv_matmul_tiles(n, NR) * tile_bytes(k, 128); }
static size_t q8_size(int64_t n, int64_t k) { return (size_t)clv_matmul_tiles(n, NR) * tile_bytes(k, 256); }
static void q4_pack(const void *s, void *d, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    pack_x8(s, d, n, k, t0, t1, 18, 16);
}
static void q8_pack(const void *s, void *d, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    pack_x8(s, d, n, k, t0, t1, 34, 32);
}

INLINE void q4_tile(const uint8_t *tile, int64_t nb, const clv_lhs_q8 *const *x, const int R,
                    __m256 *acc) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qs = tile + q_off(b, 128), *sc = tile + s_off(b, nb, 128);
        __m256i lo[4], hi[4];
        for (int g = 0; g < 4; g++) {
            __m256i v = _mm256_load_si256((const __m256i *)(qs + 32 * g));
            lo[g] = _mm256_and_si256(v, m4);
            hi[g] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
        __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)sc));
        for (int r = 0; r < R; r++) {
            const clv_lhs_q8 *xb = x[r] + b;
            const int32_t *xi = (const int32_t *)xb->qs;
            __m256i a0 = _mm256_set1_epi32(-8 * xb->s), a1 = _mm256_setzero_si256();
            for (int g = 0; g < 4; g++) {
                a0 = dot_u8s8(a0, lo[g], _mm256_set1_epi32(xi[g]));
                a1 = dot_u8s8(a1, hi[g], _mm256_set1_epi32(xi[4 + g]));
            }
            acc[r] = accum(acc[r], dw, xb->d, _mm256_add_epi32(a0, a1));
        }
    }
}

INLINE void q8_tile(const uint8_t *tile, int64_t nb, const clv_lhs_q8 *const *x, const int R,
                    __m256 *acc) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *qs = tile + q_off(b, 256), *sc = tile + s_off(b, nb, 256);
        __m256i a0[MR], a1[MR];
        for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
            __m256i w = _mm256_load_si256((const __m256i *)(qs + 32 * g));
            __m256i u = _mm256_abs_epi8(w);
            for (int r = 0; r < R; r++) {
                __m256i s = _mm256_sign_epi8(_mm256_set1_epi32(((const int32_t *)x[r][b].qs)[g]), w);
                if (g & 1) a1[r] = dot_u8s8(a1[r], u, s);
                else a0[r] = dot_u8s8(a0[r], u, s);
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)sc));
        for (int r = 0; r < R; r++) acc[r] = accum(acc[r], dw, x[r][b].d, _mm256_add_epi32(a0[r], a1[r]));
    }
}

INLINE void store8(float *y, __m256 v, int64_t valid) {
    if (valid >= 8) { _mm256_storeu_ps(y, v); return; }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    memcpy(y, tmp, (size_t)valid * sizeof(float));
}

#define DEFINE_RUN(NAME, TILE, QBYTES)                                                           \
    static void NAME(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {  \
        int64_t nb = a->k / 32;                                                                   \
        size_t tb = tile_bytes(a->k, QBYTES);                                                     \
        if (n1 > a->n) n1 = a->n;                                                                 \
        for (int64_t m = m0; m < m1; m += MR) {                                                   \
            int R = m1 - m < MR ? (int)(m1 - m) : MR;                                             \
            const clv_lhs_q8 *x[MR];                                                              \
            for (int r = 0; r < R; r++)                                                           \
                x[r] = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + (m + r) * a->lhs_stride);   \
            for (int64_t n = n0; n < n1; n += NR) {                                               \
                const uint8_t *qs = (const uint8_t *)a->packed + (n / NR) * tb;                   \
                __m256 acc[MR] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),  \
                                  _mm256_setzero_ps()};                                           \
                switch (R) {                                                                      \
                case 1: TILE(qs, nb, x, 1, acc); break;                                       \
                case 2: TILE(qs, nb, x, 2, acc); break;                                       \
                case 3: TILE(qs, nb, x, 3, acc); break;                                       \
                default: TILE(qs, nb, x, 4, acc); break;                                      \
                }                                                                                 \
                for (int r = 0; r < R; r++) store8(a->y + (m + r) * a->y_stride + n, acc[r], n1 - n); \
            }                                                                                     \
        }                                                                                         \
    }

DEFINE_RUN(q4_run, q4_tile, 128)
DEFINE_RUN(q8_run, q8_tile, 256)

const clv_matmul_ukernel clv_mm_q4_0_avx2 = {
    "q4_0x8_avx2", CLV_TYPE_Q4_0, NR, MR, 32, q4_size, q4_pack, clv_lhs_quant_avx2, q4_run,
};
const clv_matmul_ukernel clv_mm_q8_0_avx2 = {
    "q8_0x8_avx2", CLV_TYPE_Q8_0, NR, MR, 32, q8_size, q8_pack, clv_lhs_quant_avx2, q8_run,
};
