/*
 * test_npz.c — .npz archives (include/ntk.h, ".npz archives"): round trips (arrays and a
 * text member, bitwise), the archives numpy writes (tests/data/npz/, made
 * by tools/make_npz_fixtures.py: np.savez, np.savez_compressed, a stream
 * with data descriptors, zip64 records, a member added by zipfile), our
 * writer against np.savez byte for byte (zip64 too: with zipfile's limits
 * lowered, our records are zipfile's bytes; every combination of limits
 * reads back; arrays added by reference give the same bytes as copies),
 * written_by_ntk.npz (which the
 * fixture script checks numpy reads), the builder's and the reader's error
 * paths with their messages, archives damaged field by field, and a bounded
 * robustness loop (every truncation, random bit flips and overwrites) that
 * must end in a clean status: no crash, no leak under the sanitizers.
 * Lazy reads (members left in the file until a get): the same bytes and
 * arrays as reading everything at the open, on every fixture; damage found
 * at the get, naming the member; a file renamed over, rewritten in place,
 * truncated or removed after the open; a read archive written again; 70 000
 * members found by hash; gets from several threads; and the robustness
 * loop comparing lazy and eager reads of every fixture.
 *
 * NTK_NPZ_REGEN=1 first rewrites $NTK_TEST_DIR/data/npz/written_by_ntk.npz
 * (NTK_NPZ_REGEN=1 ctest --test-dir build -R test_npz), then compares.
 */
#include "testutil.h"
#include "ntk.h"
#include "io/io_internal.h" /* ntk_npz_write_limits, ntk_npz_read_limits, ntk_npz_get_array_to */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

/* ------------------------------------------------------------ helpers */

#define assert_has(msg, sub)                                                                   \
    do {                                                                                       \
        if (!strstr((msg), (sub))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub));      \
    } while (0)

static void write_bytes(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0, got;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
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

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static ntk_npz *new_npz(void)
{
    ntk_error err;
    ntk_npz *z = NULL;
    if (ntk_npz_create(&z, &err)) fail_msg("ntk_npz_create: %s", err.msg);
    assert_non_null(z);
    return z;
}

static void add_array(ntk_npz *z, const char *name, const double *a, size_t r, size_t c, int ndim)
{
    ntk_error err;
    if (ntk_npz_add_array(z, name, a, r, c, ndim, &err))
        fail_msg("add_array %s: %s", name, err.msg);
}

static void add_bytes(ntk_npz *z, const char *member, const void *b, size_t n)
{
    ntk_error err;
    if (ntk_npz_add_bytes(z, member, b, n, &err)) fail_msg("add_bytes %s: %s", member, err.msg);
}

static void write_npz(const ntk_npz *z, const char *path)
{
    ntk_error err;
    if (ntk_npz_write(z, path, &err)) fail_msg("writing %s: %s", path, err.msg);
}

static ntk_npz *read_npz(const char *path)
{
    ntk_error err;
    ntk_npz *z = NULL;
    if (ntk_npz_read(path, &z, &err)) fail_msg("reading %s: %s", path, err.msg);
    assert_non_null(z);
    return z;
}

static ntk_matrix get_array(const ntk_npz *z, const char *name)
{
    ntk_error err;
    ntk_matrix m = {0};
    if (ntk_npz_get_array(z, name, &m, &err)) fail_msg("get_array %s: %s", name, err.msg);
    assert_non_null(m.data);
    return m;
}

/* The array `name` must have this shape and exactly these bits. */
static void expect_array(const ntk_npz *z, const char *name, size_t r, size_t c, int ndim,
                         const double *want)
{
    ntk_matrix m = get_array(z, name);
    assert_int_equal(m.rows, r);
    assert_int_equal(m.cols, c);
    assert_int_equal(m.ndim, ndim);
    for (size_t k = 0; k < r * c; k++)
        if (memcmp(&m.data[k], &want[k], sizeof(double)) != 0)
            fail_msg("%s: element %zu: got %.17g, want %.17g (bitwise)", name, k, m.data[k],
                     want[k]);
    ntk_matrix_free(&m);
}

static void expect_bytes(const ntk_npz *z, const char *member, const void *want, size_t n)
{
    ntk_error err;
    char *b = NULL;
    size_t got = 99;
    if (ntk_npz_get_bytes(z, member, &b, &got, &err)) fail_msg("get_bytes %s: %s", member, err.msg);
    assert_int_equal(got, n);
    if (n) assert_memory_equal(b, want, n);
    assert_int_equal(b[n], '\0');
    free(b);
}

/* The member names, in archive order, must be the NULL-terminated list. */
static void expect_names(const ntk_npz *z, ...)
{
    va_list ap;
    va_start(ap, z);
    size_t i = 0;
    const char *want;
    while ((want = va_arg(ap, const char *))) {
        const char *got = ntk_npz_member_name(z, i);
        if (!got || strcmp(got, want)) fail_msg("member %zu: got '%s', want '%s'", i, got, want);
        i++;
    }
    va_end(ap);
    assert_int_equal(ntk_npz_count(z), i);
    assert_null(ntk_npz_member_name(z, i));
}

/* Reading `path` must fail with `want`; the one-line message names the
 * file and holds every string of the NULL-terminated list. */
static void expect_read_errorv(const char *path, ntk_status want, va_list ap)
{
    ntk_error err = {NTK_OK, ""};
    ntk_npz *z = (ntk_npz *)&err; /* must come back NULL */
    ntk_status st = ntk_npz_read(path, &z, &err);
    if (st != want)
        fail_msg("%s: status %d (%s), want %d (%s); message: %s", path, st, ntk_status_string(st),
                 want, ntk_status_string(want), err.msg);
    assert_int_equal(err.status, want);
    assert_null(z);
    assert_has(err.msg, path);
    assert_null(strchr(err.msg, '\n'));
    const char *sub;
    while ((sub = va_arg(ap, const char *))) assert_has(err.msg, sub);
}

static void expect_read_error(const char *path, ntk_status want, ...)
{
    va_list ap;
    va_start(ap, want);
    expect_read_errorv(path, want, ap);
    va_end(ap);
}

/* Writes `n` bytes to a fresh .npz and expects the read to fail. */
static void bytes_error(const unsigned char *b, size_t n, ntk_status want, ...)
{
    char *p = tu_tmpfile(".npz");
    write_bytes(p, b, n);
    va_list ap;
    va_start(ap, want);
    expect_read_errorv(p, want, ap);
    va_end(ap);
    unlink(p);
    free(p);
}

static ntk_npz *bytes_ok(const unsigned char *b, size_t n)
{
    char *p = tu_tmpfile(".npz");
    write_bytes(p, b, n);
    ntk_npz *z = read_npz(p);
    unlink(p);
    free(p);
    return z;
}

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

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* The value tools/make_npz_fixtures.py stores at C-order index k. */
static double fval(size_t k) { return ((double)k - 5) / 3.0; }

static double *fvals(size_t n)
{
    double *a = malloc(n * sizeof *a);
    assert_non_null(a);
    for (size_t k = 0; k < n; k++) a[k] = fval(k);
    return a;
}

static void expect_fvals(const ntk_npz *z, const char *name, size_t r, size_t c, int ndim)
{
    double *w = fvals(r * c);
    expect_array(z, name, r, c, ndim, w);
    free(w);
}

/* Where things are in an archive with no comment: the end record is the
 * last 22 bytes; the i-th central directory entry. */
static unsigned char *cd_entry(unsigned char *b, size_t n, size_t i)
{
    unsigned char *end = b + n - 22;
    assert_int_equal(rd32(end), 0x06054b50u);
    unsigned char *e = b + rd32(end + 16);
    for (; i > 0; i--) e += 46 + rd16(e + 28) + rd16(e + 30) + rd16(e + 32);
    assert_int_equal(rd32(e), 0x02014b50u);
    return e;
}

static unsigned char *local_of(unsigned char *b, unsigned char *cd)
{
    unsigned char *h = b + rd32(cd + 42);
    assert_int_equal(rd32(h), 0x04034b50u);
    return h;
}

/* ------------------------------------------------------------ round trips */

static void fill_awkward(double *a, size_t n, uint64_t seed)
{
    static const double special[] = {0.0, -0.0, 1.0, -1.0, DBL_MAX, -DBL_MAX, DBL_MIN,
                                     4.9406564584124654e-324, -2.5e-310, INFINITY, -INFINITY,
                                     NAN, 1.0 / 3.0};
    tu_rng r = {seed};
    tu_fill_normal(&r, a, n, 1.0);
    for (size_t i = 0; i < n; i++)
        if (i % 3 == 0) a[i] *= pow(10.0, (double)((int)(tu_uniform(&r) * 40) - 20));
    for (size_t i = 0; i < n && i < sizeof special / sizeof *special; i++) a[i] = special[i];
}

static void test_roundtrip(void **state)
{
    (void)state;
    double W[7 * 5], b[5], one = -0.0, col[3];
    fill_awkward(W, 35, 1);
    fill_awkward(b, 5, 2);
    fill_awkward(col, 3, 3);
    const char *arch = "dense(5,w_std=1.5,b_std=0.05),relu,dense(1)\n";

    ntk_npz *z = new_npz();
    add_array(z, "dense0.W", W, 7, 5, 2);
    add_array(z, "dense0.b", b, 5, 1, 1);
    add_array(z, "scalar", &one, 1, 1, 2);
    add_array(z, "col", col, 3, 1, 2);
    add_bytes(z, "arch.txt", arch, strlen(arch));
    add_bytes(z, "empty", NULL, 0);
    add_bytes(z, "bin", "a\0b\xff", 4);
    /* readable before it is written */
    expect_array(z, "dense0.W", 7, 5, 2, W);
    expect_bytes(z, "arch.txt", arch, strlen(arch));

    char *p = tu_tmpfile(".npz");
    write_npz(z, p);
    ntk_npz_free(z);
    z = read_npz(p);
    expect_names(z, "dense0.W.npy", "dense0.b.npy", "scalar.npy", "col.npy", "arch.txt", "empty",
                 "bin", NULL);
    expect_array(z, "dense0.W", 7, 5, 2, W);
    expect_array(z, "dense0.b", 5, 1, 1, b);
    expect_array(z, "scalar", 1, 1, 2, &one);
    expect_array(z, "col", 3, 1, 2, col);
    expect_array(z, "col.npy", 3, 1, 2, col); /* the full member name works too */
    expect_bytes(z, "arch.txt", arch, strlen(arch));
    expect_bytes(z, "empty", "", 0);
    expect_bytes(z, "bin", "a\0b\xff", 4);
    char *npy;
    size_t nnpy;
    ntk_error err;
    assert_int_equal(ntk_npz_get_bytes(z, "dense0.b.npy", &npy, &nnpy, &err), NTK_OK);
    assert_int_equal(nnpy, 128 + 5 * 8);
    assert_memory_equal(npy, "\x93NUMPY\x01\x00", 8); /* the .npy itself */
    free(npy);

    /* an archive that was read can grow and be written again */
    add_bytes(z, "more", "x", 1);
    char *p2 = tu_tmpfile(".npz");
    write_npz(z, p2);
    ntk_npz_free(z);
    z = read_npz(p2);
    assert_int_equal(ntk_npz_count(z), 8);
    expect_array(z, "dense0.W", 7, 5, 2, W);
    expect_bytes(z, "more", "x", 1);
    ntk_npz_free(z);

    /* no members at all: a 22-byte archive */
    z = new_npz();
    write_npz(z, p);
    ntk_npz_free(z);
    size_t n;
    unsigned char *raw = slurp(p, &n);
    assert_int_equal(n, 22);
    free(raw);
    z = read_npz(p);
    assert_int_equal(ntk_npz_count(z), 0);
    ntk_npz_free(z);

    unlink(p);
    unlink(p2);
    free(p);
    free(p2);
}

/* A bigger archive through both paths: many members, a larger array. */
static void test_roundtrip_large(void **state)
{
    (void)state;
    size_t r = 300, c = 200;
    double *a = malloc(r * c * sizeof *a);
    assert_non_null(a);
    fill_awkward(a, r * c, 9);
    ntk_npz *z = new_npz();
    add_array(z, "big", a, r, c, 2);
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "layer%03d.b", i);
        add_array(z, name, a + i, (size_t)i + 1, 1, 1);
    }
    char *p = tu_tmpfile(".npz");
    write_npz(z, p);
    ntk_npz_free(z);
    z = read_npz(p);
    assert_int_equal(ntk_npz_count(z), 201);
    expect_array(z, "big", r, c, 2, a);
    for (int i = 0; i < 200; i += 37) {
        snprintf(name, sizeof name, "layer%03d.b", i);
        expect_array(z, name, (size_t)i + 1, 1, 1, a + i);
    }
    ntk_npz_free(z);
    unlink(p);
    free(p);
    free(a);
}

