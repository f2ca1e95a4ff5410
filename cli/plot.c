/*
 * plot.c: the CLI's figures, drawn with PLplot's cairo drivers (see plot.h).
 *
 * PLplot is not linked: its library is opened with dlopen() when the first
 * figure is drawn (plot_load), and every PLplot function is called through
 * the table `pl`, filled once from it with dlsym().
 *
 * Every figure goes the same way: check the arguments, create the temporary
 * output beside `path` ourselves (PLplot would exit() if it could not open
 * it), draw on an 800 x 600 page (pixels for PNG, points for SVG and PDF, so
 * the three look alike), plend(), then rename the temporary over `path`.
 * Values that are not finite (NaN predictions where every weight underflowed,
 * say) are left out rather than drawn.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* mkstemp, fchmod */
#endif
#include "plot.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plplot.h>   /* types, constants and prototypes only */

/* The file dlopen() opens: the SONAME of the PLplot library the build found
 * (CMakeLists.txt), e.g. "libplplot.so.17". */
#ifndef NW_PLPLOT_LIBRARY
#error "NW_PLPLOT_LIBRARY (the soname of PLplot's library) must be defined by the build"
#endif

enum { PAGE_W = 800, PAGE_H = 600, TEXT_MAX = 256, MAX_DEVS = 128 };
/* Margins in pixels (points), so that text keeps its size on any page. */
enum { MARGIN_BOTTOM = 66, MARGIN_TOP = 48, RIGHT_PLAIN = 24, RIGHT_BAR = 128 };

/* cmap0 slots: 0 is the background, 1 the default foreground. */
enum { C_BG, C_FG, C_GRID, C_TRUTH, C_PRED, C_DATA, C_MARK, C_FRAME, C_WHITE, C_NCOL };

#define CHAR_MM 4.4          /* character height: 12.5 pt, i.e. pixels       */
#define CHAR_PX (CHAR_MM / 25.4 * 72.0)
#define DOT "#[0x25cf]"      /* U+25CF BLACK CIRCLE, a filled dot            */
#define STYLE_DASHED 4       /* PLplot's built-in 2 mm dash, 1 mm gap        */
#define DATA_RGB 255, 127, 14  /* matplotlib's second colour, for the data  */

static const char *const DEVICE[] = { "pngcairo", "svgcairo", "pdfcairo" };
static const char *const EXT[] = { "png", "svg", "pdf" };

int plot_format_from_name(const char *name, plot_format *fmt)
{
    for (int i = 0; name && i <= PLOT_PDF; i++)
        if (strcmp(name, EXT[i]) == 0) {
            *fmt = (plot_format)i;
            return 0;
        }
    return -1;
}

