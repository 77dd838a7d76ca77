/* clavis_llm.h: a Llama-style decoder's layer sequence in one C call (csrc/llm_layers.c).
 *
 * Per layer, for t tokens x[t][dim] (updated in place):
 *   h = rms_norm(x, attn_norm); q, k, v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
 *   rope(q), rope(k); k, v -> the layer's cache [n_kv_heads][n_ctx][head_dim] at pos0 (f16 or f32)
 *   x += attention(q, cache, n_kv = pos0 + t, causal) Wo^T
 *   h = rms_norm(x, ffn_norm); x += (silu(h Wgate^T) * h Wup^T) Wdown^T
 * The drivers are those of the Python forward, called with the same arguments in the same order:
 * the results are bit-identical to it. No per-head norm (qwen3's q/k norm): use the Python path. */
#ifndef CLAVIS_LLM_H
#define CLAVIS_LLM_H

#include "clavis.h"
#include "ukernels/matmul/matmul.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const void *packed;               /* packed by `uk` */
    const clv_matmul_ukernel *uk;
    int64_t n;                        /* rows of W (k follows from the layer's shapes) */
} clv_llm_weight;

typedef struct {
    const float *attn_norm, *ffn_norm;    /* [dim] */
    const float *bq, *bk, *bv;            /* biases or NULL */
    clv_llm_weight wq, wk, wv, wo, gate, up, down;
    void *k_cache, *v_cache;              /* [n_kv_heads][n_ctx][head_dim], f16 or f32 */
} clv_llm_layer;

typedef struct {
    int64_t dim, n_heads, n_kv_heads, head_dim, ffn_dim, n_ctx, n_rot;
    int neox, kv_f16;
    float eps, theta, att_scale;
    const float *freq_factors;            /* [n_rot / 2] or NULL */
} clv_llm_hparams;

/* Run n_layers layers over x[t][dim] at positions[t] (pos0 .. pos0 + t - 1). Returns 0, -1 for
 * a bad t/pos0 (pos0 + t > n_ctx), -2 when scratch cannot be allocated. */
int clv_llm_layers(clv_threadpool *pool, const clv_llm_hparams *hp, const clv_llm_layer *layers,
                   int n_layers, float *x, int64_t t, int64_t pos0, const int32_t *positions);

/* The steps of a layer, as the profile below counts them (names: clv_llm_op_names). */
enum {
    CLV_LLM_OP_NORM,        /* both rms_norms */
    CLV_LLM_OP_QKV,         /* the Q/K/V projections (+ biases) */
    CLV_LLM_OP_ROPE_KV,     /* rope of q and k, the K/V cache store */
    CLV_LLM_OP_ATTENTION,
    CLV_LLM_OP_WO,
    CLV_LLM_OP_RESIDUAL,    /* both residual adds */
    CLV_LLM_OP_GATE_UP,
    CLV_LLM_OP_SILU_MUL,
    CLV_LLM_OP_DOWN,
    CLV_LLM_OPS
};
extern const char *const clv_llm_op_names[CLV_LLM_OPS];

/* clv_llm_layers that also adds each step's wall time (seconds, all layers) to op_seconds
 * [CLV_LLM_OPS]; op_seconds NULL: no timing, the same as clv_llm_layers. */
int clv_llm_layers_profiled(clv_threadpool *pool, const clv_llm_hparams *hp,
                            const clv_llm_layer *layers, int n_layers, float *x, int64_t t,
                            int64_t pos0, const int32_t *positions, double *op_seconds);

#ifdef __cplusplus
}
#endif
#endif
