/* AVX-512 activation quantizer: bit-identical to clv_lhs_quant_ref (matmul.h contract),
 * 16 lanes at a time. Round-half-away-from-zero as trunc(v) +- (|v - trunc(v)| >= 0.5). */
#include <immintrin.h>

#include "matmul.h"

void clv_lhs_quant_avx512(const float *x, clv_lhs_q8 *dst, int64_t k) {
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512i one = _mm512_set1_epi32(1);
    for (int64_t b = 0; b < k / CLV_QK; b++, x += CLV_QK) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512i q[2];
        for (int h = 0; h < 2; h++) {
            __m512 v = _mm512_mul_ps(h ? v1 : v0, _mm512_set1_ps(id));
            __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m512 frac = _mm512_sub_ps(v, t);
            __m512i qi = _mm512_cvttps_epi32(t);
            __mmask16 up = _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ);
            __mmask16 dn = _mm512_cmp_ps_mask(frac, _mm512_sub_ps(_mm512_setzero_ps(), half), _CMP_LE_OQ);
            qi = _mm512_mask_add_epi32(qi, up, qi, one);
            q[h] = _mm512_mask_sub_epi32(qi, dn, qi, one);
            _mm_storeu_si128((__m128i *)(dst[b].qs + 16 * h), _mm512_cvtepi32_epi8(q[h]));
        }
        dst[b].s = _mm512_reduce_add_epi32(_mm512_add_epi32(q[0], q[1]));
        dst[b].d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(d), _MM_FROUND_TO_NEAREST_INT)));
    }
}
