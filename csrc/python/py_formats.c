/* Bindings for csrc/formats: quantize / dequantize whole buffers, split across the pool. */
#include "pyclavis.h"

typedef struct {
    const clv_type_traits *t;
    const void *src;
    void *dst;
    int64_t n_blocks, per_chunk;
    int to_float;
} conv_job;

static void conv_chunk(void *ctx, int64_t c, int tid) {
    conv_job *j = ctx;
    int64_t b0 = c * j->per_chunk, b1 = b0 + j->per_chunk;
    if (b1 > j->n_blocks) b1 = j->n_blocks;
    int64_t bs = j->t->blck_size;
    size_t ts = j->t->type_size;
    if (j->to_float)
        j->t->to_float((const uint8_t *)j->src + b0 * ts, (float *)j->dst + b0 * bs, (b1 - b0) * bs);
    else
        j->t->from_float((const float *)j->src + b0 * bs, (uint8_t *)j->dst + b0 * ts, (b1 - b0) * bs);
}

static const clv_type_traits *get_type(int type) {
    const clv_type_traits *t = clv_type_get(type);
    if (!t) PyErr_Format(PyExc_ValueError, "unsupported tensor type id %d", type);
    return t;
}

/* convert(src, dst, type, to_float): element count from the float side. */
static PyObject *convert(PyObject *args, int to_float) {
    PyObject *src_o, *dst_o;
    int type;
    if (!PyArg_ParseTuple(args, "OOi", &src_o, &dst_o, &type)) return NULL;
    const clv_type_traits *t = get_type(type);
    if (!t) return NULL;
    Py_buffer src, dst;
    if (clv_py_buffer(src_o, &src, to_float ? 'B' : 'f', -1, 0, to_float ? "data" : "x") < 0) return NULL;
    if (clv_py_buffer(dst_o, &dst, to_float ? 'f' : 'B', -1, 1, "out") < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    Py_buffer *fv = to_float ? &dst : &src, *qv = to_float ? &src : &dst;
    int64_t n = fv->len / 4;
    PyObject *ret = NULL;
    if (n % t->blck_size) {
        PyErr_Format(PyExc_ValueError, "%s: %lld values is not a multiple of the block size %lld",
                     t->name, (long long)n, (long long)t->blck_size);
    } else if ((size_t)qv->len != clv_row_size(type, n)) {
        PyErr_Format(PyExc_ValueError, "%s: %lld values need %zu bytes, got %zd", t->name,
                     (long long)n, clv_row_size(type, n), qv->len);
    } else {
        conv_job j = {t, src.buf, dst.buf, n / t->blck_size, 0, to_float};
        j.per_chunk = (16384 + t->blck_size - 1) / t->blck_size;
        int64_t chunks = (j.n_blocks + j.per_chunk - 1) / j.per_chunk;
        Py_BEGIN_ALLOW_THREADS
        clv_parallel_for(clv_py_pool(), chunks, conv_chunk, &j);
        Py_END_ALLOW_THREADS
        ret = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return ret;
}

static PyObject *py_quantize(PyObject *self, PyObject *args) { return convert(args, 0); }
static PyObject *py_dequantize(PyObject *self, PyObject *args) { return convert(args, 1); }

static PyObject *py_type_info(PyObject *self, PyObject *arg) {
    long type = PyLong_AsLong(arg);
    if (type == -1 && PyErr_Occurred()) return NULL;
    const clv_type_traits *t = get_type((int)type);
    if (!t) return NULL;
    return Py_BuildValue("(sLn)", t->name, (long long)t->blck_size, (Py_ssize_t)t->type_size);
}

PyMethodDef clv_py_methods_formats[] = {
    {"quantize", py_quantize, METH_VARARGS, "quantize(x f32, out uint8, type): GGUF bytes of x."},
    {"dequantize", py_dequantize, METH_VARARGS, "dequantize(data uint8, out f32, type)."},
    {"type_info", py_type_info, METH_O, "type_info(type id) -> (name, block size, bytes per block)."},
    {NULL, NULL, 0, NULL},
};
