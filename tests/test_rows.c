/*
 * test_rows.c — row ranges in ntk_io_read (ntk_read_opts.first_row and
 * max_rows): for every reader and layout (IDX plain and gzip'd, 1-D and
 * 3-D; .npy C and Fortran order, 1-D, float32, big-endian; .csv with and
 * without a header, with a column selection), every range is the same
 * rows, bit for bit, as the whole file read and sliced afterwards; a range
 * that runs past the end is cut there; one that starts past the end is
 * NTK_E_SHAPE naming the file and its row count; rows outside the range
 * are not parsed (CSV) and a truncation after them is not reached (IDX).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define assert_has(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub)); \
    } while (0)

static ntk_matrix read_rows(const char *path, size_t first, size_t max, const char *cols)
{
    ntk_read_opts o = ntk_read_opts_default();
    o.first_row = first;
    o.max_rows = max;
    o.columns = cols;
    ntk_matrix m = {0};
    ntk_error err;
    if (ntk_io_read(path, &o, &m, &err)) fail_msg("%s [%zu, +%zu): %s", path, first, max, err.msg);
    return m;
}

/* Every range [first, first + max) of the file against the slice of the
 * whole (max 0: to the end; max past the end: cut). */
static void check_all_ranges(const char *path, const char *cols)
{
    ntk_matrix all = read_rows(path, 0, 0, cols);
    size_t R = all.rows, C = all.cols;
    assert_true(R >= 3);
    for (size_t first = 0; first < R; first++)
        for (size_t max = 0; max <= R + 1; max++) {
            ntk_matrix m = read_rows(path, first, max, cols);
            size_t want = max && max < R - first ? max : R - first;
            if (m.rows != want || m.cols != C || m.ndim != all.ndim)
                fail_msg("%s [%zu, +%zu): %zu x %zu (ndim %d), expected %zu x %zu (ndim %d)", path, first, max, m.rows,
                         m.cols, m.ndim, want, C, all.ndim);
            assert_memory_equal(m.data, all.data + first * C, want * C * sizeof *m.data);
            ntk_matrix_free(&m);
        }
    /* from the row count on: nothing there */
    ntk_read_opts o = ntk_read_opts_default();
    o.columns = cols;
    ntk_error err;
    ntk_matrix m = {0};
    char want[256];
    snprintf(want, sizeof want, "%s: has %zu rows, so none from row %zu on (rows are counted from 0)", path, R, R);
    for (size_t extra = 0; extra < 3; extra++) {
        o.first_row = R + extra * 1000;
        o.max_rows = extra;
        assert_int_equal(ntk_io_read(path, &o, &m, &err), NTK_E_SHAPE);
        assert_null(m.data);
        if (!extra) assert_has(err.msg, want);
    }
    ntk_matrix_free(&all);
}

static void test_idx(void **state)
{
    (void)state;
    static const char *const files[] = {"data/idx/f32-3d-idx3-ubyte",    "data/idx/f32-3d-idx3-ubyte.gz",
                                        "data/idx/i16-1d-idx1-ubyte.gz", "data/idx/f64-2d.idx",
                                        "data/idx/images-idx3-ubyte.gz", "data/idx/labels-idx1-ubyte.gz"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = tu_path(files[i]);
        check_all_ranges(p, NULL);
        free(p);
    }
    char *p = tu_path("data/idx/f32-3d-idx3-ubyte.gz");
    check_all_ranges(p, "2,5-7");
    free(p);
    /* rows before a truncation point: readable from any first row; a range
     * into the cut part is "truncated" */
    p = tu_path("data/idx/trunc-data-idx3-ubyte");
    ntk_matrix m = read_rows(p, 1, 1, NULL);
    assert_int_equal(m.rows, 1);
    ntk_matrix_free(&m);
    ntk_read_opts o = ntk_read_opts_default();
    o.first_row = 1;
    ntk_error err;
    assert_int_equal(ntk_io_read(p, &o, &m, &err), NTK_E_FORMAT);
    assert_has(err.msg, "truncated");
    free(p);
}

/* A .npy written byte by byte: descr, order, shape "(r, c)" or "(r,)". */
static void write_npy(const char *path, const char *descr, int fortran, const char *shape, const void *data,
                      size_t bytes)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                     fortran ? "True" : "False", shape);
    size_t hl = (size_t)n + 1;
    while ((10 + hl) % 64) hl++;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char len[2] = {(unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    fwrite(len, 1, 2, f);
    fwrite(dict, 1, (size_t)n, f);
    for (size_t i = (size_t)n; i + 1 < hl; i++) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, 1, bytes, f);
    assert_int_equal(fclose(f), 0);
}

