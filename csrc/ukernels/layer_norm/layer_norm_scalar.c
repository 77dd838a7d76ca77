/* layer_norm: the scalar reference (mean and variance in double). */
#include "../ops_variants.h"

#include <math.h>

static void layer_norm_scalar(const float *x, const float *w, const float *b, float *y, int64_t k,
                              float eps) {
    double s = 0.0, v = 0.0;
    for (int64_t i = 0; i < k; i++) s += x[i];
    double mean = s / (double)k;
    for (int64_t i = 0; i < k; i++) v += (x[i] - mean) * (x[i] - mean);
    double r = 1.0 / sqrt(v / (double)k + (double)eps);
    for (int64_t i = 0; i < k; i++) {
        float u = (float)((x[i] - mean) * r);
        y[i] = u * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

CLV_DECLARE_SIMD(layer_norm, (const float *x, const float *w, const float *b, float *y, int64_t k,
                              float eps))
const clv_variant clv_layer_norm_variants[] = {
    CLV_SIMD_VARIANTS(layer_norm)
    {"scalar", 0, (const void *)layer_norm_scalar},
    {0, 0, 0},
};
