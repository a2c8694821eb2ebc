/*
 * test_io.c — ntk_io_read / ntk_io_write: .npy and .csv round trips, the
 * numpy-written fixtures of tests/data/io/ (tools/make_io_fixtures.py) for
 * every dtype, format version and memory order, hand-made headers for the
 * parser's corners, every error path (status and message), and the atomic
 * write (a failed write leaves nothing new and the old file intact).
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include "testutil.h"
#include "io/io_internal.h" /* ntk_outputs_write, _open, _path, _named_only */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

#define assert_has(msg, sub)                                                   \
    do {                                                                       \
        if (!strstr((msg), (sub))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub)); \
    } while (0)

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* The whole file; *n its size. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

/* A .npy file with the given version, header text and data. pad != 0 pads
 * the header with spaces and '\n' to a multiple of 64 like numpy; pad == 0
 * writes `dict` as it is. */
static void craft_npy(const char *path, int major, const char *dict, int pad, const void *data,
                      size_t ndata)
{
    size_t dlen = strlen(dict), pre = major == 1 ? 10 : 12;
    size_t hlen = pad ? dlen + 1 + (64 - (pre + dlen + 1) % 64) % 64 : dlen;
    unsigned char *buf = malloc(pre + hlen + ndata + 1);
    assert_non_null(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, dict, dlen);
    if (pad) {
        memset(buf + pre + dlen, ' ', hlen - dlen);
        buf[pre + hlen - 1] = '\n';
    }
    if (ndata) memcpy(buf + pre + hlen, data, ndata);
    write_bytes(path, buf, pre + hlen + ndata);
    free(buf);
}

/* Reads `path` expecting status `want`; the message must name the file and
 * contain every string of the NULL-terminated list; out.data must be NULL. */
static void expect_read_errorv(const char *path, const ntk_read_opts *opts, ntk_status want,
                               va_list ap)
{
    ntk_error err = {NTK_OK, ""};
    double sentinel = 0;
    ntk_matrix m = {&sentinel, 7, 7, 2};
    ntk_status st = ntk_io_read(path, opts, &m, &err);
    if (st != want)
        fail_msg("%s: status %d (%s), want %d (%s); message: %s", path, st, ntk_status_string(st),
                 want, ntk_status_string(want), err.msg);
    assert_int_equal(err.status, want);
    assert_null(m.data);
    assert_has(err.msg, path);
    assert_null(strchr(err.msg, '\n'));
    const char *sub;
    while ((sub = va_arg(ap, const char *))) assert_has(err.msg, sub);
}

static void expect_read_error(const char *path, const ntk_read_opts *opts, ntk_status want, ...)
{
    va_list ap;
    va_start(ap, want);
    expect_read_errorv(path, opts, want, ap);
    va_end(ap);
}

/* Writes `text` to a fresh .csv and expects the read to fail. */
static void csv_error(const char *text, const ntk_read_opts *opts, ntk_status want, ...)
{
    char *p = tu_tmpfile(".csv");
    write_text(p, text);
    va_list ap;
    va_start(ap, want);
    expect_read_errorv(p, opts, want, ap);
    va_end(ap);
    unlink(p);
    free(p);
}

/* Same for a crafted .npy. */
static void npy_error(int major, const char *dict, const void *data, size_t ndata, ntk_status want,
                      ...)
{
    char *p = tu_tmpfile(".npy");
    craft_npy(p, major, dict, 1, data, ndata);
    va_list ap;
    va_start(ap, want);
    expect_read_errorv(p, NULL, want, ap);
    va_end(ap);
    unlink(p);
    free(p);
}

static ntk_matrix read_ok(const char *path, const ntk_read_opts *opts)
{
    ntk_error err = {NTK_OK, ""};
    ntk_matrix m = {0};
    ntk_status st = ntk_io_read(path, opts, &m, &err);
    if (st != NTK_OK) fail_msg("reading %s: %s", path, err.msg);
    assert_non_null(m.data);
    return m;
}

static ntk_matrix csv_ok(const char *text, const ntk_read_opts *opts)
{
    char *p = tu_tmpfile(".csv");
    write_text(p, text);
    ntk_matrix m = read_ok(p, opts);
    unlink(p);
    free(p);
    return m;
}

static void write_ok(const char *path, const double *a, size_t r, size_t c, int ndim)
{
    ntk_error err = {NTK_OK, ""};
    ntk_status st = ntk_io_write(path, a, r, c, ndim, &err);
    if (st != NTK_OK) fail_msg("writing %s: %s", path, err.msg);
}

static void assert_matrix(const ntk_matrix *m, size_t r, size_t c, int ndim, const double *want)
{
    assert_int_equal(m->rows, r);
    assert_int_equal(m->cols, c);
    assert_int_equal(m->ndim, ndim);
    for (size_t k = 0; k < r * c; k++)
        if (!(m->data[k] == want[k] || (isnan(m->data[k]) && isnan(want[k]))))
            fail_msg("element (%zu, %zu): got %.17g, want %.17g", k / c + 1, k % c + 1,
                     m->data[k], want[k]);
}

/* A fresh empty directory under $TMPDIR. */
static char *make_tmpdir(void)
{
    char *p = tu_tmpfile("");
    size_t n = strlen(p);
    p = realloc(p, n + 8);
    memcpy(p + n, "-XXXXXX", 8);
    assert_non_null(mkdtemp(p));
    return p;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Names in dir other than `keep` (temporary leftovers). */
static int count_other_entries(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (!keep || strcmp(e->d_name, keep)))
            n++;
    closedir(d);
    return n;
}

/* Values with every kind of awkward bit pattern, then random normals. */
static void fill_awkward(double *a, size_t n, uint64_t seed)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1.0 / 3.0, DBL_MAX, -DBL_MAX,
                                     DBL_MIN, 4.9406564584124654e-324, -2.5e-310, 1e300,
                                     123456789012345678.0, 0x1.fffffffffffffp-1};
    tu_rng r = {seed};
    tu_fill_normal(&r, a, n, 1.0);
    for (size_t i = 0; i < n; i++)
        if (i % 3 == 0) a[i] *= pow(10.0, (double)((int)(tu_uniform(&r) * 40) - 20));
    for (size_t i = 0; i < n && i < sizeof special / sizeof *special; i++) a[i] = special[i];
}

/* ------------------------------------------------------------ options, dispatch */

static void test_opts_default(void **state)
{
    (void)state;
    ntk_read_opts o = ntk_read_opts_default();
    assert_int_equal(o.csv_header, -1);
    assert_null(o.columns);
}

static void test_unknown_format(void **state)
{
    (void)state;
    ntk_error err;
    ntk_matrix m = {0};
    double a[2] = {1, 2};
    assert_int_equal(ntk_io_read("x.txt", NULL, &m, &err), NTK_E_INVAL);
    assert_string_equal(err.msg, "x.txt: unknown file format (use .npy or .csv)");
    assert_null(m.data);
    assert_int_equal(ntk_io_write("dir.npy/x.txt", a, 2, 1, 2, &err), NTK_E_INVAL);
    assert_string_equal(err.msg, "dir.npy/x.txt: unknown file format (use .npy or .csv)");
    assert_int_equal(ntk_io_write("noext", a, 2, 1, 2, &err), NTK_E_INVAL);
    assert_has(err.msg, "unknown file format");
    assert_int_equal(ntk_io_read(".npy", NULL, &m, &err), NTK_E_INVAL);
    assert_int_equal(ntk_io_read("x.npy.gz", NULL, &m, &err), NTK_E_INVAL);
    assert_has(err.msg, "x.npy.gz: unknown file format");
    /* a control character in a path (an escape sequence would act on the
     * user's terminal) is shown as \xNN by every message: one line */
    assert_int_equal(ntk_io_read("a\x1b[2J\nb.txt", NULL, &m, &err), NTK_E_INVAL);
    assert_string_equal(err.msg, "a\\x1b[2J\\x0ab.txt: unknown file format (use .npy or .csv)");
}

