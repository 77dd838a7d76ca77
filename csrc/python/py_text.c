/* Bindings for the tokenizer build (src/clavis/formats/gguf.py, src/clavis/text/tokenizer.py):
 * one pass over a GGUF string array instead of one Python object per string.
 *
 *   gguf_string_offsets(buf, off, count) -> (bytes of count+1 int64 offsets, None)
 *                                         | (None, (index, offset, needed, is_length))
 *       offsets[i] = where element i's 8-byte length starts, offsets[count] = the end.
 *   gguf_strings(buf, offsets) -> list of str
 *   text_vocab(buf, offsets) -> dict str -> id   (a repeated string keeps its first id)
 *   text_merges(buf, offsets, vocab) -> list of (left, right) | int (index of a bad merge)
 *   text_bpe_json(buf, token_offsets, merge_offsets, head, mid, tail) -> tokenizer.json bytes
 *       with the vocab object and merges array written here | index of a bad merge | None when
 *       a string is not valid UTF-8 (the caller then takes the slower, decoding path)
 *   text_spm_merges(buf, offsets, tokens, scores, eligible) -> list of (left, right) | None
 *       every split of an eligible piece into two vocabulary pieces, ranked as llama.cpp's SPM
 *       tokenizer merges (see spm_merges below); None when a string is not valid UTF-8
 *   text_trim() -> None   (hand freed heap pages back to the OS, glibc only)
 * Strings decode as str(raw, "utf-8", "replace") does. */
#include "pyclavis.h"
#include "text/hash.h"
#include "text/utf8.h"
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

static PyObject *py_gguf_strings(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o, *off_o;
    if (!PyArg_ParseTuple(args, "OO", &buf_o, &off_o)) return NULL;
    str_array a;
    if (str_array_get(buf_o, off_o, &a) < 0) return NULL;
    PyObject *out = PyList_New(a.n);
    for (Py_ssize_t i = 0; out && i < a.n; i++) {
        PyObject *s = decode(a.p + a.off[i] + 8, (Py_ssize_t)(a.off[i + 1] - a.off[i] - 8));
        if (!s) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, s);
    }
    str_array_release(&a);
    return out;
}

/* One merge "left right": exactly one space, both halves in the vocabulary.
 * 1 ok (*pair set), 0 bad, -1 error. */
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
        Py_ssize_t n = (Py_ssize_t)(a.off[i + 1] - a.off[i] - 8);
        int ok = merge_pair(a.p + a.off[i] + 8, n, vocab, &pair);
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

/* ---- tokenizer.json text for a byte-level BPE vocabulary, straight from the GGUF bytes ---- */


/* Bytes of s as the inside of a JSON string, or -1 when s is not valid UTF-8. */
static Py_ssize_t json_len(const unsigned char *s, size_t n) {
    Py_ssize_t out = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            out += s[i] == '"' || s[i] == '\\' ? 2 : s[i] < 0x20 ? 6 : 1;
            i++;
            continue;
        }
        uint32_t cp;
        int len = utf8_len(s + i, n - i, &cp);
        if (!len) return -1;
        out += len;
        i += len;
    }
    return out;
}

