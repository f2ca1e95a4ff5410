/*
 * select.c: bandwidth selection.  Criteria (leave-one-out least squares,
 * AICc), rules of thumb, and their minimisation over t = log h, so no
 * bandwidth can ever be <= 0 (the trap statsmodels' Nelder–Mead falls in).
 *
 * Global, not local: a scan over a log grid (1-d: 30 points over
 * [0.01, 100] x Scott's rule) finds the basin of the smallest value, then
 *  - 1-d: a bracketing root search on the analytic derivative (secant and
 *    Illinois regula falsi, bisection as safeguard) inside the two grid cells around
 *    the best point; Brent's derivative-free minimiser when the derivative
 *    does not bracket (flat kernels such as the uniform);
 *  - d > 1: L-BFGS from the best few grid points, keeping the best end.
 * At n <= 20000 the scan's points run on parallel threads (scan_points).
 *
 * Limits.  Compact kernels give criteria with kinks (points enter and leave
 * the support) and, at small n, neighbouring dips: each dip's two cells are
 * scanned 11 points finer (with the derivative, which the 1-d sorted pass
 * of loo_sorted.c gives almost free: the keys are sorted once per search)
 * before the derivative's root is refined, to 1e-8 relative in h (at a
 * kink the root converges only linearly).  With the uniform kernel the
 * criteria are step functions of h (they change only where h crosses a
 * pairwise distance |x_i - x_j|): a 4x finer scan (2x at n >= 2e5), then
 * Brent's refinement; the result is the best seen, not a certified global
 * minimum.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "estimate.h"
#include "kernels.h"
#include "loo.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ criteria */

/* Criterion at t = log h; grad (d values, d value/d t_k) may be NULL; ls:
 * the prepared sorted leave-one-out pass (loo_sorted.c) or NULL. */
static nw_status criterion_t(const nw_model *model, nw_loo_sorted *ls, nw_criterion crit,
                             const double *t, double *value, double *grad);

static nw_status aicc_value(const nw_model *model, nw_loo_sorted *ls, const double *t,
                            double *value)
{
    const size_t n = model->n, d = model->d, p = model->p;
    double w[d];
    for (size_t k = 0; k < d; k++) w[k] = exp(-t[k]);
    nw_pass_result res = { 0 };
    nw_status st = ls ? nw_loo_sorted_pass(ls, w[0], 0, 0, 0, NULL, &res)
                      : nw_pass(model, w, 0, 0, NW_PASS_CRITERION, NULL, &res);
    if (st) return st;
    /* Hurvich, Simonoff & Tsai (1998): sigma^2 is the in-sample mean squared
     * residual (pooled over outputs), tr(H) = sum_i H_ii.  When tr(H) >= n - 2
     * the correction is undefined (the fit interpolates): +infinity. */
    double sigma2 = 2 * res.loss / ((double) n * (double) p);
    double denom = 1 - (res.trace + 2) / (double) n;
    if (!isfinite(res.loss) || !(denom > 0) || !(sigma2 > 0)) {
        *value = INFINITY;
        return NW_OK;
    }
    *value = log(sigma2) + (1 + res.trace / (double) n) / denom;
    return NW_OK;
}

static nw_status criterion_t(const nw_model *model, nw_loo_sorted *ls, nw_criterion crit,
                             const double *t, double *value, double *grad)
{
    const size_t d = model->d, n = model->n;
    for (size_t k = 0; k < d; k++)
        if (!isfinite(t[k])) return NW_ERR_BANDWIDTH;
    if (crit == NW_CRITERION_LOO) {
        /* CV(h) = (1/n) sum_i |y_i - yhat_{-i}|^2 = 2 L(w) / n with w = e^{-t},
         * so dCV/dt_k = -(2/n) w_k dL/dw_k. */
        double w[d], g[d];
        for (size_t k = 0; k < d; k++) w[k] = exp(-t[k]);
        nw_pass_result res = { .grad = g };
        nw_status st = ls ? nw_loo_sorted_pass(ls, w[0], 1, grad != NULL, 0, NULL, &res)
                          : nw_pass(model, w, 1, grad != NULL, NW_PASS_CRITERION, NULL, &res);
        if (st) return st;
        *value = 2 * res.loss / (double) n;
        for (size_t k = 0; grad && k < d; k++)
            grad[k] = isfinite(*value) ? -2 * w[k] * g[k] / (double) n : 0;
        return NW_OK;
    }
    if (crit != NW_CRITERION_AICC) return NW_ERR_ARG;
    nw_status st = aicc_value(model, ls, t, value);
    if (st || !grad) return st;
    /* no closed form here: central differences in log h (error O(step^2)) */
    const double step = 1e-4;
    double tt[d];
    memcpy(tt, t, d * sizeof(double));
    for (size_t k = 0; k < d; k++) {
        double fp, fm;
        tt[k] = t[k] + step;
        if ((st = aicc_value(model, ls, tt, &fp))) return st;
        tt[k] = t[k] - step;
        if ((st = aicc_value(model, ls, tt, &fm))) return st;
        tt[k] = t[k];
        grad[k] = (isfinite(fp) && isfinite(fm)) ? (fp - fm) / (2 * step) : 0;
    }
    return NW_OK;
}

