/* Bindings for the matmul micro-kernels (csrc/ukernels/matmul/matmul.h) and the read-bandwidth
 * benchmark. The Python side (clavis/kernels/matmul.py) owns the packed buffers; the threaded
 * driver is csrc/ukernels/matmul/matmul_run.c. GIL released around every C call. */
#include "pyclavis.h"
#include "ukernels/matmul/matmul.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t clv_bench_read(const void *buf, size_t nbytes);

static const char *op_name(int type) {
    switch (type) {
    case CLV_TYPE_F32: return "matmul_f32";
    case CLV_TYPE_F16: return "matmul_f16";
    case CLV_TYPE_BF16: return "matmul_bf16";
    case CLV_TYPE_Q8_0: return "matmul_q8_0";
    case CLV_TYPE_Q4_0: return "matmul_q4_0";
    default: return NULL;
    }
}

/* The ukernel of `variant` (NULL/"" = the dispatched one) for weight type `type`. */
static const clv_matmul_ukernel *find_ukernel(int type, const char *variant, const char **vname) {
    const char *opn = op_name(type);
    const clv_op *op = opn ? clv_op_find(opn) : NULL;
    if (!op) {
        PyErr_Format(PyExc_ValueError, "matmul: unsupported weight type id %d", type);
        return NULL;
    }
    if (!variant || !*variant) variant = *op->chosen;
    for (const clv_variant *v = op->variants; v->name; v++) {
        if (strcmp(v->name, variant)) continue;
        if (!clv_variant_supported(v)) break;
        if (vname) *vname = v->name;
        return v->fn;
    }
    PyErr_Format(PyExc_ValueError, "%s has no variant '%s' runnable on this CPU", opn, variant);
    return NULL;
}

static PyObject *py_matmul_info(PyObject *self, PyObject *args) {
    int type;
    const char *variant = NULL, *vname = NULL;
    if (!PyArg_ParseTuple(args, "i|z", &type, &variant)) return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, &vname);
    if (!uk) return NULL;
    return Py_BuildValue("{s:s,s:s,s:i,s:i,s:i,s:O,s:O}", "variant", vname, "layout", uk->layout,
                         "nr", uk->nr, "mr", uk->mr, "kb", uk->kb, "int8_activations",
                         uk->lhs_quant ? Py_True : Py_False, "raw", uk->raw ? Py_True : Py_False);
}

/* matmul_ukernel_ptr(type, variant) -> the ukernel's address (for the C layer table) */
static PyObject *py_matmul_ukernel_ptr(PyObject *self, PyObject *args) {
    int type;
    const char *variant = NULL;
    if (!PyArg_ParseTuple(args, "iz", &type, &variant)) return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, NULL);
    return uk ? PyLong_FromVoidPtr((void *)uk) : NULL;
}

/* A packed weight of `len` bytes at `buf` fits uk for [n, k]: the packed size, and 64-byte
 * alignment unless the ukernel runs on raw rows (any address). */
static int packed_ok(const clv_matmul_ukernel *uk, const void *buf, Py_ssize_t len, int64_t n, int64_t k) {
    return (size_t)len == uk->packed_size(n, k) && (uk->raw || !((uintptr_t)buf & 63));
}

static int check_nk(const clv_matmul_ukernel *uk, long long n, long long k) {
    if (n < 1 || k < 1 || k % uk->kb) {
        PyErr_Format(PyExc_ValueError, "matmul: bad weight shape [%lld, %lld] (k must be a positive "
                     "multiple of %d)", n, k, uk->kb);
        return -1;
    }
    return 0;
}

static PyObject *py_matmul_packed_size(PyObject *self, PyObject *args) {
    int type;
    const char *variant;
    long long n, k;
    if (!PyArg_ParseTuple(args, "izLL", &type, &variant, &n, &k)) return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, NULL);
    if (!uk || check_nk(uk, n, k)) return NULL;
    return PyLong_FromSize_t(uk->packed_size(n, k));
}

