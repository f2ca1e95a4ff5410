/*
 * exp2_poly.h: 2^a without a call, a table or a branch, for the innermost
 * loops (engine_dense.c) and for the limit loop they are measured against
 * (bench/limit.c).  Static inline: include it where it is used.
 */
#ifndef NW_EXP2_POLY_H
#define NW_EXP2_POLY_H

#include <stdint.h>
#include <string.h>

/* Where the callers clamp or drop: exp(-700) ~ 1e-304, terms this far
 * below the largest are negligible; in base 2, 700 / ln 2 = 1009.9 (the
 * clamp keeps 2^k normal).  Single precision: 2^-125 (e^-86.6). */
#define MIN_EXP2_ARG (-1009.0)
#define MIN_EXP2_ARGF (-125.0f)
#define LOG2E 0x1.71547652b82fep0          /* 1 / ln 2 */

/* 2^a for a in [-1021, 0] (callers clamp there or drop the terms below;
 * outside, the result is garbage, never a trap): a = k + f with
 * k = round(a) (by the shifter's rounding) and |f| <= 1/2, 2^f by its
 * degree-11 Chebyshev interpolant on [-1/2, 1/2] (largest error 0.94 ulp
 * with Horner's rounding in fused multiply-adds, measured against mpmath;
 * 1.12 ulp unfused, as the SSE2 copies run it), and 2^k applied by
 * adding k to the exponent field of p = 2^f in [2^-1/2, 2^1/2]: exact while
 * p 2^k stays normal, k >= -1021 (an integer add where a multiplication by
 * a built 2^k would take a slot of the floating-point multipliers, the
 * loops' bottleneck: ~8 % faster).  Callers form the base-2 exponent
 * a = (score - max) / ln 2 directly (log2 K(u) = -u^2 / (2 ln 2) for the
 * Gaussian), so e^x needs no Cody-Waite reduction.  Vectorises (no branch,
 * no table, no call). */
static inline double exp2_poly(double a)
{
    const double shifter = 0x1.8p52;
    double t = a + shifter, k = t - shifter, f = a - k;
    double p = 0x1.e9ec1fcb69a7fp-32;
    p = p * f + 0x1.e6228acd1c6e5p-28;
    p = p * f + 0x1.b524ebd13a55fp-24;
    p = p * f + 0x1.62bfc2c86d700p-20;
    p = p * f + 0x1.ffcbfc6da6ed1p-17;
    p = p * f + 0x1.430913112c61bp-13;
    p = p * f + 0x1.5d87fe78a3f9cp-10;
    p = p * f + 0x1.3b2ab6fb9f1a5p-7;
    p = p * f + 0x1.c6b08d704a0c6p-5;
    p = p * f + 0x1.ebfbdff82c5aep-3;
    p = p * f + 0x1.62e42fefa39efp-1;
    p = p * f + 1.0;
    /* k sits in t's low mantissa bits (two's complement): shifted to the
     * exponent field, it adds k to p's exponent */
    uint64_t bits, pbits;
    memcpy(&bits, &t, sizeof bits);
    memcpy(&pbits, &p, sizeof pbits);
    pbits += bits << 52;
    double r;
    memcpy(&r, &pbits, sizeof r);
    return r;
}

/* The same in single precision for a in [-125, 0]: degree 6 (0.89 ulp
 * fused, 1.17 unfused, measured against exp2l: test_exp2_poly_domain). */
static inline float exp2f_poly(float a)
{
    const float shifter = 0x1.8p23f;
    float t = a + shifter, k = t - shifter, f = a - k;
    float p = 0x1.444p-13f;
    p = p * f + 0x1.5f48cp-10f;
    p = p * f + 0x1.3b2a1cp-7f;
    p = p * f + 0x1.c6aeccp-5f;
    p = p * f + 0x1.ebfbep-3f;
    p = p * f + 0x1.62e43p-1f;
    p = p * f + 1.0f;
    uint32_t bits, pbits;
    memcpy(&bits, &t, sizeof bits);
    memcpy(&pbits, &p, sizeof pbits);
    pbits += bits << 23;
    float r;
    memcpy(&r, &pbits, sizeof r);
    return r;
}

#endif