static char *json_put(char *o, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/* Open-addressing set of the vocabulary pieces (by bytes) -> first id. The slot is hashed as
 * the BPE tables' (text/hash.h), from a basis that differs run to run (the table's heap
 * address): a file cannot aim its strings at a few slots. */
typedef struct {
    int32_t *slot;
    size_t mask;
    const str_array *a;
} piece_set;

static uint64_t piece_hash(const piece_set *ps, const unsigned char *s, size_t n) {
    return mix64(fnv_step(FNV_INIT ^ (uint64_t)(uintptr_t)ps->slot, s, n));
}

#define PIECE(a, i) ((a)->p + (a)->off[i] + 8)
#define PIECE_LEN(a, i) ((size_t)((a)->off[(i) + 1] - (a)->off[i] - 8))

/* The id of piece s, or -1; with `add`, inserts id `add_id` when absent. */
static int32_t piece_find(piece_set *ps, const unsigned char *s, size_t n, int32_t add_id) {
    for (size_t h = piece_hash(ps, s, n) & ps->mask;; h = (h + 1) & ps->mask) {
        int32_t id = ps->slot[h];
        if (id < 0) {
            if (add_id >= 0) ps->slot[h] = add_id;
            return -1;
        }
        if (PIECE_LEN(ps->a, id) == n && memcmp(PIECE(ps->a, id), s, n) == 0) return id;
    }
}

/* Sizes the vocab object; marks first occurrences. -1: invalid UTF-8 somewhere. */
static Py_ssize_t vocab_json_len(piece_set *ps, char *first) {
    const str_array *a = ps->a;
    Py_ssize_t total = 2;  /* {} */
    for (Py_ssize_t i = 0; i < a->n; i++) {
        Py_ssize_t j = json_len(PIECE(a, i), PIECE_LEN(a, i));
        if (j < 0) return -1;
        first[i] = piece_find(ps, PIECE(a, i), PIECE_LEN(a, i), (int32_t)i) < 0;
        if (first[i]) total += j + 4 + 20;  /* "key":id, (an id has at most 20 digits) */
    }
    return total;
}

static char *put_uint(char *o, size_t v) {
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k) *o++ = tmp[--k];
    return o;
}

static char *vocab_json_put(char *o, const str_array *a, const char *first) {
    *o++ = '{';
    int any = 0;
    for (Py_ssize_t i = 0; i < a->n; i++) {
        if (!first[i]) continue;
        if (any) *o++ = ',';
        any = 1;
        *o++ = '"';
        o = json_put(o, PIECE(a, i), PIECE_LEN(a, i));
        *o++ = '"';
        *o++ = ':';
        o = put_uint(o, (size_t)i);
    }
    *o++ = '}';
    return o;
}

/* Checks every merge ("left right", one space, both in the set); sizes the merges array.
 * Returns the size, -1 invalid UTF-8, or -2 with *bad = the index of a bad merge. */
static Py_ssize_t merges_json_len(piece_set *ps, const str_array *m, Py_ssize_t *bad) {
    Py_ssize_t total = 2;  /* [] */
    for (Py_ssize_t i = 0; i < m->n; i++) {
        const unsigned char *s = PIECE(m, i);
        size_t n = PIECE_LEN(m, i);
        const unsigned char *sp = memchr(s, ' ', n);
        Py_ssize_t j = json_len(s, n);
        if (j < 0) return -1;
        if (!sp || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)) ||
            piece_find(ps, s, (size_t)(sp - s), -1) < 0 ||
            piece_find(ps, sp + 1, (size_t)(s + n - sp - 1), -1) < 0) {
            *bad = i;
            return -2;
        }
        total += j + 3;
    }
    return total;
}

static char *merges_json_put(char *o, const str_array *m) {
    *o++ = '[';
    for (Py_ssize_t i = 0; i < m->n; i++) {
        if (i) *o++ = ',';
        *o++ = '"';
        o = json_put(o, PIECE(m, i), PIECE_LEN(m, i));
        *o++ = '"';
    }
    *o++ = ']';
    return o;
}

/* text_bpe_json(buf, token_offsets, merge_offsets, head, mid, tail)
 *   -> head + {vocab} + mid + [merges] + tail (bytes) | int (first bad merge) | None (not UTF-8) */
