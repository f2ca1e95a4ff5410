/*
 * affinity.h: where a helper thread may run -- the caller's CPUs but the
 * one the caller is on (used by team.c's helpers and the CLI's query
 * prefetch).
 *
 * Why: on this project's VM (firecracker, sched_vcpu_pack) the scheduler
 * packs a new thread onto the busy caller's vCPU rather than wake the idle
 * one, so a helper started for a few milliseconds of work often ran only
 * after the caller had done it all (team.c has the figures).  Away from the
 * caller's CPU it starts at once where another CPU is free, and where none
 * is it waits there, as it would have anyway.
 *
 * The including file defines _GNU_SOURCE before its first #include (for
 * sched_getcpu and pthread_attr_setaffinity_np); without them, or off
 * Linux, attr is left as it is.
 */
#ifndef NW_AFFINITY_H
#define NW_AFFINITY_H

#include <pthread.h>
#include <sched.h>

/* Set attr's affinity to the calling thread's CPUs without the one it runs
 * on, where that leaves at least one; a hint: on any failure attr keeps
 * what it had. */
static inline void nw_attr_away_from_caller(pthread_attr_t *attr)
{
#if defined(__linux__) && defined(_GNU_SOURCE) && defined(CPU_SET)
    int me = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (me < 0 || me >= CPU_SETSIZE || sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(me, &set) ||
        CPU_COUNT(&set) < 2)
        return;
    CPU_CLR(me, &set);
    (void) pthread_attr_setaffinity_np(attr, sizeof set, &set);
#else
    (void) attr;
#endif
}

#endif
