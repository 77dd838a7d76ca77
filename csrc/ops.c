/* Drivers of the non-matmul ops (clavis_ops.h): split each op into chunks and run them on the
 * thread pool through the dispatched kernels. Small ops run on the calling thread: waking the
 * pool costs more than they do. */
#include "clavis_ops.h"

#include <math.h>

#define ELEMS_PER_CHUNK 16384   /* elementwise work per chunk */

static int64_t rows_per_chunk(int64_t k) {
    int64_t r = ELEMS_PER_CHUNK / (k > 0 ? k : 1);
    return r > 0 ? r : 1;
}
static int64_t n_chunks(int64_t n, int64_t per) { return (n + per - 1) / per; }

/* ---------------------------------------------------------------- row ops */
typedef struct {
    const float *x, *w, *b;
    float *y;
    int64_t m, k, rpc;
    float eps;
    int kind;   /* 0 rms_norm, 1 layer_norm, 2 softmax */
} rows_ctx;

static void rows_task(void *p, int64_t c, int tid) {
    const rows_ctx *a = p;
    int64_t r0 = c * a->rpc, r1 = r0 + a->rpc < a->m ? r0 + a->rpc : a->m;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = a->x + r * a->k;
        float *y = a->y + r * a->k;
        if (a->kind == 0) ((clv_rms_norm_fn)clv_rms_norm_impl)(x, a->w, y, a->k, a->eps);
        else if (a->kind == 1) ((clv_layer_norm_fn)clv_layer_norm_impl)(x, a->w, a->b, y, a->k, a->eps);
        else ((clv_softmax_fn)clv_softmax_impl)(x, y, a->k);
    }
}

static void run_rows(clv_threadpool *pool, rows_ctx *a) {
    a->rpc = rows_per_chunk(a->k);
    clv_parallel_for(pool, n_chunks(a->m, a->rpc), rows_task, a);
}

void clv_rms_norm(clv_threadpool *pool, const float *x, const float *w, float *y, int64_t m,
                  int64_t k, float eps) {
    rows_ctx a = {x, w, NULL, y, m, k, 0, eps, 0};
    run_rows(pool, &a);
}

void clv_layer_norm(clv_threadpool *pool, const float *x, const float *w, const float *b, float *y,
                    int64_t m, int64_t k, float eps) {
    rows_ctx a = {x, w, b, y, m, k, 0, eps, 1};
    run_rows(pool, &a);
}

void clv_softmax(clv_threadpool *pool, const float *x, float *y, int64_t m, int64_t k) {
    rows_ctx a = {x, NULL, NULL, y, m, k, 0, 0.0f, 2};
    run_rows(pool, &a);
}

/* ---------------------------------------------------------------- elementwise ops */
typedef struct {
    const float *a, *b;
    float *y;
    float s;
    int64_t n, k;     /* k: row length of a broadcast b (0: no broadcast) */
    int kind;         /* 0 silu_mul, 1 gelu, 2 add, 3 scale */
} elem_ctx;

static void elem_range(const elem_ctx *e, int64_t i0, int64_t i1) {
    int64_t n = i1 - i0;
    switch (e->kind) {
    case 0: ((clv_silu_mul_fn)clv_silu_mul_impl)(e->a + i0, e->b + i0, e->y + i0, n); break;
    case 1: ((clv_gelu_fn)clv_gelu_impl)(e->a + i0, e->y + i0, n); break;
    case 3: ((clv_scale_fn)clv_scale_impl)(e->a + i0, e->s, e->y + i0, n); break;
    default:
        if (!e->k) {
            ((clv_add_fn)clv_add_impl)(e->a + i0, e->b + i0, e->y + i0, n);
        } else {   /* chunks are whole rows when broadcasting */
            for (int64_t i = i0; i < i1; i += e->k)
                ((clv_add_fn)clv_add_impl)(e->a + i, e->b, e->y + i, e->k);
        }
    }
}

static int64_t elem_per_chunk(const elem_ctx *e) {
    return e->k ? rows_per_chunk(e->k) * e->k : ELEMS_PER_CHUNK;
}

static void elem_task(void *p, int64_t c, int tid) {
    const elem_ctx *e = p;
    int64_t per = elem_per_chunk(e);
    int64_t i0 = c * per, i1 = i0 + per < e->n ? i0 + per : e->n;
    elem_range(e, i0, i1);
}

static void run_elem(clv_threadpool *pool, elem_ctx *e) {
    clv_parallel_for(pool, n_chunks(e->n, elem_per_chunk(e)), elem_task, e);
}

