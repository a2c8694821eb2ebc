/*
 * fuzz_npy.c — the .npy reader (ntk_io_read on "x.npy", and the in-memory
 * parser ntk_npy_parse_mem that .npz members go through).
 *
 * The input is the file. Checked on every input:
 *   - the file reader and the memory parser agree: same status, same
 *     message, same matrix bit for bit;
 *   - a refusal has a one-line message naming the file;
 *   - an accepted array has the shape the header's 'shape' tuple says
 *     (read here by a separate, minimal scan of the header text), and at
 *     least as many data bytes as that shape needs;
 *   - what was read, written by ntk_io_write (.npy) and read back, is the
 *     same bits; written as .csv and read back, the same values;
 *   - a column selection and a row limit derived from the input give the
 *     matching columns and first rows of the full read.
 */
#include "fuzz_common.h"
#include "io/io_internal.h"

#include <string.h>

/* The shape tuple of the header, scanned without the reader's parser:
 * the first "shape" in the header text (no other key or value can hold
 * it), then ':' '(' and integers. Returns the number of dimensions, or -1
 * when the scan does not find a tuple of at most 2 plain integers. */
static int scan_shape(const uint8_t *d, size_t n, size_t dims[2], size_t *data_off)
{
    if (n < 10) return -1;
    size_t pre = d[6] == 1 ? 10 : 12;
    if (n < pre) return -1;
    size_t hlen = d[6] == 1 ? (size_t)d[8] | (size_t)d[9] << 8
                            : (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
    if (hlen > n - pre) return -1;
    *data_off = pre + hlen;
    const uint8_t *h = d + pre, *e = h + hlen, *p = NULL;
    for (const uint8_t *q = h; q + 5 <= e; q++)
        if (!memcmp(q, "shape", 5)) {
            p = q + 5;
            break;
        }
    if (!p) return -1;
    while (p < e && *p != '(') p++;
    if (p == e) return -1;
    p++;
    int nd = 0;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < e && *p == ')') return nd;
        if (p == e || *p < '0' || *p > '9' || nd == 2) return -1;
        size_t v = 0;
        while (p < e && *p >= '0' && *p <= '9') {
            if (v > (SIZE_MAX - 9) / 10) return -1;
            v = v * 10 + (size_t)(*p++ - '0');
        }
        if (p < e && (*p == 'L' || *p == 'l')) p++;
        dims[nd++] = v;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < e && *p == ',') p++;
    }
}

/* A selection "i" / "i-j" items (1-based) drawn from h, over `cols`
 * columns; idx gets the 0-based columns it selects. */
static size_t make_selection(uint64_t h, size_t cols, char *spec, size_t n, size_t *idx)
{
    size_t items = 1 + h % 3, k = 0, len = 0;
    h /= 3;
    spec[0] = '\0';
    for (size_t i = 0; i < items; i++) {
        size_t a = h % cols, b = a + (h >> 8) % 3;
        h >>= 12;
        if (b >= cols) b = a;
        len += (size_t)snprintf(spec + len, n - len, a == b ? "%s%zu" : "%s%zu-%zu", i ? "," : "", a + 1, b + 1);
        for (size_t j = a; j <= b; j++) idx[k++] = j;
    }
    return k;
}

static void check_round_trip(const ntk_matrix *m)
{
    ntk_error err;
    ntk_matrix b = {0};
    const char *npy = fz_path("out.npy"), *csv = fz_path("out.csv");
    FZ_CHECK(ntk_io_write(npy, m->data, m->rows, m->cols, m->ndim, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(ntk_io_read(npy, NULL, &b, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(fz_same_matrix(m, &b), "a %zu x %zu array differs after writing and reading it", m->rows, m->cols);
    ntk_matrix_free(&b);

    ntk_read_opts o = ntk_read_opts_default();
    o.csv_header = 0;
    FZ_CHECK(ntk_io_write(csv, m->data, m->rows, m->cols, m->ndim, &err) == NTK_OK, "%s", err.msg);
    FZ_CHECK(ntk_io_read(csv, &o, &b, &err) == NTK_OK, "%s", err.msg);
    b.ndim = m->ndim; /* .csv has no 1-D */
    FZ_CHECK(fz_same_values(m, &b), "a %zu x %zu array differs after a .csv round trip", m->rows, m->cols);
    ntk_matrix_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_path("in.npy");
    fz_write(path, data, size);
    ntk_error err, err2;
    ntk_matrix m = {0}, mm = {0};
    ntk_status st = ntk_io_read(path, NULL, &m, &err);
    ntk_status st2 = ntk_npy_parse_mem(path, data, size, &mm, &err2);
    FZ_CHECK(st == st2, "file: %d (%s), memory: %d (%s)", (int)st, st ? err.msg : "", (int)st2, st2 ? err2.msg : "");
    if (st != NTK_OK) {
        FZ_CHECK(!m.data && !mm.data, "a failed read left data");
        FZ_CHECK(!strcmp(err.msg, err2.msg), "file: '%s', memory: '%s'", err.msg, err2.msg);
        FZ_CHECK(!strncmp(err.msg, path, strlen(path)) && fz_one_line(err.msg), "message '%s'", err.msg);
        return 0;
    }
    FZ_CHECK(fz_same_matrix(&m, &mm), "the file and memory readers differ");
    ntk_matrix_free(&mm);

    FZ_CHECK(m.rows >= 1 && m.cols >= 1 && (m.ndim == 2 || (m.ndim == 1 && m.cols == 1)), "shape %zu x %zu, ndim %d",
             m.rows, m.cols, m.ndim);
    size_t dims[2], off = 0;
    int nd = scan_shape(data, size, dims, &off);
    if (nd >= 0) {
        FZ_CHECK(nd == m.ndim && dims[0] == m.rows && (nd == 1 || dims[1] == m.cols),
                 "header shape (%zu, %zu) ndim %d, read %zu x %zu ndim %d", dims[0], nd > 1 ? dims[1] : 0, nd, m.rows,
                 m.cols, m.ndim);
        FZ_CHECK(size - off >= m.rows * m.cols, "%zu x %zu elements from %zu bytes", m.rows, m.cols, size - off);
    }
    check_round_trip(&m);

    /* a selection and a row limit: the matching part of the full read */
    uint64_t h = fz_hash(data, size);
    char spec[64];
    size_t idx[12], nsel = make_selection(h, m.cols, spec, sizeof spec, idx);
    ntk_read_opts o = ntk_read_opts_default();
    o.columns = spec;
    o.max_rows = (h >> 40) % 4;
    ntk_matrix s = {0};
    FZ_CHECK(ntk_io_read(path, &o, &s, &err) == NTK_OK, "columns '%s': %s", spec, err.msg);
    size_t rows = o.max_rows && o.max_rows < m.rows ? o.max_rows : m.rows;
    FZ_CHECK(s.rows == rows && s.cols == nsel, "columns '%s', max_rows %zu: %zu x %zu", spec, o.max_rows, s.rows,
             s.cols);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < nsel; j++)
            FZ_CHECK(!memcmp(&s.data[i * nsel + j], &m.data[i * m.cols + idx[j]], sizeof(double)),
                     "columns '%s': entry %zu,%zu", spec, i, j);
    ntk_matrix_free(&s);
    ntk_matrix_free(&m);
    return 0;
}
