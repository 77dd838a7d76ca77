/* The threaded matmul driver for C users (the Python binding uses it too): pack a weight with
 * the pool, then per call quantize X's rows and hand output chunks to the pool.
 * Memory is the caller's: the packed buffer and the activation scratch (clv_matmul_scratch_size). */
#include "matmul.h"

typedef struct {
    const clv_matmul_ukernel *uk;
    clv_matmul_args a;
    const float *x;
    clv_lhs_q8 *xq;
    int64_t m, rows_per_qchunk, qparts;
    int64_t mblk, nblk, n_mb;
} mm_job;

static void quant_chunk(void *ctx, int64_t c, int tid) {
    mm_job *j = ctx;
    int64_t r0 = c * j->rows_per_qchunk, r1 = r0 + j->rows_per_qchunk, nb = j->a.k / CLV_QK;
    if (r1 > j->m) r1 = j->m;
    for (int64_t r = r0; r < r1; r++) j->uk->lhs_quant(j->x + r * j->a.k, j->xq + r * nb, j->a.k);
}

/* part c of qparts of a single row: a range of whole blocks (each block is quantized alone) */
static void quant_part(void *ctx, int64_t c, int tid) {
    mm_job *j = ctx;
    int64_t nb = j->a.k / CLV_QK, b0 = nb * c / j->qparts, b1 = nb * (c + 1) / j->qparts;
    j->uk->lhs_quant(j->x + b0 * CLV_QK, j->xq + b0, (b1 - b0) * CLV_QK);
}

/* X's rows quantized into the scratch, which becomes the lhs. A decode's single row is cut
 * into one block range per thread from QUANT_SPLIT values: alone, one core takes ~3.5 us for
 * the 8192 values of a 1B's ffn_down input while the others wait. */
#define QUANT_SPLIT 2048
static void quantize_lhs(clv_threadpool *pool, mm_job *j, int threads, void *scratch) {
    if (j->m == 1 && threads > 1 && j->a.k >= QUANT_SPLIT) {
        j->qparts = threads;
        clv_parallel_for(pool, threads, quant_part, j);
    } else {
        j->rows_per_qchunk = j->m < 4 * threads ? 1 : 4;
        clv_parallel_for(pool, (j->m + j->rows_per_qchunk - 1) / j->rows_per_qchunk, quant_chunk, j);
    }
    j->a.lhs = scratch;
    j->a.lhs_stride = (size_t)(j->a.k / CLV_QK) * sizeof(clv_lhs_q8);
}

static void run_chunk(void *ctx, int64_t c, int tid) {
    mm_job *j = ctx;
    int64_t nbi = c / j->n_mb, mbi = c % j->n_mb;     /* neighbours share a W block (cache) */
    int64_t m0 = mbi * j->mblk, n0 = nbi * j->nblk;
    int64_t m1 = m0 + j->mblk < j->m ? m0 + j->mblk : j->m;
    int64_t n1 = n0 + j->nblk < j->a.n ? n0 + j->nblk : j->a.n;
    j->uk->run(&j->a, m0, m1, n0, n1);
}

static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* Decode: fewer rows of X than two register tiles; W is streamed, not reused from cache. */
static int is_decode(int64_t m, const clv_matmul_ukernel *uk) { return m < 2 * uk->mr; }

/* Decode (one row of X) streams W: each thread reads its own contiguous part of it. Measured on
 * qwen2.5-0.5b Q4_0, 2 threads: the layers' time per token 5-10% lower than with interleaved
 * chunks. Prefill tiles reuse W from cache and keep the plain W-block-major order. */
static void run_job(clv_threadpool *pool, int64_t m, const clv_matmul_ukernel *uk, int64_t n_chunks,
                    clv_task_fn fn, void *ctx) {
    if (is_decode(m, uk)) clv_parallel_for_ranges(pool, n_chunks, fn, ctx);
    else clv_parallel_for(pool, n_chunks, fn, ctx);
}

/* Chunking: decode (m < 2 * mr) splits N only, ~8 chunks per thread over `rows` (all the rows
 * of the job: chunks of several weights are then the same size, so the threads' contiguous
 * ranges hold the same bytes); prefill cuts 64 x 64 output tiles, W-block-major so consecutive
 * chunks reuse the same packed rows. */
static void plan_chunks(mm_job *j, int threads, int64_t rows) {
    int64_t nr = j->uk->nr, mr = j->uk->mr;
    if (is_decode(j->m, j->uk)) {
        int64_t align = clv_matmul_row_unit(j->uk, j->a.k);
        j->mblk = j->m;
        j->nblk = round_up((rows + threads * 8 - 1) / (threads * 8), align);
        if (j->nblk < 16) j->nblk = round_up(16, align);
    } else {
        /* A raw ukernel with tiles (nr > 1) re-lays each W tile per chunk on the fly: taller
         * chunks amortise that (measured, q8_0_rows_avx512 k 2048: 10% slower than q8_0x16 at
         * 64 rows, even at 256). */
        j->mblk = round_up(j->uk->raw && nr > 1 ? 256 : 64, mr);
        j->nblk = round_up(64, nr);
    }
    j->n_mb = (j->m + j->mblk - 1) / j->mblk;
}

