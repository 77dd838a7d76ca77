/* AVX-512 float matmul (f32, f16, bf16 weights); kernels in matmul_float.inc. */
#define VF __m512
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define LOADX(p) _mm512_loadu_ps(p)
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define HSUM(v) _mm512_reduce_add_ps(v)
#define LOAD_F32(p) _mm512_loadu_ps(p)
#define LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define LOAD_BF16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define VADD(a, b) _mm512_add_ps(a, b)
#include "matmul_float.inc"

UKERNEL(f32, CLV_TYPE_F32, avx512)
UKERNEL(f16, CLV_TYPE_F16, avx512)
UKERNEL(bf16, CLV_TYPE_BF16, avx512)
