/*
 * core.c — the version, status strings, error messages, owned matrices,
 * finiteness checks.
 */
#include "core/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ntk_version(void)
{
    return NTK_VERSION_STRING;
}

const char *ntk_status_string(ntk_status s)
{
    switch (s) {
    case NTK_OK: return "ok";
    case NTK_E_INVAL: return "invalid argument";
    case NTK_E_NOMEM: return "out of memory";
    case NTK_E_IO: return "I/O error";
    case NTK_E_FORMAT: return "malformed input";
    case NTK_E_SPEC: return "bad architecture spec";
    case NTK_E_SHAPE: return "shape mismatch";
    case NTK_E_NUMERIC: return "numerical error";
    case NTK_E_INTERNAL: return "internal error";
    case NTK_E_CANCELED: return "canceled";
    }
    return "unknown status";
}

ntk_status ntk_fail(ntk_error *err, ntk_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

void ntk_error_clear(ntk_error *err)
{
    if (err) {
        err->status = NTK_OK;
        err->msg[0] = '\0';
    }
}

int ntk_mul_size(size_t a, size_t b, size_t size, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    size_t ab = a * b;
    if (size != 0 && ab > SIZE_MAX / size) return -1;
    *out = ab * size;
    return 0;
}

ntk_status ntk_matrix_alloc(ntk_matrix *m, size_t rows, size_t cols, ntk_error *err)
{
    size_t bytes;
    m->data = NULL;
    m->rows = m->cols = 0;
    m->ndim = 2;
    if (ntk_mul_size(rows, cols, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_NOMEM, "matrix of %zu x %zu is too large", rows, cols);
    m->data = calloc(bytes ? bytes / sizeof(double) : 1, sizeof(double));
    if (!m->data)
        return ntk_fail(err, NTK_E_NOMEM, "out of memory allocating a %zu x %zu matrix", rows, cols);
    m->rows = rows;
    m->cols = cols;
    return NTK_OK;
}

void ntk_matrix_free(ntk_matrix *m)
{
    if (!m) return;
    free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}

ntk_status ntk_check_finite(const double *a, size_t rows, size_t cols,
                            const char *what, ntk_error *err)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            if (!isfinite(a[i * cols + j]))
                return ntk_fail(err, NTK_E_NUMERIC, "%s: row %zu, column %zu: %g is not finite",
                                what, i + 1, j + 1, a[i * cols + j]);
    return NTK_OK;
}