size_t clv_matmul_scratch_size(const clv_matmul_ukernel *uk, int64_t m, int64_t k) {
    return uk->lhs_quant ? (size_t)m * (size_t)(k / CLV_QK) * sizeof(clv_lhs_q8) : 0;
}

typedef struct { const clv_matmul_ukernel *uk; const void *src; void *dst; int64_t n, k, per, tiles; } pack_job;

static void pack_chunk(void *ctx, int64_t c, int tid) {
    pack_job *j = ctx;
    int64_t t0 = c * j->per, t1 = t0 + j->per < j->tiles ? t0 + j->per : j->tiles;
    j->uk->pack(j->src, j->dst, j->n, j->k, t0, t1);
}

void clv_matmul_pack(clv_threadpool *pool, const clv_matmul_ukernel *uk, const void *src,
                     void *packed, int64_t n, int64_t k) {
    pack_job j = {uk, src, packed, n, k, uk->nr >= 16 ? 4 : 64, clv_matmul_tiles(n, uk->nr)};
    clv_parallel_for(pool, (j.tiles + j.per - 1) / j.per, pack_chunk, &j);
}

void clv_matmul(clv_threadpool *pool, const clv_matmul_ukernel *uk, const float *x, int64_t m,
                const void *packed, int64_t n, int64_t k, float *y, void *scratch) {
    if (m <= 0) return;
    int threads = clv_threadpool_size(pool);
    mm_job j = {uk, {x, (size_t)k * sizeof(float), packed, y, (size_t)n, n, k}, x, scratch, m};
    if (uk->lhs_quant) quantize_lhs(pool, &j, threads, scratch);
    plan_chunks(&j, threads, n);
    run_job(pool, m, uk, j.n_mb * ((n + j.nblk - 1) / j.nblk), run_chunk, &j);
}

/* Several weights of one ukernel and one k applied to the same X (Q/K/V, gate/up): X is
 * quantized once and the output chunks of all weights go to the pool as one job. */
typedef struct { mm_job j[CLV_MATMUL_MULTI_MAX]; int64_t first[CLV_MATMUL_MULTI_MAX + 1]; int nw; } multi_job;

static void multi_chunk(void *ctx, int64_t c, int tid) {
    multi_job *mj = ctx;
    int w = 0;
    while (c >= mj->first[w + 1]) w++;
    run_chunk(&mj->j[w], c - mj->first[w], tid);
}

void clv_matmul_multi(clv_threadpool *pool, const clv_matmul_ukernel *uk, const float *x, int64_t m,
                      int64_t k, int nw, const void *const *packed, const int64_t *n, float *const *y,
                      void *scratch) {
    if (m <= 0 || nw <= 0) return;
    if (nw > CLV_MATMUL_MULTI_MAX) {   /* more than the job holds: in groups */
        clv_matmul_multi(pool, uk, x, m, k, CLV_MATMUL_MULTI_MAX, packed, n, y, scratch);
        clv_matmul_multi(pool, uk, x, m, k, nw - CLV_MATMUL_MULTI_MAX, packed + CLV_MATMUL_MULTI_MAX,
                         n + CLV_MATMUL_MULTI_MAX, y + CLV_MATMUL_MULTI_MAX, scratch);
        return;
    }
    int threads = clv_threadpool_size(pool);
    multi_job mj;
    mj.nw = nw;
    mm_job base = {uk, {x, (size_t)k * sizeof(float), NULL, NULL, 0, 0, k}, x, scratch, m};
    if (uk->lhs_quant) quantize_lhs(pool, &base, threads, scratch);
    /* Q/K/V: with chunks of each weight's own 1/16, a thread's half of the chunk list held
     * 2.65 MB of llama-3.2-1b's 3.5 and the other stole from it in alternate chunks; measured
     * (C harness, 2 threads at ~65 GB/s): 67-74% of the read bandwidth as three weights, 80-90%
     * as one fused weight of the same bytes. */
    int64_t rows = 0;
    for (int w = 0; w < nw; w++) rows += n[w];
    mj.first[0] = 0;
    for (int w = 0; w < nw; w++) {
        mm_job *j = &mj.j[w];
        *j = base;
        j->a.packed = packed[w];
        j->a.y = y[w];
        j->a.y_stride = (size_t)n[w];
        j->a.n = n[w];
        plan_chunks(j, threads, rows);
        mj.first[w + 1] = mj.first[w] + j->n_mb * ((n[w] + j->nblk - 1) / j->nblk);
    }
    run_job(pool, m, uk, mj.first[nw], multi_chunk, &mj);
}