nw_status nw_criterion_eval(const nw_model *model, nw_criterion criterion,
                            const double *h, double *value, double *grad_log_h)
{
    if (!model || !value) return NW_ERR_ARG;
    if (model->n < 2) return NW_ERR_EMPTY;
    const size_t d = model->d;
    double t[d];
    for (size_t k = 0; k < d; k++) {
        double hk = h ? h[k] : model->h[k];
        if (!isfinite(hk) || !(hk > 0)) return NW_ERR_BANDWIDTH;
        t[k] = log(hk);
    }
    return criterion_t(model, NULL, criterion, t, value, grad_log_h);
}

/* -------------------------------------------------------- rules of thumb */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* numpy's default percentile: linear interpolation between order statistics */
static double percentile(const double *sorted, size_t n, double q)
{
    double pos = q * (double) (n - 1);
    size_t i = (size_t) floor(pos);
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + (pos - (double) i) * (sorted[i + 1] - sorted[i]);
}

nw_status nw_rule_of_thumb(const nw_model *model, nw_rule rule, double *h)
{
    if (!model || !h || (rule != NW_RULE_SCOTT && rule != NW_RULE_SILVERMAN)) return NW_ERR_ARG;
    const size_t n = model->n, d = model->d;
    double *col = malloc(n * sizeof(double));
    if (!col) return NW_ERR_NOMEM;
    double factor = pow((double) n, -1.0 / (4.0 + (double) d));
    nw_status st = NW_OK;
    for (size_t k = 0; k < d; k++) {
        double sd = nw_column_sd(model->x + k, n, d), spread = sd;
        if (rule == NW_RULE_SILVERMAN) {
            for (size_t i = 0; i < n; i++) col[i] = model->x[i * d + k];
            qsort(col, n, sizeof(double), cmp_double);
            double iqr = (percentile(col, n, 0.75) - percentile(col, n, 0.25)) / 1.349;
            spread = (iqr > 0 && iqr < sd) ? iqr : sd;
            h[k] = 0.9 * spread * factor;
        } else {
            h[k] = 1.06 * spread * factor;
        }
        if (!(h[k] > 0) || !isfinite(h[k])) { st = NW_ERR_BANDWIDTH; break; }
    }
    free(col);
    return st;
}

/* ------------------------------------------------------------ options */

void nw_select_options_init(nw_select_options *o)
{
    if (!o) return;
    o->grid_points = 30;
    o->grid_lo = 0.01;
    o->grid_hi = 100;
    o->starts = 8;
    o->tol = 1e-8;
    o->max_iter = 200;
}

/* ------------------------------------------------------------ 1-d search */

typedef struct search {
    const nw_model *model;
    nw_loo_sorted *ls;      /* 1-d compact kernels' leave-one-out pass, or NULL */
    nw_criterion crit;
    int evals;
    double expected;        /* evaluations the search will probably take (progress) */
    double best_f, *best_t; /* best point seen (d values) */
} search;

/* The progress report of evaluation number `done` (from 1): 1 if the
 * callback asks to stop. */
static int report(const search *s, int done)
{
    const nw_model *m = s->model;
    if (!m->progress) return 0;
    double total = s->expected > done ? s->expected : done + 1;
    return m->progress((double) done, total, m->progress_ctx) != 0;
}

/* A finished evaluation: keep the best point. */
static void keep_best(search *s, const double *t, double f)
{
    if (f < s->best_f) {
        s->best_f = f;
        memcpy(s->best_t, t, s->model->d * sizeof(double));
    }
}

static nw_status eval(search *s, const double *t, double *f, double *g)
{
    nw_status st = criterion_t(s->model, s->ls, s->crit, t, f, g);
    if (st) return st;
    if (report(s, ++s->evals)) return NW_ERR_STOPPED;
    keep_best(s, t, *f);
    return NW_OK;
}

