/* A persistent thread pool. Work is handed out in chunks through an atomic counter, so faster
 * cores simply take more chunks. Workers spin briefly after a job (decode issues many small jobs
 * back to back), then sleep on a condition variable. */
#include "clavis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_ITERS 20000

struct clv_threadpool {
    int n_threads;               /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the current job */
    clv_task_fn fn;
    void *ctx;
    int64_t n_chunks;
    atomic_int_fast64_t next;    /* next chunk to hand out */
    atomic_int pending;          /* workers still inside the current job */
    atomic_uint generation;      /* bumped once per job */
    atomic_int stop;
    atomic_int sleepers;         /* workers blocked (or about to block) on cv */
    pthread_mutex_t job_mu;      /* one job at a time per pool */
};

typedef struct { clv_threadpool *pool; int id; } worker_arg;

static void run_chunks(clv_threadpool *p, int id) {
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (c >= p->n_chunks) break;
        p->fn(p->ctx, c, id);
    }
}

static void *worker_main(void *argp) {
    worker_arg *arg = argp;
    clv_threadpool *p = arg->pool;
    int id = arg->id;
    free(arg);
    unsigned seen = 0;   /* the pool starts at generation 0; reading it here instead would miss a
                            job posted before this thread first ran, and hang its caller */
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins < SPIN_ITERS) { CPU_RELAX(); continue; }
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);   /* seq_cst: pairs with the poster's check */
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load(&p->generation);
        run_chunks(p, id);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

clv_threadpool *clv_threadpool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    clv_threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->job_mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->sleepers, 0);
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        a->pool = p;
        a->id = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            p->n_threads = i;   /* run with what we got */
            break;
        }
    }
    return p;
}

void clv_threadpool_destroy(clv_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->job_mu);
    free(p->threads);
    free(p);
}

int clv_threadpool_size(const clv_threadpool *p) { return p ? p->n_threads : 1; }

void clv_parallel_for(clv_threadpool *p, int64_t n_chunks, clv_task_fn fn, void *ctx) {
    if (n_chunks <= 0) return;
    if (!p || p->n_threads == 1 || n_chunks == 1) {
        for (int64_t c = 0; c < n_chunks; c++) fn(ctx, c, 0);
        return;
    }
    pthread_mutex_lock(&p->job_mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_chunks = n_chunks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
    /* Wake sleepers only if there are any: spinning workers just see the new generation. */
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    run_chunks(p, 0);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) CPU_RELAX();
    pthread_mutex_unlock(&p->job_mu);
}
