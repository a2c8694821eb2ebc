/*
 * io.c — ntk_io_read / ntk_io_write: choose the format by name (.npy, .csv,
 * IDX), apply a column selection and a row limit, and write through an
 * output set (outputs.c), so that `path` holds either its old content or
 * the complete new one, never a partial file.
 */
#include "io/io_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ntk_read_opts ntk_read_opts_default(void)
{
    ntk_read_opts o = {-1, NULL, 0, 0};
    return o;
}

ntk_status ntk_io_rows_error(ntk_error *err, const char *path, size_t rows, size_t first)
{
    return ntk_fail(err, NTK_E_SHAPE, "%s: has %zu row%s, so none from row %zu on (rows are counted from 0)", path,
                    rows, rows == 1 ? "" : "s", first);
}

ntk_status ntk_io_errno(ntk_error *err, const char *path, const char *what, int errnum)
{
    return ntk_fail(err, NTK_E_IO, "%s: %s: %s", path, what,
                    errnum ? strerror(errnum) : "unknown error");
}

typedef enum { FMT_UNKNOWN, FMT_NPY, FMT_CSV, FMT_IDX } io_format;

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return 0;
    }
    return *a == *b;
}

/* Whether base[0..n) ends with `suffix`, ignoring ASCII case. */
static int ends_with(const char *base, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++) {
        int x = (unsigned char)base[n - m + i], y = (unsigned char)suffix[i];
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (x != y) return 0;
    }
    return 1;
}

/* IDX names, optionally gzip'd: "*.idx", "*-idxN-ubyte" and "*.idxN-ubyte"
 * (MNIST's names, N a digit). */
static int is_idx_name(const char *base)
{
    size_t n = strlen(base);
    if (ends_with(base, n, ".gz")) n -= 3;
    if (ends_with(base, n, ".idx")) return n > 4;
    if (n < 11 || !ends_with(base, n, "-ubyte")) return 0;
    const char *s = base + n - 11; /* "-idxN-ubyte" */
    return (s[0] == '-' || s[0] == '.') && ends_with(s + 1, 3, "idx") && s[4] >= '0' && s[4] <= '9';
}

static io_format format_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (is_idx_name(base)) return FMT_IDX;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return FMT_UNKNOWN; /* ".npy" is a name, as in Python */
    if (ascii_ieq(dot + 1, "npy")) return FMT_NPY;
    if (ascii_ieq(dot + 1, "csv")) return FMT_CSV;
    return FMT_UNKNOWN;
}

static ntk_status unknown_format(const char *path, ntk_error *err)
{
    return ntk_fail(err, NTK_E_INVAL, "%s: unknown file format (use .npy or .csv)", path);
}

/* ------------------------------------------------------------ column selection */

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Digits only; saturates at SIZE_MAX (an index that large is out of range). */
static int parse_index(const char *s, const char *e, size_t *v)
{
    if (s == e) return -1;
    size_t x = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9') return -1;
        size_t d = (size_t)(*s - '0');
        x = x > (SIZE_MAX - d) / 10 ? SIZE_MAX : x * 10 + d;
    }
    *v = x;
    return 0;
}

