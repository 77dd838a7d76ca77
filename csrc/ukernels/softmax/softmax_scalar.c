/* softmax: the scalar reference (max-subtracted, sum in double). */
#include "../ops_variants.h"

#include <math.h>

static void softmax_scalar(const float *x, float *y, int64_t k) {
    float m = -INFINITY;
    for (int64_t i = 0; i < k; i++) m = x[i] > m ? x[i] : m;
    double sum = 0.0;
    for (int64_t i = 0; i < k; i++) {
        y[i] = expf(x[i] - m);
        sum += y[i];
    }
    float r = (float)(1.0 / sum);
    for (int64_t i = 0; i < k; i++) y[i] *= r;
}

CLV_DECLARE_SIMD(softmax, (const float *x, float *y, int64_t k))
const clv_variant clv_softmax_variants[] = {
    CLV_SIMD_VARIANTS(softmax)
    {"scalar", 0, (const void *)softmax_scalar},
    {0, 0, 0},
};
