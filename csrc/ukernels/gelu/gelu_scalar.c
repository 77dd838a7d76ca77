/* gelu: the scalar reference, y = 0.5 x (1 + erf(x / sqrt 2)) with libm's erff. */
#include "../ops_variants.h"

#include <math.h>

static void gelu_scalar(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

CLV_DECLARE_SIMD(gelu, (const float *x, float *y, int64_t n))
const clv_variant clv_gelu_variants[] = {
    CLV_SIMD_VARIANTS(gelu)
    {"scalar", 0, (const void *)gelu_scalar},
    {0, 0, 0},
};
