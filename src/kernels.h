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
