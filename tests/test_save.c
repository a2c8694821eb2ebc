/*
 * test_save.c — saving and loading parameters (src/net/save.c; include/ntk.h,
 * "saving parameters"):
 *   - save → load is bitwise: θ, the architecture, the parameterization, and
 *     the outputs of ntk_net_apply, for several architectures (biases or
 *     not, k = 1 and 3, per-layer and network-wide 'standard', activations
 *     with arguments) and awkward values (−0, subnormals, huge, tiny);
 *     saving the loaded network again gives the same bytes;
 *   - the file is what ntk.h documents: members arch.txt, meta.txt,
 *     dense<l>.W (n_out, n_in) and dense<l>.b (n_out,) in order, float64,
 *     holding θ's blocks, read back through the ntk_npz API;
 *   - every load error, on archives built with the ntk_npz API: missing
 *     members, wrong shapes, NaN/Inf values, bad meta.txt (format version,
 *     keys, values, duplicates), a bad spec, n_params/k mismatches, members
 *     the architecture has no place for; each message names the file and the
 *     member or key, and *out stays NULL;
 *   - the linearized variant (save_internal.h): θ and θ0 round trip, f_lin
 *     outputs bitwise, ntk_net_load refuses it;
 *   - save errors: non-finite θ, an unwritable path; nothing is left behind.
 */
#include "testutil.h"
#include "net/save_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define assert_has(msg, sub)                                                              \
    do {                                                                                  \
        if (!strstr((msg), (sub))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub)); \
    } while (0)

static ntk_net *make_net(const char *spec, size_t d, ntk_param param)
{
    ntk_arch *a = NULL;
    ntk_net *net = NULL;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) fail_msg("%s: %s", spec, err.msg);
    if (ntk_net_create(a, d, param, &net, &err)) fail_msg("%s: %s", spec, err.msg);
    ntk_arch_free(a);
    return net;
}