/* Scans at small n run their points on parallel threads: each point's
 * pass would run on one thread there (nw_threads: under ~1e7 kernel
 * evaluations), and whole passes per thread need no barrier but the last,
 * so a thread the machine does not schedule at once delays the scan by at
 * most one pass.  The threads are POSIX threads that end with the scan: an
 * OpenMP team's idle threads would spin through the serial refinement that
 * follows (a fifth of the CPU time at n = 3000).  Each concurrent pass holds
 * its own engine: hence the bound on n, which keeps that memory small. */
#define SCAN_PARALLEL_MAX_N 20000
#define SCAN_MAX_THREADS 64

typedef struct scan_job {
    search *s;
    const nw_model *serial;   /* the model with threads = 1, no progress */
    const double *t;
    double *f, *g;
    int count;
    atomic_int next;          /* the next point to take */
    atomic_int done;          /* passes finished */
    atomic_int stop;          /* a pass failed or the callback said stop */
    pthread_mutex_t lock;     /* guards status */
    nw_status status;
} scan_job;

static void scan_fail(scan_job *job, nw_status st)
{
    pthread_mutex_lock(&job->lock);
    if (!job->status) job->status = st;
    pthread_mutex_unlock(&job->lock);
    atomic_store(&job->stop, 1);
}

/* Take points until none is left; the caller's thread (reported != NULL)
 * also makes the progress reports, one per finished pass and in order, as
 * the serial scan does. */
static void scan_work(scan_job *job, int *reported)
{
    const size_t d = job->serial->d;
    for (;;) {
        if (atomic_load(&job->stop)) return;
        int i = atomic_fetch_add(&job->next, 1);
        if (i >= job->count) return;
        nw_status st = criterion_t(job->serial, NULL, job->s->crit, job->t + i * d, &job->f[i],
                                   job->g ? job->g + i * d : NULL);
        int now = atomic_fetch_add(&job->done, 1) + 1;
        if (st) { scan_fail(job, st); return; }
        while (reported && *reported < now)
            if (report(job->s, job->s->evals + ++*reported)) {
                scan_fail(job, NW_ERR_STOPPED);
                return;
            }
    }
}

static void *scan_thread(void *arg)
{
    scan_work(arg, NULL);
    return NULL;
}

/* eval at the points t[0..count) (count x d) into f, and the gradients
 * into g (count x d) unless g is NULL: the same values, evaluation count,
 * best point and progress reports (from the caller's thread) as calling
 * eval for each point in order. */
static nw_status scan_points(search *s, const double *t, double *f, double *g, int count)
{
    const nw_model *m = s->model;
    const size_t d = m->d;
    int threads = 1;
#ifdef _OPENMP
    threads = m->threads > 0 ? m->threads : omp_get_max_threads();
#endif
    if (threads > count) threads = count;
    if (threads > SCAN_MAX_THREADS) threads = SCAN_MAX_THREADS;
    if (threads < 2 || s->ls || m->n > SCAN_PARALLEL_MAX_N) {
        for (int i = 0; i < count; i++) {
            nw_status st = eval(s, t + i * d, &f[i], g ? g + i * d : NULL);
            if (st) return st;
        }
        return NW_OK;
    }
    /* each pass on one thread (a shallow copy: the passes only read it) */
    nw_model serial = *m;
    serial.threads = 1;
    serial.progress = NULL;
    scan_job job = { .s = s, .serial = &serial, .t = t, .f = f, .g = g, .count = count };
    atomic_init(&job.next, 0);
    atomic_init(&job.done, 0);
    atomic_init(&job.stop, 0);
    if (pthread_mutex_init(&job.lock, NULL)) return NW_ERR_NOMEM;
    pthread_t tid[SCAN_MAX_THREADS];
    int started = 0, reported = 0;
    /* a thread that cannot start leaves its share to the others */
    while (started < threads - 1 && pthread_create(&tid[started], NULL, scan_thread, &job) == 0)
        started++;
    scan_work(&job, &reported);
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
    pthread_mutex_destroy(&job.lock);
    /* what the other threads finished last */
    nw_status status = job.status;
    while (!status && reported < count)
        if (report(s, s->evals + ++reported)) status = NW_ERR_STOPPED;
    if (status) return status;
    s->evals += count;
    for (int i = 0; i < count; i++) keep_best(s, t + i * d, f[i]);
    return NW_OK;
}

