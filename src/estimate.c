/*
 * estimate.c: estimators on top of the engine's moments: predictions
 * (local constant and local linear), the attention matrix, the baseline.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "estimate.h"
#include "loo.h"
#include "kernels.h"
#include "team.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Relative pivot below which the local-linear design counts as singular. */
#define LL_PIVOT_RTOL 1e-10

/* In-place Cholesky of the r x r matrix L (upper part read, lower written).
 * Returns 0 if some pivot is not clearly positive. */
static int cholesky(double *L, const double *A, size_t r, double *min_pivot)
{
    *min_pivot = 1;
    for (size_t j = 0; j < r; j++) {
        double s = A[j * r + j];
        for (size_t k = 0; k < j; k++) s -= L[j * r + k] * L[j * r + k];
        double rel = s / A[j * r + j];
        if (rel < *min_pivot) *min_pivot = rel;
        if (!(s > LL_PIVOT_RTOL * A[j * r + j])) return 0;
        L[j * r + j] = sqrt(s);
        for (size_t i = j + 1; i < r; i++) {
            double t = A[i * r + j];
            for (size_t k = 0; k < j; k++) t -= L[i * r + k] * L[j * r + k];
            L[i * r + j] = t / L[j * r + j];
        }
    }
    return 1;
}

/* Solve L L^T x = b in place for one right-hand side with stride `stride`. */
static void cholesky_solve(const double *L, size_t r, double *b, size_t stride)
{
    for (size_t i = 0; i < r; i++) {
        double t = b[i * stride];
        for (size_t k = 0; k < i; k++) t -= L[i * r + k] * b[k * stride];
        b[i * stride] = t / L[i * r + i];
    }
    for (size_t i = r; i-- > 0;) {
        double t = b[i * stride];
        for (size_t k = i + 1; k < r; k++) t -= L[k * r + i] * b[k * stride];
        b[i * stride] = t / L[i * r + i];
    }
}

void nw_solve(const nw_problem *pb, nw_moments *mo, nw_estimate *est)
{
    const size_t r = mo->r, p = pb->p, d = pb->d;
    const double A00 = mo->A[0];
    est->empty = 0;
    est->pivot = 1;
    if (!(A00 > 0)) {
        est->empty = 1;
        est->a00 = NAN;
        for (size_t c = 0; c < p; c++) est->yhat[c] = NAN;
        if (pb->grad && est->dyhat)
            for (size_t i = 0; i < d * p; i++) est->dyhat[i] = 0;
        return;
    }
    /* Log-weights below -2^52 (a Gaussian query ~1e8 bandwidths from every
     * point) carry rounding errors of 1 and more: the weights' ratios have
     * no correct digit left (far enough, distinct points even tie).  Their
     * average is still a value of the nearest points, but a slope fitted
     * through them is noise, extrapolated ~1e8 bandwidths: local constant,
     * as for a singular design (pivot 0). */
    if (r > 1 && !(mo->logscale > -0x1p52)) est->pivot = 0;
    else if (r > 1) {
        /* local linear: beta = A^-1 B (r x p), yhat = beta_0.  With
         * a = A^-1 e_1 (A is symmetric) the derivative of beta_0 is
         *   d beta_0 / d w_k = a . (dB_k - dA_k beta) / w_k
         * (differentiate A beta = B: dA beta + A dbeta = dB).  The design
         * columns u_jk scale with w_k, but beta_0 is invariant to rescaling
         * the slope columns, so only the weights' dependence counts. */
        /* With slope columns centred at `shift` (phi = (1, u - shift)),
         * the query u = 0 sits at z = (1, -shift): yhat = z . beta, and with
         * a = A^-1 z the derivative is a . (dB_k - dA_k beta) / w_k and the
         * hat diagonal K(0) z^T A^-1 z. */
        double *L = mo->work, *beta = L + r * r, *a = beta + r * p, *z = a + r;
        if (cholesky(L, mo->A, r, &est->pivot)) {
            z[0] = 1;
            for (size_t i = 1; i < r; i++) z[i] = -mo->shift[i - 1];
            memcpy(beta, mo->B, r * p * sizeof(double));
            for (size_t c = 0; c < p; c++) cholesky_solve(L, r, beta + c, p);
            memcpy(a, z, r * sizeof(double));
            cholesky_solve(L, r, a, 1);
            est->a00 = 0;
            for (size_t i = 0; i < r; i++) est->a00 += a[i] * z[i];
            for (size_t c = 0; c < p; c++) {
                double v = 0;
                for (size_t i = 0; i < r; i++) v += z[i] * beta[i * p + c];
                est->yhat[c] = v;
            }
            if (pb->grad && est->dyhat) {
                for (size_t k = 0; k < d; k++) {
                    const double *dA = mo->dA + k * r * r, *dB = mo->dB + k * r * p;
                    for (size_t c = 0; c < p; c++) {
                        double v = 0;
                        for (size_t i = 0; i < r; i++) {
                            double t = dB[i * p + c];
                            for (size_t j = 0; j < r; j++) t -= dA[i * r + j] * beta[j * p + c];
                            v += a[i] * t;
                        }
                        est->dyhat[k * p + c] = v / pb->w[k];
                    }
                }
            }
            return;
        }
        /* singular local design: fall through to local constant */
    }
    /* local constant: yhat = B_0 / A_00 and, from dK_j/dw_k = K_j rho_jk / w_k,
     *   d yhat_c / d w_k = (dB_k,c - yhat_c dA_k) / (A_00 w_k). */
    for (size_t c = 0; c < p; c++) est->yhat[c] = mo->B[c] / A00;
    est->a00 = 1.0 / A00;
    if (pb->grad && est->dyhat) {
        for (size_t k = 0; k < d; k++) {
            const double dA0 = mo->dA[k * r * r], *dB = mo->dB + k * r * p;
            for (size_t c = 0; c < p; c++)
                est->dyhat[k * p + c] = (dB[c] - est->yhat[c] * dA0) / (A00 * pb->w[k]);
        }
    }
}

