/*
 * affinity.h: where a helper thread starts -- on one of the caller's CPUs
 * but the one the caller is on (used by team.c's helpers and the CLI's
 * query prefetch) -- after which it may run anywhere the caller may.
 *
 * Why: on this project's VM (firecracker, sched_vcpu_pack) the scheduler
 * packs a new thread onto the busy caller's vCPU rather than wake the idle
 * one, so a helper started for a few milliseconds of work often ran only
 * after the caller had done it all (team.c has the figures).  Started away
 * from the caller's CPU it runs at once where another CPU is free.  It is
 * not kept there (its first act is nw_unpin_self): pinned for a whole job,
 * a helper would leave the scheduler no way to rebalance a long one, and
 * --select loo at n = 1e6 (uniform ll, best of 3) took 13.4 s pinned
 * against 11.2 s unpinned on this noisy machine; short predict jobs gain
 * the same either way (2-d n = m = 1e4 f32: 8.9 and 8.8 ms).
 *
 * The including file defines _GNU_SOURCE before its first #include (for
 * sched_getcpu and the affinity calls); without them, or off Linux, these
 * do nothing.
 */
#ifndef NW_AFFINITY_H
#define NW_AFFINITY_H

#include <pthread.h>
#include <sched.h>

#if defined(__linux__) && defined(_GNU_SOURCE) && defined(CPU_SET)
#define NW_HAVE_AFFINITY 1
typedef cpu_set_t nw_cpus;
#else
typedef int nw_cpus;
#endif

/* Set attr's affinity to the calling thread's CPUs without the one it runs
 * on, where that leaves at least one, and keep the caller's whole set in
 * *all (for nw_unpin_self); returns 1 if attr was changed.  A hint: on any
 * failure attr keeps what it had. */
static inline int nw_attr_away_from_caller(pthread_attr_t *attr, nw_cpus *all)
{
#ifdef NW_HAVE_AFFINITY
    int me = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (me < 0 || me >= CPU_SETSIZE || sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(me, &set) ||
        CPU_COUNT(&set) < 2)
        return 0;
    *all = set;
    CPU_CLR(me, &set);
    return pthread_attr_setaffinity_np(attr, sizeof set, &set) == 0;
#else
    (void) attr, (void) all;
    return 0;
#endif
}

/* A helper started by nw_attr_away_from_caller (pinned = its return):
 * may run on any of the caller's CPUs from now on. */
static inline void nw_unpin_self(const nw_cpus *all, int pinned)
{
#ifdef NW_HAVE_AFFINITY
    if (pinned) (void) pthread_setaffinity_np(pthread_self(), sizeof *all, all);
#else
    (void) all, (void) pinned;
#endif
}

#endif
