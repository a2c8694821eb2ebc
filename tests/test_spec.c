/*
 * test_spec.c — the architecture spec language (src/arch/arch.c):
 * ntk_arch_parse on valid specs (whitespace, positional and named arguments,
 * every activation with its defaults and its mapping onto the a,b,c of
 * ntk_act_kind), ntk_arch_format round trips, every error with its exact
 * message "spec:LINE:COL: ..." and status NTK_E_SPEC, and ntk_arch_set_std
 * (the copy's fields, its spec text written out by hand, parse ∘ format =
 * identity on it).
 *
 * Parameter values are compared with == on purpose: a decimal literal in the
 * spec goes through strtod, the expected value through the C compiler, and
 * both round correctly to the same double.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ helpers */

/* Parses a spec that must be valid; fails the test with the message if not. */
static ntk_arch *parse_ok(const char *spec)
{
    ntk_arch *arch = NULL;
    ntk_error err;
    ntk_status s = ntk_arch_parse(spec, &arch, &err);
    if (s != NTK_OK) fail_msg("spec \"%s\" rejected (%d): %s", spec, (int)s, err.msg);
    assert_non_null(arch);
    assert_int_equal(err.status, NTK_OK);
    assert_string_equal(err.msg, "");
    return arch;
}

/* Parses a spec that must be rejected with NTK_E_SPEC and the message
 * `want` (the whole message when `prefix` is 0, its start otherwise). */
static void expect_error(const char *spec, const char *want, int prefix)
{
    ntk_arch *arch = (ntk_arch *)&arch; /* not NULL: checks that it is cleared */
    ntk_error err;
    ntk_status s = ntk_arch_parse(spec, &arch, &err);
    if (s != NTK_E_SPEC)
        fail_msg("spec \"%s\": status %d (%s), expected NTK_E_SPEC; message: %s", spec, (int)s,
                 ntk_status_string(s), s ? err.msg : "(none)");
    assert_null(arch);
    assert_int_equal(err.status, NTK_E_SPEC);
    int match = prefix ? strncmp(err.msg, want, strlen(want)) == 0 : strcmp(err.msg, want) == 0;
    if (!match)
        fail_msg("spec \"%s\":\n  got:      %s\n  expected: %s%s", spec, err.msg, want,
                 prefix ? "..." : "");
}

static void assert_layers_equal(const ntk_layer *x, const ntk_layer *y, int same_pos)
{
    assert_int_equal(x->kind, y->kind);
    assert_string_equal(x->name, y->name);
    if (same_pos) assert_int_equal(x->pos, y->pos);
    if (x->kind == NTK_LAYER_DENSE) {
        assert_int_equal(x->width, y->width);
        assert_true(x->w_std == y->w_std);
        assert_true(x->b_std == y->b_std);
        assert_int_equal(x->has_bias, y->has_bias);
        assert_int_equal(x->param, y->param);
    } else {
        assert_int_equal(x->act, y->act);
        assert_true(x->a == y->a);
        assert_true(x->b == y->b);
        assert_true(x->c == y->c);
    }
}

static void assert_archs_equal(const ntk_arch *x, const ntk_arch *y, int same_pos)
{
    assert_int_equal(ntk_arch_n_layers(x), ntk_arch_n_layers(y));
    for (size_t i = 0; i < ntk_arch_n_layers(x); i++)
        assert_layers_equal(ntk_arch_layer(x, i), ntk_arch_layer(y, i), same_pos);
}

/* The canonical string of a spec (malloc'd). */
static char *format_of(const ntk_arch *arch)
{
    size_t n = ntk_arch_format(arch, NULL, 0);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(ntk_arch_format(arch, buf, n + 1), n);
    assert_int_equal(strlen(buf), n);
    return buf;
}

/* ------------------------------------------------------------ dense */

static void test_dense_defaults(void **state)
{
    (void)state;
    ntk_arch *arch = parse_ok("dense(10)");
    assert_int_equal(ntk_arch_n_layers(arch), 1);
    const ntk_layer *L = ntk_arch_layer(arch, 0);
    assert_int_equal(L->kind, NTK_LAYER_DENSE);
    assert_string_equal(L->name, "dense");
    assert_int_equal(L->pos, 1);
    assert_int_equal(L->width, 10);
    assert_true(L->w_std == 1.0);
    assert_true(L->b_std == 0.0);
    assert_int_equal(L->has_bias, 0);
    assert_int_equal(L->param, -1);
    assert_null(ntk_arch_layer(arch, 1));
    ntk_arch_free(arch);

    assert_int_equal(ntk_arch_n_layers(NULL), 0);
    assert_null(ntk_arch_layer(NULL, 0));
    ntk_arch_free(NULL);
}

