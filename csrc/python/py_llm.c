/* Binding of the C layer sequence (csrc/llm_layers.c, clavis_llm.h). The table of pointers is
 * built by clavis.kernels.layers from arrays it keeps alive; here every weight's ukernel and
 * every shape is checked against the hyper-parameters before anything runs. */
#include "pyclavis.h"
#include "clavis_llm.h"
#include "clavis_ops.h"

#include <string.h>

#define LLM_FIELDS 28   /* 7 pointers, then 7 weights x (packed, ukernel, n) */
#define LLM_HP_INTS 10

static const char *const MATMUL_OPS[] = {"matmul_f32", "matmul_f16", "matmul_bf16", "matmul_q8_0",
                                         "matmul_q4_0"};

static int known_ukernel(const void *uk) {
    for (size_t i = 0; i < sizeof MATMUL_OPS / sizeof *MATMUL_OPS; i++) {
        const clv_op *op = clv_op_find(MATMUL_OPS[i]);
        for (const clv_variant *v = op ? op->variants : NULL; v && v->name; v++)
            if (v->fn == uk && clv_variant_supported(v)) return 1;
    }
    return 0;
}

/* Fill one layer from its table row; -1 with a ValueError on anything inconsistent. */
static int fill_layer(const int64_t *r, const clv_llm_hparams *hp, clv_llm_layer *L, int i) {
    int64_t nq = hp->n_heads * hp->head_dim, nkv = hp->n_kv_heads * hp->head_dim;
    const int64_t want_n[7] = {nq, nkv, nkv, hp->dim, hp->ffn_dim, hp->ffn_dim, hp->dim};
    const int64_t want_k[7] = {hp->dim, hp->dim, hp->dim, nq, hp->dim, hp->dim, hp->ffn_dim};
    clv_llm_weight *w[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
    L->attn_norm = (const float *)(intptr_t)r[0];
    L->ffn_norm = (const float *)(intptr_t)r[1];
    L->bq = (const float *)(intptr_t)r[2];
    L->bk = (const float *)(intptr_t)r[3];
    L->bv = (const float *)(intptr_t)r[4];
    L->k_cache = (void *)(intptr_t)r[5];
    L->v_cache = (void *)(intptr_t)r[6];
    if (!L->attn_norm || !L->ffn_norm || !L->k_cache || !L->v_cache) {
        PyErr_Format(PyExc_ValueError, "llm_layers: layer %d lacks a norm or a cache", i);
        return -1;
    }
    for (int j = 0; j < 7; j++) {
        const int64_t *f = r + 7 + 3 * j;
        w[j]->packed = (const void *)(intptr_t)f[0];
        w[j]->uk = (const clv_matmul_ukernel *)(intptr_t)f[1];
        w[j]->n = f[2];
        if (!w[j]->packed || !known_ukernel(w[j]->uk) || w[j]->n != want_n[j] ||
            want_k[j] % w[j]->uk->kb) {
            PyErr_Format(PyExc_ValueError, "llm_layers: layer %d weight %d is not a packed [%lld, %lld]",
                         i, j, (long long)want_n[j], (long long)want_k[j]);
            return -1;
        }
    }
    return 0;
}

/* llm_layers(table int64[L, 28], hp_i int64[10], hp_f float64[3], x f32[T, dim], positions
 * int32[T], pos0, prof=None): x updated in place; prof (float64[CLV_LLM_OPS], writable): each
 * step's seconds are added to it */
static PyObject *py_llm_layers(PyObject *self, PyObject *args) {
    PyObject *to, *io, *fo, *xo, *po, *qo = Py_None;
    long long pos0;
    if (!PyArg_ParseTuple(args, "OOOOOL|O", &to, &io, &fo, &xo, &po, &pos0, &qo)) return NULL;
    Py_buffer tb, ib, fb, xb, pb, qb = {0};
    PyObject *ret = NULL;   /* before the first goto: every error path returns it */
    if (qo != Py_None) {
        if (clv_py_buffer(qo, &qb, 'd', 1, 1, "prof") < 0) return NULL;
        if (qb.shape[0] != CLV_LLM_OPS) {
            PyErr_Format(PyExc_ValueError, "llm_layers: prof must have %d entries", CLV_LLM_OPS);
            PyBuffer_Release(&qb);
            return NULL;
        }
    }
    if (clv_py_buffer(to, &tb, 'l', 2, 0, "table") < 0) {
        if (qb.obj) PyBuffer_Release(&qb);
        return NULL;
    }
    if (clv_py_buffer(io, &ib, 'l', 1, 0, "hp_i") < 0) goto f_t;
    if (clv_py_buffer(fo, &fb, 'd', 1, 0, "hp_f") < 0) goto f_i;
    if (clv_py_buffer(xo, &xb, 'f', 2, 1, "x") < 0) goto f_f;
    if (clv_py_buffer(po, &pb, 'i', 1, 0, "positions") < 0) goto f_x;
    clv_llm_layer *layers = NULL;
    const int64_t *hi = ib.buf;
    const double *hf = fb.buf;
    clv_llm_hparams hp;
    int n_layers = (int)tb.shape[0];
    if (tb.shape[1] != LLM_FIELDS || ib.shape[0] != LLM_HP_INTS || fb.shape[0] != 3) {
        PyErr_SetString(PyExc_ValueError, "llm_layers: table [L, 28], hp_i[10], hp_f[3] expected");
        goto done;
    }
    hp = (clv_llm_hparams){hi[0], hi[1], hi[2], hi[3], hi[4], hi[5], hi[6], (int)hi[7], (int)hi[8],
                           (float)hf[0], (float)hf[1], (float)hf[2], (const float *)(intptr_t)hi[9]};
    int64_t t = xb.shape[0];
    if (hp.dim < 1 || hp.n_heads < 1 || hp.n_kv_heads < 1 || hp.n_heads % hp.n_kv_heads ||
        hp.head_dim < 1 || hp.ffn_dim < 1 || hp.n_rot < 0 || hp.n_rot % 2 || hp.n_rot > hp.head_dim ||
        hp.n_rot > CLV_ROPE_MAX_ROT || xb.shape[1] != hp.dim || pb.shape[0] != t || pos0 < 0 ||
        pos0 + t > hp.n_ctx || !(hp.theta > 0.0f)) {
        PyErr_SetString(PyExc_ValueError, "llm_layers: inconsistent shapes, positions or context");
        goto done;
    }
    for (int64_t i = 0; i < t; i++)
        if (((const int32_t *)pb.buf)[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "llm_layers: negative position");
            goto done;
        }
    layers = PyMem_Calloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof *layers);
    if (!layers) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < n_layers; i++)
        if (fill_layer((const int64_t *)tb.buf + (size_t)i * LLM_FIELDS, &hp, &layers[i], i)) goto done;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = clv_llm_layers_profiled(clv_py_pool(), &hp, layers, n_layers, xb.buf, t, pos0, pb.buf,
                                 qb.obj ? (double *)qb.buf : NULL);
    Py_END_ALLOW_THREADS
    if (rc == -2) PyErr_NoMemory();
    else if (rc) PyErr_SetString(PyExc_ValueError, "llm_layers: positions beyond the context");
    else ret = Py_NewRef(Py_None);
done:
    PyMem_Free(layers);
    PyBuffer_Release(&pb);
f_x:
    PyBuffer_Release(&xb);
f_f:
    PyBuffer_Release(&fb);
f_i:
    PyBuffer_Release(&ib);
f_t:
    PyBuffer_Release(&tb);
    if (qb.obj) PyBuffer_Release(&qb);
    return ret;
}

/* llm_op_names() -> the names of the profile's entries, in order */
static PyObject *py_llm_op_names(PyObject *self, PyObject *noargs) {
    PyObject *t = PyTuple_New(CLV_LLM_OPS);
    for (int i = 0; t && i < CLV_LLM_OPS; i++) {
        PyObject *u = PyUnicode_FromString(clv_llm_op_names[i]);
        if (!u) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, u);
    }
    return t;
}

PyMethodDef clv_py_methods_llm[] = {
    {"llm_layers", py_llm_layers, METH_VARARGS,
     "llm_layers(table int64[L,28], hp_i int64[10], hp_f float64[3], x f32[T,dim], positions, pos0, "
     "prof=None)"},
    {"llm_op_names", py_llm_op_names, METH_NOARGS, "llm_op_names() -> the profile's step names"},
    {NULL, NULL, 0, NULL},
};
