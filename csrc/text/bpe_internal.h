/* The byte-level BPE tables (bpe.h) as bpe_build.c builds them and bpe.c reads them. */
#ifndef CLV_TEXT_BPE_INTERNAL_H
#define CLV_TEXT_BPE_INTERNAL_H

#include "text/utf8.h"
#include "text/bpe.h"
#include "text/hash.h"

#include <stdlib.h>
#include <string.h>
typedef struct {
    uint32_t left, right, merged;
} merge_t;

enum { PREFETCH = 16 };  /* hash-table slots are prefetched this many entries ahead */

struct clv_bpe {
    int32_t n_tok;
    uint32_t n_merges;
    unsigned char *text;   /* the token bytes, concatenated */
    uint32_t *off;         /* n_tok + 1 */
    uint32_t *vslot;       /* vocabulary hash: id + 1, 0 = empty */
    uint32_t vmask;
    merge_t *merges;       /* by rank */
    uint32_t *mslot;       /* pair hash: rank + 1, 0 = empty */
    uint32_t mmask;
    int32_t byte_id[256];  /* the token of each byte's bytes_to_unicode character, or -1 */
    unsigned char bl[256][2], bl_len[256];  /* that character's UTF-8 */
    int16_t inv[0x144];    /* bytes_to_unicode inverse: code point -> byte, or -1 */
    int ignore_merges;
    unsigned char *dup;    /* while building: bit i set = token i repeats an earlier one */
    uint64_t seed;         /* per table, random: a file cannot aim its strings at few slots */
};

/* Hashing (text/hash.h): FNV-1a from a per-table random basis, then fmix64. The pair hash mixes
 * the ids with the same seed. */
#define FNV_BASIS(b) (FNV_INIT ^ (b)->seed)

static inline uint32_t vocab_slot(const clv_bpe *b, uint64_t h) { return (uint32_t)mix64(h) & b->vmask; }

static inline uint32_t pair_hash(const clv_bpe *b, uint32_t l, uint32_t r) {
    return (uint32_t)mix64(((uint64_t)l << 32 | r) ^ b->seed) & b->mmask;
}




#define TOK(b, i) ((b)->text + (b)->off[i])
#define TOK_LEN(b, i) ((size_t)((b)->off[(i) + 1] - (b)->off[i]))

static inline int memeq(const unsigned char *a, const unsigned char *b, size_t n) {
    if (n > 16) return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* The first id of the token a ‖ c (c may be empty) whose FNV-1a hash is h, or -1. */
static inline int32_t find_h(const clv_bpe *b, uint64_t h64, const unsigned char *a, size_t na,
                      const unsigned char *c, size_t nc) {
    for (uint32_t h = vocab_slot(b, h64);; h = (h + 1) & b->vmask) {
        uint32_t v = b->vslot[h];
        if (!v) return -1;
        int32_t id = (int32_t)(v - 1);
        const unsigned char *t = TOK(b, id);
        if (TOK_LEN(b, id) == na + nc && memeq(t, a, na) && memeq(t + na, c, nc)) return id;
    }
}

static inline int32_t find2(const clv_bpe *b, const unsigned char *a, size_t na, const unsigned char *c,
                     size_t nc) {
    return find_h(b, fnv_step(fnv_step(FNV_BASIS(b), a, na), c, nc), a, na, c, nc);
}


/* The rank of merge (l, r), or -1. */
static inline int64_t pair_rank(const clv_bpe *b, uint32_t l, uint32_t r) {
    for (uint32_t h = pair_hash(b, l, r);; h = (h + 1) & b->mmask) {
        uint32_t v = b->mslot[h];
        if (!v) return -1;
        const merge_t *m = &b->merges[v - 1];
        if (m->left == l && m->right == r) return (int64_t)v - 1;
    }
}


#endif