static void test_dense_arguments(void **state)
{
    (void)state;
    /* the same layer written positionally, by name in any order, and mixed */
    const char *specs[] = {
        "dense(5,1.5,0.05,standard)",
        "dense(width=5,w_std=1.5,b_std=0.05,param=standard)",
        "dense(param=standard,b_std=0.05,w_std=1.5,width=5)",
        "dense(5,1.5,param=standard,b_std=0.05)",
        "dense(5.0,15e-1,5e-2,param=standard)",
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        ntk_arch *arch = parse_ok(specs[k]);
        const ntk_layer *L = ntk_arch_layer(arch, 0);
        assert_int_equal(L->width, 5);
        assert_true(L->w_std == 1.5);
        assert_true(L->b_std == 0.05);
        assert_int_equal(L->has_bias, 1);
        assert_int_equal(L->param, NTK_PARAM_STANDARD);
        ntk_arch_free(arch);
    }

    ntk_arch *arch = parse_ok("dense(3,b_std=0),dense(4,w_std=0,param=ntk),dense(1000000000,2)");
    const ntk_layer *L = ntk_arch_layer(arch, 0);
    assert_int_equal(L->has_bias, 1); /* b_std given, even 0: the layer has a bias */
    assert_true(L->b_std == 0.0);
    assert_int_equal(L->param, -1);
    L = ntk_arch_layer(arch, 1);
    assert_int_equal(L->has_bias, 0);
    assert_true(L->w_std == 0.0);
    assert_int_equal(L->param, NTK_PARAM_NTK);
    L = ntk_arch_layer(arch, 2);
    assert_int_equal(L->width, 1000000000);
    assert_true(L->w_std == 2.0);
    assert_int_equal(L->has_bias, 0);
    ntk_arch_free(arch);

    /* a value that underflows reads as 0 (strtod's ERANGE on underflow is not an error) */
    arch = parse_ok("dense(2,b_std=1e-400)");
    assert_true(ntk_arch_layer(arch, 0)->b_std == 0.0);
    assert_int_equal(ntk_arch_layer(arch, 0)->has_bias, 1);
    ntk_arch_free(arch);
}

static void test_whitespace(void **state)
{
    (void)state;
    ntk_arch *tight = parse_ok("dense(4,w_std=2,b_std=0.5),relu,dense(1,param=standard)");
    const char *loose[] = {
        " dense(4,w_std=2,b_std=0.5),relu,dense(1,param=standard) ",
        "\tdense ( 4 , w_std = 2 , b_std = 0.5 ) , relu , dense ( 1 , param = standard )\n",
        "dense(\n  4,\n  w_std=2,\n  b_std=0.5\n),\nrelu,\r\ndense(1,\vparam\f=\tstandard)\n\n",
    };
    for (size_t k = 0; k < sizeof loose / sizeof loose[0]; k++) {
        ntk_arch *arch = parse_ok(loose[k]);
        assert_archs_equal(arch, tight, 0);
        ntk_arch_free(arch);
    }
    ntk_arch_free(tight);
}

static void test_layer_positions(void **state)
{
    (void)state;
    ntk_arch *arch = parse_ok("dense(3), relu,\n  dense(2),\n\tgelu");
    assert_int_equal(ntk_arch_n_layers(arch), 4);
    assert_int_equal(ntk_arch_layer(arch, 0)->pos, 1);
    assert_int_equal(ntk_arch_layer(arch, 1)->pos, 11);
    assert_int_equal(ntk_arch_layer(arch, 2)->pos, 3); /* column on its own line */
    assert_int_equal(ntk_arch_layer(arch, 3)->pos, 2);
    ntk_arch_free(arch);
}

/* More layers than the parser's initial capacity. */
static void test_many_layers(void **state)
{
    (void)state;
    char spec[2048] = "dense(7)";
    for (int k = 0; k < 40; k++) strcat(spec, k % 2 ? ",dense(7,w_std=1.25)" : ",tanh");
    ntk_arch *arch = parse_ok(spec);
    assert_int_equal(ntk_arch_n_layers(arch), 41);
    for (size_t i = 1; i < 41; i++) {
        const ntk_layer *L = ntk_arch_layer(arch, i);
        if (i % 2) {
            assert_int_equal(L->kind, NTK_LAYER_ACT);
            assert_int_equal(L->act, NTK_ACT_TANH);
        } else {
            assert_int_equal(L->kind, NTK_LAYER_DENSE);
            assert_true(L->w_std == 1.25);
        }
    }
    ntk_arch_free(arch);
}

/* ------------------------------------------------------------ activations */

typedef struct {
    const char *act;  /* as written after "dense(3)," */
    const char *name; /* ntk_layer.name */
    ntk_act_kind kind;
    double a, b, c;
} act_case;

