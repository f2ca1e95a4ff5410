/*
 * nwreg.h: Nadaraya–Watson kernel regression, seen as attention.
 *
 * The one public header of libnwreg. Conventions that hold for every call:
 *
 *  - Every function that can fail returns an nw_status; NW_OK is 0.
 *    nw_strerror() turns a status into a static English sentence.
 *  - Arrays are row-major doubles.  Inputs x are n x d (row i holds point i's
 *    d coordinates), values y are n x p, queries q are m x d, predictions are
 *    m x p.  d = number of input columns, p = number of output columns.
 *  - The caller owns everything it passes in; the library copies what it keeps.
 *    What the library allocates for the caller is freed with the matching
 *    *_free function, each of which is a no-op on NULL.
 *  - The library never prints, never exits, and keeps no global state: two
 *    models may be used from two threads at once.  One model may be read
 *    (predict, loss) from several threads at once; changing it (set_*, train,
 *    select) needs exclusive access.  Calls that take no model (names,
 *    kernels, synthetic data, tables, files) are thread-safe; an nw_table
 *    may be read from several threads at once.
 *  - Errors common to every call: NW_ERR_ARG for a NULL pointer where one is
 *    needed or an enum value out of range, NW_ERR_NOMEM when an allocation
 *    fails.  Each comment below names the other errors a call returns.  On
 *    failure a call leaves its outputs unspecified and the model unchanged,
 *    unless its comment says otherwise.
 *  - Getters that return a value rather than a status (nw_model_kernel, ...)
 *    need a valid, non-NULL model.
 *  - Where a call reads a file it may fill an optional nw_diag (may be NULL)
 *    with a one-line message naming the file, line and column.
 *
 * Bandwidths.  For a kernel K and bandwidth h_k > 0 per input column k, the
 * weight of training point i at query q is the product kernel
 *
 *     K_i(q) = prod_k K((q_k - x_ik) / h_k).
 *
 * The notebook writes the Gaussian case as attention with a scale w = 1/h:
 * softmax_i(-((q - x_i) w)^2 / 2).  Both views are offered: bandwidths h in
 * the inputs' units (nw_model_set_bandwidth) and scales w (nw_model_set_scale).
 */
#ifndef NWREG_H
#define NWREG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the shared library exports: the functions declared here, nothing
 * else (it is built with hidden visibility). */
#if defined(__GNUC__) && !defined(NW_STATIC_ONLY)
#define NW_API __attribute__((visibility("default")))
#else
#define NW_API
#endif

#define NWREG_VERSION_MAJOR 0
#define NWREG_VERSION_MINOR 1
#define NWREG_VERSION_PATCH 0
#define NWREG_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- status */

typedef enum nw_status {
    NW_OK = 0,
    NW_ERR_ARG,        /* an argument is invalid (NULL pointer, unknown enum, n = 0 ...) */
    NW_ERR_NOMEM,      /* an allocation failed */
    NW_ERR_EMPTY,      /* no data: zero rows or zero columns */
    NW_ERR_NONFINITE,  /* a NaN or infinity where a finite number is needed */
    NW_ERR_BANDWIDTH,  /* a bandwidth (or scale) is zero, negative or not finite */
    NW_ERR_SHAPE,      /* sizes do not agree (columns, rows, dimensions) */
    NW_ERR_IO,         /* a file could not be opened, read or written */
    NW_ERR_PARSE,      /* a file's content is malformed (see the nw_diag) */
    NW_ERR_FORMAT,     /* a model file has an unknown version or a missing field */
    NW_ERR_NUMERIC,    /* a computation broke down (singular system, no finite optimum) */
    NW_ERR_STOPPED     /* a callback asked to stop */
} nw_status;

/* A static, never-NULL sentence for a status ("unknown status" for a value
 * outside the enum).  The string must not be freed. */
NW_API const char *nw_strerror(nw_status status);

/* Details of a failure that involves a file; line and column are 1-based,
 * 0 when they do not apply.  message is one line, without a newline, and
 * starts with the file name when there is one. */
typedef struct nw_diag {
    char message[512];
    size_t line;
    size_t column;
} nw_diag;

/* --------------------------------------------------------------- kernels */

/* With u = (q - x) / h.  Normalising constants are omitted: they cancel in
 * every ratio nwreg computes (the estimators are invariant to K -> c K). */
typedef enum nw_kernel {
    NW_KERNEL_GAUSSIAN = 0, /* exp(-u^2/2)                 support R      */
    NW_KERNEL_EPANECHNIKOV, /* (1 - u^2)_+                 support [-1,1] */
    NW_KERNEL_UNIFORM,      /* 1{|u| <= 1}                                */
    NW_KERNEL_TRIANGULAR,   /* (1 - |u|)_+                                */
    NW_KERNEL_TRICUBE,      /* (1 - |u|^3)^3_+                            */
    NW_KERNEL_BIWEIGHT,     /* (1 - u^2)^2_+                              */
    NW_KERNEL_COSINE,       /* cos(pi u / 2) 1{|u| <= 1}                  */
    NW_KERNEL_LAPLACE,      /* exp(-|u|)                   support R      */
    NW_KERNEL_COUNT
} nw_kernel;

