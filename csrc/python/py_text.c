/* Bindings for the tokenizer build (src/clavis/formats/gguf.py, src/clavis/text/tokenizer.py):
 * one pass over a GGUF string array instead of one Python object per string.
 *
 *   gguf_string_offsets(buf, off, count) -> (bytes of count+1 int64 offsets, None)
 *                                         | (None, (index, offset, needed, is_length))
 *       offsets[i] = where element i's 8-byte length starts, offsets[count] = the end.
 *   text_vocab(buf, offsets) -> dict str -> id   (a repeated string keeps its first id)
 *   text_merges(buf, offsets, vocab) -> list of (left, right) | int (index of a bad merge)
 *   text_trim() -> None   (hand freed heap pages back to the OS, glibc only)
 * Strings decode as str(raw, "utf-8", "replace") does. */
#include "pyclavis.h"
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static uint64_t load_u64le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static PyObject *py_gguf_string_offsets(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o;
    long long off_in, count_in;
    if (!PyArg_ParseTuple(args, "OLL", &buf_o, &off_in, &count_in)) return NULL;
    Py_buffer b;
    if (clv_py_buffer(buf_o, &b, 'B', -1, 0, "buf") < 0) return NULL;
    if (off_in < 0 || count_in < 0 || off_in > b.len || count_in > (b.len - off_in) / 8) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "offset/count outside the buffer");
        return NULL;
    }
    const unsigned char *p = b.buf;
    uint64_t size = (uint64_t)b.len, off = (uint64_t)off_in, n = (uint64_t)count_in;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((n + 1) * 8));
    if (!out) {
        PyBuffer_Release(&b);
        return NULL;
    }
    int64_t *o = (int64_t *)PyBytes_AS_STRING(out);
    PyObject *ret = NULL;
    for (uint64_t i = 0; i < n; i++) {
        if (size - off < 8) {
            ret = Py_BuildValue("(O(KKKO))", Py_None, (unsigned long long)i,
                                (unsigned long long)off, 8ULL, Py_True);
            break;
        }
        o[i] = (int64_t)off;
        uint64_t len = load_u64le(p + off);
        off += 8;
        if (len > size - off) {
            ret = Py_BuildValue("(O(KKKO))", Py_None, (unsigned long long)i,
                                (unsigned long long)off, (unsigned long long)len, Py_False);
            break;
        }
        off += len;
    }
    if (!ret && !PyErr_Occurred()) {
        o[n] = (int64_t)off;
        ret = Py_BuildValue("(OO)", out, Py_None);
    }
    Py_DECREF(out);
    PyBuffer_Release(&b);
    return ret;
}

/* The raw buffer and the offsets (int64, count+1) of a GGUF string array. */
typedef struct {
    Py_buffer b, o;
    const unsigned char *p;
    const int64_t *off;
    Py_ssize_t n;
} str_array;

static int str_array_get(PyObject *buf_o, PyObject *off_o, str_array *a) {
    if (clv_py_buffer(buf_o, &a->b, 'B', -1, 0, "buf") < 0) return -1;
    if (clv_py_buffer(off_o, &a->o, 0, 1, 0, "offsets") < 0) {
        PyBuffer_Release(&a->b);
        return -1;
    }
    a->p = a->b.buf;
    a->off = a->o.buf;
    a->n = a->o.len / 8 - 1;
    int ok = a->o.itemsize == 8 && a->n >= 0;
    for (Py_ssize_t i = 0; ok && i < a->n; i++)
        ok = a->off[i] >= 0 && a->off[i] + 8 <= a->off[i + 1] && a->off[i + 1] <= a->b.len;
    if (!ok) {
        PyBuffer_Release(&a->b);
        PyBuffer_Release(&a->o);
        PyErr_SetString(PyExc_ValueError, "offsets do not describe strings inside buf");
        return -1;
    }
    return 0;
}