/* Brent's minimiser (golden section + parabolic steps) on [a, b]. */
static nw_status brent_min(search *s, double a, double b, double x, double fx,
                           double tol, int max_iter)
{
    const double cgold = 0.3819660112501051;
    double w = x, v = x, fw = fx, fv = fx, dstep = 0, e = 0;
    for (int it = 0; it < max_iter; it++) {
        double m = 0.5 * (a + b), tol1 = tol * (1 + fabs(x)), tol2 = 2 * tol1;
        if (fabs(x - m) <= tol2 - 0.5 * (b - a)) break;
        double u;
        int golden = 1;
        if (fabs(e) > tol1) {
            double r = (x - w) * (fx - fv), q = (x - v) * (fx - fw), pp = (x - v) * q - (x - w) * r;
            q = 2 * (q - r);
            if (q > 0) pp = -pp; else q = -q;
            if (fabs(pp) < fabs(0.5 * q * e) && pp > q * (a - x) && pp < q * (b - x)) {
                e = dstep;
                dstep = pp / q;
                u = x + dstep;
                if (u - a < tol2 || b - u < tol2) dstep = x < m ? tol1 : -tol1;
                golden = 0;
            }
        }
        if (golden) {
            e = (x < m ? b : a) - x;
            dstep = cgold * e;
        }
        u = x + (fabs(dstep) >= tol1 ? dstep : (dstep > 0 ? tol1 : -tol1));
        double fu;
        nw_status st = eval(s, &u, &fu, NULL);
        if (st) return st;
        if (fu <= fx) {
            if (u < x) b = x; else a = x;
            v = w; fv = fw; w = x; fw = fx; x = u; fx = fu;
        } else {
            if (u < x) a = u; else b = u;
            if (fu <= fw || w == x) { v = w; fv = fw; w = u; fw = fu; }
            else if (fu <= fv || v == x || v == w) { v = u; fv = fu; }
        }
    }
    return NW_OK;
}

/* Root of the derivative in [a, b] with g(a) < 0 < g(b): the secant
 * through the last two points where it falls inside the bracket, else
 * Illinois regula falsi on the bracket, and a bisection where three steps
 * did not halve the bracket (at a kink of a compact kernel's criterion the
 * secant converges only linearly).  Measured on compact kernels (5 kernels,
 * lc and ll, n = 3000 and 1e5): 1026 evaluations against 1045 with
 * Illinois and a bisection every fourth step, the criterion equal to
 * 3e-9 relative. */
static nw_status derivative_root(search *s, double a, double ga, double b,
                                 double gb, double tol, int max_iter)
{
    int side = 0, steps = 0;
    double prev = NAN, gprev = NAN;   /* the last point evaluated, its derivative */
    double older = NAN, golder = NAN; /* the one before */
    double width = b - a;             /* the bracket three steps ago */
    for (int it = 0; it < max_iter && b - a > tol * (1 + fabs(a)); it++) {
        double c = NAN;
        if (gprev != golder)
            c = prev - gprev * (prev - older) / (gprev - golder);
        if (!(c > a && c < b)) c = (a * gb - b * ga) / (gb - ga);
        int secant = c > a && c < b;
        /* the secant's root within tol of the last point: that point is the
         * root (the bracket's far end can stay put for several steps) */
        if (secant && fabs(c - prev) <= tol * (1 + fabs(c))) break;
        if (++steps == 4) {
            if (b - a > 0.5 * width) secant = 0;
            steps = 1;
            width = b - a;
        }
        if (!secant) c = 0.5 * (a + b); /* safeguard */
        double fc, gc;
        nw_status st = eval(s, &c, &fc, &gc);
        if (st) return st;
        older = prev;
        golder = gprev;
        prev = c;
        gprev = gc;
        if (gc == 0 || !isfinite(fc)) break;
        if (gc < 0) {
            a = c; ga = gc;
            if (side == -1) gb *= 0.5;
            side = -1;
        } else {
            b = c; gb = gc;
            if (side == 1) ga *= 0.5;
            side = 1;
        }
    }
    return NW_OK;
}

/* Local minima of the 1-d scan that get refined. */
#define REFINE_1D 3
/* Points of the finer scan inside a dip's two cells (compact kernels). */
#define SUBSCAN_1D 17
/* The uniform kernel's scan: 4x the grid's points, 2x from this many data
 * points on (select_1d). */
#define FLAT_LARGE_N 200000
/* Points of the finer scan of a dip's two cells (compact kernels but the
 * uniform: with the derivative refinement) */
#define SUBSCAN_COMPACT 11

