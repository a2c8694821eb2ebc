/*
 * internal.h — helpers shared by libntk's modules (not installed).
 * Error reporting: ntk_fail() formats one line into an ntk_error and returns
 * the status, so call sites read `return ntk_fail(err, NTK_E_IO, "...")`.
 */
#ifndef NTK_INTERNAL_H
#define NTK_INTERNAL_H

#include "ntk.h"

#if defined(__GNUC__)
#define NTK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NTK_PRINTF(a, b)
#endif

/* Fills err (if not NULL) with status s and the formatted message; returns s. */
ntk_status ntk_fail(ntk_error *err, ntk_status s, const char *fmt, ...) NTK_PRINTF(3, 4);

/* Text from a file as a message shows it: at most max bytes of s[0..n),
 * control characters as \xNN (a message stays one printable line), "..."
 * when cut. buf holds 4*max + 4 bytes; returns buf. (ntk_fail escapes
 * control characters in every message too; this also bounds the length.) */
const char *ntk_shown(const char *s, size_t n, size_t max, char *buf);

/* Clears err to NTK_OK and an empty message. */
void ntk_error_clear(ntk_error *err);

/* Overflow-checked a*b*size; returns 0 and sets *out, or -1 on overflow. */
int ntk_mul_size(size_t a, size_t b, size_t size, size_t *out);

/* Reports progress (see ntk_progress in ntk.h); returns non-zero when the
 * callback asks to stop. Call only from the calling thread. */
static inline int ntk_progress_report(const ntk_progress *p, const char *stage, double done, double total)
{
    return p && p->fn && p->fn(p->ctx, stage, done, total) != 0;
}

/* The error of a computation that a progress callback canceled:
 * NTK_E_CANCELED, "canceled by the progress callback (stage: <stage>)". */
ntk_status ntk_canceled(ntk_error *err, const char *stage);

/* Progress of a parallel loop (core.c). Workers add the units they finish
 * with ntk_pp_add; only thread 0 of the team (the thread that called the
 * library: it encounters the parallel region; outside a region, the caller
 * itself) calls the callback, with the running total; once the callback
 * asks to stop, ntk_pp_add and ntk_pp_stopped return 1 on every thread, and
 * workers skip their remaining items. Without a callback they return 0
 * at once (no atomics). Reporting reads the counter only, so it cannot
 * change what is computed. */
typedef struct {
    const ntk_progress *p; /* NULL or no fn: no reporting                 */
    const char *stage;
    double total;
    double done;           /* units finished, updated atomically           */
    int stop;              /* the callback asked to stop (atomic)          */
} ntk_par_progress;
/* Sets up pp and reports (stage, 0, total); non-zero when that canceled. */
int ntk_pp_start(ntk_par_progress *pp, const ntk_progress *p, const char *stage, double total);
/* Adds units finished by this thread; reports on thread 0. Returns 1 once
 * canceled. */
int ntk_pp_add(ntk_par_progress *pp, double units);
int ntk_pp_stopped(ntk_par_progress *pp);
/* After the loop: reports (total, total) unless already stopped; returns
 * non-zero when canceled (then or before). */
int ntk_pp_finish(ntk_par_progress *pp);

/* A progress for a sub-computation whose own (done, total) are mapped
 * linearly onto [base, base + span] of the parent's stage `stage` of
 * `total` units, never backwards (span 0: the sub-computation only gets
 * the parent's cancellation). Returns {NULL, NULL} when the parent has no
 * callback, so that the sub-computation pays nothing. sp must outlive the
 * sub-computation. */
typedef struct {
    const ntk_progress *parent;
    const char *stage;
    double base, span, total, last;
} ntk_subprogress;
ntk_progress ntk_subprogress_bind(ntk_subprogress *sp, const ntk_progress *parent, const char *stage, double base,
                                  double span, double total);

#endif