static void str_array_release(str_array *a) {
    PyBuffer_Release(&a->b);
    PyBuffer_Release(&a->o);
}

static PyObject *decode(const unsigned char *s, Py_ssize_t n) {
    return PyUnicode_DecodeUTF8((const char *)s, n, "replace");
}

static PyObject *py_text_vocab(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o, *off_o;
    if (!PyArg_ParseTuple(args, "OO", &buf_o, &off_o)) return NULL;
    str_array a;
    if (str_array_get(buf_o, off_o, &a) < 0) return NULL;
#if PY_VERSION_HEX < 0x030D0000
    PyObject *vocab = _PyDict_NewPresized(a.n);  /* no rehashing while it grows */
#else
    PyObject *vocab = PyDict_New();
#endif
    for (Py_ssize_t i = 0; vocab && i < a.n; i++) {
        const unsigned char *s = a.p + a.off[i] + 8;
        PyObject *key = decode(s, (Py_ssize_t)(a.off[i + 1] - a.off[i] - 8));
        PyObject *id = key ? PyLong_FromSsize_t(i) : NULL;
        PyObject *got = id ? PyDict_SetDefault(vocab, key, id) : NULL;  /* borrowed */
        Py_XDECREF(key);
        Py_XDECREF(id);
        if (!got) Py_CLEAR(vocab);
    }
    str_array_release(&a);
    return vocab;
}

/* One merge "left right": exactly one space, both halves in the vocabulary. 1 ok, 0 bad, -1 error. */
static int merge_pair(const unsigned char *s, Py_ssize_t n, PyObject *vocab, PyObject **pair) {
    const unsigned char *sp = memchr(s, ' ', (size_t)n);
    if (!sp || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) return 0;
    PyObject *l = decode(s, sp - s), *r = l ? decode(sp + 1, s + n - sp - 1) : NULL;
    int ok = r ? PyDict_Contains(vocab, l) : -1;
    if (ok == 1) ok = PyDict_Contains(vocab, r);
    if (ok == 1) *pair = PyTuple_Pack(2, l, r);
    if (ok == 1 && !*pair) ok = -1;
    Py_XDECREF(l);
    Py_XDECREF(r);
    return ok;
}

static PyObject *py_text_merges(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o, *off_o, *vocab;
    if (!PyArg_ParseTuple(args, "OOO!", &buf_o, &off_o, &PyDict_Type, &vocab)) return NULL;
    str_array a;
    if (str_array_get(buf_o, off_o, &a) < 0) return NULL;
    PyObject *out = PyList_New(a.n);
    for (Py_ssize_t i = 0; out && i < a.n; i++) {
        PyObject *pair = NULL;
        int ok = merge_pair(a.p + a.off[i] + 8, (Py_ssize_t)(a.off[i + 1] - a.off[i] - 8), vocab, &pair);
        if (ok == 1) {
            PyList_SET_ITEM(out, i, pair);
            continue;
        }
        Py_CLEAR(out);
        if (ok == 0) out = PyLong_FromSsize_t(i);
        break;
    }
    str_array_release(&a);
    return out;
}

static PyObject *py_text_trim(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    Py_RETURN_NONE;
}

PyMethodDef clv_py_methods_text[] = {
    {"gguf_string_offsets", py_gguf_string_offsets, METH_VARARGS,
     "gguf_string_offsets(buf, off, count) -> (offsets bytes, None) | (None, (i, off, need, is_len))"},
    {"text_vocab", py_text_vocab, METH_VARARGS, "text_vocab(buf, offsets) -> {str: first id}"},
    {"text_merges", py_text_merges, METH_VARARGS,
     "text_merges(buf, offsets, vocab) -> [(left, right)] | index of the first bad merge"},
    {"text_trim", py_text_trim, METH_NOARGS, "malloc_trim(0) where glibc provides it"},
    {NULL, NULL, 0, NULL},
};
