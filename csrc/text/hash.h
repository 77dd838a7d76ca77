/* String hashing for the tokenizer tables (bpe_internal.h, the piece set in
 * csrc/python/py_text.c): FNV-1a over the bytes, started from a per-table basis, then a full
 * avalanche mix (MurmurHash3's fmix64) before a slot is taken from it. With plain FNV-1a the low
 * bits of the hash depend only on the low bits of the state, so a crafted vocabulary could put
 * all its strings in a few slots and make a build quadratic (measured by review: 150k such
 * tokens took 26 s). */
#ifndef CLV_TEXT_HASH_H
#define CLV_TEXT_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t fnv_step(uint64_t h, const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}
#define FNV_INIT 1469598103934665603ULL

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

#endif