/* ------------------------------------------------------------ numpy */

/* np.savez, np.savez_compressed and np.savez to an unseekable stream (data
 * descriptors) of the same arrays. */
static void check_mixed(const char *rel)
{
    char *p = tu_path(rel);
    ntk_npz *z = read_npz(p);
    expect_names(z, "W.npy", "b.npy", "f32.npy", "i8.npy", "F.npy", "be.npy", "dense0.W.npy",
                 NULL);
    expect_fvals(z, "W", 3, 4, 2);
    expect_fvals(z, "b", 4, 1, 1);
    expect_fvals(z, "F", 3, 2, 2);
    expect_fvals(z, "be", 2, 2, 2);
    expect_fvals(z, "dense0.W", 2, 5, 2);
    double f32[6], i8[5];
    for (size_t k = 0; k < 6; k++) f32[k] = (double)(float)fval(k);
    for (size_t k = 0; k < 5; k++) i8[k] = ((double)k - 5) * 3;
    expect_array(z, "f32", 2, 3, 2, f32);
    expect_array(z, "i8", 5, 1, 1, i8);
    ntk_npz_free(z);
    free(p);
}

static void test_numpy_fixtures(void **state)
{
    (void)state;
    check_mixed("data/npz/savez.npz");
    check_mixed("data/npz/savez_compressed.npz");
    check_mixed("data/npz/savez_stream.npz");

    /* zipfile's zip64: sizes and offsets in the central directory's extra
     * field, a zip64 end record and locator */
    char *p = tu_path("data/npz/zip64.npz");
    ntk_npz *z = read_npz(p);
    expect_names(z, "W.npy", "b.npy", NULL);
    expect_fvals(z, "W", 3, 4, 2);
    expect_fvals(z, "b", 4, 1, 1);
    ntk_npz_free(z);
    free(p);

    /* np.savez plus a deflated arch.txt that zipfile appended */
    p = tu_path("data/npz/savez_arch.npz");
    z = read_npz(p);
    expect_names(z, "W.npy", "b.npy", "arch.txt", NULL);
    expect_fvals(z, "W", 3, 4, 2);
    const char *arch = "dense(4,w_std=1.5,b_std=0.05),relu,dense(1)\n";
    expect_bytes(z, "arch.txt", arch, strlen(arch));
    ntk_npz_free(z);
    free(p);
}

/* Our writer's bytes are np.savez's for the same float64 arrays. */
static void test_write_matches_numpy(void **state)
{
    (void)state;
    double *a = fvals(100);
    ntk_npz *z = new_npz();
    add_array(z, "W", a, 3, 4, 2);
    add_array(z, "b", a, 4, 1, 1);
    add_array(z, "v", a, 100, 1, 1);
    char *p = tu_tmpfile(".npz"), *ref = tu_path("data/npz/savez_f8.npz");
    write_npz(z, p);
    size_t n, nref;
    unsigned char *got = slurp(p, &n), *want = slurp(ref, &nref);
    assert_int_equal(n, nref);
    assert_memory_equal(got, want, n);
    ntk_npz_free(z);
    unlink(p);
    free(got);
    free(want);
    free(p);
    free(ref);
    free(a);
}

/* The archive tools/make_npz_fixtures.py loads with numpy. */
static const char ARCH[] = "dense(4,w_std=1.5,b_std=0.05),relu,dense(1)\n";

static ntk_npz *reference_archive(void)
{
    static const double special[10] = {0.0,      -0.0,      1.0, -1.5,      1e-310,
                                       DBL_MAX,  INFINITY, -INFINITY, NAN, 1.0 / 3.0};
    static const double theta[2] = {2.5, -0.5};
    double *a = fvals(12);
    ntk_npz *z = new_npz();
    add_array(z, "W", a, 3, 4, 2);
    add_array(z, "b", a, 4, 1, 1);
    add_array(z, "dense0.W", a, 2, 5, 2);
    add_array(z, "special", special, 10, 1, 1);
    add_array(z, "\xce\xb8", theta, 2, 1, 1); /* θ: UTF-8, zip flag bit 11 */
    add_bytes(z, "arch.txt", ARCH, strlen(ARCH));
    free(a);
    return z;
}

static void test_written_by_ntk(void **state)
{
    (void)state;
    ntk_npz *z = reference_archive();
    char *ref = tu_path("data/npz/written_by_ntk.npz");
    const char *regen = getenv("NTK_NPZ_REGEN");
    if (regen && *regen && strcmp(regen, "0")) {
        write_npz(z, ref);
        fprintf(stderr, "test_npz: wrote %s\n", ref);
    }
    char *p = tu_tmpfile(".npz");
    write_npz(z, p);
    size_t n, nref;
    unsigned char *got = slurp(p, &n), *want = slurp(ref, &nref);
    assert_int_equal(n, nref);
    assert_memory_equal(got, want, n);
    /* the non-ASCII name carries the UTF-8 flag, in both headers */
    unsigned char *cd = cd_entry(got, n, 4);
    assert_int_equal(rd16(cd + 8), 0x0800);
    assert_int_equal(rd16(local_of(got, cd) + 6), 0x0800);
    assert_int_equal(rd16(cd_entry(got, n, 0) + 8), 0);
    ntk_npz_free(z);

    z = read_npz(ref);
    expect_names(z, "W.npy", "b.npy", "dense0.W.npy", "special.npy", "\xce\xb8.npy", "arch.txt",
                 NULL);
    expect_fvals(z, "W", 3, 4, 2);
    expect_bytes(z, "arch.txt", ARCH, strlen(ARCH));
    ntk_npz_free(z);
    unlink(p);
    free(got);
    free(want);
    free(p);
    free(ref);
}

/* ------------------------------------------------------------ zip64 and references */

static void expect_fail(ntk_status st, const ntk_error *err, ntk_status want, const char *sub);

static void write_limits(const ntk_npz *z, const char *path, uint64_t limit, uint64_t count_limit)
{
    ntk_error err;
    if (ntk_npz_write_limits(z, path, limit, count_limit, &err)) fail_msg("writing %s: %s", path, err.msg);
}

static void same_file(const char *p, const char *rel)
{
    char *ref = tu_path(rel);
    size_t n, nref;
    unsigned char *got = slurp(p, &n), *want = slurp(ref, &nref);
    if (n != nref) fail_msg("%s: %zu bytes, %s has %zu", p, n, rel, nref);
    assert_memory_equal(got, want, n);
    free(got);
    free(want);
    free(ref);
}

/* zipfile with its limits lowered (tools/make_npz_fixtures.py) writes zip64
 * records where a > 2 GiB archive needs them; ours, with the same limits,
 * are the same bytes, whether the arrays are copied or referenced. */
