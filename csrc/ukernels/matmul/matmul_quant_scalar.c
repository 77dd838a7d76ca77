/* Scalar reference matmul for Q4_0 and Q8_0 weights with Q8_0-quantized activations.
 * Packing "rows": the raw GGUF rows, unchanged (nr = 1), at any alignment: a raw ukernel
 * (matmul.h), so callers pass the file's rows without packing. The float accumulation follows the
 * result contract in matmul.h exactly; every SIMD variant must reproduce it bit for bit. */
#include "matmul.h"
#include "../../formats/fp16.h"

#include <string.h>

static size_t q4_0_packed_size(int64_t n, int64_t k) { return (size_t)n * (size_t)(k / 32) * 18; }
static size_t q8_0_packed_size(int64_t n, int64_t k) { return (size_t)n * (size_t)(k / 32) * 34; }

static void q4_0_pack(const void *src, void *dst, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    size_t rs = (size_t)(k / 32) * 18;
    memcpy((uint8_t *)dst + t0 * rs, (const uint8_t *)src + t0 * rs, (size_t)(t1 - t0) * rs);
}
static void q8_0_pack(const void *src, void *dst, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    size_t rs = (size_t)(k / 32) * 34;
    memcpy((uint8_t *)dst + t0 * rs, (const uint8_t *)src + t0 * rs, (size_t)(t1 - t0) * rs);
}

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return clv_fp16_to_fp32(h);
}

__attribute__((optimize("fp-contract=off")))
static void q4_0_run(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    int64_t nb = a->k / 32;
    size_t rs = (size_t)nb * 18;
    for (int64_t m = m0; m < m1; m++) {
        const clv_lhs_q8 *x = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + m * a->lhs_stride);
        float *y = a->y + m * a->y_stride;
        for (int64_t n = n0; n < n1 && n < a->n; n++) {
            const uint8_t *w = (const uint8_t *)a->packed + n * rs;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++, w += 18) {
                int32_t isum = 0;
                for (int j = 0; j < 16; j++)
                    isum += (w[2 + j] & 0x0f) * x[b].qs[j] + (w[2 + j] >> 4) * x[b].qs[j + 16];
                isum -= 8 * x[b].s;
                float scale = half_at(w) * x[b].d;
                acc = acc + scale * (float)isum;
            }
            y[n] = acc;
        }
    }
}

__attribute__((optimize("fp-contract=off")))
static void q8_0_run(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    int64_t nb = a->k / 32;
    size_t rs = (size_t)nb * 34;
    for (int64_t m = m0; m < m1; m++) {
        const clv_lhs_q8 *x = (const clv_lhs_q8 *)((const uint8_t *)a->lhs + m * a->lhs_stride);
        float *y = a->y + m * a->y_stride;
        for (int64_t n = n0; n < n1 && n < a->n; n++) {
            const uint8_t *w = (const uint8_t *)a->packed + n * rs;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++, w += 34) {
                int32_t isum = 0;
                for (int j = 0; j < 32; j++) isum += (int8_t)w[2 + j] * x[b].qs[j];
                float scale = half_at(w) * x[b].d;
                acc = acc + scale * (float)isum;
            }
            y[n] = acc;
        }
    }
}

const clv_matmul_ukernel clv_mm_q4_0_scalar = {
    "q4_0_rows", CLV_TYPE_Q4_0, 1, 1, 32, q4_0_packed_size, q4_0_pack, clv_lhs_quant_ref, q4_0_run, 1,
};
const clv_matmul_ukernel clv_mm_q8_0_scalar = {
    "q8_0_rows", CLV_TYPE_Q8_0, 1, 1, 32, q8_0_packed_size, q8_0_pack, clv_lhs_quant_ref, q8_0_run, 1,
};