static void test_activations(void **state)
{
    (void)state;
    const double sl_b = 1 / 2.4020563531719796; /* stax sigmoid_like: erf(x/2.402...)/2 + 1/2 */
    const act_case cases[] = {
        {"relu", "relu", NTK_ACT_ABRELU, 0, 1, 0},
        {"relu()", "relu", NTK_ACT_ABRELU, 0, 1, 0},
        {"leaky_relu", "leaky_relu", NTK_ACT_ABRELU, 0.01, 1, 0},
        {"leaky_relu(0.2)", "leaky_relu", NTK_ACT_ABRELU, 0.2, 1, 0},
        {"leaky_relu(alpha=-0.3)", "leaky_relu", NTK_ACT_ABRELU, -0.3, 1, 0},
        {"abs", "abs", NTK_ACT_ABRELU, -1, 1, 0},
        {"abrelu(0.5,2)", "abrelu", NTK_ACT_ABRELU, 0.5, 2, 0},
        {"abrelu(b=3,a=-0.25)", "abrelu", NTK_ACT_ABRELU, -0.25, 3, 0},
        {"erf", "erf", NTK_ACT_ERF, 1, 1, 0},
        {"erf(2,3,4)", "erf", NTK_ACT_ERF, 2, 3, 4},
        {"erf(c=0.5)", "erf", NTK_ACT_ERF, 1, 1, 0.5},
        {"erf(0.5,b=2)", "erf", NTK_ACT_ERF, 0.5, 2, 0},
        {"sigmoid_like", "sigmoid_like", NTK_ACT_ERF, 0.5, sl_b, 0.5},
        {"sin", "sin", NTK_ACT_SIN, 1, 1, 0},
        {"sin(2,3,0.5)", "sin", NTK_ACT_SIN, 2, 3, 0.5},
        {"sin(b=4)", "sin", NTK_ACT_SIN, 1, 4, 0},
        {"cos", "cos", NTK_ACT_COS, 1, 1, 0},
        {"cos(-1,0.5,1e-3)", "cos", NTK_ACT_COS, -1, 0.5, 1e-3},
        {"identity", "identity", NTK_ACT_IDENTITY, 0, 0, 0},
        {"gelu", "gelu", NTK_ACT_GELU, 0, 0, 0},
        {"tanh", "tanh", NTK_ACT_TANH, 0, 0, 0},
        {"sigmoid", "sigmoid", NTK_ACT_SIGMOID, 0, 0, 0},
        {"softplus", "softplus", NTK_ACT_SOFTPLUS, 0, 0, 0},
        {"silu", "silu", NTK_ACT_SILU, 0, 0, 0},
        {"elu", "elu", NTK_ACT_ELU, 1, 0, 0},
        {"elu(0.5)", "elu", NTK_ACT_ELU, 0.5, 0, 0},
        {"elu(alpha=2)", "elu", NTK_ACT_ELU, 2, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const act_case *t = &cases[k];
        char spec[128];
        snprintf(spec, sizeof spec, "dense(3),%s,dense(1)", t->act);
        ntk_arch *arch = parse_ok(spec);
        assert_int_equal(ntk_arch_n_layers(arch), 3);
        const ntk_layer *L = ntk_arch_layer(arch, 1);
        if (L->kind != NTK_LAYER_ACT || L->act != t->kind || strcmp(L->name, t->name) || L->a != t->a ||
            L->b != t->b || L->c != t->c || L->pos != 10)
            fail_msg("%s: got kind %d act %d name '%s' a=%.17g b=%.17g c=%.17g pos %d; expected act %d "
                     "name '%s' a=%.17g b=%.17g c=%.17g pos 10",
                     spec, (int)L->kind, (int)L->act, L->name, L->a, L->b, L->c, L->pos, (int)t->kind,
                     t->name, t->a, t->b, t->c);
        ntk_arch_free(arch);
    }
}

/* ------------------------------------------------------------ format */

static void test_format_canonical(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"dense(10)", "dense(10,w_std=1)"},
        {" dense ( 5 , 1.5 , 0.05 , standard ) , relu ",
         "dense(5,w_std=1.5,b_std=0.05,param=standard),relu"},
        {"dense(2,b_std=0,param=ntk),abs,dense(1,w_std=0.1)",
         "dense(2,w_std=1,b_std=0,param=ntk),abs,dense(1,w_std=0.1)"},
        {"dense(1),leaky_relu", "dense(1,w_std=1),leaky_relu(0.01)"},
        {"dense(1),abrelu(b=2,a=-1)", "dense(1,w_std=1),abrelu(-1,2)"},
        {"dense(1),erf,sin,cos(c=0.25)", "dense(1,w_std=1),erf(1,1,0),sin(1,1,0),cos(1,1,0.25)"},
        {"dense(1),sigmoid_like,elu", "dense(1,w_std=1),sigmoid_like,elu(1)"},
        {"dense(1),identity,gelu,tanh,sigmoid,softplus,silu",
         "dense(1,w_std=1),identity,gelu,tanh,sigmoid,softplus,silu"},
        {"dense(3,w_std=0.30000000000000004)", "dense(3,w_std=0.30000000000000004)"},
        {"dense(3,w_std=1e-300,b_std=123456.75)", "dense(3,w_std=1e-300,b_std=123456.75)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ntk_arch *arch = parse_ok(cases[k][0]);
        char *s = format_of(arch);
        if (strcmp(s, cases[k][1]))
            fail_msg("format of \"%s\":\n  got:      %s\n  expected: %s", cases[k][0], s, cases[k][1]);
        free(s);
        ntk_arch_free(arch);
    }
}

