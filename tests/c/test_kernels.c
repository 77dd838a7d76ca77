/* test_kernels: every dispatched op, every variant this CPU (with CLAVIS_DISABLE_CPU_FEATURES
 * applied) supports, against the op's scalar reference on random shapes with partial tiles.
 * Integer matmul paths must match bit for bit; float paths within a bound derived from the
 * reduction length and the magnitudes (u = 2^-24). Built natively and for AArch64 (run under
 * qemu-aarch64 -cpu max) by tests/c/CMakeLists.txt; tests/c/test_c_driver.py runs both.
 *
 *   test_kernels [seed]        (or CLAVIS_TEST_SEED)   prints one line per op/variant and
 *                                                      "N passed, M failed"; exit 1 on failure
 */
#include "clavis.h"
#include "clavis_ops.h"
#include "ukernels/matmul/matmul.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define U (1.0 / 16777216.0)       /* float32 unit roundoff */
#define ERF_ABS 1.5e-7             /* the SIMD erf's absolute error */

/* ------------------------------------------------------------------ random numbers */
static uint64_t g_rng;
static uint64_t rnd(void) {
    g_rng ^= g_rng >> 12; g_rng ^= g_rng << 25; g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}
static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }
static float frand(void) { return (float)((rnd() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }
static float fnormal(void) { float s = 0; for (int i = 0; i < 4; i++) s += frand(); return s * 0.866f; }
static float *randv(int64_t n, float scale) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = fnormal() * scale;
    return p;
}
static float *dupv(const float *a, int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(p, a, (size_t)n * sizeof(float));
    return p;
}

/* ------------------------------------------------------------------ comparisons */
static char g_fail_msg[256];

/* |got - ref| <= bound[i] (bound NULL: exact) for all i; records the first failure */
static int close_enough(const char *what, const float *got, const float *ref, const double *bound, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]);
        int bad = bound ? !(e <= bound[i]) : memcmp(&got[i], &ref[i], sizeof(float)) != 0;
        if (bad) {
            snprintf(g_fail_msg, sizeof g_fail_msg, "%s: [%lld] got %.9g want %.9g (bound %.3g)", what,
                     (long long)i, got[i], ref[i], bound ? bound[i] : 0.0);
            return 0;
        }
    }
    return 1;
}
static double *bounds(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }

/* One test case of an op variant: returns 1 if it passed. fn = variant, ref = scalar. */
typedef int (*case_fn)(const void *fn, const void *ref, int i);

/* ------------------------------------------------------------------ row ops */
static int64_t pick_len(int i) {
    static const int64_t fixed[] = {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257};
    return i < 13 ? fixed[i] : irand(1, 1100);
}

static int case_rms_norm(const void *fn, const void *ref, int i) {
    int64_t k = pick_len(i);
    float *x = randv(k, 3.0f), *w = randv(k, 1.0f), *a = randv(k, 0), *b = randv(k, 0);
    ((clv_rms_norm_fn)fn)(x, i % 3 ? w : NULL, a, k, 1e-6f);
    ((clv_rms_norm_fn)ref)(x, i % 3 ? w : NULL, b, k, 1e-6f);
    double *bd = bounds(k);
    for (int64_t j = 0; j < k; j++) bd[j] = fabs(b[j]) * (k + 8) * U * 2 + 1e-30;
    int ok = close_enough("rms_norm", a, b, bd, k);
    free(x); free(w); free(a); free(b); free(bd);
    return ok;
}

