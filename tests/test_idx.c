/*
 * test_idx.c — IDX (MNIST) files through ntk_io_read: the fixtures of
 * tests/data/idx/ (tools/make_idx_fixtures.py) for every data type, 1-D
 * and 3-D, plain and gzip'd; the name forms; max_rows (IDX and the other
 * formats) and column selection; every error path (truncated header, dims
 * or data, bad magic or type, trailing bytes, corrupt, cut and fake gzip,
 * empty and oversized shapes), each a one-line NTK_E_FORMAT naming the file.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define assert_has(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub)); \
    } while (0)

/* The fixture values (see tools/make_idx_fixtures.py). */
static double value(const char *t, long k)
{
    if (!strcmp(t, "u8")) return (double)((37 * k + 11) % 256);
    if (!strcmp(t, "i8")) return (double)((37 * k + 11) % 256 - 128);
    if (!strcmp(t, "i16")) return (double)((k - 5) * 1001);
    if (!strcmp(t, "i32")) return (double)((k - 15) * 70000001L);
    if (!strcmp(t, "f32")) return (double)(k - 5) / 4;
    return (double)(k - 5) / 3; /* f64: the double nearest, as Python wrote it */
}

static const char *const TYPES[] = {"u8", "i8", "i16", "i32", "f32", "f64"};

static ntk_matrix read_ok(const char *path, const ntk_read_opts *o)
{
    ntk_error err;
    ntk_matrix m = {0};
    ntk_status s = ntk_io_read(path, o, &m, &err);
    if (s) fail_msg("%s: %s", path, err.msg);
    return m;
}

static void expect_error(const char *path, const ntk_read_opts *o, ntk_status want, const char *sub)
{
    ntk_error err;
    ntk_matrix m = {0};
    ntk_status s = ntk_io_read(path, o, &m, &err);
    if (s != want) fail_msg("%s: status %d (%s), expected %d", path, s, s ? err.msg : "ok", want);
    assert_null(m.data);
    assert_has(err.msg, path);
    assert_has(err.msg, sub);
    assert_null(strchr(err.msg, '\n'));
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const void *buf, size_t n)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, buf, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
}

/* The whole file (malloc'd); *n its size. */
static unsigned char *slurp_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *n = fread(buf, 1, 1 << 16, f);
    assert_true(*n < (1 << 16));
    fclose(f);
    return buf;
}

/* An IDX header: 00 00 type ndim, dims big-endian. Returns its length. */
static size_t header(unsigned char *b, unsigned char type, int ndim, const uint32_t *dims)
{
    b[0] = b[1] = 0;
    b[2] = type;
    b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int j = 0; j < 4; j++) b[4 + 4 * i + j] = (unsigned char)(dims[i] >> (24 - 8 * j));
    return 4 + 4 * (size_t)ndim;
}

static void check_values(const ntk_matrix *m, const char *t, size_t rows, size_t cols, int ndim, const char *what)
{
    if (m->rows != rows || m->cols != cols || m->ndim != ndim)
        fail_msg("%s: shape %zu x %zu (ndim %d), expected %zu x %zu (ndim %d)", what, m->rows, m->cols, m->ndim, rows,
                 cols, ndim);
    for (size_t k = 0; k < rows * cols; k++)
        if (m->data[k] != value(t, (long)k))
            fail_msg("%s: element %zu is %.17g, expected %.17g", what, k, m->data[k], value(t, (long)k));
}

/* ------------------------------------------------------------ fixtures */