/* The largest relative error of the predictions that the moments' error
 * bounds allow, after nw_solve succeeded (not empty, not recentred):
 * relative to max(|yhat_c|, pb->floor[c]) where the problem has a floor.
 *
 * Local constant, yhat_c = B_c / A, |dA| <= eA, |dB_c| <= eB_c:
 *     |yhat' - yhat| = |dB_c - yhat_c dA| / |A + dA|
 *                    <= (eB_c + |yhat_c| eA) / (A - eA).
 * Local linear, yhat_c = z^T A^-1 B_c = z^T beta_c: to first order in the
 * perturbations (A + dA) beta' = B + dB gives
 *     yhat' - yhat = a^T (dB_c - dA beta_c),  a = A^-1 z,
 * so |yhat' - yhat| <= sum_i |a_i| (eB_ic + sum_j eA_ij |beta_jc|); the
 * second-order rest is below ||A^-1 dA|| times that: we require an estimate
 * of ||A^-1 dA|| below 1e-3 and take a factor 1.002 (with tolerances near
 * 1e-12 the rest is ~1e-9 of the bound).  Returns INFINITY where no bound
 * holds (a perturbation as large as the sum, a prediction of 0). */
/* What output c's error is relative to: |yhat|, or the problem's floor
 * where that is larger. */
static double certified_scale(const nw_problem *pb, size_t c, double yhat)
{
    double ay = fabs(yhat), fl = pb->floor ? pb->floor[c] : 0;
    return ay > fl ? ay : fl;
}

static double prediction_bound(const nw_problem *pb, const nw_moments *mo,
                               const nw_estimate *est)
{
    const size_t r = mo->r, p = pb->p;
    const double A00 = mo->A[0], eA00 = mo->errA[0];
    double worst = 0;
    if (r == 1) {
        if (!(eA00 < A00)) return INFINITY;
        for (size_t c = 0; c < p; c++) {
            double y = est->yhat[c], b = (mo->errB[c] + fabs(y) * eA00) / (A00 - eA00);
            double rel = b / certified_scale(pb, c, y);
            if (!(rel <= worst)) worst = rel;   /* NaN (y = 0, b = 0) counts as worst */
        }
        return worst;
    }
    const double *beta = mo->work + r * r, *a = beta + r * p;
    /* The caller has pivot >= 1e-4 (nw_solve did not fall back).  The size
     * of A^-1 dA is estimated, not bounded: the largest error relative to
     * sqrt(A_ii A_jj), over the smallest relative Cholesky pivot. */
    double rel_err = 0;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++) {
            double e = mo->errA[i * r + j] / sqrt(mo->A[i * r + i] * mo->A[j * r + j]);
            if (!(e <= rel_err)) rel_err = e;
        }
    if (!(rel_err / est->pivot < 1e-3)) return INFINITY;
    /* add the rounding of the sums themselves, which the solve amplifies:
     * 8 u sum_t K_t |phi_i phi_j| <= 8 u sqrt(A_ii A_jj) (Cauchy-Schwarz) */
    for (size_t c = 0; c < p; c++) {
        double b = 0;
        for (size_t i = 0; i < r; i++) {
            double t = mo->errB[i * p + c];
            for (size_t j = 0; j < r; j++)
                t += (mo->errA[i * r + j] + 0x1p-50 * sqrt(mo->A[i * r + i] * mo->A[j * r + j])) *
                     fabs(beta[j * p + c]);
            b += fabs(a[i]) * t;
        }
        double rel = 1.002 * b / certified_scale(pb, c, est->yhat[c]);
        if (!(rel <= worst)) worst = rel;
    }
    return worst;
}

