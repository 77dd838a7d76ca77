/* matmul.h: the matmul micro-kernel interface every variant fills (KleidiAI style).
 *
 *   Y[M, N] = X[M, K] · W[N, K]^T        X f32, W in a GGUF format, Y f32
 *
 * The ops matmul_f32, matmul_f16, matmul_bf16, matmul_q8_0, matmul_q4_0 (csrc/ops_list.h) each
 * have a variant list (clv_matmul_<type>_variants[], best first, scalar last) whose entries' `fn`
 * point at a `const clv_matmul_ukernel`. The caller (csrc/python/py_matmul.c, or any C user)
 * owns memory and threads:
 *
 *   1. packed = aligned_alloc(64, uk->packed_size(n, k));
 *      uk->pack(raw_gguf_rows, packed, n, k, t0, t1)        for tiles [t0, t1) of ceil(n / nr)
 *      (once, at load; tiles are independent, so packing may be split across threads)
 *      -- or, when uk->raw: packed = the raw GGUF rows themselves (zero-copy, e.g. straight
 *      from the memory-mapped file; any alignment, no pack call needed: pack is then a copy)
 *   2. per call, if uk->lhs_quant: quantize each row of X:  uk->lhs_quant(x_row, lhs_row, k)
 *      (rows of ceil... exactly k / 32 clv_lhs_q8 blocks; rows independent)
 *   3. uk->run(&args, m0, m1, n0, n1) on chunks of the output that cover [0,M) x [0,N);
 *      n0 is a multiple of nr, n1 is a multiple of nr or == n. Chunks are independent.
 *
 * Where things live: csrc/ukernels/matmul/matmul_<type>_<isa>.c define the ukernel structs
 * (e.g. `const clv_matmul_ukernel clv_mm_q4_0_avx512vnni`); csrc/ukernels/matmul/matmul_variants.c
 * holds the five variant tables, with the x86 entries under #if defined(__x86_64__) and the
 * Arm entries (neon_i8mm, neon_dotprod, neon) under #if defined(__aarch64__): adding a variant =
 * its file + one line there.
 *
 * Kernels allocate nothing (stack scratch only) and start no threads. A variant's file only
 * compiles with its own ISA flags (cmake/clavis_sources.cmake) and is only called when the CPU
 * has those features (clv_variant.features).
 *
 * Packing: W is cut into tiles of `nr` consecutive rows (the last tile padded with zero rows:
 * zero scales and zero quants, so a kernel may compute a whole tile and store only the rows
 * < n). Within a tile, the variant interleaves the rows however its loads want (e.g. for each
 * 32-element block: the nr fp16 scales, then the nr x 16 nibble bytes arranged so that one
 * 64-byte load feeds several rows). The layout is private to the variant; `layout` names it.
 * A packed buffer is only valid with the ukernel that packed it.
 *
 * Raw ukernels (uk->raw = 1; layouts "*_rows"): the "packed" form IS the raw GGUF rows, n rows
 * of clv_row_size(wtype, k) bytes back to back, at ANY address (GGUF data is at best 32-byte
 * aligned; raw kernels use unaligned loads only). Callers skip packing and pass the file's rows
 * (PackedWeight then keeps a reference to the mapped file instead of a copy). A raw kernel may
 * pack a few rows into a stack buffer on the fly (e.g. the prefill path of q8_0_rows_avx512vnni
 * re-lays one 16-row K-slice at a time for the x16 tile kernel); decode reads the rows directly.
 *
 * Integer paths (q8_0, q4_0): X is quantized per row into clv_lhs_q8 blocks, exactly as GGUF
 * Q8_0 (gguf-py quants.Q8_0): amax = max|x| over the 32 values, d = amax / 127 (f32),
 * id = d ? 1/d : 0, q = round-half-away-from-zero(x * id) (float product, no FMA),
 * the stored scale is fp16(d) (round to nearest even) widened back to f32; s = sum of q.
 * Every variant's lhs_quant produces identical bytes.
 *
 * RESULT CONTRACT for the integer paths — every variant is bit-identical to the scalar one:
 *   for each output (m, n):  acc = 0.0f;
 *     for each block b in order 0 .. k/32-1:
 *        isum = sum_j wq[n][b][j] * xq[m][b][j]      (exact int32; Q4_0: wq = nibble - 8,
 *                                                      i.e. isum = sum(nibble * xq) - 8 * s)
 *        acc  = acc + (dw[n][b] * dx[m][b]) * (float)isum
 *     y[m][n] = acc
 *   with each float multiply and add rounded separately (NO fused multiply-add: variants
 *   compile their float steps as mul then add, e.g. with __attribute__((optimize(
 *   "fp-contract=off"))) or explicit mul/add intrinsics that the compiler is told not to fuse).
 *   dw = the weight block's fp16 scale as f32, dx = clv_lhs_q8.d. The int32 sum may be formed
 *   in any order (integer addition is exact).
 * Float paths (f32, f16, bf16): X stays f32 (lhs_quant == NULL; args.lhs points at X);
 *   accumulation in f32 in any order; tests compare within a K-derived tolerance.
 */
#ifndef CLAVIS_UKERNELS_MATMUL_H
#define CLAVIS_UKERNELS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "clavis.h"

#define CLV_QK 32 /* elements per block of the quantized formats and of clv_lhs_q8 */

/* One 32-element block of a quantized activation row (40 bytes). */
typedef struct {
    float d;          /* fp16-rounded Q8_0 scale, as f32 */
    int32_t s;        /* sum of qs[] (folds Q4_0's -8 offset: sum((q-8)*x) = sum(q*x) - 8*s) */
    int8_t qs[CLV_QK];
} clv_lhs_q8;

