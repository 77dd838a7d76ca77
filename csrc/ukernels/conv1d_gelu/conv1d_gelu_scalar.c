/* conv1d_gelu: the scalar reference tile, y = gelu(b + w . col) with libm's erff. */
#include "../ops_variants.h"

#include <math.h>

static void conv1d_gelu_scalar(const float *w, const float *b, const float *col, float *y,
                               int64_t kdim, int64_t lout, int64_t co0, int64_t co1, int64_t l0,
                               int64_t l1) {
    for (int64_t co = co0; co < co1; co++)
        for (int64_t l = l0; l < l1; l++) {
            float s = b ? b[co] : 0.0f;
            for (int64_t kk = 0; kk < kdim; kk++) s += w[co * kdim + kk] * col[kk * lout + l];
            y[co * lout + l] = 0.5f * s * (1.0f + erff(s * 0.70710678118654752f));
        }
}

CLV_DECLARE_SIMD(conv1d_gelu, (const float *w, const float *b, const float *col, float *y,
                               int64_t kdim, int64_t lout, int64_t co0, int64_t co1, int64_t l0,
                               int64_t l1))
const clv_variant clv_conv1d_gelu_variants[] = {
    CLV_SIMD_VARIANTS(conv1d_gelu)
    {"scalar", 0, (const void *)conv1d_gelu_scalar},
    {0, 0, 0},
};
