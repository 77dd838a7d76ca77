/* AVX2 + FMA + F16C float matmul (f32, f16, bf16 weights); kernels in matmul_float.inc. */
#include <immintrin.h>

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define VF __m256
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define LOADX(p) _mm256_loadu_ps(p)
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define HSUM(v) hsum256(v)
#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define LOAD_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define VADD(a, b) _mm256_add_ps(a, b)
#include "matmul_float.inc"

UKERNEL(f32, CLV_TYPE_F32, avx2)
UKERNEL(f16, CLV_TYPE_F16, avx2)
UKERNEL(bf16, CLV_TYPE_BF16, avx2)
