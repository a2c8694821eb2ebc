/*
 * csv.c — comma-separated numbers.
 *
 * Reading: lines come from getline() (buffered, any length); "\n" or "\r\n"
 * endings; a UTF-8 byte-order mark is skipped; fields are split on ',' with
 * RFC 4180 double quotes honoured ("a,b" and "" inside quotes), surrounding
 * whitespace dropped; numbers go through strtod and must use the whole
 * field. The first row is a header when asked (csv_header 1), never
 * (0), or (auto, -1) when none of its fields looks like a number and at
 * least one is not empty. A field looks like a number when strtod takes all
 * of it ("1.5", "nan", "-inf", "0x10"), or when it starts like one: a
 * digit, after an optional sign and an optional '.' ("2 3", "1.5.3",
 * "1st"). So a first row that holds a single number is data, never a
 * dropped header: "1,2 3" is row 1 with a bad field (column 2), not a
 * header. Leading UTF-8 byte-order marks (one, or several from a file
 * converted twice) are skipped. ntk_io_read_info tells the caller whether
 * a header was skipped, and its names. Rows and columns in messages are
 * the 1-based line number in the file and field position in the line.
 * Only the selected columns need to be numbers, so a label column can be
 * skipped with a selection. Parsing and printing use the "C" locale (a
 * per-thread uselocale), so a program that called setlocale() still reads
 * "1.5" and writes "1.5".
 */
#include "io/io_internal.h"

#include <errno.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ C locale */

typedef struct {
    locale_t c, old;
} c_locale;

static void c_locale_push(c_locale *l)
{
    l->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (l->c) l->old = uselocale(l->c); /* without it: the caller's locale */
}

static void c_locale_pop(c_locale *l)
{
    if (l->c) {
        uselocale(l->old);
        freelocale(l->c);
    }
}

/* ------------------------------------------------------------ reading */

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

typedef struct {
    char **v;
    size_t n, cap;
} field_list;

static int fields_push(field_list *fl, char *s)
{
    if (fl->n == fl->cap) {
        size_t nc = fl->cap ? 2 * fl->cap : 64, bytes;
        char **t = ntk_mul_size(nc, 1, sizeof *t, &bytes) ? NULL : realloc(fl->v, bytes);
        if (!t) return -1;
        fl->v = t;
        fl->cap = nc;
    }
    fl->v[fl->n++] = s;
    return 0;
}

/* Splits a NUL-terminated line into fields, in place. */
static ntk_status split_fields(char *line, field_list *fl, const char *path, size_t row,
                               ntk_error *err)
{
    char *p = line;
    fl->n = 0;
    for (;;) {
        char *start, sep;
        while (is_space((unsigned char)*p)) p++;
        if (*p == '"') {
            char *w = start = ++p;
            for (;;) {
                if (*p == '\0')
                    return ntk_fail(err, NTK_E_FORMAT, "%s: row %zu, column %zu: unterminated quote",
                                    path, row, fl->n + 1);
                if (*p == '"') {
                    if (p[1] != '"') break;
                    p++; /* "" is a quote */
                }
                *w++ = *p++;
            }
            p++; /* closing quote */
            while (is_space((unsigned char)*p)) p++;
            if (*p != ',' && *p != '\0')
                return ntk_fail(err, NTK_E_FORMAT,
                                "%s: row %zu, column %zu: text after the closing quote", path, row,
                                fl->n + 1);
            sep = *p;
            *w = '\0'; /* w < p: the separator is already read */
        } else {
            start = p;
            while (*p != ',' && *p != '\0') p++;
            char *e = p;
            while (e > start && is_space((unsigned char)e[-1])) e--;
            sep = *p;
            *e = '\0';
        }
        if (fields_push(fl, start))
            return ntk_fail(err, NTK_E_NOMEM, "%s: row %zu: out of memory", path, row);
        if (sep == '\0') return NTK_OK;
        p++;
    }
}

static int parse_number(const char *s, double *v)
{
    if (!*s) return 0;
    char *end;
    *v = strtod(s, &end); /* ERANGE is fine: 1e999 is inf, checked elsewhere */
    return end != s && *end == '\0';
}

