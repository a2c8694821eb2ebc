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

const char *ntk_shown(const char *s, size_t n, size_t max, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            buf[k++] = '\\';
            buf[k++] = 'x';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        } else {
            buf[k++] = (char)c;
        }
    }
    if (n > max) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
    return buf;
}

/* Formatted into a buffer of its own first: an argument may be err->msg
 * itself (a message prefixed with more context). Then every control
 * character (from a path, an argument, a file) is shown as \xNN: a
 * message is one printable line. */
ntk_status ntk_fail(ntk_error *err, ntk_status s, const char *fmt, ...)
{
    if (err) {
        char raw[NTK_ERRMSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        size_t len = n < 0 ? 0 : (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
        /* at most (NTK_ERRMSG_MAX - 4) / 4 bytes escape whole into msg */
        char shown[4 * NTK_ERRMSG_MAX + 4];
        ntk_shown(raw, len, len, shown);
        size_t m = strlen(shown);
        if (m >= sizeof err->msg) m = sizeof err->msg - 1;
        memcpy(err->msg, shown, m);
        err->msg[m] = '\0';
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