/* Name ("gaussian", "epanechnikov", ...) of a kernel, a static string;
 * NULL if out of range. */
NW_API const char *nw_kernel_name(nw_kernel kernel);
/* Parse a kernel name (exact, lower case) into *kernel.  NW_ERR_ARG if
 * unknown (then *kernel is unchanged). */
NW_API nw_status nw_kernel_from_name(const char *name, nw_kernel *kernel);
/* K(u) as documented above (K(0) = 1 for every kernel; 0 outside a compact
 * kernel's support).  kernel must be in range. */
NW_API double nw_kernel_eval(nw_kernel kernel, double u);

/* Local linear fits, at each query q, the line (plane) minimising
 * sum_i K_i(q) (y_i - a - b.(x_i - q))^2 and predicts a.  Where the local
 * design is singular -- fewer than d + 1 affinely independent points carry
 * weight, e.g. a compact kernel's window holding one distinct x, or weights
 * below e^-700 of the largest, which count as 0, or a query so far away
 * (log-weights below -2^52) that rounding hides the weights' ratios -- it
 * falls back to the local-constant estimate at that query. */
typedef enum nw_estimator {
    NW_ESTIMATOR_CONSTANT = 0, /* local constant: Nadaraya–Watson, the notebook */
    NW_ESTIMATOR_LINEAR,       /* local linear (statsmodels reg_type='ll')      */
    NW_ESTIMATOR_COUNT
} nw_estimator;

/* "lc" or "ll", a static string; NULL if out of range. */
NW_API const char *nw_estimator_name(nw_estimator estimator);
/* Parse "lc", "constant", "nw" or "ll", "linear" into *estimator.
 * NW_ERR_ARG if unknown. */
NW_API nw_status nw_estimator_from_name(const char *name, nw_estimator *estimator);

/* What a query whose kernel weights are all zero (possible only with a
 * compact kernel: no training point inside the support) gets. */
typedef enum nw_empty_policy {
    NW_EMPTY_NAN = 0, /* NaN in every output column (the default) */
    NW_EMPTY_NEAREST  /* the mean value of the nearest training points (scaled distance) */
} nw_empty_policy;

/* ----------------------------------------------------------------- model */

/* A model: the training data (copied), a kernel, an estimator and one
 * bandwidth per input column. */
typedef struct nw_model nw_model;

/* Make a model from n points: x is n x d, y is n x p (both copied: the
 * caller may free them at once).  *model receives a new model, to be freed
 * with nw_model_free; it is NULL after a failure.
 * Defaults: Gaussian kernel, local constant, every bandwidth 1, NaN for
 * empty neighbourhoods, threads = 0 (OpenMP's default), no names.
 * Errors: NW_ERR_ARG (NULL pointers), NW_ERR_EMPTY (n, d or p is 0),
 * NW_ERR_NONFINITE (a NaN or infinity in x or y), NW_ERR_NOMEM. */
NW_API nw_status nw_model_new(nw_model **model, const double *x, const double *y,
                       size_t n, size_t d, size_t p);
/* Free a model and everything it owns (its copies of the data and names);
 * a no-op on NULL.  Pointers from nw_model_x/y/x_name/y_name die with it. */
NW_API void nw_model_free(nw_model *model);

/* Sizes (0 for a NULL model). */
NW_API size_t nw_model_n(const nw_model *model); /* number of training points */
NW_API size_t nw_model_d(const nw_model *model); /* number of input columns */
NW_API size_t nw_model_p(const nw_model *model); /* number of output columns */
/* Read-only views of the training data, x n x d and y n x p row-major,
 * owned by the model (valid until it is freed; NULL for a NULL model). */
NW_API const double *nw_model_x(const nw_model *model);
NW_API const double *nw_model_y(const nw_model *model);

/* The kernel, estimator and empty policy of the model: each setter returns
 * NW_ERR_ARG for a value out of range (the model keeps its old one). */
NW_API nw_status nw_model_set_kernel(nw_model *model, nw_kernel kernel);
NW_API nw_kernel nw_model_kernel(const nw_model *model);
NW_API nw_status nw_model_set_estimator(nw_model *model, nw_estimator estimator);
NW_API nw_estimator nw_model_estimator(const nw_model *model);
NW_API nw_status nw_model_set_empty_policy(nw_model *model, nw_empty_policy policy);
NW_API nw_empty_policy nw_model_empty_policy(const nw_model *model);
/* Threads for the sums: 0 = OpenMP's default, 1 = serial; the most a call
 * uses (every engine's parallel loops obey it), and a job estimated below
 * ~1e7 kernel evaluations (a few ms) runs on one.  NW_ERR_ARG if negative.
 * The threads are the library's own per call (OpenMP; a bandwidth search
 * at n <= 20000 evaluates its scan's bandwidths on as many POSIX threads at
 * once, one evaluation each, ended with the scan); results do not depend
 * on their number beyond rounding (the search's not even that). */
