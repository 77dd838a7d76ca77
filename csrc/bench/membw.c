/* A STREAM-like read kernel: sums 16-byte words so every byte of the buffer is loaded once.
 * The caller splits a large buffer across the thread pool (csrc/python/py_matmul.c). */
#include "clavis.h"

typedef long long clv_v2i __attribute__((vector_size(16)));

uint64_t clv_bench_read(const void *buf, size_t nbytes) {
    const clv_v2i *p = buf;
    size_t n = nbytes / sizeof(clv_v2i);
    clv_v2i a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 += p[i]; a1 += p[i + 1]; a2 += p[i + 2]; a3 += p[i + 3];
        a4 += p[i + 4]; a5 += p[i + 5]; a6 += p[i + 6]; a7 += p[i + 7];
    }
    for (; i < n; i++) a0 += p[i];
    clv_v2i s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    return (uint64_t)(s[0] + s[1]);
}