static void test_zip64_matches_zipfile(void **state)
{
    (void)state;
    double *a = fvals(100);
    char *p = tu_tmpfile(".npz");
    for (int ref = 0; ref < 2; ref++) {
        ntk_error err;
        ntk_npz *z = new_npz();
        if (ref) {
            assert_int_equal(ntk_npz_add_array_ref(z, "W", a, 3, 4, 2, &err), NTK_OK);
            assert_int_equal(ntk_npz_add_array_ref(z, "b", a, 4, 1, 1, &err), NTK_OK);
            assert_int_equal(ntk_npz_add_array_ref(z, "v", a, 100, 1, 1, &err), NTK_OK);
        } else {
            add_array(z, "W", a, 3, 4, 2);
            add_array(z, "b", a, 4, 1, 1);
            add_array(z, "v", a, 100, 1, 1);
        }
        write_npz(z, p); /* default limits: np.savez's bytes */
        same_file(p, "data/npz/savez_f8.npz");
        write_limits(z, p, 0, 0); /* every size and offset, and the end record */
        same_file(p, "data/npz/zip64_all.npz");
        ntk_npz_free(z);

        z = new_npz();
        if (ref) {
            assert_int_equal(ntk_npz_add_array_ref(z, "W", a, 3, 4, 2, &err), NTK_OK);
            assert_int_equal(ntk_npz_add_array_ref(z, "b", a, 4, 1, 1, &err), NTK_OK);
        } else {
            add_array(z, "W", a, 3, 4, 2);
            add_array(z, "b", a, 4, 1, 1);
        }
        write_limits(z, p, 10, 1); /* zip64.npz: ZIP64_LIMIT 10, ZIP_FILECOUNT_LIMIT 1 */
        same_file(p, "data/npz/zip64.npz");
        ntk_npz_free(z);
    }
    /* and what zipfile's zip64 holds reads back: stored and deflated */
    ntk_npz *z = read_npz(p);
    expect_fvals(z, "W", 3, 4, 2);
    ntk_npz_free(z);
    char *q = tu_path("data/npz/zip64_all.npz");
    z = read_npz(q);
    expect_names(z, "W.npy", "b.npy", "v.npy", NULL);
    expect_fvals(z, "v", 100, 1, 1);
    ntk_npz_free(z);
    free(q);
    check_mixed("data/npz/zip64_deflate.npz");
    unlink(p);
    free(p);
    free(a);
}

/* Where the writer put zip64 records, walked from the end of the file. */
typedef struct {
    int end64;              /* a zip64 end record and locator */
    uint64_t count, cd_off;  /* from the zip64 end record, else the end record */
    size_t n_extra;         /* central directory entries with a zip64 extra */
} zip64_layout;

static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static zip64_layout layout_of(const unsigned char *b, size_t n)
{
    zip64_layout L = {0};
    const unsigned char *end = b + n - 22;
    assert_int_equal(rd32(end), 0x06054b50u);
    L.count = rd16(end + 10);
    L.cd_off = rd32(end + 16);
    if (n >= 22 + 20 + 56 && rd32(end - 20) == 0x07064b50u) {
        const unsigned char *e64 = b + rd64(end - 20 + 8);
        assert_int_equal(rd32(e64), 0x06064b50u);
        assert_int_equal(rd64(e64 + 4), 44);
        L.end64 = 1;
        L.count = rd64(e64 + 32);
        L.cd_off = rd64(e64 + 48);
    }
    const unsigned char *e = b + L.cd_off;
    for (uint64_t i = 0; i < L.count; i++) {
        assert_int_equal(rd32(e), 0x02014b50u);
        size_t nl = rd16(e + 28), el = rd16(e + 30);
        if (el >= 4 && rd16(e + 46 + nl) == 1) L.n_extra++;
        e += 46 + nl + el + rd16(e + 32);
    }
    return L;
}

/* Every combination of lowered limits: our reader reads our zip64 output
 * (copied and referenced arrays, raw and empty members), and the records
 * are where zipfile's rule puts them. */
static void test_zip64_roundtrip(void **state)
{
    (void)state;
    enum { R = 40, C = 7 };
    double *a = malloc(R * C * sizeof *a), *b = malloc(R * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    fill_awkward(a, R * C, 11);
    fill_awkward(b, R, 12);
    ntk_error err;
    ntk_npz *z = new_npz();
    add_bytes(z, "arch.txt", ARCH, strlen(ARCH));
    assert_int_equal(ntk_npz_add_array_ref(z, "a", a, R, C, 2, &err), NTK_OK);
    add_array(z, "b", b, R, 1, 1);
    add_bytes(z, "empty", NULL, 0);
    assert_int_equal(ntk_npz_add_array_ref(z, "col", b, R, 1, 2, &err), NTK_OK);
    /* member sizes 44, 128 + 8·280, 128 + 320 (twice), 0 */
    const uint64_t limits[] = {0, 1, 44, 100, 500, 2000, 3000, 0x7fffffff};
    const uint64_t counts[] = {0, 1, 4, 5, 65535};
    char *p = tu_tmpfile(".npz");
    for (size_t li = 0; li < sizeof limits / sizeof *limits; li++)
        for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
            uint64_t lim = limits[li], cnt = counts[ci];
            write_limits(z, p, lim, cnt);
            size_t n;
            unsigned char *raw = slurp(p, &n);
            zip64_layout L = layout_of(raw, n);
            assert_int_equal(L.count, 5);
            /* zipfile's rule, recomputed from the layout of the file */
            uint64_t sizes[5] = {strlen(ARCH), 128 + 8 * R * C, 128 + 8 * R, 0, 128 + 8 * R}, off = 0;
            const char *names[5] = {"arch.txt", "a.npy", "b.npy", "empty", "col.npy"};
            size_t want_extra = 0;
            for (int i = 0; i < 5; i++) {
                want_extra += sizes[i] > lim || off > lim;
                off += 30 + strlen(names[i]) + 20 + sizes[i];
            }
            assert_int_equal(L.cd_off, off);
            uint64_t cd_size = (uint64_t)(raw + n - 22 - (L.end64 ? 76 : 0) - (raw + off));
            assert_int_equal(L.n_extra, want_extra);
            assert_int_equal(L.end64, 5 > cnt || off > lim || cd_size > lim);
            free(raw);
            ntk_npz *r = read_npz(p);
            expect_names(r, "arch.txt", "a.npy", "b.npy", "empty", "col.npy", NULL);
            expect_bytes(r, "arch.txt", ARCH, strlen(ARCH));
            expect_array(r, "a", R, C, 2, a);
            expect_array(r, "b", R, 1, 1, b);
            expect_array(r, "col", R, 1, 2, b);
            expect_bytes(r, "empty", "", 0);
            ntk_npz_free(r);
        }
    ntk_npz_free(z);
    unlink(p);
    free(p);
    free(a);
    free(b);
}

/* A referenced array: the same file as a copied one, readable from the
 * archive before it is written, and its errors those of a copy. */
