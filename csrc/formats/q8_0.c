/* Q8_0 (GGML type 8): blocks of 32 values, 34 bytes: fp16 scale d, then 32 int8 q; x = d * q.
 * ref: gguf-py gguf/quants.py class Q8_0 (bit-exact port of ggml's quantize_row_q8_0_ref):
 *   d = max|x| / 127, id = d ? 1/d : 0, q = round-half-away(x * id), d stored as fp16. */
#include "clavis.h"
#include "fp16.h"
#include <math.h>

#define QK 32

/* No fused multiply-add here: the bytes must equal gguf-py's separately rounded float math. */
__attribute__((optimize("fp-contract=off")))
static void q8_0_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK; b++, src += QK, out += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) {
            float a = fabsf(src[j]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = clv_fp32_to_fp16(d);
        memcpy(out, &dh, 2);
        for (int j = 0; j < QK; j++) {
            float v = src[j] * id;
            out[2 + j] = (uint8_t)(int8_t)roundf(v);
        }
    }
}

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / QK; b++, in += 34, dst += QK) {
        uint16_t dh;
        memcpy(&dh, in, 2);
        float d = clv_fp16_to_fp32(dh);
        for (int j = 0; j < QK; j++) dst[j] = (float)(int8_t)in[2 + j] * d;
    }
}

const clv_type_traits clv_traits_q8_0 = {"q8_0", QK, 34, q8_0_to_float, q8_0_from_float};