const char *plot_format_ext(plot_format fmt)
{
    return (unsigned)fmt <= PLOT_PDF ? EXT[fmt] : "";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Every PLplot function this file calls, by its symbol in the library.
 * plplot.h defines most API names as macros for c_ names (plcol0 is
 * c_plcol0), so a call written pl.plcol0(...) goes through the member
 * c_plcol0 of the table below; the others keep their names. */
#define PLPLOT_FUNCTIONS(X)                                                    \
    X(c_pladv) X(c_plbox) X(c_plcol0) X(c_plcol1) X(c_plcolorbar) X(c_plend)   \
    X(c_plfill) X(c_plgpage) X(c_plgvpw) X(c_plinit) X(c_pllegend)             \
    X(c_plline) X(c_pllsty) X(c_plmtex) X(c_plptex) X(c_plschr)                \
    X(c_plscmap0n) X(c_plscmap1l) X(c_plscmap1n) X(c_plscol0) X(c_plscol0a)    \
    X(c_plsdev) X(c_plsfnam) X(c_plsmaj) X(c_plsmin) X(c_plspage)              \
    X(c_plstring) X(c_plvpas) X(c_plvpor) X(c_plwidth) X(c_plwind)             \
    X(plf2ops_grid_col_major) X(plf2ops_grid_row_major) X(plfimagefr)          \
    X(plfshades) X(plgFileDevs) X(pltr0) X(pltr1)

/* Pointers to those functions, each of the type plplot.h declares
 * (__typeof__: GCC and Clang; typeof in C23). */
typedef struct plplot_table {
#define PLPLOT_MEMBER(name) __typeof__(name) *name;
    PLPLOT_FUNCTIONS(PLPLOT_MEMBER)
#undef PLPLOT_MEMBER
} plplot_table;

/* The CLI's one PLplot, loaded at most once per process (plot_load): `pl`
 * is filled when loading.loaded is set, loading.error says why not when
 * it is not. */
static plplot_table pl;
static struct {
    pthread_once_t once;
    int loaded;
    char error[512];
} loading = { PTHREAD_ONCE_INIT, 0, "" };

/* pthread_once's routine: open the library and resolve every function
 * into `pl`, or put the message, with dlerror()'s reason, in
 * loading.error.  The library stays open for the life of the process. */
static void load_plplot(void)
{
    void *lib = dlopen(NW_PLPLOT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    plplot_table table;
    int resolved = lib != NULL;
#define PLPLOT_RESOLVE(name)                                                   \
    resolved = resolved && (table.name = (__typeof__(table.name))dlsym(lib, #name));
    PLPLOT_FUNCTIONS(PLPLOT_RESOLVE)
#undef PLPLOT_RESOLVE
    if (!resolved) {                  /* dlerror(): the failed dlopen or dlsym */
        const char *why = dlerror();
        snprintf(loading.error, sizeof loading.error, "cannot load PLplot's library %s: %s",
                 NW_PLPLOT_LIBRARY, why ? why : "a function is missing");
        if (lib)
            dlclose(lib);
        return;
    }
    pl = table;
    loading.loaded = 1;
}

int plot_load(char *err, size_t errlen)
{
    pthread_once(&loading.once, load_plplot);
    return loading.loaded ? 0 : fail(err, errlen, "%s", loading.error);
}

/* s with PLplot's escape character '#' doubled, so user text is drawn as
 * written; NULL -> "".  Truncated to the buffer. */
static const char *literal(const char *s, char buf[TEXT_MAX])
{
    size_t j = 0;
    for (; s && *s && j + 2 < TEXT_MAX; s++) {
        if (*s == '#')
            buf[j++] = '#';
        buf[j++] = *s;
    }
    buf[j] = '\0';
    return buf;
}

/* Whether PLplot knows the device (plinit would prompt on stdin if not). */
static int have_device(const char *name)
{
    const char *menus[MAX_DEVS], *devs[MAX_DEVS];
    const char **mp = menus, **dp = devs;
    int n = MAX_DEVS;
    pl.plgFileDevs(&mp, &dp, &n);
    for (int i = 0; i < n; i++)
        if (devs[i] && strcmp(devs[i], name) == 0)
            return 1;
    return 0;
}

/* 1 if path exists and is neither a regular file nor a folder (a device,
 * a FIFO): outputs are written into it, never renamed over it. */
static int is_special(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

/* Create the temporary output beside path and start PLplot on it with the
 * style's page (default 800 x 600), our colours and font size.  On success
 * *tmp is its name (malloc'd), to be handed to finish(); on failure nothing
 * is left on disk. */
static int begin(const char *path, plot_format fmt, const plot_style *style,
                 char **tmp, char *err, size_t errlen)
{
    static const unsigned char rgb[C_NCOL][3] = {
        [C_BG] = { 255, 255, 255 },    [C_FG] = { 0, 0, 0 },
        [C_GRID] = { 222, 222, 222 },  [C_TRUTH] = { 31, 119, 180 },
        [C_PRED] = { 191, 0, 191 },    [C_DATA] = { DATA_RGB },
        [C_MARK] = { 214, 39, 40 },    [C_FRAME] = { 160, 160, 160 },
        [C_WHITE] = { 255, 255, 255 },
    };
    if (!path || !*path)
        return fail(err, errlen, "no output path given");
    if ((unsigned)fmt > PLOT_PDF)
        return fail(err, errlen, "cannot write %s: unknown plot format", path);
    int width = style && style->width ? style->width : PAGE_W;
    int height = style && style->height ? style->height : PAGE_H;
    if (width < PLOT_SIZE_MIN || width > PLOT_SIZE_MAX ||
        height < PLOT_SIZE_MIN || height > PLOT_SIZE_MAX)
        return fail(err, errlen, "cannot write %s: page %d x %d is outside %d..%d",
                    path, width, height, PLOT_SIZE_MIN, PLOT_SIZE_MAX);
    if (plot_load(err, errlen))
        return -1;
    if (!have_device(DEVICE[fmt]))
        return fail(err, errlen, "cannot write %s: PLplot has no %s driver "
                    "(install plplot-driver-cairo)", path, DEVICE[fmt]);

    /* a device or FIFO (/dev/null, /dev/stdout) is written through, never
     * renamed over: draw into a temporary file in the temporary folder */
    const char *dir_path = path;
    if (is_special(path)) {
        const char *t = getenv("TMPDIR");
        dir_path = t && *t ? t : "/tmp";
    }
    size_t len = strlen(dir_path);
    const char *suffix = is_special(path) ? "/nwreg-plot.tmpXXXXXX" : ".tmpXXXXXX";
    size_t slen = strlen(suffix) + 1;
    char *name = malloc(len + slen);
    if (!name)
        return fail(err, errlen, "cannot write %s: out of memory", path);
    memcpy(name, dir_path, len);
    memcpy(name + len, suffix, slen);
    int fd = mkstemp(name);
    if (fd < 0) {
        fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(name);
        return -1;
    }
    /* mkstemp gives 0600: keep the mode of the file replaced, else the
     * usual 0666 less the umask */
    struct stat old;
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, stat(path, &old) == 0 && S_ISREG(old.st_mode) ? (old.st_mode & 0777)
                                                                   : (0666 & ~mask));
    close(fd);

    pl.plsdev(DEVICE[fmt]);
    pl.plsfnam(name);
    pl.plspage(0, 0, width, height, 0, 0);
    pl.plscmap0n(C_NCOL);
    for (int i = 0; i < C_NCOL; i++)
        pl.plscol0(i, rgb[i][0], rgb[i][1], rgb[i][2]);
    pl.plinit();
    pl.plschr(CHAR_MM, 1.0);
    pl.plsmaj(0.0, 1.3);
    pl.plsmin(0.0, 1.3);
    pl.pladv(0);
    *tmp = name;
    return 0;
}

/* Copy file `from` into the device or FIFO `to`; 0 or -1 with errno. */
static int copy_into(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[1 << 14];
    size_t k;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k) rc = -1;
    if (rc == 0 && in && ferror(in)) rc = -1;
    if (out && fclose(out) != 0) rc = -1;
    if (in) fclose(in);
    return rc;
}

/* End PLplot and move the temporary over path (or copy it into a device);
 * the temporary is gone afterwards either way. */
static int finish(const char *path, char *tmp, char *err, size_t errlen)
{
    struct stat st;
    int rc = 0;
    pl.plend();
    if (stat(tmp, &st) != 0 || st.st_size == 0)
        rc = fail(err, errlen, "cannot write %s: PLplot produced no output", path);
    else if (is_special(path) ? copy_into(tmp, path) != 0 : rename(tmp, path) != 0)
        rc = fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
    if (rc || is_special(path))
        unlink(tmp);
    free(tmp);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The smallest of 1, 2, 5 times a power of ten that is >= x > 0. */
static double nice_step(double x)
{
    double p = pow(10.0, floor(log10(x))), f = x / p;
    return p * (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0);
}

/* Minimum and maximum of the finite values in v; 0 if there are none. */
static int minmax(const double *v, size_t n, double *lo, double *hi)
{
    int any = 0;
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            *lo = fmin(*lo, v[i]), *hi = fmax(*hi, v[i]), any = 1;
    return any;
}

/* [lo, hi] widened to a nonzero span. */
static void widen(double *lo, double *hi)
{
    if (*hi - *lo <= 1e-12 * fmax(fabs(*lo), fabs(*hi))) {
        double pad = *lo != 0.0 ? 0.05 * fabs(*lo) : 0.5;
        *lo -= pad, *hi += pad;
    }
}

/* Axis range for v: its finite values, plus 5% each side as matplotlib
 * does; [0, 1] when nothing is finite. */
static void range(const double *v, size_t n, double *lo, double *hi)
{
    if (!minmax(v, n, lo, hi))
        *lo = 0.0, *hi = 1.0;
    widen(lo, hi);
    double margin = 0.05 * (*hi - *lo);
    *lo -= margin, *hi += margin;
}

/* One axis: the window [lo, hi] (log10 values when log), and for a linear
 * axis the step between numbered ticks. */
typedef struct axis { double lo, hi, tick; int log; } axis;

static axis linear(double lo, double hi)
{
    return (axis){ lo, hi, nice_step(fabs(hi - lo) / 7.0), 0 };
}

/* PLplot numbers a log axis at powers of ten only. */
static int few_decades(const axis *a)
{
    return a->log && floor(a->hi) - ceil(a->lo) < 1.0;
}

/* Width, in characters, of the widest number on a y axis. */
static int y_chars(const axis *a)
{
    if (a->log)
        return 8;                             /* "10" and a superscript */
    double big = fmax(fabs(a->lo), fabs(a->hi));
    int decimals = a->tick < 1.0 ? (int)ceil(-log10(a->tick) - 1e-9) : 0;
    int whole = big < 10.0 ? 1 : (int)floor(log10(big)) + 1;
    return whole + (decimals ? decimals + 1 : 0) + (fmin(a->lo, a->hi) < 0.0);
}

/* Viewport with room on the left for y's numbers, `right` pixels on the
 * right (RIGHT_BAR: room for a colour bar), of height/width `aspect`
 * (0: fill); window x by y; a light grid at the numbered ticks when `grid`.
 * The margins are fixed in pixels (points) whatever the page size. */
static void open_axes(const axis *x, const axis *y, int right, double aspect, int grid)
{
    PLFLT xp, yp;
    PLINT w = PAGE_W, h = PAGE_H, xoff, yoff;
    pl.plgpage(&xp, &yp, &w, &h, &xoff, &yoff);
    double left = (2.8 + 0.5 * y_chars(y) + 1.5) * CHAR_PX / w;
    double r = 1.0 - (double)right / w;
    double bottom = (double)MARGIN_BOTTOM / h, top = 1.0 - (double)MARGIN_TOP / h;
    if (aspect > 0.0)
        pl.plvpas(left, r, bottom, top, aspect);
    else
        pl.plvpor(left, r, bottom, top);
    pl.plwind(x->lo, x->hi, y->lo, y->hi);
    if (grid) {
        pl.plcol0(C_GRID);
        pl.plwidth(1.0);
        pl.plbox(x->log ? "gl" : "g", x->tick, 0, y->log ? "gl" : "g", y->tick, 0);
    }
}

/* Numbers for a log axis holding fewer than two powers of ten: at 1, 2, 5
 * times them (mant's first three), or at every 1..9 times them if that
 * gives fewer than three numbers. */
static void log_numbers(const axis *a, int yaxis)
{
    static const double mant[9] = { 1, 2, 5, 3, 4, 6, 7, 8, 9 };
    int nm = 3;
    for (int pass = 0; pass < 2; pass++) {     /* 0: count, 1: draw */
        int count = 0;
        for (double e = floor(a->lo); e <= ceil(a->hi); e++)
            for (int i = 0; i < nm; i++) {
                double v = e + log10(mant[i]), pos = (v - a->lo) / (a->hi - a->lo);
                char text[32];
                if (pos < -1e-9 || pos > 1.0 + 1e-9)
                    continue;
                count++;
                snprintf(text, sizeof text, "%g", mant[i] * pow(10.0, e));
                if (pass && yaxis)
                    pl.plmtex("lv", 0.5, pos, 1.0, text);
                else if (pass)
                    pl.plmtex("b", 1.5, pos, 0.5, text);
            }
        if (count < 3)
            nm = 9;
    }
}

/* Frame, ticks on all four sides, numbers on the bottom and left, then the
 * axis labels and the title (NULL: none), over whatever was drawn. */
static void close_axes(const axis *x, const axis *y, const char *title,
                       const char *xlabel, const char *ylabel)
{
    char xo[16], yo[16], buf[TEXT_MAX];
    snprintf(xo, sizeof xo, "bct%s%s", x->log ? "ls" : "f", few_decades(x) ? "" : "n");
    snprintf(yo, sizeof yo, "bctv%s%s", y->log ? "ls" : "f", few_decades(y) ? "" : "n");
    pl.plcol0(C_FG);
    pl.plwidth(1.0);
    pl.pllsty(1);
    pl.plbox(xo, x->tick, 0, yo, y->tick, 0);
    if (few_decades(x))
        log_numbers(x, 0);
    if (few_decades(y))
        log_numbers(y, 1);
    pl.plmtex("b", 3.2, 0.5, 0.5, literal(xlabel, buf));
    pl.plmtex("l", 2.8 + 0.5 * y_chars(y), 0.5, 0.5, literal(ylabel, buf));
    if (title && *title) {
        pl.plschr(0.0, 1.2);
        pl.plmtex("t", 1.0, 0.5, 0.5, literal(title, buf));
        pl.plschr(0.0, 1.0);
    }
}

/* plline over each run of finite points (a lone point is not drawn), or
 * with `dots` a dot at every finite point inside the window. */
static void draw(const double *x, const double *y, size_t n, int dots)
{
    PLFLT x0, x1, y0, y1;
    pl.plgvpw(&x0, &x1, &y0, &y1);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && isfinite(x[j]) && isfinite(y[j]) &&
               (!dots || (x[j] >= fmin(x0, x1) && x[j] <= fmax(x0, x1) &&
                          y[j] >= fmin(y0, y1) && y[j] <= fmax(y0, y1))))
            j++;
        if (dots && j > i)
            pl.plstring((PLINT)(j - i), x + i, y + i, DOT);
        else if (j > i + 1)
            pl.plline((PLINT)(j - i), x + i, y + i);
        i = j > i ? j : i + 1;
    }
}

/* Corner (PL_POSITION_* bits) of the window holding the fewest points: the
 * legend goes there.  Like matplotlib's "best", ties prefer the upper right. */
static int quiet_corner(const double *const xs[3], const double *const ys[3],
                        const size_t ns[3], double x0, double x1, double y0, double y1)
{
    static const int corner[4] = {
        PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
        PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT,
    };
    size_t count[4] = { 0 };
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; xs[s] && ys[s] && i < ns[s]; i++) {
            double u = (xs[s][i] - x0) / (x1 - x0), v = (ys[s][i] - y0) / (y1 - y0);
            int right = u > 0.6 && u <= 1.0, left = u >= 0.0 && u < 0.4;
            int top = v > 0.65 && v <= 1.0, bottom = v >= 0.0 && v < 0.35;
            count[0] += top && right, count[1] += top && left;
            count[2] += bottom && right, count[3] += bottom && left;
        }
    int best = 0;
    for (int c = 1; c < 4; c++)
        if (count[c] < count[best])
            best = c;
    return corner[best] | PL_POSITION_INSIDE;
}

/* The style's label when it gives one, else `fallback`. */
static const char *label_or(const char *label, const char *fallback)
{
    return label ? label : fallback;
}

int plot_fit(const char *path, plot_format fmt, const char *title,
             const double *xq, const double *truth, const double *pred, size_t m,
             const double *xtrain, const double *ytrain, size_t n,
             double xlo, double xhi, double ylo, double yhi,
             char *err, size_t errlen)
{
    const plot_style style = { 0, 0, title, NULL, NULL };
    return plot_fit_styled(path, fmt, &style, xq, pred, m, truth ? xq : NULL, truth,
                           truth ? m : 0, xtrain, ytrain, n, xlo, xhi, ylo, yhi, err, errlen);
}

int plot_fit_styled(const char *path, plot_format fmt, const plot_style *style,
                    const double *xq, const double *pred, size_t m,
                    const double *xtruth, const double *truth, size_t mt,
                    const double *xtrain, const double *ytrain, size_t n,
                    double xlo, double xhi, double ylo, double yhi,
                    char *err, size_t errlen)
{
    static const plot_style none = { 0, 0, NULL, NULL, NULL };
    if (!style)
        style = &none;
    char *tmp = NULL;
    if (!xq || !pred || m == 0 || m > INT_MAX || n > INT_MAX || (n && (!xtrain || !ytrain)) ||
        mt > INT_MAX || (mt && !xtruth))
        return fail(err, errlen, "cannot plot %s: no predictions to draw", path);
    if (mt == 0)
        truth = NULL;
    if (!(xlo < xhi && ylo < yhi && isfinite(xhi - xlo) && isfinite(yhi - ylo)))
        return fail(err, errlen, "cannot plot %s: empty axis range", path);
    if (begin(path, fmt, style, &tmp, err, errlen))
        return -1;

    axis x = linear(xlo, xhi), y = linear(ylo, yhi);
    open_axes(&x, &y, RIGHT_PLAIN, 0.0, 1);
    /* Training points under the lines; smaller and fainter when many. */
    double crowd = n > 300 ? sqrt(300.0 / (double)n) : 1.0;
    pl.plscol0a(C_DATA, DATA_RGB, 0.1 + 0.45 * crowd);
    pl.plcol0(C_DATA);
    pl.plschr(0.0, 0.4 + 0.6 * crowd);
    draw(xtrain, ytrain, n, 1);
    pl.plschr(0.0, 1.0);
    pl.plscol0a(C_DATA, DATA_RGB, 0.55);       /* the legend's dot */
    pl.plwidth(2.0);
    if (truth) {
        pl.plcol0(C_TRUTH);
        draw(xtruth, truth, mt, 0);
    }
    pl.plcol0(C_PRED);
    pl.pllsty(STYLE_DASHED);
    draw(xq, pred, m, 0);
    close_axes(&x, &y, style->title, label_or(style->xlabel, "x"), label_or(style->ylabel, "y"));

    /* Legend: Truth (if given), Pred, Data (if any). */
    static const char *const name[3] = { "Truth", "Pred", "Data" };
    static const PLINT col[3] = { C_TRUTH, C_PRED, C_DATA };
    const char *text[3], *sym[3];
    PLINT opt[3], tcol[3], lcol[3], lsty[3], snum[3];
    PLFLT lwid[3], sscl[3];
    int k = 0;
    for (int e = truth ? 0 : 1; e < (n ? 3 : 2); e++, k++) {
        text[k] = name[e], sym[k] = DOT;
        opt[k] = e < 2 ? PL_LEGEND_LINE : PL_LEGEND_SYMBOL;
        tcol[k] = C_FG, lcol[k] = col[e], lsty[k] = e == 1 ? STYLE_DASHED : 1;
        lwid[k] = 2.0, sscl[k] = 1.0, snum[k] = 1;
    }
    const double *xs[3] = { xtruth, xq, xtrain }, *ys[3] = { truth, pred, ytrain };
    const size_t ns[3] = { mt, m, n };
    PLFLT lw, lh;
    pl.pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                quiet_corner(xs, ys, ns, xlo, xhi, ylo, yhi), 0.02, 0.03, 0.07,
                C_BG, C_FRAME, 1, 0, 0, k, opt, 0.8, 1.0, 1.8, 0.0, tcol, text,
                NULL, NULL, NULL, NULL, lcol, lsty, lwid, lcol, sscl, snum, sym);
    return finish(path, tmp, err, errlen);
}

