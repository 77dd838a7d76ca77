/* fp16.h: portable IEEE half <-> float conversions (round to nearest even, like NumPy's
 * astype(np.float16) and F16C's vcvtps2ph). Shared by the formats and the portable kernels. */
#ifndef CLAVIS_FORMATS_FP16_H
#define CLAVIS_FORMATS_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t clv_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float clv_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float clv_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {                        /* zero or subnormal: mant * 2^-24, exact in f32 */
        float v = (float)mant * 5.9604644775390625e-8f;
        return clv_bits_f32(clv_f32_bits(v) | sign);
    }
    if (exp == 31) return clv_bits_f32(sign | 0x7f800000u | (mant << 13));   /* inf / nan */
    return clv_bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

/* Shift right by s (1..31) rounding to nearest, ties to even. */
static inline uint32_t clv_shr_rne(uint32_t v, int s) {
    uint32_t q = v >> s, rem = v & ((1u << s) - 1), half = 1u << (s - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

static inline uint16_t clv_fp32_to_fp16(float f) {
    uint32_t x = clv_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00 | (uint16_t)((ax >> 13) & 0x3ff);   /* nan */
    if (ax >= 0x47800000u) return sign | 0x7c00;             /* >= 65536 (or inf): inf */
    if (ax < 0x38800000u) {                                  /* below 2^-14: f16 subnormal */
        int shift = 126 - (int)(ax >> 23);                   /* units of 2^-24 */
        if (shift > 31) return sign;
        return sign | (uint16_t)clv_shr_rne((ax & 0x7fffffu) | 0x800000u, shift);
    }
    return sign | (uint16_t)clv_shr_rne(ax - 0x38000000u, 13);   /* rebias 127 -> 15 */
}

/* bf16 exactly as ggml_compute_fp32_to_bf16 / gguf-py: quiet NaNs, round to nearest even. */
static inline uint16_t clv_fp32_to_bf16(float f) {
    uint32_t u = clv_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) u = (u & 0xffff0000u) | (64u << 16);
    return (uint16_t)(((uint64_t)u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}
static inline float clv_bf16_to_fp32(uint16_t h) { return clv_bits_f32((uint32_t)h << 16); }

#endif
