/* Scalar reference matmul for float weights (f32, f16, bf16) with f32 activations.
 * Packing "rows": the raw rows, unchanged (nr = 1); f32 accumulation in K order. */
#include "matmul.h"
#include "../../formats/fp16.h"

#include <string.h>

#define DEFINE_FLOAT(NAME, TYPE, ELT, LOAD)                                                        \
    static size_t NAME##_packed_size(int64_t n, int64_t k) { return (size_t)(n * k) * sizeof(ELT); } \
    static void NAME##_pack(const void *src, void *dst, int64_t n, int64_t k, int64_t t0,         \
                            int64_t t1) {                                                          \
        size_t rs = (size_t)k * sizeof(ELT);                                                       \
        memcpy((uint8_t *)dst + t0 * rs, (const uint8_t *)src + t0 * rs, (size_t)(t1 - t0) * rs); \
    }                                                                                              \
    static void NAME##_run(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0,          \
                           int64_t n1) {                                                           \
        for (int64_t m = m0; m < m1; m++) {                                                        \
            const float *x = (const float *)((const uint8_t *)a->lhs + m * a->lhs_stride);        \
            float *y = a->y + m * a->y_stride;                                                     \
            for (int64_t n = n0; n < n1 && n < a->n; n++) {                                        \
                const ELT *w = (const ELT *)a->packed + n * a->k;                                  \
                float acc = 0.0f;                                                                  \
                for (int64_t i = 0; i < a->k; i++) acc += x[i] * LOAD(w[i]);                       \
                y[n] = acc;                                                                        \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    const clv_matmul_ukernel clv_mm_##NAME##_scalar = {                                            \
        #NAME "_rows", TYPE, 1, 1, 1, NAME##_packed_size, NAME##_pack, NULL, NAME##_run,           \
    };

#define LOAD_F32(v) (v)
DEFINE_FLOAT(f32, CLV_TYPE_F32, float, LOAD_F32)
DEFINE_FLOAT(f16, CLV_TYPE_F16, uint16_t, clv_fp16_to_fp32)
DEFINE_FLOAT(bf16, CLV_TYPE_BF16, uint16_t, clv_bf16_to_fp32)