/* cmap1 from 9 evenly spaced RGB colours (0..1). */
static void cmap(const PLFLT r[9], const PLFLT g[9], const PLFLT b[9])
{
    static const PLFLT at[9] = { 0, .125, .25, .375, .5, .625, .75, .875, 1 };
    pl.plscmap1n(256);
    pl.plscmap1l(1, 9, at, r, g, b, NULL);
}

/* A vertical colour bar right of the viewport, numbered from `values`;
 * a high cap (PL_COLORBAR_CAP_HIGH in kind) has the top colour; `label`
 * (NULL: none) is written above it. */
static void colour_bar(PLINT kind, PLINT nvalues, const PLFLT *values, const char *label)
{
    const char *axis_opts[1] = { "bcfvtm" };
    char buf[TEXT_MAX];
    const char *labels[1] = { literal(label, buf) };
    PLINT label_opts[1] = { PL_COLORBAR_LABEL_TOP };
    PLFLT ticks[1] = { 0.0 }, w, h;
    PLINT sub[1] = { 0 }, nv[1] = { nvalues };
    const PLFLT *vals[1] = { values };
    pl.plcol0(C_FG);
    pl.plcolorbar(&w, &h, kind, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT,
                  0.03, 0.0, 0.04, 1.0, C_BG, C_FG, 1, 0.0, 1.0, C_FG, 0.5,
                  label && *label ? 1 : 0, label_opts, labels, 1, axis_opts, ticks, sub, nv,
                  (const PLFLT *const *)vals);
}

