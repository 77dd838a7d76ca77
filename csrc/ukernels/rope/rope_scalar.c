/* rope: the scalar reference rotation (tables as described in clavis_ops.h). */
#include "../ops_variants.h"

static void rope_scalar(float *x, int64_t n_heads, int64_t d, int64_t n_rot, const float *c,
                        const float *s, int neox) {
    int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *p = x + h * d;
        for (int64_t i = 0; i < half; i++) {
            int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
            float cs = neox ? c[i] : c[2 * i], sn = neox ? s[i] : s[2 * i + 1];
            float a = p[i0], b = p[i1];
            p[i0] = a * cs - b * sn;
            p[i1] = a * sn + b * cs;
        }
    }
}

CLV_DECLARE_SIMD(rope, (float *x, int64_t n_heads, int64_t d, int64_t n_rot, const float *c,
                        const float *s, int neox))
const clv_variant clv_rope_variants[] = {
    CLV_SIMD_VARIANTS(rope)
    {"scalar", 0, (const void *)rope_scalar},
    {0, 0, 0},
};