/* Below this relative pivot the raw local-linear moments have lost more
 * than a digit to cancellation (at 1e-2 a prediction was off by 7e-11
 * relative, in every engine): recentre through the dense engine.  Inside
 * the data the pivot is ~0.3 or more (0.36 for a one-sided window); only
 * extrapolating queries go below. */
#define LL_RECENTRE_PIVOT 1e-1

static void estimate_dense(const nw_problem *pb, const double *q, size_t skip,
                           nw_moments *mo, nw_estimate *est)
{
    const size_t d = pb->d;
    for (size_t k = 0; k < d; k++) mo->shift[k] = 0;
    nw_engine_dense(pb, q, skip, mo);
    nw_solve(pb, mo, est);
    if (!pb->linear || est->empty || est->pivot >= LL_RECENTRE_PIVOT) return;
    /* recentre the slope columns at their weighted means sum e u / sum e,
     * taken from the general path's sums: the prepared paths round the
     * weights differently (pre-scaled exponents), and a recentring this
     * ill-conditioned turns a last-bit change of the shift into ~1e-11 of
     * the answer (extrapolating 3 bandwidths from a cluster 1e-3 wide), so
     * every caller -- a fast engine's fallback or the dense engine with or
     * without prepared keys -- gets the same answer */
    if (pb->dense) {
        nw_problem plain = *pb;
        plain.dense = NULL;
        nw_engine_dense(&plain, q, skip, mo);
    }
    for (size_t k = 0; k < d; k++) mo->shift[k] = mo->A[k + 1] / mo->A[0];
    nw_engine_dense(pb, q, skip, mo);
    nw_solve(pb, mo, est);
}

void nw_estimate_at(const nw_engine *eng, const double *q, size_t skip,
                    nw_moments *mo, nw_estimate *est)
{
    const nw_problem *pb = eng->pb;
    est->bound = 0;
    est->fallback = 0;
    if (eng->kind == NW_ENGINE_DENSE) {
        estimate_dense(pb, q, skip, mo, est);
        return;
    }
    /* first the engine's moments; where their bound misses the tolerance,
     * or local linear must be recentred, the engine's exact sums (if it has
     * them), recentred; then the dense engine */
    nw_engine_moments_fn fn = eng->moments;
    for (size_t k = 0; k < pb->d; k++) mo->shift[k] = 0;
    for (int attempt = 0; attempt < 2 && fn; attempt++) {
        fn(eng, q, skip, mo);
        nw_solve(pb, mo, est);
        int recentre = pb->linear && !est->empty && est->pivot < LL_RECENTRE_PIVOT;
        if (!mo->approx) {
            /* an exact engine: only the local-linear recentring may remain */
            if (!recentre) return;
            break;
        } else if (est->empty) {
            if (mo->errA[0] == 0) return;  /* certainly empty */
        } else if (!recentre) {
            double b = prediction_bound(pb, mo, est);
            if (b <= eng->tol) {
                est->bound = b;
                return;
            }
        } else if (attempt == 1) {
            break;  /* still ill-conditioned after recentring: dense */
        }
        fn = eng->moments_exact;
        if (recentre && attempt == 0)
            for (size_t k = 0; k < pb->d; k++) mo->shift[k] = mo->A[k + 1] / mo->A[0];
    }
    est->fallback = 1;
    estimate_dense(nw_engine_fallback(eng), q, skip, mo, est);
}

void nw_problem_init(nw_problem *pb, const nw_model *model, const double *w,
                     int grad)
{
    pb->x = model->x;
    pb->y = model->y_sums ? model->y_sums : model->y;   /* see nw_unscale */
    pb->n = model->n;
    pb->d = model->d;
    pb->p = model->p;
    pb->kernel = model->kernel;
    pb->w = w;
    pb->linear = model->estimator == NW_ESTIMATOR_LINEAR;
    pb->grad = grad;
    pb->f32 = model->precision == NW_PRECISION_F32;
    pb->threads = nw_threads(model, (size_t) -1);
    pb->dense = NULL;   /* nw_engine_new prepares the dense engine's keys */
    pb->floor = NULL;
    pb->regions = 0;
    pb->memory = model->memory;
}

