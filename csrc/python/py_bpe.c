/* Bindings for the byte-level BPE tokenizer (csrc/text/bpe.h; used by src/clavis/text/byte_bpe.py).
 *
 *   bpe_new(token_buf, token_offsets, merge_buf, merge_offsets, ignore_merges, check_utf8)
 *       -> capsule | (status, index)   (offsets as gguf_string_offsets makes them: int64, n+1;
 *          status: "token_utf8" | "merge_utf8" | "bad_merge" | "merge_result" | "too_big")
 *   bpe_encode(capsule, items) -> list of int: each item a str (a pre-token: its BPE ids) or an
 *       int (an id, passed through)
 *   bpe_token_id(capsule, str) -> int | None
 *   bpe_decode(capsule, ids) -> bytes   (ids already checked to be inside the vocabulary)
 *   bpe_nbytes(capsule) -> int          (bytes held by the C tables) */
#include "pyclavis.h"
#include "text/bpe.h"

#include <string.h>

#define CAPSULE "clavis.bpe"

static void capsule_free(PyObject *cap) {
    clv_bpe_free(PyCapsule_GetPointer(cap, CAPSULE));
}

static clv_bpe *get(PyObject *cap) {
    return PyCapsule_GetPointer(cap, CAPSULE);  /* sets a ValueError/TypeError when not one */
}

/* The raw buffer and int64 offsets of a GGUF string array, checked to stay inside it. */
static int strings(PyObject *buf_o, PyObject *off_o, Py_buffer *b, Py_buffer *o, int64_t *n) {
    if (clv_py_buffer(buf_o, b, 'B', -1, 0, "buf") < 0) return -1;
    if (clv_py_buffer(off_o, o, 0, 1, 0, "offsets") < 0) {
        PyBuffer_Release(b);
        return -1;
    }
    const int64_t *off = o->buf;
    *n = o->len / 8 - 1;
    int ok = o->itemsize == 8 && *n >= 0;
    for (int64_t i = 0; ok && i < *n; i++)
        ok = off[i] >= 0 && off[i + 1] >= 0 && off[i] <= b->len && off[i + 1] <= b->len &&
             off[i + 1] - off[i] >= 8;   /* no overflow: both are within [0, len] */
    if (!ok) {
        PyBuffer_Release(b);
        PyBuffer_Release(o);
        PyErr_SetString(PyExc_ValueError, "offsets do not describe strings inside buf");
        return -1;
    }
    return 0;
}

static PyObject *py_bpe_new(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *tb, *to, *mb, *mo;
    int ignore, check;
    if (!PyArg_ParseTuple(args, "OOOOpp", &tb, &to, &mb, &mo, &ignore, &check)) return NULL;
    Py_buffer t, toff, m, moff;
    int64_t nt, nm, where = -1;
    if (strings(tb, to, &t, &toff, &nt) < 0) return NULL;
    if (strings(mb, mo, &m, &moff, &nm) < 0) {
        PyBuffer_Release(&t);
        PyBuffer_Release(&toff);
        return NULL;
    }
    clv_bpe *bpe = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = clv_bpe_new(t.buf, toff.buf, nt, m.buf, moff.buf, nm, ignore, check, clv_py_pool(), &bpe,
                     &where);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&t);
    PyBuffer_Release(&toff);
    PyBuffer_Release(&m);
    PyBuffer_Release(&moff);
    static const char *names[] = {"ok", "nomem", "token_utf8", "merge_utf8", "bad_merge",
                                  "merge_result", "too_big"};
    if (rc == CLV_BPE_NOMEM) return PyErr_NoMemory();
    if (rc) return Py_BuildValue("(sL)", names[rc], (long long)where);
    PyObject *cap = PyCapsule_New(bpe, CAPSULE, capsule_free);
    if (!cap) clv_bpe_free(bpe);
    return cap;
}

