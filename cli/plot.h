/*
 * plot.h: the CLI's figures, drawn with PLplot's cairo drivers.
 *
 * PLplot keeps global state and calls exit() when it cannot open its output,
 * so every figure here: checks the format, loads PLplot (plot_load), draws
 * into a temporary file beside `path` (which it first creates itself to
 * prove the directory is writable), and renames it over `path` only when
 * the drawing finished.  Draw from one thread only.  Each returns 0 on
 * success, -1 on failure with a one-line message (no newline) in
 * err[0..errlen).
 */
#ifndef NW_CLI_PLOT_H
#define NW_CLI_PLOT_H

#include <stddef.h>

typedef enum plot_format { PLOT_PNG = 0, PLOT_SVG, PLOT_PDF } plot_format;

/* Page size and text of a figure.  width and height are pixels for PNG and
 * points (1/72 inch) for SVG and PDF, each PLOT_SIZE_MIN..PLOT_SIZE_MAX;
 * 0 means 800 x 600.  Text keeps its size: a bigger page gives the data
 * more room.  title NULL or "": none; xlabel/ylabel NULL: the figure's own
 * label.  PLplot's escape character '#' in any text is drawn as written. */
enum { PLOT_SIZE_MIN = 200, PLOT_SIZE_MAX = 10000 };
typedef struct plot_style {
    int width, height;
    const char *title;
    const char *xlabel, *ylabel;
} plot_style;

/* Load PLplot for the figures, now: its library (the soname the build found,
 * NW_PLPLOT_LIBRARY) is opened with dlopen(), not linked, so that a process
 * drawing no figure never loads it and the libraries it needs.  The first
 * call loads it, from whichever thread; later calls return the first one's
 * result (a failed load is not retried).  It stays loaded until exit.
 * Every figure below calls it before it creates any file; a command that
 * will draw calls it before it reads, computes or writes anything.  0, or
 * -1 with "cannot load PLplot's library FILE: <dlerror()>" in err. */
int plot_load(char *err, size_t errlen);

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

/* The same figures with a style (NULL: the defaults), for `nwreg plot`.
 * Each _styled function draws what its plain twin above does; the plain
 * ones are these with an 800 x 600 page and the labels they name. */
/* plot_fit_styled's truth has its own abscissae: xtruth (mt values,
 * ascending; truth NULL or mt = 0: no truth line). */
int plot_fit_styled(const char *path, plot_format fmt, const plot_style *style,
                    const double *xq, const double *pred, size_t m,
                    const double *xtruth, const double *truth, size_t mt,
                    const double *xtrain, const double *ytrain, size_t n,
                    double xlo, double xhi, double ylo, double yhi,
                    char *err, size_t errlen);
/* plot_heatmap_styled's axes run over 0..n_span and 0..m_span (0: n, m):
 * a binned matrix, each cell standing for n_span/n keys, m_span/m queries,
 * keeps the original indices on its axes. */
int plot_heatmap_styled(const char *path, plot_format fmt, const plot_style *style,
                        const double *weights, size_t m, size_t n,
                        size_t m_span, size_t n_span, char *err, size_t errlen);
int plot_loss_styled(const char *path, plot_format fmt, const plot_style *style,
                     const double *loss, size_t epochs, char *err, size_t errlen);
/* Labels default to "bandwidth h (log scale)" and "criterion". */
int plot_curve_styled(const char *path, plot_format fmt, const plot_style *style,
                      const double *h, const double *value, size_t k,
                      double hopt, double vopt, char *err, size_t errlen);
int plot_contour_styled(const char *path, plot_format fmt, const plot_style *style,
                        const double *h1, size_t k1, const double *h2, size_t k2,
                        const double *value, double h1opt, double h2opt,
                        char *err, size_t errlen);

/* A fitted surface over two inputs as a heatmap: z is k1 x k2 row-major,
 * z[i*k2 + j] the value at (x1[i], x2[j]), x1 and x2 evenly spaced and
 * ascending (k1, k2 >= 2); each grid value fills the cell centred on it.
 * Points (px[i], py[i]) with values pv[i] (n of them, n may be 0) are drawn
 * as dots in the colour of their value, ringed in white, over one colour
 * scale shared with z; a colour bar labelled zlabel (NULL: none) at the
 * right.  Labels default to "x1" and "x2".  NaN cells stay blank. */
int plot_surface(const char *path, plot_format fmt, const plot_style *style,
                 const double *x1, size_t k1, const double *x2, size_t k2,
                 const double *z, const char *zlabel,
                 const double *px, const double *py, const double *pv, size_t n,
                 char *err, size_t errlen);

#endif
