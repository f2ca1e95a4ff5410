/*
 * plot.h: the CLI's figures, drawn with PLplot's cairo drivers.
 *
 * PLplot keeps global state and calls exit() when it cannot open its output,
 * so every function here: checks the format, draws into a temporary file
 * beside `path` (which it first creates itself to prove the directory is
 * writable), and renames it over `path` only when the drawing finished.
 * Call from one thread only.  Each returns 0 on success, -1 on failure with
 * a one-line message (no newline) in err[0..errlen).
 */
#ifndef NW_CLI_PLOT_H
#define NW_CLI_PLOT_H

#include <stddef.h>

typedef enum plot_format { PLOT_PNG = 0, PLOT_SVG, PLOT_PDF } plot_format;

/* "png" | "svg" | "pdf" -> format; -1 if unknown. */
int plot_format_from_name(const char *name, plot_format *fmt);
/* "png", "svg", "pdf". */
const char *plot_format_ext(plot_format fmt);

/* The notebook's fit plot: truth and prediction as lines over the query grid
 * xq (m values, ascending), training points (n) as light dots, legend
 * "Truth"/"Pred" (plus "Data"), axes "x" and "y", x in [xlo, xhi], y in
 * [ylo, yhi] (the notebook: [0,5] x [-1,5]).  truth may be NULL (no truth
 * line).  title may be NULL. */
int plot_fit(const char *path, plot_format fmt, const char *title,
             const double *xq, const double *truth, const double *pred, size_t m,
             const double *xtrain, const double *ytrain, size_t n,
             double xlo, double xhi, double ylo, double yhi,
             char *err, size_t errlen);

/* The attention heatmap: weights is m x n row-major (queries by keys),
 * keys on the horizontal axis ("Sorted training inputs"), queries on the
 * vertical axis ("Sorted testing inputs", query 0 at the top as matplotlib's
 * imshow draws it), a colour bar at the right. */
int plot_heatmap(const char *path, plot_format fmt, const char *title,
                 const double *weights, size_t m, size_t n,
                 char *err, size_t errlen);

/* Loss per epoch: loss[e] for epochs 1..epochs, axes "epoch" and "loss",
 * points joined by a line, x in [1, epochs]. */
int plot_loss(const char *path, plot_format fmt, const char *title,
              const double *loss, size_t epochs, char *err, size_t errlen);

/* A criterion curve over bandwidths (1-d): h (k values ascending, > 0) on
 * a log10 axis, value[k] on a linear axis, the optimum (hopt, vopt) marked
 * with a point and a dashed vertical line and labelled "h* = ...".
 * xlabel e.g. "bandwidth h", ylabel e.g. "LOO CV (mean squared error)". */
int plot_curve(const char *path, plot_format fmt, const char *title,
               const char *xlabel, const char *ylabel,
               const double *h, const double *value, size_t k,
               double hopt, double vopt, char *err, size_t errlen);

/* A contour plot for d = 2: value is k1 x k2 row-major, value[i*k2 + j] at
 * (h1[i], h2[j]); both axes log10; filled shades with a colour bar, the
 * optimum (h1opt, h2opt) marked. */
int plot_contour(const char *path, plot_format fmt, const char *title,
                 const char *xlabel, const char *ylabel,
                 const double *h1, size_t k1, const double *h2, size_t k2,
                 const double *value, double h1opt, double h2opt,
                 char *err, size_t errlen);

#endif