static PyObject *py_bpe_encode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *items;
    if (!PyArg_ParseTuple(args, "OO!", &cap, &PyList_Type, &items)) return NULL;
    clv_bpe *b = get(cap);
    if (!b) return NULL;
    Py_ssize_t n_items = PyList_GET_SIZE(items), n = 0, room = 0;
    int32_t *ids = NULL;
    PyObject *out = NULL;
    for (Py_ssize_t k = 0; k < n_items; k++) {
        PyObject *it = PyList_GET_ITEM(items, k);
        Py_ssize_t len = 1;
        const char *s = NULL;
        if (PyUnicode_Check(it)) {
            s = PyUnicode_AsUTF8AndSize(it, &len);
            if (!s) goto done;  /* a lone surrogate: the UnicodeEncodeError */
        } else if (!PyLong_Check(it)) {
            PyErr_Format(PyExc_TypeError, "bpe_encode items must be str or int, got %s",
                         Py_TYPE(it)->tp_name);
            goto done;
        }
        if (n + len > room) {
            Py_ssize_t want = 2 * (n + len) + 64;
            int32_t *grown = PyMem_Realloc(ids, (size_t)want * sizeof(int32_t));
            if (!grown) {
                PyErr_NoMemory();
                goto done;
            }
            ids = grown;
            room = want;
        }
        if (!s) {
            long v = PyLong_AsLong(it);
            if (v == -1 && PyErr_Occurred()) goto done;
            ids[n++] = (int32_t)v;
            continue;
        }
        if ((size_t)len > (size_t)INT32_MAX) {   /* the merge loop's indices are int32 */
            PyErr_SetString(PyExc_ValueError, "bpe_encode: a pre-token of 2 GiB or more");
            goto done;
        }
        int64_t got = clv_bpe_word(b, (const unsigned char *)s, (size_t)len, ids + n);
        if (got < 0) {
            PyErr_NoMemory();
            goto done;
        }
        n += (Py_ssize_t)got;
    }
    out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *v = PyLong_FromLong(ids[i]);
        if (!v) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, v);
    }
done:
    PyMem_Free(ids);
    return out;
}

static PyObject *py_bpe_token_id(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap;
    const char *s;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "Os#", &cap, &s, &n)) return NULL;
    clv_bpe *b = get(cap);
    if (!b) return NULL;
    int32_t id = clv_bpe_token_id(b, (const unsigned char *)s, (size_t)n);
    if (id < 0) Py_RETURN_NONE;
    return PyLong_FromLong(id);
}

static PyObject *py_bpe_decode(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *seq;
    if (!PyArg_ParseTuple(args, "OO", &cap, &seq)) return NULL;
    clv_bpe *b = get(cap);
    if (!b) return NULL;
    PyObject *fast = PySequence_Fast(seq, "ids must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int32_t *ids = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    PyObject *out = NULL;
    if (!ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) goto done;
        if (v < 0 || v >= clv_bpe_n_tokens(b)) {
            PyErr_Format(PyExc_ValueError, "token id %ld is outside the vocabulary", v);
            goto done;
        }
        ids[i] = (int32_t)v;
    }
    size_t len = clv_bpe_decode(b, ids, (size_t)n, NULL);
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (out) clv_bpe_decode(b, ids, (size_t)n, (unsigned char *)PyBytes_AS_STRING(out));
done:
    PyMem_Free(ids);
    Py_DECREF(fast);
    return out;
}

static PyObject *py_bpe_nbytes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap;
    if (!PyArg_ParseTuple(args, "O", &cap)) return NULL;
    clv_bpe *b = get(cap);
    return b ? PyLong_FromSize_t(clv_bpe_nbytes(b)) : NULL;
}

PyMethodDef clv_py_methods_bpe[] = {
    {"bpe_new", py_bpe_new, METH_VARARGS,
     "bpe_new(tbuf, toff, mbuf, moff, ignore_merges, check_utf8) -> capsule | (status, index)"},
    {"bpe_encode", py_bpe_encode, METH_VARARGS, "bpe_encode(bpe, [str | int]) -> [int]"},
    {"bpe_token_id", py_bpe_token_id, METH_VARARGS, "bpe_token_id(bpe, str) -> int | None"},
    {"bpe_decode", py_bpe_decode, METH_VARARGS, "bpe_decode(bpe, ids) -> bytes"},
    {"bpe_nbytes", py_bpe_nbytes, METH_VARARGS, "bpe_nbytes(bpe) -> bytes held by the tables"},
    {NULL, NULL, 0, NULL},
};