static int case_layer_norm(const void *fn, const void *ref, int i) {
    int64_t k = pick_len(i) + 1;
    float *x = randv(k, 2.0f), *w = randv(k, 1.0f), *bb = randv(k, 1.0f), *a = randv(k, 0), *b = randv(k, 0);
    float shift = frand() * 4;
    for (int64_t j = 0; j < k; j++) x[j] += shift;
    ((clv_layer_norm_fn)fn)(x, w, bb, a, k, 1e-5f);
    ((clv_layer_norm_fn)ref)(x, w, bb, b, k, 1e-5f);
    double mean = 0, var = 0;
    for (int64_t j = 0; j < k; j++) mean += x[j];
    mean /= (double)k;
    for (int64_t j = 0; j < k; j++) var += (x[j] - mean) * (x[j] - mean);
    double sd = sqrt(var / (double)k + 1e-5);
    double *bd = bounds(k);
    for (int64_t j = 0; j < k; j++)
        bd[j] = 2 * (fabs(b[j] - bb[j]) * (k + 8) * U + fabs(bb[j]) * 4 * U + fabs(mean) / sd * fabs(w[j]) * 8 * U) + 1e-30;
    int ok = close_enough("layer_norm", a, b, bd, k);
    free(x); free(w); free(bb); free(a); free(b); free(bd);
    return ok;
}

static int case_softmax(const void *fn, const void *ref, int i) {
    int64_t k = pick_len(i);
    float *x = randv(k, 6.0f), *a = randv(k, 0), *b = randv(k, 0);
    if (i % 4 == 1) for (int64_t j = 0; j < k / 2; j++) x[j] = -1e30f;   /* masked entries */
    ((clv_softmax_fn)fn)(x, a, k);
    ((clv_softmax_fn)ref)(x, b, k);
    float m = -INFINITY;
    for (int64_t j = 0; j < k; j++) m = x[j] > m ? x[j] : m;
    double *bd = bounds(k);
    for (int64_t j = 0; j < k; j++) {
        double dist = x[j] < -1e29f ? 0 : fabs((double)x[j] - m);
        bd[j] = 2 * b[j] * ((k + 8) * U + dist * 2 * U) + 1e-30;
    }
    int ok = close_enough("softmax", a, b, bd, k);
    free(x); free(a); free(b); free(bd);
    return ok;
}

/* ------------------------------------------------------------------ elementwise */
static int case_gelu(const void *fn, const void *ref, int i) {
    int64_t n = pick_len(i);
    float *x = randv(n, 4.0f), *a = randv(n, 0), *b = randv(n, 0);
    ((clv_gelu_fn)fn)(x, a, n);
    ((clv_gelu_fn)ref)(x, b, n);
    double *bd = bounds(n);
    for (int64_t j = 0; j < n; j++) bd[j] = 2 * (fabs(b[j]) * 8 * U + fabs(x[j]) * (0.5 * ERF_ABS + 8 * U)) + 1e-30;
    int ok = close_enough("gelu", a, b, bd, n);
    free(x); free(a); free(b); free(bd);
    return ok;
}

static int case_silu_mul(const void *fn, const void *ref, int i) {
    int64_t n = pick_len(i);
    float *g = randv(n, 6.0f), *u = randv(n, 1.0f), *a = randv(n, 0), *b = randv(n, 0);
    ((clv_silu_mul_fn)fn)(g, u, a, n);
    ((clv_silu_mul_fn)ref)(g, u, b, n);
    double *bd = bounds(n);
    for (int64_t j = 0; j < n; j++) bd[j] = 2 * fabs(b[j]) * (fabs(g[j]) + 10) * U + 1e-30;
    int ok = close_enough("silu_mul", a, b, bd, n);
    free(g); free(u); free(a); free(b); free(bd);
    return ok;
}

static int case_add(const void *fn, const void *ref, int i) {
    int64_t n = pick_len(i);
    float *x = randv(n, 1.0f), *y = randv(n, 1.0f), *a = randv(n, 0), *b = randv(n, 0);
    ((clv_add_fn)fn)(x, y, a, n);
    ((clv_add_fn)ref)(x, y, b, n);
    int ok = close_enough("add", a, b, NULL, n);
    free(x); free(y); free(a); free(b);
    return ok;
}

static int case_scale(const void *fn, const void *ref, int i) {
    int64_t n = pick_len(i);
    float *x = randv(n, 1.0f), *a = randv(n, 0), *b = randv(n, 0), s = frand() * 3;
    ((clv_scale_fn)fn)(x, s, a, n);
    ((clv_scale_fn)ref)(x, s, b, n);
    int ok = close_enough("scale", a, b, NULL, n);
    free(x); free(a); free(b);
    return ok;
}

