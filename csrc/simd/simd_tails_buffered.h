/* Partial-vector loads and stores through a stack buffer, for ISAs without masked memory
 * operations (AVX2, NEON; AVX-512 uses masks instead). Included by an ISA header after it has
 * defined VW, VF, vload, vstore and vload_f16. */
#ifndef CLV_SIMD_TAILS_BUFFERED_H
#define CLV_SIMD_TAILS_BUFFERED_H

static inline VF vloadn(const float *p, int64_t n, float fill) {
    float b[VW];
    for (int i = 0; i < VW; i++) b[i] = i < n ? p[i] : fill;
    return vload(b);
}
static inline void vstoren(float *p, VF v, int64_t n) {
    float b[VW];
    vstore(b, v);
    memcpy(p, b, (size_t)n * sizeof(float));
}
static inline VF vloadn_f16(const uint16_t *p, int64_t n) {
    uint16_t b[VW] = {0};
    memcpy(b, p, (size_t)n * sizeof(uint16_t));
    return vload_f16(b);
}
static inline void vstoren_f16(uint16_t *p, VF v, int64_t n) {
    uint16_t b[VW];
    vstore_f16(b, v);
    memcpy(p, b, (size_t)n * sizeof(uint16_t));
}

#endif
