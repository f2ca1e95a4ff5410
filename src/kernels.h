/* kernels.h: the kernel family inside the library (see kernels.c). */
#ifndef NW_KERNELS_H
#define NW_KERNELS_H

#include "nwreg.h"

#ifndef M_PI_2
#define M_PI_2 1.57079632679489661923
#endif

/* 1 for kernels handled through log K (unbounded support). */
static inline int kernel_is_log(nw_kernel k)
{
    return k == NW_KERNEL_GAUSSIAN || k == NW_KERNEL_LAPLACE;
}

double kernel_log(nw_kernel kernel, double u);   /* log K(u), log kernels only */
double kernel_value(nw_kernel kernel, double u); /* K(u), any kernel */
double kernel_rho(nw_kernel kernel, double u);   /* u K'(u)/K(u) where K(u) > 0, else 0 */

#endif