static void test_every_type(void **state)
{
    (void)state;
    static const char *const gzs[] = {"", ".gz"};
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
        for (int g = 0; g < 2; g++) {
            char rel[128];
            snprintf(rel, sizeof rel, "data/idx/%s-3d-idx3-ubyte%s", TYPES[i], gzs[g]);
            char *p = tu_path(rel);
            ntk_matrix m = read_ok(p, NULL);
            check_values(&m, TYPES[i], 3, 10, 2, p); /* 3 x 2 x 5 → 3 x 10 */
            ntk_matrix_free(&m);
            free(p);
            snprintf(rel, sizeof rel, "data/idx/%s-1d-idx1-ubyte%s", TYPES[i], gzs[g]);
            p = tu_path(rel);
            m = read_ok(p, NULL);
            check_values(&m, TYPES[i], 7, 1, 1, p);
            ntk_matrix_free(&m);
            free(p);
        }
    char *p = tu_path("data/idx/f64-2d.idx");
    ntk_matrix m = read_ok(p, NULL);
    check_values(&m, "f64", 4, 3, 2, p);
    ntk_matrix_free(&m);
    free(p);
}

/* The same bytes under each name form: MNIST's "-idx3-ubyte", the
 * ".idx3-ubyte" of unzipped copies, ".idx", any case, each with ".gz". */
static void test_name_forms(void **state)
{
    (void)state;
    static const char *const names[] = {"-idx3-ubyte", ".idx3-ubyte", ".idx", "-IDX3-UBYTE", ".Idx", "-idx9-ubyte"};
    char *src = tu_path("data/idx/i16-3d-idx3-ubyte"), *srcz = tu_path("data/idx/i16-3d-idx3-ubyte.gz");
    ntk_matrix a = read_ok(src, NULL);
    FILE *f = fopen(src, "rb"), *fz = fopen(srcz, "rb");
    assert_non_null(f);
    assert_non_null(fz);
    unsigned char plain[256], zipped[256];
    size_t np = fread(plain, 1, sizeof plain, f), nz = fread(zipped, 1, sizeof zipped, fz);
    fclose(f);
    fclose(fz);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        for (int g = 0; g < 3; g++) {
            char suffix[64];
            snprintf(suffix, sizeof suffix, "%s%s", names[i], g == 0 ? "" : g == 1 ? ".gz" : ".GZ");
            char *p = tu_tmpfile(suffix);
            write_bytes(p, g ? zipped : plain, g ? nz : np);
            ntk_matrix m = read_ok(p, NULL);
            check_values(&m, "i16", 3, 10, 2, p);
            ntk_matrix_free(&m);
            unlink(p);
            free(p);
        }
    /* a plain file named .gz is still read (gzread is transparent) */
    char *p = tu_tmpfile("-idx3-ubyte.gz");
    write_bytes(p, plain, np);
    ntk_matrix m = read_ok(p, NULL);
    assert_memory_equal(m.data, a.data, 30 * sizeof(double));
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
    /* not IDX names: "idx" without the "-ubyte" form, or no separator */
    static const char *const not_idx[] = {"x.idx3", "xidx3-ubyte", "x-idx-ubyte", "x.ubyte", "x.idx.bz2"};
    for (size_t i = 0; i < sizeof not_idx / sizeof *not_idx; i++) {
        ntk_error err;
        assert_int_equal(ntk_io_read(not_idx[i], NULL, &m, &err), NTK_E_INVAL);
        assert_has(err.msg, "unknown file format");
    }
    /* IDX is read-only */
    ntk_error err;
    double v[2] = {1, 2};
    assert_int_equal(ntk_io_write("out-idx1-ubyte", v, 2, 1, 1, &err), NTK_E_INVAL);
    assert_has(err.msg, "out-idx1-ubyte: IDX files are read, not written");
    ntk_matrix_free(&a);
    free(src);
    free(srcz);
}

/* ------------------------------------------------------------ options */