/* Whether a field is, or starts like, a number (the auto header rule). */
static int looks_numeric(const char *s)
{
    double v;
    if (parse_number(s, &v)) return 1;
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') s++;
    return *s >= '0' && *s <= '9';
}

/* why: 0, or the 1-based column of a numeric field that made an automatic
 * first row data (the message then says why the row was not a header). */
static ntk_status not_a_number(const char *path, size_t row, size_t col, const char *s,
                               size_t why, ntk_error *err)
{
    char because[96] = "";
    if (why)
        snprintf(because, sizeof because, " (the first row is data, not a header: column %zu looks "
                 "numeric)", why);
    if (!*s)
        return ntk_fail(err, NTK_E_FORMAT, "%s: row %zu, column %zu: empty field%s", path, row, col, because);
    char sb[4 * 40 + 4];
    return ntk_fail(err, NTK_E_FORMAT, "%s: row %zu, column %zu: '%s' is not a number%s", path, row, col,
                    ntk_shown(s, strlen(s), 40, sb), because);
}

/* Decides whether the first row (split in fl) is a header; *why gets the
 * column of the first numeric-looking field when auto mode finds none. */
static int is_header(const field_list *fl, int mode, size_t *why)
{
    *why = 0;
    if (mode >= 0) return mode;
    int text = 0;
    for (size_t j = 0; j < fl->n; j++) {
        if (looks_numeric(fl->v[j])) {
            *why = j + 1;
            return 0;
        }
        text |= *fl->v[j] != '\0';
    }
    return text;
}

/* The header's names for ntk_read_info: comma separated, cut with "...". */
static void header_text(const field_list *fl, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < fl->n; j++) {
        char sb[4 * 40 + 4]; /* control characters shown as \xNN: the note stays one line */
        const char *v = ntk_shown(fl->v[j], strlen(fl->v[j]), 40, sb);
        size_t len = strlen(v);
        if (k + len + (j ? 1 : 0) + 4 >= n) {
            snprintf(buf + k, n - k, "%s...", j ? "," : "");
            return;
        }
        k += (size_t)snprintf(buf + k, n - k, "%s%s", j ? "," : "", v);
    }
}

typedef struct {
    FILE *f;
    char *line;
    size_t cap;
    field_list fl;
    char **names; /* header names, or NULL */
    size_t nnames;
    size_t *sel, nsel;
    double *vals;
    size_t nvals, capvals;
} csv_state;

static void csv_state_free(csv_state *s)
{
    if (s->f) fclose(s->f);
    free(s->line);
    free(s->fl.v);
    if (s->names)
        for (size_t j = 0; j < s->nnames; j++) free(s->names[j]);
    free(s->names);
    free(s->sel);
    free(s->vals);
}

static ntk_status save_names(csv_state *s, const char *path, ntk_error *err)
{
    s->names = calloc(s->fl.n, sizeof *s->names);
    if (!s->names) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    s->nnames = s->fl.n;
    for (size_t j = 0; j < s->fl.n; j++) {
        size_t n = strlen(s->fl.v[j]) + 1;
        s->names[j] = malloc(n);
        if (!s->names[j]) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
        memcpy(s->names[j], s->fl.v[j], n);
    }
    return NTK_OK;
}

