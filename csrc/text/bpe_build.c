/* Building the byte-level BPE tables (bpe.h) from GGUF string arrays.
 *
 * Memory (n tokens, m merges, T bytes of token text): the token text (T) and its offsets (4n),
 * a vocabulary hash of uint32 slots (4 x the power of two >= 1.5n), the merges by rank as
 * (left, right, merged id) (12m) and a pair hash of uint32 slots (4 x the power of two
 * >= 1.5m). For Qwen2.5 (152k tokens, 151k merges) about 5 MB. */
#include "text/bpe_internal.h"

#include "clavis.h"

#include <time.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

static uint64_t str_len(const unsigned char *buf, const int64_t *off, int64_t i) {
    return (uint64_t)(off[i + 1] - off[i] - 8);
}

/* A seed no file can predict: the kernel's random bytes, else the clock and an address. */
static uint64_t random_seed(const void *addr) {
    uint64_t s = 0;
#if defined(__linux__)
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) == (ssize_t)sizeof s) return s;
#endif
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return mix64((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)(uintptr_t)addr);
}

static uint32_t pow2_slots(uint64_t n) {
    uint64_t cap = 16;
    while (cap < n + n / 2) cap *= 2;
    return (uint32_t)cap;
}


static int valid_utf8(const unsigned char *s, size_t n) {
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ULL))) {
            i += 8;  /* 8 ASCII bytes */
            continue;
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int len = utf8_len(s + i, n - i, &cp);
        if (!len) return 0;
        i += (size_t)len;
    }
    return 1;
}


/* ---- building ----------------------------------------------------------------------------- */
static void byte_tables(clv_bpe *b) {
    int extra = 0;
    for (int i = 0; i < 0x144; i++) b->inv[i] = -1;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
        uint32_t cp = keep ? (uint32_t)c : 256u + (uint32_t)extra++;
        b->inv[cp] = (int16_t)c;
        if (cp < 0x80) {
            b->bl[c][0] = (unsigned char)cp;
            b->bl_len[c] = 1;
        } else {
            b->bl[c][0] = (unsigned char)(0xC0 | (cp >> 6));
            b->bl[c][1] = (unsigned char)(0x80 | (cp & 0x3F));
            b->bl_len[c] = 2;
        }
        b->byte_id[c] = find2(b, b->bl[c], b->bl_len[c], NULL, 0);
    }
}

/* The UTF-8 check of the tokens: chunks of CHECK_CHUNK strings in parallel, each noting its
 * first invalid string. */
enum { CHECK_CHUNK = 8192 };
typedef struct {
    const unsigned char *buf;
    const int64_t *off;
    int64_t n, *bad_at;
} check_job;

static void check_chunk(void *ctx, int64_t chunk, int thread_id) {
    check_job *j = ctx;
    int64_t lo = chunk * CHECK_CHUNK, hi = lo + CHECK_CHUNK < j->n ? lo + CHECK_CHUNK : j->n;
    j->bad_at[chunk] = -1;
    for (int64_t i = lo; i < hi && j->bad_at[chunk] < 0; i++)
        if (!valid_utf8(j->buf + j->off[i] + 8, (size_t)str_len(j->buf, j->off, i)))
            j->bad_at[chunk] = i;
}

static int check_tokens(const unsigned char *tbuf, const int64_t *toff, int64_t n,
                        clv_threadpool *pool, int64_t *where) {
    int64_t n_chunks = (n + CHECK_CHUNK - 1) / CHECK_CHUNK;
    check_job job = {tbuf, toff, n, malloc(((size_t)n_chunks + 1) * sizeof(int64_t))};
    if (!job.bad_at) return CLV_BPE_NOMEM;
    if (pool && n_chunks > 1) {
        clv_parallel_for(pool, n_chunks, check_chunk, &job);
    } else {
        for (int64_t c = 0; c < n_chunks; c++) check_chunk(&job, c, 0);
    }
    int rc = CLV_BPE_OK;
    for (int64_t c = 0; c < n_chunks && !rc; c++)
        if (job.bad_at[c] >= 0) {
            *where = job.bad_at[c];
            rc = CLV_BPE_TOKEN_UTF8;
        }
    free(job.bad_at);
    return rc;
}

