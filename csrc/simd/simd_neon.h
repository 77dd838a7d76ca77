/* The vector abstraction for AArch64 NEON (4 float lanes); see simd_avx2.h. */
#ifndef CLV_SIMD_NEON_H
#define CLV_SIMD_NEON_H
#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "simd_neon.h is for AArch64 NEON (name the file *_neon.c)"
#endif
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#ifndef CLV_ISA
#define CLV_ISA neon
#endif
typedef float32x4_t VF;
#define VW 4
#define VREGS 32   /* vector registers */

static inline VF vzero(void) { return vdupq_n_f32(0.0f); }
static inline VF vset1(float f) { return vdupq_n_f32(f); }
static inline VF vload(const float *p) { return vld1q_f32(p); }
static inline void vstore(float *p, VF v) { vst1q_f32(p, v); }
static inline VF vadd(VF a, VF b) { return vaddq_f32(a, b); }
static inline VF vsub(VF a, VF b) { return vsubq_f32(a, b); }
static inline VF vmul(VF a, VF b) { return vmulq_f32(a, b); }
static inline VF vdiv(VF a, VF b) { return vdivq_f32(a, b); }
static inline VF vfma(VF a, VF b, VF c) { return vfmaq_f32(c, a, b); }
static inline VF vfnma(VF a, VF b, VF c) { return vfmsq_f32(c, a, b); }
static inline VF vmax(VF a, VF b) { return vmaxq_f32(a, b); }
static inline VF vmin(VF a, VF b) { return vminq_f32(a, b); }
static inline VF vabs(VF a) { return vabsq_f32(a); }
static inline VF vcopysign(VF mag, VF sgn) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sgn, mag);
}
static inline VF vround(VF a) { return vrndnq_f32(a); }
static inline VF vpow2i(VF n) {
    int32x4_t e = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
}
static inline VF vzero_below(VF r, VF x, float lo) {   /* 0 where x < lo, else r */
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(r), vcltq_f32(x, vdupq_n_f32(lo))));
}
static inline VF vkeepn(VF v, int64_t n) {
    const uint32_t idx[4] = {0, 1, 2, 3};
    uint32x4_t m = vcltq_u32(vld1q_u32(idx), vdupq_n_u32((uint32_t)(n > 4 ? 4 : n)));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m));
}
static inline float vhsum(VF v) { return vaddvq_f32(v); }
static inline float vhmax(VF v) { return vmaxvq_f32(v); }
/* out[0..3] = horizontal sums of a, b, c, d */
static inline void vhsum4(VF a, VF b, VF c, VF d, float *out) {
    vst1q_f32(out, vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d)));
}
/* lane t of the result = horizontal sum of a[t], t < 4 */
static inline VF vhsum_lanes(const VF *a) { return vpaddq_f32(vpaddq_f32(a[0], a[1]), vpaddq_f32(a[2], a[3])); }
static inline VF vswap_pairs(VF a) { return vrev64q_f32(a); }
static inline VF vload_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline void vstore_f16(uint16_t *p, VF v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
#include "simd_tails_buffered.h"

#include "simd_common.h"
#endif
