/* Math written once on top of the per-ISA primitives (simd_avx2.h, simd_avx512.h, simd_neon.h):
 * exp, SiLU, erf, GELU, and tail-safe loads/stores. Included at the end of each ISA header. */
#ifndef CLV_SIMD_COMMON_H
#define CLV_SIMD_COMMON_H

#define CLV_CAT2(a, b) a##_##b
#define CLV_CAT(a, b) CLV_CAT2(a, b)
/* The exported name of a generic body compiled for this ISA: CLV_SIMD_FN(clv_gelu) -> clv_gelu_avx2 */
#define CLV_SIMD_FN(name) CLV_CAT(name, CLV_ISA)

/* full vector when n >= VW, else a partial one filled with `fill` */
static inline VF vld(const float *p, int64_t n, float fill) { return n >= VW ? vload(p) : vloadn(p, n, fill); }
static inline void vst(float *p, VF v, int64_t n) {
    if (n >= VW) vstore(p, v); else vstoren(p, v, n);
}
static inline VF vld_f16(const uint16_t *p, int64_t n) { return n >= VW ? vload_f16(p) : vloadn_f16(p, n); }
/* f32 -> IEEE half, round to nearest even (as clv_fp32_to_fp16 and NumPy) */
static inline void vst_f16(uint16_t *p, VF v, int64_t n) {
    if (n >= VW) vstore_f16(p, v); else vstoren_f16(p, v, n);
}

/* exp(x): range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (Cephes' expf
 * coefficients), scale by 2^n. ~1-2 ulp on [-87.3, 88.0]; 0 below, clamped above; NaN stays NaN
 * (the clamps take x as their second operand, which x86 max/min return when one is NaN). */
static inline VF vexp(VF x) {
    const float lo = -87.33654f;
    VF xc = vmin(vset1(88.02f), vmax(vset1(lo), x));
    VF n = vround(vmul(xc, vset1(1.44269504088896341f)));
    VF r = vfnma(n, vset1(0.693359375f), xc);
    r = vfnma(n, vset1(-2.12194440e-4f), r);
    VF p = vset1(1.9875691500e-4f);
    p = vfma(p, r, vset1(1.3981999507e-3f));
    p = vfma(p, r, vset1(8.3334519073e-3f));
    p = vfma(p, r, vset1(4.1665795894e-2f));
    p = vfma(p, r, vset1(1.6666665459e-1f));
    p = vfma(p, r, vset1(5.0000001201e-1f));
    VF y = vfma(p, vmul(r, r), vadd(r, vset1(1.0f)));
    return vzero_below(vmul(y, vpow2i(n)), x, lo);
}

/* x * sigmoid(x) */
static inline VF vsilu(VF x) { return vdiv(x, vadd(vset1(1.0f), vexp(vsub(vzero(), x)))); }

/* erf(x), Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) */
static inline VF verf(VF x) {
    VF a = vabs(x);
    VF t = vdiv(vset1(1.0f), vfma(vset1(0.3275911f), a, vset1(1.0f)));
    VF p = vset1(1.061405429f);
    p = vfma(p, t, vset1(-1.453152027f));
    p = vfma(p, t, vset1(1.421413741f));
    p = vfma(p, t, vset1(-0.284496736f));
    p = vfma(p, t, vset1(0.254829592f));
    p = vmul(p, t);
    VF e = vexp(vsub(vzero(), vmul(a, a)));
    VF y = vfnma(p, e, vset1(1.0f));
    return vcopysign(y, x);
}

/* 0.5 x (1 + erf(x / sqrt 2)), torch's default GELU */
static inline VF vgelu(VF x) {
    VF e = verf(vmul(x, vset1(0.70710678118654752f)));
    return vmul(vmul(vset1(0.5f), x), vadd(vset1(1.0f), e));
}

#endif