static void test_array_ref(void **state)
{
    (void)state;
    enum { R = 33, C = 9 };
    double *a = malloc(R * C * sizeof *a);
    assert_non_null(a);
    fill_awkward(a, R * C, 21);
    ntk_error err;
    ntk_npz *zc = new_npz(), *zr = new_npz();
    add_array(zc, "a", a, R, C, 2);
    add_array(zc, "d", a, R * C, 1, 1);
    add_bytes(zc, "arch.txt", ARCH, strlen(ARCH));
    assert_int_equal(ntk_npz_add_array_ref(zr, "a", a, R, C, 2, &err), NTK_OK);
    assert_int_equal(ntk_npz_add_array_ref(zr, "d", a, R * C, 1, 1, &err), NTK_OK);
    add_bytes(zr, "arch.txt", ARCH, strlen(ARCH));
    expect_array(zr, "a", R, C, 2, a);
    expect_array(zr, "d", R * C, 1, 1, a);
    char *bc, *br;
    size_t nc, nr;
    assert_int_equal(ntk_npz_get_bytes(zc, "a.npy", &bc, &nc, &err), NTK_OK);
    assert_int_equal(ntk_npz_get_bytes(zr, "a.npy", &br, &nr, &err), NTK_OK);
    assert_int_equal(nc, nr);
    assert_memory_equal(bc, br, nc + 1);
    free(bc);
    free(br);
    char *p = tu_tmpfile(".npz"), *q = tu_tmpfile(".npz");
    write_npz(zc, p);
    write_npz(zr, q);
    size_t n1, n2;
    unsigned char *f1 = slurp(p, &n1), *f2 = slurp(q, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    free(f1);
    free(f2);
    /* errors: as ntk_npz_add_array's */
    expect_fail(ntk_npz_add_array_ref(zr, "a", a, R, C, 2, &err), &err, NTK_E_INVAL, "already in the archive");
    expect_fail(ntk_npz_add_array_ref(zr, "", a, R, C, 2, &err), &err, NTK_E_INVAL, "must not be empty");
    expect_fail(ntk_npz_add_array_ref(zr, "x", a, R, C, 3, &err), &err, NTK_E_INVAL, "ndim must be 1 or 2, not 3");
    expect_fail(ntk_npz_add_array_ref(zr, "x", a, R, C, 1, &err), &err, NTK_E_INVAL, "a 1-D array has 1 column");
    expect_fail(ntk_npz_add_array_ref(zr, "x", NULL, R, C, 2, &err), &err, NTK_E_INVAL, "data must not be NULL");
    expect_fail(ntk_npz_add_array_ref(zr, "x", a, SIZE_MAX / 4, 4, 2, &err), &err, NTK_E_INVAL, "too large");
    expect_fail(ntk_npz_add_array_ref(NULL, "x", a, R, C, 2, &err), &err, NTK_E_INVAL, "must not be NULL");
    assert_int_equal(ntk_npz_count(zr), 3);
    /* an empty array by reference: no data needed */
    assert_int_equal(ntk_npz_add_array_ref(zr, "e", NULL, 0, 3, 2, &err), NTK_OK);
    write_npz(zr, q);
    ntk_npz *r = read_npz(q);
    ntk_matrix m;
    assert_int_equal(ntk_npz_get_array(r, "e", &m, &err), NTK_E_FORMAT); /* the reader refuses empty arrays */
    ntk_npz_free(r);
    ntk_npz_free(zc);
    ntk_npz_free(zr);
    unlink(p);
    unlink(q);
    free(p);
    free(q);
    free(a);
}

/* ------------------------------------------------------------ errors: building */

static void expect_fail(ntk_status st, const ntk_error *err, ntk_status want, const char *sub)
{
    if (st != want)
        fail_msg("status %d (%s), want %d; message: %s", st, ntk_status_string(st), want,
                 err->msg);
    assert_int_equal(err->status, want);
    assert_has(err->msg, sub);
    assert_null(strchr(err->msg, '\n'));
}

static void test_add_errors(void **state)
{
    (void)state;
    ntk_error err;
    double a[4] = {1, 2, 3, 4};
    ntk_npz *z = new_npz();
    add_array(z, "W", a, 2, 2, 2);
    expect_fail(ntk_npz_add_array(z, "W", a, 2, 2, 2, &err), &err, NTK_E_INVAL,
                "(new archive): member 'W.npy' is already in the archive");
    expect_fail(ntk_npz_add_bytes(z, "W.npy", a, 1, &err), &err, NTK_E_INVAL,
                "member 'W.npy' is already in the archive");
    expect_fail(ntk_npz_add_array(z, "", a, 2, 2, 2, &err), &err, NTK_E_INVAL,
                "an array name must not be empty");
    expect_fail(ntk_npz_add_bytes(z, "", a, 1, &err), &err, NTK_E_INVAL,
                "a member name must not be empty");
    expect_fail(ntk_npz_add_array(z, "x", a, 2, 2, 3, &err), &err, NTK_E_INVAL,
                "member 'x.npy': ndim must be 1 or 2, not 3");
    expect_fail(ntk_npz_add_array(z, "x", a, 2, 2, 1, &err), &err, NTK_E_INVAL,
                "a 1-D array has 1 column, not 2");
    expect_fail(ntk_npz_add_array(z, "x", NULL, 2, 2, 2, &err), &err, NTK_E_INVAL,
                "data must not be NULL");
    expect_fail(ntk_npz_add_array(z, "x", a, SIZE_MAX / 4, 4, 2, &err), &err, NTK_E_INVAL,
                "is too large");
    expect_fail(ntk_npz_add_bytes(z, "x", NULL, 3, &err), &err, NTK_E_INVAL,
                "data must not be NULL");
    expect_fail(ntk_npz_add_array(NULL, "x", a, 1, 1, 2, &err), &err, NTK_E_INVAL,
                "must not be NULL");
    expect_fail(ntk_npz_add_bytes(z, NULL, a, 1, &err), &err, NTK_E_INVAL, "must not be NULL");
    expect_fail(ntk_npz_write(NULL, "x.npz", &err), &err, NTK_E_INVAL, "must not be NULL");
    expect_fail(ntk_npz_write(z, NULL, &err), &err, NTK_E_INVAL, "must not be NULL");
    expect_fail(ntk_npz_create(NULL, &err), &err, NTK_E_INVAL, "must not be NULL");
    char *name = malloc(70000);
    memset(name, 'n', 69999);
    name[69999] = '\0';
    expect_fail(ntk_npz_add_bytes(z, name, a, 1, &err), &err, NTK_E_INVAL,
                "is 69999 bytes long (at most 65535)");
    free(name);
    /* nothing half-added */
    expect_names(z, "W.npy", NULL);
    /* a zero-row array is written (as ntk_io_write does) but not read back */
    add_array(z, "none", NULL, 0, 1, 1);
    expect_fail(ntk_npz_get_array(z, "none", &(ntk_matrix){0}, &err), &err, NTK_E_FORMAT,
                "(new archive): member 'none.npy': array of shape (0,) is empty");
    /* err may be NULL */
    assert_int_equal(ntk_npz_add_array(z, "W", a, 2, 2, 2, NULL), NTK_E_INVAL);
    ntk_npz_free(z);
    ntk_npz_free(NULL);
    assert_int_equal(ntk_npz_count(NULL), 0);
    assert_null(ntk_npz_member_name(NULL, 0));
}

static void test_get_errors(void **state)
{
    (void)state;
    ntk_error err;
    char *p = tu_path("data/npz/savez_arch.npz");
    ntk_npz *z = read_npz(p);
    double sentinel = 1;
    ntk_matrix m = {&sentinel, 1, 1, 2};
    expect_fail(ntk_npz_get_array(z, "dense0.W", &m, &err), &err, NTK_E_FORMAT,
                "no array 'dense0.W' in the archive (arrays: W, b)");
    assert_has(err.msg, p);
    assert_null(m.data);
    expect_fail(ntk_npz_get_array(z, "arch.txt", &m, &err), &err, NTK_E_FORMAT,
                "no array 'arch.txt' in the archive");
    char *b = (char *)&sentinel;
    size_t n = 5;
    expect_fail(ntk_npz_get_bytes(z, "arch", &b, &n, &err), &err, NTK_E_FORMAT,
                "no member 'arch' in the archive");
    assert_null(b);
    assert_int_equal(n, 0);
    expect_fail(ntk_npz_get_array(z, NULL, &m, &err), &err, NTK_E_INVAL, "must not be NULL");
    expect_fail(ntk_npz_get_bytes(z, "arch.txt", NULL, &n, &err), &err, NTK_E_INVAL,
                "must not be NULL");
    ntk_npz_free(z);
    free(p);

    /* valid .npy members that ntk cannot use: the .npy reader's messages,
     * labelled with the archive and the member */
    p = tu_path("data/npz/unsupported.npz");
    z = read_npz(p);
    expect_fail(ntk_npz_get_array(z, "cube", &m, &err), &err, NTK_E_FORMAT,
                "unsupported.npz: member 'cube.npy': 3-D array of shape (2, 2, 2)");
    expect_fail(ntk_npz_get_array(z, "text", &m, &err), &err, NTK_E_FORMAT,
                "unsupported.npz: member 'text.npy': unsupported dtype '<U2'");
    expect_fail(ntk_npz_get_array(z, "c16", &m, &err), &err, NTK_E_FORMAT,
                "member 'c16.npy': unsupported dtype '<c16'");
    ntk_npz_free(z);
    free(p);

    /* a member named like an array that is not one; names a message
     * must escape; many arrays listed with "..." */
    z = new_npz();
    add_bytes(z, "junk.npy", "hello", 5);
    add_bytes(z, "short.npy", "\x93NUMPY\x01\x00\x76\x00{'descr'", 17);
    expect_fail(ntk_npz_get_array(z, "junk", &m, &err), &err, NTK_E_FORMAT,
                "(new archive): member 'junk.npy': not a .npy file (bad magic string)");
    expect_fail(ntk_npz_get_array(z, "short", &m, &err), &err, NTK_E_FORMAT,
                "member 'short.npy': truncated: expected a header of 118 bytes, found 7");
    expect_fail(ntk_npz_get_array(z, "a\nb'c", &m, &err), &err, NTK_E_FORMAT,
                "no array 'a\\x0ab\\x27c' in the archive");
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "array_number_%02d", i);
        add_array(z, name, &sentinel, 1, 1, 1);
    }
    expect_fail(ntk_npz_get_array(z, "nope", &m, &err), &err, NTK_E_FORMAT,
                "(arrays: junk, short, array_number_00, ");
    assert_has(err.msg, ", ...)");
    ntk_npz_free(z);
    z = new_npz();
    expect_fail(ntk_npz_get_array(z, "nope", &m, &err), &err, NTK_E_FORMAT,
                "no array 'nope' in the archive (it has no arrays)");
    ntk_npz_free(z);
}

/* ------------------------------------------------------------ errors: files */

static void test_read_errors(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *p = join(dir, "x.npz");
    expect_read_error(p, NTK_E_IO, "cannot open: No such file or directory", NULL);
    write_bytes(p, "", 0);
    expect_read_error(p, NTK_E_FORMAT, "not an .npz archive (the file is empty)", NULL);
    write_bytes(p, "PK\x03\x04", 4);
    expect_read_error(p, NTK_E_FORMAT, "4 bytes are too few for a zip file", NULL);
    const char *text = "this is not a zip archive, just some text\n";
    write_bytes(p, text, strlen(text));
    expect_read_error(p, NTK_E_FORMAT, "not an .npz (zip) archive: no end-of-central-directory",
                      NULL);
    ntk_error err;
    double a[3] = {1, 2, 3};
    char *npy = join(dir, "a.npy");
    assert_int_equal(ntk_io_write(npy, a, 3, 1, 1, &err), NTK_OK);
    expect_read_error(npy, NTK_E_FORMAT, "not an .npz archive: it is a single .npy array", NULL);
    unlink(npy);
    free(npy);
    /* the first half of a real archive */
    char *ref = tu_path("data/npz/savez.npz");
    size_t n;
    unsigned char *b = slurp(ref, &n);
    write_bytes(p, b, n / 2);
    expect_read_error(p, NTK_E_FORMAT, "truncated or damaged zip archive", NULL);
    unlink(p);
    /* a directory */
    assert_int_equal(mkdir(p, 0700), 0);
    expect_read_error(p, NTK_E_IO, NULL);
    assert_int_equal(rmdir(p), 0);
    ntk_npz *z = (ntk_npz *)&err;
    assert_int_equal(ntk_npz_read(NULL, &z, &err), NTK_E_INVAL);
    assert_null(z);
    assert_int_equal(ntk_npz_read(p, NULL, &err), NTK_E_INVAL);
    assert_int_equal(rmdir(dir), 0);
    free(b);
    free(ref);
    free(p);
    free(dir);
}

/* One archive of our writer, damaged one field at a time. */
static unsigned char *two_members(size_t *n)
{
    double a[6] = {1, 2, 3, 4, 5, 6};
    ntk_npz *z = new_npz();
    add_array(z, "a", a, 2, 3, 2);
    add_bytes(z, "b.txt", "bbbbbbbb", 8);
    char *p = tu_tmpfile(".npz");
    write_npz(z, p);
    unsigned char *b = slurp(p, n);
    unlink(p);
    free(p);
    ntk_npz_free(z);
    return b;
}

