/* Byte-level BPE: token lookup, the merge loop and decoding (see bpe.h; the tables are built
 * in bpe_build.c). */
#include "text/bpe_internal.h"

int32_t clv_bpe_token_id(const clv_bpe *b, const unsigned char *s, size_t n) {
    return find2(b, s, n, NULL, 0);
}


/* ---- encoding ----------------------------------------------------------------------------- */
typedef struct {
    uint32_t rank, pos;
} cand_t;

static int cand_less(cand_t a, cand_t b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(cand_t *h, size_t *n, cand_t c) {
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (!cand_less(c, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand_t heap_pop(cand_t *h, size_t *n) {
    cand_t top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(h[c + 1], h[c])) c++;
        if (!cand_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

/* Symbols in a linked list (prev/next indices, -1 = none); candidate merges in a min-heap by
 * (rank, position), checked when popped against the symbols as they are then (as HF's
 * Word::merge_all). */
int64_t clv_bpe_word(const clv_bpe *b, const unsigned char *s, size_t n, int32_t *out) {
    if (n == 0) return 0;
    if (n > (size_t)INT32_MAX) return -1;
    if (b->ignore_merges) {
        unsigned char small[256], *buf = n <= 128 ? small : malloc(2 * n);
        if (!buf) return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(buf + k, b->bl[s[i]], b->bl_len[s[i]]);
            k += b->bl_len[s[i]];
        }
        int32_t id = find2(b, buf, k, NULL, 0);
        if (buf != small) free(buf);
        if (id >= 0) {
            out[0] = id;
            return 1;
        }
    }
    enum { SMALL = 64 };
    int32_t sid[SMALL], sprev[SMALL], snext[SMALL];
    cand_t sheap[3 * SMALL];
    int32_t *id = sid, *prev = sprev, *next = snext;
    cand_t *heap = sheap;
    void *mem = NULL;
    if (n > SMALL) {
        mem = malloc(n * (3 * sizeof(int32_t) + 3 * sizeof(cand_t)));
        if (!mem) return -1;
        heap = mem;
        id = (int32_t *)(heap + 3 * n);
        prev = id + n;
        next = prev + n;
    }
    size_t m = 0, nh = 0;
    for (size_t i = 0; i < n; i++)
        if (b->byte_id[s[i]] >= 0) id[m++] = b->byte_id[s[i]];
    for (size_t i = 0; i < m; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
        int64_t r = i + 1 < m ? pair_rank(b, (uint32_t)id[i], (uint32_t)id[i + 1]) : -1;
        if (r >= 0) heap_push(heap, &nh, (cand_t){(uint32_t)r, (uint32_t)i});
    }
    while (nh) {
        cand_t c = heap_pop(heap, &nh);
        int32_t p = (int32_t)c.pos, q = next[p];
        const merge_t *mg = &b->merges[c.rank];
        if (id[p] < 0 || q < 0 || (uint32_t)id[p] != mg->left || (uint32_t)id[q] != mg->right)
            continue;  /* stale: a symbol of this pair was merged since */
        id[p] = (int32_t)mg->merged;
        id[q] = -1;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        if (prev[p] >= 0) {
            int64_t r = pair_rank(b, (uint32_t)id[prev[p]], (uint32_t)id[p]);
            if (r >= 0) heap_push(heap, &nh, (cand_t){(uint32_t)r, (uint32_t)prev[p]});
        }
        if (next[p] >= 0) {
            int64_t r = pair_rank(b, (uint32_t)id[p], (uint32_t)id[next[p]]);
            if (r >= 0) heap_push(heap, &nh, (cand_t){(uint32_t)r, (uint32_t)p});
        }
    }
    int64_t k = 0;
    for (int32_t i = m ? 0 : -1; i >= 0; i = next[i]) out[k++] = id[i];
    free(mem);
    return k;
}

/* ---- decoding ----------------------------------------------------------------------------- */
size_t clv_bpe_decode(const clv_bpe *b, const int32_t *ids, size_t n, unsigned char *out) {
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        const unsigned char *t = TOK(b, ids[k]);
        size_t len = TOK_LEN(b, ids[k]), nb = 0, i = 0;
        uint32_t cp;
        while (i < len) {  /* all characters from bytes_to_unicode? */
            int l = utf8_len(t + i, len - i, &cp);
            if (!l || cp >= 0x144 || b->inv[cp] < 0) break;
            if (out) out[total + nb] = (unsigned char)b->inv[cp];
            nb++;
            i += (size_t)l;
        }
        if (i < len) {  /* no: the token's own bytes */
            if (out) memcpy(out + total, t, len);
            nb = len;
        }
        total += nb;
    }
    return total;
}
