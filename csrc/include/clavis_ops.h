/* clavis_ops.h: the non-matmul ops of the kernel core (norms, RoPE, softmax, activations,
 * attention over a KV cache, Whisper's conv front end, embedding lookup).
 *
 * Two levels:
 *  - kernels: one function-pointer type per op (clv_NAME_fn), dispatched at clv_dispatch_init()
 *    to the best variant (clv_NAME_impl). A kernel works on one row / one tile, allocates
 *    nothing and starts no threads.
 *  - drivers: clv_NAME(pool, ...) split the whole op into chunks and run them on a thread pool
 *    (pool may be NULL: run on the calling thread). The Python bindings call these.
 * All float arrays are float32, C-contiguous (row-major); f16 caches are IEEE half as uint16.
 */
#ifndef CLAVIS_OPS_H
#define CLAVIS_OPS_H

#include "clavis.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- kernels (one row / tile) */
/* y[k] = x[k] / sqrt(mean(x^2) + eps) * w[k]   (w may be NULL: no weight) */
typedef void (*clv_rms_norm_fn)(const float *x, const float *w, float *y, int64_t k, float eps);
/* y[k] = (x[k] - mean) / sqrt(var + eps) * w[k] + b[k]   (w, b may be NULL) */
typedef void (*clv_layer_norm_fn)(const float *x, const float *w, const float *b, float *y,
                                  int64_t k, float eps);
/* Rotate the first n_rot dims of each of n_heads rows x[h*d ...] of one token, in place.
 * neox: pairs (i, i + n_rot/2), c/s hold n_rot/2 cos/sin values.
 * normal: pairs (2i, 2i+1), c holds n_rot values (each cos twice), s holds n_rot values
 * (-sin, +sin per pair). */
typedef void (*clv_rope_fn)(float *x, int64_t n_heads, int64_t d, int64_t n_rot,
                            const float *c, const float *s, int neox);
typedef void (*clv_softmax_fn)(const float *x, float *y, int64_t k);
/* y = silu(g) * u */
typedef void (*clv_silu_mul_fn)(const float *g, const float *u, float *y, int64_t n);
/* y = 0.5 x (1 + erf(x / sqrt 2)) */
typedef void (*clv_gelu_fn)(const float *x, float *y, int64_t n);
typedef void (*clv_add_fn)(const float *a, const float *b, float *y, int64_t n);
typedef void (*clv_scale_fn)(const float *x, float s, float *y, int64_t n);
/* y = x as IEEE half, rounded to nearest even (NumPy's astype(np.float16); NaN stays NaN) */
typedef void (*clv_to_f16_fn)(const float *x, uint16_t *y, int64_t n);
/* `rows` query rows (tokens), each of g query heads (q[r * row_stride + h * d ...], the g heads
 * contiguous) that share one KV head, attend to its first n_keys[r] keys:
 * out[r][h] = softmax(scale * q k^T) v, out laid out like q. k/v: [keys][d] float32, or IEEE
 * half if f16. A row with n_keys 0 gives zeros. rows <= CLV_ATT_ROWS. */
#define CLV_ATT_ROWS 32
typedef void (*clv_attention_fn)(const float *q, float *out, int64_t rows, int64_t row_stride,
                                 int64_t g, int64_t d, const void *k, const void *v,
                                 const int64_t *n_keys, float scale, int f16);
/* One tile of conv1d + GELU as a GEMM over an im2col matrix:
 * y[co][l] = gelu(b[co] + sum_kk w[co][kk] * col[kk][l]) for co in [co0, co1), l in [l0, l1);
 * w: [cout][kdim], col: [kdim][lout], y: [cout][lout]; b may be NULL. */
typedef void (*clv_conv1d_gelu_fn)(const float *w, const float *b, const float *col, float *y,
                                   int64_t kdim, int64_t lout, int64_t co0, int64_t co1,
                                   int64_t l0, int64_t l1);
/* Dequantize rows: out[i] = row ids[i] of a [*, n_cols] matrix of `type` */
typedef void (*clv_embedding_fn)(const void *data, int type, int64_t n_cols, const int32_t *ids,
                                 int64_t n_ids, float *out);

extern const void *clv_rms_norm_impl, *clv_layer_norm_impl, *clv_rope_impl, *clv_softmax_impl,
    *clv_silu_mul_impl, *clv_gelu_impl, *clv_add_impl, *clv_scale_impl, *clv_attention_impl,
    *clv_conv1d_gelu_impl, *clv_embedding_impl, *clv_to_f16_impl;