static void test_npy(void **state)
{
    (void)state;
    enum { R = 5, C = 3 };
    double v[R * C], fv[R * C];
    float v32[R * C];
    unsigned char be[R * C * 8];
    for (size_t i = 0; i < R * C; i++) {
        v[i] = 0.25 * (double)i - 1.5 + 1e-3 * (double)(i * i);
        v32[i] = (float)v[i];
    }
    for (size_t i = 0; i < R; i++) /* column-major copy */
        for (size_t j = 0; j < C; j++) fv[j * R + i] = v[i * C + j];
    for (size_t i = 0; i < R * C; i++) {
        uint64_t b;
        memcpy(&b, &v[i], 8);
        for (int k = 0; k < 8; k++) be[i * 8 + k] = (unsigned char)(b >> (56 - 8 * k));
    }
    char *p = tu_tmpfile(".npy");
    write_npy(p, "<f8", 0, "(5, 3)", v, sizeof v);
    check_all_ranges(p, NULL);
    check_all_ranges(p, "3,1");
    ntk_matrix c = read_rows(p, 0, 0, NULL);
    write_npy(p, "<f8", 1, "(5, 3)", fv, sizeof fv); /* Fortran order: read whole, then cut */
    ntk_matrix f = read_rows(p, 0, 0, NULL);
    assert_memory_equal(f.data, c.data, sizeof v);
    check_all_ranges(p, NULL);
    write_npy(p, "<f4", 0, "(5, 3)", v32, sizeof v32);
    check_all_ranges(p, NULL);
    write_npy(p, ">f8", 0, "(5, 3)", be, sizeof be);
    check_all_ranges(p, NULL);
    write_npy(p, "<f8", 0, "(15,)", v, sizeof v); /* 1-D: 15 rows of 1 */
    check_all_ranges(p, NULL);
    write_npy(p, "<f8", 1, "(1, 15)", v, sizeof v); /* one row */
    ntk_matrix one = read_rows(p, 0, 1, NULL);
    assert_int_equal(one.cols, 15);
    ntk_matrix_free(&one);
    /* a file shorter than its header says is refused whatever the range */
    write_npy(p, "<f8", 0, "(6, 3)", v, sizeof v);
    ntk_read_opts o = ntk_read_opts_default();
    o.max_rows = 1;
    ntk_error err;
    ntk_matrix m = {0};
    assert_int_equal(ntk_io_read(p, &o, &m, &err), NTK_E_FORMAT);
    assert_has(err.msg, "truncated");
    ntk_matrix_free(&c);
    ntk_matrix_free(&f);
    unlink(p);
    free(p);
}

static void test_csv(void **state)
{
    (void)state;
    char *p = tu_tmpfile(".csv");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("a,b,c\n1,2,3\n4.5,-5,6e-3\n7,8,9\n10,11,12\n\n", f);
    fclose(f);
    check_all_ranges(p, NULL);
    check_all_ranges(p, "c,a");
    f = fopen(p, "w");
    fputs("1,2\n3,4\n5,6\n", f);
    fclose(f);
    check_all_ranges(p, NULL);
    /* rows outside the range are not parsed as numbers (their field count
     * is still checked) and nothing after the range is read */
    f = fopen(p, "w");
    fputs("1,2\nx,y\n5,6\n7,8\nnot,a,row\n", f);
    fclose(f);
    ntk_matrix m = read_rows(p, 2, 2, NULL);
    assert_int_equal(m.rows, 2);
    assert_true(m.data[0] == 5 && m.data[3] == 8);
    ntk_matrix_free(&m);
    ntk_read_opts o = ntk_read_opts_default();
    o.first_row = 1;
    o.max_rows = 1;
    ntk_error err;
    assert_int_equal(ntk_io_read(p, &o, &m, &err), NTK_E_FORMAT);
    assert_has(err.msg, "row 2, column 1: 'x' is not a number");
    o.first_row = 2;
    o.max_rows = 0;
    assert_int_equal(ntk_io_read(p, &o, &m, &err), NTK_E_FORMAT);
    assert_has(err.msg, "row 5: 3 fields, expected 2");
    unlink(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx),
        cmocka_unit_test(test_npy),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