static void test_damaged(void **state)
{
    (void)state;
    size_t n;
    unsigned char *orig = two_members(&n), *b = malloc(n + 64);
    assert_non_null(b);
#define FRESH() memcpy(b, orig, n)
    unsigned char *cd0, *cd1, *end = b + n - 22;

    FRESH();
    cd0 = cd_entry(b, n, 0);
    wr32(cd0 + 16, rd32(cd0 + 16) ^ 1);
    bytes_error(b, n, NTK_E_FORMAT, "member 'a.npy': CRC-32 mismatch", "the data is corrupt", NULL);

    FRESH();
    cd0 = cd_entry(b, n, 0);
    local_of(b, cd0)[30 + 5 + 20 + 130] ^= 0x10; /* a data byte */
    bytes_error(b, n, NTK_E_FORMAT, "member 'a.npy': CRC-32 mismatch", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr16(cd1 + 10, 12);
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': compression method 12 is not supported",
                NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr16(cd1 + 8, 1);
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt' is encrypted", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    local_of(b, cd1)[0] = 'X';
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': bad local header signature", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    local_of(b, cd1)[30] = 'c';
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': the local header holds another name", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr32(cd1 + 42, rd32(end + 16) - 10);
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': bad offset", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr32(cd1 + 20, 9); /* compressed size: one byte into the directory */
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': its data (9 bytes at offset",
                "runs into the central directory", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr32(cd1 + 24, 7);
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': stored, but its sizes differ (8 and 7", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr32(cd1 + 20, 0xffffffffu); /* zip64 marker without a zip64 field */
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt': a size or offset is 0xffffffff",
                "zip64 extra field is missing", NULL);

    FRESH();
    cd1 = cd_entry(b, n, 1);
    wr16(cd1 + 34, 2);
    bytes_error(b, n, NTK_E_FORMAT, "member 'b.txt' starts on disk 2", NULL);

    FRESH();
    wr16(end + 4, 1);
    bytes_error(b, n, NTK_E_FORMAT, "multi-volume archives are not supported", NULL);

    FRESH();
    wr16(end + 8, 1);
    wr16(end + 10, 1);
    bytes_error(b, n, NTK_E_FORMAT, "it counts 1 members, the central directory holds more",
                NULL);

    FRESH();
    wr16(end + 8, 3);
    wr16(end + 10, 3);
    bytes_error(b, n, NTK_E_FORMAT, "3 entries cannot fit in", NULL);

    FRESH();
    wr32(end + 16, rd32(end + 16) + 1);
    bytes_error(b, n, NTK_E_FORMAT, "bad central directory", NULL);

    FRESH();
    wr32(end + 12, 0x7fffffff);
    bytes_error(b, n, NTK_E_FORMAT, "run past the end record", NULL);

    /* the second name made equal to the first (directory and header) */
    FRESH();
    {
        double a[1] = {1};
        ntk_npz *z = new_npz();
        add_array(z, "a", a, 1, 1, 1);
        add_array(z, "b", a, 1, 1, 1);
        char *p = tu_tmpfile(".npz");
        write_npz(z, p);
        size_t m;
        unsigned char *d = slurp(p, &m);
        unsigned char *c1 = cd_entry(d, m, 1);
        c1[46] = 'a';
        local_of(d, c1)[30] = 'a';
        bytes_error(d, m, NTK_E_FORMAT, "member 'a.npy' appears twice in the archive", NULL);
        /* a NUL, a newline in a name */
        c1[46] = local_of(d, c1)[30] = '\0';
        bytes_error(d, m, NTK_E_FORMAT, "member '\\x00.npy': the name holds a NUL byte", NULL);
        c1[46] = local_of(d, c1)[30] = '\n';
        wr32(c1 + 16, 0);
        bytes_error(d, m, NTK_E_FORMAT, "member '\\x0a.npy': CRC-32 mismatch", NULL);
        unlink(p);
        free(p);
        free(d);
        ntk_npz_free(z);
    }

    /* a comment after the end record, and stray bytes after that */
    FRESH();
    wr16(end + 20, 5);
    memcpy(b + n, "hello", 5);
    ntk_npz *z = bytes_ok(b, n + 5);
    assert_int_equal(ntk_npz_count(z), 2);
    ntk_npz_free(z);
    memcpy(b + n + 5, "garbage", 7);
    z = bytes_ok(b, n + 12);
    expect_bytes(z, "b.txt", "bbbbbbbb", 8);
    ntk_npz_free(z);
    /* a comment that claims more than the file holds hides the record */
    wr16(end + 20, 100);
    bytes_error(b, n + 12, NTK_E_FORMAT, "no end-of-central-directory record", NULL);
#undef FRESH
    free(b);
    free(orig);
}

/* np.savez_compressed's archive with damaged deflate members. */
static void test_damaged_deflate(void **state)
{
    (void)state;
    char *ref = tu_path("data/npz/savez_compressed.npz");
    size_t n;
    unsigned char *orig = slurp(ref, &n), *b = malloc(n);
    assert_non_null(b);
#define FRESH() memcpy(b, orig, n)
    unsigned char *cd;

    FRESH();
    cd = cd_entry(b, n, 0);
    wr32(cd + 24, 0xfffffff0u);
    bytes_error(b, n, NTK_E_FORMAT, "member 'W.npy':", "cannot inflate to 4294967280", NULL);

    FRESH();
    cd = cd_entry(b, n, 0);
    wr32(cd + 24, rd32(cd + 24) - 1);
    bytes_error(b, n, NTK_E_FORMAT, "member 'W.npy': inflates to more than the 223 bytes", NULL);

    FRESH();
    cd = cd_entry(b, n, 0);
    wr32(cd + 24, rd32(cd + 24) + 1);
    bytes_error(b, n, NTK_E_FORMAT, "member 'W.npy': inflates to 224 bytes, but the central "
                "directory says 225", NULL);

    FRESH();
    cd = cd_entry(b, n, 0);
    wr32(cd + 20, rd32(cd + 20) - 20);
    bytes_error(b, n, NTK_E_FORMAT, "member 'W.npy': truncated: the deflate stream ends after",
                NULL);

    FRESH();
    cd = cd_entry(b, n, 0);
    local_of(b, cd)[30 + 5 + 20] = 0xff; /* the first block header: invalid block type */
    bytes_error(b, n, NTK_E_FORMAT, "member 'W.npy': bad deflate data (zlib: invalid block type)",
                NULL);
#undef FRESH
    free(b);
    free(orig);
    free(ref);
}

/* Names are names: "../x" and "/abs" come back as they were and nothing is
 * created anywhere. */
static void test_path_like_names(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *p = join(dir, "n.npz");
    ntk_npz *z = new_npz();
    add_bytes(z, "../evil", "1", 1);
    add_bytes(z, "/tmp/abs", "2", 1);
    add_bytes(z, "sub/dir/x", "3", 1);
    double v = 4;
    add_array(z, "../w", &v, 1, 1, 1);
    write_npz(z, p);
    ntk_npz_free(z);
    z = read_npz(p);
    expect_names(z, "../evil", "/tmp/abs", "sub/dir/x", "../w.npy", NULL);
    expect_bytes(z, "../evil", "1", 1);
    expect_array(z, "../w", 1, 1, 1, &v);
    ntk_npz_free(z);
    assert_int_equal(count_entries(dir), 1);
    unlink(p);
    assert_int_equal(rmdir(dir), 0);
    free(p);
    free(dir);
}

/* ------------------------------------------------------------ atomic writes */

static void test_write_atomic(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *sub = join(dir, "nope"), *bad = join(sub, "x.npz");
    ntk_error err;
    ntk_npz *z = new_npz();
    add_bytes(z, "t", "x", 1);
    assert_int_equal(ntk_npz_write(z, bad, &err), NTK_E_IO);
    assert_has(err.msg, bad);
    assert_has(err.msg, "cannot create a temporary file: No such file or directory");
    ntk_npz_free(z);

    /* a failure half way (EFBIG, like a full disk) keeps the old file */
    char *p = join(dir, "k.npz");
    z = reference_archive();
    write_npz(z, p);
    ntk_npz_free(z);
    size_t nold;
    unsigned char *before = slurp(p, &nold);
    size_t r = 2000, c = 10;
    double *a = malloc(r * c * sizeof *a);
    assert_non_null(a);
    fill_awkward(a, r * c, 5);
    z = new_npz();
    add_array(z, "big", a, r, c, 2);
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    ntk_status st = ntk_npz_write(z, p, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, NTK_E_IO);
    assert_has(err.msg, "write failed: File too large");
    size_t nafter;
    unsigned char *after = slurp(p, &nafter);
    assert_int_equal(nafter, nold);
    assert_memory_equal(after, before, nold);
    assert_int_equal(count_entries(dir), 1);
    write_npz(z, p);
    ntk_npz_free(z);
    z = read_npz(p);
    expect_array(z, "big", r, c, 2, a);
    ntk_npz_free(z);

    unlink(p);
    assert_int_equal(rmdir(dir), 0);
    free(before);
    free(after);
    free(a);
    free(p);
    free(bad);
    free(sub);
    free(dir);
}

/* ------------------------------------------------------------ robustness */

/* Reads the damaged archive: a clean status, a one-line message naming
 * the file, and on success every member readable or refused cleanly. */
static int read_damaged(const char *p, const unsigned char *b, size_t n)
{
    unlink(p); /* a new file: ext4 flushes a truncated-and-rewritten one on close (4 ms) */
    write_bytes(p, b, n);
    ntk_error err = {NTK_OK, ""};
    ntk_npz *z = NULL;
    ntk_status st = ntk_npz_read(p, &z, &err);
    if (st != NTK_OK) {
        if (st != NTK_E_FORMAT) fail_msg("%zu bytes: status %d: %s", n, st, err.msg);
        assert_null(z);
        assert_has(err.msg, p);
        assert_null(strchr(err.msg, '\n'));
        return 0;
    }
    for (size_t i = 0; i < ntk_npz_count(z); i++) {
        const char *name = ntk_npz_member_name(z, i);
        char *d;
        size_t len;
        assert_int_equal(ntk_npz_get_bytes(z, name, &d, &len, &err), NTK_OK);
        free(d);
        size_t nl = strlen(name);
        if (nl > 4 && !strcmp(name + nl - 4, ".npy")) {
            ntk_matrix m;
            st = ntk_npz_get_array(z, name, &m, &err);
            if (st != NTK_OK && st != NTK_E_FORMAT)
                fail_msg("%s: status %d: %s", name, st, err.msg);
            ntk_matrix_free(&m);
        }
    }
    ntk_npz_free(z);
    return 1;
}