static void test_extension_case(void **state)
{
    (void)state;
    double a[6] = {1, 2, 3, 4, 5, 6.5};
    char *p = tu_tmpfile(".NPY"), *q = tu_tmpfile(".Csv");
    write_ok(p, a, 2, 3, 2);
    write_ok(q, a, 3, 2, 2);
    ntk_matrix m = read_ok(p, NULL);
    assert_matrix(&m, 2, 3, 2, a);
    ntk_matrix_free(&m);
    m = read_ok(q, NULL);
    assert_matrix(&m, 3, 2, 2, a);
    ntk_matrix_free(&m);
    /* the content decides nothing: a .csv name is parsed as CSV */
    size_t n;
    unsigned char *bytes = slurp(q, &n);
    assert_memory_equal(bytes, "1,2\n3,4\n5,6.5\n", n);
    free(bytes);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    ntk_error err;
    ntk_matrix m = {0};
    double a[4] = {1, 2, 3, 4};
    char *p = tu_tmpfile(".npy");
    assert_int_equal(ntk_io_read(NULL, NULL, &m, &err), NTK_E_INVAL);
    assert_int_equal(ntk_io_read(p, NULL, NULL, &err), NTK_E_INVAL);
    assert_int_equal(ntk_io_write(NULL, a, 2, 2, 2, &err), NTK_E_INVAL);
    assert_int_equal(ntk_io_write(p, a, 2, 2, 3, &err), NTK_E_INVAL);
    assert_has(err.msg, p);
    assert_has(err.msg, "ndim must be 1 or 2, not 3");
    assert_int_equal(ntk_io_write(p, a, 2, 2, 1, &err), NTK_E_INVAL);
    assert_has(err.msg, "a 1-D array has 1 column, not 2");
    assert_int_equal(ntk_io_write(p, NULL, 2, 2, 2, &err), NTK_E_INVAL);
    assert_has(err.msg, "data must not be NULL");
    assert_int_equal(ntk_io_write(p, a, SIZE_MAX / 4, 3, 2, &err), NTK_E_INVAL);
    assert_has(err.msg, "too large");
    assert_int_equal(access(p, F_OK), -1); /* none of that created the file */
    ntk_read_opts o = {2, NULL};
    expect_read_error(p, &o, NTK_E_INVAL, "csv_header must be -1 (auto), 0 (none) or 1 (present), "
                      "not 2", NULL);
    /* errors without an ntk_error are still reported by status */
    assert_int_equal(ntk_io_read(p, NULL, &m, NULL), NTK_E_IO);
    free(p);
}

/* ------------------------------------------------------------ round trips */

static void roundtrip(const char *suffix, size_t r, size_t c, int ndim, uint64_t seed, int bitwise)
{
    size_t n = r * c;
    double *a = malloc(n * sizeof *a);
    assert_non_null(a);
    fill_awkward(a, n, seed);
    char *p = tu_tmpfile(suffix);
    write_ok(p, a, r, c, ndim);
    ntk_matrix m = read_ok(p, NULL);
    assert_int_equal(m.rows, r);
    assert_int_equal(m.cols, c);
    /* CSV has no 1-D: a column comes back as rows x 1, ndim 2 */
    assert_int_equal(m.ndim, bitwise ? ndim : 2);
    if (bitwise)
        assert_memory_equal(m.data, a, n * sizeof *a);
    else
        assert_matrix(&m, r, c, 2, a);
    for (size_t k = 0; k < n; k++) /* == does not see the sign of zero */
        assert_int_equal(signbit(m.data[k]) != 0, signbit(a[k]) != 0);
    ntk_matrix_free(&m);
    assert_null(m.data);
    unlink(p);
    free(p);
    free(a);
}

static void test_npy_roundtrip(void **state)
{
    (void)state;
    roundtrip(".npy", 37, 5, 2, 1, 1);
    roundtrip(".npy", 64, 1, 2, 2, 1);
    roundtrip(".npy", 1, 33, 2, 3, 1);
    roundtrip(".npy", 101, 1, 1, 4, 1);
    roundtrip(".npy", 1, 1, 1, 5, 1);
    roundtrip(".npy", 400, 300, 2, 6, 1);
}

static void test_csv_roundtrip(void **state)
{
    (void)state;
    roundtrip(".csv", 37, 5, 2, 11, 0);
    roundtrip(".csv", 1, 33, 2, 12, 0);
    roundtrip(".csv", 101, 1, 1, 13, 0);
    roundtrip(".csv", 20, 1, 2, 14, 0);
    roundtrip(".csv", 300, 200, 2, 15, 0);
}

static void test_csv_roundtrip_nonfinite(void **state)
{
    (void)state;
    double a[6] = {NAN, INFINITY, -INFINITY, -NAN, 1e-300, -0.0};
    char *p = tu_tmpfile(".csv");
    write_ok(p, a, 2, 3, 2);
    ntk_matrix m = read_ok(p, NULL); /* not a header: "nan" and "inf" are numbers */
    assert_matrix(&m, 2, 3, 2, a);
    assert_true(signbit(m.data[2]));
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
}

static void test_csv_write_format(void **state)
{
    (void)state;
    double a[6] = {0.1, -2, 1e22, 1.0 / 3.0, 5e-324, 7};
    char *p = tu_tmpfile(".csv");
    size_t n;
    write_ok(p, a, 2, 3, 2);
    unsigned char *b = slurp(p, &n);
    const char *want = "0.10000000000000001,-2,1e+22\n0.33333333333333331,4.9406564584124654e-324,7\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(b, want, n);
    free(b);
    write_ok(p, a, 3, 1, 1);
    b = slurp(p, &n);
    want = "0.10000000000000001\n-2\n1e+22\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(b, want, n);
    free(b);
    unlink(p);
    free(p);
}

/* A single line of 200000 fields (about 4 MB): the line reader has no limit. */
static void test_csv_long_line(void **state)
{
    (void)state;
    size_t c = 200000;
    double *a = malloc(c * sizeof *a);
    assert_non_null(a);
    fill_awkward(a, c, 21);
    char *p = tu_tmpfile(".csv");
    write_ok(p, a, 1, c, 2);
    ntk_matrix m = read_ok(p, NULL);
    assert_matrix(&m, 1, c, 2, a);
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
    free(a);
}

/* ------------------------------------------------------------ numpy fixtures */

typedef struct {
    const char *tag;
    char kind; /* f, i, u */
    int size;
} dtype_case;

static const dtype_case DTYPES[] = {
    {"f8le", 'f', 8}, {"f8be", 'f', 8}, {"f4le", 'f', 4}, {"f4be", 'f', 4},
    {"i1", 'i', 1},   {"u1", 'u', 1},   {"i2le", 'i', 2}, {"i2be", 'i', 2},
    {"u2le", 'u', 2}, {"u2be", 'u', 2}, {"i4le", 'i', 4}, {"i4be", 'i', 4},
    {"u4le", 'u', 4}, {"u4be", 'u', 4}, {"i8le", 'i', 8}, {"i8be", 'i', 8},
    {"u8le", 'u', 8}, {"u8be", 'u', 8},
};

/* The value tools/make_io_fixtures.py stores at C-order index k of n. */
static double fixture_value(char kind, int size, size_t k, size_t n)
{
    if (kind == 'f') {
        double v = ((double)k - 5) / 3.0;
        return size == 4 ? (double)(float)v : v;
    }
    if (kind == 'i') {
        if (k == 0) return -ldexp(1, 8 * size - 1);
        if (k == n - 1) return ldexp(1, 8 * size - 1) - 1; /* i8: rounds to 2^63 like a cast */
        return ((double)k - 5) * 3;
    }
    if (k == n - 1) return ldexp(1, 8 * size) - 1;
    return (double)k * 7;
}

static void check_fixture(const char *rel, const dtype_case *t, size_t r, size_t c, int ndim)
{
    char *p = tu_path(rel);
    ntk_matrix m = read_ok(p, NULL);
    double want[12];
    for (size_t k = 0; k < r * c; k++) want[k] = fixture_value(t->kind, t->size, k, r * c);
    assert_matrix(&m, r, c, ndim, want);
    ntk_matrix_free(&m);
    free(p);
}

static void test_npy_fixtures(void **state)
{
    (void)state;
    int files = 0;
    for (size_t i = 0; i < sizeof DTYPES / sizeof *DTYPES; i++) {
        char rel[64];
        for (int v = 1; v <= 3; v++) {
            for (int o = 0; o < 2; o++) {
                snprintf(rel, sizeof rel, "data/io/%s_v%d_%c.npy", DTYPES[i].tag, v, "CF"[o]);
                check_fixture(rel, &DTYPES[i], 3, 4, 2);
                files++;
            }
        }
        snprintf(rel, sizeof rel, "data/io/%s_1d.npy", DTYPES[i].tag);
        check_fixture(rel, &DTYPES[i], 5, 1, 1);
        files++;
    }
    assert_int_equal(files, 18 * 7);
}

