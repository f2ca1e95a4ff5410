/*
 * progress.h: a progress bar on stderr for the long calls of nwreg, and
 * the Ctrl-C (SIGINT) flag that stops them.
 *
 * The bar is drawn only when stderr is a terminal and --quiet is not given
 * (NWREG_PROGRESS=always forces it, =never suppresses it), only once a call
 * has run for PROGRESS_DELAY seconds (NWREG_PROGRESS_DELAY=SECONDS changes
 * that, e.g. 0 for tests), and at most every PROGRESS_PERIOD seconds:
 *
 *     predict [##########..........]  50.0%  2.3e+05/s  ETA 0:04
 *
 * The rate is in the caller's units of work per second (queries, criterion
 * evaluations, epochs); ETA = elapsed * (total - done) / done.
 */
#ifndef NW_CLI_PROGRESS_H
#define NW_CLI_PROGRESS_H

#include "nwreg.h"

#define PROGRESS_DELAY 0.5
#define PROGRESS_PERIOD 0.1

/* Install the SIGINT handler: the first Ctrl-C sets the flag (and lets a
 * second one kill the program at once); nothing else. */
void interrupt_install(void);
/* Whether Ctrl-C was pressed. */
int interrupted(void);

typedef struct progress {
    const char *label;   /* what is running, e.g. "predict" */
    int enabled;         /* draw at all */
    double start;        /* the clock at progress_start */
    double delay;        /* seconds before the first drawing */
    double last_draw;    /* when the bar was last drawn, 0 = never */
} progress;

/* Start a bar for one long call.  quiet turns it off. */
void progress_start(progress *p, const char *label, int quiet);
/* Report done of total units; draws if due.  Returns interrupted(). */
int progress_update(progress *p, double done, double total);
/* Erase the bar, if one was drawn. */
void progress_end(progress *p);
/* Erase whatever bar is on the screen (before a message is printed). */
void progress_clear(void);

/* nw_progress_fn: ctx is a progress *; draws and returns interrupted(). */
int progress_cb(double done, double total, void *ctx);
/* nw_progress_fn that draws nothing and only returns interrupted(). */
int progress_stop_only(double done, double total, void *ctx);

#endif
