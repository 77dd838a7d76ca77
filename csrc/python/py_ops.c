/* Bindings for the non-matmul ops (csrc/include/clavis_ops.h). Every argument is checked here
 * (dtype, ndim, shape, ranges) so that a bad call raises TypeError/ValueError and never reaches
 * a kernel; the drivers then run with the GIL released on the runtime's pool. The Python layer
 * (clavis.kernels.ops) allocates `out` and turns these errors into ClavisError. */
#include "pyclavis.h"
#include "clavis_ops.h"

#include <errno.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#endif

/* A small set of buffers released together. */
typedef struct {
    Py_buffer v[8];
    int n;
} bufs;

static void release(bufs *b) {
    for (int i = 0; i < b->n; i++) PyBuffer_Release(&b->v[i]);
    b->n = 0;
}

/* Acquire obj as a C-contiguous buffer of format fmt with ndim dims (-1 any); NULL on error. */
static Py_buffer *get(bufs *b, PyObject *obj, char fmt, int ndim, int writable, const char *what) {
    Py_buffer *v = &b->v[b->n];
    if (clv_py_buffer(obj, v, fmt, ndim, writable, what) < 0) return NULL;
    b->n++;
    return v;
}

/* Optional float32 vector of length k (None -> NULL pointer, *ok stays 1). */
static const float *get_vec(bufs *b, PyObject *obj, int64_t k, const char *what, int *ok) {
    if (obj == Py_None) return NULL;
    Py_buffer *v = get(b, obj, 'f', 1, 0, what);
    if (!v) { *ok = 0; return NULL; }
    if (v->shape[0] != k) {
        PyErr_Format(PyExc_ValueError, "%s has %zd elements, expected %lld",
                     what, v->shape[0], (long long)k);
        *ok = 0;
        return NULL;
    }
    return v->buf;
}

static int same_shape(const Py_buffer *a, const Py_buffer *b, const char *an, const char *bn) {
    int same = a->ndim == b->ndim;
    for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
    if (!same) PyErr_Format(PyExc_ValueError, "%s and %s must have the same shape", an, bn);
    return same;
}

static int check_2d_out(const Py_buffer *x, const Py_buffer *out) { return same_shape(x, out, "x", "out"); }

