/* The clavis._C extension module: concatenates the binding groups and owns the thread pool. */
#include "pyclavis.h"

#include <stdlib.h>
#include <string.h>

/* One pool per thread count asked for, kept for the life of the process: a call that runs on
 * the current pool with the GIL released (from another Python thread) must never see it
 * destroyed under it by set_num_threads. The workers of pools not in use sleep. */
#define POOLS_MAX 1024
static clv_threadpool *g_pool, *g_pools[POOLS_MAX + 1];

static clv_threadpool *pool_for(int n) {
    if (!g_pools[n]) g_pools[n] = clv_threadpool_create(n);
    return g_pools[n];
}

clv_threadpool *clv_py_pool(void) { return g_pool; }

char clv_py_format(const Py_buffer *v) {
    const char *f = v->format ? v->format : "B";
    while (*f == '<' || *f == '=' || *f == '@' || *f == '!') f++;
    return *f;
}

int clv_py_buffer(PyObject *obj, Py_buffer *view, char fmt, int ndim, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s array (got %s)", what,
                     writable ? ", writable" : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    char got = clv_py_format(view);
    /* int64: NumPy says 'l' on LP64 platforms, array('q') says 'q' */
    int int64_alias = (fmt == 'l' || fmt == 'q') && (got == 'l' || got == 'q') && view->itemsize == 8;
    if (fmt && got != fmt && !int64_alias && !(fmt == 'B' && (got == 'b' || got == 'c'))) {
        PyErr_Format(PyExc_TypeError, "%s has dtype format '%s', expected '%c'", what,
                     view->format ? view->format : "B", fmt);
        PyBuffer_Release(view);
        return -1;
    }
    if (ndim >= 0 && view->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must have %d dimension(s), got %d", what, ndim, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ core group */

static int default_threads(void) {
    const char *env = getenv("CLAVIS_NUM_THREADS");
    if (env && *env) {
        int n = atoi(env);
        if (n >= 1 && n <= POOLS_MAX) return n;
    }
    int c = clv_cpu_physical_cores();
    return c < 1 ? 1 : c > POOLS_MAX ? POOLS_MAX : c;
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1 || n > POOLS_MAX) {
        PyErr_Format(PyExc_ValueError, "threads must be between 1 and %d, got %ld", POOLS_MAX, n);
        return NULL;
    }
    clv_threadpool *p = pool_for((int)n);   /* with the GIL held: one creator at a time */
    if (!p) return PyErr_NoMemory();
    g_pool = p;
    Py_RETURN_NONE;
}

/* the pool size a process starts with: CLAVIS_NUM_THREADS (1..POOLS_MAX), else physical cores */
static PyObject *py_default_threads(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(default_threads());
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
    return PyLong_FromLong(clv_threadpool_size(g_pool));
}

static PyObject *feature_list(uint32_t mask) {
    PyObject *list = PyList_New(0);
    for (int b = 0; b < 32; b++) {
        const char *name = clv_cpu_feature_name(1u << b);
        if (name && (mask & (1u << b))) {
            PyObject *s = PyUnicode_FromString(name);
            PyList_Append(list, s);
            Py_DECREF(s);
        }
    }
    return list;
}

static PyObject *py_cpu_features(PyObject *self, PyObject *unused) {
    PyObject *d = PyDict_New();
    PyObject *det = feature_list(clv_cpu_detected()), *en = feature_list(clv_cpu_enabled());
    PyDict_SetItemString(d, "detected", det);
    PyDict_SetItemString(d, "enabled", en);
    Py_DECREF(det);
    Py_DECREF(en);
    PyObject *cores = PyLong_FromLong(clv_cpu_physical_cores());
    PyDict_SetItemString(d, "physical_cores", cores);
    Py_DECREF(cores);
    return d;
}

/* {op: {"chosen": name, "variants": [(name, supported), ...]}} */
static PyObject *py_ops(PyObject *self, PyObject *unused) {
    PyObject *d = PyDict_New();
    for (int i = 0; i < clv_op_count(); i++) {
        const clv_op *op = clv_op_at(i);
        PyObject *vars = PyList_New(0);
        for (const clv_variant *v = op->variants; v->name; v++) {
            PyObject *t = Py_BuildValue("(sO)", v->name, clv_variant_supported(v) ? Py_True : Py_False);
            PyList_Append(vars, t);
            Py_DECREF(t);
        }
        PyObject *e = Py_BuildValue("{s:s,s:N}", "chosen", *op->chosen ? *op->chosen : "", "variants", vars);
        PyDict_SetItemString(d, op->op, e);
        Py_DECREF(e);
    }
    return d;
}

static PyObject *py_force_variant(PyObject *self, PyObject *args) {
    const char *op, *variant;
    if (!PyArg_ParseTuple(args, "ss", &op, &variant)) return NULL;
    const clv_op *o = clv_op_find(op);
    if (!o) {
        PyErr_Format(PyExc_ValueError, "unknown op '%s'", op);
        return NULL;
    }
    const char *prev = *o->chosen;
    if (clv_op_force(op, variant) != 0) {
        PyErr_Format(PyExc_ValueError, "op '%s' has no variant '%s' runnable on this CPU", op, variant);
        return NULL;
    }
    return PyUnicode_FromString(prev ? prev : "");
}

/* decode_prefetch([bytes]) -> the bytes ahead a decode matvec prefetches (clavis.h); with an
 * argument, sets it first (-1: back to the CPU's default or CLAVIS_DECODE_PREFETCH) */
static PyObject *py_decode_prefetch(PyObject *self, PyObject *args) {
    PyObject *arg = NULL;
    if (!PyArg_ParseTuple(args, "|O", &arg)) return NULL;
    if (arg && arg != Py_None) {
        long bytes = PyLong_AsLong(arg);
        if (bytes == -1 && PyErr_Occurred()) return NULL;
        if (bytes < -1 || bytes > (1 << 20)) {
            PyErr_Format(PyExc_ValueError, "decode prefetch must be -1 (default) or 0..1048576 bytes, got %ld", bytes);
            return NULL;
        }
        clv_set_decode_prefetch((int)bytes);
    }
    return PyLong_FromLong(clv_decode_prefetch());
}

PyMethodDef clv_py_methods_core[] = {
    {"set_num_threads", py_set_num_threads, METH_O, "Resize the thread pool."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "Threads in the pool (caller included)."},
    {"default_threads", py_default_threads, METH_NOARGS, "The pool size a process starts with."},
    {"cpu_features", py_cpu_features, METH_NOARGS, "Detected and enabled CPU features."},
    {"ops", py_ops, METH_NOARGS, "Every op with its variants and the chosen one."},
    {"force_variant", py_force_variant, METH_VARARGS, "force_variant(op, variant) -> previous variant name."},
    {"decode_prefetch", py_decode_prefetch, METH_VARARGS, "decode_prefetch([bytes]) -> bytes ahead a decode prefetches."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ module */

static PyMethodDef *all_methods(void) {
    static PyMethodDef *groups[] = {
#define CLV_PY_ENTRY(NAME) clv_py_methods_##NAME,
        CLV_PY_GROUPS(CLV_PY_ENTRY)
#undef CLV_PY_ENTRY
    };
    size_t n = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (PyMethodDef *m = groups[g]; m->ml_name; m++) n++;
    PyMethodDef *all = calloc(n + 1, sizeof(PyMethodDef));
    size_t k = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        for (PyMethodDef *m = groups[g]; m->ml_name; m++) all[k++] = *m;
    return all;
}

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "clavis._C",
                                       "clavis C kernel core", -1, NULL};

PyMODINIT_FUNC PyInit__C(void) {
    clv_dispatch_init();
    moduledef.m_methods = all_methods();
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    g_pool = pool_for(default_threads());
    return m;
}