NW_API nw_status nw_model_set_threads(nw_model *model, int threads);

/* ------------------------------------------------------------- engines */

/* How the kernel sums are computed.  Every engine gives the same predictions
 * to within the model's tolerance (see nw_model_set_tolerance); dense is the
 * exact reference. */
typedef enum nw_engine_kind {
    NW_ENGINE_AUTO = 0, /* the cheapest that applies, by a cost model (default) */
    NW_ENGINE_DENSE,    /* every (query, key) pair: O(n m), exact */
    NW_ENGINE_SORTED,   /* d = 1, sorted keys: compact kernels exact by windows
                           and moments; Gaussian/Laplace windows cut where the
                           neglected weight is provably below the tolerance */
    NW_ENGINE_TREE,     /* any d: a k-d tree, pruning certified to the tolerance;
                           compact kernels exact */
    NW_ENGINE_FGT,      /* d = 1, 2 Gaussian: fast Gauss transform, certified */
    NW_ENGINE_COUNT
} nw_engine_kind;

/* "auto", "dense", "sorted", "tree", "fgt", a static string; NULL if out of
 * range. */
NW_API const char *nw_engine_name(nw_engine_kind engine);
/* Parse an engine name into *engine.  NW_ERR_ARG if unknown. */
NW_API nw_status nw_engine_from_name(const char *name, nw_engine_kind *engine);

/* The engine for every sum of this model (default NW_ENGINE_AUTO).  An engine
 * that does not apply to the model (sorted or fgt with d > 1, fgt with
 * another kernel than the Gaussian) makes the calls fail with NW_ERR_ARG.
 * Setting it: NW_ERR_ARG for a value out of range. */
NW_API nw_status nw_model_set_engine(nw_model *model, nw_engine_kind engine);
NW_API nw_engine_kind nw_model_engine(const nw_model *model);
/* NW_OK if the model's engine can compute its sums as the model now stands
 * (AUTO and dense always can), NW_ERR_ARG if not: sorted or fgt with d > 1,
 * fgt with another kernel than the Gaussian.  Cheap: nothing is built. */
NW_API nw_status nw_model_engine_applies(const nw_model *model);

/* The relative error the approximate engines certify on each prediction,
 * |yhat - yhat_exact| <= tol |yhat_exact| per output (default 1e-12; any
 * value in [1e-15, 1e-2]).  Where an engine's bound at a query does not meet
 * it (a prediction near 0, a query far from the data), that query is
 * recomputed by the dense engine, so the guarantee always holds.  Floating
 * point rounding, which the dense engine has too, is not counted.
 * NW_ERR_ARG for a tol outside [1e-15, 1e-2] (the old one is kept). */
NW_API nw_status nw_model_set_tolerance(nw_model *model, double tol);
NW_API double nw_model_tolerance(const nw_model *model);

/* Single-precision predictions.  F32 is faster and less exact: the dense
 * engine sums in f32, its error then not certified (nw_run_info gives the
 * error bound measured for single precision instead, 1e-4); the fast
 * engines keep f64 arithmetic and certify a relative error of at most the
 * tolerance or 1e-6, whichever is looser (fewer expansion terms: 2-d FGT
 * at n = m = 1e4, 1.8x less work than at 1e-12).  Setting it: NW_ERR_ARG
 * for a value out of range. */
typedef enum nw_precision { NW_PRECISION_F64 = 0, NW_PRECISION_F32 } nw_precision;
NW_API nw_status nw_model_set_precision(nw_model *model, nw_precision precision);
NW_API nw_precision nw_model_precision(const nw_model *model);

/* The most memory, in bytes, the engines' own tables may take in one call
 * (the fast Gauss transform's moments and series coefficients, the dense
 * engine's grid of the points).  0 (the default): half the call's input
 * and output arrays (x, y, the queries and the predictions: 8 (n + m)(d +
 * p) bytes), or 16 MiB where that is more, for the tables that only save
 * time (built a part at a time, or left out, where they would pass it);
 * the tables without which the fastest engine cannot run at all (the 2-d
 * FGT's moments) may take up to 64 MiB where that is more than the
 * arrays' half.  So a prediction's peak stays within about twice its
 * arrays from ~128 MiB of arrays on, and below that within ~64 MiB more
 * than them (2-d Gaussian, n = m = 1e5, h = 0.2, Scott's rule there: the
 * FGT's moments take 19 MB against 4.8 MB of arrays; within 16 MiB the
 * dense engine ran, ~15x slower).  Automatic engine choice
 * (NW_ENGINE_AUTO) takes only engines that keep within it; a set value
 * bounds all the tables alike.  An engine named by nw_model_set_engine
 * runs even where it needs more.  Not saved in model
 * files (a setting of the machine, as threads).  NW_ERR_ARG for a negative,
 * NaN or absurd (> 2^62) value. */
