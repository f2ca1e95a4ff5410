/*
 * team.c: the caller and detached helper threads take a job's items from
 * one atomic counter; the caller waits only for items taken (contract in
 * team.h).
 *
 * The control block is shared by the call and its helpers and freed by
 * whichever lets go of it last (refs).  A helper first takes an item
 * (next); only a helper holding an item may touch the job's ctx, and the
 * call cannot return before that item is counted in done.  A worker counts
 * its last item only after its end() has returned, so no call into ctx can
 * still be running when done reaches items.
 *
 * Helpers start away from the caller's CPU, then may run anywhere
 * (affinity.h).  On this project's VM the scheduler packed a new helper
 * onto the busy caller's vCPU: in a 2-d predict at n = m = 1e4 the helper
 * took no item in about half of the jobs; started on another CPU it took
 * half the items of every job (f64 22.3 -> 18.7 ms, f32 12.5 -> 11.1 ms,
 * medians of 41).  Where the other CPUs are busy the helper waits there,
 * which the contract allows: the caller never waits for a helper that has
 * not taken an item.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* affinity.h: sched_getcpu, pthread_attr_setaffinity_np */
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "affinity.h"
#include "team.h"

typedef struct team_ctl team_ctl;

typedef struct team_helper {
    team_ctl *ctl;
    int worker;
} team_helper;

struct team_ctl {
    nw_team_job job;
    atomic_size_t next;        /* the next item to take */
    atomic_size_t done;        /* items finished (or dropped by a failed begin) */
    atomic_int refs;           /* the call and the helpers still to let go */
    atomic_int failed;         /* a begin failed */
    nw_cpus cpus;              /* the caller's CPUs (affinity.h) */
    int pinned;                /* helpers start away from the caller's CPU */
    pthread_mutex_t lock;      /* with all_done: the caller's sleep */
    pthread_cond_t all_done;
    team_helper helper[];      /* threads - 1 */
};

static void ctl_release(team_ctl *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        pthread_cond_destroy(&c->all_done);
        pthread_mutex_destroy(&c->lock);
        free(c);
    }
}

/* Count k items finished; the one that completes the job wakes the caller. */
static void count_done(team_ctl *c, size_t k)
{
    size_t now = atomic_fetch_add_explicit(&c->done, k, memory_order_acq_rel) + k;
    if (now == c->job.items) {
        pthread_mutex_lock(&c->lock);
        pthread_cond_broadcast(&c->all_done);
        pthread_mutex_unlock(&c->lock);
    }
}

static size_t take(team_ctl *c)
{
    return atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
}

/* One worker's share: items until none is left.  After a failed begin the
 * worker drops the item it holds and every item still to take (counted,
 * not run), so that done reaches items whoever is left to work. */
static void work(team_ctl *c, int worker)
{
    const nw_team_job *job = &c->job;
    size_t item = take(c);
    if (item >= job->items) return;   /* nothing taken: ctx untouched */
    void *scratch = NULL;
    if (job->begin && job->begin(job->ctx, worker, &scratch) != 0) {
        atomic_store_explicit(&c->failed, 1, memory_order_relaxed);
        do count_done(c, 1);
        while ((item = take(c)) < job->items);
        return;
    }
    for (;;) {
        job->run(job->ctx, worker, scratch, item);
        size_t next = take(c);
        if (next >= job->items) break;
        count_done(c, 1);
        item = next;
    }
    if (job->end) job->end(job->ctx, worker, scratch);
    count_done(c, 1);                 /* the last item, after end() */
}

static void *helper_main(void *arg)
{
    team_helper *h = arg;
    team_ctl *c = h->ctl;
    nw_unpin_self(&c->cpus, c->pinned);
    work(c, h->worker);
    ctl_release(c);
    return NULL;
}

nw_status nw_team_run(const nw_team_job *job, int threads)
{
    if (!job || !job->run) return NW_ERR_ARG;
    if (job->items == 0) return NW_OK;
    if (threads > NW_TEAM_MAX) threads = NW_TEAM_MAX;
    if ((size_t) threads > job->items) threads = (int) job->items;
    if (threads < 1) threads = 1;
    const size_t nh = (size_t) threads - 1;
    team_ctl *c = malloc(sizeof *c + nh * sizeof(team_helper));
    if (!c) return NW_ERR_NOMEM;
    c->job = *job;
    atomic_init(&c->next, 0);
    atomic_init(&c->done, 0);
    atomic_init(&c->refs, 1);
    atomic_init(&c->failed, 0);
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NW_ERR_NOMEM;
    }
    if (pthread_cond_init(&c->all_done, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NW_ERR_NOMEM;
    }
    if (nh > 0) {
        pthread_attr_t attr;
        int attr_ok = pthread_attr_init(&attr) == 0 &&
                      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0;
        c->pinned = attr_ok && nw_attr_away_from_caller(&attr, &c->cpus);
        for (size_t k = 0; attr_ok && k < nh; k++) {
            c->helper[k].ctl = c;
            c->helper[k].worker = (int) k + 1;
            atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
            pthread_t tid;
            if (pthread_create(&tid, &attr, helper_main, &c->helper[k]) != 0) {
                atomic_fetch_sub_explicit(&c->refs, 1, memory_order_relaxed);
                break;   /* fewer helpers: the caller does their share */
            }
        }
        if (attr_ok) pthread_attr_destroy(&attr);
    }
    work(c, 0);
    if (atomic_load_explicit(&c->done, memory_order_acquire) != job->items) {
        pthread_mutex_lock(&c->lock);
        while (atomic_load_explicit(&c->done, memory_order_acquire) != job->items)
            pthread_cond_wait(&c->all_done, &c->lock);
        pthread_mutex_unlock(&c->lock);
    }
    nw_status st = atomic_load_explicit(&c->failed, memory_order_relaxed) ? NW_ERR_NOMEM : NW_OK;
    ctl_release(c);
    return st;
}