static void fuzz_file(const unsigned char *orig, size_t n, uint64_t seed, int flips)
{
    char *p = tu_tmpfile(".npz");
    unsigned char *b = malloc(n);
    assert_non_null(b);
    /* every truncation fails: the end record is gone */
    for (size_t k = 0; k < n; k++) assert_int_equal(read_damaged(p, orig, k), 0);
    assert_int_equal(read_damaged(p, orig, n), 1);
    /* single bit flips, then random bytes at random places */
    tu_rng r = {seed};
    int ok = 0;
    for (int t = 0; t < flips; t++) {
        memcpy(b, orig, n);
        size_t at = (size_t)(tu_uniform(&r) * (double)n);
        if (t % 4 == 3)
            for (int j = 0; j < 4; j++)
                b[(size_t)(tu_uniform(&r) * (double)n)] = (unsigned char)(tu_uniform(&r) * 256);
        else
            b[at] ^= (unsigned char)(1u << (int)(tu_uniform(&r) * 8));
        ok += read_damaged(p, b, n);
    }
    /* some flips hit fields nobody checks (dates, attributes), most not */
    assert_true(ok > 0 && ok < flips);
    unlink(p);
    free(p);
    free(b);
}

static void test_fuzz_archives(void **state)
{
    (void)state;
    size_t n;
    char *p = tu_path("data/npz/savez_compressed.npz");
    unsigned char *b = slurp(p, &n);
    fuzz_file(b, n, 11, 300);
    free(b);
    free(p);

    ntk_npz *z = reference_archive();
    p = tu_tmpfile(".npz");
    write_npz(z, p);
    ntk_npz_free(z);
    b = slurp(p, &n);
    unlink(p);
    fuzz_file(b, n, 12, 300);
    free(b);
    free(p);
}

/* The in-memory .npy parser behind get_array, with no CRC in front of it:
 * every prefix and random damage of a member's bytes. */
static void test_fuzz_members(void **state)
{
    (void)state;
    double a[12];
    fill_awkward(a, 12, 4);
    ntk_npz *src = new_npz();
    add_array(src, "a", a, 3, 4, 2);
    char *npy;
    size_t n;
    ntk_error err;
    assert_int_equal(ntk_npz_get_bytes(src, "a.npy", &npy, &n, &err), NTK_OK);
    ntk_npz_free(src);
    assert_int_equal(n, 128 + 96);
    unsigned char *b = malloc(n);
    tu_rng r = {77};
    for (size_t k = 0; k <= n + 200; k++) {
        size_t len = k <= n ? k : n;
        memcpy(b, npy, n);
        if (k > n) b[(size_t)(tu_uniform(&r) * 128)] ^= (unsigned char)(1u << (k % 8));
        ntk_npz *z = new_npz();
        add_bytes(z, "t.npy", b, len);
        ntk_matrix m;
        ntk_status st = ntk_npz_get_array(z, "t", &m, &err);
        if (k < n) {
            assert_int_equal(st, NTK_E_FORMAT);
            assert_has(err.msg, "(new archive): member 't.npy': ");
            assert_null(m.data);
        } else if (k == n) {
            assert_int_equal(st, NTK_OK);
            assert_memory_equal(m.data, a, sizeof a);
        } else if (st != NTK_OK && st != NTK_E_FORMAT) {
            fail_msg("status %d: %s", st, err.msg);
        }
        ntk_matrix_free(&m);
        ntk_npz_free(z);
    }
    free(b);
    free(npy);
}

/* ------------------------------------------------------------ lazy reads */

static ntk_npz *read_lim(const char *path, uint64_t emax, uint64_t etotal)
{
    ntk_error err;
    ntk_npz *z = NULL;
    if (ntk_npz_read_limits(path, emax, etotal, &z, &err)) fail_msg("reading %s: %s", path, err.msg);
    assert_non_null(z);
    return z;
}
#define ALL_LAZY 0, 0
#define ALL_EAGER UINT64_MAX, UINT64_MAX

static void copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *b = slurp(from, &n);
    write_bytes(to, b, n);
    free(b);
}

/* tests/data/npz/*.npz, sorted: every fixture. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static char **fixtures(size_t *n)
{
    char *dir = tu_path("data/npz");
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **v = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".npz")) continue;
        v = realloc(v, (*n + 1) * sizeof *v);
        v[(*n)++] = join(dir, e->d_name);
    }
    closedir(d);
    free(dir);
    qsort(v, *n, sizeof *v, cmp_str);
    assert_true(*n >= 10); /* savez*, unsupported, written_by_ntk, zip64* */
    return v;
}

/* The message after the file name it starts with (two readings of one
 * archive under different paths say the same thing after it). */
static const char *after(const char *msg, const char *path)
{
    const char *p = strstr(msg, path);
    if (!p) fail_msg("message \"%s\" lacks \"%s\"", msg, path);
    return p + strlen(path);
}

static int is_npy(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".npy");
}

/* a (read from pa) and b (from pb) are the same archive: the same members,
 * bytes, and arrays bit for bit, or the same errors. b's arrays are also
 * read into a buffer of the caller's (ntk_npz_get_array_to): the same bits
 * there, and nothing written into a buffer of another size. */
static void expect_same(const ntk_npz *a, const char *pa, const ntk_npz *b, const char *pb)
{
    ntk_error ea, eb;
    assert_int_equal(ntk_npz_count(a), ntk_npz_count(b));
    for (size_t i = 0; i < ntk_npz_count(a); i++) {
        const char *nm = ntk_npz_member_name(a, i);
        assert_string_equal(nm, ntk_npz_member_name(b, i));
        char *da = NULL, *db = NULL;
        size_t na = 0, nb = 0;
        ntk_status sa = ntk_npz_get_bytes(a, nm, &da, &na, &ea), sb = ntk_npz_get_bytes(b, nm, &db, &nb, &eb);
        if (sa != sb) fail_msg("%s: get_bytes status %d vs %d (%s / %s)", nm, sa, sb, sa ? ea.msg : "", sb ? eb.msg : "");
        if (sa) {
            assert_string_equal(after(ea.msg, pa), after(eb.msg, pb));
        } else {
            assert_int_equal(na, nb);
            assert_memory_equal(da, db, na + 1);
        }
        free(da);
        free(db);
        if (!is_npy(nm)) continue;
        ntk_matrix ma, mb;
        sa = ntk_npz_get_array(a, nm, &ma, &ea);
        sb = ntk_npz_get_array(b, nm, &mb, &eb);
        if (sa != sb) fail_msg("%s: get_array status %d vs %d (%s / %s)", nm, sa, sb, sa ? ea.msg : "", sb ? eb.msg : "");
        if (sa) {
            assert_string_equal(after(ea.msg, pa), after(eb.msg, pb));
            assert_null(mb.data);
            continue;
        }
        assert_int_equal(ma.rows, mb.rows);
        assert_int_equal(ma.cols, mb.cols);
        assert_int_equal(ma.ndim, mb.ndim);
        size_t k = ma.rows * ma.cols;
        assert_memory_equal(ma.data, mb.data, k * sizeof(double));
        double *buf = malloc((k + 1) * sizeof *buf);
        ntk_matrix mt;
        assert_int_equal(ntk_npz_get_array_to(b, nm, buf, k, &mt, &eb), NTK_OK);
        assert_ptr_equal(mt.data, buf);
        assert_true(mt.rows == ma.rows && mt.cols == ma.cols && mt.ndim == ma.ndim);
        assert_memory_equal(buf, ma.data, k * sizeof(double));
        for (size_t j = 0; j <= k; j++) buf[j] = -7.25;
        assert_int_equal(ntk_npz_get_array_to(b, nm, buf, k + 1, &mt, &eb), NTK_OK);
        assert_null(mt.data); /* another count: only the shape */
        assert_true(mt.rows == ma.rows && mt.cols == ma.cols && mt.ndim == ma.ndim);
        for (size_t j = 0; j <= k; j++) assert_true(buf[j] == -7.25);
        free(buf);
        ntk_matrix_free(&ma);
        ntk_matrix_free(&mb);
    }
}

/* Every fixture read three ways: all at the open (the reading before lazy
 * reads), all lazily from a copy, and with the default limits (all of a
 * fixture is small: read at the open). Then the copy is emptied: the lazy
 * archive's gets fail naming the change, the default one has its bytes. */
static void test_lazy_fixtures(void **state)
{
    (void)state;
    size_t nf;
    char **fx = fixtures(&nf);
    char *cp = tu_tmpfile(".npz");
    ntk_error err;
    for (size_t f = 0; f < nf; f++) {
        ntk_npz *e = read_lim(fx[f], ALL_EAGER);
        copy_file(fx[f], cp);
        ntk_npz *l = read_lim(cp, ALL_LAZY), *d = read_npz(cp);
        expect_same(e, fx[f], l, cp);
        expect_same(e, fx[f], d, cp);
        assert_int_equal(truncate(cp, 0), 0);
        size_t nlazy = 0;
        for (size_t i = 0; i < ntk_npz_count(l); i++) {
            const char *nm = ntk_npz_member_name(l, i);
            char *b = NULL;
            size_t n;
            if (ntk_npz_get_bytes(e, nm, &b, &n, &err)) continue; /* a member that fails anyway */
            free(b);
            if (n == 0) continue; /* an empty member was "read" at the open */
            ntk_status st = ntk_npz_get_bytes(l, nm, &b, &n, &err);
            if (st != NTK_E_IO) fail_msg("%s: %s: status %d after the file was emptied", fx[f], nm, st);
            assert_null(b);
            assert_has(err.msg, cp);
            assert_has(err.msg, "the file changed after the archive was opened");
            assert_has(err.msg, "bytes then, 0 now");
            nlazy++;
            assert_int_equal(ntk_npz_get_bytes(d, nm, &b, &n, &err), NTK_OK);
            free(b);
        }
        assert_true(nlazy > 0);
        ntk_npz_free(e);
        ntk_npz_free(l);
        ntk_npz_free(d);
        free(fx[f]);
    }
    unlink(cp);
    free(cp);
    free(fx);
}

