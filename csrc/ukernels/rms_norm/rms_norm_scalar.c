/* rms_norm: the scalar reference, y = x / sqrt(mean(x^2) + eps) * w (sum of squares in double). */
#include "../ops_variants.h"

#include <math.h>

static void rms_norm_scalar(const float *x, const float *w, float *y, int64_t k, float eps) {
    double ss = 0.0;
    for (int64_t i = 0; i < k; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / (double)k + (double)eps));
    for (int64_t i = 0; i < k; i++) y[i] = x[i] * r * (w ? w[i] : 1.0f);
}

CLV_DECLARE_SIMD(rms_norm, (const float *x, const float *w, float *y, int64_t k, float eps))
const clv_variant clv_rms_norm_variants[] = {
    CLV_SIMD_VARIANTS(rms_norm)
    {"scalar", 0, (const void *)rms_norm_scalar},
    {0, 0, 0},
};