static int build_vocab(clv_bpe *b, const unsigned char *tbuf, const int64_t *toff, int64_t n,
                       int check_utf8, clv_threadpool *pool, int64_t *where) {
    int rc = check_utf8 ? check_tokens(tbuf, toff, n, pool, where) : CLV_BPE_OK;
    if (rc) return rc;
    uint64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += str_len(tbuf, toff, i);
    if (total >= UINT32_MAX) return CLV_BPE_TOO_BIG;
    b->n_tok = (int32_t)n;
    b->text = malloc(total ? total : 1);
    b->off = malloc(((size_t)n + 1) * sizeof(uint32_t));
    uint32_t cap = pow2_slots((uint64_t)n);
    b->vslot = calloc(cap, sizeof(uint32_t));
    b->vmask = cap - 1;
    b->dup = calloc((size_t)n / 8 + 1, 1);
    if (!b->text || !b->off || !b->vslot || !b->dup) return CLV_BPE_NOMEM;
    uint32_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len = (size_t)str_len(tbuf, toff, i);
        memcpy(b->text + at, tbuf + toff[i] + 8, len);
        b->off[i] = at;
        at += (uint32_t)len;
    }
    b->off[n] = at;
    uint32_t *hv = malloc(((size_t)n + 1) * sizeof(uint32_t));  /* the slot each token hashes to */
    if (!hv) return CLV_BPE_NOMEM;
    for (int64_t i = 0; i < n; i++)
        hv[i] = vocab_slot(b, fnv_step(FNV_BASIS(b), TOK(b, i), TOK_LEN(b, i)));
    for (int32_t i = 0; i < (int32_t)n; i++) {
        if (i + PREFETCH < n) __builtin_prefetch(&b->vslot[hv[i + PREFETCH]], 1);
        for (uint32_t h = hv[i];; h = (h + 1) & b->vmask) {
            uint32_t v = b->vslot[h];
            if (!v) {
                b->vslot[h] = (uint32_t)i + 1;
                break;
            }
            if (TOK_LEN(b, v - 1) == TOK_LEN(b, i) && memeq(TOK(b, v - 1), TOK(b, i), TOK_LEN(b, i))) {
                b->dup[i >> 3] |= (unsigned char)(1u << (i & 7));  /* keeps the first id */
                break;
            }
        }
    }
    free(hv);
    return CLV_BPE_OK;
}

/* Merge "left right" -> *m; a status code. The merged token of the merge before (`guess`)
 * and the token after it are tried first (files list the merges in the order of the tokens
 * they make). */
typedef struct {
    const unsigned char *s, *sp;  /* the merge text, its space (NULL: not exactly one) */
    size_t n;
    uint64_t hl, hr;  /* FNV-1a of the two halves */
} merge_text;

static void merge_split(const clv_bpe *b, const unsigned char *s, size_t n, merge_text *t) {
    const unsigned char *sp = NULL;  /* one pass: the space(s) and the two halves' hashes */
    uint64_t h = FNV_BASIS(b), hl = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            if (sp) {
                sp = NULL;
                break;
            }
            sp = s + i;
            hl = h;
            h = FNV_BASIS(b);
            continue;
        }
        h = (h ^ s[i]) * 1099511628211ULL;
    }
    *t = (merge_text){s, sp, n, hl, h};
    if (!sp) return;
    __builtin_prefetch(&b->vslot[vocab_slot(b, t->hl)]);
    __builtin_prefetch(&b->vslot[vocab_slot(b, t->hr)]);
}

static int parse_merge(const clv_bpe *b, const merge_text *t, merge_t *m, int32_t guess) {
    const unsigned char *s = t->s, *sp = t->sp;
    if (!sp) return CLV_BPE_BAD_MERGE;
    size_t nl = (size_t)(sp - s), nr = t->n - nl - 1;
    int32_t l = find_h(b, t->hl, s, nl, NULL, 0);
    int32_t r = l < 0 ? -1 : find_h(b, t->hr, sp + 1, nr, NULL, 0);
    if (l < 0 || r < 0) return CLV_BPE_BAD_MERGE;
    int32_t id = -1;
    for (int32_t g = guess; g <= guess + 1 && id < 0 && guess >= 0; g++)
        if (g < b->n_tok && TOK_LEN(b, g) == nl + nr && !(b->dup[g >> 3] >> (g & 7) & 1) &&
            memeq(TOK(b, g), s, nl) && memeq(TOK(b, g) + nl, sp + 1, nr))
            id = g;
    if (id < 0) id = find2(b, s, nl, sp + 1, nr);
    if (id < 0) return CLV_BPE_MERGE_RESULT;
    m->left = (uint32_t)l;
    m->right = (uint32_t)r;
    m->merged = (uint32_t)id;
    return CLV_BPE_OK;
}

/* Parsing the merges: chunks of MERGE_CHUNK merges, in parallel; each chunk notes its first
 * bad merge. */
enum { MERGE_CHUNK = 4096 };
typedef struct {
    clv_bpe *b;
    const unsigned char *mbuf;
    const int64_t *moff;
    int64_t n;
    int check_utf8;
    int64_t *bad_at;  /* per chunk: the first bad merge, or -1 */
    int *bad_rc;
} merge_job;