/* to_f16: bit-exact against the scalar reference on normals at every scale, exact ties, f16
 * subnormals and underflow, overflow to inf, +-inf, -0; a NaN must stay a NaN */
static int case_to_f16(const void *fn, const void *ref, int i) {
    int64_t n = pick_len(i);
    float *x = randv(n, 1.0f);
    uint16_t *a = calloc((size_t)n + 1, 2), *b = calloc((size_t)n + 1, 2);
    for (int64_t j = 0; j < n; j++) {
        switch (rnd() % 8) {
        case 0: x[j] = ldexpf(frand(), (int)irand(-30, 20)); break;           /* any scale */
        case 1: x[j] = ldexpf(1.0f + (2 * irand(0, 1023) + 1) / 2048.0f, (int)irand(-14, 15)); break;  /* tie */
        case 2: x[j] = ldexpf(frand(), (int)irand(-26, -14)); break;          /* f16 subnormal / 0 */
        case 3: x[j] = (rnd() & 1 ? 1 : -1) * ldexpf(1.0f + frand() * 0.5f, 16); break;  /* >= 65520 */
        case 4: x[j] = (float[]){INFINITY, -INFINITY, -0.0f, 65504.0f, 65519.996f}[rnd() % 5]; break;
        case 5: x[j] = NAN; break;
        default: break;
        }
    }
    ((clv_to_f16_fn)fn)(x, a, n);
    ((clv_to_f16_fn)ref)(x, b, n);
    int ok = 1;
    for (int64_t j = 0; j < n && ok; j++) {
        int nan_a = (a[j] & 0x7c00) == 0x7c00 && (a[j] & 0x3ff);
        if (x[j] != x[j] ? !nan_a : a[j] != b[j]) {
            snprintf(g_fail_msg, sizeof g_fail_msg, "to_f16[%lld] of %.9g: 0x%04x, reference 0x%04x",
                     (long long)j, (double)x[j], a[j], b[j]);
            ok = 0;
        }
    }
    if (ok && a[n] != 0) {
        snprintf(g_fail_msg, sizeof g_fail_msg, "to_f16 wrote past n = %lld", (long long)n);
        ok = 0;
    }
    free(x); free(a); free(b);
    return ok;
}

/* ------------------------------------------------------------------ rope */
static int case_rope(const void *fn, const void *ref, int i) {
    int64_t heads = irand(1, 5), d = 2 * irand(1, 80), n_rot = i % 3 ? d : 2 * irand(1, d / 2);
    int neox = i % 2;
    int64_t n = heads * d, half = n_rot / 2;
    float *x = randv(n, 2.0f), *a = dupv(x, n), *b = dupv(x, n);
    float *c = randv(n_rot, 0), *s = randv(n_rot, 0);
    for (int64_t p = 0; p < half; p++) {
        double ang = frand() * 1000.0;
        float cs = (float)cos(ang), sn = (float)sin(ang);
        if (neox) { c[p] = cs; s[p] = sn; }
        else { c[2 * p] = c[2 * p + 1] = cs; s[2 * p] = -sn; s[2 * p + 1] = sn; }
    }
    ((clv_rope_fn)fn)(a, heads, d, n_rot, c, s, neox);
    ((clv_rope_fn)ref)(b, heads, d, n_rot, c, s, neox);
    double *bd = bounds(n);
    for (int64_t j = 0; j < n; j++) bd[j] = (j % d) < n_rot ? 2 * 8 * U * 8.0 + 1e-30 : 0.0;  /* |x| < 8 */
    int ok = close_enough("rope", a, b, bd, n);
    for (int64_t j = 0; ok && j < n; j++)
        if ((j % d) >= n_rot && a[j] != x[j]) ok = close_enough("rope: dims past n_rot", a, x, NULL, n);
    free(x); free(a); free(b); free(c); free(s); free(bd);
    return ok;
}