int plot_heatmap(const char *path, plot_format fmt, const char *title,
                 const double *weights, size_t m, size_t n,
                 char *err, size_t errlen)
{
    const plot_style style = { 0, 0, title, NULL, NULL };
    return plot_heatmap_styled(path, fmt, &style, weights, m, n, 0, 0, err, errlen);
}

int plot_heatmap_styled(const char *path, plot_format fmt, const plot_style *style,
                        const double *weights, size_t m, size_t n,
                        size_t m_span, size_t n_span, char *err, size_t errlen)
{
    static const plot_style none = { 0, 0, NULL, NULL, NULL };
    if (!style)
        style = &none;
    /* matplotlib's 'Reds' (ColorBrewer), white to dark red. */
    static const PLFLT r[9] = { 1.000, 0.996, 0.988, 0.988, 0.984, 0.937, 0.796, 0.647, 0.404 };
    static const PLFLT g[9] = { 0.961, 0.878, 0.733, 0.573, 0.416, 0.231, 0.094, 0.059, 0.000 };
    static const PLFLT b[9] = { 0.941, 0.824, 0.631, 0.447, 0.290, 0.173, 0.114, 0.082, 0.051 };
    char *tmp = NULL;
    if (!weights || m == 0 || n == 0 || m > INT_MAX || n > INT_MAX || m > SIZE_MAX / n)
        return fail(err, errlen, "cannot plot %s: empty attention matrix", path);
    PLFLT vals[2];                             /* colour range */
    if (!minmax(weights, m * n, &vals[0], &vals[1]))
        vals[0] = 0.0, vals[1] = 1.0;
    widen(&vals[0], &vals[1]);
    if (begin(path, fmt, style, &tmp, err, errlen))
        return -1;

    /* Whole indices; y runs downwards so that query 0 is on top, as imshow
     * has it; square cells within reason for long matrices.  The image is
     * drawn in cell units, the axes in span units (binned matrices). */
    double xs = n_span ? (double)n_span : (double)n, ys = m_span ? (double)m_span : (double)m;
    axis x = { 0.0, (double)n, 0, 0 }, y = { (double)m, 0.0, 0, 0 };
    axis xa = { 0.0, xs, nice_step(fmax(1.0, xs / 6.0)), 0 };
    axis ya = { ys, 0.0, nice_step(fmax(1.0, ys / 6.0)), 0 };
    open_axes(&x, &ya, RIGHT_BAR, fmin(2.0, fmax(0.5, ys / xs)), 0);
    pl.plwind(x.lo, x.hi, y.lo, y.hi);
    cmap(r, g, b);
    /* W[q*n + k] is column-major for x = key, y = query; pltr0 puts cell
     * (k, q) on [k, k+1] x [q, q+1].  NaN cells stay blank. */
    PLfGrid2 grid = { (PLFLT **)(uintptr_t)weights, (PLINT)n, (PLINT)m };
    pl.plfimagefr(pl.plf2ops_grid_col_major(), &grid, (PLINT)n, (PLINT)m, 0.0, (double)n,
                  0.0, (double)m, vals[0], vals[1], vals[0], vals[1], pl.pltr0, NULL);
    pl.plwind(xa.lo, xa.hi, ya.lo, ya.hi);
    close_axes(&xa, &ya, style->title, label_or(style->xlabel, "Sorted training inputs"),
               label_or(style->ylabel, "Sorted testing inputs"));
    colour_bar(PL_COLORBAR_IMAGE, 2, vals, NULL);
    return finish(path, tmp, err, errlen);
}