void clv_silu_mul(clv_threadpool *pool, const float *g, const float *u, float *y, int64_t n) {
    elem_ctx e = {g, u, y, 0.0f, n, 0, 0};
    run_elem(pool, &e);
}
void clv_gelu(clv_threadpool *pool, const float *x, float *y, int64_t n) {
    elem_ctx e = {x, NULL, y, 0.0f, n, 0, 1};
    run_elem(pool, &e);
}
void clv_add(clv_threadpool *pool, const float *a, const float *b, float *y, int64_t m, int64_t k,
             int b_broadcast) {
    elem_ctx e = {a, b, y, 0.0f, m * k, b_broadcast ? k : 0, 2};
    if (k > 0) run_elem(pool, &e);
}
void clv_scale(clv_threadpool *pool, const float *x, float s, float *y, int64_t n) {
    elem_ctx e = {x, NULL, y, s, n, 0, 3};
    run_elem(pool, &e);
}

/* ---------------------------------------------------------------- rope */
typedef struct {
    float *x;
    const int32_t *pos;
    const double *inv;   /* [n_rot/2] frequency of each pair */
    int64_t heads, d, n_rot;
    int neox;
} rope_ctx;

/* Angle of pair i at position p: p * theta^(-2i/n_rot) / ff[i], in double (llama.cpp's
 * theta_scale^i and transformers' inv_freq, without their float32 rounding). */
static void rope_task(void *p, int64_t t, int tid) {
    const rope_ctx *a = p;
    float c[CLV_ROPE_MAX_ROT], s[CLV_ROPE_MAX_ROT];
    int64_t half = a->n_rot / 2;
    for (int64_t i = 0; i < half; i++) {
        double ang = (double)a->pos[t] * a->inv[i];
        float cs = (float)cos(ang), sn = (float)sin(ang);
        if (a->neox) {
            c[i] = cs;
            s[i] = sn;
        } else {
            c[2 * i] = c[2 * i + 1] = cs;
            s[2 * i] = -sn;
            s[2 * i + 1] = sn;
        }
    }
    ((clv_rope_fn)clv_rope_impl)(a->x + t * a->heads * a->d, a->heads, a->d, a->n_rot, c, s, a->neox);
}

int clv_rope(clv_threadpool *pool, float *x, const int32_t *positions, int64_t t, int64_t n_heads,
             int64_t d, int64_t n_rot, float theta, int neox, const float *freq_factors) {
    if (n_rot < 0 || n_rot % 2 || n_rot > d || n_rot > CLV_ROPE_MAX_ROT) return -1;
    if (n_rot == 0) return 0;
    double inv[CLV_ROPE_MAX_ROT / 2];
    for (int64_t i = 0; i < n_rot / 2; i++) {
        inv[i] = pow((double)theta, -2.0 * (double)i / (double)n_rot);
        if (freq_factors) inv[i] /= (double)freq_factors[i];
    }
    rope_ctx a = {x, positions, inv, n_heads, d, n_rot, neox};
    clv_parallel_for(t * n_heads * d >= ELEMS_PER_CHUNK ? pool : NULL, t, rope_task, &a);
    return 0;
}

/* ---------------------------------------------------------------- attention */
typedef struct {
    const float *q;
    const char *k, *v;
    float *out;
    size_t head_bytes;   /* bytes of one KV head's cache: s_cap * d * elem */
    int64_t t, hq, hkv, d, n_kv, pos0;
    int causal, f16;
    float scale;
} att_ctx;

/* chunk = (block of up to CLV_ATT_ROWS query rows, kv head h): the g = hq/hkv query heads of
 * those rows that share head h; the block's rows reuse each key block while it is in cache */
static void att_task(void *p, int64_t c, int tid) {
    const att_ctx *a = p;
    int64_t i0 = (c / a->hkv) * CLV_ATT_ROWS, h = c % a->hkv, g = a->hq / a->hkv;
    int64_t rows = a->t - i0 < CLV_ATT_ROWS ? a->t - i0 : CLV_ATT_ROWS, n_keys[CLV_ATT_ROWS];
    for (int64_t r = 0; r < rows; r++) {
        int64_t n = a->n_kv;
        if (a->causal && a->pos0 + i0 + r + 1 < n) n = a->pos0 + i0 + r + 1;
        n_keys[r] = n < 0 ? 0 : n;
    }
    size_t off = (size_t)(i0 * a->hq + h * g) * (size_t)a->d;
    ((clv_attention_fn)clv_attention_impl)(a->q + off, a->out + off, rows, a->hq * a->d, g, a->d,
                                           a->k + h * a->head_bytes, a->v + h * a->head_bytes,
                                           n_keys, a->scale, a->f16);
}