nw_status nw_scales(const nw_model *model, const double *w_in, double *w)
{
    for (size_t k = 0; k < model->d; k++) {
        w[k] = w_in ? w_in[k] : 1.0 / model->h[k];
        if (!isfinite(w[k]) || w[k] == 0) return NW_ERR_BANDWIDTH;
    }
    return NW_OK;
}

/* Half the scaled offset of point i from q along input k,
 * (q_k - x_ik) / 2 * w_k / wmax: halving (exact) keeps the difference of
 * two doubles from overflowing, and w_k / wmax <= 1 keeps huge w from it. */
static double half_offset(const nw_model *model, const double *w, double wmax,
                          const double *q, size_t i, size_t k)
{
    return (0.5 * q[k] - 0.5 * model->x[i * model->d + k]) * (w[k] / wmax);
}

/* The unit of scaled_dist2 at q: the smallest over the points (but skip)
 * of their largest half offset, 1 if that is 0.  The nearest points are
 * then about 1 unit away, so their squared distances neither overflow nor
 * underflow however far q is (q = 1e300 from data at 1e299 and 2e299). */
static double distance_unit(const nw_model *model, const double *w, double wmax,
                            const double *q, size_t skip)
{
    double unit = INFINITY;
    for (size_t i = 0; i < model->n; i++) {
        if (i == skip) continue;
        double m = 0;
        for (size_t k = 0; k < model->d; k++) m = fmax(m, fabs(half_offset(model, w, wmax, q, i, k)));
        unit = fmin(unit, m);
    }
    return unit > 0 && isfinite(unit) ? unit : 1;
}

/* Squared distance from q to point i in the scaled metric sum ((q - x) w)^2,
 * in units of (2 wmax unit)^2: it orders the points as that metric does,
 * without overflow. */
static double scaled_dist2(const nw_model *model, const double *w, double wmax,
                           double unit, const double *q, size_t i)
{
    double s = 0;
    for (size_t k = 0; k < model->d; k++) {
        double u = half_offset(model, w, wmax, q, i, k) / unit;
        s += u * u;
    }
    return s;
}

static double max_abs(const double *w, size_t d)
{
    double m = 0;
    for (size_t k = 0; k < d; k++) m = fmax(m, fabs(w[k]));
    return m;
}

void nw_nearest_value(const nw_model *model, const double *w, const double *q,
                      size_t skip, double *out)
{
    const size_t n = model->n, d = model->d, p = model->p;
    double best = INFINITY, wmax = max_abs(w, d);
    double unit = distance_unit(model, w, wmax, q, skip);
    const double *y = model->y_sums ? model->y_sums : model->y; /* sums cannot overflow */
    size_t count = 0;
    for (size_t c = 0; c < p; c++) out[c] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == skip) continue;
        double s = scaled_dist2(model, w, wmax, unit, q, i);
        if (s < best) {
            best = s;
            count = 0;
            for (size_t c = 0; c < p; c++) out[c] = 0;
        }
        if (s == best) {
            count++;
            for (size_t c = 0; c < p; c++) out[c] += y[i * p + c];
        }
    }
    for (size_t c = 0; c < p; c++)
        out[c] = count ? nw_unscaled(model, c, out[c] / (double) count) : NAN;
}

void nw_unscale(const nw_model *model, nw_estimate *est, int grad)
{
    if (!model->y_exp || est->empty) return;
    const size_t d = model->d, p = model->p;
    for (size_t c = 0; c < p; c++) est->yhat[c] = nw_unscaled(model, c, est->yhat[c]);
    if (grad && est->dyhat)     /* d x p: dyhat[k p + c] */
        for (size_t k = 0; k < d; k++)
            for (size_t c = 0; c < p; c++)
                est->dyhat[k * p + c] = nw_unscaled(model, c, est->dyhat[k * p + c]);
}

size_t nw_engine_work(const nw_engine *e)
{
    return e->cost < 0x1p60 ? (size_t) e->cost : (size_t) 1 << 60;
}

/* The standard deviation of a[i stride] 2^e, i < n. */
static double column_sd_scaled(const double *a, size_t n, size_t stride, int e)
{
    const double f = ldexp(1.0, e);    /* exact: 2^e */
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) mean += a[i * stride] * f;
    mean /= (double) n;
    for (size_t i = 0; i < n; i++) {
        double v = a[i * stride] * f - mean;
        var += v * v;
    }
    return sqrt(var / (double) n);
}

double nw_column_sd(const double *a, size_t n, size_t stride)
{
    double sd = column_sd_scaled(a, n, stride, 0);
    /* values near 2^512 and above overflow the squares: scaled by a power
     * of two they do not (and the result is the same but for rounding) */
    return isfinite(sd) ? sd : ldexp(column_sd_scaled(a, n, stride, -600), 600);
}