static nw_status select_1d(search *s, const nw_select_options *o, double t0)
{
    /* the uniform kernel's criteria are step functions (no derivative):
     * scan 4x more finely and refine without the derivative.  The other
     * compact kernels' criteria have kinks where points enter or leave the
     * support, but between them the analytic derivative is exact and the
     * kinks are small next to the changes across a grid cell (measured:
     * the same optimum as a 4000-point scan, tests/test_select.c), so they
     * are searched as the smooth ones. */
    int flat = s->model->kernel == NW_KERNEL_UNIFORM, smooth = kernel_is_log(s->model->kernel);
    int G = o->grid_points < 5 ? 5 : o->grid_points;
    /* (from FLAT_LARGE_N points on, 2x: the steps, one pair |x_i - x_j|
     * crossing h each, are then too small and too many to make narrow dips,
     * and the 2x scan ends at the same minimum; measured at n = 1e6, lc and
     * ll: the same LOO CV to 6 digits with 127 and 152 evaluations instead
     * of 203 and 224; at n = 2e4 and 1e5 the two scans' minima differ by
     * up to 1e-5 relative either way, so there the 4x scan stays) */
    if (flat) G *= s->model->n >= FLAT_LARGE_N ? 2 : 4;
    double lo = t0 + log(o->grid_lo), hi = t0 + log(o->grid_hi);
    /* tg: scan points, then a mark per point (NaN = refined); fg: values */
    double *tg = malloc(3 * (size_t) G * sizeof(double)), *fg = tg + 2 * G;
    if (!tg) return NW_ERR_NOMEM;
    nw_status st = NW_OK;
    int ib = -1;
    /* scan; if the best point is on the edge, widen the range that way */
    for (int widen = 0; widen < 4; widen++) {
        ib = -1;
        for (int i = 0; i < G; i++) {
            tg[i] = lo + (hi - lo) * i / (G - 1);
            tg[G + i] = 0;
        }
        if ((st = scan_points(s, tg, fg, NULL, G))) goto done;
        for (int i = 0; i < G; i++)
            if (isfinite(fg[i]) && (ib < 0 || fg[i] < fg[ib])) ib = i;
        if (ib < 0) { st = NW_ERR_NUMERIC; goto done; }
        double span = hi - lo;
        if (ib == 0 && widen < 3) { hi = lo + span / (G - 1); lo -= span; }
        else if (ib == G - 1 && widen < 3) { lo = hi - span / (G - 1); hi += span; }
        else break;
    }
    if (ib == 0 || ib == G - 1) goto done; /* still decreasing at the edge: keep the edge */
    /* refine up to REFINE_1D local minima of the scan, lowest first
     * (compact kernels give criteria with kinks and several dips of similar
     * depth); for smooth kernels, skipping a dip that cannot beat the best value seen: within one
     * grid cell a dip improves on its scan value by about as much as the
     * criterion changes across the cell */
    for (int r = 0; r < REFINE_1D; r++) {
        int im = -1;
        for (int i = 1; i < G - 1; i++)
            if (isfinite(fg[i]) && !isnan(tg[G + i]) && fg[i] <= fg[i - 1] && fg[i] <= fg[i + 1] &&
                (im < 0 || fg[i] < fg[im]))
                im = i;
        if (im < 0) break;
        tg[G + im] = NAN; /* refined (fg stays: it is its neighbours' reference) */
        double rise = fmax(fg[im - 1], fg[im + 1]) - fg[im];
        if (!flat && r > 0 && fg[im] - 2 * rise > s->best_f) continue;
        double a = tg[im - 1], b = tg[im + 1];
        if (flat) {
            /* kinks inside the cell: a finer scan of it first, then Brent
             * around its best point */
            double step = (b - a) / (SUBSCAN_1D - 1), tb = tg[im], fbest = fg[im];
            double fworst = fmax(fg[im - 1], fg[im + 1]);
            for (int i = 1; i < SUBSCAN_1D - 1; i++) {
                double t = a + step * i, f;
                if ((st = eval(s, &t, &f, NULL))) goto done;
                if (f < fbest) { fbest = f; tb = t; }
                if (f > fworst) fworst = f;
            }
            /* a later dip whose best lies further above the best seen than
             * the criterion varies across its own cells: Brent inside one
             * subcell cannot bring it down that far (measured, n = 2e4:
             * the refinements gained 2e-6 to 1.2e-5 relative, the skipped
             * dips were 1e-4 and 2.4e-4 above, with variations of 9e-5 and
             * 1.3e-4), and the ~20 steps are saved */
            if (r > 0 && fbest - s->best_f > fworst - fbest) continue;
            st = brent_min(s, tb - step, tb + step, tb, fbest, o->tol, o->max_iter);
            if (st) goto done;
            continue;
        }
        double tol = o->tol, tm = tg[im], fm = fg[im];
        if (!smooth) {
            /* compact kernels: two cells can hold two dips (seen at n = 2000,
             * cosine: 0.151 and 0.184): a finer scan of them (with the
             * derivative, which the sorted pass gives almost free) first,
             * then the root in the best point's two subcells.  The
             * derivative jumps at the kinks, where a root converges only
             * linearly: h to 1e-8 relative (the criterion then agrees to
             * ~1e-16). */
            const int sub = SUBSCAN_COMPACT, mid = (SUBSCAN_COMPACT - 1) / 2;
            double step = (b - a) / (sub - 1);
            /* the subscan's points, values and derivatives (known[i]: with
             * its derivative); its ends are the scan's a and b, its middle
             * the scan's tm, whose values are known already */
            double ts[SUBSCAN_COMPACT], fs[SUBSCAN_COMPACT], gs[SUBSCAN_COMPACT];
            int known[SUBSCAN_COMPACT] = { 0 }, best = mid;
            for (int i = 0; i < sub; i++) ts[i] = i == 0 ? a : i == sub - 1 ? b : i == mid ? tm : a + step * i;
            fs[0] = fg[im - 1];
            fs[sub - 1] = fg[im + 1];
            fs[mid] = fm;
            for (int i = 1; i < sub - 1; i++) {
                if (i != mid) {
                    if ((st = eval(s, &ts[i], &fs[i], &gs[i]))) goto done;
                    known[i] = 1;
                }
                if (fs[i] < fs[best]) best = i;
            }
            /* the best point's two subcells: their ends' derivatives are
             * known unless an end is a scan point */
            tm = ts[best];
            fm = fs[best];
            tol = fmax(tol, 1e-8);
            a = ts[best - 1];
            b = ts[best + 1];
            double ends[2], fe[2], ge[2];
            int need = 0;
            for (int e = 0; e < 2; e++)
                if (!known[best - 1 + 2 * e]) ends[need++] = ts[best - 1 + 2 * e];
            if (need && (st = scan_points(s, ends, fe, ge, need))) goto done;
            double gab[2];
            for (int e = 0, k = 0; e < 2; e++)
                gab[e] = known[best - 1 + 2 * e] ? gs[best - 1 + 2 * e] : ge[k++];
            if (gab[0] < 0 && gab[1] > 0 && s->crit == NW_CRITERION_LOO)
                st = derivative_root(s, a, gab[0], b, gab[1], tol, o->max_iter);
            else
                st = brent_min(s, a, b, tm, fm, tol, o->max_iter);
            if (st) goto done;
            continue;
        }
        /* the derivative at both ends (two passes at once where the scan
         * runs them so) */
        double ends[2] = { a, b }, fe[2], ge[2];
        if ((st = scan_points(s, ends, fe, ge, 2))) goto done;
        double ga = ge[0], gb = ge[1];
        if (ga < 0 && gb > 0 && s->crit == NW_CRITERION_LOO)
            st = derivative_root(s, a, ga, b, gb, tol, o->max_iter);
        else
            st = brent_min(s, a, b, tm, fm, tol, o->max_iter);
        if (st) goto done;
    }
done:
    free(tg);
    return st;
}