/* ntk_io_write produces what numpy.save writes, byte for byte. */
static void test_npy_write_matches_numpy(void **state)
{
    (void)state;
    static const struct { const char *name; size_t r, c; int ndim; } cases[] = {
        {"save_3x4", 3, 4, 2}, {"save_12x3", 12, 3, 2}, {"save_5", 5, 1, 1}, {"save_100", 100, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "data/io/%s.npy", cases[i].name);
        char *ref = tu_path(rel), *p = tu_tmpfile(".npy");
        size_t r = cases[i].r, c = cases[i].c, n = r * c, nref, nout;
        double *a = malloc(n * sizeof *a);
        for (size_t k = 0; k < n; k++) a[k] = fixture_value('f', 8, k, n);
        write_ok(p, a, r, c, cases[i].ndim);
        unsigned char *want = slurp(ref, &nref), *got = slurp(p, &nout);
        assert_int_equal(nout, nref);
        assert_memory_equal(got, want, nref);
        assert_int_equal((nout - n * 8) % 64, 0); /* data starts on a 64-byte boundary */
        free(want);
        free(got);
        free(a);
        unlink(p);
        free(p);
        free(ref);
    }
}

static void test_csv_numpy_savetxt(void **state)
{
    (void)state;
    double want[12];
    for (size_t k = 0; k < 12; k++) want[k] = fixture_value('f', 8, k, 12);
    char *p = tu_path("data/io/savetxt.csv"), *q = tu_path("data/io/savetxt_header.csv");
    ntk_matrix m = read_ok(p, NULL);
    assert_matrix(&m, 3, 4, 2, want);
    ntk_matrix_free(&m);
    m = read_ok(q, NULL);
    assert_matrix(&m, 3, 4, 2, want);
    ntk_matrix_free(&m);
    ntk_read_opts o = {-1, "d,b"};
    m = read_ok(q, &o);
    double sel[6] = {want[3], want[1], want[7], want[5], want[11], want[9]};
    assert_matrix(&m, 3, 2, 2, sel);
    ntk_matrix_free(&m);
    free(p);
    free(q);
}

/* ------------------------------------------------------------ .npy header parser */

static void expect_npy(int major, const char *dict, int pad, const void *data, size_t ndata,
                       size_t r, size_t c, int ndim, const double *want)
{
    char *p = tu_tmpfile(".npy");
    craft_npy(p, major, dict, pad, data, ndata);
    ntk_matrix m = read_ok(p, NULL);
    assert_matrix(&m, r, c, ndim, want);
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
}

static void test_npy_header_variants(void **state)
{
    (void)state;
    const double d6[6] = {1, 2, 3, 4, 5, 6};
    const double c23[6] = {1, 2, 3, 4, 5, 6};     /* C order (2, 3) */
    const double f23[6] = {1, 3, 5, 2, 4, 6};     /* that data read as Fortran (2, 3) */
    const unsigned char i1[6] = {1, 2, 3, 4, 5, 0xfe};
    const double i1v[6] = {1, 2, 3, 4, 5, -2};
    const double u1v[6] = {1, 2, 3, 4, 5, 254};

    expect_npy(1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}", 1, d6, 48, 2, 3, 2, c23);
    expect_npy(1, "{\"descr\":\"<f8\",\"fortran_order\":True,\"shape\":(2,3)}", 1, d6, 48, 2, 3, 2, f23);
    expect_npy(1, " {\n 'descr' : '<f8' ,\t'fortran_order' : False ,\r\n 'shape' : ( 2 , 3 , ) , } ",
               1, d6, 48, 2, 3, 2, c23);
    expect_npy(1, "{'descr': '=f8', 'fortran_order': False, 'shape': (6,)}", 1, d6, 48, 6, 1, 1, d6);
    expect_npy(1, "{'descr': '|f8', 'fortran_order': False, 'shape': (6,)}", 1, d6, 48, 6, 1, 1, d6);
    expect_npy(1, "{'descr': 'f8', 'fortran_order': False, 'shape': (6,)}", 1, d6, 48, 6, 1, 1, d6);
    expect_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L)}", 1, d6, 48, 2, 3, 2, c23);
    /* Fortran order means nothing for 1-D */
    expect_npy(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (6,)}", 1, d6, 48, 6, 1, 1, d6);
    expect_npy(1, "{'descr': '<i1', 'fortran_order': False, 'shape': (6,)}", 1, i1, 6, 6, 1, 1, i1v);
    expect_npy(1, "{'descr': '=i1', 'fortran_order': False, 'shape': (2, 3)}", 1, i1, 6, 2, 3, 2, i1v);
    expect_npy(1, "{'descr': '>u1', 'fortran_order': False, 'shape': (6,)}", 1, i1, 6, 6, 1, 1, u1v);
    expect_npy(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)}", 1, d6, 48, 3, 2, 2, d6);
    expect_npy(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 6)}", 1, d6, 48, 1, 6, 2, d6);
    /* unpadded header, data right after it, and trailing bytes after the data */
    double d7[7] = {1, 2, 3, 4, 5, 6, 99};
    expect_npy(1, "{'descr':'<f8','fortran_order':False,'shape':(6,)}", 0, d7, 56, 6, 1, 1, d6);
}

static void test_npy_errors(void **state)
{
    (void)state;
    const double d6[6] = {1, 2, 3, 4, 5, 6};
    char *p = tu_tmpfile(".npy");

    /* not there, not a file */
    expect_read_error(p, NULL, NTK_E_IO, "cannot open: No such file or directory", NULL);
    assert_int_equal(mkdir(p, 0700), 0);
    expect_read_error(p, NULL, NTK_E_IO, "read error: Is a directory", NULL);
    assert_int_equal(rmdir(p), 0);

    /* magic and version */
    write_text(p, "");
    expect_read_error(p, NULL, NTK_E_FORMAT, "not a .npy file (the file is empty)", NULL);
    write_text(p, "1,2,3\n");
    expect_read_error(p, NULL, NTK_E_FORMAT, "not a .npy file (bad magic string)", NULL);
    write_text(p, "\x93NUM");
    expect_read_error(p, NULL, NTK_E_FORMAT, "bad magic string", NULL);
    write_bytes(p, "\x93NUMPY\x01", 7);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: no format version", NULL);
    write_bytes(p, "\x93NUMPY\x04\x00\x10\x00", 10);
    expect_read_error(p, NULL, NTK_E_FORMAT, "unsupported .npy format version 4.0", NULL);
    write_bytes(p, "\x93NUMPY\x01\x01\x10\x00", 10);
    expect_read_error(p, NULL, NTK_E_FORMAT, "unsupported .npy format version 1.1", NULL);
    write_bytes(p, "\x93NUMPY\x02\x00\x10\x00", 10);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: the header length is missing", NULL);
    write_bytes(p, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran", 34);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: expected a header of 118 bytes, found 24",
                      NULL);
    write_bytes(p, "\x93NUMPY\x02\x00\xff\xff\xff\x7f{", 13);
    expect_read_error(p, NULL, NTK_E_FORMAT, "bad .npy header: 2147483647 bytes long, too long", NULL);

    /* truncated data, from a real numpy file */
    char *ref = tu_path("data/io/f8le_v1_C.npy");
    size_t n;
    unsigned char *b = slurp(ref, &n);
    assert_int_equal(n, 128 + 96);
    write_bytes(p, b, n - 10);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: expected 96 bytes of data, found 86", NULL);
    write_bytes(p, b, 128);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: expected 96 bytes of data, found 0", NULL);
    free(b);
    free(ref);
    ref = tu_path("data/io/i2be_v3_F.npy");
    b = slurp(ref, &n);
    write_bytes(p, b, n - 1);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: expected 24 bytes of data, found 23", NULL);
    free(b);
    free(ref);
    /* a header that claims 8 GB: reported as truncated, not allocated */
    craft_npy(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000), }", 1, d6, 48);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: expected 8000000000 bytes of data, found 48",
                      NULL);
    unlink(p);
    free(p);

    /* dtypes numpy writes that we refuse */
    static const struct { const char *file, *what; } bad[] = {
        {"data/io/err_c16.npy", "unsupported dtype '<c16'"},
        {"data/io/err_object.npy", "unsupported dtype '|O'"},
        {"data/io/err_unicode.npy", "unsupported dtype '<U8'"},
        {"data/io/err_struct.npy", "unsupported dtype: structured arrays are not supported"},
        {"data/io/err_bool.npy", "unsupported dtype '|b1'"},
        {"data/io/err_f2.npy", "unsupported dtype '<f2'"},
        {"data/io/err_3d.npy", "3-D array of shape (2, 3, 4); expected a 1-D or 2-D array"},
        {"data/io/err_0d.npy", "0-D array (a scalar); expected a 1-D or 2-D array"},
        {"data/io/err_empty.npy", "array of shape (0, 3) is empty"},
        {"data/io/err_empty1d.npy", "array of shape (0,) is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *f = tu_path(bad[i].file);
        expect_read_error(f, NULL, NTK_E_FORMAT, bad[i].what, NULL);
        free(f);
    }
}