/* matmul_pack(src uint8, dst uint8 (64-byte aligned), type, variant, n, k) */
static PyObject *py_matmul_pack(PyObject *self, PyObject *args) {
    PyObject *so, *dobj;
    int type;
    const char *variant;
    long long n, k;
    if (!PyArg_ParseTuple(args, "OOizLL", &so, &dobj, &type, &variant, &n, &k)) return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, NULL);
    if (!uk || check_nk(uk, n, k)) return NULL;
    Py_buffer src, dst;
    if (clv_py_buffer(so, &src, 'B', -1, 0, "weight data") < 0) return NULL;
    if (clv_py_buffer(dobj, &dst, 'B', -1, 1, "packed buffer") < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    size_t want = clv_row_size(type, k) * (size_t)n, psize = uk->packed_size(n, k);
    PyObject *ret = NULL;
    if ((size_t)src.len != want)
        PyErr_Format(PyExc_ValueError, "weight data: a [%lld, %lld] tensor needs %zu bytes, got %zd",
                     n, k, want, src.len);
    else if ((size_t)dst.len != psize || ((uintptr_t)dst.buf & 63))
        PyErr_Format(PyExc_ValueError, "packed buffer must be %zu bytes, 64-byte aligned", psize);
    else {
        Py_BEGIN_ALLOW_THREADS
        clv_matmul_pack(clv_py_pool(), uk, src.buf, dst.buf, n, k);
        Py_END_ALLOW_THREADS
        ret = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return ret;
}

/* matmul(x f32[M,K], packed uint8, out f32[M,N], type, variant, n, k) */
static PyObject *py_matmul(PyObject *self, PyObject *args) {
    PyObject *xo, *po, *oo;
    int type;
    const char *variant;
    long long n, k;
    if (!PyArg_ParseTuple(args, "OOOizLL", &xo, &po, &oo, &type, &variant, &n, &k)) return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, NULL);
    if (!uk || check_nk(uk, n, k)) return NULL;
    Py_buffer x, p, out;
    if (clv_py_buffer(xo, &x, 'f', 2, 0, "x") < 0) return NULL;
    if (clv_py_buffer(po, &p, 'B', -1, 0, "packed weight") < 0) goto fail_x;
    if (clv_py_buffer(oo, &out, 'f', 2, 1, "out") < 0) goto fail_p;
    int64_t m = x.shape[0];
    PyObject *ret = NULL;
    if (x.shape[1] != k) {
        PyErr_Format(PyExc_ValueError, "x has %zd columns, the weight has k = %lld", x.shape[1], k);
    } else if (out.shape[0] != m || out.shape[1] != n) {
        PyErr_Format(PyExc_ValueError, "out must be [%lld, %lld], got [%zd, %zd]", (long long)m, n,
                     out.shape[0], out.shape[1]);
    } else if (!packed_ok(uk, p.buf, p.len, n, k)) {
        PyErr_Format(PyExc_ValueError, "packed weight must be %zu bytes%s", uk->packed_size(n, k),
                     uk->raw ? "" : ", 64-byte aligned");
    } else {
        size_t ss = clv_matmul_scratch_size(uk, m, k);
        void *scratch = NULL;
        int failed = 0;
        Py_BEGIN_ALLOW_THREADS
        if (ss && !(scratch = malloc(ss))) failed = 1;
        else clv_matmul(clv_py_pool(), uk, x.buf, m, p.buf, n, k, out.buf, scratch);
        free(scratch);
        Py_END_ALLOW_THREADS
        if (failed) PyErr_NoMemory();
        else ret = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&p);
    PyBuffer_Release(&x);
    return ret;
fail_p:
    PyBuffer_Release(&p);
fail_x:
    PyBuffer_Release(&x);
    return NULL;
}

/* matmul_multi(x f32[M,K], packed tuple, out tuple of f32[M,N_i], type, variant, n tuple, k):
 * several weights of one type/variant/k on the same x (one activation quantization, one job). */