/* -------------------------------------------------------------- L-BFGS */

#define LBFGS_M 6

static nw_status lbfgs(search *s, double *t, const double *tlo, const double *thi,
                       double tol, int max_iter)
{
    const size_t d = s->model->d;
    double f, g[d], S[LBFGS_M][d], Y[LBFGS_M][d], rho[LBFGS_M], alpha[LBFGS_M];
    double dir[d], tn[d], gn[d];
    int mem = 0, head = 0;
    nw_status st = eval(s, t, &f, g);
    if (st || !isfinite(f)) return st;
    for (int it = 0; it < max_iter; it++) {
        double gmax = 0;
        for (size_t k = 0; k < d; k++) gmax = fmax(gmax, fabs(g[k]));
        if (gmax <= tol * (1 + fabs(f))) break;
        /* two-loop recursion: dir = -H g */
        for (size_t k = 0; k < d; k++) dir[k] = -g[k];
        for (int j = 0; j < mem; j++) {
            int i = (head - 1 - j + LBFGS_M) % LBFGS_M;
            double a = 0;
            for (size_t k = 0; k < d; k++) a += S[i][k] * dir[k];
            alpha[i] = rho[i] * a;
            for (size_t k = 0; k < d; k++) dir[k] -= alpha[i] * Y[i][k];
        }
        if (mem > 0) {
            int i = (head - 1 + LBFGS_M) % LBFGS_M;
            double sy = 0, yy = 0;
            for (size_t k = 0; k < d; k++) { sy += S[i][k] * Y[i][k]; yy += Y[i][k] * Y[i][k]; }
            for (size_t k = 0; k < d; k++) dir[k] *= sy / yy;
        }
        for (int j = mem - 1; j >= 0; j--) {
            int i = (head - 1 - j + LBFGS_M) % LBFGS_M;
            double b = 0;
            for (size_t k = 0; k < d; k++) b += Y[i][k] * dir[k];
            b *= rho[i];
            for (size_t k = 0; k < d; k++) dir[k] += S[i][k] * (alpha[i] - b);
        }
        double slope = 0, dmax = 0;
        for (size_t k = 0; k < d; k++) { slope += dir[k] * g[k]; dmax = fmax(dmax, fabs(dir[k])); }
        if (!(slope < 0)) { /* not a descent direction: restart on the gradient */
            mem = 0;
            for (size_t k = 0; k < d; k++) dir[k] = -g[k];
            slope = 0; dmax = 0;
            for (size_t k = 0; k < d; k++) { slope -= g[k] * g[k]; dmax = fmax(dmax, fabs(g[k])); }
        }
        double step = dmax > 1 ? 1 / dmax : 1; /* at most e-fold per iteration */
        double fn = INFINITY;
        int ok = 0;
        for (int ls = 0; ls < 40; ls++, step *= 0.5) { /* Armijo backtracking */
            for (size_t k = 0; k < d; k++) tn[k] = fmin(thi[k], fmax(tlo[k], t[k] + step * dir[k]));
            if ((st = eval(s, tn, &fn, gn))) return st;
            double dec = 0;
            for (size_t k = 0; k < d; k++) dec += g[k] * (tn[k] - t[k]);
            if (isfinite(fn) && fn <= f + 1e-4 * dec) { ok = 1; break; }
        }
        if (!ok) break;
        double sy = 0;
        for (size_t k = 0; k < d; k++) {
            S[head][k] = tn[k] - t[k];
            Y[head][k] = gn[k] - g[k];
            sy += S[head][k] * Y[head][k];
        }
        double fold = f;
        memcpy(t, tn, d * sizeof(double));
        memcpy(g, gn, d * sizeof(double));
        f = fn;
        if (sy > 1e-300) {
            rho[head] = 1 / sy;
            head = (head + 1) % LBFGS_M;
            if (mem < LBFGS_M) mem++;
        }
        if (fold - f <= 1e-15 * (1 + fabs(f))) break;
    }
    return NW_OK;
}