/* format -> parse -> format is a fixed point, and gives the same layers. */
static void test_format_round_trip(void **state)
{
    (void)state;
    const char *specs[] = {
        "dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)",
        "dense(3,param=standard),leaky_relu(0.2),dense(7,w_std=0.1,b_std=0.3,param=ntk),abs,dense(1)",
        "dense(1),abrelu(-0.7,1.3),erf(0.3,1.7,-0.2),sigmoid_like,sin(2,0.5,0.1),cos,dense(2)",
        "dense(4),identity,gelu,tanh,sigmoid,softplus,silu,elu(0.75),dense(1,b_std=1e-3)",
        "dense(2,w_std=0.1,b_std=0.2),leaky_relu(alpha=0.33333333333333331),dense(2,w_std=3.3e-7)",
        "dense(9,w_std=2.5,b_std=0),erf(a=-1,b=1e10,c=1e-10),dense(1)",
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        ntk_arch *a1 = parse_ok(specs[k]);
        char *s1 = format_of(a1);
        ntk_arch *a2 = parse_ok(s1);
        char *s2 = format_of(a2);
        if (strcmp(s1, s2)) fail_msg("round trip of \"%s\":\n  %s\n  %s", specs[k], s1, s2);
        assert_archs_equal(a1, a2, 0);
        free(s1);
        free(s2);
        ntk_arch_free(a1);
        ntk_arch_free(a2);
    }
}

/* Like snprintf: the needed length is returned whatever the buffer size,
 * and a short buffer holds a NUL-terminated prefix. */
static void test_format_truncation(void **state)
{
    (void)state;
    ntk_arch *arch = parse_ok("dense(8,b_std=0.5),relu,dense(1)");
    const char *full = "dense(8,w_std=1,b_std=0.5),relu,dense(1,w_std=1)";
    size_t n = strlen(full);
    assert_int_equal(ntk_arch_format(arch, NULL, 0), n);
    char buf[128];
    for (size_t cap = 1; cap <= n + 1; cap++) {
        memset(buf, 'X', sizeof buf);
        assert_int_equal(ntk_arch_format(arch, buf, cap), n);
        size_t got = strlen(buf);
        assert_true(got < cap);
        assert_memory_equal(buf, full, got);
        assert_true(buf[cap] == 'X'); /* nothing written past the buffer */
    }
    assert_string_equal(buf, full);
    ntk_arch_free(arch);
}

/* ------------------------------------------------------------ ntk_arch_set_std */

/* The copy of `spec` with (w, b) set (NaN: kept); its other fields must be
 * those of the original, the original untouched. Returns the copy. */
static ntk_arch *set_std_ok(const char *spec, double w, double b)
{
    ntk_arch *a = parse_ok(spec), *c = NULL;
    char *before = format_of(a);
    ntk_error err;
    if (ntk_arch_set_std(a, w, b, &c, &err)) fail_msg("set_std(%s, %g, %g): %s", spec, w, b, err.msg);
    assert_int_equal(ntk_arch_n_layers(c), ntk_arch_n_layers(a));
    for (size_t i = 0; i < ntk_arch_n_layers(a); i++) {
        const ntk_layer *x = ntk_arch_layer(a, i), *y = ntk_arch_layer(c, i);
        ntk_layer want = *x;
        if (x->kind == NTK_LAYER_DENSE) {
            if (!isnan(w)) want.w_std = w;
            if (!isnan(b)) {
                want.has_bias = b > 0;
                want.b_std = b;
            }
        }
        assert_layers_equal(y, &want, 1);
    }
    char *after = format_of(a);
    assert_string_equal(before, after);
    free(before);
    free(after);
    ntk_arch_free(a);
    return c;
}

/* Every dense layer gets the values, the rest is kept, and the copy's
 * canonical spec parses back to it (the spec `ntk tune` prints and saves). */
