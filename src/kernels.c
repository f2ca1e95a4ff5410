/*
 * kernels.c: the kernel family.
 *
 * Every kernel is written with u = (q - x) / h = (q - x) w and K(0) = 1.
 * Normalising constants are left out on purpose: every estimator nwreg
 * computes is a ratio of kernel-weighted sums (or a weighted least-squares
 * solve), which is unchanged when K is multiplied by a constant.  So the
 * Gaussian is exp(-u^2/2), not exp(-u^2/2)/sqrt(2 pi); bandwidths mean the
 * same as in statsmodels and R's np (h is the standard deviation of the
 * Gaussian kernel, the half-width of the compact ones).
 *
 * Two kinds:
 *  - "log" kernels with unbounded support (gaussian, laplace) are handled
 *    through log K, so sums can be carried relative to their largest term
 *    (online softmax) and never underflow;
 *  - compact kernels (support |u| <= 1) are handled through K itself, which
 *    lies in [0, 1]; a query may then have no point inside the support.
 *
 * For bandwidth gradients each kernel also gives rho(u) = u K'(u) / K(u)
 * where K(u) > 0, so that d K(u w) / d w = K(u w) rho(u w) / w:
 *   gaussian -u^2, laplace -|u|, epanechnikov -2u^2/(1-u^2), uniform 0,
 *   triangular -|u|/(1-|u|), tricube -9|u|^3/(1-|u|^3), biweight
 *   -4u^2/(1-u^2), cosine -(pi/2) u tan(pi u / 2).  The inline definitions
 * are in kernels.h (they sit in the engine's innermost loops).
 */
#include <math.h>
#include <string.h>

#include "kernels.h"

static const char *const kernel_names[NW_KERNEL_COUNT] = {
    "gaussian", "epanechnikov", "uniform", "triangular",
    "tricube", "biweight", "cosine", "laplace",
};

const char *nw_kernel_name(nw_kernel kernel)
{
    return (unsigned) kernel < NW_KERNEL_COUNT ? kernel_names[kernel] : NULL;
}

nw_status nw_kernel_from_name(const char *name, nw_kernel *kernel)
{
    if (!name || !kernel) return NW_ERR_ARG;
    for (int k = 0; k < NW_KERNEL_COUNT; k++)
        if (strcmp(name, kernel_names[k]) == 0) { *kernel = (nw_kernel) k; return NW_OK; }
    return NW_ERR_ARG;
}

const char *nw_estimator_name(nw_estimator estimator)
{
    switch (estimator) {
    case NW_ESTIMATOR_CONSTANT: return "lc";
    case NW_ESTIMATOR_LINEAR:   return "ll";
    default:                    return NULL;
    }
}

nw_status nw_estimator_from_name(const char *name, nw_estimator *estimator)
{
    if (!name || !estimator) return NW_ERR_ARG;
    if (!strcmp(name, "lc") || !strcmp(name, "constant") || !strcmp(name, "nw")) {
        *estimator = NW_ESTIMATOR_CONSTANT;
        return NW_OK;
    }
    if (!strcmp(name, "ll") || !strcmp(name, "linear")) {
        *estimator = NW_ESTIMATOR_LINEAR;
        return NW_OK;
    }
    return NW_ERR_ARG;
}

double nw_kernel_eval(nw_kernel kernel, double u)
{
    if (kernel_is_log(kernel)) return exp(kernel_log(kernel, u));
    return kernel_value(kernel, u);
}