static void test_npy_header_errors(void **state)
{
    (void)state;
    const double d6[6] = {1, 2, 3, 4, 5, 6};
#define HDR_ERR(dict, ...) npy_error(1, dict, d6, 48, NTK_E_FORMAT, __VA_ARGS__, NULL)
    /* shapes */
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (6)}",
            "bad .npy header at character 53: shape (n) is not a tuple; a 1-D shape is (n,)");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (-6,)}",
            "at character 52: expected a non-negative integer in shape");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (2, x)}",
            "expected a non-negative integer in shape");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': 6}",
            "shape must be a tuple of integers, e.g. (3, 4)");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}", "shape must be a tuple");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3}", "expected ',' or ')' in shape");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (2 3)}", "expected ',' or ')' in shape");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 3)}",
            "expected ',' or ')' in shape");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 1)}",
            "dimension in shape is too large");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
            "array of shape (4294967296, 4294967296) is too large");
    /* keys and values */
    HDR_ERR("{'descr': '<f8', 'fortran_order': False}", "bad .npy header: missing key 'shape'");
    HDR_ERR("{'fortran_order': False, 'shape': (6,)}", "missing key 'descr'");
    HDR_ERR("{'descr': '<f8', 'shape': (6,)}", "missing key 'fortran_order'");
    HDR_ERR("{}", "missing key 'descr'");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'foo': 1}",
            "bad .npy header: unexpected key 'foo'");
    HDR_ERR("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
            "duplicate key 'descr'");
    /* text from the header is shown with control characters as \xNN
     * (found by fuzz/fuzz_npy.c) */
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), 'a\x1b[2J\x7f': 1}",
            "bad .npy header: unexpected key 'a\\x1b[2J\\x7f'");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), '0123456789012345678901234567890\x01': 1}",
            "unexpected key '0123456789012345678901234567890...'");
    HDR_ERR("{'descr': '<f\x08', 'fortran_order': False, 'shape': (6,)}", "unsupported dtype '<f\\x08'");
    HDR_ERR("{'descr': '\x01<f80123456789012345678901234567890123456789012345', 'fortran_order': False, 'shape': (6,)}",
            "unsupported dtype '\\x01<f80123456789012345678901234567890123456789012...'");
    HDR_ERR("{'descr': '<f8', 'fortran_order': 0, 'shape': (6,)}",
            "fortran_order must be True or False");
    HDR_ERR("{'descr': '<f8', 'fortran_order': Falsey, 'shape': (6,)}",
            "fortran_order must be True or False");
    HDR_ERR("{'descr': '<f8' 'fortran_order': False, 'shape': (6,)}", "at character 17: expected ',' or '}'");
    HDR_ERR("{'descr' '<f8', 'fortran_order': False, 'shape': (6,)}", "expected ':' after a key");
    HDR_ERR("{descr: '<f8', 'fortran_order': False, 'shape': (6,)}",
            "at character 2: expected a quoted string");
    HDR_ERR("{'descr': '<f8, 'fortran_order': False, 'shape': (6,)}", "expected ',' or '}'");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (6,)", "expected ',' or '}'");
    HDR_ERR("{'descr': '<f8', 'fortran_order': False, 'shape': (6,)} x", "unexpected text after '}'");
    HDR_ERR("'descr': '<f8'", "at character 1: expected '{'");
    HDR_ERR("", "expected '{'");
    HDR_ERR("{'descr': '<f8", "unterminated string");
    /* dtypes */
    HDR_ERR("{'descr': '<f16', 'fortran_order': False, 'shape': (6,)}", "unsupported dtype '<f16'");
    HDR_ERR("{'descr': '<i3', 'fortran_order': False, 'shape': (6,)}", "unsupported dtype '<i3'");
    HDR_ERR("{'descr': '<f2', 'fortran_order': False, 'shape': (6,)}", "unsupported dtype '<f2'");
    HDR_ERR("{'descr': '', 'fortran_order': False, 'shape': (6,)}", "unsupported dtype ''");
    HDR_ERR("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (6,)}",
            "unsupported dtype '<M8[ns]'");
    HDR_ERR("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (6,)}",
            "structured arrays are not supported");
#undef HDR_ERR
}

/* ------------------------------------------------------------ CSV reading */

static void test_csv_read(void **state)
{
    (void)state;
    const double a23[6] = {1, 2, 3, 4, 5, 6};
    ntk_matrix m;

    m = csv_ok("1,2,3\n4,5,6\n", NULL); /* no header; NULL opts = auto */
    assert_matrix(&m, 2, 3, 2, a23);
    ntk_matrix_free(&m);
    m = csv_ok("a,b,c\n1,2,3\n4,5,6\n", NULL);
    assert_matrix(&m, 2, 3, 2, a23);
    ntk_matrix_free(&m);
    /* CRLF, a byte-order mark, spaces and tabs, no final newline */
    m = csv_ok("\xEF\xBB\xBF x , y ,z\r\n 1 ,\t2,3 \r\n4,5 , 6", NULL);
    assert_matrix(&m, 2, 3, 2, a23);
    ntk_matrix_free(&m);
    /* trailing blank lines are ignored */
    m = csv_ok("1,2,3\n4,5,6\n\n  \n\r\n\n", NULL);
    assert_matrix(&m, 2, 3, 2, a23);
    ntk_matrix_free(&m);
    /* quoted fields: names with commas, quoted numbers */
    m = csv_ok("\"a, 1\",\"say \"\"hi\"\"\",c\n\"1\", \"2\" ,3\n4,5,6\n", NULL);
    assert_matrix(&m, 2, 3, 2, a23);
    ntk_matrix_free(&m);
    /* every number syntax strtod knows; nan/inf are numbers (auto: no header) */
    const double nums[8] = {-1.5e-3, 0.25, 16, 1e300, NAN, INFINITY, -INFINITY, 0};
    m = csv_ok("-1.5e-3,+.25,0x10,1E300\nnan,inf,-Infinity,-0\n", NULL);
    assert_matrix(&m, 2, 4, 2, nums);
    assert_true(signbit(m.data[7]));
    ntk_matrix_free(&m);
    /* a single column is rows x 1, ndim 2 */
    const double col[3] = {7, 8, 9};
    m = csv_ok("v\n7\n8\n9\n", NULL);
    assert_matrix(&m, 3, 1, 2, col);
    ntk_matrix_free(&m);
    m = csv_ok("7\n8\n9\n", NULL);
    assert_matrix(&m, 3, 1, 2, col);
    ntk_matrix_free(&m);
}

static void test_csv_header_modes(void **state)
{
    (void)state;
    const double a[3] = {4, 5, 6}, b[6] = {1, 2, 3, 4, 5, 6};
    ntk_read_opts o = ntk_read_opts_default();
    ntk_matrix m;

    o.csv_header = 1; /* a numeric first row is still a header when told so */
    m = csv_ok("1,2,3\n4,5,6\n", &o);
    assert_matrix(&m, 1, 3, 2, a);
    ntk_matrix_free(&m);
    o.csv_header = 0;
    m = csv_ok("1,2,3\n4,5,6\n", &o);
    assert_matrix(&m, 2, 3, 2, b);
    ntk_matrix_free(&m);
    csv_error("x,y,z\n1,2,3\n", &o, NTK_E_FORMAT, "row 1, column 1: 'x' is not a number", NULL);
    /* auto: a row with any numeric-looking field is data, never a dropped
     * header: its other fields are errors naming row and column */
    o.csv_header = -1;
    csv_error("1,x,3\n4,5,6\n", &o, NTK_E_FORMAT,
              "row 1, column 2: 'x' is not a number (the first row is data, not a header: column 1 "
              "looks numeric)", NULL);
    csv_error("1,,3\n4,5,6\n", &o, NTK_E_FORMAT, "row 1, column 2: empty field (the first row", NULL);
    /* header names need not be unique unless selected */
    m = csv_ok("x,x,y\n4,5,6\n", &o);
    assert_matrix(&m, 1, 3, 2, a);
    ntk_matrix_free(&m);
}

/* The auto header rule on the rows that used to be dropped silently, and
 * what ntk_io_read_info reports. */
