/*
 * progress.c: the progress bar and the Ctrl-C flag (see progress.h).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static volatile sig_atomic_t sigint_seen = 0;
static struct timespec first_sigint; /* set by the handler before sigint_seen */
static int bar_visible = 0; /* a bar is on stderr's current line */

/* The first SIGINT sets the flag.  A second one kills (the default action,
 * re-raised), unless it comes within 0.25 s of the first: that is the same
 * interruption delivered twice, as timeout(1) does (to the process, then
 * to its process group), and it used to kill before the first was
 * reported.  clock_gettime, sigaction and raise are async-signal-safe. */
static void on_sigint(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!sigint_seen) {
        first_sigint = now;
        sigint_seen = 1;
        return;
    }
    double since = (double) (now.tv_sec - first_sigint.tv_sec) +
                   1e-9 * (double) (now.tv_nsec - first_sigint.tv_nsec);
    if (since < 0.25) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    raise(sig);
}

/* No SA_RESTART: a read blocked on a terminal or pipe returns (EINTR), so a
 * command waiting for stdin stops too. */
void interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
}

int interrupted(void) { return sigint_seen != 0; }

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

void progress_start(progress *p, const char *label, int quiet)
{
    const char *env = getenv("NWREG_PROGRESS");
    const char *delay = getenv("NWREG_PROGRESS_DELAY");
    char *end;
    p->label = label;
    p->start = now();
    p->last_draw = 0;
    p->delay = PROGRESS_DELAY;
    if (delay && *delay) {
        double v = strtod(delay, &end);
        if (*end == '\0' && v >= 0 && v <= 3600) p->delay = v;
    }
    if (quiet || (env && strcmp(env, "never") == 0)) p->enabled = 0;
    else if (env && strcmp(env, "always") == 0) p->enabled = 1;
    else p->enabled = isatty(STDERR_FILENO);
}

/* "1:02:03", "2:03" or "--:--" when unknown. */
static void format_duration(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0 || s > 360000) { snprintf(buf, size, "--:--"); return; }
    long t = lround(s);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

int progress_update(progress *p, double done, double total)
{
    if (!p || !p->enabled) return interrupted();
    double t = now(), elapsed = t - p->start;
    if (elapsed < p->delay || (p->last_draw > 0 && t - p->last_draw < PROGRESS_PERIOD))
        return interrupted();
    p->last_draw = t;
    enum { WIDTH = 20 };
    double frac = total > 0 ? done / total : 0;
    if (!(frac >= 0)) frac = 0;
    if (frac > 1) frac = 1;
    char bar[WIDTH + 1], eta[32];
    int full = (int) (frac * WIDTH);
    for (int i = 0; i < WIDTH; i++) bar[i] = i < full ? '#' : '.';
    bar[WIDTH] = '\0';
    format_duration(eta, sizeof eta, done > 0 ? elapsed * (total - done) / done : NAN);
    fprintf(stderr, "\r%s [%s] %5.1f%%  %.3g/s  ETA %s\033[K", p->label, bar, 100 * frac,
            elapsed > 0 ? done / elapsed : 0.0, eta);
    fflush(stderr);
    bar_visible = 1;
    return interrupted();
}

void progress_end(progress *p)
{
    if (p && p->enabled && p->last_draw > 0) progress_clear();
    if (p) p->last_draw = 0;
}

void progress_clear(void)
{
    if (!bar_visible) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    bar_visible = 0;
}

int progress_cb(double done, double total, void *ctx)
{
    return progress_update(ctx, done, total);
}

int progress_stop_only(double done, double total, void *ctx)
{
    (void) done;
    (void) total;
    (void) ctx;
    return interrupted();
}