int nw_threads(const nw_model *model, size_t work)
{
    /* below ~1e7 kernel evaluations (~5 ms) a second thread saves at most
     * a few ms and, on a loaded machine, can cost far more: a thread that
     * is not scheduled at once holds up the whole region (n = 3000, a
     * bandwidth search: 2 ms evaluations took 10-20 ms at load 5) */
    if (work < 10000000) return 1;
#ifdef _OPENMP
    return model->threads > 0 ? model->threads : omp_get_max_threads();
#else
    (void) model;
    return 1;
#endif
}

double nw_clock(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + 1e-9 * (double) t.tv_nsec;
}

/* Queries between progress reports: about 1e8 pair evaluations of the
 * dense engine (~0.05 s on 2 cores), and no more than ~100 reports in all
 * (a fast engine's query costs far less than n pairs).  The reports come
 * from the caller's thread while it works through the queries with the
 * others (one team job, team.h): pieces that each ended at a barrier cost
 * a scheduling quantum apiece on a loaded machine (n = m = 1e6 through the
 * FGT, 100 pieces at load 5: 1.86 s instead of 0.10 s). */
static size_t progress_chunk(const nw_model *model, size_t m)
{
    if (!model->progress) return m ? m : 1;
    size_t c = (size_t) (1e8 / (double) model->n);
    if (c < m / 100) c = m / 100;
    return c < 256 ? 256 : c;
}

/* Queries a thread takes at a time: enough for ~2e4 kernel evaluations
 * (each take is an atomic on a line the threads share, ~0.1 us), at least
 * 8 for balance where queries are dear, at most 1024. */
static int grab_size(const nw_engine *eng, size_t m)
{
    double per_query = m ? (double) nw_engine_work(eng) / (double) m : 1;
    double g = 2e4 / (per_query > 1 ? per_query : 1);
    return g < 8 ? 8 : g > 1024 ? 1024 : (int) g;
}

/* An order of the m queries in which neighbours follow each other, for
 * the tree engine (whose leaves then stay in cache: 2.4x less CPU measured
 * at d = 2, n = m = 1e6): cells of 4 bandwidths on the first two inputs,
 * visited row by row, alternate rows backwards, by a counting sort.  NULL
 * when not worth it (or out of memory, or m >= 2^32: the natural order is
 * as correct).  Memory: 4 bytes a query (32-bit indices; each query's cell
 * is computed twice rather than stored), a twelfth of the queries' and
 * predictions' 48 bytes at d = 2, p = 1. */
typedef struct query_grid {
    double lo[2], hi[2];
    size_t nx, ny;
} query_grid;

static size_t query_cell(const query_grid *g, const double *qj)
{
    double fx = (qj[0] - g->lo[0]) / (g->hi[0] - g->lo[0]) * (double) g->nx;
    double fy = (qj[1] - g->lo[1]) / (g->hi[1] - g->lo[1]) * (double) g->ny;
    size_t cx = fx >= (double) g->nx ? g->nx - 1 : (fx > 0 ? (size_t) fx : 0);
    size_t cy = fy >= (double) g->ny ? g->ny - 1 : (fy > 0 ? (size_t) fy : 0);
    return cy * g->nx + (cy & 1 ? g->nx - 1 - cx : cx);
}

uint32_t *nw_spatial_order(const double *q, size_t m, size_t d, const double *w)
{
    if (d < 2 || m < 4096 || m > UINT32_MAX) return NULL;
    query_grid g = { { INFINITY, INFINITY }, { -INFINITY, -INFINITY }, 0, 0 };
    for (size_t j = 0; j < m; j++)
        for (size_t k = 0; k < 2; k++) {
            g.lo[k] = fmin(g.lo[k], q[j * d + k]);
            g.hi[k] = fmax(g.hi[k], q[j * d + k]);
        }
    /* at most ~m cells in all */
    double cells[2], side = sqrt((double) m);
    for (size_t k = 0; k < 2; k++)
        cells[k] = fmax(1, fmin(floor((g.hi[k] - g.lo[k]) * fabs(w[k]) / 4) + 1, side));
    g.nx = (size_t) cells[0], g.ny = (size_t) cells[1];
    size_t nc = g.nx * g.ny;
    uint32_t *order = malloc(m * sizeof *order);
    size_t *count = calloc(nc + 1, sizeof *count);
    if (!order || !count) {
        free(order); free(count);
        return NULL;
    }
    for (size_t j = 0; j < m; j++) count[query_cell(&g, q + j * d) + 1]++;
    for (size_t c = 0; c < nc; c++) count[c + 1] += count[c];
    for (size_t j = 0; j < m; j++) order[count[query_cell(&g, q + j * d)]++] = (uint32_t) j;
    free(count);
    return order;
}