static ntk_matrix csv_info(const char *text, const ntk_read_opts *opts, ntk_read_info *info)
{
    char *p = tu_tmpfile(".csv");
    write_text(p, text);
    ntk_error err = {NTK_OK, ""};
    ntk_matrix m = {0};
    memset(info, 0x55, sizeof *info); /* must be overwritten */
    if (ntk_io_read_info(p, opts, &m, info, &err)) fail_msg("reading %s: %s", p, err.msg);
    unlink(p);
    free(p);
    return m;
}

static void test_csv_auto_header(void **state)
{
    (void)state;
    const double a[3] = {4, 5, 6}, b[6] = {1, 2, 3, 4, 5, 6};
    ntk_read_opts o = ntk_read_opts_default();
    ntk_read_info info;
    ntk_matrix m;

    /* "1,2 3": a number and a bad field: data, and the bad field an error */
    csv_error("1,2 3\n4,5\n", NULL, NTK_E_FORMAT,
              ": row 1, column 2: '2 3' is not a number (the first row is data, not a header: "
              "column 1 looks numeric)", NULL);
    /* fields that start like numbers are not names either */
    csv_error("2 3,1.5.3\n4,5\n", NULL, NTK_E_FORMAT, ": row 1, column 1: '2 3' is not a number", NULL);
    csv_error("-.5e,x\n4,5\n", NULL, NTK_E_FORMAT, ": row 1, column 1: '-.5e' is not a number", NULL);
    csv_error("1st,2nd\n4,5\n", NULL, NTK_E_FORMAT, ": row 1, column 1: '1st' is not a number", NULL);
    /* two (or three) byte-order marks: all skipped, the row is data */
    m = csv_info("\xEF\xBB\xBF\xEF\xBB\xBF" "1,2,3\n4,5,6\n", NULL, &info);
    assert_matrix(&m, 2, 3, 2, b);
    assert_int_equal(info.csv_header, 0);
    assert_int_equal(info.csv_header_auto, 0);
    ntk_matrix_free(&m);
    m = csv_info("\xEF\xBB\xBF\xEF\xBB\xBF\xEF\xBB\xBF" "7\n", NULL, &info);
    assert_int_equal(m.rows, 1);
    assert_true(m.data[0] == 7);
    ntk_matrix_free(&m);
    /* a BOM later in the row is text: column 2 */
    csv_error("1,\xEF\xBB\xBF" "2\n", NULL, NTK_E_FORMAT, ": row 1, column 2: '", NULL);
    /* a real header: detected, reported with its names */
    m = csv_info("\xEF\xBB\xBF\xEF\xBB\xBF" "x1, \"x,2\" ,x3\n4,5,6\n", NULL, &info);
    assert_matrix(&m, 1, 3, 2, a);
    assert_int_equal(info.csv_header, 1);
    assert_int_equal(info.csv_header_auto, 1);
    assert_string_equal(info.csv_names, "x1,x,2,x3");
    ntk_matrix_free(&m);
    /* names such as "nan" and "inf" are numbers: data */
    m = csv_info("nan,inf\n1,2\n", NULL, &info);
    assert_int_equal(m.rows, 2);
    assert_int_equal(info.csv_header, 0);
    ntk_matrix_free(&m);
    /* but "name", "info", "e5", "x1" only look like words */
    m = csv_info("name,info,e5,x1\n1,2,3,4\n", NULL, &info);
    assert_int_equal(m.rows, 1);
    assert_int_equal(info.csv_header_auto, 1);
    ntk_matrix_free(&m);
    /* empty names are allowed beside others (pandas' index column) */
    m = csv_info(",a,b\n1,2,3\n", NULL, &info);
    assert_int_equal(m.rows, 1);
    assert_string_equal(info.csv_names, ",a,b");
    ntk_matrix_free(&m);
    /* a header that was asked for is reported, but not as detected */
    o.csv_header = 1;
    m = csv_info("1,2,3\n4,5,6\n", &o, &info);
    assert_matrix(&m, 1, 3, 2, a);
    assert_int_equal(info.csv_header, 1);
    assert_int_equal(info.csv_header_auto, 0);
    assert_string_equal(info.csv_names, "1,2,3");
    ntk_matrix_free(&m);
    /* a long header is cut with "..." and stays a string */
    char *text = malloc(4000);
    size_t k = 0;
    for (int j = 0; j < 200; j++) k += (size_t)sprintf(text + k, "%scolumn_%d", j ? "," : "", j);
    k += (size_t)sprintf(text + k, "\n");
    for (int j = 0; j < 200; j++) k += (size_t)sprintf(text + k, "%s%d", j ? "," : "", j);
    sprintf(text + k, "\n");
    m = csv_info(text, NULL, &info);
    assert_int_equal(m.rows, 1);
    assert_int_equal(m.cols, 200);
    size_t len = strlen(info.csv_names);
    assert_true(len < sizeof info.csv_names);
    assert_string_equal(info.csv_names + len - 3, "...");
    assert_memory_equal(info.csv_names, "column_0,column_1,", 18);
    ntk_matrix_free(&m);
    free(text);
    /* .npy: no header, info zeroed */
    char *p = tu_tmpfile(".npy");
    write_ok(p, b, 2, 3, 2);
    memset(&info, 0x55, sizeof info);
    ntk_error err;
    assert_int_equal(ntk_io_read_info(p, NULL, &m, &info, &err), NTK_OK);
    assert_int_equal(info.csv_header, 0);
    assert_int_equal(info.csv_header_auto, 0);
    assert_string_equal(info.csv_names, "");
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
}

static void test_csv_columns(void **state)
{
    (void)state;
    const char *csv = "id,label,x1,x2,x3\n"
                      "1,cat,0.5,1.5,2.5\n"
                      "2,dog,3.5,4.5,5.5\n";
    ntk_read_opts o = ntk_read_opts_default();
    ntk_matrix m;

    o.columns = "3-5"; /* the text column is never parsed */
    const double w1[6] = {0.5, 1.5, 2.5, 3.5, 4.5, 5.5};
    m = csv_ok(csv, &o);
    assert_matrix(&m, 2, 3, 2, w1);
    ntk_matrix_free(&m);

    o.columns = " x3 , 1,4 -4, x1 ";
    const double w2[8] = {2.5, 1, 1.5, 0.5, 5.5, 2, 4.5, 3.5};
    m = csv_ok(csv, &o);
    assert_matrix(&m, 2, 4, 2, w2);
    ntk_matrix_free(&m);

    o.columns = "5,5";
    const double w3[4] = {2.5, 2.5, 5.5, 5.5};
    m = csv_ok(csv, &o);
    assert_matrix(&m, 2, 2, 2, w3);
    ntk_matrix_free(&m);

    o.columns = "1";
    const double w4[2] = {1, 2};
    m = csv_ok(csv, &o);
    assert_matrix(&m, 2, 1, 2, w4);
    ntk_matrix_free(&m);

    /* without a header, indices work */
    o.columns = "2,1";
    const double w5[4] = {2, 1, 4, 3};
    m = csv_ok("1,2\n3,4\n", &o);
    assert_matrix(&m, 2, 2, 2, w5);
    ntk_matrix_free(&m);

    /* .npy: indices and ranges, no names */
    const double a[6] = {1, 2, 3, 4, 5, 6};
    char *p = tu_tmpfile(".npy");
    write_ok(p, a, 2, 3, 2);
    o.columns = "3,1-2";
    const double w6[6] = {3, 1, 2, 6, 4, 5};
    m = read_ok(p, &o);
    assert_matrix(&m, 2, 3, 2, w6);
    ntk_matrix_free(&m);
    o.columns = "2";
    const double w7[2] = {2, 5};
    m = read_ok(p, &o);
    assert_matrix(&m, 2, 1, 2, w7);
    ntk_matrix_free(&m);
    o.columns = "x";
    expect_read_error(p, &o, NTK_E_INVAL, "column selection 'x': 'x' is a column name, but the file "
                      "has no header row", NULL);
    o.columns = "4";
    expect_read_error(p, &o, NTK_E_INVAL, "column 4 is out of range (the file has 3 columns)", NULL);
    write_ok(p, a, 6, 1, 1);
    o.columns = "1";
    m = read_ok(p, &o);
    assert_matrix(&m, 6, 1, 1, a);
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
}