static PyObject *py_text_bpe_json(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o, *toff_o, *moff_o;
    const char *head, *mid, *tail;
    Py_ssize_t nh, nm, nt;
    if (!PyArg_ParseTuple(args, "OOOy#y#y#", &buf_o, &toff_o, &moff_o, &head, &nh, &mid, &nm,
                          &tail, &nt))
        return NULL;
    str_array a, m;
    if (str_array_get(buf_o, toff_o, &a) < 0) return NULL;
    if (str_array_get(buf_o, moff_o, &m) < 0) {
        str_array_release(&a);
        return NULL;
    }
    if (a.n > INT32_MAX / 2) {  /* ids are int32 here; the decoding route takes the rest */
        str_array_release(&a);
        str_array_release(&m);
        Py_RETURN_NONE;
    }
    size_t cap = 16;
    while (cap < (size_t)a.n * 2) cap *= 2;
    piece_set ps = {PyMem_RawMalloc(cap * sizeof(int32_t)), cap - 1, &a};
    char *first = PyMem_RawMalloc((size_t)a.n + 1);
    PyObject *ret = NULL;
    if (!ps.slot || !first) {
        PyErr_NoMemory();
        goto done;
    }
    memset(ps.slot, 0xFF, cap * sizeof(int32_t));
    Py_ssize_t bad = -1, nv = vocab_json_len(&ps, first);
    Py_ssize_t nmg = nv < 0 ? -1 : merges_json_len(&ps, &m, &bad);
    if (nv < 0 || nmg == -1) {
        ret = Py_NewRef(Py_None);
    } else if (nmg == -2) {
        ret = PyLong_FromSsize_t(bad);
    } else if ((ret = PyBytes_FromStringAndSize(NULL, nh + nv + nm + nmg + nt))) {
        char *o = PyBytes_AS_STRING(ret);
        memcpy(o, head, (size_t)nh);
        o = vocab_json_put(o + nh, &a, first);
        memcpy(o, mid, (size_t)nm);
        o = merges_json_put(o + nm, &m);
        memcpy(o, tail, (size_t)nt);
        o += nt;
        _PyBytes_Resize(&ret, o - PyBytes_AS_STRING(ret));  /* the ids took fewer than 20 digits */
    }
done:
    PyMem_RawFree(ps.slot);
    PyMem_RawFree(first);
    str_array_release(&a);
    str_array_release(&m);
    return ret;
}

/* ---- SentencePiece merges: every split of a piece into two pieces, ranked by score -------- */

/* One split (left, right) of piece i; ranked by i's score (highest first, NaN last), then by
 * i, left, right: the order _hf_json.spm_merges gives (no two splits agree on all four). */
typedef struct {
    double score;
    int32_t i, l, r, nan;
} spm_split;

static int spm_cmp(const void *pa, const void *pb) {
    const spm_split *a = pa, *b = pb;
    if (a->nan != b->nan) return a->nan - b->nan;
    if (!a->nan && a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->i != b->i) return a->i < b->i ? -1 : 1;
    if (a->l != b->l) return a->l < b->l ? -1 : 1;
    return (a->r > b->r) - (a->r < b->r);
}

/* Appends piece i's splits to *v (grown as needed); -1 out of memory. A split falls between
 * two characters (a byte that does not continue a UTF-8 sequence). */
static int spm_piece_splits(piece_set *ps, Py_ssize_t i, double score, spm_split **v,
                            size_t *n, size_t *cap) {
    const unsigned char *s = PIECE(ps->a, i);
    size_t len = PIECE_LEN(ps->a, i);
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) == 0x80) continue;
        int32_t l = piece_find(ps, s, k, -1);
        int32_t r = l < 0 ? -1 : piece_find(ps, s + k, len - k, -1);
        if (r < 0) continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 1024;
            spm_split *nv = PyMem_RawRealloc(*v, c * sizeof(spm_split));
            if (!nv) return -1;
            *v = nv;
            *cap = c;
        }
        (*v)[(*n)++] = (spm_split){score, (int32_t)i, l, r, score != score};
    }
    return 0;
}

/* text_spm_merges(buf, offsets, tokens, scores, eligible): tokens = the strings decoded (the
 * tuples hold these objects), scores = float64 per token, eligible = uint8 per token (the
 * piece types that are merged). A repeated piece merges (and is found) as its first id. */
