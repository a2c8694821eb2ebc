/*
 * fuzz_idx.c — the IDX (MNIST) reader, plain and gzip'd (ntk_io_read on
 * "x-idx3-ubyte" and "x-idx3-ubyte.gz").
 *
 * The input is the file as it is (zlib reads a gzip stream or a plain file
 * alike, so gzip'd seeds exercise the gzip error paths) and, gzip'd here,
 * as "in-idx3-ubyte.gz" (so that mutations of the IDX content reach the
 * parser through zlib). Checked on every input:
 *   - a refusal has a one-line message naming the file;
 *   - the plain and the gzip'd file read the same (status and bits),
 *     unless the input is itself gzip'd; the gzip'd file cut short by 1
 *     to 16 bytes is refused;
 *   - an accepted matrix has the shape of the header's dimensions (read
 *     here separately) and its data fills the input exactly;
 *   - a row limit derived from the input reads the first rows of the full
 *     read, and a column selection the matching columns.
 */
#include "fuzz_common.h"

#include <string.h>
#include <zlib.h>

static ntk_status read_idx(const char *path, size_t max_rows, const char *columns, ntk_matrix *m, ntk_error *err)
{
    ntk_read_opts o = ntk_read_opts_default();
    o.max_rows = max_rows;
    o.columns = columns;
    ntk_status st = ntk_io_read(path, &o, m, err);
    if (st != NTK_OK) {
        FZ_CHECK(!m->data, "a failed read left data");
        FZ_CHECK(!strncmp(err->msg, path, strlen(path)) && fz_one_line(err->msg), "message '%s'", err->msg);
    }
    return st;
}

/* gzip of data (level from 0 to 9). */
static unsigned char *gzip(const uint8_t *data, size_t size, int level, size_t *n)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    size_t cap = deflateBound(&s, (uLong)size) + 32;
    unsigned char *out = malloc(cap);
    if (!out) abort();
    s.next_in = (Bytef *)data;
    s.avail_in = (uInt)size;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    if (deflate(&s, Z_FINISH) != Z_STREAM_END) abort();
    *n = cap - s.avail_out;
    deflateEnd(&s);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *plain = fz_path("in-idx3-ubyte"), *gz = fz_path("in-idx3-ubyte.gz");
    uint64_t h = fz_hash(data, size);
    fz_write(plain, data, size);
    size_t zn;
    unsigned char *z = gzip(data, size, (int)(h % 10), &zn);
    /* cut short (inside the 8-byte trailer, or before it): always refused */
    const char *cut = fz_path("cut-idx3-ubyte.gz");
    size_t k = 1 + (h >> 48) % 16;
    if (k < zn) {
        fz_write(cut, z, zn - k);
        ntk_error e;
        ntk_matrix c = {0};
        FZ_CHECK(read_idx(cut, 0, NULL, &c, &e) != NTK_OK, "a gzip stream without its last %zu of %zu bytes was read",
                 k, zn);
    }
    fz_write(gz, z, zn);
    free(z);

    ntk_error err, err2;
    ntk_matrix m = {0}, mz = {0};
    ntk_status st = read_idx(plain, 0, NULL, &m, &err);
    ntk_status sz = read_idx(gz, 0, NULL, &mz, &err2);
    int gzipped = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gzipped) {
        FZ_CHECK(st == sz, "plain: %d (%s), gzip'd: %d (%s)", (int)st, st ? err.msg : "", (int)sz, sz ? err2.msg : "");
        if (st == NTK_OK) FZ_CHECK(fz_same_matrix(&m, &mz), "the plain and gzip'd files read differently");
    }
    ntk_matrix_free(&mz);
    if (st != NTK_OK) return 0;

    FZ_CHECK(m.rows >= 1 && m.cols >= 1 && (m.ndim == 2 || (m.ndim == 1 && m.cols == 1)), "shape %zu x %zu ndim %d",
             m.rows, m.cols, m.ndim);
    if (!gzipped) {
        static const unsigned char sizes[16] = {[0x08] = 1, [0x09] = 1, [0x0B] = 2, [0x0C] = 4, [0x0D] = 4, [0x0E] = 8};
        size_t nd = data[3], esz = sizes[data[2] & 15], prod = 1;
        for (size_t i = 1; i < nd; i++) {
            const uint8_t *p = data + 4 + 4 * i;
            prod *= (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        }
        const uint8_t *p = data + 4;
        size_t rows = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        FZ_CHECK(rows == m.rows && prod == m.cols && (nd == 1) == (m.ndim == 1), "header says %zu x %zu, read %zu x %zu",
                 rows, prod, m.rows, m.cols);
        FZ_CHECK(size == 4 + 4 * nd + rows * prod * esz, "%zu bytes for %zu x %zu elements of %zu bytes", size, rows,
                 prod, esz);
    }

    /* a row limit and a column selection */
    size_t max_rows = 1 + (h >> 8) % 3, a = (h >> 16) % m.cols, b = a + (h >> 32) % 3;
    if (b >= m.cols) b = a;
    char spec[48];
    snprintf(spec, sizeof spec, "%zu-%zu", a + 1, b + 1);
    const char *path = (h >> 40) & 1 && !gzipped ? gz : plain;
    ntk_matrix s = {0};
    FZ_CHECK(read_idx(path, max_rows, spec, &s, &err) == NTK_OK, "max_rows %zu, columns %s: %s", max_rows, spec,
             err.msg);
    size_t rows = max_rows < m.rows ? max_rows : m.rows, nsel = b - a + 1;
    FZ_CHECK(s.rows == rows && s.cols == nsel, "max_rows %zu, columns %s: %zu x %zu", max_rows, spec, s.rows, s.cols);
    for (size_t i = 0; i < rows; i++)
        FZ_CHECK(!memcmp(&s.data[i * nsel], &m.data[i * m.cols + a], nsel * sizeof(double)), "row %zu differs", i);
    ntk_matrix_free(&s);
    ntk_matrix_free(&m);
    return 0;
}
