/* clavis.h: the public C API of the clavis kernel core.
 *
 * Usable without Python: link the objects built from csrc/ (everything but csrc/python/).
 * Kernels never allocate and never start threads; the caller (the runtime) owns memory and
 * the thread pool and hands kernels work in chunks.
 */
#ifndef CLAVIS_H
#define CLAVIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- element types
 * Values equal GGML's type ids, so a GGUF tensor's type maps directly. */
typedef enum {
    CLV_TYPE_F32  = 0,
    CLV_TYPE_F16  = 1,
    CLV_TYPE_Q4_0 = 2,
    CLV_TYPE_Q8_0 = 8,
    CLV_TYPE_BF16 = 30,
    CLV_TYPE_COUNT = 40
} clv_type;

/* One entry per format; a new format (K-quants ...) is a new file in csrc/formats/ plus one line
 * in the table in csrc/formats/types.c. */
typedef struct {
    const char *name;     /* "q4_0" */
    int64_t blck_size;    /* elements per block (1 for float types) */
    size_t type_size;     /* bytes per block */
    void (*to_float)(const void *src, float *dst, int64_t n);     /* n % blck_size == 0 */
    void (*from_float)(const float *src, void *dst, int64_t n);   /* reference quantizer, gguf-py exact */
} clv_type_traits;

/* NULL if the type is not supported. */
const clv_type_traits *clv_type_get(int type);
/* Bytes of one row of n elements (n must be a multiple of blck_size); 0 if invalid. */
size_t clv_row_size(int type, int64_t n);

/* ---------------------------------------------------------------- CPU features */
enum {
    CLV_CPU_AVX2        = 1u << 0,   /* with FMA and F16C */
    CLV_CPU_AVX512      = 1u << 1,   /* F + BW + VL + DQ */
    CLV_CPU_AVX512VNNI  = 1u << 2,
    CLV_CPU_AVX512BF16  = 1u << 3,
    CLV_CPU_AVXVNNI     = 1u << 4,
    CLV_CPU_NEON        = 1u << 8,
    CLV_CPU_DOTPROD     = 1u << 9,
    CLV_CPU_I8MM        = 1u << 10,
    CLV_CPU_FP16        = 1u << 11,  /* Arm FP16 arithmetic */
};

/* Features detected on this CPU (CPUID+XGETBV on x86, HWCAP on Arm). */
uint32_t clv_cpu_detected(void);
/* Detected features minus those disabled by CLAVIS_DISABLE_CPU_FEATURES
 * ("avx512,avx2", "all", ...). Disabling a feature disables every feature above it. */
uint32_t clv_cpu_enabled(void);
/* Name of a single feature bit ("avx2"), or NULL. */
const char *clv_cpu_feature_name(uint32_t bit);
/* Number of physical cores (best effort; >= 1). */
int clv_cpu_physical_cores(void);
/* Bytes ahead of its position a decode matvec (one row of X) software-prefetches in a packed
 * quantized weight stream (0: none, the hardware prefetchers alone). The default is the CPU's:
 * 6144 on AMD family 0x1A (Zen 5), where it made 1B and 7B Q4_0 decodes 8-13% faster in fast
 * memory; 0 elsewhere (on Zen 4, 1 KiB ahead was 17% slower). CLAVIS_DECODE_PREFETCH=<bytes>
 * overrides it. */
int clv_decode_prefetch(void);
void clv_set_decode_prefetch(int bytes);

/* ---------------------------------------------------------------- thread pool
 * Persistent workers. clv_parallel_for hands out chunk indices [0, n_chunks) from an atomic
 * counter; the calling thread works too. Returns when every chunk is done. */
typedef struct clv_threadpool clv_threadpool;
typedef void (*clv_task_fn)(void *ctx, int64_t chunk, int thread_id);

clv_threadpool *clv_threadpool_create(int n_threads);
void clv_threadpool_destroy(clv_threadpool *pool);
int clv_threadpool_size(const clv_threadpool *pool);
void clv_parallel_for(clv_threadpool *pool, int64_t n_chunks, clv_task_fn fn, void *ctx);
/* The same contract (every chunk runs exactly once), but the chunks are cut into T contiguous
 * ranges, [r * n / T, (r + 1) * n / T), one pool task each: a thread walks its range in order and
 * then takes what is left of the others'. For streaming work (a decode matvec) each thread then reads one linear
 * stream instead of every other chunk, which the hardware prefetchers follow. */
void clv_parallel_for_ranges(clv_threadpool *pool, int64_t n_chunks, clv_task_fn fn, void *ctx);

/* ---------------------------------------------------------------- op variants and dispatch
 * Every op has a list of variants, best first, each with the CPU features it needs; the scalar
 * reference needs none and is always last. Dispatch picks the first variant whose features are
 * enabled, once, at clv_dispatch_init(). `fn` points at an op-specific struct or function. */
typedef struct {
    const char *name;        /* "avx512vnni", "avx2", "neon_dotprod", "scalar" ... */
    uint32_t features;       /* required CLV_CPU_* bits */
    const void *fn;
} clv_variant;

typedef struct {
    const char *op;                  /* "matmul_q4_0", "rms_norm" ... */
    const clv_variant *variants;     /* terminated by an entry with name == NULL */
    const void **slot;               /* where the chosen variant's fn is stored */
    const char **chosen;             /* where the chosen variant's name is stored */
} clv_op;

void clv_dispatch_init(void);
int clv_op_count(void);
const clv_op *clv_op_at(int i);
const clv_op *clv_op_find(const char *op);
/* Point `op` at the named variant. Returns 0 on success, -1 if unknown or not supported here. */
int clv_op_force(const char *op, const char *variant);
/* Is this variant runnable on this CPU with the enabled features? */
int clv_variant_supported(const clv_variant *v);

#ifdef __cplusplus
}
#endif
#endif /* CLAVIS_H */
