/* team.h: work shared by the caller's thread and helper threads, where the
 * caller never waits for a helper that has not taken any work.
 *
 * Why not an OpenMP region: a region ends at a barrier that every thread of
 * the team must reach, so a helper that the machine does not schedule at
 * once holds up the caller even when the caller has done all the work
 * itself.  On this project's shared 2-core VM, starting or waking the
 * second thread took 2-10 ms in ~40 % of tries (a fresh 2-thread OpenMP
 * region, 0.1 ms otherwise), and a 2-d predict at n = m = 1e4 (three
 * regions, ~15 ms of work) had a median of 32 ms on 2 threads against
 * 30 ms on one.  Here a late helper finds no work left and leaves; the
 * caller waits only for items a helper has taken and not yet finished.
 *
 * Contract of nw_team_run(job, threads):
 *   - run(ctx, worker, scratch, item) is called exactly once for every item
 *     0 .. items-1 (unless a begin fails, below), in no set order, by the
 *     caller (worker 0) and up to threads - 1 helpers (workers 1, 2, ..);
 *     items are taken one at a time, so an item should be ~10-1000 us of
 *     work;
 *   - a worker calls begin(ctx, worker, &scratch) once, after taking its
 *     first item and before running it, and end(ctx, worker, scratch)
 *     once, after its last item (each may be NULL); a helper that takes no
 *     item calls neither and never touches ctx;
 *   - when it returns, every call has returned: ctx and everything the
 *     calls write is the caller's again (writes are visible to it);
 *   - a begin that fails (non-zero) makes its worker take no more items;
 *     the item it holds is not run, and nw_team_run returns NW_ERR_NOMEM;
 *   - helpers that cannot be started are not an error: the caller does the
 *     work (threads <= 1: no helper at all).
 * The helpers are detached POSIX threads made per call (~50 us apiece
 * when the machine is idle); a helper that starts after the call returned
 * only frees the control block it shares with the call, if it is the last
 * one holding it. */
#ifndef NW_TEAM_H
#define NW_TEAM_H

#include <stddef.h>

#include "nwreg.h"

typedef struct nw_team_job {
    size_t items;
    void *ctx;
    int (*begin)(void *ctx, int worker, void **scratch);
    void (*run)(void *ctx, int worker, void *scratch, size_t item);
    void (*end)(void *ctx, int worker, void *scratch);
} nw_team_job;

/* Most workers a job takes (the caller included). */
#define NW_TEAM_MAX 256

nw_status nw_team_run(const nw_team_job *job, int threads);

#endif