NW_API nw_status nw_model_set_memory(nw_model *model, double bytes);
NW_API double nw_model_memory(const nw_model *model);

/* Progress of a long call: nw_predict (queries done), nw_loo_predict and
 * nw_loo_loss (blocks of points), nw_select_bandwidth (criterion
 * evaluations, against an estimate of how many it will take) and nw_train
 * (epochs): `done` out of `total` units of work.  It is called from the
 * thread that made the call, between pieces of work, never concurrently for
 * one call.
 * Return nonzero to stop: the call then returns NW_ERR_STOPPED and leaves
 * the model and the caller's outputs in an unspecified but valid state
 * (the model's settings are unchanged).  fn = NULL turns it off.  The
 * model keeps fn and ctx (not copied; ctx must outlive their use).  Calls
 * made on one model from several threads at once each call fn from their
 * own thread, so fn must then be thread-safe. */
typedef int (*nw_progress_fn)(double done, double total, void *ctx);
NW_API nw_status nw_model_set_progress(nw_model *model, nw_progress_fn fn, void *ctx);

/* Bandwidths h (d values, each finite and > 0), in the inputs' units.
 * Setting: NW_ERR_BANDWIDTH if one is not (the model keeps its old ones).
 * Getting: h (caller-allocated, d values) receives them. */
NW_API nw_status nw_model_set_bandwidth(nw_model *model, const double *h);
NW_API nw_status nw_model_bandwidth(const nw_model *model, double *h);
/* The notebook's scales w = 1/|h|: any finite nonzero w (the sign does not
 * matter: every kernel is symmetric).  Stored as h = 1/|w|.  w has d
 * values; NW_ERR_BANDWIDTH if one is 0 or not finite, or 1/|w| overflows. */
NW_API nw_status nw_model_set_scale(nw_model *model, const double *w);

/* Column names for model files and CSV output (copied; NULL clears them).
 * x_names has d entries, y_names p entries; a NULL entry is stored as "".
 * Errors: NW_ERR_ARG (NULL model), NW_ERR_NOMEM (the old names are kept). */
NW_API nw_status nw_model_set_names(nw_model *model, const char *const *x_names,
                             const char *const *y_names);
/* The name of input column k / output column c, owned by the model (valid
 * until it is freed or renamed), or NULL if unnamed or out of range. */
NW_API const char *nw_model_x_name(const nw_model *model, size_t k);
NW_API const char *nw_model_y_name(const nw_model *model, size_t c);

/* ------------------------------------------------------------ prediction */

/* Predictions at m queries: q is m x d, yhat (caller-allocated) m x p.
 * For the Gaussian and Laplace kernels the sums are carried in scaled form
 * (a running maximum of the log-weights, as online softmax does), so a query
 * far from every point gets the nearest points' values, never NaN or Inf.
 * A query with an empty neighbourhood (compact kernels) gets NaN or the
 * nearest value, per the empty policy; *n_empty (may be NULL) receives how
 * many queries had one.  No m x n matrix is built; m = 0 does nothing.
 * Errors: NW_ERR_NONFINITE (a NaN or infinity in q), NW_ERR_ARG (an
 * engine that does not apply, see nw_model_set_engine), NW_ERR_STOPPED (the
 * progress callback asked to stop).  Reads the model only: safe from
 * several threads at once. */
NW_API nw_status nw_predict(const nw_model *model, const double *q, size_t m,
                     double *yhat, size_t *n_empty);

/* What a prediction call did. */
typedef struct nw_run_info {
    nw_engine_kind engine;  /* the engine that ran (never NW_ENGINE_AUTO) */
    double error_bound;     /* the largest certified relative error of a
                               prediction (0 for the dense engine in f64:
                               rounding only; f32: the measured bound) */
    int certified;          /* 1: error_bound is certified; 0: f32 dense sums,
                               whose bound is measured, not proved, or an
                               output column spanning more than 2^1533
                               (|y| above 2^512 and below 2^-510), whose
                               smallest values the sums round (by at most
                               2^-1586 of the column's largest |y| each) */
    size_t exact_fallbacks; /* queries recomputed by the dense engine because
                               the fast engine's bound missed the tolerance */
    double seconds;         /* wall-clock time of the computation */
} nw_run_info;

/* nw_predict, and what it did in *info (may be NULL; filled on success).
 * The same errors and thread safety as nw_predict. */
NW_API nw_status nw_predict_info(const nw_model *model, const double *q, size_t m,
                          double *yhat, size_t *n_empty, nw_run_info *info);

