/* UTF-8 validation shared by the tokenizer tables (bpe_build.c, bpe.c) and the GGUF string
 * helpers of the Python binding (py_text.c). */
#ifndef CLV_TEXT_UTF8_H
#define CLV_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid shortest-form UTF-8 sequence at s[0..n) (no surrogates), or 0. */
static inline int utf8_len(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
            : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)len > n) return 0;
    uint32_t v = len == 1 ? c : c & (0x7Fu >> len);
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

#endif
