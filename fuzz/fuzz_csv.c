/*
 * fuzz_csv.c — the .csv reader (ntk_io_read on "x.csv").
 *
 * The input is the file. It is read three times, with csv_header auto,
 * no and yes, and then with a column selection and row limit derived from
 * the input: a selection by the name of the first header field, or by
 * numbers and ranges. Checked on every input:
 *   - a refusal has a one-line message naming the file;
 *   - auto reads exactly what "no" or "yes" reads;
 *   - when "no" and "yes" both read, "yes" is "no" without its first row;
 *   - an accepted matrix written by ntk_io_write as .csv and read back
 *     has the same values (NaN as NaN of the same sign), and as .npy the
 *     same bits;
 *   - a selection by numbers reads the matching columns of the full read,
 *     and a row limit its first rows.
 */
#include "fuzz_common.h"

#include <string.h>

static ntk_status read_csv(const char *path, int header, const char *columns, size_t max_rows, ntk_matrix *m,
                           ntk_error *err)
{
    ntk_read_opts o = ntk_read_opts_default();
    o.csv_header = header;
    o.columns = columns;
    o.max_rows = max_rows;
    ntk_status st = ntk_io_read(path, &o, m, err);
    if (st != NTK_OK) {
        FZ_CHECK(!m->data, "a failed read left data");
        FZ_CHECK(!strncmp(err->msg, path, strlen(path)) && fz_one_line(err->msg), "message '%s'", err->msg);
    } else {
        FZ_CHECK(m->rows >= 1 && m->cols >= 1 && m->ndim == 2, "%zu x %zu, ndim %d", m->rows, m->cols, m->ndim);
    }
    return st;
}

static void check_round_trip(const ntk_matrix *m)
{
    ntk_error err;
    ntk_matrix b = {0};
    const char *csv = fz_path("out.csv"), *npy = fz_path("out.npy");
    FZ_CHECK(ntk_io_write(csv, m->data, m->rows, m->cols, 2, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(read_csv(csv, 0, NULL, 0, &b, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(fz_same_values(m, &b), "a %zu x %zu matrix differs after writing and reading it", m->rows, m->cols);
    ntk_matrix_free(&b);
    FZ_CHECK(ntk_io_write(npy, m->data, m->rows, m->cols, 2, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(ntk_io_read(npy, NULL, &b, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(fz_same_matrix(m, &b), "a %zu x %zu matrix differs after a .npy round trip", m->rows, m->cols);
    ntk_matrix_free(&b);
}

/* Row i of a, rows from `from`. */
static int same_rows(const ntk_matrix *a, const ntk_matrix *b, size_t from)
{
    return a->cols == b->cols && a->rows == b->rows - from &&
           !memcmp(a->data, b->data + from * b->cols, a->rows * a->cols * sizeof(double));
}

/* The name in the first field of the input, as a header would give it
 * (unquoted, trimmed), up to a control character: a selection comes from
 * the command line, and messages repeat it. */
static void first_name(const uint8_t *data, size_t size, char *buf, size_t n)
{
    size_t i = 0, k = 0;
    if (size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) i = 3;
    while (i < size && (data[i] == ' ' || data[i] == '\t')) i++;
    while (i < size && k + 1 < n && data[i] != ',' && data[i] != '"' && data[i] >= 0x20 && data[i] != 0x7f)
        buf[k++] = (char)data[i++];
    while (k && (buf[k - 1] == ' ' || buf[k - 1] == '\t')) k--;
    buf[k] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path("in.csv");
    fz_write(path, data, size);
    ntk_error err;
    ntk_matrix ma = {0}, mn = {0}, my = {0};
    ntk_status sa = read_csv(path, -1, NULL, 0, &ma, &err);
    ntk_status sn = read_csv(path, 0, NULL, 0, &mn, &err);
    ntk_status sy = read_csv(path, 1, NULL, 0, &my, &err);
    if (sa == NTK_OK) {
        FZ_CHECK((sn == NTK_OK && fz_same_matrix(&ma, &mn)) || (sy == NTK_OK && fz_same_matrix(&ma, &my)),
                 "auto read %zu x %zu, which neither header=no (%d) nor header=yes (%d) gives", ma.rows, ma.cols,
                 (int)sn, (int)sy);
        check_round_trip(&ma);
    }
    if (sn == NTK_OK && sy == NTK_OK)
        FZ_CHECK(same_rows(&my, &mn, 1), "header=yes: %zu x %zu, header=no: %zu x %zu", my.rows, my.cols, mn.rows,
                 mn.cols);

    /* a selection: by the first header name, or by numbers over the
     * columns of a successful read */
    uint64_t h = fz_hash(data, size);
    int header = (int)(h % 3) - 1;
    size_t max_rows = (h >> 2) % 4;
    const ntk_matrix *full = header < 0 ? (sa ? NULL : &ma) : header == 0 ? (sn ? NULL : &mn) : (sy ? NULL : &my);
    char spec[80];
    size_t idx[12], nsel = 0;
    if ((h >> 4) % 4 == 0 || !full) {
        first_name(data, size, spec, sizeof spec);
        if (!spec[0]) snprintf(spec, sizeof spec, "%u", (unsigned)(h >> 8) % 5);
    } else {
        size_t items = 1 + (h >> 6) % 3, len = 0;
        uint64_t g = h >> 8;
        spec[0] = '\0';
        for (size_t i = 0; i < items; i++) {
            size_t a = g % full->cols, b = a + (g >> 8) % 3;
            g >>= 12;
            if (b >= full->cols) b = a;
            len += (size_t)snprintf(spec + len, sizeof spec - len, a == b ? "%s%zu" : "%s %zu - %zu", i ? "," : "",
                                    a + 1, b + 1);
            for (size_t j = a; j <= b; j++) idx[nsel++] = j;
        }
    }
    ntk_matrix s = {0};
    ntk_status ss = read_csv(path, header, spec, max_rows, &s, &err);
    if (nsel) {
        FZ_CHECK(ss == NTK_OK, "columns '%s' of a file read whole: %s", spec, err.msg);
        size_t rows = max_rows && max_rows < full->rows ? max_rows : full->rows;
        FZ_CHECK(s.rows == rows && s.cols == nsel, "columns '%s', max_rows %zu: %zu x %zu", spec, max_rows, s.rows,
                 s.cols);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < nsel; j++)
                FZ_CHECK(!memcmp(&s.data[i * nsel + j], &full->data[i * full->cols + idx[j]], sizeof(double)),
                         "columns '%s': entry %zu,%zu", spec, i, j);
    }
    ntk_matrix_free(&s);
    ntk_matrix_free(&ma);
    ntk_matrix_free(&mn);
    ntk_matrix_free(&my);
    return 0;
}
