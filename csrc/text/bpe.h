/* Byte-level BPE (GPT-2 style, GGUF tokenizer.ggml.model = "gpt2"): the vocabulary and the
 * merges table in compact C arrays, built in one pass over the GGUF string arrays.
 *
 * Strings come in the GGUF layout: string i is an 8-byte little-endian length at buf + off[i]
 * followed by its bytes; off[n] is the end (as gguf_string_offsets in csrc/python/py_text.c
 * makes them). Token ids are int32. Repeats, which real files do not have, follow the references
 * differently: a repeated token string keeps its first id (as HF; llama.cpp keeps the last), a
 * repeated merge keeps its first rank (as llama.cpp; HF keeps the last).
 *
 * Encoding one pre-token (its UTF-8 bytes): each byte becomes the token of its GPT-2
 * bytes_to_unicode character (a byte without one is dropped, as HF tokenizers does), then the
 * lowest-ranked applicable merge applies, leftmost first, until none does. With ignore_merges a
 * pre-token whose byte-level string is a token is that token.
 *
 * clv_bpe_new parses the merges on `pool` (NULL: on the calling thread); *where is the index of
 * the bad token or merge a status other than OK/NOMEM/TOO_BIG names (the first such). */
#ifndef CLV_TEXT_BPE_H
#define CLV_TEXT_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct clv_bpe clv_bpe;
struct clv_threadpool;

enum {
    CLV_BPE_OK = 0,
    CLV_BPE_NOMEM,          /* out of memory */
    CLV_BPE_TOKEN_UTF8,     /* token *where is not valid UTF-8 (only when check_utf8) */
    CLV_BPE_MERGE_UTF8,     /* merge *where is not valid UTF-8 (only when check_utf8) */
    CLV_BPE_BAD_MERGE,      /* merge *where is not "left right" with both halves tokens */
    CLV_BPE_MERGE_RESULT,   /* merge *where: left+right is not a token */
    CLV_BPE_TOO_BIG,        /* more than 2^30 tokens or merges, or 4 GiB of token text */
};

int clv_bpe_new(const unsigned char *tbuf, const int64_t *toff, int64_t n_tokens,
                const unsigned char *mbuf, const int64_t *moff, int64_t n_merges,
                int ignore_merges, int check_utf8, struct clv_threadpool *pool, clv_bpe **out,
                int64_t *where);
void clv_bpe_free(clv_bpe *b);

/* Bytes held by the tables. */
size_t clv_bpe_nbytes(const clv_bpe *b);
int32_t clv_bpe_n_tokens(const clv_bpe *b);

/* The first id of the token with exactly these bytes, or -1. */
int32_t clv_bpe_token_id(const clv_bpe *b, const unsigned char *s, size_t n);

/* The ids of one pre-token; out has room for n ids. Returns the count, or -1 (no memory, or a
 * pre-token of 2^31 bytes or more: the merge loop's indices are int32). */
int64_t clv_bpe_word(const clv_bpe *b, const unsigned char *s, size_t n, int32_t *out);

/* The bytes of tokens ids[0..n) as HF's ByteLevel decoder gives them (a token whose characters
 * all come from bytes_to_unicode: those bytes; any other token: its own UTF-8), written to out
 * when out is not NULL. Returns the byte count. Ids must be inside the vocabulary. */
size_t clv_bpe_decode(const clv_bpe *b, const int32_t *ids, size_t n, unsigned char *out);

#endif
