/* The Llama-style decoder layer sequence in C (clavis_llm.h): the same drivers, in the same order
 * and with the same arguments as the Python forward (src/clavis/models/llama.py), so the result
 * is bit-identical; what goes away is the interpreter between the ~15 kernel calls of a layer,
 * which is a large share of a decode step on small models. */
#include "clavis_llm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define CLV_HAVE_MMAP 1
#endif

#include "clavis_ops.h"

const char *const clv_llm_op_names[CLV_LLM_OPS] = {
    "norm", "qkv", "rope+kv store", "attention", "wo", "residual add", "gate/up", "silu*mul", "down",
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* STEP(op, call): the call, timed into prof[op] when profiling (prof != NULL). */
#define STEP(op, call)                                 \
    do {                                               \
        double t0_ = prof ? now_s() : 0.0;             \
        call;                                          \
        if (prof) prof[op] += now_s() - t0_;           \
    } while (0)

static int64_t max3(int64_t a, int64_t b, int64_t c) {
    int64_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* Activation scratch for t tokens, two regions whose buffers are never live at the same time:
 *   H [t, dim]:  h (a norm's output), then o (a projection back to dim) once h is consumed;
 *   B:           q, k, v, att during attention, then gate, up during the FFN, which runs on at
 *                most FFN_ROWS tokens at a time (rows are independent, so the result is the same).
 * A prefill chunk's scratch is part of the peak RSS: llama-3.2-1b, 128 tokens: 9.4 -> 5.0 MB
 * (one buffer each: 13 MB), for a second pass over the FFN weights per 128 tokens (~2%). */
#define FFN_ROWS 64
static int64_t att_floats(const clv_llm_hparams *hp) {
    return 2 * hp->n_heads * hp->head_dim + 2 * hp->n_kv_heads * hp->head_dim;
}

static size_t act_floats(const clv_llm_hparams *hp, int64_t t) {
    int64_t ta = t * att_floats(hp), tf = (t < FFN_ROWS ? t : FFN_ROWS) * 2 * hp->ffn_dim;
    return (size_t)(t * hp->dim) + (size_t)(ta > tf ? ta : tf);
}

static size_t quant_bytes(const clv_llm_hparams *hp, const clv_llm_layer *L, int n_layers, int64_t t) {
    int64_t kmax = max3(hp->dim, hp->n_heads * hp->head_dim, hp->ffn_dim);
    size_t best = 0;
    for (int i = 0; i < n_layers; i++) {
        const clv_llm_weight *w[7] = {&L[i].wq, &L[i].wk, &L[i].wv, &L[i].wo, &L[i].gate, &L[i].up,
                                      &L[i].down};
        for (int j = 0; j < 7; j++) {
            size_t s = clv_matmul_scratch_size(w[j]->uk, t, kmax);
            if (s > best) best = s;
        }
    }
    return best;
}

/* Weights packed one after another in one buffer (kernels.matmul.pack_together: Q/K/V) are,
 * byte for byte, one weight of all their rows, when every part but the last is a whole number of
 * the layout's row groups (tiles; slabs for long rows) and so are the outputs of one row. */
static int adjacent(int nw, const clv_llm_weight *const *w, float *const *y, int64_t k) {
    const clv_matmul_ukernel *uk = w[0]->uk;
    int64_t unit = clv_matmul_row_unit(uk, k);
    for (int i = 0; i + 1 < nw; i++)
        if (w[i + 1]->uk != uk || w[i]->n % unit ||
            (const char *)w[i + 1]->packed != (const char *)w[i]->packed + uk->packed_size(w[i]->n, k) ||
            y[i + 1] != y[i] + w[i]->n)
            return 0;
    return 1;
}

/* y_i = x W_i^T for weights sharing one input: one matvec when they are adjacent (a decode's
 * Q/K/V: one stream per thread instead of three), else one job when they share a ukernel. */
static void project(clv_threadpool *pool, const float *x, int64_t t, int64_t k, int nw,
                    const clv_llm_weight *const *w, float *const *y, void *qs) {
    if (t == 1 && nw > 1 && adjacent(nw, w, y, k)) {
        int64_t n = 0;
        for (int i = 0; i < nw; i++) n += w[i]->n;
        clv_matmul(pool, w[0]->uk, x, 1, w[0]->packed, n, k, y[0], qs);
        return;
    }
    int same = 1;
    for (int i = 1; i < nw; i++) same &= w[i]->uk == w[0]->uk;
    if (same && nw > 1) {
        const void *p[8];
        int64_t n[8];
        for (int i = 0; i < nw; i++) {
            p[i] = w[i]->packed;
            n[i] = w[i]->n;
        }
        clv_matmul_multi(pool, w[0]->uk, x, t, k, nw, p, n, y, qs);
        return;
    }
    for (int i = 0; i < nw; i++) clv_matmul(pool, w[i]->uk, x, t, w[i]->packed, w[i]->n, k, y[i], qs);
}

/* k/v rows [t][hkv][d] into the cache [hkv][n_ctx][d] at pos0 (f16: round to nearest even) */
static void store_kv(const clv_llm_hparams *hp, void *cache, const float *src, int64_t t, int64_t pos0) {
    int64_t hkv = hp->n_kv_heads, d = hp->head_dim;
    for (int64_t h = 0; h < hkv; h++)
        for (int64_t i = 0; i < t; i++) {
            const float *s = src + (i * hkv + h) * d;
            size_t off = (size_t)((h * hp->n_ctx + pos0 + i) * d);
            if (hp->kv_f16) {
                ((clv_to_f16_fn)clv_to_f16_impl)(s, (uint16_t *)cache + off, d);
            } else {
                memcpy((float *)cache + off, s, (size_t)d * sizeof(float));
            }
        }
}

static void layer(clv_threadpool *pool, const clv_llm_hparams *hp, const clv_llm_layer *L,
                  float *x, int64_t t, int64_t pos0, const int32_t *positions, float *a, void *qs,
                  double *prof) {
    int64_t dim = hp->dim, nq = hp->n_heads * hp->head_dim, nkv = hp->n_kv_heads * hp->head_dim;
    float *h = a, *o = a, *q = h + t * dim, *k = q + t * nq, *v = k + t * nkv, *att = v + t * nkv;
    int64_t tf = t < FFN_ROWS ? t : FFN_ROWS;
    float *g = q, *u = g + tf * hp->ffn_dim;

    STEP(CLV_LLM_OP_NORM, clv_rms_norm(pool, x, L->attn_norm, h, t, dim, hp->eps));
    const clv_llm_weight *wqkv[3] = {&L->wq, &L->wk, &L->wv};
    float *yqkv[3] = {q, k, v};
    STEP(CLV_LLM_OP_QKV, {
        project(pool, h, t, dim, 3, wqkv, yqkv, qs);
        if (L->bq) clv_add(pool, q, L->bq, q, t, nq, 1);
        if (L->bk) clv_add(pool, k, L->bk, k, t, nkv, 1);
        if (L->bv) clv_add(pool, v, L->bv, v, t, nkv, 1);
    });
    STEP(CLV_LLM_OP_ROPE_KV, {
        clv_rope(pool, q, positions, t, hp->n_heads, hp->head_dim, hp->n_rot, hp->theta, hp->neox,
                 hp->freq_factors);
        clv_rope(pool, k, positions, t, hp->n_kv_heads, hp->head_dim, hp->n_rot, hp->theta,
                 hp->neox, hp->freq_factors);
        store_kv(hp, L->k_cache, k, t, pos0);
        store_kv(hp, L->v_cache, v, t, pos0);
    });
    STEP(CLV_LLM_OP_ATTENTION,
         clv_attention(pool, q, L->k_cache, L->v_cache, hp->kv_f16, t, hp->n_heads, hp->n_kv_heads,
                       hp->n_ctx, hp->head_dim, pos0 + t, pos0, 1, hp->att_scale, att));
    STEP(CLV_LLM_OP_WO, clv_matmul(pool, L->wo.uk, att, t, L->wo.packed, L->wo.n, nq, o, qs));
    STEP(CLV_LLM_OP_RESIDUAL, clv_add(pool, x, o, x, 1, t * dim, 0));

    STEP(CLV_LLM_OP_NORM, clv_rms_norm(pool, x, L->ffn_norm, h, t, dim, hp->eps));
    const clv_llm_weight *wgu[2] = {&L->gate, &L->up};
    float *ygu[2] = {g, u};
    for (int64_t r0 = 0; r0 < t; r0 += tf) {   /* o's rows r0.. overwrite h's, already used */
        int64_t tr = t - r0 < tf ? t - r0 : tf;
        STEP(CLV_LLM_OP_GATE_UP, project(pool, h + r0 * dim, tr, dim, 2, wgu, ygu, qs));
        STEP(CLV_LLM_OP_SILU_MUL, clv_silu_mul(pool, g, u, g, tr * hp->ffn_dim));
        STEP(CLV_LLM_OP_DOWN, clv_matmul(pool, L->down.uk, g, tr, L->down.packed, L->down.n,
                                         hp->ffn_dim, o + r0 * dim, qs));
    }
    STEP(CLV_LLM_OP_RESIDUAL, clv_add(pool, x, o, x, 1, t * dim, 0));
}

/* Scratch of a forward: a prefill's is tens of MB. From malloc, freeing it would raise glibc's
 * dynamic mmap threshold and leave it (and later buffers) resident in the heap; its own mapping
 * goes back to the OS at once. */
static void *scratch_alloc(size_t n) {
#ifdef CLV_HAVE_MMAP
    if (n >= (1u << 20)) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
#endif
    return malloc(n);
}

static void scratch_free(void *p, size_t n) {
#ifdef CLV_HAVE_MMAP
    if (n >= (1u << 20)) {
        munmap(p, n);
        return;
    }
#endif
    free(p);
}

int clv_llm_layers(clv_threadpool *pool, const clv_llm_hparams *hp, const clv_llm_layer *layers,
                   int n_layers, float *x, int64_t t, int64_t pos0, const int32_t *positions) {
    return clv_llm_layers_profiled(pool, hp, layers, n_layers, x, t, pos0, positions, NULL);
}

int clv_llm_layers_profiled(clv_threadpool *pool, const clv_llm_hparams *hp,
                            const clv_llm_layer *layers, int n_layers, float *x, int64_t t,
                            int64_t pos0, const int32_t *positions, double *prof) {
    if (t <= 0 || pos0 < 0 || pos0 + t > hp->n_ctx) return -1;
    size_t af = act_floats(hp, t), qb = quant_bytes(hp, layers, n_layers, t);
    size_t bytes = af * sizeof(float) + qb + 64;
    float *a = scratch_alloc(bytes);
    if (!a) return -2;
    void *qs = (void *)(((uintptr_t)(a + af) + 63) & ~(uintptr_t)63);
    for (int i = 0; i < n_layers; i++) layer(pool, hp, &layers[i], x, t, pos0, positions, a, qs, prof);
    scratch_free(a, bytes);
    return 0;
}