/* The attention matrix: weights (caller-allocated, m x n, row-major; row j
 * holds query j's normalised kernel weights over the n training points, in
 * the model's order, summing to 1).  A row with an empty neighbourhood is
 * all NaN (policy NaN) or spread evenly over the nearest points.
 * Always the local-constant (Nadaraya–Watson) weights, always the dense
 * (exact) sums.  The caller sizes weights: m * n doubles can be large.
 * Errors: NW_ERR_NONFINITE (a NaN or infinity in q).
 * Reads the model only: safe from several threads at once. */
NW_API nw_status nw_attention(const nw_model *model, const double *q, size_t m,
                       double *weights);

/* The constant-mean baseline: mean (caller-allocated, p values) = column
 * means of y.  Reads the model only. */
NW_API nw_status nw_baseline(const nw_model *model, double *mean);

/* The in-sample fit: yhat (caller-allocated, n x p) = the predictions at
 * the model's own points, each point's own weight included, as
 * nw_predict_info(model, nw_model_x(model), n, ...) gives them, each
 * certified to the tolerance as there.  For 1-d compact kernels (engine
 * auto or sorted) they come from sweeps over the sorted points, O(n) time
 * beyond the sort and no memory beyond a sorted copy of the points
 * (info->engine says NW_ENGINE_SORTED); otherwise from nw_predict_info.
 * *n_empty and *info as nw_predict_info's (either may be NULL).  Errors:
 * those of nw_predict_info.  Reads the model only: safe from several
 * threads at once. */
NW_API nw_status nw_fitted(const nw_model *model, double *yhat, size_t *n_empty,
                           nw_run_info *info);

/* Put the model's points in place into the order in which the engine that
 * nw_predict would run now, for about m queries, reads them: the 1-d
 * compact kernels' sweeps and sorted engine by x, the 2-d fast Gauss
 * transform box by box, the k-d tree leaf by leaf, the dense engine's
 * prepared keys by x (1-d) or by grid cell (2-d, where its copy of them
 * would pass the memory budget, half the prediction's arrays or 16 MiB:
 * nw_model_set_memory).
 * That engine then reads them where they lie instead of making its own
 * copy of them, up to n (d + p) doubles (24 MB at n = 1e6, d = 2): with
 * few queries, most of a prediction's memory beside the model.  The set
 * of points is unchanged, and every prediction the same to rounding: the
 * fast engines' bit for bit, for as long as the kernel, estimator,
 * bandwidth, engine, tolerance and precision stay as they were (after a
 * change, the engine makes its copy again), while the dense sums (the
 * dense engine's, and the queries a fast engine hands to them:
 * info->exact_fallbacks) run in the points' new order.  nw_model_x and
 * nw_model_y, and so the rows of nw_fitted and nw_loo, follow the new
 * order.  *moved (may be NULL) = 1 if any point moved; nothing moves where
 * the engine keeps no copy, or the points already lie so.  Costs a sort
 * and O(n (d + p)) moves (~30 ms at n = 1e6, d = 2); memory: 4 bytes a
 * point, freed on return.  Writes the model: not while another thread
 * uses it.  Errors: NW_ERR_BANDWIDTH (no valid bandwidth), NW_ERR_ARG (an
 * engine set that does not apply), NW_ERR_NOMEM (the model is then
 * unchanged). */
NW_API nw_status nw_model_arrange(nw_model *model, size_t m, int *moved);

/* -------------------------------------------------------- leave-one-out */

/* Leave-one-out predictions: yhat (n x p), row i predicted at x_i from every
 * point but i (only point i itself is left out; duplicates of x_i stay).
 * yhat is caller-allocated; *n_empty (may be NULL) receives how many points
 * had an empty leave-one-out neighbourhood (compact kernels; their rows are
 * NaN or the nearest value, per the empty policy).  With n = 1 there is
 * nothing left: NW_ERR_EMPTY.  NW_ERR_STOPPED if the progress callback
 * asked to stop.  Reads the model only: safe from several threads at once. */
NW_API nw_status nw_loo_predict(const nw_model *model, double *yhat, size_t *n_empty);

/* The leave-one-out loss of the notebook, at scales w (d values, nonzero;
 * NULL = the model's current 1/h):
 *
 *     L(w) = 1/2 sum_i sum_c (y_ic - yhat_{-i,c}(x_i))^2
 *
 * and, if grad is not NULL, its exact derivative dL/dw_k (d values).
 * Compact kernels: a point whose leave-one-out neighbourhood is empty is
 * counted in *n_empty (may be NULL) and makes the loss +INFINITY under the
 * NaN policy; under the nearest policy it is predicted by its nearest
 * neighbours (and adds nothing to the gradient).  loss is required; w and
 * grad are d values.  Errors: NW_ERR_EMPTY (n = 1), NW_ERR_BANDWIDTH (a w is
 * 0 or not finite), NW_ERR_STOPPED.  Reads the model only (w does not
 * change it): safe from several threads at once. */
