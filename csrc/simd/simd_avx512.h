/* The vector abstraction for AVX-512 F/BW/VL/DQ (16 float lanes); see simd_avx2.h. */
#ifndef CLV_SIMD_AVX512_H
#define CLV_SIMD_AVX512_H
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__)
#error "simd_avx512.h needs -mavx512f -mavx512bw -mavx512vl (name the file *_avx512.c)"
#endif
#include <immintrin.h>
#include <stdint.h>

#define CLV_ISA avx512
typedef __m512 VF;
#define VW 16
#define VREGS 32   /* vector registers */

static inline VF vzero(void) { return _mm512_setzero_ps(); }
static inline VF vset1(float f) { return _mm512_set1_ps(f); }
static inline VF vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, VF v) { _mm512_storeu_ps(p, v); }
static inline VF vadd(VF a, VF b) { return _mm512_add_ps(a, b); }
static inline VF vsub(VF a, VF b) { return _mm512_sub_ps(a, b); }
static inline VF vmul(VF a, VF b) { return _mm512_mul_ps(a, b); }
static inline VF vdiv(VF a, VF b) { return _mm512_div_ps(a, b); }
static inline VF vfma(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
static inline VF vfnma(VF a, VF b, VF c) { return _mm512_fnmadd_ps(a, b, c); }
static inline VF vmax(VF a, VF b) { return _mm512_max_ps(a, b); }
static inline VF vmin(VF a, VF b) { return _mm512_min_ps(a, b); }
static inline VF vabs(VF a) { return _mm512_abs_ps(a); }
static inline VF vcopysign(VF mag, VF sgn) {
    const __m512i m = _mm512_set1_epi32((int)0x80000000u);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_andnot_si512(m, _mm512_castps_si512(mag)),
                                               _mm512_and_si512(m, _mm512_castps_si512(sgn))));
}
static inline VF vround(VF a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline VF vpow2i(VF n) {
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
static inline VF vzero_below(VF r, VF x, float lo) {   /* 0 where x < lo, else r */
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(lo), _CMP_NLT_UQ), r);
}
static inline __mmask16 clv_maskn(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
static inline VF vkeepn(VF v, int64_t n) { return _mm512_maskz_mov_ps(clv_maskn(n), v); }
static inline float vhsum(VF v) { return _mm512_reduce_add_ps(v); }
static inline float vhmax(VF v) { return _mm512_reduce_max_ps(v); }
/* out[0..3] = horizontal sums of a, b, c, d */
static inline void vhsum4(VF a, VF b, VF c, VF d, float *out) {
#define CLV_H(v) _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(CLV_H(a), CLV_H(b)), _mm256_hadd_ps(CLV_H(c), CLV_H(d)));
#undef CLV_H
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}
/* lane t of the result = horizontal sum of a[t], t < 16: a transpose-and-add tree (45 ops where
 * 16 separate sums take ~130) */
static inline VF vhsum_lanes(const VF *a) {
    __m512 u[8], w[4];
    for (int p = 0; p < 8; p++)   /* per 128-bit chunk: a2p and a2p+1, two partials each */
        u[p] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * p], a[2 * p + 1]), _mm512_unpackhi_ps(a[2 * p], a[2 * p + 1]));
    for (int p = 0; p < 4; p++) {   /* per 128-bit chunk: a4p .. a4p+3, one partial each */
        __m512d x = _mm512_castps_pd(u[2 * p]), y = _mm512_castps_pd(u[2 * p + 1]);
        w[p] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xDD));
    __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88), _mm512_shuffle_f32x4(w[2], w[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, 0x88), _mm512_shuffle_f32x4(x01, x23, 0xDD));
}
static inline VF vswap_pairs(VF a) { return _mm512_permute_ps(a, 0xB1); }
static inline VF vload_f16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline VF vloadn(const float *p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), clv_maskn(n), p);
}
static inline void vstoren(float *p, VF v, int64_t n) { _mm512_mask_storeu_ps(p, clv_maskn(n), v); }
static inline VF vloadn_f16(const uint16_t *p, int64_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(clv_maskn(n), p));
}
#define CLV_F16_RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
static inline void vstore_f16(uint16_t *p, VF v) { _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(v, CLV_F16_RNE)); }
static inline void vstoren_f16(uint16_t *p, VF v, int64_t n) {
    _mm256_mask_storeu_epi16(p, clv_maskn(n), _mm512_cvtps_ph(v, CLV_F16_RNE));
}

#include "simd_common.h"
#endif