/* ------------------------------------------------------------------ attention */
static int case_attention(const void *fn, const void *ref, int i) {
    /* 6, 7: decodes at the head sizes the decode scores unroll (64, 128), g heads of 1 .. 20 */
    int64_t g = irand(1, 20), d = i < 4 ? (int64_t[]){64, 128, 80, 7}[i] : i == 6 ? 64 : i == 7 ? 128 : irand(1, 130);
    int64_t rows = i == 6 || i == 7 ? 1 : irand(1, CLV_ATT_ROWS), stride   /* 1: the decode path */ = g * d + irand(0, 9), n_max = irand(1, 200);
    int64_t nk[CLV_ATT_ROWS];
    for (int64_t r = 0; r < rows; r++)   /* causal-like (growing by one) or arbitrary */
        nk[r] = i == 5 ? 0 : i % 3 ? (n_max - rows + 1 + r > 0 ? n_max - rows + 1 + r : 0) : irand(0, n_max);
    int f16 = i % 2;
    float scale = 1.0f / sqrtf((float)d);
    float *q = randv(rows * stride, 2.0f), *kf = randv(n_max * d, 1.0f), *vf = randv(n_max * d, 1.0f);
    void *k = kf, *v = vf;
    if (f16) {   /* store the caches as half; use the rounded values for the bound */
        const clv_type_traits *h = clv_type_get(CLV_TYPE_F16);
        k = malloc((size_t)(n_max * d + 1) * 2);
        v = malloc((size_t)(n_max * d + 1) * 2);
        h->from_float(kf, k, n_max * d);
        h->from_float(vf, v, n_max * d);
        h->to_float(k, kf, n_max * d);
        h->to_float(v, vf, n_max * d);
    }
    float *a = randv(rows * stride, 0), *b = randv(rows * stride, 0);
    for (int64_t j = 0; j < rows * stride; j++) a[j] = b[j] = 777.0f;   /* the gaps stay untouched */
    ((clv_attention_fn)fn)(q, a, rows, stride, g, d, k, v, nk, scale, f16);
    ((clv_attention_fn)ref)(q, b, rows, stride, g, d, k, v, nk, scale, f16);
    double *bd = bounds(rows * stride);
    for (int64_t r = 0; r < rows; r++) {
        double vmax = 0;
        for (int64_t j = 0; j < nk[r] * d; j++) vmax = fabs(vf[j]) > vmax ? fabs(vf[j]) : vmax;
        for (int64_t h = 0; h < g; h++) {
            const float *qr = q + r * stride + h * d;
            double serr = 0;
            for (int64_t j = 0; j < nk[r]; j++) {
                double s = 0;
                for (int64_t t = 0; t < d; t++) s += fabs(qr[t] * kf[j * d + t]);
                s *= scale * (d + 2) * U;
                serr = s > serr ? s : serr;
            }
            for (int64_t t = 0; t < d; t++)
                bd[r * stride + h * d + t] = 2 * vmax * (nk[r] * U + 2 * serr + 8 * U);
        }
    }
    int ok = close_enough("attention", a, b, bd, rows * stride);
    if (f16) { free(k); free(v); }
    free(q); free(kf); free(vf); free(a); free(b); free(bd);
    return ok;
}

/* ------------------------------------------------------------------ conv1d + gelu */
static int case_conv1d_gelu(const void *fn, const void *ref, int i) {
    int64_t kdim = irand(1, 300), lout = irand(1, 90), cout = irand(1, 13);
    int64_t co0 = irand(0, cout - 1), co1 = irand(co0 + 1, cout), l0 = irand(0, lout - 1), l1 = irand(l0 + 1, lout);
    if (i < 3) { co0 = 0; co1 = cout; l0 = 0; l1 = lout; }
    float *w = randv(cout * kdim, 1.0f / sqrtf((float)kdim)), *bias = randv(cout, 1.0f), *col = randv(kdim * lout, 1.0f);
    float *a = randv(cout * lout, 0), *b = randv(cout * lout, 0);
    for (int64_t j = 0; j < cout * lout; j++) a[j] = b[j] = 12345.0f;   /* outside the tile: untouched */
    ((clv_conv1d_gelu_fn)fn)(w, i % 4 ? bias : NULL, col, a, kdim, lout, co0, co1, l0, l1);
    ((clv_conv1d_gelu_fn)ref)(w, i % 4 ? bias : NULL, col, b, kdim, lout, co0, co1, l0, l1);
    double *bd = bounds(cout * lout);
    for (int64_t co = co0; co < co1; co++)
        for (int64_t l = l0; l < l1; l++) {
            double mag = i % 4 ? fabs(bias[co]) : 0, pre = i % 4 ? bias[co] : 0;
            for (int64_t kk = 0; kk < kdim; kk++) {
                mag += fabs(w[co * kdim + kk] * col[kk * lout + l]);
                pre += (double)w[co * kdim + kk] * col[kk * lout + l];
            }
            bd[co * lout + l] = 2 * (1.13 * mag * (kdim + 2) * U + fabs(pre) * (0.5 * ERF_ABS + 8 * U)) + 1e-30;
        }
    int ok = close_enough("conv1d_gelu", a, b, bd, cout * lout);
    free(w); free(bias); free(col); free(a); free(b); free(bd);
    return ok;
}