/* The local header and data offset of member i of archive b (n bytes). */
static size_t data_of(unsigned char *b, size_t n, size_t i)
{
    unsigned char *h = local_of(b, cd_entry(b, n, i));
    return (size_t)(h - b) + 30 + rd16(h + 26) + rd16(h + 28);
}

/* A byte flipped in a member's data: read at the open as before with the
 * default limits (a small fixture), found at the get when the member was
 * left in the file: the message names the file and the member, and nothing
 * is returned. The other members are still fine. */
static void test_lazy_damaged(void **state)
{
    (void)state;
    ntk_error err;
    char *ref = tu_path("data/npz/savez.npz"), *cp = tu_tmpfile(".npz");
    size_t n;
    unsigned char *orig = slurp(ref, &n), *b = malloc(n);
    unsigned char *cd = cd_entry(orig, n, 0);
    assert_true(rd16(cd + 28) == 5 && !memcmp(cd + 46, "W.npy", 5)); /* 3 x 4 '<f8', 128-byte header */
    /* a byte of the data; the 3 of "(3, 4)" made a 2: np.save's header
     * still, of a shape the data does not fit */
    size_t at[] = {data_of(orig, n, 0) + 128 + 8 * 5 + 3, data_of(orig, n, 0) + 10 + 51};
    unsigned char flip[] = {0x20, 0x01};
    assert_int_equal(orig[at[1]], '3');
    for (size_t t = 0; t < 2; t++) {
        memcpy(b, orig, n);
        b[at[t]] ^= flip[t];
        write_bytes(cp, b, n);
        expect_read_error(cp, NTK_E_FORMAT, "member 'W.npy': CRC-32 mismatch", "the data is corrupt", NULL);
        ntk_npz *z = read_lim(cp, ALL_LAZY);
        double sentinel = 1;
        ntk_matrix m = {&sentinel, 1, 1, 2};
        expect_fail(ntk_npz_get_array(z, "W", &m, &err), &err, NTK_E_FORMAT, "member 'W.npy': CRC-32 mismatch");
        assert_has(err.msg, cp);
        assert_null(m.data);
        double buf[12];
        expect_fail(ntk_npz_get_array_to(z, "W", buf, 12, &m, &err), &err, NTK_E_FORMAT,
                    "member 'W.npy': CRC-32 mismatch");
        char *d = (char *)&sentinel;
        size_t dn = 3;
        expect_fail(ntk_npz_get_bytes(z, "W.npy", &d, &dn, &err), &err, NTK_E_FORMAT,
                    "member 'W.npy': CRC-32 mismatch");
        assert_null(d);
        expect_fvals(z, "b", 4, 1, 1);
        ntk_npz_free(z);
    }

    /* deflate data damaged: np.savez_compressed's first block header */
    free(ref);
    free(orig);
    ref = tu_path("data/npz/savez_compressed.npz");
    orig = slurp(ref, &n);
    orig[data_of(orig, n, 0)] = 0xff;
    write_bytes(cp, orig, n);
    expect_read_error(cp, NTK_E_FORMAT, "member 'W.npy': bad deflate data (zlib: invalid block type)", NULL);
    ntk_npz *z = read_lim(cp, ALL_LAZY);
    ntk_matrix m;
    expect_fail(ntk_npz_get_array(z, "W", &m, &err), &err, NTK_E_FORMAT,
                "member 'W.npy': bad deflate data (zlib: invalid block type)");
    assert_has(err.msg, cp);
    expect_fvals(z, "b", 4, 1, 1);
    ntk_npz_free(z);

    /* the default limits: a member past 1 MiB is read at the get, one
     * under it at the open */
    size_t r = 400, c = 400; /* 1.28 MB */
    double *a = malloc(r * c * sizeof *a);
    fill_awkward(a, r * c, 21);
    z = new_npz();
    add_array(z, "big", a, r, c, 2);
    add_bytes(z, "meta.txt", "k = v\n", 6);
    write_npz(z, cp);
    ntk_npz_free(z);
    free(orig);
    orig = slurp(cp, &n);
    memcpy(b = realloc(b, n), orig, n);
    b[n / 2] ^= 1; /* in big's data */
    write_bytes(cp, b, n);
    z = read_npz(cp);
    expect_bytes(z, "meta.txt", "k = v\n", 6);
    expect_fail(ntk_npz_get_array(z, "big", &m, &err), &err, NTK_E_FORMAT, "member 'big.npy': CRC-32 mismatch");
    assert_has(err.msg, cp);
    ntk_npz_free(z);
    memcpy(b, orig, n);
    b[data_of(b, n, 1)] ^= 1; /* meta.txt */
    write_bytes(cp, b, n);
    expect_read_error(cp, NTK_E_FORMAT, "member 'meta.txt': CRC-32 mismatch", NULL);
    /* and unharmed, read straight into the matrix */
    write_bytes(cp, orig, n);
    z = read_npz(cp);
    expect_array(z, "big", r, c, 2, a);
    ntk_npz_free(z);
    unlink(cp);
    free(cp);
    free(a);
    free(b);
    free(orig);
    free(ref);
}

/* Two archives of the same layout and sizes, different values. */
static void write_version(const char *path, double *a, size_t r, size_t c, uint64_t seed, const char *meta)
{
    fill_awkward(a, r * c, seed);
    ntk_npz *z = new_npz();
    add_bytes(z, "meta.txt", meta, strlen(meta));
    add_array(z, "big", a, r, c, 2);
    write_npz(z, path);
    ntk_npz_free(z);
}

/* What a member left in the file sees when the file changes after the
 * open: a file renamed over the path is not seen (the archive reads the
 * file it opened), nor is one removed; a file rewritten in place is, by its
 * size or its mtime, and with both as they were, by the CRC-32. */
static void test_lazy_file_changes(void **state)
{
    (void)state;
    ntk_error err;
    size_t r = 300, c = 500; /* 1.2 MB: lazy with the default limits */
    double *a = malloc(r * c * sizeof *a), *b = malloc(r * c * sizeof *b);
    char *p = tu_tmpfile(".npz"), *q = tu_tmpfile(".npz");
    write_version(p, a, r, c, 1, "version = a\n");
    ntk_npz *za = read_npz(p);
    write_version(p, b, r, c, 2, "version = b\n"); /* renamed over p */
    expect_array(za, "big", r, c, 2, a);
    expect_bytes(za, "meta.txt", "version = a\n", 12);
    ntk_npz *zb = read_npz(p);
    expect_array(zb, "big", r, c, 2, b);

    /* rewritten in place with a's bytes (the same size): a new mtime */
    write_version(q, a, r, c, 1, "version = a\n");
    size_t n, nb;
    unsigned char *bytes_a = slurp(q, &n), *bytes_b = slurp(p, &nb);
    assert_int_equal(n, nb);
    struct stat st0;
    assert_int_equal(stat(p, &st0), 0);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes_a, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    struct timespec ts[2] = {st0.st_atim, st0.st_mtim};
    ts[1].tv_sec += 10; /* not left to the clock's granularity */
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    ntk_matrix m;
    expect_fail(ntk_npz_get_array(zb, "big", &m, &err), &err, NTK_E_IO,
                "member 'big.npy': the file changed after the archive was opened (it was modified since)");
    assert_has(err.msg, p);
    assert_null(m.data);
    expect_bytes(zb, "meta.txt", "version = b\n", 12); /* read at the open */
    /* the old mtime back: the CRC-32 of b's member does not fit a's bytes */
    ts[1] = st0.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    expect_fail(ntk_npz_get_array(zb, "big", &m, &err), &err, NTK_E_FORMAT, "member 'big.npy': CRC-32 mismatch");
    assert_null(m.data);
    char *d;
    expect_fail(ntk_npz_get_bytes(zb, "big.npy", &d, &n, &err), &err, NTK_E_FORMAT, "CRC-32 mismatch");
    /* b's bytes back: b again */
    f = fopen(p, "r+b");
    assert_int_equal(fwrite(bytes_b, 1, nb, f), nb);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    expect_array(zb, "big", r, c, 2, b);
    /* truncated */
    assert_int_equal(truncate(p, (off_t)(nb / 2)), 0);
    expect_fail(ntk_npz_get_array(zb, "big", &m, &err), &err, NTK_E_IO, "the file changed after the archive was opened");
    char want[64];
    snprintf(want, sizeof want, "(%zu bytes then, %zu now)", nb, nb / 2);
    assert_has(err.msg, want);
    expect_fail(ntk_npz_get_bytes(zb, "big.npy", &d, &n, &err), &err, NTK_E_IO, want);
    ntk_npz_free(zb);
    /* removed: still the file that was opened */
    unlink(p);
    expect_array(za, "big", r, c, 2, a);
    ntk_npz_free(za);
    unlink(q);
    free(bytes_a);
    free(bytes_b);
    free(p);
    free(q);
    free(a);
    free(b);
}

/* An archive that was read is written again with a member added: the
 * members left in its file are copied from it, checked on the way. */
static void test_lazy_rewrite(void **state)
{
    (void)state;
    ntk_error err;
    const char *names[] = {"data/npz/savez.npz", "data/npz/savez_compressed.npz", "data/npz/zip64_all.npz"};
    char *p = tu_tmpfile(".npz"), *q = tu_tmpfile(".npz");
    for (size_t t = 0; t < 3; t++) {
        char *ref = tu_path(names[t]);
        copy_file(ref, p);
        ntk_npz *z = read_lim(p, ALL_LAZY), *e = read_lim(ref, ALL_EAGER);
        add_bytes(z, "added.txt", "new", 3);
        write_npz(z, q);
        ntk_npz_free(z);
        z = read_npz(q);
        assert_int_equal(ntk_npz_count(z), ntk_npz_count(e) + 1);
        expect_bytes(z, "added.txt", "new", 3);
        for (size_t i = 0; i < ntk_npz_count(e); i++) {
            const char *nm = ntk_npz_member_name(e, i);
            char *want;
            size_t n;
            assert_int_equal(ntk_npz_get_bytes(e, nm, &want, &n, &err), NTK_OK);
            expect_bytes(z, nm, want, n);
            free(want);
        }
        ntk_npz_free(z);
        ntk_npz_free(e);
        free(ref);
    }
    /* a damaged member is not copied: the write fails, nothing is left */
    unlink(q);
    size_t n;
    unsigned char *b = slurp(p, &n);
    b[data_of(b, n, 0) + 140] ^= 4;
    write_bytes(p, b, n);
    ntk_npz *z = read_lim(p, ALL_LAZY);
    add_bytes(z, "added.txt", "new", 3);
    expect_fail(ntk_npz_write(z, q, &err), &err, NTK_E_FORMAT, "CRC-32 mismatch");
    assert_has(err.msg, p);
    assert_int_equal(access(q, F_OK), -1);
    ntk_npz_free(z);
    unlink(p);
    free(b);
    free(p);
    free(q);
}