static char *canon(const ntk_arch *a)
{
    size_t n = ntk_arch_format(a, NULL, 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    ntk_arch_format(a, s, n + 1);
    return s;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static double *random_x(size_t n, size_t d, uint64_t seed)
{
    tu_rng r = {seed};
    double *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    tu_fill_normal(&r, x, n * d, 1.0);
    return x;
}

/* ------------------------------------------------------------ round trips */

static const struct {
    const char *spec;
    size_t d;
    ntk_param param;
} NETS[] = {
    {"dense(8,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)", 3, NTK_PARAM_NTK},
    {"dense(5),erf(1,2,0.5),dense(4,b_std=0.1),leaky_relu(0.2),dense(3,w_std=0.7,b_std=0.3)", 2, NTK_PARAM_NTK},
    {"dense(6,w_std=2,b_std=1),tanh,dense(3,b_std=0.5)", 4, NTK_PARAM_STANDARD},
    {"dense(7,w_std=1.2,b_std=0.1,param=standard),sin(1,1.5,0.25),dense(2,w_std=0.9,param=ntk)", 1, NTK_PARAM_NTK},
    {"dense(1)", 5, NTK_PARAM_NTK},
};

static void test_roundtrip(void **state)
{
    (void)state;
    ntk_error err;
    for (size_t c = 0; c < sizeof NETS / sizeof *NETS; c++) {
        ntk_net *net = make_net(NETS[c].spec, NETS[c].d, NETS[c].param);
        size_t P = ntk_net_n_params(net);
        double *th = ntk_net_params(net);
        tu_rng r = {100 + c};
        tu_fill_normal(&r, th, P, 1.0);
        /* values that a text format or a float conversion would spoil */
        th[0] = -0.0;
        if (P > 1) th[1] = 4.9e-324;
        if (P > 2) th[2] = 1.7976931348623157e308 / 1e10;
        if (P > 3) th[3] = 0.1 + 0.2;
        char *path = tu_tmpfile(".npz");
        if (ntk_net_save(net, path, &err)) fail_msg("case %zu: save: %s", c, err.msg);
        ntk_net *back = NULL;
        if (ntk_net_load(path, &back, &err)) fail_msg("case %zu: load: %s", c, err.msg);
        assert_non_null(back);
        assert_int_equal(ntk_net_n_params(back), P);
        assert_int_equal(ntk_net_n_inputs(back), NETS[c].d);
        assert_int_equal(ntk_net_n_outputs(back), ntk_net_n_outputs(net));
        assert_int_equal(ntk_net_param(back), NETS[c].param);
        assert_memory_equal(ntk_net_params_const(back), th, P * sizeof(double));
        char *s1 = canon(ntk_net_arch(net)), *s2 = canon(ntk_net_arch(back));
        assert_string_equal(s1, s2);
        for (size_t l = 0; l < ntk_net_n_dense(net); l++) {
            const ntk_dense_info *a = ntk_net_dense(net, l), *b = ntk_net_dense(back, l);
            assert_int_equal(a->param, b->param);
            assert_true(a->w_mult == b->w_mult && a->b_mult == b->b_mult);
        }
        /* outputs bitwise (θ[2] is huge: use the other entries' scale for x) */
        th[2] = ntk_net_params(back)[2] = 0.5;
        size_t n = 17, k = ntk_net_n_outputs(net);
        double *x = random_x(n, NETS[c].d, 7 + c), *f1 = malloc(n * k * sizeof *f1), *f2 = malloc(n * k * sizeof *f2);
        assert_int_equal(ntk_net_apply(net, x, n, f1, 0, &err), NTK_OK);
        assert_int_equal(ntk_net_apply(back, x, n, f2, 0, &err), NTK_OK);
        assert_memory_equal(f1, f2, n * k * sizeof *f1);
        /* saving the loaded network again gives the same bytes */
        th[2] = ntk_net_params(back)[2] = 1.7976931348623157e308 / 1e10;
        char *path2 = tu_tmpfile(".npz");
        assert_int_equal(ntk_net_save(back, path2, &err), NTK_OK);
        size_t n1, n2;
        unsigned char *b1 = slurp(path, &n1), *b2 = slurp(path2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, n1);
        free(b1);
        free(b2);
        free(x);
        free(f1);
        free(f2);
        free(s1);
        free(s2);
        remove(path);
        remove(path2);
        free(path);
        free(path2);
        ntk_net_free(net);
        ntk_net_free(back);
    }
}

/* A seeded network saved with its seed round trips to the same θ0 as a
 * fresh ntk_net_init. */
static void test_seeded(void **state)
{
    (void)state;
    ntk_error err;
    ntk_net *net = make_net(NETS[1].spec, NETS[1].d, NETS[1].param), *back = NULL;
    assert_int_equal(ntk_net_init(net, 12345, &err), NTK_OK);
    char *path = tu_tmpfile(".npz");
    net_save_info info = {1, 12345};
    assert_int_equal(net_save_model(net, NULL, &info, path, &err), NTK_OK);
    assert_int_equal(ntk_net_load(path, &back, &err), NTK_OK);
    assert_memory_equal(ntk_net_params_const(back), ntk_net_params_const(net),
                        ntk_net_n_params(net) * sizeof(double));
    ntk_npz *z = NULL;
    char *meta = NULL;
    size_t n;
    assert_int_equal(ntk_npz_read(path, &z, &err), NTK_OK);
    assert_int_equal(ntk_npz_get_bytes(z, "meta.txt", &meta, &n, &err), NTK_OK);
    assert_has(meta, "\nseed = 12345\n");
    free(meta);
    ntk_npz_free(z);
    remove(path);
    free(path);
    ntk_net_free(net);
    ntk_net_free(back);
}

/* ------------------------------------------------------------ the documented layout */

static void test_members(void **state)
{
    (void)state;
    ntk_error err;
    /* layer 0 with a bias, layer 1 without, layer 2 with; k = 2; standard */
    const char *spec = "dense(4,w_std=1.5,b_std=0.1),relu,dense(3,w_std=1.1),gelu,dense(2,b_std=0.2)";
    ntk_net *net = make_net(spec, 3, NTK_PARAM_STANDARD);
    assert_int_equal(ntk_net_init(net, 3, &err), NTK_OK);
    char *path = tu_tmpfile(".npz");
    assert_int_equal(ntk_net_save(net, path, &err), NTK_OK);
    ntk_npz *z = NULL;
    if (ntk_npz_read(path, &z, &err)) fail_msg("%s", err.msg);
    const char *names[] = {"arch.txt", "meta.txt", "dense0.W.npy", "dense0.b.npy", "dense1.W.npy", "dense2.W.npy",
                           "dense2.b.npy"};
    assert_int_equal(ntk_npz_count(z), 7);
    for (size_t i = 0; i < 7; i++) assert_string_equal(ntk_npz_member_name(z, i), names[i]);

    char *text = NULL;
    size_t n;
    assert_int_equal(ntk_npz_get_bytes(z, "arch.txt", &text, &n, &err), NTK_OK);
    char *c = canon(ntk_net_arch(net));
    assert_int_equal(n, strlen(c) + 1);
    assert_memory_equal(text, c, strlen(c));
    assert_int_equal(text[n - 1], '\n');
    free(c);
    free(text);
    assert_int_equal(ntk_npz_get_bytes(z, "meta.txt", &text, &n, &err), NTK_OK);
    char want[256];
    snprintf(want, sizeof want,
             "format = ntk-params 1\nntk_version = " NTK_VERSION_STRING
             "\nparam = standard\nd_in = 3\nk = 2\nn_params = %zu\n",
             ntk_net_n_params(net));
    assert_string_equal(text, want);
    free(text);

    const double *th = ntk_net_params_const(net);
    for (size_t l = 0; l < ntk_net_n_dense(net); l++) {
        const ntk_dense_info *D = ntk_net_dense(net, l);
        char nm[32];
        ntk_matrix m = {0};
        snprintf(nm, sizeof nm, "dense%zu.W", l);
        if (ntk_npz_get_array(z, nm, &m, &err)) fail_msg("%s", err.msg);
        assert_int_equal(m.ndim, 2);
        assert_int_equal(m.rows, D->n_out);
        assert_int_equal(m.cols, D->n_in);
        assert_memory_equal(m.data, th + D->w_offset, D->n_out * D->n_in * sizeof(double));
        ntk_matrix_free(&m);
        snprintf(nm, sizeof nm, "dense%zu.b", l);
        ntk_status s = ntk_npz_get_array(z, nm, &m, &err);
        if (!D->has_bias) {
            assert_int_equal(s, NTK_E_FORMAT);
            continue;
        }
        assert_int_equal(s, NTK_OK);
        assert_int_equal(m.ndim, 1);
        assert_int_equal(m.rows, D->n_out);
        assert_memory_equal(m.data, th + D->b_offset, D->n_out * sizeof(double));
        ntk_matrix_free(&m);
    }
    ntk_npz_free(z);
    remove(path);
    free(path);
    ntk_net_free(net);
}

/* ------------------------------------------------------------ load errors */

#define SPEC "dense(4,w_std=1.5,b_std=0.1),relu,dense(1,w_std=1.5)"
#define META "format = ntk-params 1\nntk_version = 0.1.0\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\n"

/* One broken archive: the good file of SPEC on d = 2 (W0 4x2, b0 4, W1 1x4)
 * with one change. */
typedef struct {
    const char *name;     /* what is broken, for failure messages      */
    const char *meta;     /* meta.txt (NULL: META; "-": absent)       */
    const char *arch;     /* arch.txt (NULL: SPEC; "-": absent)       */
    const char *skip;     /* an array left out                         */
    const char *replace;  /* an array replaced by rows x cols (ndim)   */
    size_t rows, cols;
    int ndim;
    double poison;        /* 0, or a value put in the replaced array at [1] */
    const char *extra;    /* an extra array member                     */
    ntk_status status;    /* expected                                  */
    const char *texts[3]; /* expected in the message                   */
} broken;

static void write_broken(const broken *b, const char *path)
{
    ntk_error err;
    ntk_npz *z = NULL;
    double vals[64];
    for (int i = 0; i < 64; i++) vals[i] = 0.01 * (i + 1);
    assert_int_equal(ntk_npz_create(&z, &err), NTK_OK);
    const char *arch = b->arch ? b->arch : SPEC, *meta = b->meta ? b->meta : META;
    if (strcmp(arch, "-")) assert_int_equal(ntk_npz_add_bytes(z, "arch.txt", arch, strlen(arch), &err), NTK_OK);
    if (strcmp(meta, "-")) assert_int_equal(ntk_npz_add_bytes(z, "meta.txt", meta, strlen(meta), &err), NTK_OK);
    const struct {
        const char *name;
        size_t rows, cols;
        int ndim;
    } arrays[] = {{"dense0.W", 4, 2, 2}, {"dense0.b", 4, 1, 1}, {"dense1.W", 1, 4, 2}};
    for (int i = 0; i < 3; i++) {
        if (b->skip && !strcmp(b->skip, arrays[i].name)) continue;
        if (b->replace && !strcmp(b->replace, arrays[i].name)) {
            double v1 = vals[1];
            if (b->poison != 0) vals[1] = b->poison;
            assert_int_equal(ntk_npz_add_array(z, arrays[i].name, vals, b->rows, b->cols, b->ndim, &err), NTK_OK);
            vals[1] = v1;
            continue;
        }
        assert_int_equal(ntk_npz_add_array(z, arrays[i].name, vals, arrays[i].rows, arrays[i].cols, arrays[i].ndim, &err),
                         NTK_OK);
    }
    if (b->extra) assert_int_equal(ntk_npz_add_array(z, b->extra, vals, 2, 1, 1, &err), NTK_OK);
    if (ntk_npz_write(z, path, &err)) fail_msg("%s", err.msg);
    ntk_npz_free(z);
}

static void test_load_errors(void **state)
{
    (void)state;
    static const broken cases[] = {
        {"good", .status = NTK_OK},
        {"a note beside the parameters is ignored", .extra = "notes", .status = NTK_OK},
        {"meta: unknown keys and comments are ignored",
         .meta = "# made by hand\nformat = ntk-params 1\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\nfuture = 3\n",
         .status = NTK_OK},
        {"no meta.txt", .meta = "-", .status = NTK_E_FORMAT, {"no member 'meta.txt'"}},
        {"no arch.txt", .arch = "-", .status = NTK_E_FORMAT, {"no member 'arch.txt'"}},
        {"missing dense1.W", .skip = "dense1.W", .status = NTK_E_FORMAT, {"no array 'dense1.W'"}},
        {"missing dense0.b", .skip = "dense0.b", .status = NTK_E_FORMAT, {"no array 'dense0.b'"}},
        {"dense0.W transposed", .replace = "dense0.W", .rows = 2, .cols = 4, .ndim = 2, .status = NTK_E_SHAPE,
         {"dense0.W has shape (2, 4), expected (4, 2)", "maps 2 inputs to 4 outputs"}},
        {"dense1.W 1-D", .replace = "dense1.W", .rows = 4, .cols = 1, .ndim = 1, .status = NTK_E_SHAPE,
         {"dense1.W has shape (4,), expected (1, 4)"}},
        {"dense0.b too short", .replace = "dense0.b", .rows = 3, .cols = 1, .ndim = 1, .status = NTK_E_SHAPE,
         {"dense0.b has shape (3,), expected (4,)", "bias of dense layer 0"}},
        {"dense0.b 2-D", .replace = "dense0.b", .rows = 4, .cols = 1, .ndim = 2, .status = NTK_E_SHAPE,
         {"dense0.b has shape (4, 1), expected (4,)"}},
        {"NaN in dense0.W", .replace = "dense0.W", .rows = 4, .cols = 2, .ndim = 2, .poison = NAN,
         .status = NTK_E_NUMERIC, {"dense0.W: row 1, column 2", "not finite"}},
        {"Inf in dense0.b", .replace = "dense0.b", .rows = 4, .cols = 1, .ndim = 1, .poison = -INFINITY,
         .status = NTK_E_NUMERIC, {"dense0.b: row 2", "not finite"}},
        {"extra layer", .extra = "dense2.W", .status = NTK_E_FORMAT,
         {"unexpected member 'dense2.W.npy'", "2 dense layers"}},
        /* the name is shown with control characters escaped (found by fuzz/fuzz_params.c) */
        {"member name with a control character", .extra = "dense1.W\x1b[2J", .status = NTK_E_FORMAT,
         {"unexpected member 'dense1.W\\x1b[2J.npy'"}},
        {"bias of a layer without one", .extra = "dense1.b", .status = NTK_E_FORMAT,
         {"unexpected member 'dense1.b.npy'"}},
        {"theta0 in a plain file", .extra = "theta0.dense0.b", .status = NTK_E_FORMAT,
         {"unexpected member 'theta0.dense0.b.npy'", "not a linearized model"}},
        {"bad spec", .arch = "dense(4),rleu,dense(1)", .status = NTK_E_SPEC,
         {"arch.txt: spec:1:10: unknown activation 'rleu'"}},
        {"meta: no format", .meta = "param = ntk\nd_in = 2\nk = 1\nn_params = 16\n", .status = NTK_E_FORMAT,
         {"meta.txt has no 'format' line"}},
        {"meta: newer format", .meta = "format = ntk-params 2\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"format 'ntk-params 2'", "newer"}},
        {"meta: other format", .meta = "format = pickle\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"format 'pickle' is not 'ntk-params <version>'"}},
        {"meta: no param", .meta = "format = ntk-params 1\nd_in = 2\nk = 1\nn_params = 16\n", .status = NTK_E_FORMAT,
         {"meta.txt has no 'param' line"}},
        {"meta: no n_params", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 1\n", .status = NTK_E_FORMAT,
         {"meta.txt has no 'n_params' line"}},
        {"meta: bad param", .meta = "format = ntk-params 1\nparam = bogus\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"param = 'bogus'"}},
        {"meta: bad d_in", .meta = "format = ntk-params 1\nparam = ntk\nd_in = two\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"d_in = 'two', expected a positive integer"}},
        {"meta: zero k", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 0\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"k = '0'"}},
        {"meta: negative n_params", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 1\nn_params = -16\n",
         .status = NTK_E_FORMAT, {"n_params = '-16'"}},
        {"meta: bad seed", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\nseed = -1\n",
         .status = NTK_E_FORMAT, {"seed = '-1'"}},
        {"meta: bad linearized",
         .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\nlinearized = yes\n",
         .status = NTK_E_FORMAT, {"linearized = 'yes'"}},
        {"meta: duplicate key", .meta = "format = ntk-params 1\nparam = ntk\nparam = ntk\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"meta.txt line 3: 'param' given twice"}},
        {"meta: line without =", .meta = "format = ntk-params 1\nparam ntk\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"meta.txt line 2: expected 'key = value'"}},
        /* a value with a control character would reach a message (found by fuzz/fuzz_model.c) */
        {"meta: control character", .meta = "format = ntk-params 1\nparam = ntk\x1b[2J\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"meta.txt line 2: control character 0x1b"}},
        {"meta: CR inside a line", .meta = "format = ntk-params 1\nparam = n\rtk\nd_in = 2\nk = 1\nn_params = 16\n",
         .status = NTK_E_FORMAT, {"meta.txt line 2: control character 0x0d"}},
        {"meta: CRLF lines and tabs", .meta = "format = ntk-params 1\r\nparam\t=\tntk\r\nd_in = 2\r\nk = 1\r\nn_params = 16\r\n",
         .status = NTK_OK},
        {"meta: k differs", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 2\nn_params = 16\n",
         .status = NTK_E_SHAPE, {"k = 2 but the architecture's last dense layer has width 1"}},
        {"meta: n_params differs", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 2\nk = 1\nn_params = 17\n",
         .status = NTK_E_SHAPE, {"n_params = 17 but the architecture on 2 inputs has 16 parameters"}},
        {"meta: d_in differs", .meta = "format = ntk-params 1\nparam = ntk\nd_in = 3\nk = 1\nn_params = 16\n",
         .status = NTK_E_SHAPE, {"on 3 inputs has 20 parameters"}},
        /* a few hundred bytes that would make the loader allocate 80 GB (found by fuzz/fuzz_params.c) */
        {"meta: huge network, tiny file", .arch = "dense(100000),dense(1)",
         .meta = "format = ntk-params 1\nparam = ntk\nd_in = 100000\nk = 1\nn_params = 10000100000\n",
         .status = NTK_E_FORMAT, {"on 100000 inputs has 10000100000 parameters, more than the archive's"}},
        {"meta: uncountable network", .arch = "dense(1000000000),dense(1000000000),dense(1000000000)",
         .meta = "format = ntk-params 1\nparam = ntk\nd_in = 18446744073709551615\nk = 1\nn_params = 1\n",
         .status = NTK_E_FORMAT, {"has too many parameters to count"}},
        {"meta: d_in and n_params consistent, W not",
         .meta = "format = ntk-params 1\nparam = ntk\nd_in = 3\nk = 1\nn_params = 20\n", .status = NTK_E_SHAPE,
         {"dense0.W has shape (4, 2), expected (4, 3)"}},
    };
    ntk_error err;
    char *path = tu_tmpfile(".npz");
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const broken *b = &cases[c];
        write_broken(b, path);
        ntk_net *net = (ntk_net *)&err; /* must be reset to NULL on failure */
        ntk_status s = ntk_net_load(path, &net, &err);
        if (s != b->status) fail_msg("%s: status %d, expected %d (%s)", b->name, s, b->status, err.msg);
        if (s == NTK_OK) {
            assert_non_null(net);
            assert_int_equal(ntk_net_n_params(net), 16);
            assert_true(ntk_net_params(net)[0] == 0.01 && ntk_net_params(net)[15] == 0.04);
            ntk_net_free(net);
            continue;
        }
        if (net) fail_msg("%s: *out not NULL after a failure", b->name);
        assert_int_equal(err.status, s);
        if (!strstr(err.msg, path)) fail_msg("%s: message \"%s\" does not name the file", b->name, err.msg);
        for (int i = 0; i < 3 && b->texts[i]; i++)
            if (!strstr(err.msg, b->texts[i])) fail_msg("%s: message \"%s\" lacks \"%s\"", b->name, err.msg, b->texts[i]);
        if (strchr(err.msg, '\n')) fail_msg("%s: message is not one line: \"%s\"", b->name, err.msg);
    }
    remove(path);

    /* not an archive, and no file at all */
    FILE *f = fopen(path, "w");
    fputs("dense0.W = [1, 2]\n", f);
    fclose(f);
    ntk_net *net = NULL;
    assert_int_equal(ntk_net_load(path, &net, &err), NTK_E_FORMAT);
    assert_null(net);
    assert_has(err.msg, path);
    remove(path);
    assert_int_equal(ntk_net_load(path, &net, &err), NTK_E_IO);
    assert_null(net);
    assert_has(err.msg, path);
    free(path);
}

/* ------------------------------------------------------------ linearized models */

static void test_linearized(void **state)
{
    (void)state;
    ntk_error err;
    ntk_net *net = make_net(NETS[1].spec, NETS[1].d, NETS[1].param);
    assert_int_equal(ntk_net_init(net, 7, &err), NTK_OK);
    ntk_linear *lin = NULL;
    assert_int_equal(ntk_linear_create(net, &lin, &err), NTK_OK);
    size_t P = ntk_net_n_params(net);
    double *th = ntk_linear_params(lin);
    tu_rng r = {5};
    for (size_t i = 0; i < P; i++) th[i] += 0.1 * tu_normal(&r);
    char *path = tu_tmpfile(".npz");
    net_save_info info = {1, 7};
    if (net_save_model(NULL, lin, &info, path, &err)) fail_msg("%s", err.msg);

    ntk_npz *z = NULL;
    assert_int_equal(ntk_npz_read(path, &z, &err), NTK_OK);
    char *meta = NULL;
    size_t n;
    assert_int_equal(ntk_npz_get_bytes(z, "meta.txt", &meta, &n, &err), NTK_OK);
    assert_has(meta, "\nlinearized = 1\n");
    assert_has(meta, "\nseed = 7\n");
    free(meta);
    ntk_matrix m = {0};
    assert_int_equal(ntk_npz_get_array(z, "theta0.dense0.W", &m, &err), NTK_OK);
    assert_memory_equal(m.data, ntk_net_params_const(net) + ntk_net_dense(net, 0)->w_offset, m.rows * m.cols * sizeof(double));
    ntk_matrix_free(&m);
    assert_int_equal(ntk_npz_get_array(z, "dense0.W", &m, &err), NTK_OK);
    assert_memory_equal(m.data, th + ntk_net_dense(net, 0)->w_offset, m.rows * m.cols * sizeof(double));
    ntk_matrix_free(&m);
    ntk_npz_free(z);

    /* ntk_net_load refuses it */
    ntk_net *plain = NULL;
    assert_int_equal(ntk_net_load(path, &plain, &err), NTK_E_FORMAT);
    assert_null(plain);
    assert_has(err.msg, "linearized model");
    assert_has(err.msg, path);

    /* net_load_model restores θ, θ0 and f_lin bit for bit */
    ntk_linear *back = NULL;
    if (net_load_model(path, &plain, &back, &err)) fail_msg("%s", err.msg);
    assert_null(plain);
    assert_non_null(back);
    assert_memory_equal(ntk_linear_params(back), th, P * sizeof(double));
    assert_memory_equal(ntk_net_params_const(ntk_linear_base(back)), ntk_net_params_const(net), P * sizeof(double));
    size_t rows = 9, k = ntk_net_n_outputs(net);
    double *x = random_x(rows, NETS[1].d, 3), *f1 = malloc(rows * k * sizeof *f1), *f2 = malloc(rows * k * sizeof *f2);
    assert_int_equal(ntk_linear_apply(lin, x, rows, f1, &err), NTK_OK);
    assert_int_equal(ntk_linear_apply(back, x, rows, f2, &err), NTK_OK);
    assert_memory_equal(f1, f2, rows * k * sizeof *f1);
    /* and its θ is not the network's: f_lin differs from f(θ) */
    ntk_net *at = NULL;
    assert_int_equal(ntk_net_clone(net, &at, &err), NTK_OK);
    memcpy(ntk_net_params(at), th, P * sizeof(double));
    assert_int_equal(ntk_net_apply(at, x, rows, f2, 0, &err), NTK_OK);
    assert_true(memcmp(f1, f2, rows * k * sizeof *f1) != 0);

    /* a plain file through net_load_model gives a network */
    char *path2 = tu_tmpfile(".npz");
    assert_int_equal(ntk_net_save(net, path2, &err), NTK_OK);
    ntk_linear *none = NULL;
    assert_int_equal(net_load_model(path2, &plain, &none, &err), NTK_OK);
    assert_non_null(plain);
    assert_null(none);
    ntk_net_free(plain);

    /* a linearized file missing θ0 */
    assert_int_equal(ntk_npz_read(path, &z, &err), NTK_OK);
    ntk_npz *z2 = NULL;
    assert_int_equal(ntk_npz_create(&z2, &err), NTK_OK);
    for (size_t i = 0; i < ntk_npz_count(z); i++) {
        const char *nm = ntk_npz_member_name(z, i);
        if (!strcmp(nm, "theta0.dense1.W.npy")) continue;
        char *data;
        assert_int_equal(ntk_npz_get_bytes(z, nm, &data, &n, &err), NTK_OK);
        assert_int_equal(ntk_npz_add_bytes(z2, nm, data, n, &err), NTK_OK);
        free(data);
    }
    assert_int_equal(ntk_npz_write(z2, path2, &err), NTK_OK);
    assert_int_equal(net_load_model(path2, &plain, &none, &err), NTK_E_FORMAT);
    assert_null(plain);
    assert_null(none);
    assert_has(err.msg, "no array 'theta0.dense1.W'");
    ntk_npz_free(z);
    ntk_npz_free(z2);

    remove(path);
    remove(path2);
    free(path);
    free(path2);
    free(x);
    free(f1);
    free(f2);
    ntk_net_free(at);
    ntk_linear_free(lin);
    ntk_linear_free(back);
    ntk_net_free(net);
}

/* ------------------------------------------------------------ save errors */

static void test_save_errors(void **state)
{
    (void)state;
    ntk_error err;
    ntk_net *net = make_net(SPEC, 2, NTK_PARAM_NTK);
    assert_int_equal(ntk_net_init(net, 1, &err), NTK_OK);
    char *path = tu_tmpfile(".npz");
    ntk_net_params(net)[13] = NAN; /* dense1.W, column 2 (dense0: 8 + 4) */
    assert_int_equal(ntk_net_save(net, path, &err), NTK_E_NUMERIC);
    assert_has(err.msg, path);
    assert_has(err.msg, "dense1.W: row 1, column 2");
    assert_false(exists(path));
    ntk_net_params(net)[13] = 0.5;
    ntk_net_params(net)[9] = INFINITY; /* dense0.b[1] */
    assert_int_equal(ntk_net_save(net, path, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "dense0.b: row 2");
    assert_false(exists(path));
    ntk_net_params(net)[9] = 0.5;

    char bad[4200];
    snprintf(bad, sizeof bad, "%s.missing-dir/p.npz", path);
    assert_int_equal(ntk_net_save(net, bad, &err), NTK_E_IO);
    assert_has(err.msg, bad);
    assert_int_equal(ntk_net_save(net, path, &err), NTK_OK);
    assert_true(exists(path));
    remove(path);
    free(path);
    ntk_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_seeded),    cmocka_unit_test(test_members),
        cmocka_unit_test(test_load_errors), cmocka_unit_test(test_linearized), cmocka_unit_test(test_save_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
