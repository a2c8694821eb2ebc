/*
 * progress.c — the library side of progress reporting (ntk_progress in
 * ntk.h; helpers declared in core/internal.h): counting finished work in
 * parallel loops and reporting it from the calling thread only, mapping a
 * sub-computation onto a part of a stage, and the error of a canceled call.
 *
 * Why thread 0: the callback belongs to the caller (it may print, read a
 * signal flag, touch the caller's data without locks), so it must never run
 * on a worker. In an OpenMP parallel region thread 0 is the thread that
 * encountered it, i.e. the caller; outside a region the caller is thread 0
 * too. Workers only add to an atomic counter, which changes no result.
 */
#include "core/internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

ntk_status ntk_canceled(ntk_error *err, const char *stage)
{
    return ntk_fail(err, NTK_E_CANCELED, "canceled by the progress callback (stage: %s)", stage ? stage : "?");
}

static int on_caller_thread(void)
{
#ifdef _OPENMP
    return omp_get_thread_num() == 0;
#else
    return 1;
#endif
}

int ntk_pp_start(ntk_par_progress *pp, const ntk_progress *p, const char *stage, double total)
{
    pp->p = p && p->fn ? p : NULL;
    pp->stage = stage;
    pp->total = total;
    pp->done = 0;
    pp->stop = 0;
    if (pp->p && ntk_progress_report(pp->p, stage, 0, total)) pp->stop = 1;
    return pp->stop;
}

int ntk_pp_stopped(ntk_par_progress *pp)
{
    if (!pp || !pp->p) return 0;
    int s;
#pragma omp atomic read
    s = pp->stop;
    return s;
}

int ntk_pp_add(ntk_par_progress *pp, double units)
{
    if (!pp || !pp->p) return 0;
    double d;
#pragma omp atomic capture
    {
        pp->done += units;
        d = pp->done;
    }
    if (on_caller_thread() && !ntk_pp_stopped(pp)) {
        /* sums of whole units are exact below 2^53; clip in case a count
         * beyond that rounded up */
        if (ntk_progress_report(pp->p, pp->stage, d < pp->total ? d : pp->total, pp->total)) {
#pragma omp atomic write
            pp->stop = 1;
        }
    }
    return ntk_pp_stopped(pp);
}

int ntk_pp_finish(ntk_par_progress *pp)
{
    if (!pp->p) return 0;
    if (!pp->stop && ntk_progress_report(pp->p, pp->stage, pp->total, pp->total)) pp->stop = 1;
    return pp->stop;
}

static int sub_report(void *ctx, const char *stage, double done, double total)
{
    (void)stage;
    ntk_subprogress *sp = ctx;
    double f = total > 0 ? done / total : 0;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    double v = sp->base + sp->span * f;
    if (v < sp->last) v = sp->last; /* a sub-stage that restarts never moves the parent back */
    if (v > sp->total) v = sp->total;
    sp->last = v;
    return ntk_progress_report(sp->parent, sp->stage, v, sp->total);
}

ntk_progress ntk_subprogress_bind(ntk_subprogress *sp, const ntk_progress *parent, const char *stage, double base,
                                  double span, double total)
{
    ntk_progress none = {NULL, NULL};
    if (!parent || !parent->fn) return none;
    sp->parent = parent;
    sp->stage = stage;
    sp->base = base;
    sp->span = span;
    sp->total = total;
    sp->last = base;
    ntk_progress p = {sub_report, sp};
    return p;
}
