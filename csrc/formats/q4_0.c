/* Q4_0 (GGML type 2): blocks of 32 values, 18 bytes: fp16 scale d, then 16 bytes whose low
 * nibbles are q[0..15] and high nibbles q[16..31]; x = d * (q - 8).
 * ref: gguf-py gguf/quants.py class Q4_0: d = (the value with the largest |x|, sign kept) / -8,
 *   id = d ? 1/d : 0, q = min(15, trunc(x * id + 8.5)), d stored as fp16. */
#include "clavis.h"
#include "fp16.h"
#include <math.h>

#define QK 32

__attribute__((optimize("fp-contract=off")))
static void q4_0_from_float(const float *src, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK; b++, src += QK, out += 18) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++) {               /* first element of largest magnitude */
            float a = fabsf(src[j]);
            if (a > amax) { amax = a; max = src[j]; }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = clv_fp32_to_fp16(d);
        memcpy(out, &dh, 2);
        uint8_t q[QK];
        for (int j = 0; j < QK; j++) {
            float v = src[j] * id;
            v = v + 8.5f;
            int t = (int)truncf(v);
            q[j] = (uint8_t)(t < 0 ? 0 : t > 15 ? 15 : t);
        }
        for (int j = 0; j < QK / 2; j++) out[2 + j] = (uint8_t)(q[j] | (q[j + QK / 2] << 4));
    }
}

static void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const uint8_t *in = src;
    for (int64_t b = 0; b < n / QK; b++, in += 18, dst += QK) {
        uint16_t dh;
        memcpy(&dh, in, 2);
        float d = clv_fp16_to_fp32(dh);
        for (int j = 0; j < QK / 2; j++) {
            dst[j] = d * (float)((in[2 + j] & 0x0f) - 8);
            dst[j + QK / 2] = d * (float)((in[2 + j] >> 4) - 8);
        }
    }
}

const clv_type_traits clv_traits_q4_0 = {"q4_0", QK, 18, q4_0_to_float, q4_0_from_float};