static void test_max_rows(void **state)
{
    (void)state;
    ntk_read_opts o = ntk_read_opts_default();
    assert_int_equal(o.max_rows, 0);
    for (int g = 0; g < 2; g++) {
        char *p = tu_path(g ? "data/idx/f32-3d-idx3-ubyte.gz" : "data/idx/f32-3d-idx3-ubyte");
        o.max_rows = 2;
        ntk_matrix m = read_ok(p, &o);
        check_values(&m, "f32", 2, 10, 2, p);
        ntk_matrix_free(&m);
        o.max_rows = 3;
        m = read_ok(p, &o);
        check_values(&m, "f32", 3, 10, 2, p);
        ntk_matrix_free(&m);
        o.max_rows = 1000; /* more than there are: all of them */
        m = read_ok(p, &o);
        check_values(&m, "f32", 3, 10, 2, p);
        ntk_matrix_free(&m);
        free(p);
    }
    /* the rows before a truncation point are readable with a limit */
    char *p = tu_path("data/idx/trunc-data-idx3-ubyte");
    o.max_rows = 2;
    ntk_matrix m = read_ok(p, &o);
    check_values(&m, "u8", 2, 10, 2, p);
    ntk_matrix_free(&m);
    o.max_rows = 3;
    expect_error(p, &o, NTK_E_FORMAT, "truncated");
    free(p);
    /* trailing bytes are not looked at when the read stops early */
    p = tu_path("data/idx/trailing-idx1-ubyte");
    o.max_rows = 7;
    expect_error(p, &o, NTK_E_FORMAT, "2 unexpected bytes after the data");
    o.max_rows = 6;
    m = read_ok(p, &o);
    check_values(&m, "u8", 6, 1, 1, p);
    ntk_matrix_free(&m);
    free(p);

    /* .csv and .npy are cut after reading */
    char *c = tu_tmpfile(".csv"), *n = tu_tmpfile(".npy");
    FILE *f = fopen(c, "w");
    assert_non_null(f);
    fputs("a,b\n1,2\n3,4\n5,6\n", f);
    fclose(f);
    double v[6] = {1, 2, 3, 4, 5, 6};
    ntk_error err;
    assert_int_equal(ntk_io_write(n, v, 3, 2, 2, &err), NTK_OK);
    o.max_rows = 2;
    for (int i = 0; i < 2; i++) {
        m = read_ok(i ? n : c, &o);
        assert_int_equal(m.rows, 2);
        assert_int_equal(m.cols, 2);
        assert_memory_equal(m.data, v, 4 * sizeof(double));
        ntk_matrix_free(&m);
    }
    o.columns = "2";
    m = read_ok(n, &o);
    assert_int_equal(m.rows, 2);
    assert_int_equal(m.cols, 1);
    assert_true(m.data[0] == 2 && m.data[1] == 4);
    ntk_matrix_free(&m);
    unlink(c);
    unlink(n);
    free(c);
    free(n);
}

static void test_columns(void **state)
{
    (void)state;
    char *p = tu_path("data/idx/i8-3d-idx3-ubyte.gz");
    ntk_read_opts o = ntk_read_opts_default();
    o.columns = "2,9-10";
    ntk_matrix m = read_ok(p, &o);
    assert_int_equal(m.rows, 3);
    assert_int_equal(m.cols, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(m.data[i * 3 + 0] == value("i8", (long)(i * 10 + 1)));
        assert_true(m.data[i * 3 + 1] == value("i8", (long)(i * 10 + 8)));
        assert_true(m.data[i * 3 + 2] == value("i8", (long)(i * 10 + 9)));
    }
    ntk_matrix_free(&m);
    o.columns = "11";
    expect_error(p, &o, NTK_E_INVAL, "column 11 is out of range (the file has 10 columns)");
    free(p);
}

/* A gzip'd file larger than the reader's 4 MiB chunk, with a limit that
 * ends inside the second chunk. */
