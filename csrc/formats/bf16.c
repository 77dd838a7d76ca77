/* BF16: the top 16 bits of an f32 (GGML type 30); from_float as gguf-py's quants.BF16. */
#include "clavis.h"
#include "fp16.h"

static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = clv_bf16_to_fp32(h[i]);
}
static void bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = clv_fp32_to_bf16(src[i]);
}

const clv_type_traits clv_traits_bf16 = {"bf16", 1, 2, bf16_to_float, bf16_from_float};