nw_status nw_region_order(const nw_engine *eng, const double *q, size_t m, size_t d,
                              uint32_t **order, size_t **rstart)
{
    const size_t nr = eng->regions + 1;
    size_t *start = calloc(nr + 1, sizeof *start), *fill = malloc(nr * sizeof *fill);
    uint32_t *by_region = malloc((m ? m : 1) * sizeof *by_region);
    if (!start || !fill || !by_region || m > UINT32_MAX) {
        free(start); free(fill); free(by_region);
        return NW_ERR_NOMEM;
    }
    /* a counting sort, each query's region found twice rather than kept */
    const uint32_t *o = *order;
#define QUERY(jj) (o ? (size_t) o[jj] : (jj))
    for (size_t jj = 0; jj < m; jj++) start[eng->region_of(eng, q + QUERY(jj) * d) + 1]++;
    for (size_t r = 0; r < nr; r++) start[r + 1] += start[r];
    memcpy(fill, start, nr * sizeof *fill);
    for (size_t jj = 0; jj < m; jj++)
        by_region[fill[eng->region_of(eng, q + QUERY(jj) * d)]++] = (uint32_t) QUERY(jj);
#undef QUERY
    free(fill);
    free(*order);
    *order = by_region;
    *rstart = start;
    return NW_OK;
}

size_t nw_region_group(const nw_engine *eng, const size_t *rstart, size_t *r0)
{
    const size_t nr = eng->regions;
    while (*r0 < nr && rstart[*r0 + 1] == rstart[*r0]) ++*r0;
    if (*r0 == nr) return nr + 1;
    return *r0 + eng->region_group < nr ? *r0 + eng->region_group : nr;
}

/* nw_predict_info's queries as a team job (team.h): item k is the queries
 * first + k grab .. first + (k + 1) grab - 1 (in the spatial or the
 * engine's regions' order, if any), before end; each worker
 * has its own moments (and the engine's scratch in them) and its own
 * counts, which the caller adds up. */
typedef struct predict_job {
    const nw_model *model;
    const nw_problem *pb;
    const nw_engine *eng;
    const double *q, *w;
    double *yhat;
    size_t m, grab, chunk;
    size_t first, end;          /* this pass: queries [first, end) of the order */
    const uint32_t *order;
    size_t next_report;         /* the caller's (worker 0's) next report */
    atomic_size_t done;         /* queries finished */
    atomic_int stopped;         /* the progress callback asked to stop */
    size_t *empties, *fallbacks;   /* per worker */
    double *bound;                 /* per worker */
} predict_job;

static int predict_begin(void *ctx, int worker, void **scratch)
{
    predict_job *pj = ctx;
    (void) worker;
    return nw_moments_new(pj->pb, (nw_moments **) scratch) != NW_OK;
}

static void predict_end(void *ctx, int worker, void *scratch)
{
    (void) ctx, (void) worker;
    nw_moments_free(scratch);
}

static void predict_run(void *ctx, int worker, void *scratch, size_t item)
{
    predict_job *pj = ctx;
    const nw_model *model = pj->model;
    const size_t d = model->d, p = model->p;
    if (atomic_load_explicit(&pj->stopped, memory_order_relaxed)) return;
    nw_moments *mo = scratch;
    size_t lo = pj->first + item * pj->grab, hi = lo + pj->grab < pj->end ? lo + pj->grab : pj->end;
    size_t empties = 0, fallbacks = 0;
    double bound = 0;
    for (size_t jj = lo; jj < hi; jj++) {
        size_t j = pj->order ? pj->order[jj] : jj;
        nw_estimate est = { .yhat = pj->yhat + j * p };
        nw_estimate_at(pj->eng, pj->q + j * d, NW_NO_SKIP, mo, &est);
        nw_unscale(model, &est, 0);
        fallbacks += (size_t) est.fallback;
        if (est.bound > bound) bound = est.bound;
        if (est.empty) {
            /* log kernels are never empty: every weight underflowed
             * (w so large that ((q - x) w)^2 overflows), whose limit is
             * the nearest points' value */
            if (kernel_is_log(pj->pb->kernel) || model->empty == NW_EMPTY_NEAREST)
                nw_nearest_value(model, pj->w, pj->q + j * d, NW_NO_SKIP, pj->yhat + j * p);
            if (!kernel_is_log(pj->pb->kernel)) empties++;
        }
    }
    pj->empties[worker] += empties;
    pj->fallbacks[worker] += fallbacks;
    if (bound > pj->bound[worker]) pj->bound[worker] = bound;
    if (!model->progress) return;
    size_t now = atomic_fetch_add_explicit(&pj->done, hi - lo, memory_order_relaxed) + (hi - lo);
    /* the caller's thread reports (never the last: nw_predict_info does) */
    if (worker == 0 && now >= pj->next_report && now < pj->m) {
        pj->next_report = now + pj->chunk;
        if (model->progress((double) now, (double) pj->m, model->progress_ctx))
            atomic_store_explicit(&pj->stopped, 1, memory_order_relaxed);
    }
}