/* ------------------------------------------------------------------ embedding */
static int case_embedding(const void *fn, const void *ref, int i) {
    static const int types[] = {CLV_TYPE_F32, CLV_TYPE_F16, CLV_TYPE_BF16, CLV_TYPE_Q8_0, CLV_TYPE_Q4_0};
    int type = types[i % 5];
    const clv_type_traits *tt = clv_type_get(type);
    int64_t rows = irand(1, 20), cols = 32 * irand(1, 6), n_ids = irand(1, 10);
    float *w = randv(rows * cols, 1.0f);
    void *data = malloc(clv_row_size(type, cols) * (size_t)rows);
    tt->from_float(w, data, rows * cols);
    int32_t ids[10];
    for (int64_t j = 0; j < n_ids; j++) ids[j] = (int32_t)irand(0, rows - 1);
    float *a = randv(n_ids * cols, 0), *b = randv(n_ids * cols, 0);
    ((clv_embedding_fn)fn)(data, type, cols, ids, n_ids, a);
    for (int64_t j = 0; j < n_ids; j++)   /* independent path: the format's to_float per row */
        tt->to_float((const char *)data + clv_row_size(type, cols) * (size_t)ids[j], b + j * cols, cols);
    int ok = close_enough("embedding", a, b, NULL, n_ids * cols);
    free(w); free(data); free(a); free(b);
    return ok;
}