int plot_loss(const char *path, plot_format fmt, const char *title,
              const double *loss, size_t epochs, char *err, size_t errlen)
{
    const plot_style style = { 0, 0, title, NULL, NULL };
    return plot_loss_styled(path, fmt, &style, loss, epochs, err, errlen);
}

int plot_loss_styled(const char *path, plot_format fmt, const plot_style *style,
                     const double *loss, size_t epochs, char *err, size_t errlen)
{
    static const plot_style none = { 0, 0, NULL, NULL, NULL };
    if (!style)
        style = &none;
    char *tmp = NULL;
    double *epoch = NULL;
    int rc = -1;
    if (!loss || epochs == 0 || epochs > INT_MAX) {
        fail(err, errlen, "cannot plot %s: no losses to draw", path);
        goto fail;
    }
    if (!(epoch = malloc(epochs * sizeof *epoch))) {
        fail(err, errlen, "cannot plot %s: out of memory", path);
        goto fail;
    }
    for (size_t i = 0; i < epochs; i++)
        epoch[i] = (double)(i + 1);
    double ylo, yhi;
    range(loss, epochs, &ylo, &yhi);
    if (begin(path, fmt, style, &tmp, err, errlen))
        goto fail;

    /* Whole epochs, <= 10 numbered; a little room so end dots show whole. */
    double pad = epochs > 1 ? 0.03 * (double)(epochs - 1) : 0.5;
    axis x = { 1.0 - pad, (double)epochs + pad,
               nice_step(fmax(1.0, (double)(epochs - 1) / 10.0)), 0 };
    axis y = linear(ylo, yhi);
    open_axes(&x, &y, RIGHT_PLAIN, 0.0, 1);
    pl.plcol0(C_TRUTH);
    pl.plwidth(2.0);
    draw(epoch, loss, epochs, 0);
    if (epochs <= 60)
        draw(epoch, loss, epochs, 1);
    close_axes(&x, &y, style->title, label_or(style->xlabel, "epoch"),
               label_or(style->ylabel, "loss"));
    rc = finish(path, tmp, err, errlen);
fail:
    free(epoch);
    return rc;
}