ntk_status ntk_io_select(const char *path, const char *spec, char *const *names, size_t ncols,
                         size_t **idx, size_t *nidx, ntk_error *err)
{
    size_t *v = NULL, n = 0, cap = 0;
    *idx = NULL;
    *nidx = 0;
    if (!spec) { /* all columns */
        if (ncols) {
            v = malloc(ncols * sizeof *v);
            if (!v) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
        }
        for (size_t j = 0; j < ncols; j++) v[j] = j;
        *idx = v;
        *nidx = ncols;
        return NTK_OK;
    }
#define SEL_FAIL(...)                                   \
    do {                                                \
        free(v);                                        \
        return ntk_fail(err, NTK_E_INVAL, __VA_ARGS__); \
    } while (0)

    const char *p = spec;
    for (;;) {
        const char *s = p, *e;
        while (*p && *p != ',') p++;
        e = p;
        while (s < e && is_space((unsigned char)*s)) s++;
        while (e > s && is_space((unsigned char)e[-1])) e--;
        int item = (int)(e - s);
        if (s == e) SEL_FAIL("%s: column selection '%s': empty item", path, spec);

        size_t lo, hi;
        const char *dash = memchr(s, '-', (size_t)(e - s)), *a = dash, *b = dash;
        if (dash) {
            while (a > s && is_space((unsigned char)a[-1])) a--;
            for (b = dash + 1; b < e && is_space((unsigned char)*b); b++) {}
        }
        if (parse_index(s, e, &lo) == 0) {
            hi = lo;
        } else if (dash && parse_index(s, a, &lo) == 0 && parse_index(b, e, &hi) == 0) {
            if (lo > hi)
                SEL_FAIL("%s: column selection '%s': range %.*s is reversed", path, spec, item, s);
        } else if (s + strspn(s, "0123456789- \t") >= e) { /* "-3", "3-", "1-2-3" */
            SEL_FAIL("%s: column selection '%s': '%.*s' is not a column number or range (like "
                     "3 or 3-7)", path, spec, item, s);
        } else { /* a header name */
            if (!names)
                SEL_FAIL("%s: column selection '%s': '%.*s' is a column name, but the file has "
                         "no header row", path, spec, item, s);
            size_t found = SIZE_MAX;
            for (size_t j = 0; j < ncols; j++) {
                if (strlen(names[j]) != (size_t)item || memcmp(names[j], s, (size_t)item)) continue;
                if (found != SIZE_MAX)
                    SEL_FAIL("%s: column selection '%s': column name '%.*s' is ambiguous "
                             "(columns %zu and %zu)", path, spec, item, s, found + 1, j + 1);
                found = j;
            }
            if (found == SIZE_MAX)
                SEL_FAIL("%s: column selection '%s': no column named '%.*s'", path, spec, item, s);
            lo = hi = found + 1;
        }
        if (lo == 0)
            SEL_FAIL("%s: column selection '%s': column 0 does not exist (columns are numbered "
                     "from 1)", path, spec);
        if (hi > ncols)
            SEL_FAIL("%s: column selection '%s': column %zu is out of range (the file has %zu "
                     "column%s)", path, spec, hi, ncols, ncols == 1 ? "" : "s");
        for (size_t j = lo; j <= hi; j++) {
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 16, bytes;
                size_t *t = ntk_mul_size(nc, 1, sizeof *t, &bytes) ? NULL : realloc(v, bytes);
                if (!t) SEL_FAIL("%s: out of memory for the column selection", path);
                v = t;
                cap = nc;
            }
            v[n++] = j - 1;
        }
        if (!*p) break;
        p++;
    }
#undef SEL_FAIL
    *idx = v;
    *nidx = n;
    return NTK_OK;
}

/* Keeps the selected columns of m (for .npy, which has no names). */
static ntk_status select_npy(const char *path, const char *spec, ntk_matrix *m, ntk_error *err)
{
    size_t *idx, n;
    ntk_status st = ntk_io_select(path, spec, NULL, m->cols, &idx, &n, err);
    if (st) return st;
    size_t bytes;
    double *d = ntk_mul_size(m->rows, n, sizeof *d, &bytes) ? NULL : malloc(bytes);
    if (!d) {
        free(idx);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory for the selected columns", path);
    }
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < n; j++) d[i * n + j] = m->data[i * m->cols + idx[j]];
    free(idx);
    free(m->data);
    m->data = d;
    if (n != 1) m->ndim = 2;
    m->cols = n;
    return NTK_OK;
}

ntk_status ntk_io_read(const char *path, const ntk_read_opts *opts, ntk_matrix *out,
                       ntk_error *err)
{
    return ntk_io_read_info(path, opts, out, NULL, err);
}