static PyObject *py_matmul_multi(PyObject *self, PyObject *args) {
    PyObject *xo, *pt, *ot, *nt;
    int type;
    const char *variant;
    long long k;
    if (!PyArg_ParseTuple(args, "OO!O!izO!L", &xo, &PyTuple_Type, &pt, &PyTuple_Type, &ot, &type,
                          &variant, &PyTuple_Type, &nt, &k))
        return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, NULL);
    if (!uk) return NULL;
    Py_ssize_t nw = PyTuple_GET_SIZE(pt);
    if (nw < 1 || nw > CLV_MATMUL_MULTI_MAX || PyTuple_GET_SIZE(ot) != nw || PyTuple_GET_SIZE(nt) != nw) {
        PyErr_Format(PyExc_ValueError, "matmul_multi: 1..%d weights with as many outputs and n",
                     CLV_MATMUL_MULTI_MAX);
        return NULL;
    }
    Py_buffer x, p[CLV_MATMUL_MULTI_MAX], o[CLV_MATMUL_MULTI_MAX];
    const void *pk[CLV_MATMUL_MULTI_MAX];
    float *ys[CLV_MATMUL_MULTI_MAX];
    int64_t ns[CLV_MATMUL_MULTI_MAX];
    int np = 0, no = 0;
    PyObject *ret = NULL;
    if (clv_py_buffer(xo, &x, 'f', 2, 0, "x") < 0) return NULL;
    int64_t m = x.shape[0];
    if (x.shape[1] != k || check_nk(uk, 1, k)) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "x has %zd columns, the weights have k = %lld", x.shape[1], k);
        goto done;
    }
    for (Py_ssize_t i = 0; i < nw; i++) {
        long long n = PyLong_AsLongLong(PyTuple_GET_ITEM(nt, i));
        if (n == -1 && PyErr_Occurred()) goto done;
        if (check_nk(uk, n, k)) goto done;
        if (clv_py_buffer(PyTuple_GET_ITEM(pt, i), &p[np], 'B', -1, 0, "packed weight") < 0) goto done;
        np++;
        if (clv_py_buffer(PyTuple_GET_ITEM(ot, i), &o[no], 'f', 2, 1, "out") < 0) goto done;
        no++;
        if (!packed_ok(uk, p[i].buf, p[i].len, n, k)) {
            PyErr_Format(PyExc_ValueError, "packed weight %zd must be %zu bytes%s", i,
                         uk->packed_size(n, k), uk->raw ? "" : ", 64-byte aligned");
            goto done;
        }
        if (o[i].shape[0] != m || o[i].shape[1] != n) {
            PyErr_Format(PyExc_ValueError, "out %zd must be [%lld, %lld], got [%zd, %zd]", i,
                         (long long)m, n, o[i].shape[0], o[i].shape[1]);
            goto done;
        }
        pk[i] = p[i].buf;
        ys[i] = o[i].buf;
        ns[i] = n;
    }
    size_t ss = clv_matmul_scratch_size(uk, m, k);
    void *scratch = NULL;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    if (ss && !(scratch = malloc(ss))) failed = 1;
    else clv_matmul_multi(clv_py_pool(), uk, x.buf, m, k, (int)nw, pk, ns, ys, scratch);
    free(scratch);
    Py_END_ALLOW_THREADS
    if (failed) PyErr_NoMemory();
    else ret = Py_NewRef(Py_None);
done:
    for (int i = 0; i < np; i++) PyBuffer_Release(&p[i]);
    for (int i = 0; i < no; i++) PyBuffer_Release(&o[i]);
    PyBuffer_Release(&x);
    return ret;
}

/* matmul_lhs_quant(x f32[M,K], out uint8[M * K/32 * 40], type, variant): the variant's
 * activation quantizer alone (tests compare every variant's bytes with the reference). */