int plot_curve(const char *path, plot_format fmt, const char *title,
               const char *xlabel, const char *ylabel,
               const double *h, const double *value, size_t k,
               double hopt, double vopt, char *err, size_t errlen)
{
    const plot_style style = { 0, 0, title, xlabel, ylabel };
    return plot_curve_styled(path, fmt, &style, h, value, k, hopt, vopt, err, errlen);
}

int plot_curve_styled(const char *path, plot_format fmt, const plot_style *style,
                      const double *h, const double *value, size_t k,
                      double hopt, double vopt, char *err, size_t errlen)
{
    static const plot_style none = { 0, 0, NULL, NULL, NULL };
    if (!style)
        style = &none;
    char *tmp = NULL;
    double *lh = NULL;
    int rc = -1;
    if (!h || !value || k == 0 || k > INT_MAX) {
        fail(err, errlen, "cannot plot %s: no bandwidths to draw", path);
        goto fail;
    }
    if (!(lh = malloc(k * sizeof *lh))) {
        fail(err, errlen, "cannot plot %s: out of memory", path);
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        if (!(h[i] > 0.0 && h[i] < INFINITY)) {
            fail(err, errlen, "cannot plot %s: bandwidth %g is not positive", path, h[i]);
            goto fail;
        }
        lh[i] = log10(h[i]);
    }
    axis x = { 0, 0, 0, 1 };
    range(lh, k, &x.lo, &x.hi);
    if (x.hi - x.lo < 0.2) {                   /* one bandwidth: a decade */
        double mid = 0.5 * (x.lo + x.hi);
        x.lo = mid - 0.5, x.hi = mid + 0.5;
    }
    double ylo, yhi;
    range(value, k, &ylo, &yhi);
    axis y = linear(ylo, yhi);
    if (begin(path, fmt, style, &tmp, err, errlen))
        goto fail;

    open_axes(&x, &y, RIGHT_PLAIN, 0.0, 1);
    pl.plcol0(C_TRUTH);
    pl.plwidth(2.0);
    draw(lh, value, k, 0);
    if (k <= 60) {
        pl.plschr(0.0, 0.6);
        draw(lh, value, k, 1);
        pl.plschr(0.0, 1.0);
    }
    if (hopt > 0.0 && hopt < INFINITY) {   /* the optimum, labelled at the top */
        double lx = log10(hopt), xs[2] = { lx, lx }, ys[2] = { y.lo, y.hi };
        char label[64];
        pl.plcol0(C_MARK);
        pl.plwidth(1.5);
        pl.pllsty(STYLE_DASHED);
        pl.plline(2, xs, ys);
        pl.pllsty(1);
        if (isfinite(vopt))
            pl.plstring(1, &lx, &vopt, DOT);
        snprintf(label, sizeof label, "h* = %.3g", hopt);
        int right = (lx - x.lo) / (x.hi - x.lo) < 0.6;
        pl.plptex(lx + (right ? 0.015 : -0.015) * (x.hi - x.lo), y.hi - 0.06 * (y.hi - y.lo),
                  1.0, 0.0, right ? 0.0 : 1.0, label);
    }
    close_axes(&x, &y, style->title, label_or(style->xlabel, "bandwidth h (log scale)"),
               label_or(style->ylabel, "criterion"));
    rc = finish(path, tmp, err, errlen);
fail:
    free(lh);
    return rc;
}

/* plfill plus the outline in the same colour, which hides the hairline
 * seams that anti-aliasing leaves between neighbouring shade polygons. */
