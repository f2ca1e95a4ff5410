/*
 * prefetch.h: read a CSV table on a second thread while the caller does
 * other work (`nwreg predict` reads QUERIES.csv while it reads TRAIN.csv
 * and fits: two independent files, on two cores).
 *
 * Contract:
 *   - prefetch_start(path, opts) starts the read of path (which must stay
 *     valid until prefetch_finish; opts is copied) on a detached thread and
 *     returns at once; NULL only out of memory (the caller then reads the
 *     file itself).  Nothing is printed: errors come back from finish;
 *   - prefetch_finish(p, &table, &diag) returns what nw_table_read_with
 *     would have (status, table, diag), reading the file itself if the
 *     thread has not begun (it never waits for a thread to start), else
 *     waiting for the thread's read to end; p is freed;
 *   - prefetch_cancel(p) is finish with the table freed (error paths);
 *     NULL is a no-op.
 */
#ifndef NWREG_CLI_PREFETCH_H
#define NWREG_CLI_PREFETCH_H

#include "nwreg.h"

typedef struct prefetch prefetch;

prefetch *prefetch_start(const char *path, const nw_table_read_opts *opts);
nw_status prefetch_finish(prefetch *p, nw_table **table, nw_diag *diag);
void prefetch_cancel(prefetch *p);

#endif