static void test_large_gz(void **state)
{
    (void)state;
    const uint32_t dims[2] = {5000, 1000};
    size_t n = (size_t)dims[0] * dims[1];
    unsigned char *b = malloc(8 + 8 + n);
    assert_non_null(b);
    size_t h = header(b, 0x08, 2, dims);
    for (size_t k = 0; k < n; k++) b[h + k] = (unsigned char)((k * 2654435761u) >> 13);
    char *p = tu_tmpfile("-idx2-ubyte.gz");
    write_gz(p, b, h + n);
    ntk_matrix m = read_ok(p, NULL);
    assert_int_equal(m.rows, 5000);
    assert_int_equal(m.cols, 1000);
    for (size_t k = 0; k < n; k++)
        if (m.data[k] != b[h + k]) fail_msg("element %zu: %g vs %d", k, m.data[k], b[h + k]);
    ntk_matrix_free(&m);
    ntk_read_opts o = ntk_read_opts_default();
    o.max_rows = 4500;
    m = read_ok(p, &o);
    assert_int_equal(m.rows, 4500);
    assert_true(m.data[4500 * 1000 - 1] == b[h + 4500 * 1000 - 1]);
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
    free(b);
}

/* ------------------------------------------------------------ errors */

static void test_fixture_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *sub;
    } cases[] = {
        {"bad-magic-idx1-ubyte", "not an IDX file (the magic number 01 00 08 01 does not start with two zero bytes)"},
        {"bad-type-idx1-ubyte", "unknown IDX data type 0x0A"},
        {"trunc-data-idx3-ubyte", "truncated: expected 30 bytes of data (u8 array of shape 3 x 2 x 5), found 27"},
        {"trunc-dims-idx3-ubyte", "truncated: expected 12 bytes of dimensions, found 6"},
        {"trailing-idx1-ubyte", "2 unexpected bytes after the data of an IDX array of shape 7"},
        {"trunc-idx3-ubyte.gz", "truncated"},
        {"corrupt-idx3-ubyte.gz", "corrupt gzip data"},
        {"garbage-idx3-ubyte.gz", "corrupt gzip data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char rel[96];
        snprintf(rel, sizeof rel, "data/idx/%s", cases[i].name);
        char *p = tu_path(rel);
        expect_error(p, NULL, NTK_E_FORMAT, cases[i].sub);
        free(p);
    }
    char *p = tu_path("data/idx/trunc-idx3-ubyte.gz");
    expect_error(p, NULL, NTK_E_FORMAT, "(the gzip stream ends early)");
    free(p);
}

