/* attention: the scalar reference. One query head at a time, one key at a time, with the
 * online softmax (running max and sum; the accumulated output is rescaled when the max grows). */
#include "../ops_variants.h"

#include <math.h>

static float load_kv(const void *base, int64_t idx, int f16) {
    return f16 ? clv_half_to_float(((const uint16_t *)base)[idx]) : ((const float *)base)[idx];
}

static void attend_one(const float *q, float *o, int64_t d, const void *k, const void *v,
                       int64_t n_keys, float scale, int f16) {
    float m = -INFINITY;
    double l = 0.0;
    for (int64_t i = 0; i < d; i++) o[i] = 0.0f;
    for (int64_t j = 0; j < n_keys; j++) {
        float s = 0.0f;
        for (int64_t i = 0; i < d; i++) s += q[i] * load_kv(k, j * d + i, f16);
        s *= scale;
        if (s > m) {
            float corr = expf(m - s);
            for (int64_t i = 0; i < d; i++) o[i] *= corr;
            l *= corr;
            m = s;
        }
        float p = expf(s - m);
        l += p;
        for (int64_t i = 0; i < d; i++) o[i] += p * load_kv(v, j * d + i, f16);
    }
    if (l > 0.0)
        for (int64_t i = 0; i < d; i++) o[i] = (float)(o[i] / l);
}

static void attention_scalar(const float *q, float *out, int64_t rows, int64_t row_stride, int64_t g,
                             int64_t d, const void *k, const void *v, const int64_t *n_keys,
                             float scale, int f16) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < g; h++)
            attend_one(q + r * row_stride + h * d, out + r * row_stride + h * d, d, k, v, n_keys[r], scale, f16);
}

CLV_DECLARE_SIMD(attention, (const float *q, float *out, int64_t rows, int64_t row_stride, int64_t g,
                             int64_t d, const void *k, const void *v, const int64_t *n_keys,
                             float scale, int f16))
const clv_variant clv_attention_variants[] = {
    CLV_SIMD_VARIANTS(attention)
    {"scalar", 0, (const void *)attention_scalar},
    {0, 0, 0},
};