static PyObject *py_matmul_lhs_quant(PyObject *self, PyObject *args) {
    PyObject *xo, *oo;
    int type;
    const char *variant;
    if (!PyArg_ParseTuple(args, "OOiz", &xo, &oo, &type, &variant)) return NULL;
    const clv_matmul_ukernel *uk = find_ukernel(type, variant, NULL);
    if (!uk) return NULL;
    if (!uk->lhs_quant) {
        PyErr_SetString(PyExc_ValueError, "this variant keeps activations in f32");
        return NULL;
    }
    Py_buffer x, out;
    if (clv_py_buffer(xo, &x, 'f', 2, 0, "x") < 0) return NULL;
    if (clv_py_buffer(oo, &out, 'B', -1, 1, "out") < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    int64_t m = x.shape[0], k = x.shape[1];
    PyObject *ret = NULL;
    if (k % CLV_QK || (size_t)out.len != (size_t)m * (size_t)(k / CLV_QK) * sizeof(clv_lhs_q8)) {
        PyErr_SetString(PyExc_ValueError, "matmul_lhs_quant: K must be a multiple of 32 and out M*K/32*40 bytes");
    } else {
        Py_BEGIN_ALLOW_THREADS
        for (int64_t r = 0; r < m; r++)
            uk->lhs_quant((const float *)x.buf + r * k, (clv_lhs_q8 *)out.buf + r * (k / CLV_QK), k);
        Py_END_ALLOW_THREADS
        ret = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return ret;
}

/* ------------------------------------------------------------------ read bandwidth */

typedef struct { const uint8_t *buf; size_t len, chunk; uint64_t sink[64]; } bw_job;

static void bw_chunk(void *ctx, int64_t c, int tid) {
    bw_job *j = ctx;
    size_t off = (size_t)c * j->chunk, len = off + j->chunk <= j->len ? j->chunk : j->len - off;
    j->sink[tid & 63] += clv_bench_read(j->buf + off, len);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* read_bandwidth(buf uint8, reps) -> list of seconds per full pass over buf, on all threads */
static PyObject *py_read_bandwidth(PyObject *self, PyObject *args) {
    PyObject *bo;
    int reps;
    if (!PyArg_ParseTuple(args, "Oi", &bo, &reps)) return NULL;
    Py_buffer b;
    if (clv_py_buffer(bo, &b, 'B', -1, 0, "buffer") < 0) return NULL;
    if (reps < 1 || reps > 1000 || b.len < (1 << 20)) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "read_bandwidth: need reps in 1..1000 and >= 1 MiB");
        return NULL;
    }
    bw_job j = {b.buf, (size_t)b.len, 1 << 20, {0}};
    int64_t chunks = (int64_t)((j.len + j.chunk - 1) / j.chunk);
    double *t = malloc(sizeof(double) * (size_t)reps);
    Py_BEGIN_ALLOW_THREADS
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        clv_parallel_for(clv_py_pool(), chunks, bw_chunk, &j);
        t[r] = now_s() - t0;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    PyObject *list = PyList_New(reps);
    for (int r = 0; r < reps; r++) PyList_SET_ITEM(list, r, PyFloat_FromDouble(t[r]));
    free(t);
    return list;
}

PyMethodDef clv_py_methods_matmul[] = {
    {"matmul_info", py_matmul_info, METH_VARARGS, "matmul_info(type, variant=None) -> dict"},
    {"matmul_packed_size", py_matmul_packed_size, METH_VARARGS, "(type, variant, n, k) -> bytes"},
    {"matmul_pack", py_matmul_pack, METH_VARARGS, "(src, dst, type, variant, n, k)"},
    {"matmul", py_matmul, METH_VARARGS, "(x[M,K], packed, out[M,N], type, variant, n, k)"},
    {"matmul_ukernel_ptr", py_matmul_ukernel_ptr, METH_VARARGS, "(type, variant) -> address"},
    {"matmul_multi", py_matmul_multi, METH_VARARGS,
     "(x[M,K], (packed, ...), (out[M,N_i], ...), type, variant, (n_i, ...), k)"},
    {"matmul_lhs_quant", py_matmul_lhs_quant, METH_VARARGS, "(x[M,K], out, type, variant)"},
    {"read_bandwidth", py_read_bandwidth, METH_VARARGS, "(buf, reps) -> seconds per pass"},
    {NULL, NULL, 0, NULL},
};