static void parse_chunk(void *ctx, int64_t chunk, int thread_id) {
    merge_job *j = ctx;
    int64_t lo = chunk * MERGE_CHUNK, hi = lo + MERGE_CHUNK < j->n ? lo + MERGE_CHUNK : j->n;
    int32_t guess = -1;
    j->bad_at[chunk] = -1;
    merge_text batch[PREFETCH];  /* split and hashed (slots prefetched) a batch ahead */
    for (int64_t at = lo; at < hi; at += PREFETCH) {
        int64_t end = at + PREFETCH < hi ? at + PREFETCH : hi;
        for (int64_t i = at; i < end; i++) {
            const unsigned char *s = j->mbuf + j->moff[i] + 8;
            size_t len = (size_t)str_len(j->mbuf, j->moff, i);
            if (j->check_utf8 && !valid_utf8(s, len)) {
                j->bad_at[chunk] = i;
                j->bad_rc[chunk] = CLV_BPE_MERGE_UTF8;
                end = i;  /* the merges before it still count (an earlier one may be bad) */
                break;
            }
            merge_split(j->b, s, len, &batch[i - at]);
        }
        for (int64_t i = at; i < end; i++) {
            int rc = parse_merge(j->b, &batch[i - at], &j->b->merges[i], guess);
            if (rc) {
                j->bad_at[chunk] = i;
                j->bad_rc[chunk] = rc;
                return;
            }
            guess = (int32_t)j->b->merges[i].merged;
        }
        if (j->bad_at[chunk] >= 0) return;
    }
}

static int build_merges(clv_bpe *b, const unsigned char *mbuf, const int64_t *moff, int64_t n,
                        int check_utf8, clv_threadpool *pool, int64_t *where) {
    b->n_merges = (uint32_t)n;
    b->merges = malloc(((size_t)n + 1) * sizeof(merge_t));
    uint32_t cap = pow2_slots((uint64_t)n);
    b->mslot = calloc(cap, sizeof(uint32_t));
    b->mmask = cap - 1;
    int64_t n_chunks = (n + MERGE_CHUNK - 1) / MERGE_CHUNK;
    int64_t *bad_at = malloc(((size_t)n_chunks + 1) * sizeof(int64_t));
    int *bad_rc = malloc(((size_t)n_chunks + 1) * sizeof(int));
    if (!b->merges || !b->mslot || !bad_at || !bad_rc) {
        free(bad_at);
        free(bad_rc);
        return CLV_BPE_NOMEM;
    }
    merge_job job = {b, mbuf, moff, n, check_utf8, bad_at, bad_rc};
    if (pool && n_chunks > 1) {
        clv_parallel_for(pool, n_chunks, parse_chunk, &job);
    } else {
        for (int64_t c = 0; c < n_chunks; c++) parse_chunk(&job, c, 0);
    }
    int rc = CLV_BPE_OK;
    for (int64_t c = 0; c < n_chunks && !rc; c++) {
        if (bad_at[c] >= 0) {
            *where = bad_at[c];
            rc = bad_rc[c];
        }
    }
    free(bad_at);
    free(bad_rc);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++) {
        const merge_t *m = &b->merges[i];
        if (i + PREFETCH < n) {
            const merge_t *ahead = &b->merges[i + PREFETCH];
            __builtin_prefetch(&b->mslot[pair_hash(b, ahead->left, ahead->right)], 1);
        }
        for (uint32_t h = pair_hash(b, m->left, m->right);; h = (h + 1) & b->mmask) {
            uint32_t v = b->mslot[h];
            if (!v) {
                b->mslot[h] = (uint32_t)i + 1;
                break;
            }
            if (b->merges[v - 1].left == m->left && b->merges[v - 1].right == m->right)
                break;  /* a repeated merge keeps its first rank, as llama.cpp */
        }
    }
    return CLV_BPE_OK;
}

int clv_bpe_new(const unsigned char *tbuf, const int64_t *toff, int64_t n_tokens,
                const unsigned char *mbuf, const int64_t *moff, int64_t n_merges,
                int ignore_merges, int check_utf8, clv_threadpool *pool, clv_bpe **out,
                int64_t *where) {
    *out = NULL;
    *where = -1;
    if (n_tokens < 0 || n_merges < 0 || n_tokens > (1 << 30) || n_merges > (1 << 30))
        return CLV_BPE_TOO_BIG;
    clv_bpe *b = calloc(1, sizeof(*b));
    if (!b) return CLV_BPE_NOMEM;
    b->ignore_merges = ignore_merges;
    b->seed = random_seed(b);
    int rc = build_vocab(b, tbuf, toff, n_tokens, check_utf8, pool, where);
    if (!rc) {
        byte_tables(b);
        rc = build_merges(b, mbuf, moff, n_merges, check_utf8, pool, where);
    }
    free(b->dup);
    b->dup = NULL;
    if (rc) {
        clv_bpe_free(b);
        return rc;
    }
    *out = b;
    return CLV_BPE_OK;
}

void clv_bpe_free(clv_bpe *b) {
    if (!b) return;
    free(b->text);
    free(b->off);
    free(b->vslot);
    free(b->merges);
    free(b->mslot);
    free(b);
}

size_t clv_bpe_nbytes(const clv_bpe *b) {
    return sizeof(*b) + b->off[b->n_tok] + ((size_t)b->n_tok + 1) * 4 + ((size_t)b->vmask + 1) * 4
         + ((size_t)b->n_merges + 1) * sizeof(merge_t) + ((size_t)b->mmask + 1) * 4;
}

int32_t clv_bpe_n_tokens(const clv_bpe *b) { return b->n_tok; }