static void test_csv_column_errors(void **state)
{
    (void)state;
    const char *csv = "id,label,x1,x2,x1\n1,cat,0.5,1.5,2.5\n";
    ntk_read_opts o = ntk_read_opts_default();
#define SEL_ERR(sel, ...)                                                \
    do {                                                                 \
        o.columns = (sel);                                               \
        csv_error(csv, &o, NTK_E_INVAL, "column selection '" sel "': ", \
                  __VA_ARGS__, NULL);                                    \
    } while (0)
    SEL_ERR("1,0", "column 0 does not exist (columns are numbered from 1)");
    SEL_ERR("0-2", "column 0 does not exist");
    SEL_ERR("3,6", "column 6 is out of range (the file has 5 columns)");
    SEL_ERR("2-9", "column 9 is out of range (the file has 5 columns)");
    SEL_ERR("99999999999999999999999", "is out of range");
    SEL_ERR("1,label,weight", "no column named 'weight'");
    SEL_ERR("X2", "no column named 'X2'");
    SEL_ERR("5-3", "range 5-3 is reversed");
    SEL_ERR("1,,3", "empty item");
    SEL_ERR("", "empty item");
    SEL_ERR("3,", "empty item");
    SEL_ERR("-3", "'-3' is not a column number or range (like 3 or 3-7)");
    SEL_ERR("1-2-3", "'1-2-3' is not a column number or range");
    SEL_ERR("x1", "column name 'x1' is ambiguous (columns 3 and 5)");
    /* names need a header */
    o.columns = "a";
    csv_error("1,2\n3,4\n", &o, NTK_E_INVAL,
              "column selection 'a': 'a' is a column name, but the file has no header row", NULL);
    /* a selection does not excuse a ragged row */
    o.columns = "1";
    csv_error("1,2\n3\n", &o, NTK_E_FORMAT, "row 2: 1 field, expected 2", NULL);
#undef SEL_ERR
}

static void test_csv_errors(void **state)
{
    (void)state;
    char *p = tu_tmpfile(".csv");
    expect_read_error(p, NULL, NTK_E_IO, "cannot open: No such file or directory", NULL);
    free(p);

    csv_error("a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5\n1,2,3\n", NULL, NTK_E_FORMAT,
              ": row 4: 3 fields, expected 5", NULL);
    csv_error("1,2\n3,4,5\n", NULL, NTK_E_FORMAT, ": row 2: 3 fields, expected 2", NULL);
    csv_error("a,b,c\n1,2,3\n4,abc,6\n", NULL, NTK_E_FORMAT,
              ": row 3, column 2: 'abc' is not a number", NULL);
    csv_error("1,2\n1.5x,2\n", NULL, NTK_E_FORMAT, ": row 2, column 1: '1.5x' is not a number", NULL);
    csv_error("1,2\n3,4 5\n", NULL, NTK_E_FORMAT, ": row 2, column 2: '4 5' is not a number", NULL);
    csv_error("1,2\n3,\n", NULL, NTK_E_FORMAT, ": row 2, column 2: empty field", NULL);
    /* auto: "1;2" starts like a number, so the first row is data */
    csv_error("1;2\n3;4\n", NULL, NTK_E_FORMAT, ": row 1, column 1: '1;2' is not a number", NULL);
    csv_error("a;b\n3;4\n", NULL, NTK_E_FORMAT, ": row 2, column 1: '3;4' is not a number", NULL);
    csv_error("x,y\n1,0123456789012345678901234567890123456789xyz\n", NULL, NTK_E_FORMAT,
              "column 2: '0123456789012345678901234567890123456789...' is not a number", NULL);
    /* control characters are shown as \xNN: a message is one printable line
     * (found by fuzz/fuzz_csv.c) */
    csv_error("x,y\n1,4\x16" "5\n", NULL, NTK_E_FORMAT, ": row 2, column 2: '4\\x165' is not a number", NULL);
    csv_error("x,y\n1,2\r3\n", NULL, NTK_E_FORMAT, ": row 2, column 2: '2\\x0d3' is not a number", NULL);
    csv_error("x,y\n1,\x1b" "123456789012345678901234567890123456789xyz\n", NULL, NTK_E_FORMAT,
              "column 2: '\\x1b123456789012345678901234567890123456789...' is not a number", NULL);
    /* blank lines before data are errors, naming the blank line */
    csv_error("a,b\n1,2\n\n3,4\n", NULL, NTK_E_FORMAT, ": row 3: blank line", NULL);
    csv_error("\n1,2\n", NULL, NTK_E_FORMAT, ": row 1: blank line", NULL);
    csv_error("a,b\n \t\r\n1,2\n", NULL, NTK_E_FORMAT, ": row 2: blank line", NULL);
    /* no data */
    csv_error("", NULL, NTK_E_FORMAT, " has no data rows", NULL);
    csv_error("a,b,c\n", NULL, NTK_E_FORMAT, " has no data rows", NULL);
    csv_error("a,b,c\n\n\n", NULL, NTK_E_FORMAT, " has no data rows", NULL);
    csv_error("\n\n", NULL, NTK_E_FORMAT, " has no data rows", NULL);
    /* quotes and binary */
    csv_error("1,\"2\n3,4\n", NULL, NTK_E_FORMAT, ": row 1, column 2: unterminated quote", NULL);
    csv_error("1,\"2\"x\n", NULL, NTK_E_FORMAT, ": row 1, column 2: text after the closing quote", NULL);
    char *q = tu_tmpfile(".csv");
    write_bytes(q, "1,2\n3,\0\n", 8);
    expect_read_error(q, NULL, NTK_E_FORMAT, ": row 2: NUL byte", NULL);
    /* a directory */
    unlink(q);
    assert_int_equal(mkdir(q, 0700), 0);
    expect_read_error(q, NULL, NTK_E_IO, "read error: Is a directory", NULL);
    assert_int_equal(rmdir(q), 0);
    free(q);
}

/* ------------------------------------------------------------ pipes */

/* A child writes `n` bytes into the FIFO at `path` and exits. */
static pid_t feed_fifo(const char *path, const void *bytes, size_t n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20); /* never outlive a parent that failed before opening */
        int fd = open(path, O_WRONLY);
        const char *b = bytes;
        while (fd >= 0 && n > 0) {
            ssize_t w = write(fd, b, n);
            if (w <= 0) break;
            b += w;
            n -= (size_t)w;
        }
        _exit(n == 0 ? 0 : 1);
    }
    return pid;
}