NW_API nw_status nw_loo_loss(const nw_model *model, const double *w, double *loss,
                      double *grad, size_t *n_empty);

/* -------------------------------------------------------------- training */

typedef enum nw_optimizer { NW_OPTIMIZER_SGD = 0, NW_OPTIMIZER_ADAM } nw_optimizer;

/* What the per-epoch callback sees: loss is L before the step, grad the
 * gradient used for the step, w the scales after it (d values each). */
typedef struct nw_epoch {
    int epoch; /* 1-based */
    double loss;
    const double *grad;
    const double *w;
    size_t d;
} nw_epoch;

/* Return nonzero to stop training (nw_train then returns NW_ERR_STOPPED). */
typedef int (*nw_epoch_fn)(const nw_epoch *epoch, void *ctx);

typedef struct nw_train_options {
    nw_optimizer optimizer; /* default SGD */
    double lr;              /* learning rate, default 0.5 (the notebook's) */
    int epochs;             /* default 5 */
    double beta1, beta2, eps; /* Adam: 0.9, 0.999, 1e-8 (PyTorch's) */
    nw_epoch_fn on_epoch;   /* may be NULL */
    void *ctx;
} nw_train_options;

/* Fill *opts with the defaults above (on_epoch and ctx NULL). */
NW_API void nw_train_options_init(nw_train_options *opts);

/* Full-batch gradient descent on the leave-one-out loss over the scales w,
 * the notebook's loop: each epoch computes L(w) and dL/dw, then steps
 * (SGD: w -= lr * grad).  w0 (d values, nonzero) starts it; NULL starts from
 * the model's 1/h.  On success the model's bandwidths become 1/|w|; if w
 * reaches 0 or a non-finite value, NW_ERR_BANDWIDTH and the model is left
 * unchanged.  w_out (may be NULL) receives the final signed w (d values).
 * opts may be NULL (the defaults).  Errors: NW_ERR_ARG (lr not finite and
 * > 0, epochs < 0, an unknown optimizer, Adam's beta1, beta2 outside [0, 1)
 * or eps < 0), NW_ERR_BANDWIDTH (a w0 of 0, or w leaving the finite nonzero
 * numbers), NW_ERR_EMPTY (n = 1), NW_ERR_NUMERIC (a non-finite loss or
 * gradient), NW_ERR_STOPPED (on_epoch or the progress callback asked to
 * stop).  On every failure the model is unchanged.  Changes the model: needs exclusive
 * access; on_epoch is called from the calling thread. */
NW_API nw_status nw_train(nw_model *model, const nw_train_options *opts,
                   const double *w0, double *w_out);

/* ---------------------------------------------------- bandwidth selection */

typedef enum nw_criterion {
    NW_CRITERION_LOO = 0, /* leave-one-out least squares: mean_i sum_c (y_ic - yhat_{-i,c})^2
                             (statsmodels' cv_ls) */
    NW_CRITERION_AICC     /* Hurvich, Simonoff & Tsai (1998):
                             log(sigma^2) + (1 + tr(H)/n) / (1 - (tr(H) + 2)/n) */
} nw_criterion;

/* The criterion at bandwidths h (d values; NULL = the model's) into *value.
 * If grad_log_h is not NULL it receives d(value)/d(log h_k) (d values).
 * AICc is +INFINITY where it is undefined (tr(H) + 2 >= n: the fit
 * interpolates).  Errors: NW_ERR_BANDWIDTH (an h not finite and > 0),
 * NW_ERR_EMPTY (n = 1).  Reads the model only. */
NW_API nw_status nw_criterion_eval(const nw_model *model, nw_criterion criterion,
                            const double *h, double *value, double *grad_log_h);

typedef enum nw_rule { NW_RULE_SCOTT = 0, NW_RULE_SILVERMAN } nw_rule;

/* Rules of thumb, per input column k with s_k the sample standard deviation,
 * IQR_k the interquartile range:
 *   scott:     h_k = 1.06 s_k n^(-1/(4+d))   (statsmodels' normal_reference)
 *   silverman: h_k = 0.9 min(s_k, IQR_k/1.349) n^(-1/(4+d))
 * h is caller-allocated, d values.  A column with zero spread gets
 * NW_ERR_BANDWIDTH.  Reads the model only (it does not set the bandwidths:
 * pass h to nw_model_set_bandwidth). */
NW_API nw_status nw_rule_of_thumb(const nw_model *model, nw_rule rule, double *h);