static void fill_sealed(PLINT n, const PLFLT *x, const PLFLT *y)
{
    PLFLT cx[2] = { x[n - 1], x[0] }, cy[2] = { y[n - 1], y[0] };
    pl.plfill(n, x, y);
    pl.plline(n, x, y);
    pl.plline(2, cx, cy);
}

int plot_contour(const char *path, plot_format fmt, const char *title,
                 const char *xlabel, const char *ylabel,
                 const double *h1, size_t k1, const double *h2, size_t k2,
                 const double *value, double h1opt, double h2opt,
                 char *err, size_t errlen)
{
    const plot_style style = { 0, 0, title, xlabel, ylabel };
    return plot_contour_styled(path, fmt, &style, h1, k1, h2, k2, value, h1opt, h2opt,
                               err, errlen);
}

int plot_contour_styled(const char *path, plot_format fmt, const plot_style *style,
                        const double *h1, size_t k1, const double *h2, size_t k2,
                        const double *value, double h1opt, double h2opt,
                        char *err, size_t errlen)
{
    static const plot_style none = { 0, 0, NULL, NULL, NULL };
    if (!style)
        style = &none;
    /* matplotlib's 'viridis', dark purple (low, good) to yellow. */
    static const PLFLT r[9] = { 0.267, 0.282, 0.243, 0.192, 0.149, 0.122, 0.208, 0.431, 0.992 };
    static const PLFLT g[9] = { 0.004, 0.157, 0.286, 0.408, 0.510, 0.620, 0.718, 0.808, 0.906 };
    static const PLFLT b[9] = { 0.329, 0.471, 0.537, 0.557, 0.557, 0.537, 0.475, 0.345, 0.145 };
    enum { MAXLEV = 16 };
    char *tmp = NULL;
    double *buf = NULL;
    int rc = -1;
    if (!h1 || !h2 || !value || k1 < 2 || k2 < 2 || k1 > INT_MAX || k2 > INT_MAX ||
        k1 > SIZE_MAX / sizeof *buf / 4 / k2) {
        fail(err, errlen, "cannot plot %s: need at least a 2 x 2 grid", path);
        goto fail;
    }
    size_t cells = k1 * k2;
    if (!(buf = malloc((2 * cells + k1 + k2) * sizeof *buf))) {
        fail(err, errlen, "cannot plot %s: out of memory", path);
        goto fail;
    }
    double *z = buf, *xg = z + cells, *yg = xg + k1, *sorted = yg + k2;
    int ok = 1;                                /* xg and yg are contiguous */
    for (size_t i = 0; ok && i < k1 + k2; i++) {
        double v = i < k1 ? h1[i] : h2[i - k1];
        xg[i] = v > 0.0 && v < INFINITY ? log10(v) : NAN;
        ok = isfinite(xg[i]) && (i == 0 || i == k1 || xg[i] > xg[i - 1]);
    }
    if (!ok) {
        fail(err, errlen, "cannot plot %s: bandwidths must be positive and ascending", path);
        goto fail;
    }
    /* Colour range: the finite values, but only up to the 80th percentile
     * when the top fifth would more than double it (a criterion blowing up
     * at tiny bandwidths): what lies above shares the top shade, capped. */
    size_t nf = 0;
    for (size_t i = 0; i < cells; i++)
        if (isfinite(value[i]))
            sorted[nf++] = value[i];
    if (nf == 0) {
        fail(err, errlen, "cannot plot %s: no finite values", path);
        goto fail;
    }
    qsort(sorted, nf, sizeof *sorted, cmp_double);
    double lo = sorted[0], hi = sorted[nf - 1], q80 = sorted[(nf - 1) * 4 / 5];
    int capped = q80 > lo && hi - lo > 2.0 * (q80 - lo);
    if (capped)
        hi = q80;
    widen(&lo, &hi);
    /* Shade edges at round numbers, about ten shades, as contourf does. */
    double step = nice_step((hi - lo) / 10.0), first = floor(lo / step) * step;
    PLFLT level[MAXLEV];
    int nlev = 0;
    do
        level[nlev] = first + step * nlev;
    while (level[nlev++] < hi && nlev < MAXLEV);
    for (size_t i = 0; i < cells; i++)     /* above the top, or undefined */
        z[i] = isfinite(value[i]) ? fmin(value[i], level[nlev - 1]) : level[nlev - 1];
    if (begin(path, fmt, style, &tmp, err, errlen))
        goto fail;

    axis x = { xg[0], xg[k1 - 1], 0, 1 }, y = { yg[0], yg[k2 - 1], 0, 1 };
    open_axes(&x, &y, RIGHT_BAR, 0.0, 0);
    cmap(r, g, b);
    PLfGrid2 grid = { (PLFLT **)z, (PLINT)k1, (PLINT)k2 };    /* z[i*k2 + j] */
    PLcGrid cgrid = { xg, yg, NULL, (PLINT)k1, (PLINT)k2, 0 };
    pl.plfshades(pl.plf2ops_grid_row_major(), &grid, (PLINT)k1, (PLINT)k2, NULL,
                 x.lo, x.hi, y.lo, y.hi, level, nlev, 1.0, 0, 0.0,
                 fill_sealed, 1, pl.pltr1, &cgrid);
    if (h1opt > 0.0 && h1opt < INFINITY && h2opt > 0.0 && h2opt < INFINITY) {
        double ox = log10(h1opt), oy = log10(h2opt);
        double dx = x.hi - x.lo, dy = y.hi - y.lo;
        char label[96];
        pl.plcol0(C_WHITE);                    /* a red dot ringed in white */
        pl.plschr(0.0, 1.5);
        pl.plstring(1, &ox, &oy, DOT);
        pl.plcol0(C_MARK);
        pl.plschr(0.0, 1.0);
        pl.plstring(1, &ox, &oy, DOT);
        snprintf(label, sizeof label, "h* = (%.3g, %.3g)", h1opt, h2opt);
        int right = (ox - x.lo) / dx < 0.6, below = (oy - y.lo) / dy > 0.9;
        pl.plcol0(C_WHITE);
        pl.plptex(ox + (right ? 0.02 : -0.02) * dx, oy + (below ? -0.04 : 0.0) * dy,
                  1.0, 0.0, right ? 0.0 : 1.0, label);
    }
    close_axes(&x, &y, style->title, label_or(style->xlabel, "bandwidth h1 (log scale)"),
               label_or(style->ylabel, "bandwidth h2 (log scale)"));
    colour_bar(PL_COLORBAR_SHADE | PL_COLORBAR_SHADE_LABEL | (capped ? PL_COLORBAR_CAP_HIGH : 0),
               nlev, level, NULL);
    rc = finish(path, tmp, err, errlen);
fail:
    free(buf);
    return rc;
}

