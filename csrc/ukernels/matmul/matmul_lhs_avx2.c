/* AVX2 activation quantizer: bit-identical to clv_lhs_quant_ref (matmul.h contract). */
#include <immintrin.h>

#include "matmul.h"

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

void clv_lhs_quant_avx2(const float *x, clv_lhs_q8 *dst, int64_t k) {
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f);
    for (int64_t b = 0; b < k / CLV_QK; b++, x += CLV_QK) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        }
        float d = hmax8(m) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256i sum = _mm256_setzero_si256(), q[4];
        for (int i = 0; i < 4; i++) {
            __m256 s = _mm256_mul_ps(v[i], _mm256_set1_ps(id));
            __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 frac = _mm256_sub_ps(s, t);
            __m256i up = _mm256_castps_si256(_mm256_cmp_ps(frac, half, _CMP_GE_OQ));       /* -1 */
            __m256i dn = _mm256_castps_si256(_mm256_cmp_ps(frac, _mm256_xor_ps(half, sign), _CMP_LE_OQ));
            q[i] = _mm256_add_epi32(_mm256_sub_epi32(_mm256_cvttps_epi32(t), up), dn);
            sum = _mm256_add_epi32(sum, q[i]);
        }
        /* int32 -> int8 (values within -127..127, so the saturating packs are exact) */
        __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)dst[b].qs, p8);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        dst[b].s = _mm_cvtsi128_si32(s4);
        dst[b].d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(d), _MM_FROUND_TO_NEAREST_INT)));
    }
}