/* rms_norm(x[M,K], w[K]|None, out[M,K], eps) */
static PyObject *py_rms_norm(PyObject *self, PyObject *args) {
    PyObject *xo, *wo, *oo;
    float eps;
    if (!PyArg_ParseTuple(args, "OOOf", &xo, &wo, &oo, &eps)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', 2, 0, "x"), *out = x ? get(&b, oo, 'f', 2, 1, "out") : NULL;
    int ok = x && out && check_2d_out(x, out);
    const float *w = ok ? get_vec(&b, wo, x->shape[1], "w", &ok) : NULL;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        clv_rms_norm(clv_py_pool(), x->buf, w, out->buf, x->shape[0], x->shape[1], eps);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* layer_norm(x[M,K], w[K]|None, b[K]|None, out[M,K], eps) */
static PyObject *py_layer_norm(PyObject *self, PyObject *args) {
    PyObject *xo, *wo, *bo, *oo;
    float eps;
    if (!PyArg_ParseTuple(args, "OOOOf", &xo, &wo, &bo, &oo, &eps)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', 2, 0, "x"), *out = x ? get(&b, oo, 'f', 2, 1, "out") : NULL;
    int ok = x && out && check_2d_out(x, out);
    const float *w = ok ? get_vec(&b, wo, x->shape[1], "w", &ok) : NULL;
    const float *bias = ok ? get_vec(&b, bo, x->shape[1], "b", &ok) : NULL;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        clv_layer_norm(clv_py_pool(), x->buf, w, bias, out->buf, x->shape[0], x->shape[1], eps);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* softmax(x[M,K], out[M,K]) */
static PyObject *py_softmax(PyObject *self, PyObject *args) {
    PyObject *xo, *oo;
    if (!PyArg_ParseTuple(args, "OO", &xo, &oo)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', 2, 0, "x"), *out = x ? get(&b, oo, 'f', 2, 1, "out") : NULL;
    int ok = x && out && check_2d_out(x, out);
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        clv_softmax(clv_py_pool(), x->buf, out->buf, x->shape[0], x->shape[1]);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* Elementwise: kind 0 silu_mul(g, u, out), 1 gelu(x, out), 2 add(a, b, out), 3 scale(x, s, out) */
static PyObject *elementwise(PyObject *args, int kind) {
    PyObject *ao, *bo = NULL, *oo;
    float s = 0.0f;
    int parsed = kind == 1 ? PyArg_ParseTuple(args, "OO", &ao, &oo)
               : kind == 3 ? PyArg_ParseTuple(args, "OfO", &ao, &s, &oo)
                           : PyArg_ParseTuple(args, "OOO", &ao, &bo, &oo);
    if (!parsed) return NULL;
    const char *an = kind == 0 ? "gate" : kind == 2 ? "a" : "x", *bn = kind == 0 ? "up" : "b";
    bufs b = {.n = 0};
    Py_buffer *a = get(&b, ao, 'f', -1, 0, an), *out = a ? get(&b, oo, 'f', -1, 1, "out") : NULL;
    int ok = a && out && same_shape(a, out, an, "out");
    Py_buffer *bv = (ok && bo) ? get(&b, bo, 'f', -1, 0, bn) : NULL;
    if (ok && bo && !bv) ok = 0;
    int64_t n = ok ? (int64_t)(a->len / 4) : 0, k = 0;
    int bcast = 0;
    if (ok && bv && bv->len != a->len) {
        k = a->ndim ? (int64_t)a->shape[a->ndim - 1] : 1;
        bcast = kind == 2 && (int64_t)(bv->len / 4) == k;
        if (!bcast) {
            PyErr_Format(PyExc_ValueError, kind == 2
                         ? "b must have the shape of a or be one row of %lld values (got %zd values)"
                         : "up must have the shape of gate (%lld per row; got %zd values)",
                         (long long)k, bv->len / 4);
            ok = 0;
        }
    }
    if (ok) {
        clv_threadpool *pool = clv_py_pool();
        Py_BEGIN_ALLOW_THREADS
        if (kind == 0) clv_silu_mul(pool, a->buf, bv->buf, out->buf, n);
        else if (kind == 1) clv_gelu(pool, a->buf, out->buf, n);
        else if (kind == 3) clv_scale(pool, a->buf, s, out->buf, n);
        else if (bcast) clv_add(pool, a->buf, bv->buf, out->buf, k ? n / k : 0, k, 1);
        else clv_add(pool, a->buf, bv->buf, out->buf, 1, n, 0);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

static PyObject *py_silu_mul(PyObject *self, PyObject *args) { return elementwise(args, 0); }
static PyObject *py_gelu(PyObject *self, PyObject *args) { return elementwise(args, 1); }
static PyObject *py_add(PyObject *self, PyObject *args) { return elementwise(args, 2); }
static PyObject *py_scale(PyObject *self, PyObject *args) { return elementwise(args, 3); }

/* rope(x[T,H,D] in place, positions int32[T], theta, neox, n_rot, freq_factors[n_rot/2]|None) */
static PyObject *py_rope(PyObject *self, PyObject *args) {
    PyObject *xo, *po, *fo;
    float theta;
    int neox;
    long long n_rot;
    if (!PyArg_ParseTuple(args, "OOfpLO", &xo, &po, &theta, &neox, &n_rot, &fo)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', 3, 1, "x"), *pos = x ? get(&b, po, 'i', 1, 0, "positions") : NULL;
    int ok = x && pos;
    if (ok && pos->shape[0] != x->shape[0]) {
        PyErr_Format(PyExc_ValueError, "positions has %zd entries, x has T=%zd rows", pos->shape[0], x->shape[0]);
        ok = 0;
    }
    for (Py_ssize_t i = 0; ok && i < pos->shape[0]; i++)
        if (((const int32_t *)pos->buf)[i] < 0) {
            PyErr_Format(PyExc_ValueError, "positions[%zd] = %d is negative", i, ((const int32_t *)pos->buf)[i]);
            ok = 0;
        }
    if (ok && (n_rot < 0 || n_rot % 2 || n_rot > x->shape[2] || n_rot > CLV_ROPE_MAX_ROT)) {
        PyErr_Format(PyExc_ValueError, "n_rot=%lld must be even and between 0 and head_dim=%zd (max %d)",
                     n_rot, x->shape[2], CLV_ROPE_MAX_ROT);
        ok = 0;
    }
    if (ok && !(theta > 0.0f)) {
        PyErr_Format(PyExc_ValueError, "theta must be positive, got %g", (double)theta);
        ok = 0;
    }
    const float *ff = NULL;
    if (ok && fo != Py_None) {
        Py_buffer *f = get(&b, fo, 'f', 1, 0, "freq_factors");
        if (!f) ok = 0;
        else if (f->shape[0] != n_rot / 2) {
            PyErr_Format(PyExc_ValueError, "freq_factors has %zd values, expected n_rot/2 = %lld",
                         f->shape[0], n_rot / 2);
            ok = 0;
        } else ff = f->buf;
    }
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        clv_rope(clv_py_pool(), x->buf, pos->buf, x->shape[0], x->shape[1], x->shape[2], n_rot, theta, neox, ff);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* embedding(data uint8, type, n_cols, ids int32[T], out f32[T, n_cols]) */
static PyObject *py_embedding(PyObject *self, PyObject *args) {
    PyObject *dob, *io, *oo;
    int type;
    long long n_cols;
    if (!PyArg_ParseTuple(args, "OiLOO", &dob, &type, &n_cols, &io, &oo)) return NULL;
    const clv_type_traits *tt = clv_type_get(type);
    size_t row = tt ? clv_row_size(type, n_cols) : 0;
    if (!tt) return PyErr_Format(PyExc_ValueError, "unsupported tensor type id %d", type);
    if (n_cols <= 0 || row == 0)
        return PyErr_Format(PyExc_ValueError, "n_cols=%lld is not a positive multiple of %s's block size %lld",
                            n_cols, tt->name, (long long)tt->blck_size);
    bufs b = {.n = 0};
    Py_buffer *d = get(&b, dob, 'B', -1, 0, "data"), *ids = d ? get(&b, io, 'i', 1, 0, "ids") : NULL;
    Py_buffer *out = ids ? get(&b, oo, 'f', 2, 1, "out") : NULL;
    int ok = d && ids && out;
    int64_t n_rows = ok ? (int64_t)((size_t)d->len / row) : 0;
    if (ok && (size_t)d->len % row) {
        PyErr_Format(PyExc_ValueError, "data has %zd bytes, not a whole number of %s rows of %zu bytes",
                     d->len, tt->name, row);
        ok = 0;
    }
    if (ok && (out->shape[0] != ids->shape[0] || out->shape[1] != n_cols)) {
        PyErr_Format(PyExc_ValueError, "out must have shape (%zd, %lld)", ids->shape[0], n_cols);
        ok = 0;
    }
    for (Py_ssize_t i = 0; ok && i < ids->shape[0]; i++) {
        int32_t id = ((const int32_t *)ids->buf)[i];
        if (id < 0 || id >= n_rows) {
            PyErr_Format(PyExc_IndexError, "ids[%zd] = %d is out of range for %lld rows", i, id, (long long)n_rows);
            ok = 0;
        }
    }
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        clv_embedding(clv_py_pool(), d->buf, type, n_cols, ids->buf, ids->shape[0], out->buf);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

static int overlaps(const Py_buffer *a, const Py_buffer *b) {
    const char *a0 = a->buf, *b0 = b->buf;
    return a0 < b0 + b->len && b0 < a0 + a->len;
}

/* Check the caches of attention: [Hkv, S, D], same dtype (f32 'f' or f16 'e'). */
static int check_cache(const Py_buffer *k, const Py_buffer *v, const Py_buffer *q) {
    char kf = clv_py_format(k), vf = clv_py_format(v);
    if ((kf != 'f' && kf != 'e') || kf != vf) {
        PyErr_Format(PyExc_TypeError, "k_cache and v_cache must both be float32 or both float16 (got '%c' and '%c')", kf, vf);
        return 0;
    }
    if (!same_shape(k, v, "k_cache", "v_cache")) return 0;
    if (k->shape[2] != q->shape[2]) {
        PyErr_Format(PyExc_ValueError, "cache head_dim %zd != q head_dim %zd", k->shape[2], q->shape[2]);
        return 0;
    }
    if (k->shape[0] < 1 || q->shape[1] % k->shape[0]) {
        PyErr_Format(PyExc_ValueError, "q's %zd heads are not a multiple of the cache's %zd KV heads",
                     q->shape[1], k->shape[0]);
        return 0;
    }
    return 1;
}

/* attention(q[T,Hq,D], k_cache[Hkv,S,D], v_cache, n_kv, pos0, causal, scale, out[T,Hq,D]) */
static PyObject *py_attention(PyObject *self, PyObject *args) {
    PyObject *qo, *ko, *vo, *oo;
    long long n_kv, pos0;
    int causal;
    float scale;
    if (!PyArg_ParseTuple(args, "OOOLLpfO", &qo, &ko, &vo, &n_kv, &pos0, &causal, &scale, &oo)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *q = get(&b, qo, 'f', 3, 0, "q");
    Py_buffer *k = q ? get(&b, ko, 0, 3, 0, "k_cache") : NULL, *v = k ? get(&b, vo, 0, 3, 0, "v_cache") : NULL;
    Py_buffer *out = v ? get(&b, oo, 'f', 3, 1, "out") : NULL;
    int ok = out && check_cache(k, v, q) && same_shape(q, out, "q", "out");
    if (ok && (n_kv < 0 || n_kv > k->shape[1])) {
        PyErr_Format(PyExc_ValueError, "n_kv=%lld is outside the cache's 0..%zd positions", n_kv, k->shape[1]);
        ok = 0;
    }
    if (ok && pos0 < 0) {
        PyErr_Format(PyExc_ValueError, "pos0 must be >= 0, got %lld", pos0);
        ok = 0;
    }
    if (ok && (overlaps(out, q) || overlaps(out, k) || overlaps(out, v))) {
        PyErr_SetString(PyExc_ValueError, "out must not share memory with q or the caches");
        ok = 0;
    }
    if (ok) {
        int f16 = clv_py_format(k) == 'e';
        Py_BEGIN_ALLOW_THREADS
        clv_attention(clv_py_pool(), q->buf, k->buf, v->buf, f16, q->shape[0], q->shape[1], k->shape[0],
                      k->shape[1], q->shape[2], n_kv, pos0, causal, scale, out->buf);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* conv1d_gelu(x[Cin,L], w[Cout,Cin,ks], b[Cout]|None, stride, padding, out[Cout,Lout]) */
static PyObject *py_conv1d_gelu(PyObject *self, PyObject *args) {
    PyObject *xo, *wo, *bo, *oo;
    long long stride, pad;
    if (!PyArg_ParseTuple(args, "OOOLLO", &xo, &wo, &bo, &stride, &pad, &oo)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', 2, 0, "x"), *w = x ? get(&b, wo, 'f', 3, 0, "w") : NULL;
    Py_buffer *out = w ? get(&b, oo, 'f', 2, 1, "out") : NULL;
    int ok = out != NULL;
    int64_t lout = ok ? clv_conv1d_out_len(x->shape[1], w->shape[2], stride, pad) : 0;
    if (ok && (stride < 1 || pad < 0 || lout < 1)) {
        PyErr_Format(PyExc_ValueError, "stride=%lld must be >= 1 and padding=%lld >= 0 with a non-empty output",
                     stride, pad);
        ok = 0;
    }
    if (ok && w->shape[1] != x->shape[0]) {
        PyErr_Format(PyExc_ValueError, "w has %zd input channels, x has %zd", w->shape[1], x->shape[0]);
        ok = 0;
    }
    if (ok && (out->shape[0] != w->shape[0] || out->shape[1] != lout)) {
        PyErr_Format(PyExc_ValueError, "out must have shape (%zd, %lld)", w->shape[0], (long long)lout);
        ok = 0;
    }
    const float *bias = ok ? get_vec(&b, bo, w->shape[0], "b", &ok) : NULL;
    float *col = NULL;
    if (ok) {
        col = PyMem_RawMalloc((size_t)(x->shape[0] * w->shape[2] * lout) * sizeof(float));
        if (!col) { PyErr_NoMemory(); ok = 0; }
    }
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        clv_conv1d_gelu(clv_py_pool(), x->buf, x->shape[0], x->shape[1], w->buf, w->shape[0], w->shape[2],
                        bias, stride, pad, col, out->buf);
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(col);
    release(&b);
    return ok ? Py_NewRef(Py_None) : NULL;
}

/* argmax_f32(row) -> int; top_k_f32(row, k) -> list of ints, best first */
static PyObject *py_argmax_f32(PyObject *self, PyObject *args) {
    PyObject *xo;
    if (!PyArg_ParseTuple(args, "O", &xo)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', -1, 0, "logits");
    if (!x) return NULL;
    int64_t n = (int64_t)(x->len / (Py_ssize_t)sizeof(float)), r = -1;
    if (n > 0) {
        Py_BEGIN_ALLOW_THREADS
        r = clv_argmax_f32(x->buf, n);
        Py_END_ALLOW_THREADS
    }
    release(&b);
    if (n <= 0) return PyErr_Format(PyExc_ValueError, "argmax of an empty row");
    return PyLong_FromLongLong(r);
}

static PyObject *py_top_k_f32(PyObject *self, PyObject *args) {
    PyObject *xo;
    long long k;
    if (!PyArg_ParseTuple(args, "OL", &xo, &k)) return NULL;
    bufs b = {.n = 0};
    Py_buffer *x = get(&b, xo, 'f', -1, 0, "logits");
    if (!x) return NULL;
    int64_t n = (int64_t)(x->len / (Py_ssize_t)sizeof(float));
    if (k < 1 || n < 1) {
        release(&b);
        return PyErr_Format(PyExc_ValueError, "top_k needs k >= 1 and a non-empty row (k=%lld, n=%lld)",
                            k, (long long)n);
    }
    if (k > n) k = n;
    int64_t *ids = PyMem_RawMalloc(sizeof(int64_t) * (size_t)k), got = 0;
    if (!ids) {
        release(&b);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    got = clv_top_k_f32(x->buf, n, k, ids);
    Py_END_ALLOW_THREADS
    release(&b);
    PyObject *list = PyList_New((Py_ssize_t)got);
    for (int64_t i = 0; list && i < got; i++) {
        PyObject *v = PyLong_FromLongLong(ids[i]);
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    PyMem_RawFree(ids);
    return list;
}

/* buffer_address(obj, writable=False) -> (address, nbytes) of a C-contiguous buffer; the caller
 * keeps obj alive while the address is used */
static PyObject *py_buffer_address(PyObject *self, PyObject *args) {
    PyObject *o;
    int writable = 0;
    if (!PyArg_ParseTuple(args, "O|p", &o, &writable)) return NULL;
    Py_buffer v;
    if (clv_py_buffer(o, &v, 0, -1, writable, "buffer") < 0) return NULL;
    PyObject *r = Py_BuildValue("(Kn)", (unsigned long long)(uintptr_t)v.buf, v.len);
    PyBuffer_Release(&v);
    return r;
}

/* huge_pages(buf, populate=False) -> (bytes, errno): back the 2 MiB-aligned pages inside buf with transparent
 * huge pages now (MADV_COLLAPSE: the kernel copies the 4 KiB pages into huge ones; contents and
 * concurrent readers are unaffected), so that a weight streamed once per token costs one TLB
 * entry per 2 MiB and the hardware prefetchers are not stopped at every 4 KiB page boundary.
 * The GIL is released: a background thread calls this while the model runs. Returns the bytes
 * collapsed and 0, or 0 and the errno (EINVAL: a kernel before 6.1; ENOSYS: not Linux).
 * populate: first fault in (write) the pages not yet there, as huge pages where the kernel can:
 * for a buffer that is filled later (the KV cache), so that all of it is committed now. */
static PyObject *py_huge_pages(PyObject *self, PyObject *args) {
    PyObject *o;
    int populate = 0;
    if (!PyArg_ParseTuple(args, "O|p", &o, &populate)) return NULL;
    Py_buffer v;
    if (clv_py_buffer(o, &v, 0, -1, 0, "buffer") < 0) return NULL;
    long long done = 0;
    int err = 0;
#if defined(__linux__)
    const uintptr_t H = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)v.buf + H - 1) & ~(H - 1), e = ((uintptr_t)v.buf + (uintptr_t)v.len) & ~(H - 1);
    if (e > a) {
        Py_BEGIN_ALLOW_THREADS
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);   /* khugepaged may finish what fails */
        if (populate) (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
        if (madvise((void *)a, e - a, MADV_COLLAPSE) == 0) done = (long long)(e - a);
        else err = errno;
        Py_END_ALLOW_THREADS
    }
#else
    err = ENOSYS;
#endif
    PyBuffer_Release(&v);
    return Py_BuildValue("(Li)", done, err);
}

PyMethodDef clv_py_methods_ops[] = {
    {"rms_norm", py_rms_norm, METH_VARARGS, "rms_norm(x, w|None, out, eps)"},
    {"layer_norm", py_layer_norm, METH_VARARGS, "layer_norm(x, w|None, b|None, out, eps)"},
    {"softmax", py_softmax, METH_VARARGS, "softmax(x, out): over the last axis of [M, K]"},
    {"silu_mul", py_silu_mul, METH_VARARGS, "silu_mul(gate, up, out)"},
    {"gelu", py_gelu, METH_VARARGS, "gelu(x, out): erf GELU"},
    {"add", py_add, METH_VARARGS, "add(a, b, out): b same shape or one row"},
    {"scale", py_scale, METH_VARARGS, "scale(x, s, out)"},
    {"rope", py_rope, METH_VARARGS, "rope(x, positions, theta, neox, n_rot, freq_factors|None), in place"},
    {"embedding", py_embedding, METH_VARARGS, "embedding(data, type, n_cols, ids, out)"},
    {"attention", py_attention, METH_VARARGS, "attention(q, k_cache, v_cache, n_kv, pos0, causal, scale, out)"},
    {"conv1d_gelu", py_conv1d_gelu, METH_VARARGS, "conv1d_gelu(x, w, b|None, stride, padding, out)"},
    {"argmax_f32", py_argmax_f32, METH_VARARGS, "argmax_f32(row) -> index of the largest (ties: lowest)"},
    {"top_k_f32", py_top_k_f32, METH_VARARGS, "top_k_f32(row, k) -> the k largest indices, best first"},
    {"buffer_address", py_buffer_address, METH_VARARGS, "buffer_address(obj, writable=False) -> (address, nbytes)"},
    {"huge_pages", py_huge_pages, METH_VARARGS, "huge_pages(buf, populate=False) -> (bytes backed by 2 MiB pages now, errno)"},
    {NULL, NULL, 0, NULL},
};