static void test_crafted_errors(void **state)
{
    (void)state;
    unsigned char b[256];
    char *p = tu_tmpfile("-idx3-ubyte"), *pz = tu_tmpfile("-idx3-ubyte.gz");

    expect_error(p, NULL, NTK_E_IO, "cannot open"); /* missing */
    write_bytes(p, b, 0);
    expect_error(p, NULL, NTK_E_FORMAT, "not an IDX file (the file is empty)");
    write_gz(pz, b, 0);
    expect_error(pz, NULL, NTK_E_FORMAT, "not an IDX file (the file is empty)");
    write_bytes(p, "\0\0", 2);
    expect_error(p, NULL, NTK_E_FORMAT, "truncated: expected 4 bytes of magic number, found 2");

    uint32_t dims[16] = {3, 0, 5};
    size_t h = header(b, 0x08, 0, dims);
    write_bytes(p, b, h);
    expect_error(p, NULL, NTK_E_FORMAT, "IDX file with 0 dimensions");
    h = header(b, 0x08, 3, dims);
    write_bytes(p, b, h);
    expect_error(p, NULL, NTK_E_FORMAT, "IDX array of shape 3 x 0 x 5 is empty");
    dims[0] = 0;
    dims[1] = 4;
    h = header(b, 0x0E, 2, dims);
    write_bytes(p, b, h);
    expect_error(p, NULL, NTK_E_FORMAT, "IDX array of shape 0 x 4 is empty");
    b[3] = 200;
    write_bytes(p, b, h);
    expect_error(p, NULL, NTK_E_FORMAT, "IDX file with 200 dimensions");

    /* a shape whose size overflows, and a plausible huge one that the data
     * does not back: no giant allocation, "truncated" */
    uint32_t big[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    h = header(b, 0x0E, 4, big);
    write_bytes(p, b, h);
    expect_error(p, NULL, NTK_E_FORMAT, "is too large");
    uint32_t huge[2] = {1000000, 100000}; /* 800 GB of doubles claimed */
    h = header(b, 0x0E, 2, huge);
    memset(b + h, 0x3F, 64);
    write_gz(pz, b, h + 64);
    expect_error(pz, NULL, NTK_E_FORMAT, "truncated: expected");
    write_bytes(p, b, h + 64);
    expect_error(p, NULL, NTK_E_FORMAT, "found 64");

    /* data one element short, per type size */
    static const unsigned char codes[] = {0x08, 0x0B, 0x0C, 0x0E};
    static const size_t sizes[] = {1, 2, 4, 8};
    for (int i = 0; i < 4; i++) {
        uint32_t d2[2] = {2, 3};
        h = header(b, codes[i], 2, d2);
        memset(b + h, 0, 6 * sizes[i]);
        write_bytes(p, b, h + 5 * sizes[i]);
        char want[96];
        snprintf(want, sizeof want, "expected %zu bytes of data", 6 * sizes[i]);
        expect_error(p, NULL, NTK_E_FORMAT, want);
        write_gz(pz, b, h + 6 * sizes[i]);
        ntk_matrix m = read_ok(pz, NULL);
        assert_int_equal(m.rows, 2);
        assert_int_equal(m.cols, 3);
        ntk_matrix_free(&m);
    }
    /* a gzip'd file cut inside its 8-byte trailer (CRC-32, length) or
     * before: the data may be complete, but it is unchecked (found by
     * fuzz/fuzz_idx.c) */
    {
        uint32_t d3[1] = {3};
        h = header(b, 0x08, 1, d3);
        b[h] = 7, b[h + 1] = 8, b[h + 2] = 9;
        write_gz(pz, b, h + 3);
        size_t zn;
        unsigned char *z = slurp_bytes(pz, &zn);
        for (size_t cut = 1; cut <= 12; cut++) {
            write_bytes(pz, z, zn - cut);
            expect_error(pz, NULL, NTK_E_FORMAT, "truncated");
        }
        write_bytes(pz, z, zn);
        ntk_matrix m3 = read_ok(pz, NULL);
        assert_true(m3.rows == 3 && m3.data[2] == 9);
        ntk_matrix_free(&m3);
        free(z);
    }
    /* a gzip'd file with a valid stream followed by junk */
    uint32_t d1[1] = {3};
    h = header(b, 0x08, 1, d1);
    b[h] = 1, b[h + 1] = 2, b[h + 2] = 3;
    write_gz(pz, b, h + 3);
    FILE *f = fopen(pz, "ab");
    assert_non_null(f);
    fputs("junk after the gzip member", f);
    fclose(f);
    ntk_error err;
    ntk_matrix m = {0};
    ntk_status s = ntk_io_read(pz, NULL, &m, &err);
    /* zlib either ignores trailing garbage or calls it an error: both are
     * acceptable, a wrong value is not */
    if (s == NTK_OK) {
        assert_int_equal(m.rows, 3);
        assert_true(m.data[0] == 1 && m.data[2] == 3);
        ntk_matrix_free(&m);
    } else {
        assert_int_equal(s, NTK_E_FORMAT);
        assert_has(err.msg, pz);
    }
    /* a directory */
    char *dir = tu_tmpfile("-idx1-ubyte");
    assert_int_equal(mkdir(dir, 0700), 0);
    s = ntk_io_read(dir, NULL, &m, &err);
    assert_true(s == NTK_E_IO || s == NTK_E_FORMAT);
    assert_has(err.msg, dir);
    rmdir(dir);
    free(dir);
    unlink(p);
    unlink(pz);
    free(p);
    free(pz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),   cmocka_unit_test(test_name_forms),
        cmocka_unit_test(test_max_rows),     cmocka_unit_test(test_columns),
        cmocka_unit_test(test_large_gz),     cmocka_unit_test(test_fixture_errors),
        cmocka_unit_test(test_crafted_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