/* 70 000 members (past 65535: the zip64 end record): added with the
 * duplicate check, written, read eagerly and lazily, each found by name.
 * By name means by hash: with the linear scans before it, adding and
 * looking up 66 000 members took 41 s of CPU here (O(n^2) string
 * compares); now 0.3 s. The bound, 15 s of CPU time (not wall time: the
 * machine may be shared), leaves 50x for sanitizers and slow CPUs and
 * still catches a return to quadratic lookups. */
static void test_many_members(void **state)
{
    (void)state;
    enum { NM = 70000 };
    ntk_error err;
    char name[32];
    clock_t t0 = clock();
    ntk_npz *z = new_npz();
    for (size_t i = 0; i < NM; i++) {
        double v = (double)i;
        snprintf(name, sizeof name, "m%05zu", i);
        add_array(z, name, &v, 1, 1, 1);
    }
    double one = 1;
    expect_fail(ntk_npz_add_array(z, "m12345", &one, 1, 1, 1, &err), &err, NTK_E_INVAL,
                "member 'm12345.npy' is already in the archive");
    expect_fail(ntk_npz_add_bytes(z, "m69999.npy", "x", 1, &err), &err, NTK_E_INVAL, "already in the archive");
    add_bytes(z, "m69999", "x", 1); /* another name */
    char *p = tu_tmpfile(".npz");
    write_npz(z, p);
    ntk_npz_free(z);
    for (int lazy = 0; lazy < 2; lazy++) {
        z = lazy ? read_lim(p, ALL_LAZY) : read_npz(p);
        assert_int_equal(ntk_npz_count(z), NM + 1);
        for (size_t i = 0; i < NM; i += lazy ? 7 : 1) {
            snprintf(name, sizeof name, "m%05zu", i);
            ntk_matrix m;
            if (ntk_npz_get_array(z, name, &m, &err)) fail_msg("%s: %s", name, err.msg);
            assert_true(m.rows == 1 && m.data[0] == (double)i);
            ntk_matrix_free(&m);
        }
        expect_bytes(z, "m69999", "x", 1);
        ntk_npz_free(z);
    }
    double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (cpu > 15) fail_msg("70 000 members took %.1f s of CPU: lookups are not by hash", cpu);

    /* the last member renamed like the first, in its local header and in
     * the directory: the duplicate is found among 70 001 */
    size_t n;
    unsigned char *b = slurp(p, &n);
    unsigned char *loc = b + n - 22 - 20, *e64 = loc - 56; /* the zip64 locator and end record */
    assert_int_equal(rd32(loc), 0x07064b50u);
    size_t k = (size_t)(rd32(e64 + 48) | (uint64_t)rd32(e64 + 52) << 32);
    for (size_t i = 0; i < NM - 1; i++) k += 46 + rd16(b + k + 28) + rd16(b + k + 30) + rd16(b + k + 32);
    assert_memory_equal(b + k + 46, "m69999.npy", 10);
    memcpy(b + k + 46, "m00000", 6);
    memcpy(local_of(b, b + k) + 30, "m00000", 6);
    write_bytes(p, b, n);
    expect_read_error(p, NTK_E_FORMAT, "member 'm00000.npy' appears twice in the archive", NULL);
    unlink(p);
    free(p);
    free(b);
}

/* Gets of one archive from several threads at once (pread: no shared file
 * position). */
typedef struct {
    const ntk_npz *z;
    const double *want;
    size_t n;
    int bad;
} reader_job;

static void *reader_thread(void *arg)
{
    reader_job *j = arg;
    ntk_error err;
    for (int t = 0; t < 8; t++) {
        ntk_matrix m;
        if (ntk_npz_get_array(j->z, "big", &m, &err) || m.rows * m.cols != j->n ||
            memcmp(m.data, j->want, j->n * sizeof(double)))
            j->bad++;
        ntk_matrix_free(&m);
    }
    return NULL;
}

static void test_lazy_threads(void **state)
{
    (void)state;
    size_t r = 512, c = 300;
    double *a = malloc(r * c * sizeof *a);
    char *p = tu_tmpfile(".npz");
    write_version(p, a, r, c, 9, "x\n");
    ntk_npz *z = read_npz(p);
    pthread_t th[4];
    reader_job job[4];
    for (int i = 0; i < 4; i++) {
        job[i] = (reader_job){z, a, r * c, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &job[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(job[i].bad, 0);
    }
    ntk_npz_free(z);
    unlink(p);
    free(p);
    free(a);
}

/* Every fixture, truncated at every length and damaged at random, read
 * eagerly and lazily: the lazy open fails only where the eager one does;
 * where it succeeds, the eager open succeeds exactly when every lazy get
 * does, with the same bytes and arrays. Every error is a clean status and
 * one line naming the file: no crash, no leak under the sanitizers. */
static void lazy_vs_eager(const char *p, const unsigned char *b, size_t n)
{
    unlink(p); /* as in read_damaged */
    write_bytes(p, b, n);
    ntk_error ee = {NTK_OK, ""}, el = {NTK_OK, ""};
    ntk_npz *e = NULL, *l = NULL;
    ntk_status se = ntk_npz_read_limits(p, ALL_EAGER, &e, &ee), sl = ntk_npz_read_limits(p, ALL_LAZY, &l, &el);
    if (sl) {
        if (sl != NTK_E_FORMAT) fail_msg("%zu bytes: lazy: status %d: %s", n, sl, el.msg);
        assert_has(el.msg, p);
        assert_null(strchr(el.msg, '\n'));
        if (!se) fail_msg("%zu bytes: the lazy open fails (%s), the eager one not", n, el.msg);
        ntk_npz_free(e);
        return;
    }
    int all_ok = 1;
    for (size_t i = 0; i < ntk_npz_count(l); i++) {
        const char *nm = ntk_npz_member_name(l, i);
        char *d = NULL, *d2 = NULL;
        size_t len, len2;
        ntk_status st = ntk_npz_get_bytes(l, nm, &d, &len, &el);
        if (st) {
            if (st != NTK_E_FORMAT) fail_msg("%s: status %d: %s", nm, st, el.msg);
            assert_has(el.msg, p);
            assert_null(strchr(el.msg, '\n'));
            all_ok = 0;
        } else if (!se) {
            assert_int_equal(ntk_npz_get_bytes(e, nm, &d2, &len2, &ee), NTK_OK);
            assert_int_equal(len, len2);
            assert_memory_equal(d, d2, len);
            free(d2);
        }
        free(d);
        if (!is_npy(nm)) continue;
        ntk_matrix m, m2;
        st = ntk_npz_get_array(l, nm, &m, &el);
        if (st != NTK_OK && st != NTK_E_FORMAT) fail_msg("%s: status %d: %s", nm, st, el.msg);
        if (st) {
            assert_null(strchr(el.msg, '\n'));
        } else if (!se) {
            assert_int_equal(ntk_npz_get_array(e, nm, &m2, &ee), NTK_OK);
            assert_true(m.rows == m2.rows && m.cols == m2.cols && m.ndim == m2.ndim);
            assert_memory_equal(m.data, m2.data, m.rows * m.cols * sizeof(double));
            ntk_matrix_free(&m2);
        }
        ntk_matrix_free(&m);
    }
    if ((se == NTK_OK) != all_ok)
        fail_msg("%zu bytes: eager open %s, lazy gets %s", n, se ? ee.msg : "ok", all_ok ? "all ok" : "not all ok");
    ntk_npz_free(e);
    ntk_npz_free(l);
}

static void test_fuzz_lazy(void **state)
{
    (void)state;
    size_t nf;
    char **fx = fixtures(&nf);
    char *p = tu_tmpfile(".npz");
    tu_rng r = {99};
    for (size_t f = 0; f < nf; f++) {
        size_t n;
        unsigned char *orig = slurp(fx[f], &n), *b = malloc(n);
        for (size_t k = 0; k <= n; k += 1 + k / 256) lazy_vs_eager(p, orig, k);
        for (int t = 0; t < 150; t++) {
            memcpy(b, orig, n);
            for (int j = 0; j < 1 + t % 3; j++)
                b[(size_t)(tu_uniform(&r) * (double)n)] ^= (unsigned char)(1u << (int)(tu_uniform(&r) * 8));
            lazy_vs_eager(p, b, n);
        }
        free(orig);
        free(b);
        free(fx[f]);
    }
    unlink(p);
    free(p);
    free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip_large),
        cmocka_unit_test(test_numpy_fixtures),
        cmocka_unit_test(test_write_matches_numpy),
        cmocka_unit_test(test_written_by_ntk),
        cmocka_unit_test(test_zip64_matches_zipfile),
        cmocka_unit_test(test_zip64_roundtrip),
        cmocka_unit_test(test_array_ref),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_get_errors),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_damaged_deflate),
        cmocka_unit_test(test_path_like_names),
        cmocka_unit_test(test_write_atomic),
        cmocka_unit_test(test_fuzz_archives),
        cmocka_unit_test(test_fuzz_members),
        cmocka_unit_test(test_lazy_fixtures),
        cmocka_unit_test(test_lazy_damaged),
        cmocka_unit_test(test_lazy_file_changes),
        cmocka_unit_test(test_lazy_rewrite),
        cmocka_unit_test(test_many_members),
        cmocka_unit_test(test_lazy_threads),
        cmocka_unit_test(test_fuzz_lazy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