void clv_attention(clv_threadpool *pool, const float *q, const void *k_cache, const void *v_cache,
                   int f16, int64_t t, int64_t hq, int64_t hkv, int64_t s_cap, int64_t d,
                   int64_t n_kv, int64_t pos0, int causal, float scale, float *out) {
    att_ctx a = {q, k_cache, v_cache, out, (size_t)(s_cap * d) * (f16 ? 2u : 4u),
                 t, hq, hkv, d, n_kv, pos0, causal, f16, scale};
    int64_t work = t * hq * d * (n_kv > 0 ? n_kv : 1);
    int64_t blocks = (t + CLV_ATT_ROWS - 1) / CLV_ATT_ROWS;
    clv_parallel_for(work >= 4 * ELEMS_PER_CHUNK ? pool : NULL, blocks * hkv, att_task, &a);
}

/* ---------------------------------------------------------------- conv1d + gelu */
#define CONV_CO_BLK 32
#define CONV_L_BLK 256

int64_t clv_conv1d_out_len(int64_t l, int64_t ks, int64_t stride, int64_t padding) {
    if (stride < 1 || ks < 1) return -1;
    int64_t span = l + 2 * padding - ks;
    return span < 0 ? 0 : span / stride + 1;
}

typedef struct {
    const float *x, *w, *b;
    float *col, *y;
    int64_t cin, l, cout, ks, stride, pad, lout;
} conv_ctx;

/* col[ci*ks + kk][o] = x[ci][o*stride + kk - pad] (0 outside), one input channel per chunk */
static void im2col_task(void *p, int64_t ci, int tid) {
    const conv_ctx *a = p;
    for (int64_t kk = 0; kk < a->ks; kk++) {
        float *dst = a->col + (ci * a->ks + kk) * a->lout;
        const float *src = a->x + ci * a->l;
        for (int64_t o = 0; o < a->lout; o++) {
            int64_t j = o * a->stride + kk - a->pad;
            dst[o] = (j >= 0 && j < a->l) ? src[j] : 0.0f;
        }
    }
}

static void conv_task(void *p, int64_t c, int tid) {
    const conv_ctx *a = p;
    int64_t nl = (a->lout + CONV_L_BLK - 1) / CONV_L_BLK;
    int64_t co0 = (c / nl) * CONV_CO_BLK, l0 = (c % nl) * CONV_L_BLK;
    int64_t co1 = co0 + CONV_CO_BLK < a->cout ? co0 + CONV_CO_BLK : a->cout;
    int64_t l1 = l0 + CONV_L_BLK < a->lout ? l0 + CONV_L_BLK : a->lout;
    ((clv_conv1d_gelu_fn)clv_conv1d_gelu_impl)(a->w, a->b, a->col, a->y, a->cin * a->ks, a->lout,
                                               co0, co1, l0, l1);
}

void clv_conv1d_gelu(clv_threadpool *pool, const float *x, int64_t cin, int64_t l, const float *w,
                     int64_t cout, int64_t ks, const float *b, int64_t stride, int64_t padding,
                     float *col, float *y) {
    int64_t lout = clv_conv1d_out_len(l, ks, stride, padding);
    if (lout <= 0 || cout <= 0) return;
    conv_ctx a = {x, w, b, col, y, cin, l, cout, ks, stride, padding, lout};
    clv_parallel_for(pool, cin, im2col_task, &a);
    int64_t nl = (lout + CONV_L_BLK - 1) / CONV_L_BLK, nco = (cout + CONV_CO_BLK - 1) / CONV_CO_BLK;
    clv_parallel_for(pool, nl * nco, conv_task, &a);
}

/* ---------------------------------------------------------------- embedding */
typedef struct {
    const void *data;
    int type;
    int64_t n_cols;
    const int32_t *ids;
    int64_t n_ids, per;
    float *out;
} emb_ctx;

static void emb_task(void *p, int64_t c, int tid) {
    const emb_ctx *a = p;
    int64_t i0 = c * a->per, i1 = i0 + a->per < a->n_ids ? i0 + a->per : a->n_ids;
    ((clv_embedding_fn)clv_embedding_impl)(a->data, a->type, a->n_cols, a->ids + i0, i1 - i0,
                                           a->out + i0 * a->n_cols);
}

int clv_embedding(clv_threadpool *pool, const void *data, int type, int64_t n_cols,
                  const int32_t *ids, int64_t n_ids, float *out) {
    const clv_type_traits *tt = clv_type_get(type);
    if (!tt || !tt->to_float || n_cols <= 0 || n_cols % tt->blck_size) return -1;
    emb_ctx a = {data, type, n_cols, ids, n_ids, rows_per_chunk(n_cols), out};
    clv_parallel_for(pool, n_chunks(n_ids, a.per), emb_task, &a);
    return 0;
}
