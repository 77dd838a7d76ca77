/* Shared portable pieces of the matmul micro-kernels: the reference activation quantizer and
 * the plain "rows" packing used by the scalar variants. */
#include "matmul.h"
#include "../../formats/fp16.h"

#include <math.h>
#include <string.h>

/* The contract in matmul.h: GGUF Q8_0 per 32 values (ref: gguf-py quants.Q8_0), plus the sum. */
__attribute__((optimize("fp-contract=off")))
void clv_lhs_quant_ref(const float *x, clv_lhs_q8 *dst, int64_t k) {
    for (int64_t b = 0; b < k / CLV_QK; b++, x += CLV_QK) {
        float amax = 0.0f;
        for (int j = 0; j < CLV_QK; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t s = 0;
        for (int j = 0; j < CLV_QK; j++) {
            float v = x[j] * id;             /* |v| <= 127 (+ rounding): fits an int */
            int t = (int)v;                  /* truncation; v - t is exact */
            float frac = v - (float)t;
            int q = t + (frac >= 0.5f) - (frac <= -0.5f);   /* = roundf(v): half away from 0 */
            dst[b].qs[j] = (int8_t)q;
            s += q;
        }
        dst[b].d = clv_fp16_to_fp32(clv_fp32_to_fp16(d));
        dst[b].s = s;
    }
}

void clv_raw_prefill(const clv_matmul_args *a, size_t rs, int64_t m0, int64_t m1, int64_t n0,
                     int64_t n1, int nr, int tg, clv_raw_tiles_fn tiles) {
    for (int64_t n = n0; n < n1; n += (int64_t)tg * nr) {
        int64_t rows = n1 - n < (int64_t)tg * nr ? n1 - n : (int64_t)tg * nr;
        int nt = (int)((rows + nr - 1) / nr);
        tiles(a, (const uint8_t *)a->packed + (size_t)n * rs, rs, nt, rows - (int64_t)(nt - 1) * nr,
              m0, m1, n);
    }
}