typedef struct nw_select_options {
    int grid_points;  /* 1-d: log-spaced scan points (default 30; x4 for compact
                         kernels, whose criteria have kinks) */
    double grid_lo;   /* scan from grid_lo * scott to grid_hi * scott; */
    double grid_hi;   /* defaults 0.01 and 100 */
    int starts;       /* d > 1: L-BFGS starts from the best of a scan of about
                         400 points (a full grid, or a Halton sample for d >= 6);
                         default 8 */
    double tol;       /* relative tolerance on log h (default 1e-8) */
    int max_iter;     /* per refinement (default 200) */
} nw_select_options;

/* Fill *opts with the defaults above. */
NW_API void nw_select_options_init(nw_select_options *opts);

typedef struct nw_select_result {
    double value;     /* criterion at the chosen bandwidths */
    int evaluations;  /* criterion evaluations spent */
} nw_select_result;

/* Minimise a criterion over log-bandwidths (so no bandwidth is ever <= 0):
 * a scan over a log grid finds the basin of the global minimum, then a
 * refinement polishes it (1-d: the root of the analytic derivative by a
 * safeguarded secant / Illinois regula falsi with bisection, or Brent's method where
 * the derivative does not bracket; d > 1: L-BFGS from the best scan points,
 * then a coordinate-wise Brent polish).  If the criterion still decreases at
 * the widened scan's edge, the edge is returned (an input that does not
 * matter wants h -> infinity).  With the uniform kernel the criteria are
 * step functions of h and the result is the best scan point refined, not a
 * certified global minimum.  On success the model's bandwidths are set.
 * opts and result may be NULL.  Errors: NW_ERR_ARG (bad options: grid_lo
 * <= 0, grid_hi <= grid_lo, tol <= 0),
 * NW_ERR_EMPTY (n = 1), NW_ERR_BANDWIDTH (an input with zero spread),
 * NW_ERR_NUMERIC (no finite criterion anywhere on the scan), NW_ERR_STOPPED;
 * on failure the model's bandwidths are unchanged.  Changes the model:
 * needs exclusive access. */
NW_API nw_status nw_select_bandwidth(nw_model *model, nw_criterion criterion,
                              const nw_select_options *opts,
                              nw_select_result *result);

/* ------------------------------------------------------ synthetic data */

/* The notebook's truth f(x) = 2 sin x + x^0.8. */
NW_API double nw_notebook_f(double x);

/* The notebook's training data from a seed: x ~ U(0, 5) sorted ascending,
 * y = f(x) + N(0, 0.5^2).  x and y are caller-allocated, n values each.
 * The same seed gives the same data on every platform.  NW_ERR_EMPTY if
 * n = 0. */
NW_API nw_status nw_generate(uint64_t seed, size_t n, double *x, double *y);

/* The notebook's test grid: x_j = 0.1 j for j = 0..m-1 and truth f(x_j).
 * (m = 50 gives 0, 0.1, ..., 4.9.)  x and truth are caller-allocated, m
 * values each.  NW_ERR_EMPTY if m = 0. */
NW_API nw_status nw_generate_grid(size_t m, double *x, double *truth);

/* -------------------------------------------------------------- tables */

/* A numeric table read from CSV: a header row of names, then rows of
 * numbers.  Every cell must parse as a finite double. */
typedef struct nw_table nw_table;

/* Read a CSV file (path "-" = stdin) with the default options below.
 * Parsed by libcsv: quoted fields ("a, b", "say ""hi"""), LF, CRLF or CR
 * line ends, an optional UTF-8 byte-order mark, blanks around unquoted
 * cells trimmed, blank lines skipped anywhere.  Errors name the file, line
 * and column in diag: NW_ERR_IO (cannot open/read), NW_ERR_PARSE (ragged
 * row, non-numeric or non-finite cell, misplaced quote), NW_ERR_EMPTY (no
 * header or no data rows).  *table receives a new table, to be freed with
 * nw_table_free (NULL after a failure).  diag may be NULL. */
NW_API nw_status nw_table_read(const char *path, nw_table **table, nw_diag *diag);

/* How nw_table_read_with splits a file. */
typedef struct nw_table_read_opts {
    char delimiter; /* the field delimiter; 0 (the default) = detect it from
                       the header line: the most frequent of ',', '\t' and
                       ';' outside quotes (ties in that order; ',' if none) */
    char comment;   /* lines whose first byte is this are skipped; 0 (the
                       default) = no comment lines */
} nw_table_read_opts;

/* Fill *opts with the defaults (delimiter and comment 0). */
NW_API void nw_table_read_opts_init(nw_table_read_opts *opts);
/* nw_table_read with options (opts NULL = the defaults).  NW_ERR_ARG for a
 * delimiter or comment that is '"', CR or LF, or a delimiter equal to the
 * comment character. */
NW_API nw_status nw_table_read_with(const char *path, const nw_table_read_opts *opts,
                             nw_table **table, nw_diag *diag);