/* Largest n_rot the RoPE driver handles (its cos/sin tables live on the stack). */
#define CLV_ROPE_MAX_ROT 2048

/* ---------------------------------------------------------------- drivers (whole op, threaded) */
void clv_rms_norm(clv_threadpool *pool, const float *x, const float *w, float *y, int64_t m,
                  int64_t k, float eps);
void clv_layer_norm(clv_threadpool *pool, const float *x, const float *w, const float *b, float *y,
                    int64_t m, int64_t k, float eps);
/* x[t][n_heads][d] in place; positions[t]; freq_factors[n_rot/2] or NULL (the frequency of pair i
 * is divided by freq_factors[i], as llama.cpp's rope_freqs). Returns -1 if n_rot is odd, > d or
 * > CLV_ROPE_MAX_ROT. */
int clv_rope(clv_threadpool *pool, float *x, const int32_t *positions, int64_t t, int64_t n_heads,
             int64_t d, int64_t n_rot, float theta, int neox, const float *freq_factors);
void clv_softmax(clv_threadpool *pool, const float *x, float *y, int64_t m, int64_t k);
void clv_silu_mul(clv_threadpool *pool, const float *g, const float *u, float *y, int64_t n);
void clv_gelu(clv_threadpool *pool, const float *x, float *y, int64_t n);
/* y[m][k] = a[m][k] + b[m][k], or + b[k] for every row when b_broadcast */
void clv_add(clv_threadpool *pool, const float *a, const float *b, float *y, int64_t m, int64_t k,
             int b_broadcast);
void clv_scale(clv_threadpool *pool, const float *x, float s, float *y, int64_t n);
/* q[t][hq][d], caches [hkv][s_cap][d] (f32 or f16), out[t][hq][d]. Query row i sees keys
 * j < n_kv and, when causal, j <= pos0 + i. Head h uses KV head h / (hq / hkv). */
void clv_attention(clv_threadpool *pool, const float *q, const void *k_cache, const void *v_cache,
                   int f16, int64_t t, int64_t hq, int64_t hkv, int64_t s_cap, int64_t d,
                   int64_t n_kv, int64_t pos0, int causal, float scale, float *out);
/* Output length of a conv1d */
int64_t clv_conv1d_out_len(int64_t l, int64_t ks, int64_t stride, int64_t padding);
/* y[cout][lout] = gelu(conv1d(x[cin][l], w[cout][cin][ks]) + b); col: caller-provided scratch
 * of cin*ks*lout floats. */
void clv_conv1d_gelu(clv_threadpool *pool, const float *x, int64_t cin, int64_t l, const float *w,
                     int64_t cout, int64_t ks, const float *b, int64_t stride, int64_t padding,
                     float *col, float *y);
/* Returns 0, or -1 if `type` is unknown / n_cols not a multiple of its block. ids are not
 * range-checked here (the caller does). */
int clv_embedding(clv_threadpool *pool, const void *data, int type, int64_t n_cols,
                  const int32_t *ids, int64_t n_ids, float *out);

/* Sampling candidates over a logits row of n floats: the index of the largest (ties: the lower
 * index; NaN never wins), and the k largest indices best first (same order), into out[k]; returns
 * how many (min(k, n)). Portable C, single-threaded (a row is a few hundred KiB at most). */
int64_t clv_argmax_f32(const float *x, int64_t n);
int64_t clv_top_k_f32(const float *x, int64_t n, int64_t k, int64_t *out);

/* IEEE half -> float, exact (portable; the SIMD variants use F16C / NEON conversions). */
static inline float clv_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu, bits;
    if (em >= 0x7c00u) bits = sign | 0x7f800000u | ((em & 0x3ffu) << 13);       /* inf, nan */
    else if (em >= 0x0400u) bits = sign | ((em << 13) + (112u << 23));         /* normal */
    else {                                                                       /* subnormal */
        float f = (float)em * 5.9604644775390625e-8f;                            /* em * 2^-24 */
        return sign ? -f : f;
    }
    union { uint32_t u; float f; } v = {bits};
    return v.f;
}

#ifdef __cplusplus
}
#endif
#endif /* CLAVIS_OPS_H */