static PyObject *py_text_spm_merges(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o, *off_o, *tokens, *sc_o, *el_o;
    if (!PyArg_ParseTuple(args, "OOO!OO", &buf_o, &off_o, &PyList_Type, &tokens, &sc_o, &el_o))
        return NULL;
    str_array a;
    if (str_array_get(buf_o, off_o, &a) < 0) return NULL;
    Py_buffer sc = {0}, el = {0};
    PyObject *ret = NULL;
    piece_set ps = {NULL, 0, &a};
    spm_split *v = NULL;
    size_t n = 0, cap = 0;
    if (clv_py_buffer(sc_o, &sc, 'd', 1, 0, "scores") < 0) goto done;
    if (clv_py_buffer(el_o, &el, 'B', 1, 0, "eligible") < 0) goto done;
    if (PyList_GET_SIZE(tokens) != a.n || sc.len / 8 != a.n || el.len != a.n) {
        PyErr_SetString(PyExc_ValueError, "tokens, scores and eligible need one entry per string");
        goto done;
    }
    if (a.n > INT32_MAX / 2) {  /* ids are int32 here; the Python route takes the rest */
        ret = Py_NewRef(Py_None);
        goto done;
    }
    size_t slots = 16;
    while (slots < (size_t)a.n * 2) slots *= 2;
    ps.slot = PyMem_RawMalloc(slots * sizeof(int32_t));
    ps.mask = slots - 1;
    if (!ps.slot) {
        PyErr_NoMemory();
        goto done;
    }
    memset(ps.slot, 0xFF, slots * sizeof(int32_t));
    const double *score = sc.buf;
    const unsigned char *ok = el.buf;
    char *first = PyMem_RawMalloc((size_t)a.n + 1);
    if (!first) {
        PyErr_NoMemory();
        goto done;
    }
    int bad = 0;
    for (Py_ssize_t i = 0; i < a.n && !bad; i++) {
        bad = json_len(PIECE(&a, i), PIECE_LEN(&a, i)) < 0;   /* decoding would replace bytes */
        first[i] = piece_find(&ps, PIECE(&a, i), PIECE_LEN(&a, i), (int32_t)i) < 0;
    }
    for (Py_ssize_t i = 0; i < a.n && !bad; i++)
        if (ok[i] && first[i] && spm_piece_splits(&ps, i, score[i], &v, &n, &cap) < 0) {
            PyMem_RawFree(first);
            PyErr_NoMemory();
            goto done;
        }
    PyMem_RawFree(first);
    if (bad) {
        ret = Py_NewRef(Py_None);
        goto done;
    }
    qsort(v, n, sizeof(spm_split), spm_cmp);
    ret = PyList_New((Py_ssize_t)n);
    for (size_t j = 0; ret && j < n; j++) {
        PyObject *t = PyTuple_Pack(2, PyList_GET_ITEM(tokens, v[j].l), PyList_GET_ITEM(tokens, v[j].r));
        if (!t) Py_CLEAR(ret);
        else PyList_SET_ITEM(ret, (Py_ssize_t)j, t);
    }
done:
    PyMem_RawFree(v);
    PyMem_RawFree(ps.slot);
    if (sc.obj) PyBuffer_Release(&sc);
    if (el.obj) PyBuffer_Release(&el);
    str_array_release(&a);
    return ret;
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
     "gguf_string_offsets(buf, off, count) -> (offsets, None) | (None, (i, off, need, is_len))"},
    {"gguf_strings", py_gguf_strings, METH_VARARGS, "gguf_strings(buf, offsets) -> list of str"},
    {"text_vocab", py_text_vocab, METH_VARARGS, "text_vocab(buf, offsets) -> {str: first id}"},
    {"text_merges", py_text_merges, METH_VARARGS,
     "text_merges(buf, offsets, vocab) -> [(left, right)] | index of the first bad merge"},
    {"text_bpe_json", py_text_bpe_json, METH_VARARGS,
     "text_bpe_json(buf, token_offsets, merge_offsets, head, mid, tail) -> bytes | int | None"},
    {"text_spm_merges", py_text_spm_merges, METH_VARARGS,
     "text_spm_merges(buf, offsets, tokens, scores, eligible) -> [(left, right)] | None"},
    {"text_trim", py_text_trim, METH_NOARGS, "malloc_trim(0) where glibc provides it"},
    {NULL, NULL, 0, NULL},
};
