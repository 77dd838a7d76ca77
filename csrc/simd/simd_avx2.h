/* The vector abstraction for AVX2 + FMA + F16C (8 float lanes). Included only by *_avx2.c files.
 * Every simd_*.h header offers the same small set of names (VF, VW, vload, vfma, ...) so that an
 * op's generic body (csrc/ukernels/NAME/NAME_simd.inc) is written once and compiled per ISA, the
 * way NumPy's universal intrinsics work. Partial vectors (vloadn/vstoren) never touch memory past
 * `n` elements. */
#ifndef CLV_SIMD_AVX2_H
#define CLV_SIMD_AVX2_H
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "simd_avx2.h needs -mavx2 -mfma -mf16c (name the file *_avx2.c)"
#endif
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define CLV_ISA avx2
typedef __m256 VF;
#define VW 8
#define VREGS 16   /* vector registers */

static inline VF vzero(void) { return _mm256_setzero_ps(); }
static inline VF vset1(float f) { return _mm256_set1_ps(f); }
static inline VF vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, VF v) { _mm256_storeu_ps(p, v); }
static inline VF vadd(VF a, VF b) { return _mm256_add_ps(a, b); }
static inline VF vsub(VF a, VF b) { return _mm256_sub_ps(a, b); }
static inline VF vmul(VF a, VF b) { return _mm256_mul_ps(a, b); }
static inline VF vdiv(VF a, VF b) { return _mm256_div_ps(a, b); }
static inline VF vfma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }   /* a*b + c */
static inline VF vfnma(VF a, VF b, VF c) { return _mm256_fnmadd_ps(a, b, c); } /* c - a*b */
static inline VF vmax(VF a, VF b) { return _mm256_max_ps(a, b); }
static inline VF vmin(VF a, VF b) { return _mm256_min_ps(a, b); }
static inline VF vabs(VF a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline VF vcopysign(VF mag, VF sgn) {
    const VF m = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(m, mag), _mm256_and_ps(m, sgn));
}
static inline VF vround(VF a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for float n holding an integer in [-126, 127] */
static inline VF vpow2i(VF n) {
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
/* 0 where x < lo, else r (NaN x keeps r) */
static inline VF vzero_below(VF r, VF x, float lo) {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_LT_OQ), r);
}
/* lanes >= n set to 0 */
static inline VF vkeepn(VF v, int64_t n) {
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
    return _mm256_and_ps(v, _mm256_castsi256_ps(m));
}
static inline float vhsum(VF v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vhmax(VF v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
/* out[0..3] = horizontal sums of a, b, c, d */
static inline void vhsum4(VF a, VF b, VF c, VF d, float *out) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}
/* lane t of the result = horizontal sum of a[t], t < 8 */
static inline VF vhsum_lanes(const VF *a) {
    __m256 u[4], w[2];
    for (int p = 0; p < 4; p++)
        u[p] = _mm256_add_ps(_mm256_unpacklo_ps(a[2 * p], a[2 * p + 1]), _mm256_unpackhi_ps(a[2 * p], a[2 * p + 1]));
    for (int p = 0; p < 2; p++) {
        __m256d x = _mm256_castps_pd(u[2 * p]), y = _mm256_castps_pd(u[2 * p + 1]);
        w[p] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(x, y)), _mm256_castpd_ps(_mm256_unpackhi_pd(x, y)));
    }
    return _mm256_add_ps(_mm256_permute2f128_ps(w[0], w[1], 0x20), _mm256_permute2f128_ps(w[0], w[1], 0x31));
}
/* (x0,x1,x2,x3,...) -> (x1,x0,x3,x2,...) */
static inline VF vswap_pairs(VF a) { return _mm256_permute_ps(a, 0xB1); }
static inline VF vload_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline void vstore_f16(uint16_t *p, VF v) {
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
#include "simd_tails_buffered.h"

#include "simd_common.h"
#endif
