/* to_f16: the scalar reference, f32 -> IEEE half rounded to nearest even (formats/fp16.h). */
#include "../ops_variants.h"
#include "../../formats/fp16.h"

static void to_f16_scalar(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = clv_fp32_to_fp16(x[i]);
}

CLV_DECLARE_SIMD(to_f16, (const float *x, uint16_t *y, int64_t n))
const clv_variant clv_to_f16_variants[] = {
    CLV_SIMD_VARIANTS(to_f16)
    {"scalar", 0, (const void *)to_f16_scalar},
    {0, 0, 0},
};