/* The delimiter the table was read with (as given, or as detected). */
NW_API char nw_table_delimiter(const nw_table *table);
/* Free a table; a no-op on NULL.  Its names and data die with it. */
NW_API void nw_table_free(nw_table *table);
NW_API size_t nw_table_rows(const nw_table *table);
NW_API size_t nw_table_cols(const nw_table *table);
/* The name of column col (0-based), owned by the table; col < cols. */
NW_API const char *nw_table_name(const nw_table *table, size_t col);
/* Row-major rows x cols values, owned by the table (read-only). */
NW_API const double *nw_table_data(const nw_table *table);
/* The 0-based index of a column: by exact name, else by a 1-based index
 * written as a number ("2").  NW_ERR_ARG if there is no such column. */
NW_API nw_status nw_table_find(const nw_table *table, const char *name_or_index,
                        size_t *col);
/* Copy chosen columns (0-based indices, ncols of them, repeats allowed) into
 * out (caller-allocated, rows x ncols, row-major).  NW_ERR_ARG for an index
 * >= cols, NW_ERR_EMPTY for ncols = 0. */
NW_API nw_status nw_table_columns(const nw_table *table, const size_t *cols,
                           size_t ncols, double *out);
/* Remove chosen columns (0-based indices, ncols of them, repeats allowed)
 * from the table, in place: the others keep their order and names, and the
 * table's memory shrinks to them (no copy is made).  A table may be left
 * with no columns (its rows stay).  NW_ERR_ARG for an index >= cols
 * (nothing removed), NW_ERR_NOMEM. */
NW_API nw_status nw_table_drop_columns(nw_table *table, const size_t *cols, size_t ncols);
/* nw_model_new from columns of a table (0-based indices: d inputs xcols, p
 * outputs ycols), named after them, without a second copy of the data:
 * the model takes over the table's memory, which holds x once the outputs
 * are copied out, so at most n x p doubles are allocated beyond the
 * table's (unless d exceeds the table's columns: repeated inputs get a
 * buffer of their own).  On success the table is left with no columns and
 * no data (free it with nw_table_free); after a failure it is unchanged.
 * Errors as nw_model_new, NW_ERR_ARG for an index >= cols. */
NW_API nw_status nw_model_new_from_table(nw_model **model, nw_table *table,
                                  const size_t *xcols, size_t d,
                                  const size_t *ycols, size_t p);

/* Write a CSV file atomically: to a temporary file beside path, renamed
 * over path only when everything was written ("-" = stdout).  names may be
 * NULL (no header).  Doubles are written in the shortest form that reads
 * back exactly (at most 17 significant digits), in the C locale.  data is
 * rows x cols, row-major; names has cols entries.  Errors: NW_ERR_EMPTY
 * (cols = 0), NW_ERR_IO (with diag, may be NULL: cannot create, write or
 * rename; path is then untouched). */
NW_API nw_status nw_csv_write(const char *path, const char *const *names,
                       const double *data, size_t rows, size_t cols,
                       nw_diag *diag);
/* nw_csv_write with finite numbers in `digits` significant digits (printf's
 * %.*g) for digits 1..17; 0 = the shortest exact form, as nw_csv_write.
 * NW_ERR_ARG for other digits. */
NW_API nw_status nw_csv_write_digits(const char *path, const char *const *names,
                              const double *data, size_t rows, size_t cols,
                              int digits, nw_diag *diag);
/* nw_csv_write_digits with each column from its own array: column j of row
 * i is col[j][i * stride[j]] (col and stride have cols entries), so the
 * columns of several arrays are written side by side without joining them
 * in memory first.  NW_ERR_ARG for a NULL col[j] (when rows > 0). */
NW_API nw_status nw_csv_write_columns(const char *path, const char *const *names,
                               const double *const *col, const size_t *stride,
                               size_t rows, size_t cols, int digits, nw_diag *diag);

/* ---------------------------------------------------------- model files */

/* Save a model as versioned JSON (atomically, as nw_csv_write; "-" =
 * stdout): format
 * version, kernel, estimator, empty policy, names,
 * bandwidths and the training data, numbers written to read back exactly
 * (not the thread count or the progress callback).
 * NW_ERR_IO (with diag, may be NULL) if it cannot be written; path is then
 * untouched.  Reads the model only. */
NW_API nw_status nw_model_save(const nw_model *model, const char *path, nw_diag *diag);
/* Load a model saved by nw_model_save ("-" = stdin) into *model (a new
 * model, to be freed with nw_model_free; NULL after a failure).  Errors,
 * with diag (may be NULL) naming the file: NW_ERR_IO (cannot open or read),
 * NW_ERR_PARSE (not JSON, with the line and column), NW_ERR_FORMAT (another
 * format or version, a missing or ill-typed field, shapes that disagree,
 * a number out of range: a non-finite value, a bandwidth that is not
 * finite and positive), NW_ERR_NOMEM. */
NW_API nw_status nw_model_load(nw_model **model, const char *path, nw_diag *diag);

#ifdef __cplusplus
}
#endif
#endif /* NWREG_H */
