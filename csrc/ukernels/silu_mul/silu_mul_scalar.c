/* silu_mul: the scalar reference, y = g * sigmoid(g) * u (SwiGLU's gate). */
#include "../ops_variants.h"

#include <math.h>

static void silu_mul_scalar(const float *g, const float *u, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

CLV_DECLARE_SIMD(silu_mul, (const float *g, const float *u, float *y, int64_t n))
const clv_variant clv_silu_mul_variants[] = {
    CLV_SIMD_VARIANTS(silu_mul)
    {"scalar", 0, (const void *)silu_mul_scalar},
    {0, 0, 0},
};