typedef struct scored { double f; size_t index; } scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *) a)->f, y = ((const scored *) b)->f;
    return (x > y) - (x < y);
}

static nw_status select_nd(search *s, const nw_select_options *o, const double *t0)
{
    const size_t d = s->model->d;
    /* a full grid of k^d points with k^d <= ~400 (k >= 3); for large d a
     * deterministic low-discrepancy sample (Halton) of 400 points */
    size_t k = (size_t) floor(pow(400.0, 1.0 / (double) d));
    if (k < 3) k = 3;
    size_t npts = 1;
    int full = 1;
    for (size_t i = 0; i < d; i++) {
        if (npts > 400 / k + 1) { full = 0; break; }
        npts *= k;
    }
    if (!full) npts = 400;
    double lo = log(o->grid_lo), hi = log(o->grid_hi);
    double tlo[d], thi[d], t[d];
    for (size_t i = 0; i < d; i++) { tlo[i] = t0[i] + lo - 3; thi[i] = t0[i] + hi + 6; }
    scored *sc = malloc(npts * sizeof *sc);
    double *pts = malloc(npts * (d + 1) * sizeof(double)), *fpts = pts + npts * d;
    nw_status st = NW_OK;
    if (!sc || !pts) { st = NW_ERR_NOMEM; goto done; }
    static const int primes[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53 };
    for (size_t j = 0; j < npts; j++) {
        size_t idx = j;
        for (size_t i = 0; i < d; i++) {
            double frac;
            if (full) {
                frac = (double) (idx % k) / (double) (k - 1);
                idx /= k;
            } else { /* Halton radical inverse */
                int b = primes[i % 16];
                double inv = 1.0 / b, fct = inv;
                size_t m = j + 1;
                frac = 0;
                while (m) { frac += (double) (m % (size_t) b) * fct; m /= (size_t) b; fct *= inv; }
            }
            pts[j * d + i] = t0[i] + lo + (hi - lo) * frac;
        }
    }
    if ((st = scan_points(s, pts, fpts, NULL, (int) npts))) goto done;
    for (size_t j = 0; j < npts; j++) {
        sc[j].f = isfinite(fpts[j]) ? fpts[j] : INFINITY;
        sc[j].index = j;
    }
    qsort(sc, npts, sizeof *sc, cmp_scored);
    if (!isfinite(sc[0].f)) { st = NW_ERR_NUMERIC; goto done; }
    int starts = o->starts < 1 ? 1 : o->starts;
    for (int j = 0; j < starts && (size_t) j < npts && isfinite(sc[j].f); j++) {
        memcpy(t, pts + sc[j].index * d, d * sizeof(double));
        if ((st = lbfgs(s, t, tlo, thi, 1e-9, o->max_iter))) goto done;
    }
    /* polish the best point coordinate by coordinate with Brent (helps where
     * the gradient is zero or unreliable, e.g. flat kernels) */
    double step = (hi - lo) / (double) (k - 1);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < d; i++) {
            memcpy(t, s->best_t, d * sizeof(double));
            double *ti = &t[i], base = *ti, fbest = s->best_f;
            /* 1-d Brent on coordinate i through a small adapter */
            double a = base - step, b = base + step, x = base, fx = fbest;
            const double cg = 0.3819660112501051;
            for (int it = 0; it < 60 && b - a > o->tol * (1 + fabs(x)); it++) {
                double u = (x - a > b - x) ? x - cg * (x - a) : x + cg * (b - x), fu;
                *ti = u;
                if ((st = eval(s, t, &fu, NULL))) goto done;
                if (fu < fx) { if (u < x) b = x; else a = x; x = u; fx = fu; }
                else { if (u < x) a = u; else b = u; }
            }
        }
    }