static void test_set_std(void **state)
{
    (void)state;
    const char *spec = "dense(8,w_std=2,b_std=0.5,param=standard),erf(0.5,2,0.1),dense(4),leaky_relu(0.2),"
                       "dense(3,w_std=0.1,b_std=0),dense(1,param=ntk)";
    const double ws[] = {1.5, 0.30000000000000004, 1e-300, 0, NAN}, bs[] = {0.05, 0, 123456.75, 1e-300, NAN};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++) {
            ntk_arch *c = set_std_ok(spec, ws[i], bs[j]);
            char *s1 = format_of(c);
            ntk_arch *back = parse_ok(s1);
            assert_archs_equal(back, c, 0);
            char *s2 = format_of(back);
            assert_string_equal(s1, s2);
            free(s1);
            free(s2);
            ntk_arch_free(back);
            ntk_arch_free(c);
        }
    /* the text itself, written out by hand */
    const struct {
        double w, b;
        const char *want;
    } cases[] = {
        {1.5, 0.05,
         "dense(8,w_std=1.5,b_std=0.05,param=standard),erf(0.5,2,0.1),dense(4,w_std=1.5,b_std=0.05),leaky_relu(0.2),"
         "dense(3,w_std=1.5,b_std=0.05),dense(1,w_std=1.5,b_std=0.05,param=ntk)"},
        {0.25, 0, /* b_std 0: no bias, also where the spec had b_std=0 */
         "dense(8,w_std=0.25,param=standard),erf(0.5,2,0.1),dense(4,w_std=0.25),leaky_relu(0.2),dense(3,w_std=0.25),"
         "dense(1,w_std=0.25,param=ntk)"},
        {NAN, 0.125,
         "dense(8,w_std=2,b_std=0.125,param=standard),erf(0.5,2,0.1),dense(4,w_std=1,b_std=0.125),leaky_relu(0.2),"
         "dense(3,w_std=0.1,b_std=0.125),dense(1,w_std=1,b_std=0.125,param=ntk)"},
        {3, NAN, /* the biases as they were: b_std=0 given stays a bias */
         "dense(8,w_std=3,b_std=0.5,param=standard),erf(0.5,2,0.1),dense(4,w_std=3),leaky_relu(0.2),"
         "dense(3,w_std=3,b_std=0),dense(1,w_std=3,param=ntk)"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ntk_arch *c = set_std_ok(spec, cases[k].w, cases[k].b);
        char *s = format_of(c);
        if (strcmp(s, cases[k].want)) fail_msg("w %g, b %g:\n  got:      %s\n  expected: %s", cases[k].w, cases[k].b, s,
                                               cases[k].want);
        free(s);
        ntk_arch_free(c);
    }
}

