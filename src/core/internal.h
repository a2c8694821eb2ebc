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

#endif