/* Arguments of one run call (shared by all chunks of one matmul). */
typedef struct {
    const void *lhs;      /* f32 X rows (float paths) or clv_lhs_q8 rows (integer paths) */
    size_t lhs_stride;    /* bytes between consecutive rows of lhs */
    const void *packed;   /* W packed by this ukernel's pack (64-byte aligned), or the raw rows
                           * at any address when the ukernel is raw */
    float *y;             /* output rows */
    size_t y_stride;      /* floats between consecutive rows of y */
    int64_t n, k;         /* W is [n, k]; k % 32 == 0 for the integer paths */
} clv_matmul_args;

typedef struct clv_matmul_ukernel {
    const char *layout;   /* packing name, e.g. "q4_0x16_vnni" (reported by PackedWeight.layout) */
    int wtype;            /* clv_type of the raw rows pack() reads */
    int nr;               /* W rows per packed tile */
    int mr;               /* X rows per register tile in the prefill path (1: matvec only) */
    int kb;               /* K granularity: k must be a multiple of this (32 quantized, 1 float) */
    /* Bytes of the packed form of W[n, k] (n padded up to a multiple of nr). */
    size_t (*packed_size)(int64_t n, int64_t k);
    /* Pack tiles [t0, t1) (each nr rows) of the raw GGUF rows `src` (n rows of
     * clv_row_size(wtype, k) bytes) into `dst` (the whole packed buffer). */
    void (*pack)(const void *src, void *dst, int64_t n, int64_t k, int64_t t0, int64_t t1);
    /* Quantize one activation row of k floats into k/32 blocks; NULL for the float paths. */
    void (*lhs_quant)(const float *x, clv_lhs_q8 *dst, int64_t k);
    /* Y[m0:m1, n0:n1] for the chunk; picks the matvec path for m1 - m0 < mr internally. */
    void (*run)(const clv_matmul_args *a, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
    /* 1: runs on the raw GGUF rows at any alignment (packed_size = n * row size, pack = a copy),
     * so callers may pass the raw rows as `packed` without packing (see "Raw ukernels"). */
    int raw;
    /* Rows of W longer than slab_k are packed in slabs of slab_rows rows (0: never), which the
     * decode path reads best whole: the driver cuts decode chunks at slab boundaries then. */
    int slab_rows;
    int64_t slab_k;
} clv_matmul_ukernel;

/* Shared helpers (csrc/ukernels/matmul/matmul_common.c, portable C). */
/* Reference Q8_0 activation quantizer (the contract above); variants may reuse it. */
void clv_lhs_quant_ref(const float *x, clv_lhs_q8 *dst, int64_t k);
/* The same bytes, vectorised (matmul_lhs_avx512.c, matmul_lhs_avx2.c; x86 builds only). */
void clv_lhs_quant_avx512(const float *x, clv_lhs_q8 *dst, int64_t k);
void clv_lhs_quant_avx2(const float *x, clv_lhs_q8 *dst, int64_t k);
/* The prefill path shared by the raw ukernels: rows [n0, n1) of W (raw GGUF rows of rs bytes at
 * a->packed) in groups of up to tg tiles of nr rows; `tiles` re-lays one group and multiplies
 * X rows [m0, m1) by it (nt tiles, the last with `valid` rows; output column n). */
typedef void (*clv_raw_tiles_fn)(const clv_matmul_args *a, const uint8_t *w, size_t rs, int nt,
                                 int64_t valid, int64_t m0, int64_t m1, int64_t n);
void clv_raw_prefill(const clv_matmul_args *a, size_t rs, int64_t m0, int64_t m1, int64_t n0,
                     int64_t n1, int nr, int tg, clv_raw_tiles_fn tiles);
/* The threaded driver (matmul_run.c), for C users and the Python binding:
 *   clv_matmul_pack: pack raw GGUF rows of W[n, k] into `packed` (uk->packed_size(n, k) bytes,
 *     64-byte aligned) on the pool;
 *   clv_matmul: Y[m, n] = X[m, k] W^T on the pool; `scratch` holds the quantized activations
 *     (clv_matmul_scratch_size bytes; may be NULL when that is 0). No allocation inside. */
size_t clv_matmul_scratch_size(const clv_matmul_ukernel *uk, int64_t m, int64_t k);
void clv_matmul_pack(clv_threadpool *pool, const clv_matmul_ukernel *uk, const void *src,
                     void *packed, int64_t n, int64_t k);
void clv_matmul(clv_threadpool *pool, const clv_matmul_ukernel *uk, const float *x, int64_t m,
                const void *packed, int64_t n, int64_t k, float *y, void *scratch);

/* clv_matmul for nw weights (all packed by `uk`, all [n[i], k]) on the same X: Y_i = X W_i^T
 * into y[i] ([m, n[i]] each). X is quantized once; one pool job covers every output. */
#define CLV_MATMUL_MULTI_MAX 8
void clv_matmul_multi(clv_threadpool *pool, const clv_matmul_ukernel *uk, const float *x, int64_t m,
                      int64_t k, int nw, const void *const *packed, const int64_t *n, float *const *y,
                      void *scratch);

/* Number of tiles of nr rows covering n rows. */
static inline int64_t clv_matmul_tiles(int64_t n, int nr) { return (n + nr - 1) / nr; }

/* Rows of W[., k] that the layout keeps together: a slab for rows longer than slab_k, else a
 * tile. Decode chunks start on these; weights packed back to back whose parts are whole units
 * are, byte for byte, one weight of all their rows. */
static inline int64_t clv_matmul_row_unit(const clv_matmul_ukernel *uk, int64_t k) {
    return uk->slab_rows && k > uk->slab_k ? uk->slab_rows : uk->nr;
}

#endif /* CLAVIS_UKERNELS_MATMUL_H */