/* ------------------------------------------------------------------ matmul */
static int case_matmul(const void *fn, const void *ref, int i) {
    const clv_matmul_ukernel *uk = fn, *rk = ref;
    int wtype = uk->wtype, quant = uk->lhs_quant != NULL;
    int64_t kb = uk->kb > rk->kb ? uk->kb : rk->kb;
    int64_t m = i < 2 ? 1 : irand(1, 2 * (uk->mr > 1 ? uk->mr : 4) + 3);
    int64_t n = i == 0 ? 1 : irand(1, 3 * uk->nr + 5);
    int64_t k = i == 1 ? kb : (i == 2 ? 32 * 70 : kb * irand(1, quant ? 12 : 300 / kb + 1));
    if (kb == 1 && i == 1) k = 5;
    const clv_type_traits *tt = clv_type_get(wtype);
    float *wf = randv(n * k, 1.0f), *x = randv(m * k, 2.0f);
    size_t rs = clv_row_size(wtype, k);
    void *raw = malloc(rs * (size_t)n);
    tt->from_float(wf, raw, n * k);
    tt->to_float(raw, wf, n * k);   /* the weights as the kernels see them */
    size_t psz = (uk->packed_size(n, k) + 63) & ~(size_t)63, rsz = (rk->packed_size(n, k) + 63) & ~(size_t)63;
    void *pk = aligned_alloc(64, psz), *pr = aligned_alloc(64, rsz);
    uk->pack(raw, pk, n, k, 0, clv_matmul_tiles(n, uk->nr));
    rk->pack(raw, pr, n, k, 0, clv_matmul_tiles(n, rk->nr));
    const void *lhs = x;
    size_t stride = (size_t)k * sizeof(float);
    clv_lhs_q8 *xq = NULL, *xr = NULL;
    int ok = 1;
    if (quant) {
        xq = malloc(sizeof(clv_lhs_q8) * (size_t)(m * k / 32));
        xr = malloc(sizeof(clv_lhs_q8) * (size_t)(m * k / 32));
        for (int64_t r = 0; r < m; r++) {
            uk->lhs_quant(x + r * k, xq + r * (k / 32), k);
            rk->lhs_quant(x + r * k, xr + r * (k / 32), k);
        }
        if (memcmp(xq, xr, sizeof(clv_lhs_q8) * (size_t)(m * k / 32))) {
            snprintf(g_fail_msg, sizeof g_fail_msg, "lhs_quant bytes differ from the reference (k=%lld)", (long long)k);
            ok = 0;
        }
        lhs = xq;
        stride = sizeof(clv_lhs_q8) * (size_t)(k / 32);
    }
    /* a raw ukernel also runs on the raw rows themselves, at an odd address (any alignment) */
    uint8_t *odd = NULL;
    if (uk->raw) {
        odd = malloc(rs * (size_t)n + 64);
        memcpy(odd + 1 + 2 * (i % 16), raw, rs * (size_t)n);
        if (memcmp(pk, raw, rs * (size_t)n)) {
            snprintf(g_fail_msg, sizeof g_fail_msg, "raw ukernel's pack is not a copy (n=%lld)", (long long)n);
            ok = 0;
        }
    }
    float *a = randv(m * n, 0), *b = randv(m * n, 0);
    clv_matmul_args ua = {lhs, stride, odd ? (const void *)(odd + 1 + 2 * (i % 16)) : pk, a, (size_t)n, n, k}, ra = {quant ? (const void *)xr : x, stride, pr, b, (size_t)n, n, k};
    /* the variant runs in chunks: a split of M and a split of N at a tile boundary */
    int64_t msplit = m / 2, nsplit = (clv_matmul_tiles(n, uk->nr) / 2) * uk->nr;
    uk->run(&ua, 0, msplit, 0, nsplit);
    uk->run(&ua, 0, msplit, nsplit, n);
    uk->run(&ua, msplit, m, 0, nsplit);
    uk->run(&ua, msplit, m, nsplit, n);
    rk->run(&ra, 0, m, 0, n);
    double *bd = quant ? NULL : bounds(m * n);
    for (int64_t r = 0; !quant && r < m; r++)
        for (int64_t c = 0; c < n; c++) {
            double mag = 0;
            for (int64_t t = 0; t < k; t++) mag += fabs(x[r * k + t] * wf[c * k + t]);
            bd[r * n + c] = 2 * mag * (k + 2) * U + 1e-30;
        }
    char what[96];
    snprintf(what, sizeof what, "%s m=%lld n=%lld k=%lld", uk->layout, (long long)m, (long long)n, (long long)k);
    if (ok) ok = close_enough(what, a, b, bd, m * n);
    free(wf); free(x); free(raw); free(pk); free(pr); free(xq); free(xr); free(a); free(b); free(bd);
    free(odd);
    return ok;
}

/* ------------------------------------------------------------------ threaded drivers */
/* The whole-op drivers (clavis_ops.h) on a 3-thread pool give the same bits as on no pool:
 * chunks are whole rows / heads / tiles. Exercises the thread pool on every architecture. */
