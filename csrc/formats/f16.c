/* F16: IEEE half floats (GGML type 1); from_float rounds to nearest even like NumPy. */
#include "clavis.h"
#include "fp16.h"

static void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = clv_fp16_to_fp32(h[i]);
}
static void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = clv_fp32_to_fp16(src[i]);
}

const clv_type_traits clv_traits_f16 = {"f16", 1, 2, f16_to_float, f16_from_float};