done:
    free(sc);
    free(pts);
    return st;
}

nw_status nw_select_bandwidth(nw_model *model, nw_criterion criterion,
                              const nw_select_options *opts,
                              nw_select_result *result)
{
    nw_select_options defaults;
    if (!model || (criterion != NW_CRITERION_LOO && criterion != NW_CRITERION_AICC)) return NW_ERR_ARG;
    if (model->n < 2) return NW_ERR_EMPTY;
    if (!opts) { nw_select_options_init(&defaults); opts = &defaults; }
    if (!(opts->grid_lo > 0) || !(opts->grid_hi > opts->grid_lo) || !(opts->tol > 0)) return NW_ERR_ARG;
    const size_t d = model->d;
    double h0[d], t0[d], best_t[d];
    nw_status st = nw_rule_of_thumb(model, NW_RULE_SCOTT, h0);
    if (st) return st;
    for (size_t k = 0; k < d; k++) t0[k] = log(h0[k]);
    memcpy(best_t, t0, sizeof best_t);
    search s = { .model = model, .crit = criterion, .best_f = INFINITY, .best_t = best_t };
    /* 1-d compact kernels: the keys sorted once for every evaluation */
    if (nw_loo_sorted_applies(model) &&
        (st = nw_loo_sorted_new(model, &s.ls)))
        return st;
    /* 1-d: the scan plus ~20 refinement steps; d > 1: ~400 scan points plus
     * ~30 steps per start (AICc's gradient costs 2d more) */
    int flat = model->kernel == NW_KERNEL_UNIFORM;
    s.expected = d == 1 ? opts->grid_points * (flat ? 4 : 1) + 20
                        : 400 + 30.0 * opts->starts * (criterion == NW_CRITERION_AICC ? 1 + 2.0 * (double) d : 1);
    st = d == 1 ? select_1d(&s, opts, t0[0]) : select_nd(&s, opts, t0);
    nw_loo_sorted_free(s.ls);
    if (st) return st;
    if (!isfinite(s.best_f)) return NW_ERR_NUMERIC;
    double h[d];
    for (size_t k = 0; k < d; k++) h[k] = exp(best_t[k]);
    st = nw_model_set_bandwidth(model, h);
    if (st) return st;
    if (result) { result->value = s.best_f; result->evaluations = s.evals; }
    return NW_OK;
}