static int drivers_agree(void) {
    clv_threadpool *pool = clv_threadpool_create(3);
    int64_t m = 97, k = 515, n = m * k, t = 21, hq = 6, hkv = 2, d = 64, s = 70;
    int64_t cin = 9, l = 203, cout = 37, lout = clv_conv1d_out_len(l, 3, 2, 1);
    float *x = randv(n, 2.0f), *w = randv(k, 1.0f), *a = randv(n, 0), *b = randv(n, 0);
    float *q = randv(t * hq * d, 1.0f), *kc = randv(hkv * s * d, 1.0f), *vc = randv(hkv * s * d, 1.0f);
    float *cw = randv(cout * cin * 3, 0.3f), *col = randv(cin * 3 * lout, 0);
    int32_t pos[21];
    for (int i = 0; i < t; i++) pos[i] = 3 * i;
    int ok = 1;
#define SAME(what, len, CALL)                                                           \
    do {                                                                                \
        clv_threadpool *p_ = NULL; float *y_ = a;                                       \
        CALL;                                                                           \
        p_ = pool; y_ = b;                                                              \
        CALL;                                                                           \
        if (ok && memcmp(a, b, (size_t)(len) * sizeof(float))) {                        \
            snprintf(g_fail_msg, sizeof g_fail_msg, "%s: pool and no pool differ", what); \
            ok = 0;                                                                     \
        }                                                                               \
    } while (0)
    SAME("rms_norm", n, clv_rms_norm(p_, x, w, y_, m, k, 1e-6f));
    SAME("layer_norm", n, clv_layer_norm(p_, x, w, w, y_, m, k, 1e-5f));
    SAME("softmax", n, clv_softmax(p_, x, y_, m, k));
    SAME("silu_mul", n, clv_silu_mul(p_, x, x, y_, n));
    SAME("gelu", n, clv_gelu(p_, x, y_, n));
    SAME("add", n, clv_add(p_, x, w, y_, m, k, 1));
    SAME("scale", n, clv_scale(p_, x, 0.5f, y_, n));
    SAME("rope", t * hq * d, (memcpy(y_, q, (size_t)(t * hq * d) * 4), clv_rope(p_, y_, pos, t, hq, d, d, 1e4f, 1, NULL)));
    SAME("attention", t * hq * d, clv_attention(p_, q, kc, vc, 0, t, hq, hkv, s, d, s, s - t, 1, 0.125f, y_));
    SAME("conv1d_gelu", cout * lout, clv_conv1d_gelu(p_, x, cin, l, cw, cout, 3, w, 2, 1, col, y_));
#undef SAME
    clv_threadpool_destroy(pool);
    free(x); free(w); free(a); free(b); free(q); free(kc); free(vc); free(cw); free(col);
    return ok;
}

/* clv_parallel_for_ranges runs every chunk exactly once, for any chunk count and pool size */
static void count_chunk(void *ctx, int64_t c, int tid) {
    (void)tid;
    __atomic_fetch_add((int *)ctx + c, 1, __ATOMIC_RELAXED);
}

static int ranges_exact(void) {
    static const int64_t ns[] = {1, 2, 3, 5, 7, 64, 1001};
    for (int t = 1; t <= 4; t++) {
        clv_threadpool *pool = clv_threadpool_create(t);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (int rep = 0; rep < 20; rep++) {
                int *hits = calloc((size_t)ns[i], sizeof(int));
                clv_parallel_for_ranges(pool, ns[i], count_chunk, hits);
                for (int64_t c = 0; c < ns[i]; c++)
                    if (hits[c] != 1) {
                        snprintf(g_fail_msg, sizeof g_fail_msg, "%d threads, %lld chunks: chunk %lld ran %d times",
                                 t, (long long)ns[i], (long long)c, hits[c]);
                        free(hits);
                        clv_threadpool_destroy(pool);
                        return 0;
                    }
                free(hits);
            }
        clv_threadpool_destroy(pool);
    }
    return 1;
}

/* clv_argmax_f32 (vector passes in groups of 16) against a plain scalar scan: the first index
 * of the largest value, NaN never winning, at lengths around the group size */
static int argmax_agrees(void) {
    static const int64_t ns[] = {1, 3, 15, 16, 17, 33, 100, 1000, 4099};
    float *x = malloc(4099 * sizeof(float));
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
        for (int c = 0; c < 8; c++) {
            int64_t n = ns[t];
            for (int64_t i = 0; i < n; i++) x[i] = (float)irand(-32, 31);   /* ties */
            if (c & 1) x[irand(0, n - 1)] = NAN;
            if (c == 6)
                for (int64_t i = 0; i < n; i++) x[i] = -INFINITY;
            int64_t want = 0;
            float best = -INFINITY;
            for (int64_t i = 0; i < n; i++)
                if (x[i] > best) {
                    best = x[i];
                    want = i;
                }
            int64_t got = clv_argmax_f32(x, n);
            if (got != want) {
                snprintf(g_fail_msg, sizeof g_fail_msg, "n %lld case %d: %lld, want %lld", (long long)n, c,
                         (long long)got, (long long)want);
                free(x);
                return 0;
            }
        }
    free(x);
    return 1;
}

