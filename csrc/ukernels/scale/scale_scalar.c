/* scale: the scalar reference, y = x * s. */
#include "../ops_variants.h"

static void scale_scalar(const float *x, float s, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

CLV_DECLARE_SIMD(scale, (const float *x, float s, float *y, int64_t n))
const clv_variant clv_scale_variants[] = {
    CLV_SIMD_VARIANTS(scale)
    {"scalar", 0, (const void *)scale_scalar},
    {0, 0, 0},
};