int plot_surface(const char *path, plot_format fmt, const plot_style *style,
                 const double *x1, size_t k1, const double *x2, size_t k2,
                 const double *z, const char *zlabel,
                 const double *px, const double *py, const double *pv, size_t n,
                 char *err, size_t errlen)
{
    static const plot_style none = { 0, 0, NULL, NULL, NULL };
    /* matplotlib's 'viridis', as plot_contour. */
    static const PLFLT r[9] = { 0.267, 0.282, 0.243, 0.192, 0.149, 0.122, 0.208, 0.431, 0.992 };
    static const PLFLT g[9] = { 0.004, 0.157, 0.286, 0.408, 0.510, 0.620, 0.718, 0.808, 0.906 };
    static const PLFLT b[9] = { 0.329, 0.471, 0.537, 0.557, 0.557, 0.537, 0.475, 0.345, 0.145 };
    char *tmp = NULL;
    if (!style)
        style = &none;
    if (!x1 || !x2 || !z || k1 < 2 || k2 < 2 || k1 > INT_MAX || k2 > INT_MAX ||
        k1 > SIZE_MAX / k2 || n > INT_MAX || (n && (!px || !py || !pv)))
        return fail(err, errlen, "cannot plot %s: need at least a 2 x 2 grid", path);
    double dx = (x1[k1 - 1] - x1[0]) / (double)(k1 - 1), dy = (x2[k2 - 1] - x2[0]) / (double)(k2 - 1);
    if (!(dx > 0.0 && dy > 0.0 && isfinite(dx) && isfinite(dy)))
        return fail(err, errlen, "cannot plot %s: the grid must be ascending", path);
    /* One colour scale for the surface and the points' values. */
    PLFLT vals[2], plo, phi;
    if (!minmax(z, k1 * k2, &vals[0], &vals[1]))
        vals[0] = INFINITY, vals[1] = -INFINITY;
    if (minmax(pv, n, &plo, &phi))
        vals[0] = fmin(vals[0], plo), vals[1] = fmax(vals[1], phi);
    if (!(vals[0] <= vals[1]))
        return fail(err, errlen, "cannot plot %s: no finite values", path);
    widen(&vals[0], &vals[1]);
    if (begin(path, fmt, style, &tmp, err, errlen))
        return -1;

    /* Grid values sit at cell centres: the image spans half a cell more. */
    axis x = linear(x1[0] - 0.5 * dx, x1[k1 - 1] + 0.5 * dx);
    axis y = linear(x2[0] - 0.5 * dy, x2[k2 - 1] + 0.5 * dy);
    open_axes(&x, &y, RIGHT_BAR, 0.0, 0);
    cmap(r, g, b);
    /* z[i*k2 + j] at (x1[i], x2[j]) is row-major with x slowest.  plimagefr
     * passes cell corners (i, j), i = 0..k1, j = 0..k2, through pltr1, which
     * looks them up in the cell edges xe, ye.  NaN cells (no training point
     * in a compact kernel's reach) stay blank. */
    double *edges = malloc((k1 + k2 + 2) * sizeof *edges);
    if (!edges) {
        pl.plend();
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, "cannot plot %s: out of memory", path);
    }
    double *xe = edges, *ye = edges + k1 + 1;
    for (size_t i = 0; i <= k1; i++)
        xe[i] = x.lo + dx * (double)i;
    for (size_t j = 0; j <= k2; j++)
        ye[j] = y.lo + dy * (double)j;
    PLfGrid2 grid = { (PLFLT **)(uintptr_t)z, (PLINT)k1, (PLINT)k2 };
    PLcGrid cgrid = { xe, ye, NULL, (PLINT)k1 + 1, (PLINT)k2 + 1, 0 };
    pl.plfimagefr(pl.plf2ops_grid_row_major(), &grid, (PLINT)k1, (PLINT)k2, x.lo, x.hi, y.lo, y.hi,
                  vals[0], vals[1], vals[0], vals[1], pl.pltr1, &cgrid);
    free(edges);
    /* The points, each a dot in the colour of its own value ringed in white:
     * where it differs from the surface beneath it, the fit misses it. */
    for (size_t i = 0; i < n; i++) {
        if (!(isfinite(px[i]) && isfinite(py[i]) && isfinite(pv[i])))
            continue;
        pl.plcol0(C_WHITE);
        pl.plschr(0.0, 0.95);
        pl.plstring(1, &px[i], &py[i], DOT);
        pl.plcol1((pv[i] - vals[0]) / (vals[1] - vals[0]));
        pl.plschr(0.0, 0.65);
        pl.plstring(1, &px[i], &py[i], DOT);
    }
    pl.plschr(0.0, 1.0);
    close_axes(&x, &y, style->title, label_or(style->xlabel, "x1"), label_or(style->ylabel, "x2"));
    colour_bar(PL_COLORBAR_IMAGE, 2, vals, zlabel);
    return finish(path, tmp, err, errlen);
}
