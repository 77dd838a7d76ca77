/* Shared helpers for the CPython bindings (csrc/python/*.c, the only files that see Python.h). */
#ifndef PYCLAVIS_H
#define PYCLAVIS_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "clavis.h"

/* The runtime's thread pool (created at import, resized by set_num_threads). */
clv_threadpool *clv_py_pool(void);

/* Get a C-contiguous buffer of the given struct format char ('f' float32, 'e' float16,
 * 'B' uint8, 'i' int32, 'H' uint16 ...; 0 = any) and ndim (-1 = any). On failure sets a
 * TypeError/ValueError naming `what` and returns -1. Release with PyBuffer_Release. */
int clv_py_buffer(PyObject *obj, Py_buffer *view, char fmt, int ndim, int writable, const char *what);

/* Format char of a buffer, normalising native-size/standard prefixes ("<f" -> 'f'). */
char clv_py_format(const Py_buffer *view);

/* Binding groups: each file csrc/python/py_NAME.c defines `PyMethodDef clv_py_methods_NAME[]`
 * (NULL-terminated); module.c concatenates them. Add a group = a file + one line here. */
#define CLV_PY_GROUPS(X) \
    X(core) \
    X(ops) \
    X(formats) \
    X(matmul) \
    X(llm) \
    X(text) \
    X(bpe)

#define CLV_PY_DECLARE(NAME) extern PyMethodDef clv_py_methods_##NAME[];
CLV_PY_GROUPS(CLV_PY_DECLARE)
#undef CLV_PY_DECLARE

#endif