nw_status nw_predict_info(const nw_model *model, const double *q, size_t m,
                          double *yhat, size_t *n_empty, nw_run_info *info)
{
    double t0 = nw_clock();
    if (n_empty) *n_empty = 0;
    if (info) memset(info, 0, sizeof *info);
    if (!model || (m > 0 && (!q || !yhat))) return NW_ERR_ARG;
    if (!nw_all_finite(q, m * model->d)) return NW_ERR_NONFINITE;
    const size_t d = model->d;
    double w[d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;
    nw_problem pb;
    nw_problem_init(&pb, model, w, 0);
    /* where the sorted engine would run (1-d compact kernels), the queries
     * sorted and swept instead (loo_sorted.c): no tables, O(n + m log m) */
    if (d == 1 && m > 0 && nw_loo_sorted_applies(model) &&
        nw_engine_choice(&pb, model->engine, model->tolerance, m) == NW_ENGINE_SORTED) {
        nw_pass_result res;
        if ((st = nw_sorted_predict(model, q, m, yhat, &res))) return st;
        if (model->progress && model->progress((double) m, (double) m, model->progress_ctx))
            return NW_ERR_STOPPED;
        nw_sweep_report(model, &res, t0, n_empty, info);
        return NW_OK;
    }
    nw_engine *eng = NULL;
    pb.regions = 1;   /* the engine's regions are built below, a group at a time */
    st = nw_engine_new(&pb, model->engine, model->tolerance, m, &eng);
    if (st) return st;

    int threads = nw_threads(model, nw_engine_work(eng));
    if (threads > NW_TEAM_MAX) threads = NW_TEAM_MAX;
    /* neighbouring queries share a tree's leaves or an FGT box's
     * coefficients (2-d FGT, n = m = 1e6: lc 2.7 -> 1.5 s, ll 20.7 -> 13.2 s) */
    uint32_t *order = eng->kind == NW_ENGINE_TREE || (eng->kind == NW_ENGINE_FGT && d == 2)
                        ? nw_spatial_order(q, m, d, w) : NULL;
    size_t *rstart = NULL;
    if (eng->regions && (st = nw_region_order(eng, q, m, d, &order, &rstart))) {
        nw_engine_free(eng);
        free(order);
        return st;
    }
    predict_job pj = {
        .model = model, .pb = &pb, .eng = eng, .q = q, .yhat = yhat, .w = w, .m = m,
        .order = order, .grab = (size_t) grab_size(eng, m), .chunk = progress_chunk(model, m),
        .first = 0, .end = m,
    };
    pj.next_report = pj.chunk;
    atomic_init(&pj.done, 0);
    atomic_init(&pj.stopped, 0);
    size_t empties_w[threads], fallbacks_w[threads];
    double bound_w[threads];
    for (int t = 0; t < threads; t++) empties_w[t] = fallbacks_w[t] = 0, bound_w[t] = 0;
    pj.empties = empties_w, pj.fallbacks = fallbacks_w, pj.bound = bound_w;
    nw_team_job job = { .items = (m + pj.grab - 1) / pj.grab, .ctx = &pj,
                        .begin = predict_begin, .run = predict_run, .end = predict_end };
    int failed = 0, stopped = 0;
    /* a group of regions at a time: their tables built, then their
     * queries; the queries outside every region last, none built; an
     * engine without regions: one group of every query */
    const size_t whole[2] = { 0, m }, *starts = eng->regions ? rstart : whole;
    for (size_t r0 = 0, r1; r0 <= eng->regions && !failed && !atomic_load(&pj.stopped); r0 = r1) {
        r1 = nw_region_group(eng, starts, &r0);
        if (starts[r1] == starts[r0]) continue;
        if (r0 < eng->regions && eng->region_build(eng, r0, r1) != NW_OK) {
            failed = 1;
            break;
        }
        pj.first = starts[r0];
        pj.end = starts[r1];
        job.items = (pj.end - pj.first + pj.grab - 1) / pj.grab;
        failed = nw_team_run(&job, threads) != NW_OK;
    }
    free(rstart);
    stopped = atomic_load(&pj.stopped);
    size_t empties = 0, fallbacks = 0;
    double bound = 0;
    for (int t = 0; t < threads; t++) {
        empties += empties_w[t];
        fallbacks += fallbacks_w[t];
        if (bound_w[t] > bound) bound = bound_w[t];
    }
    /* the last report, (m, m), once every query is done */
    if (!failed && !stopped && m > 0 && model->progress &&
        model->progress((double) m, (double) m, model->progress_ctx))
        stopped = 1;
    nw_engine_kind kind = eng->kind;
    nw_engine_free(eng);
    free(order);
    if (failed) return NW_ERR_NOMEM;
    if (stopped) return NW_ERR_STOPPED;
    if (n_empty) *n_empty = empties;
    if (info) {
        info->engine = kind;
        const int f32_dense = pb.f32 && kind == NW_ENGINE_DENSE;
        info->certified = !f32_dense && !model->y_lossy;
        info->error_bound = f32_dense ? NW_F32_ERROR_BOUND : bound;
        info->exact_fallbacks = fallbacks;
        info->seconds = nw_clock() - t0;
    }
    return NW_OK;
}

nw_status nw_model_engine_applies(const nw_model *model)
{
    if (!model) return NW_ERR_ARG;
    double w[model->d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;
    nw_problem pb;
    nw_problem_init(&pb, model, w, 0);
    return nw_engine_applies(&pb, model->engine) ? NW_OK : NW_ERR_ARG;
}

nw_status nw_predict(const nw_model *model, const double *q, size_t m,
                     double *yhat, size_t *n_empty)
{
    return nw_predict_info(model, q, m, yhat, n_empty, NULL);
}

nw_status nw_attention(const nw_model *model, const double *q, size_t m,
                       double *weights)
{
    if (!model || (m > 0 && (!q || !weights))) return NW_ERR_ARG;
    if (!nw_all_finite(q, m * model->d)) return NW_ERR_NONFINITE;
    const size_t n = model->n, d = model->d;
    const nw_kernel kernel = model->kernel;
    double w[d];
    nw_status st = nw_scales(model, NULL, w);
    if (st) return st;

#pragma omp parallel for num_threads(nw_threads(model, m * n)) schedule(static)
    for (size_t j = 0; j < m; j++) {
        double *row = weights + j * n;
        const double *qj = q + j * d;
        /* pass 1: scores; pass 2: max and exp; pass 3: normalise */
        double top = -INFINITY, sum = 0;
        for (size_t i = 0; i < n; i++) {
            double s = kernel_is_log(kernel) ? 0 : 1;
            for (size_t k = 0; k < d; k++) {
                double u = (qj[k] - model->x[i * d + k]) * w[k];
                if (kernel_is_log(kernel)) s += kernel_log(kernel, u);
                else s *= kernel_value(kernel, u);
            }
            row[i] = s;
            if (s > top) top = s;
        }
        if (kernel_is_log(kernel) && top > -INFINITY)
            for (size_t i = 0; i < n; i++) row[i] = exp(row[i] - top);
        else if (kernel_is_log(kernel))
            for (size_t i = 0; i < n; i++) row[i] = 0;
        for (size_t i = 0; i < n; i++) sum += row[i];
        if (sum > 0) {
            for (size_t i = 0; i < n; i++) row[i] /= sum;
            continue;
        }
        /* empty neighbourhood: compact kernels, or scores that overflowed */
        if (model->empty == NW_EMPTY_NAN && !kernel_is_log(kernel)) {
            for (size_t i = 0; i < n; i++) row[i] = NAN;
            continue;
        }
        double best = INFINITY, wmax = max_abs(w, d);
        double unit = distance_unit(model, w, wmax, qj, NW_NO_SKIP);
        size_t ties = 0;
        for (size_t i = 0; i < n; i++) {
            double s = scaled_dist2(model, w, wmax, unit, qj, i);
            row[i] = s;
            if (s < best) { best = s; ties = 0; }
            if (s == best) ties++;
        }
        for (size_t i = 0; i < n; i++) row[i] = row[i] == best ? 1.0 / (double) ties : 0;
    }
    return NW_OK;
}

nw_status nw_baseline(const nw_model *model, double *mean)
{
    if (!model || !mean) return NW_ERR_ARG;
    const size_t n = model->n, p = model->p;
    for (size_t c = 0; c < p; c++) {
        double s = 0;
        /* scaled outputs (see internal.h): their sum cannot overflow */
        const double *y = model->y_sums ? model->y_sums : model->y;
        for (size_t i = 0; i < n; i++) s += y[i * p + c];
        mean[c] = nw_unscaled(model, c, s / (double) n);
    }
    return NW_OK;
}