static void reap(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Not a regular file: no size to check in advance, so a short .npy is
 * found by the read itself (and the buffer freed); CSV reads the same. */
static void test_read_from_fifo(void **state)
{
    (void)state;
    char *ref = tu_path("data/io/f8le_v1_C.npy"), *p = tu_tmpfile(".npy");
    size_t n;
    unsigned char *b = slurp(ref, &n);
    double want[12];
    for (size_t k = 0; k < 12; k++) want[k] = fixture_value('f', 8, k, 12);
    assert_int_equal(mkfifo(p, 0600), 0);
    pid_t pid = feed_fifo(p, b, n);
    ntk_matrix m = read_ok(p, NULL);
    reap(pid);
    assert_matrix(&m, 3, 4, 2, want);
    ntk_matrix_free(&m);
    pid = feed_fifo(p, b, n - 10);
    expect_read_error(p, NULL, NTK_E_FORMAT, "truncated: expected 96 bytes of data, found 86", NULL);
    reap(pid);
    unlink(p);
    free(p);

    p = tu_tmpfile(".csv");
    assert_int_equal(mkfifo(p, 0600), 0);
    const char *csv = "a,b\n1,2\n3,4\n";
    const double w2[4] = {1, 2, 3, 4};
    pid = feed_fifo(p, csv, strlen(csv));
    m = read_ok(p, NULL);
    reap(pid);
    assert_matrix(&m, 2, 2, 2, w2);
    ntk_matrix_free(&m);
    unlink(p);
    free(p);
    free(b);
    free(ref);
}

/* ------------------------------------------------------------ atomic writes */

static void test_write_missing_dir(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *sub = join(dir, "nope"), *path = join(sub, "x.npy");
    double a[2] = {1, 2};
    ntk_error err;
    assert_int_equal(ntk_io_write(path, a, 2, 1, 1, &err), NTK_E_IO);
    assert_int_equal(err.status, NTK_E_IO);
    assert_has(err.msg, path);
    assert_has(err.msg, "cannot create a temporary file: No such file or directory");
    assert_int_equal(access(sub, F_OK), -1);
    assert_int_equal(count_other_entries(dir, NULL), 0);
    assert_int_equal(rmdir(dir), 0);
    free(path);
    free(sub);
    free(dir);
}

/* A write that fails half way (file size limit: EFBIG, like a full disk)
 * leaves the old file exactly as it was and no temporary file behind. */
static void failing_write(const char *name)
{
    char *dir = make_tmpdir(), *path = join(dir, name);
    double old[3] = {1, 2, 3};
    write_ok(path, old, 3, 1, 1);
    size_t nold;
    unsigned char *before = slurp(path, &nold);

    size_t r = 2000, c = 10;
    double *a = malloc(r * c * sizeof *a);
    assert_non_null(a);
    fill_awkward(a, r * c, 31);
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    ntk_error err;
    ntk_status st = ntk_io_write(path, a, r, c, 2, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, NTK_E_IO);
    assert_has(err.msg, path);
    assert_has(err.msg, "write failed: File too large");

    size_t nafter;
    unsigned char *after = slurp(path, &nafter);
    assert_int_equal(nafter, nold);
    assert_memory_equal(after, before, nold);
    assert_int_equal(count_other_entries(dir, name), 0);
    /* and the same write succeeds once there is room */
    write_ok(path, a, r, c, 2);
    ntk_matrix m = read_ok(path, NULL);
    assert_int_equal(m.rows, r);
    assert_int_equal(m.cols, c);
    ntk_matrix_free(&m);
    assert_int_equal(count_other_entries(dir, name), 0);

    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(before);
    free(after);
    free(a);
    free(path);
    free(dir);
}

static void test_write_failure_keeps_old(void **state)
{
    (void)state;
    failing_write("k.npy");
    failing_write("k.csv");
}

/* rename() onto a directory fails after the data was written: the
 * temporary file is removed and the directory is untouched. */
static void test_write_rename_failure(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *path = join(dir, "d.npy");
    assert_int_equal(mkdir(path, 0700), 0);
    double a[2] = {1, 2};
    ntk_error err;
    assert_int_equal(ntk_io_write(path, a, 2, 1, 1, &err), NTK_E_IO);
    assert_has(err.msg, path);
    assert_has(err.msg, "cannot rename the temporary file into place: Is a directory");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(count_other_entries(dir, "d.npy"), 0);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(rmdir(dir), 0);
    free(path);
    free(dir);
}

/* Overwriting replaces the content and keeps the file's mode; a new file
 * gets 0666 less the umask, not mkstemp's 0600. */
static void test_write_replace_and_mode(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *path = join(dir, "m.csv");
    mode_t um = umask(022);
    double a[2] = {1, 2}, b[3] = {3, 4, 5};
    struct stat sb;
    write_ok(path, a, 2, 1, 1);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    assert_int_equal(chmod(path, 0640), 0);
    write_ok(path, b, 1, 3, 2);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    ntk_matrix m = read_ok(path, NULL);
    assert_matrix(&m, 1, 3, 2, b);
    ntk_matrix_free(&m);
    umask(um);
    unlink(path);
    assert_int_equal(count_other_entries(dir, NULL), 0);
    assert_int_equal(rmdir(dir), 0);
    free(path);
    free(dir);
}

/* ------------------------------------------------------------ output sets */

/* dir/name holds exactly `text` (NULL: absent). */
static void expect_content(const char *dir, const char *name, const char *text)
{
    char *p = join(dir, name);
    if (!text) {
        if (access(p, F_OK) == 0) fail_msg("%s exists", p);
    } else {
        size_t n;
        unsigned char *b = slurp(p, &n);
        if (n != strlen(text) || memcmp(b, text, n)) fail_msg("%s: %.*s, expected %s", p, (int)n, b, text);
        free(b);
    }
    free(p);
}

static ntk_status emit_text(FILE *f, const char *path, const void *ctx, ntk_error *err)
{
    (void)path;
    (void)err;
    fputs(ctx, f);
    return NTK_OK;
}

static ntk_outputs *new_set(int named)
{
    ntk_error err;
    ntk_outputs *o = NULL;
    if (ntk_outputs_create(&o, &err)) fail_msg("%s", err.msg);
    if (named) ntk_outputs_named_only(o);
    return o;
}

static void stage_text(ntk_outputs *o, const char *dir, const char *name, const char *text)
{
    char *p = join(dir, name);
    ntk_error err;
    if (ntk_outputs_write(o, p, emit_text, text, &err)) fail_msg("%s", err.msg);
    free(p);
}

/* Two files, the second of which fails in every way a write can: neither
 * appears, neither is replaced, nothing is left behind; in both staging
 * modes (O_TMPFILE and named temporaries). */
static void test_outputs_all_or_nothing(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        char *dir = make_tmpdir(), *a = join(dir, "a.csv"), *b = join(dir, "b.npy");
        ntk_error err;
        write_text(a, "old a");
        mode_t um = umask(022);
        assert_int_equal(chmod(a, 0640), 0);

        /* 1. the second write fails half way (EFBIG, as on a full disk) */
        size_t r = 2000, c = 10;
        double *big = malloc(r * c * sizeof *big);
        assert_non_null(big);
        fill_awkward(big, r * c, 7);
        ntk_outputs *o = new_set(named);
        stage_text(o, dir, "a.csv", "new a");
        struct rlimit saved, lim;
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        lim = saved;
        lim.rlim_cur = 4096;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        ntk_status st = ntk_outputs_write_matrix(o, b, big, r, c, 2, &err);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, prev);
        assert_int_equal(st, NTK_E_IO);
        assert_has(err.msg, "write failed: File too large");
        /* the set is doomed: no commit, no further write */
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_E_INVAL);
        assert_has(err.msg, "nothing was committed");
        ntk_outputs_free(o);
        expect_content(dir, "a.csv", "old a");
        expect_content(dir, "b.npy", NULL);
        assert_int_equal(count_other_entries(dir, "a.csv"), 0);

        /* 2. the second cannot even be created (no such folder) */
        o = new_set(named);
        stage_text(o, dir, "a.csv", "new a");
        char *nodir = join(dir, "nope/b.npy");
        assert_int_equal(ntk_outputs_write_matrix(o, nodir, big, 2, 2, 2, &err), NTK_E_IO);
        assert_has(err.msg, "cannot create a temporary file: No such file or directory");
        char *cpath = join(dir, "c.csv"); /* refused too: the set is doomed */
        assert_int_equal(ntk_outputs_write(o, cpath, emit_text, "c", &err), NTK_E_INVAL);
        assert_has(err.msg, "an earlier write of this set failed");
        free(cpath);
        ntk_outputs_free(o);
        free(nodir);
        expect_content(dir, "a.csv", "old a");
        assert_int_equal(count_other_entries(dir, "a.csv"), 0);

        /* 3. the commit's second rename fails (the target is a folder): the
         * first target gets its old content back */
        assert_int_equal(mkdir(b, 0700), 0);
        o = new_set(named);
        stage_text(o, dir, "a.csv", "new a");
        stage_text(o, dir, "b.npy", "new b");
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_E_IO);
        assert_has(err.msg, b);
        assert_has(err.msg, "cannot rename the temporary file into place: Is a directory");
        ntk_outputs_free(o);
        expect_content(dir, "a.csv", "old a");
        struct stat sb;
        assert_int_equal(stat(a, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0640);
        assert_int_equal(stat(b, &sb), 0);
        assert_true(S_ISDIR(sb.st_mode));
        assert_int_equal(count_other_entries(dir, "a.csv"), 1); /* b.npy, the folder */
        /* ... and a target that did not exist is removed again */
        o = new_set(named);
        stage_text(o, dir, "new.csv", "new");
        stage_text(o, dir, "b.npy", "new b");
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_E_IO);
        ntk_outputs_free(o);
        expect_content(dir, "new.csv", NULL);
        assert_int_equal(count_other_entries(dir, "a.csv"), 1);
        assert_int_equal(rmdir(b), 0);

        /* 4. one path twice in a set */
        o = new_set(named);
        stage_text(o, dir, "a.csv", "x");
        assert_int_equal(ntk_outputs_write(o, a, emit_text, "y", &err), NTK_E_INVAL);
        assert_has(err.msg, "written twice in one set");
        ntk_outputs_free(o);

        /* 5. success: both in place, the old mode kept, the new one 0666 & ~umask */
        o = new_set(named);
        stage_text(o, dir, "a.csv", "new a");
        assert_int_equal(ntk_outputs_write_matrix(o, b, big, 3, 2, 2, &err), NTK_OK);
        expect_content(dir, "a.csv", "old a"); /* nothing moves before the commit */
        expect_content(dir, "b.npy", NULL);
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_OK);
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_OK); /* an empty set */
        ntk_outputs_free(o);
        expect_content(dir, "a.csv", "new a");
        assert_int_equal(stat(a, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0640);
        assert_int_equal(stat(b, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0644);
        ntk_matrix m = read_ok(b, NULL);
        assert_matrix(&m, 3, 2, 2, big);
        ntk_matrix_free(&m);
        assert_int_equal(count_other_entries(dir, "a.csv"), 1);

        /* 6. a stream and a path for another library, relative names */
        o = new_set(named);
        FILE *f;
        char *s = join(dir, "s.txt"), *q = join(dir, "p.txt"), wpath[4096];
        assert_int_equal(ntk_outputs_open(o, s, &f, &err), NTK_OK);
        fputs("0123456789", f);
        assert_int_equal(fseek(f, 2, SEEK_SET), 0); /* seekable, as the .npz writer needs */
        fputs("ab", f);
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_E_INVAL); /* still open */
        ntk_outputs_free(o);
        expect_content(dir, "s.txt", NULL);
        o = new_set(named);
        assert_int_equal(ntk_outputs_open(o, s, &f, &err), NTK_OK);
        fputs("0123456789", f);
        assert_int_equal(fseek(f, 2, SEEK_SET), 0);
        fputs("ab", f);
        assert_int_equal(ntk_outputs_close(o, f, &err), NTK_OK);
        assert_int_equal(ntk_outputs_path(o, q, wpath, sizeof wpath, &err), NTK_OK);
        FILE *g = fopen(wpath, "wb");
        assert_non_null(g);
        fputs("by path", g);
        assert_int_equal(fclose(g), 0);
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_OK);
        ntk_outputs_free(o);
        expect_content(dir, "s.txt", "01ab456789");
        expect_content(dir, "p.txt", "by path");
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof cwd));
        assert_int_equal(chdir(dir), 0);
        o = new_set(named);
        assert_int_equal(ntk_outputs_write(o, "rel.txt", emit_text, "rel", &err), NTK_OK);
        assert_int_equal(ntk_outputs_commit(o, &err), NTK_OK);
        ntk_outputs_free(o);
        assert_int_equal(chdir(cwd), 0);
        expect_content(dir, "rel.txt", "rel");

        umask(um);
        unlink(a);
        unlink(b);
        unlink(s);
        unlink(q);
        char *rel = join(dir, "rel.txt");
        unlink(rel);
        free(rel);
        assert_int_equal(count_other_entries(dir, NULL), 0);
        assert_int_equal(rmdir(dir), 0);
        free(s);
        free(q);
        free(big);
        free(a);
        free(b);
        free(dir);
    }
}