static ntk_status csv_read_rows(csv_state *s, const char *path, const ntk_read_opts *opts,
                                ntk_matrix *out, ntk_read_info *info, ntk_error *err)
{
    size_t row = 0, rows = 0, blank = 0, nfields = 0, why = 0, seen = 0; /* seen: data rows so far */
    int have_first = 0;
    ntk_status st;
    for (;;) {
        errno = 0;
        ssize_t len = getline(&s->line, &s->cap, s->f);
        if (len < 0) {
            if (ferror(s->f)) return ntk_io_errno(err, path, "read error", errno);
            if (errno == ENOMEM) return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
            break;
        }
        row++;
        char *line = s->line;
        if (memchr(line, '\0', (size_t)len))
            return ntk_fail(err, NTK_E_FORMAT, "%s: row %zu: NUL byte (not a text file?)", path,
                            row);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (row == 1) /* byte-order marks, possibly doubled by a second conversion */
            while (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
                line += 3;
                len -= 3;
            }

        const char *q = line;
        while (is_space((unsigned char)*q)) q++;
        if (!*q) { /* blank: fine at the end, an error before a data row */
            if (!blank) blank = row;
            continue;
        }
        if (blank) return ntk_fail(err, NTK_E_FORMAT, "%s: row %zu: blank line", path, blank);

        if ((st = split_fields(line, &s->fl, path, row, err))) return st;
        if (!have_first) {
            have_first = 1;
            nfields = s->fl.n;
            int header = is_header(&s->fl, opts->csv_header, &why);
            if (header && info) {
                info->csv_header = 1;
                info->csv_header_auto = opts->csv_header < 0;
                header_text(&s->fl, info->csv_names, sizeof info->csv_names);
            }
            if (header && (st = save_names(s, path, err))) return st;
            if ((st = ntk_io_select(path, opts->columns, s->names, nfields, &s->sel, &s->nsel, err)))
                return st;
            if (header) continue;
        }
        if (s->fl.n != nfields)
            return ntk_fail(err, NTK_E_FORMAT, "%s: row %zu: %zu field%s, expected %zu", path, row,
                            s->fl.n, s->fl.n == 1 ? "" : "s", nfields);
        if (seen++ < opts->first_row) continue; /* before the row range: counted, not parsed */
        if (s->nvals + s->nsel > s->capvals) {
            size_t need = s->nvals + s->nsel, bytes; /* both are bounded by memory */
            size_t nc = s->capvals < SIZE_MAX / 2 ? 2 * s->capvals : SIZE_MAX;
            if (nc < 1024) nc = 1024;
            if (nc < need) nc = need;
            double *t = ntk_mul_size(nc, 1, sizeof *t, &bytes) ? NULL : realloc(s->vals, bytes);
            if (!t) return ntk_fail(err, NTK_E_NOMEM, "%s: row %zu: out of memory", path, row);
            s->vals = t;
            s->capvals = nc;
        }
        for (size_t k = 0; k < s->nsel; k++) {
            const char *fld = s->fl.v[s->sel[k]];
            if (!parse_number(fld, &s->vals[s->nvals + k]))
                return not_a_number(path, row, s->sel[k] + 1, fld, seen == 1 ? why : 0, err);
        }
        s->nvals += s->nsel;
        rows++;
        if (opts->max_rows && rows == opts->max_rows) break; /* the rest is not read */
    }
    if (rows == 0 && seen) return ntk_io_rows_error(err, path, seen, opts->first_row);
    if (rows == 0) return ntk_fail(err, NTK_E_FORMAT, "%s has no data rows", path);
    if (s->nsel == 0) /* only possible with a selection of nothing, which is an error */
        return ntk_fail(err, NTK_E_INTERNAL, "%s: no columns selected", path);
    double *shrunk = realloc(s->vals, s->nvals * sizeof *shrunk);
    out->data = shrunk ? shrunk : s->vals;
    s->vals = NULL;
    out->rows = rows;
    out->cols = s->nsel;
    out->ndim = 2;
    return NTK_OK;
}

ntk_status ntk_csv_read(const char *path, const ntk_read_opts *opts, ntk_matrix *out,
                        ntk_read_info *info, ntk_error *err)
{
    csv_state s = {0};
    s.f = fopen(path, "rb");
    if (!s.f) return ntk_io_errno(err, path, "cannot open", errno);
    c_locale loc;
    c_locale_push(&loc);
    ntk_status st = csv_read_rows(&s, path, opts, out, info, err);
    c_locale_pop(&loc);
    csv_state_free(&s);
    return st;
}

/* ------------------------------------------------------------ writing */

ntk_status ntk_csv_write(FILE *f, const char *path, const double *data, size_t rows,
                         size_t cols, int ndim, ntk_error *err)
{
    (void)ndim; /* a 1-D array is rows x 1: one value per line either way */
    c_locale loc;
    c_locale_push(&loc);
    ntk_status st = NTK_OK;
    for (size_t i = 0; i < rows && st == NTK_OK; i++) {
        errno = 0;
        for (size_t j = 0; j < cols; j++)
            if (fprintf(f, j ? ",%.17g" : "%.17g", data[i * cols + j]) < 0) break;
        if (putc('\n', f) == EOF || ferror(f)) st = ntk_io_errno(err, path, "write failed", errno);
    }
    c_locale_pop(&loc);
    return st;
}