/* ------------------------------------------------------------------ driver */
static const struct { const char *prefix; case_fn fn; int cases; } TESTS[] = {
    {"rms_norm", case_rms_norm, 40}, {"layer_norm", case_layer_norm, 40}, {"softmax", case_softmax, 40},
    {"gelu", case_gelu, 40}, {"silu_mul", case_silu_mul, 40}, {"add", case_add, 30},
    {"scale", case_scale, 30}, {"rope", case_rope, 40}, {"attention", case_attention, 30},
    {"conv1d_gelu", case_conv1d_gelu, 30}, {"embedding", case_embedding, 10},
    {"matmul_", case_matmul, 30}, {"to_f16", case_to_f16, 40},
};

static int find_test(const char *op) {
    for (size_t t = 0; t < sizeof TESTS / sizeof TESTS[0]; t++)
        if (!strncmp(op, TESTS[t].prefix, strlen(TESTS[t].prefix)) &&
            (TESTS[t].prefix[strlen(TESTS[t].prefix) - 1] == '_' || !strcmp(op, TESTS[t].prefix)))
            return (int)t;
    return -1;
}

static const clv_variant *scalar_of(const clv_op *op) {
    const clv_variant *v = op->variants;
    while (v[1].name) v++;
    return v;
}

int main(int argc, char **argv) {
    const char *env = getenv("CLAVIS_TEST_SEED");
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : env ? strtoull(env, NULL, 10) : 20261128ULL;
    clv_dispatch_init();
    printf("test_kernels: seed %llu; features enabled:", (unsigned long long)seed);
    for (int b = 0; b < 32; b++)
        if (clv_cpu_enabled() & (1u << b)) printf(" %s", clv_cpu_feature_name(1u << b));
    printf("\n");
    int passed = 0, failed = 0;
    for (int o = 0; o < clv_op_count(); o++) {
        const clv_op *op = clv_op_at(o);
        int t = find_test(op->op);
        if (t < 0) {
            printf("FAIL %s: no test in test_kernels.c for this op\n", op->op);
            failed++;
            continue;
        }
        const clv_variant *ref = scalar_of(op);
        for (const clv_variant *v = op->variants; v->name; v++) {
            if (!clv_variant_supported(v)) continue;
            g_rng = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)(o * 131 + (v - op->variants)) + 1;
            int ok = 1, c = 0;
            for (; ok && c < TESTS[t].cases; c++) ok = TESTS[t].fn(v->fn, ref->fn, c);
            if (ok) {
                printf("ok   %-12s %-14s %d cases%s\n", op->op, v->name, c, v == ref ? " (reference vs itself)" : "");
                passed++;
            } else {
                printf("FAIL %-12s %-14s case %d: %s\n", op->op, v->name, c - 1, g_fail_msg);
                failed++;
            }
        }
    }
    /* the checks that are not one op's variants: one "ok" / "FAIL" line each */
    static const struct { const char *name, *kind, *what; int (*check)(void); } EXTRA[] = {
        {"drivers", "pool", "3 threads == 1 thread, every op", drivers_agree},
        {"ranges", "pool", "every chunk once, 1-4 threads", ranges_exact},
        {"argmax", "sampling", "first index of the maximum, NaN never wins", argmax_agrees},
    };
    g_rng = seed + 7;
    for (size_t e = 0; e < sizeof EXTRA / sizeof EXTRA[0]; e++) {
        if (EXTRA[e].check()) {
            printf("ok   %-12s %-14s %s\n", EXTRA[e].name, EXTRA[e].kind, EXTRA[e].what);
            passed++;
        } else {
            printf("FAIL %-12s %-14s %s\n", EXTRA[e].name, EXTRA[e].kind, g_fail_msg);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