ntk_status ntk_io_read_info(const char *path, const ntk_read_opts *opts, ntk_matrix *out,
                            ntk_read_info *info, ntk_error *err)
{
    if (info) memset(info, 0, sizeof *info);
    if (out) {
        out->data = NULL;
        out->rows = out->cols = 0;
        out->ndim = 0;
    }
    if (!path || !out)
        return ntk_fail(err, NTK_E_INVAL, "ntk_io_read: path and out must not be NULL");
    ntk_read_opts def = ntk_read_opts_default();
    if (!opts) opts = &def;
    if (opts->csv_header < -1 || opts->csv_header > 1)
        return ntk_fail(err, NTK_E_INVAL,
                        "%s: csv_header must be -1 (auto), 0 (none) or 1 (present), not %d", path,
                        opts->csv_header);
    ntk_status st;
    switch (format_of(path)) {
    case FMT_NPY:
        st = ntk_npy_read_rows(path, opts->first_row, opts->max_rows, out, err);
        if (st == NTK_OK && opts->columns) st = select_npy(path, opts->columns, out, err);
        break;
    case FMT_CSV: st = ntk_csv_read(path, opts, out, info, err); break;
    case FMT_IDX:
        st = ntk_idx_read_rows(path, opts->first_row, opts->max_rows, out, err);
        if (st == NTK_OK && opts->columns) st = select_npy(path, opts->columns, out, err);
        break;
    default: return unknown_format(path, err);
    }
    if (st == NTK_OK && opts->max_rows && out->rows > opts->max_rows) {
        /* the readers stop at max_rows already; kept as a guard */
        double *d = realloc(out->data, opts->max_rows * out->cols * sizeof *d);
        if (d) out->data = d; /* a failed shrink keeps the larger block */
        out->rows = opts->max_rows;
    }
    if (st) {
        free(out->data);
        out->data = NULL;
        out->rows = out->cols = 0;
        out->ndim = 0;
        if (info) memset(info, 0, sizeof *info);
    }
    return st;
}

/* ------------------------------------------------------------ writing */

typedef struct {
    io_format fmt;
    const double *data;
    size_t rows, cols;
    int ndim;
} matrix_emit;

static ntk_status emit_matrix(FILE *f, const char *path, const void *ctx, ntk_error *err)
{
    const matrix_emit *m = ctx;
    return m->fmt == FMT_NPY ? ntk_npy_write(f, path, m->data, m->rows, m->cols, m->ndim, err)
                             : ntk_csv_write(f, path, m->data, m->rows, m->cols, m->ndim, err);
}

/* Checks the arguments of a matrix write; fills *m. */
static ntk_status matrix_args(const char *path, const double *data, size_t rows, size_t cols, int ndim,
                              matrix_emit *m, ntk_error *err)
{
    if (!path) return ntk_fail(err, NTK_E_INVAL, "ntk_io_write: path must not be NULL");
    io_format fmt = format_of(path);
    if (fmt == FMT_UNKNOWN) return unknown_format(path, err);
    if (fmt == FMT_IDX)
        return ntk_fail(err, NTK_E_INVAL, "%s: IDX files are read, not written (use .npy or .csv)", path);
    if (ndim != 1 && ndim != 2)
        return ntk_fail(err, NTK_E_INVAL, "%s: ndim must be 1 or 2, not %d", path, ndim);
    if (ndim == 1 && cols != 1)
        return ntk_fail(err, NTK_E_INVAL, "%s: a 1-D array has 1 column, not %zu", path, cols);
    size_t bytes;
    if (ntk_mul_size(rows, cols, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_INVAL, "%s: a %zu x %zu matrix is too large", path, rows, cols);
    if (!data && bytes)
        return ntk_fail(err, NTK_E_INVAL, "%s: data must not be NULL", path);
    matrix_emit e = {fmt, data, rows, cols, ndim};
    *m = e;
    return NTK_OK;
}

ntk_status ntk_io_write(const char *path, const double *data, size_t rows, size_t cols,
                        int ndim, ntk_error *err)
{
    matrix_emit m;
    ntk_status st = matrix_args(path, data, rows, cols, ndim, &m, err);
    return st ? st : ntk_io_write_atomic(path, emit_matrix, &m, err);
}

ntk_status ntk_outputs_write_matrix(ntk_outputs *o, const char *path, const double *data, size_t rows,
                                    size_t cols, int ndim, ntk_error *err)
{
    matrix_emit m;
    ntk_status st = matrix_args(path, data, rows, cols, ndim, &m, err);
    if (st) {
        ntk_outputs_fail(o);
        return st;
    }
    return ntk_outputs_write(o, path, emit_matrix, &m, err);
}