/* "<base>.ntk-tmp.<pid>.<host>.XXXXXX" names in dir. */
static int count_tmp(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.ntk-tmp.", base);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* A writer killed in the middle (SIGKILL: no cleanup) leaves nothing with
 * O_TMPFILE; with named temporaries the next write to that path removes
 * what it left. A live writer's temporary, one of another host, or one
 * still locked (a live writer in another pid namespace) is kept. */
static void test_outputs_killed_writer(void **state)
{
    (void)state;
    char host[256];
    assert_int_equal(gethostname(host, sizeof host), 0);
    host[64] = '\0';
    for (int named = 0; named < 2; named++) {
        char *dir = make_tmpdir(), *k = join(dir, "K.npy");
        double a[4] = {1, 2, 3, 4};
        int tmpfile_ok = 0;
        if (!named) { /* does this file system know O_TMPFILE? */
            int fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
            if (fd >= 0) {
                tmpfile_ok = 1;
                close(fd);
            }
        }
        /* killed while writing */
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            ntk_outputs *o = NULL;
            FILE *f;
            if (ntk_outputs_create(&o, NULL)) _exit(2);
            if (named) ntk_outputs_named_only(o);
            if (ntk_outputs_open(o, k, &f, NULL)) _exit(3);
            for (int i = 0; i < 100000; i++) fputs("partial data ", f);
            fflush(f);
            if (write(pfd[1], "x", 1) != 1) _exit(4);
            for (;;) pause(); /* killed here */
        }
        close(pfd[1]);
        char ch;
        assert_int_equal(read(pfd[0], &ch, 1), 1);
        close(pfd[0]);
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        if (tmpfile_ok) assert_int_equal(count_other_entries(dir, NULL), 0);
        else assert_int_equal(count_tmp(dir, "K.npy"), 1);
        write_ok(k, a, 4, 1, 1); /* sweeps the dead writer's temporary */
        assert_int_equal(count_other_entries(dir, "K.npy"), 0);

        /* a live writer (same host, pid alive, lock held) is left alone */
        assert_int_equal(pipe(pfd), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            ntk_outputs *o = NULL;
            FILE *f;
            if (ntk_outputs_create(&o, NULL)) _exit(2);
            ntk_outputs_named_only(o);
            if (ntk_outputs_open(o, k, &f, NULL) || fputs("live", f) < 0 || fflush(f)) _exit(3);
            if (write(pfd[1], "x", 1) != 1) _exit(4);
            for (;;) pause();
        }
        close(pfd[1]);
        assert_int_equal(read(pfd[0], &ch, 1), 1);
        close(pfd[0]);
        write_ok(k, a, 4, 1, 1);
        assert_int_equal(count_tmp(dir, "K.npy"), 1);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        write_ok(k, a, 4, 1, 1);
        assert_int_equal(count_tmp(dir, "K.npy"), 0);

        /* hand-made leftovers: a pid that is surely dead (a reaped child) */
        pid = fork();
        if (pid == 0) _exit(0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        char name[512], other[512], locked[512], foreign[512], wrong[512];
        snprintf(name, sizeof name, "%s/K.npy.ntk-tmp.%ld.%s.AbC123", dir, (long)pid, host);
        snprintf(other, sizeof other, "%s/K.npy.ntk-tmp.%ld.not-%s.AbC123", dir, (long)pid, host);
        snprintf(locked, sizeof locked, "%s/K.npy.ntk-tmp.%ld.%s.LoCk00", dir, (long)pid, host);
        snprintf(foreign, sizeof foreign, "%s/L.npy.ntk-tmp.%ld.%s.AbC123", dir, (long)pid, host);
        snprintf(wrong, sizeof wrong, "%s/K.npy.ntk-tmp.%ld.%s.toolong1", dir, (long)pid, host);
        write_text(name, "stale");
        write_text(other, "another host's");
        write_text(locked, "locked");
        write_text(foreign, "another target's");
        write_text(wrong, "not our pattern");
        int lfd = open(locked, O_RDONLY);
        assert_true(lfd >= 0);
        assert_int_equal(flock(lfd, LOCK_EX), 0);
        write_ok(k, a, 4, 1, 1);
        assert_int_equal(access(name, F_OK), -1);
        assert_int_equal(access(other, F_OK), 0);
        assert_int_equal(access(locked, F_OK), 0);
        assert_int_equal(access(foreign, F_OK), 0);
        assert_int_equal(access(wrong, F_OK), 0);
        close(lfd); /* unlocked: now it goes */
        write_ok(k, a, 4, 1, 1);
        assert_int_equal(access(locked, F_OK), -1);
        unlink(other);
        unlink(foreign);
        unlink(wrong);
        unlink(k);
        assert_int_equal(count_other_entries(dir, NULL), 0);
        assert_int_equal(rmdir(dir), 0);
        free(k);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_default),
        cmocka_unit_test(test_unknown_format),
        cmocka_unit_test(test_extension_case),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_csv_roundtrip),
        cmocka_unit_test(test_csv_roundtrip_nonfinite),
        cmocka_unit_test(test_csv_write_format),
        cmocka_unit_test(test_csv_long_line),
        cmocka_unit_test(test_npy_fixtures),
        cmocka_unit_test(test_npy_write_matches_numpy),
        cmocka_unit_test(test_csv_numpy_savetxt),
        cmocka_unit_test(test_npy_header_variants),
        cmocka_unit_test(test_npy_errors),
        cmocka_unit_test(test_npy_header_errors),
        cmocka_unit_test(test_csv_read),
        cmocka_unit_test(test_csv_header_modes),
        cmocka_unit_test(test_csv_auto_header),
        cmocka_unit_test(test_csv_columns),
        cmocka_unit_test(test_csv_column_errors),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_read_from_fifo),
        cmocka_unit_test(test_write_missing_dir),
        cmocka_unit_test(test_write_failure_keeps_old),
        cmocka_unit_test(test_write_rename_failure),
        cmocka_unit_test(test_write_replace_and_mode),
        cmocka_unit_test(test_outputs_all_or_nothing),
        cmocka_unit_test(test_outputs_killed_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
