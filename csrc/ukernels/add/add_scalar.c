/* add: the scalar reference, y = a + b. */
#include "../ops_variants.h"

static void add_scalar(const float *a, const float *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

CLV_DECLARE_SIMD(add, (const float *a, const float *b, float *y, int64_t n))
const clv_variant clv_add_variants[] = {
    CLV_SIMD_VARIANTS(add)
    {"scalar", 0, (const void *)add_scalar},
    {0, 0, 0},
};