static void test_set_std_errors(void **state)
{
    (void)state;
    ntk_arch *a = parse_ok("dense(2),relu,dense(1)"), *c = (ntk_arch *)&c;
    ntk_error err;
    const struct {
        double w, b;
        const char *msg;
    } bad[] = {
        {-1, 0.1, "w_std must be a finite number >= 0 (or NaN to keep), got -1"},
        {INFINITY, 0.1, "w_std must be a finite number >= 0 (or NaN to keep), got inf"},
        {1, -0.5, "b_std must be a finite number >= 0 (or NaN to keep), got -0.5"},
        {1, INFINITY, "b_std must be a finite number >= 0 (or NaN to keep), got inf"},
        {1, -INFINITY, "b_std must be a finite number >= 0 (or NaN to keep), got -inf"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        c = (ntk_arch *)&c;
        assert_int_equal(ntk_arch_set_std(a, bad[k].w, bad[k].b, &c, &err), NTK_E_INVAL);
        assert_null(c);
        assert_string_equal(err.msg, bad[k].msg);
    }
    assert_int_equal(ntk_arch_set_std(NULL, 1, 1, &c, &err), NTK_E_INVAL);
    assert_null(c);
    assert_int_equal(ntk_arch_set_std(a, 1, 1, NULL, &err), NTK_E_INVAL);
    ntk_arch_free(a);
}

/* ------------------------------------------------------------ errors */

typedef struct {
    const char *spec;
    const char *msg;
} err_case;

static void test_errors(void **state)
{
    (void)state;
    const err_case cases[] = {
        /* empty */
        {"", "spec:1:1: empty architecture"},
        {"  \t ", "spec:1:5: empty architecture"},
        {"\n\n  ", "spec:3:3: empty architecture"},
        /* layer names */
        {"dense(4),rleu", "spec:1:10: unknown activation 'rleu' (did you mean 'relu'?)"},
        {"dense(10, w_std=2), rleu", "spec:1:21: unknown activation 'rleu' (did you mean 'relu'?)"},
        {"dense(4),Tanh", "spec:1:10: unknown activation 'Tanh' (did you mean 'tanh'?)"},
        {"dense(4),leaky_rel(0.1)",
         "spec:1:10: unknown activation 'leaky_rel' (did you mean 'leaky_relu'?)"},
        {"dens(3)", "spec:1:1: unknown layer 'dens' (did you mean 'dense'?)"},
        {"dense(4),foo",
         "spec:1:10: unknown layer 'foo' (layers: dense; activations: relu, leaky_relu, abs, abrelu, "
         "erf, sigmoid_like, sin, cos, identity, gelu, tanh, sigmoid, softplus, silu, elu)"},
        {"relu,dense(1)", "spec:1:1: the network starts with the activation 'relu'; the first layer must be dense"},
        {"  erf(1,2,3),dense(1)",
         "spec:1:3: the network starts with the activation 'erf'; the first layer must be dense"},
        {"(1)", "spec:1:1: expected a layer name, found '('"},
        {",dense(1)", "spec:1:1: expected a layer name, found ','"},
        {"dense(1),,relu", "spec:1:10: expected a layer name, found ','"},
        {"dense(1),3", "spec:1:10: expected a layer name, found '3'"},
        /* width */
        {"dense(0)", "spec:1:7: dense: width must be a positive integer, got 0"},
        {"dense(-3)", "spec:1:7: dense: width must be a positive integer, got -3"},
        {"dense(2.5)", "spec:1:7: dense: width must be a positive integer, got 2.5"},
        {"dense(1e20)", "spec:1:7: dense: width must be at most 1000000000, got 1e+20"},
        {"dense(1000000001)", "spec:1:7: dense: width must be at most 1000000000, got 1e+09"},
        {"dense(w_std=1, width=0)", "spec:1:16: dense: width must be a positive integer, got 0"},
        {"dense()", "spec:1:1: dense: missing required argument 'width'"},
        {"dense", "spec:1:1: dense: missing required argument 'width'"},
        {"dense(4),relu,dense(w_std=2)", "spec:1:15: dense: missing required argument 'width'"},
        /* standard deviations */
        {"dense(4,w_std=-1)", "spec:1:9: dense: w_std must be >= 0, got -1"},
        {"dense(4, 1, -0.1)", "spec:1:13: dense: b_std must be >= 0, got -0.1"},
        {"dense(4),relu,dense(2,b_std=-2)", "spec:1:23: dense: b_std must be >= 0, got -2"},
        /* parameter names */
        {"dense(4,wstd=1)", "spec:1:9: dense: unknown parameter 'wstd' (did you mean 'w_std'?)"},
        {"dense(4,bstd=1)", "spec:1:9: dense: unknown parameter 'bstd' (did you mean 'b_std'?)"},
        {"dense(4,zzz=1)", "spec:1:9: dense: unknown parameter 'zzz' (parameters: width, w_std, b_std, param)"},
        {"dense(1),leaky_relu(slope=0.1)",
         "spec:1:21: leaky_relu: unknown parameter 'slope' (parameters: alpha)"},
        {"dense(1),erf(d=1)", "spec:1:14: erf: unknown parameter 'd' (parameters: a, b, c)"},
        {"dense(1),relu(a=1)", "spec:1:15: relu takes no arguments"},
        /* too many arguments */
        {"dense(1),relu(1)", "spec:1:15: relu takes no arguments"},
        {"dense(1),sigmoid_like(0.5)", "spec:1:23: sigmoid_like takes no arguments"},
        {"dense(1),leaky_relu(1,2)", "spec:1:23: leaky_relu takes at most 1 argument"},
        {"dense(1),erf(1,2,3,4)", "spec:1:20: erf takes at most 3 arguments"},
        {"dense(1,2,3,ntk,5)", "spec:1:17: dense takes at most 4 arguments"},
        /* more than the parser collects: the message and position are the same */
        {"dense(1,2,3,ntk,5,6)", "spec:1:17: dense takes at most 4 arguments"},
        {"dense(1),relu(1,2,3,4,5,6)", "spec:1:15: relu takes no arguments"},
        {"dense(1),elu(1,2,3,4,5,6,7)", "spec:1:16: elu takes at most 1 argument"},
        /* positional after named, duplicates, missing */
        {"dense(width=1,2)", "spec:1:15: dense: positional argument after a named one"},
        {"dense(1),erf(a=1,2)", "spec:1:18: erf: positional argument after a named one"},
        {"dense(1,width=2)", "spec:1:9: dense: 'width' given twice"},
        {"dense(1,w_std=1,w_std=2)", "spec:1:17: dense: 'w_std' given twice"},
        {"dense(1),abrelu", "spec:1:10: abrelu: missing required argument 'a'"},
        {"dense(1),abrelu(1)", "spec:1:10: abrelu: missing required argument 'b'"},
        {"dense(1),abrelu(b=1)", "spec:1:10: abrelu: missing required argument 'a'"},
        /* values */
        {"dense(x)", "spec:1:7: dense: 'width' must be a number, found 'x'"},
        {"dense(1,w_std=abc)", "spec:1:9: dense: 'w_std' must be a number, found 'abc'"},
        {"dense(1),erf(1,two)", "spec:1:16: erf: 'b' must be a number, found 'two'"},
        {"dense(1,w_std=)", "spec:1:15: dense: expected a number, found ')'"},
        {"dense(1,w_std=*2)", "spec:1:15: dense: expected a number, found '*'"},
        {"dense(1,w_std=inf)", "spec:1:15: dense: 'inf' is not a finite number"},
        {"dense(1,w_std=-inf)", "spec:1:15: dense: '-inf' is not a finite number"},
        {"dense(1,b_std=nan)", "spec:1:15: dense: 'nan' is not a finite number"},
        {"dense(1),erf(NaN)", "spec:1:14: erf: 'NaN' is not a finite number"},
        {"dense(1,w_std=1e400)", "spec:1:15: dense: '1e400' is not a finite number"},
        {"dense(Inf)", "spec:1:7: dense: 'Inf' is not a finite number"},
        /* param */
        {"dense(1,param=bogus)", "spec:1:9: dense: param must be 'ntk' or 'standard'"},
        {"dense(1,param=1)", "spec:1:9: dense: param must be 'ntk' or 'standard'"},
        {"dense(1,param=NTK)", "spec:1:9: dense: param must be 'ntk' or 'standard'"},
        {"dense(1,1,0,std)", "spec:1:13: dense: param must be 'ntk' or 'standard'"},
        /* parentheses, commas, junk */
        {"dense(1", "spec:1:8: expected ',' or ')' in the arguments of dense, found end of spec"},
        {"dense(1,w_std=2", "spec:1:16: expected ',' or ')' in the arguments of dense, found end of spec"},
        {"dense(1 2)", "spec:1:9: expected ',' or ')' in the arguments of dense, found '2'"},
        {"dense(1))", "spec:1:9: expected ',' or end of spec, found ')'"},
        {"dense((1)", "spec:1:7: dense: expected a number, found '('"},
        {"dense(1),", "spec:1:10: expected a layer after ','"},
        {"dense(1), \n ", "spec:2:2: expected a layer after ','"},
        {"dense(1,)", "spec:1:9: dense: expected an argument after ',', found ')'"},
        {"dense(1,,2)", "spec:1:9: dense: expected an argument after ',', found ','"},
        {"dense(,1)", "spec:1:7: dense: expected a number, found ','"},
        {"dense(1) relu", "spec:1:10: expected ',' or end of spec, found 'relu'"},
        {"dense(1);relu", "spec:1:9: expected ',' or end of spec, found ';'"},
        {"dense(1),relu x", "spec:1:15: expected ',' or end of spec, found 'x'"},
        {"dense(1)\xc3\xa9", "spec:1:9: expected ',' or end of spec, found '\xc3\xa9'"},
        /* control characters are shown as \xNN (found by fuzz/fuzz_spec.c) */
        {"dense(1),\x01", "spec:1:10: expected a layer name, found '\\x01'"},
        {"dense(1)\x1b[2J", "spec:1:9: expected ',' or end of spec, found '\\x1b'"},
        {"dense(1,w_std=\x7f)", "spec:1:15: dense: expected a number, found '\\x7f'"},
        /* multi-line specs: LINE and COL on the line */
        {"dense(1),\n  rleu", "spec:2:3: unknown activation 'rleu' (did you mean 'relu'?)"},
        {"dense(512, w_std=1.5),\nrelu,\n  dense(1, wstd=1.5)",
         "spec:3:12: dense: unknown parameter 'wstd' (did you mean 'w_std'?)"},
        {"dense(4,\n      w_std=-1)", "spec:2:7: dense: w_std must be >= 0, got -1"},
        {"dense(4)\n\trelu", "spec:2:2: expected ',' or end of spec, found 'relu'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        expect_error(cases[k].spec, cases[k].msg, 0);
    /* prefixes only where the tail is a long list */
    expect_error("maxpool(3)", "spec:1:1: unknown layer 'maxpool' (layers: dense; activations: relu, ", 1);
}

static void test_error_api(void **state)
{
    (void)state;
    ntk_arch *arch = (ntk_arch *)&arch;
    ntk_error err;
    assert_int_equal(ntk_arch_parse(NULL, &arch, &err), NTK_E_INVAL);
    assert_null(arch);
    assert_int_equal(err.status, NTK_E_INVAL);
    assert_string_equal(err.msg, "spec: no architecture given");
    /* err may be NULL: the status alone is returned */
    assert_int_equal(ntk_arch_parse("dense(0)", &arch, NULL), NTK_E_SPEC);
    assert_null(arch);
    assert_int_equal(ntk_arch_parse("dense(2)", &arch, NULL), NTK_OK);
    assert_non_null(arch);
    ntk_arch_free(arch);
    /* a failure after a success: the message is replaced, the status set */
    assert_int_equal(ntk_arch_parse("dense(1),relu", &arch, &err), NTK_OK);
    ntk_arch_free(arch);
    assert_int_equal(ntk_arch_parse("dense(1),rleu", &arch, &err), NTK_E_SPEC);
    assert_int_equal(err.status, NTK_E_SPEC);
    assert_string_equal(ntk_status_string(err.status), "bad architecture spec");
}

/* A very long name or spec gives a truncated message, not an overflow. */
/* A spec of 200000 layers, 1000 to a line ("dense(3)," first, then
 * "relu," each, a newline after every 1000th), ending in `last`. */
static char *deep_spec(size_t n, const char *last)
{
    char *spec = malloc(16 + 6 * n + strlen(last));
    assert_non_null(spec);
    size_t k = (size_t)sprintf(spec, "dense(3),");
    for (size_t i = 0; i < n; i++) k += (size_t)sprintf(spec + k, i % 1000 == 999 ? "relu,\n" : "relu,");
    strcpy(spec + k, last);
    return spec;
}

/* Layer positions are counted in one pass: they were counted from the
 * start of the spec for every layer (17 s for 100000 layers). */
static void test_deep_spec(void **state)
{
    (void)state;
    const size_t n = 200000;
    char *spec = deep_spec(n, "dense(1)");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ntk_arch *arch = NULL;
    ntk_error err;
    ntk_status st = ntk_arch_parse(spec, &arch, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st) fail_msg("%s", err.msg);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* one pass: milliseconds, well under a second even under ASan; a pass
     * per layer: minutes */
    if (secs > 10) fail_msg("parsing %zu layers took %.1f s", n + 2, secs);
    assert_int_equal(ntk_arch_n_layers(arch), n + 2);
    /* relu i (layer 1 + i) is on line i/1000 + 1, at column 5 (i % 1000) + 1,
     * plus 9 on line 1 after "dense(3)," */
    assert_int_equal(ntk_arch_layer(arch, 0)->pos, 1);
    assert_int_equal(ntk_arch_layer(arch, 1)->pos, 10);
    assert_int_equal(ntk_arch_layer(arch, 1000)->pos, 10 + 5 * 999);
    assert_int_equal(ntk_arch_layer(arch, 1001)->pos, 1);
    assert_int_equal(ntk_arch_layer(arch, 1 + 150007)->pos, 1 + 5 * 7);
    assert_int_equal(ntk_arch_layer(arch, n + 1)->pos, 1); /* dense(1) starts the last line */
    ntk_arch_free(arch);
    free(spec);

    /* an error at the end names its line and column */
    spec = deep_spec(n, "rleu");
    assert_int_equal(ntk_arch_parse(spec, &arch, &err), NTK_E_SPEC);
    char want[64];
    snprintf(want, sizeof want, "spec:%zu:1: unknown activation 'rleu'", n / 1000 + 1);
    if (strncmp(err.msg, want, strlen(want))) fail_msg("got '%s', expected '%s...'", err.msg, want);
    free(spec);
}

static void test_long_inputs(void **state)
{
    (void)state;
    char name[2000];
    memset(name, 'q', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char spec[2100];
    snprintf(spec, sizeof spec, "dense(1),%s", name);
    ntk_arch *arch = NULL;
    ntk_error err;
    assert_int_equal(ntk_arch_parse(spec, &arch, &err), NTK_E_SPEC);
    assert_true(strlen(err.msg) < NTK_ERRMSG_MAX);
    assert_true(strncmp(err.msg, "spec:1:10: unknown layer 'qqqq", 30) == 0);

    snprintf(spec, sizeof spec, "dense(1,%s=2)", name);
    assert_int_equal(ntk_arch_parse(spec, &arch, &err), NTK_E_SPEC);
    assert_true(strncmp(err.msg, "spec:1:9: dense: unknown parameter 'qqqq", 40) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_defaults),     cmocka_unit_test(test_dense_arguments),
        cmocka_unit_test(test_whitespace),         cmocka_unit_test(test_layer_positions),
        cmocka_unit_test(test_many_layers),        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_format_canonical),   cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_truncation),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_api),          cmocka_unit_test(test_deep_spec),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_set_std),            cmocka_unit_test(test_set_std_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
