/* kernels.h: the kernel family inside the library (see kernels.c). */
#ifndef NW_KERNELS_H
#define NW_KERNELS_H

#include <math.h>

#include "nwreg.h"

#ifndef M_PI_2
#define M_PI_2 1.57079632679489661923
#endif

/* 1 for kernels handled through log K (unbounded support). */
static inline int kernel_is_log(nw_kernel k)
{
    return k == NW_KERNEL_GAUSSIAN || k == NW_KERNEL_LAPLACE;
}

/* Inline: they sit in the engine's innermost loops.
 *   kernel_log:   log K(u), log kernels only
 *   kernel_value: K(u), any kernel
 *   kernel_rho:   u K'(u)/K(u) where K(u) > 0, else 0 */
static inline double kernel_log(nw_kernel kernel, double u)
{
    return kernel == NW_KERNEL_LAPLACE ? -fabs(u) : -0.5 * u * u;
}

/* Near the edge of the support 1 - u^2 would cancel: it is computed as
 * (1 - |u|)(1 + |u|), 1 - |u|^3 as (1 - |u|)(1 + |u| + u^2), and
 * cos(pi u / 2) as sin(pi (1 - |u|) / 2), each exact to a few ulps. */
static inline double kernel_value(nw_kernel kernel, double u)
{
    double a = fabs(u), t;
    switch (kernel) {
    case NW_KERNEL_GAUSSIAN:     return exp(-0.5 * u * u);
    case NW_KERNEL_LAPLACE:      return exp(-a);
    case NW_KERNEL_EPANECHNIKOV: return a < 1 ? (1 - a) * (1 + a) : 0;
    case NW_KERNEL_UNIFORM:      return a <= 1 ? 1 : 0;
    case NW_KERNEL_TRIANGULAR:   return a < 1 ? 1 - a : 0;
    case NW_KERNEL_TRICUBE:      t = (1 - a) * (1 + a + a * a); return a < 1 ? t * t * t : 0;
    case NW_KERNEL_BIWEIGHT:     t = (1 - a) * (1 + a); return a < 1 ? t * t : 0;
    case NW_KERNEL_COSINE:       return a < 1 ? sin(M_PI_2 * (1 - a)) : 0;
    default:                     return NAN;
    }
}

static inline double kernel_rho(nw_kernel kernel, double u)
{
    double a = fabs(u);
    switch (kernel) {
    case NW_KERNEL_GAUSSIAN:     return -u * u;
    case NW_KERNEL_LAPLACE:      return -a;
    case NW_KERNEL_EPANECHNIKOV: return a < 1 ? -2 * u * u / ((1 - a) * (1 + a)) : 0;
    case NW_KERNEL_UNIFORM:      return 0;
    case NW_KERNEL_TRIANGULAR:   return a < 1 ? -a / (1 - a) : 0;
    case NW_KERNEL_TRICUBE:      return a < 1 ? -9 * a * a * a / ((1 - a) * (1 + a + a * a)) : 0;
    case NW_KERNEL_BIWEIGHT:     return a < 1 ? -4 * u * u / ((1 - a) * (1 + a)) : 0;
    case NW_KERNEL_COSINE:       /* -(pi/2) u tan(pi u/2) = -(pi/2) |u| cot(pi (1-|u|)/2):
                                    tan near 0 (cos(pi (1-a)/2) would cancel), cot near 1 */
        if (a < 0.5) return -M_PI_2 * a * tan(M_PI_2 * a);
        return a < 1 ? -M_PI_2 * a * cos(M_PI_2 * (1 - a)) / sin(M_PI_2 * (1 - a)) : 0;
    default:                     return NAN;
    }
}

/* cos z and sin z for |z| <= pi/4 (a little beyond is fine), by their
 * Taylor polynomials to z^18 and z^17: the first terms left out are below
 * 3e-21 and 8e-20 there, and with Horner's rounding each value is within
 * 3 u (u = 2^-53) of the true one, absolute (cos >= 0.7, |sin| <= 0.71;
 * test_kernels measures <= 1.5 u).  No libm call: the cosine kernel's
 * sorted passes compute it per key visit (loo_sorted.c). */
static inline void cos_sin_quarter(double z, double *c, double *s)
{
    /* cos z = 1 + z^2 sum_{k=0..8} (-1)^(k+1) z^2k / (2k + 2)!,
     * sin z = z sum_{k=0..8} (-1)^k z^2k / (2k + 1)!, Horner in z^2 from
     * k = 8 (its coefficients -1/18! and 1/17! start pc, ps) */
    static const double cc[8] = {   /* (-1)^(k+1) / (2k + 2)!, k = 7 .. 0 */
        1.0 / 20922789888000.0, -1.0 / 87178291200.0, 1.0 / 479001600.0,
        -1.0 / 3628800.0, 1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0, -0.5,
    };
    static const double sc[8] = {   /* (-1)^k / (2k + 1)!, k = 7 .. 0 */
        -1.0 / 1307674368000.0, 1.0 / 6227020800.0, -1.0 / 39916800.0,
        1.0 / 362880.0, -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0, 1.0,
    };
    const double z2 = z * z;
    double pc = -1.0 / 6402373705728000.0, ps = 1.0 / 355687428096000.0;
    for (int k = 0; k < 8; k++) {
        pc = pc * z2 + cc[k];
        ps = ps * z2 + sc[k];
    }
    *c = 1 + z2 * pc;
    *s = z * ps;
}

/* K(v) for v = |u| in [0, 1] as a polynomial (the sorted engine's and the
 * sorted LOO pass's block moments): coefficients c[0..KERNEL_POLY_MAXDEG],
 * returns the degree, -1 for the cosine and the log kernels (not polynomial). */
#define KERNEL_POLY_MAXDEG 9
static inline int kernel_poly(nw_kernel k, double *c)
{
    for (int i = 0; i <= KERNEL_POLY_MAXDEG; i++) c[i] = 0;
    switch (k) {
    case NW_KERNEL_UNIFORM:      c[0] = 1; return 0;
    case NW_KERNEL_EPANECHNIKOV: c[0] = 1; c[2] = -1; return 2;
    case NW_KERNEL_TRIANGULAR:   c[0] = 1; c[1] = -1; return 1;
    case NW_KERNEL_TRICUBE:      c[0] = 1; c[3] = -3; c[6] = 3; c[9] = -1; return 9;
    case NW_KERNEL_BIWEIGHT:     c[0] = 1; c[2] = -2; c[4] = 1; return 4;
    default:                     return -1;
    }
}

#endif
