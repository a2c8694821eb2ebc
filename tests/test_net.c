/*
 * test_net.c — finite networks (src/net/net.c):
 *   - backward pass vs central finite differences, float64, for every
 *     activation, both parameterizations, with and without biases, k = 1, 3;
 *   - seeded init: reproducible, seed-dependent, the documented recipe
 *     (SplitMix64 + Box–Muller) bit for bit, and the right statistics;
 *   - parameter layout and multipliers (ntk_net_dense);
 *   - batched BLAS forward vs a plain loop forward;
 *   - ntk_net_apply bitwise the same on 1, 2 and 3 threads; clone.
 */
#include "testutil.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void set_threads(int n)
{
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

static ntk_arch *parse(const char *spec)
{
    ntk_arch *a = NULL;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) fail_msg("%s: %s", spec, err.msg);
    return a;
}

static ntk_net *make_net(const char *spec, size_t d, ntk_param param, uint64_t seed)
{
    ntk_arch *a = parse(spec);
    ntk_net *net = NULL;
    ntk_error err;
    if (ntk_net_create(a, d, param, &net, &err)) fail_msg("%s: %s", spec, err.msg);
    ntk_arch_free(a);
    if (ntk_net_init(net, seed, &err)) fail_msg("%s", err.msg);
    return net;
}

static double *random_mat(size_t n, uint64_t seed, double scale)
{
    tu_rng r = {seed};
    double *a = malloc((n ? n : 1) * sizeof *a);
    tu_fill_normal(&r, a, n, scale);
    return a;
}

/* ------------------------------------------------------------ gradients */

static const char *ACTS[] = {
    "relu", "leaky_relu(0.1)", "abs", "abrelu(-0.5,2)", "erf", "erf(0.7,1.3,0.2)", "sigmoid_like",
    "sin(1.5,0.8,0.3)", "cos(1,2,0)", "identity", "gelu", "tanh", "sigmoid", "softplus", "silu", "elu", "elu(0.5)",
};

/* S(θ) = Σ G·f(x; θ) for the batch x. */
static double weighted_sum(const ntk_net *net, ntk_net_work *w, const double *x, size_t n, const double *G, double *f)
{
    ntk_error err;
    if (ntk_net_forward(net, w, x, n, f, &err)) fail_msg("%s", err.msg);
    double s = 0;
    for (size_t e = 0; e < n * ntk_net_n_outputs(net); e++) s += G[e] * f[e];
    return s;
}

/* The smallest |z| over the inputs of kinked activations (ABReLU family
 * and ELU: φ or φ' jumps at 0) in the last forward batch: recomputed with
 * a plain forward, since the workspace is opaque. */
static double kink_margin(const ntk_net *net, const double *x, size_t n)
{
    const ntk_arch *arch = ntk_net_arch(net);
    size_t d = ntk_net_n_inputs(net), nl = ntk_arch_n_layers(arch);
    const double *th = ntk_net_params_const(net);
    double margin = INFINITY;
    size_t cap = 64;
    double *h = malloc(cap * sizeof *h), *z = malloc(cap * sizeof *z);
    for (size_t r = 0; r < n; r++) {
        size_t width = d, dl = 0;
        memcpy(h, x + r * d, d * sizeof *h);
        for (size_t i = 0; i < nl; i++) {
            const ntk_layer *L = ntk_arch_layer(arch, i);
            if (L->kind == NTK_LAYER_DENSE) {
                const ntk_dense_info *D = ntk_net_dense(net, dl++);
                for (size_t o = 0; o < D->n_out; o++) {
                    double s = 0;
                    for (size_t c = 0; c < D->n_in; c++) s += th[D->w_offset + o * D->n_in + c] * h[c];
                    z[o] = D->w_mult * s + (D->has_bias ? D->b_mult * th[D->b_offset + o] : 0.0);
                }
                width = D->n_out;
            } else {
                int kinked = L->act == NTK_ACT_ABRELU || L->act == NTK_ACT_ELU;
                for (size_t o = 0; o < width; o++) {
                    if (kinked && fabs(h[o]) < margin) margin = fabs(h[o]);
                    z[o] = ntk_act_eval(L, h[o]);
                }
            }
            memcpy(h, z, width * sizeof *h);
        }
    }
    free(h);
    free(z);
    return margin;
}

/* Central differences with step hs: truncation hs²/6·|S'''| ≈ 2e-11 and
 * rounding ≈ ε·|S|/hs ≈ 2e-11 for S, S''' = O(1); against the largest
 * gradient entry (O(0.1..10)) that is ≲ 1e-9, so 1e-6 leaves a wide margin
 * while any wrong factor, index or missing term fails by far more. The
 * kink margin 1e-3 ≫ the change of a pre-activation under a step (≲ 1e-4),
 * so kinked φ are differentiated on one smooth piece. */
static double fd_check(const char *act, ntk_param param, int bias, size_t k, uint64_t *seed_used)
{
    char spec[512];
    const char *b1 = bias ? ",b_std=0.4" : "", *b2 = bias ? ",b_std=0.2" : "", *b3 = bias ? ",b_std=0.3" : "";
    snprintf(spec, sizeof spec, "dense(5,w_std=1.3%s),%s,dense(4,w_std=1.1%s),%s,dense(%zu,w_std=0.9%s)", b1, act, b2,
             act, k, b3);
    const size_t d = 3, n = 4;
    const double hs = 1e-5;
    for (uint64_t seed = 1; seed < 50; seed++) {
        ntk_net *net = make_net(spec, d, param, seed);
        double *x = random_mat(n * d, 1000 + seed, 1.0);
        if (kink_margin(net, x, n) < 1e-3) { /* too close to a kink: next seed */
            ntk_net_free(net);
            free(x);
            continue;
        }
        *seed_used = seed;
        size_t P = ntk_net_n_params(net);
        double *G = random_mat(n * k, 2000 + seed, 1.0);
        double *grad = malloc(P * sizeof *grad), *fd = malloc(P * sizeof *fd), *f = malloc(n * k * sizeof *f);
        ntk_net_work *w;
        ntk_error err;
        assert_int_equal(ntk_net_work_create(net, n, &w, &err), NTK_OK);
        weighted_sum(net, w, x, n, G, f);
        assert_int_equal(ntk_net_backward(net, w, G, grad, &err), NTK_OK);
        double *th = ntk_net_params(net);
        for (size_t i = 0; i < P; i++) {
            double t = th[i];
            th[i] = t + hs;
            double sp = weighted_sum(net, w, x, n, G, f);
            th[i] = t - hs;
            double sm = weighted_sum(net, w, x, n, G, f);
            th[i] = t;
            fd[i] = (sp - sm) / (2 * hs);
        }
        double e = tu_max_rel(grad, fd, P);
        ntk_net_work_free(w);
        ntk_net_free(net);
        free(x);
        free(G);
        free(grad);
        free(fd);
        free(f);
        return e;
    }
    fail_msg("%s: no seed keeps the pre-activations 1e-3 away from the kink", spec);
    return INFINITY;
}

static void test_backward_fd(void **state)
{
    (void)state;
    double worst = 0;
    for (size_t a = 0; a < sizeof ACTS / sizeof *ACTS; a++)
        for (int param = 0; param < 2; param++)
            for (int bias = 0; bias < 2; bias++)
                for (size_t k = 1; k <= 3; k += 2) {
                    uint64_t seed = 0;
                    double e = fd_check(ACTS[a], param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, bias, k, &seed);
                    if (!(e <= 1e-6))
                        fail_msg("%s, %s, bias %d, k %zu (seed %llu): gradient vs finite differences %.3g > 1e-6",
                                 ACTS[a], param ? "standard" : "ntk", bias, k, (unsigned long long)seed, e);
                    if (e > worst) worst = e;
                }
    print_message("backward vs central differences: worst normalized error %.3g over %zu activations x 8 cases\n",
                  worst, sizeof ACTS / sizeof *ACTS);
}

/* ------------------------------------------------------------ init */

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The recipe as ntk.h documents it for ntk_net_init. */
static double documented_normal(uint64_t seed, uint64_t i)
{
    const uint64_t phi = 0x9E3779B97F4A7C15ull;
    uint64_t key = mix(seed + phi);
    double u0 = (double)(mix(key + (2 * i + 1) * phi) >> 11) * 0x1.0p-53;
    double u1 = (double)(mix(key + (2 * i + 2) * phi) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log1p(-u0)) * cos(2 * M_PI * u1);
}

/* mean and variance of a[i]/scale over m entries must be 0 and 1 within
 * 5 standard errors: se(mean) = 1/√m, se(var) = √(2/m) for a normal. */
static void check_moments(const double *a, size_t m, double scale, const char *what)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < m; i++) s += a[i] / scale;
    double mean = s / (double)m;
    for (size_t i = 0; i < m; i++) s2 += (a[i] / scale - mean) * (a[i] / scale - mean);
    double var = s2 / (double)(m - 1);
    double tm = 5 / sqrt((double)m), tv = 5 * sqrt(2.0 / (double)m);
    if (!(fabs(mean) <= tm && fabs(var - 1) <= tv))
        fail_msg("%s: mean %.4g (bound %.3g), variance/σ² %.4g (bound 1 ± %.3g) over %zu entries", what, mean, tm, var,
                 tv, m);
}

static void test_init(void **state)
{
    (void)state;
    const char *spec = "dense(400,w_std=1.7,b_std=0.3),relu,dense(300,w_std=0.8,b_std=2.0),tanh,dense(2,w_std=1.2,"
                       "b_std=0.5)";
    const size_t d = 50;
    for (int p = 0; p < 2; p++) {
        ntk_param param = p ? NTK_PARAM_STANDARD : NTK_PARAM_NTK;
        ntk_net *a = make_net(spec, d, param, 42), *b = make_net(spec, d, param, 42), *c = make_net(spec, d, param, 43);
        size_t P = ntk_net_n_params(a);
        const double *ta = ntk_net_params_const(a), *tb = ntk_net_params_const(b), *tc = ntk_net_params_const(c);
        assert_memory_equal(ta, tb, P * sizeof(double));
        size_t same = 0;
        for (size_t i = 0; i < P; i++) same += ta[i] == tc[i];
        assert_true(same == 0); /* 53-bit draws: a coincidence has probability ~P·2⁻⁵³ */
        /* the documented recipe, bit for bit */
        for (size_t l = 0; l < ntk_net_n_dense(a); l++) {
            const ntk_dense_info *D = ntk_net_dense(a, l);
            const ntk_layer *L = ntk_arch_layer(ntk_net_arch(a), D->layer);
            double sw = p ? L->w_std / sqrt((double)D->n_in) : 1.0, sb = p ? L->b_std : 1.0;
            size_t nw = D->n_in * D->n_out;
            for (size_t i = 0; i < nw; i += 97)
                assert_true(ta[D->w_offset + i] == sw * documented_normal(42, D->w_offset + i));
            for (size_t i = 0; i < D->n_out; i += 7)
                assert_true(ta[D->b_offset + i] == sb * documented_normal(42, D->b_offset + i));
            char what[64];
            snprintf(what, sizeof what, "%s layer %zu W", p ? "standard" : "ntk", l);
            check_moments(ta + D->w_offset, nw, sw, what);
            snprintf(what, sizeof what, "%s layer %zu b", p ? "standard" : "ntk", l);
            if (D->n_out >= 100) check_moments(ta + D->b_offset, D->n_out, sb, what);
        }
        if (!p) check_moments(ta, P, 1.0, "ntk: all of θ");
        ntk_net_free(a);
        ntk_net_free(b);
        ntk_net_free(c);
    }
}

/* ------------------------------------------------------------ layout */

static void test_layout(void **state)
{
    (void)state;
    const char *spec = "dense(6,w_std=1.5,b_std=0.1),relu,dense(4,w_std=0.7),erf,dense(5,w_std=2,b_std=0.3,param="
                       "standard),tanh,dense(3,w_std=1.1,b_std=0.4,param=ntk)";
    const size_t d = 7;
    for (int p = 0; p < 2; p++) {
        ntk_param param = p ? NTK_PARAM_STANDARD : NTK_PARAM_NTK;
        ntk_net *net = make_net(spec, d, param, 1);
        assert_int_equal(ntk_net_n_dense(net), 4);
        assert_int_equal(ntk_net_n_inputs(net), d);
        assert_int_equal(ntk_net_n_outputs(net), 3);
        assert_int_equal(ntk_net_param(net), param);
        static const size_t width[] = {6, 4, 5, 3}, layer[] = {0, 2, 4, 6};
        static const int bias[] = {1, 0, 1, 1};
        static const double wstd[] = {1.5, 0.7, 2, 1.1}, bstd[] = {0.1, 0, 0.3, 0.4};
        /* per-layer param= overrides the network's */
        ntk_param lp[] = {param, param, NTK_PARAM_STANDARD, NTK_PARAM_NTK};
        size_t off = 0, n_in = d;
        for (size_t l = 0; l < 4; l++) {
            const ntk_dense_info *D = ntk_net_dense(net, l);
            assert_non_null(D);
            assert_int_equal(D->n_in, n_in);
            assert_int_equal(D->n_out, width[l]);
            assert_int_equal(D->layer, layer[l]);
            assert_int_equal(D->has_bias, bias[l]);
            assert_int_equal(D->param, lp[l]);
            assert_int_equal(D->w_offset, off);
            off += n_in * width[l];
            if (bias[l]) {
                assert_int_equal(D->b_offset, off);
                off += width[l];
            }
            if (lp[l] == NTK_PARAM_NTK) {
                assert_true(D->w_mult == wstd[l] / sqrt((double)n_in));
                assert_true(!bias[l] || D->b_mult == bstd[l]);
            } else {
                assert_true(D->w_mult == 1.0);
                assert_true(!bias[l] || D->b_mult == 1.0);
            }
            n_in = width[l];
        }
        assert_null(ntk_net_dense(net, 4));
        assert_int_equal(ntk_net_n_params(net), off);
        ntk_net_free(net);
    }
}

/* ------------------------------------------------------------ forward */

/* Plain loops, no BLAS: z = w_mult·Σ_c W[o,c] h[c] + b_mult·b[o]. */
static void naive_forward(const ntk_net *net, const double *x, size_t n, double *out)
{
    const ntk_arch *arch = ntk_net_arch(net);
    const double *th = ntk_net_params_const(net);
    size_t d = ntk_net_n_inputs(net), k = ntk_net_n_outputs(net);
    double h[256], z[256];
    for (size_t r = 0; r < n; r++) {
        size_t width = d, dl = 0;
        memcpy(h, x + r * d, d * sizeof *h);
        for (size_t i = 0; i < ntk_arch_n_layers(arch); i++) {
            const ntk_layer *L = ntk_arch_layer(arch, i);
            if (L->kind == NTK_LAYER_DENSE) {
                const ntk_dense_info *D = ntk_net_dense(net, dl++);
                for (size_t o = 0; o < D->n_out; o++) {
                    double s = 0;
                    for (size_t c = 0; c < D->n_in; c++) s += th[D->w_offset + o * D->n_in + c] * h[c];
                    z[o] = D->w_mult * s + (D->has_bias ? D->b_mult * th[D->b_offset + o] : 0.0);
                }
                width = D->n_out;
            } else {
                for (size_t o = 0; o < width; o++) z[o] = ntk_act_eval(L, h[o]);
            }
            memcpy(h, z, width * sizeof *h);
        }
        memcpy(out + r * k, h, k * sizeof *h);
    }
}

/* BLAS forward vs plain loops, and one batch vs two: the same arithmetic
 * in different summation orders (OpenBLAS picks its kernels by shape and
 * CPU), so each pair agrees within twice the forward-error bound of
 * tu_forward_error_bound (G·|W|·|h| magnitudes, G = Σ γ_{n_in+3} + 8u per
 * activation: here ≈ 1e-14 of the magnitudes), entry by entry. A wrong row,
 * bias or multiplier is off by O(1) of the entries. */
static void test_forward_naive(void **state)
{
    (void)state;
    const char *specs[] = {
        "dense(33,w_std=1.4,b_std=0.2),relu,dense(17,w_std=1.2,b_std=0.1),erf,dense(3,w_std=0.9,b_std=0.3)",
        "dense(64,w_std=1.1),sin(1.5,0.8,0.3),dense(40,w_std=1.3,b_std=0.5),gelu,dense(2)",
        "dense(20,w_std=1.6,b_std=1),softplus,dense(9),tanh,dense(1,w_std=1.0,b_std=0.1)",
    };
    const size_t d = 7, n = 37;
    double worst = 0;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (int p = 0; p < 2; p++) {
            ntk_net *net = make_net(specs[s], d, p ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 7 + s);
            size_t k = ntk_net_n_outputs(net);
            double *x = random_mat(n * d, 99 + s, 1.0);
            double *f = malloc(n * k * sizeof *f), *g = malloc(n * k * sizeof *g), *bd = malloc(n * k * sizeof *bd);
            ntk_error err;
            assert_int_equal(ntk_net_apply(net, x, n, f, 0, &err), NTK_OK);
            naive_forward(net, x, n, g);
            tu_forward_error_bound(net, x, n, bd);
            for (size_t e = 0; e < n * k; e++) bd[e] *= 2;
            double e = tu_max_over_bound(f, g, bd, n * k);
            if (!(e <= 1)) fail_msg("%s (%s): BLAS forward vs loops: %.3g x the bound", specs[s], p ? "std" : "ntk", e);
            if (e > worst) worst = e;
            /* forward through a workspace in two batches (20 + 17 rows) = apply (37) */
            ntk_net_work *w;
            assert_int_equal(ntk_net_work_create(net, 20, &w, &err), NTK_OK);
            assert_int_equal(ntk_net_forward(net, w, x, 20, g, &err), NTK_OK);
            assert_int_equal(ntk_net_forward(net, w, x + 20 * d, n - 20, g + 20 * k, &err), NTK_OK);
            e = tu_max_over_bound(f, g, bd, n * k);
            if (!(e <= 1)) fail_msg("%s (%s): two batches vs one: %.3g x the bound", specs[s], p ? "std" : "ntk", e);
            assert_int_equal(ntk_net_forward(net, w, x, 21, g, &err), NTK_E_SHAPE);
            ntk_net_work_free(w);
            free(x);
            free(f);
            free(g);
            free(bd);
            ntk_net_free(net);
        }
    print_message("BLAS forward vs plain loops: worst error %.3g of the forward-error bound\n", worst);
}

/* Sizes above the OpenMP (65536 elements) and OpenBLAS threading
 * thresholds, so that two threads really split the work. */
static void test_apply_threads(void **state)
{
    (void)state;
    const char *spec = "dense(512,w_std=1.5,b_std=0.1),gelu,dense(512,w_std=1.5,b_std=0.1),relu,dense(4,w_std=1.2)";
    const size_t d = 40, n = 600;
    ntk_net *net = make_net(spec, d, NTK_PARAM_NTK, 3);
    double *x = random_mat(n * d, 5, 1.0);
    double *f1 = malloc(n * 4 * sizeof *f1), *f2 = malloc(n * 4 * sizeof *f2);
    ntk_error err;
    set_threads(1);
    assert_int_equal(ntk_net_apply(net, x, n, f1, 1, &err), NTK_OK);
    for (int t = 2; t <= 3; t++) { /* the argument, and the caller's setting (threads = 0) */
        set_threads(t);
        assert_int_equal(ntk_net_apply(net, x, n, f2, t, &err), NTK_OK);
        assert_memory_equal(f1, f2, n * 4 * sizeof *f1);
        assert_int_equal(ntk_net_apply(net, x, n, f2, 0, &err), NTK_OK);
        assert_memory_equal(f1, f2, n * 4 * sizeof *f1);
    }
    set_threads(2);
    assert_int_equal(ntk_net_apply(net, x, n, f2, -1, &err), NTK_E_INVAL);
    /* NaN input is rejected with its place */
    x[3 * d + 4] = NAN;
    assert_int_equal(ntk_net_apply(net, x, n, f1, 0, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "X: row 4, column 5"));
    assert_int_equal(ntk_net_apply(net, x, 0, f1, 0, &err), NTK_E_SHAPE);
    free(x);
    free(f1);
    free(f2);
    ntk_net_free(net);
}

static void test_clone_and_errors(void **state)
{
    (void)state;
    const char *spec = "dense(8,w_std=1.5,b_std=0.1),erf,dense(2,w_std=1.2)";
    const size_t d = 3, n = 5;
    ntk_net *net = make_net(spec, d, NTK_PARAM_STANDARD, 9), *cl = NULL;
    ntk_error err;
    assert_int_equal(ntk_net_clone(net, &cl, &err), NTK_OK);
    size_t P = ntk_net_n_params(net);
    assert_int_equal(ntk_net_n_params(cl), P);
    assert_int_equal(ntk_net_param(cl), NTK_PARAM_STANDARD);
    assert_int_equal(ntk_net_n_inputs(cl), d);
    assert_int_equal(ntk_net_n_outputs(cl), 2);
    assert_memory_equal(ntk_net_params_const(cl), ntk_net_params_const(net), P * sizeof(double));
    char s1[256], s2[256];
    ntk_arch_format(ntk_net_arch(net), s1, sizeof s1);
    ntk_arch_format(ntk_net_arch(cl), s2, sizeof s2);
    assert_string_equal(s1, s2);
    double *x = random_mat(n * d, 1, 1.0), f1[10], f2[10];
    assert_int_equal(ntk_net_apply(net, x, n, f1, 0, &err), NTK_OK);
    assert_int_equal(ntk_net_apply(cl, x, n, f2, 0, &err), NTK_OK);
    assert_memory_equal(f1, f2, sizeof f1);
    /* independent storage */
    ntk_net_params(cl)[0] += 1.0;
    assert_true(ntk_net_params_const(net)[0] != ntk_net_params_const(cl)[0]);
    /* backward before any forward; zero-row workspace */
    ntk_net_work *w;
    assert_int_equal(ntk_net_work_create(net, 4, &w, &err), NTK_OK);
    double G[8] = {0}, *grad = malloc(P * sizeof *grad);
    assert_int_equal(ntk_net_backward(net, w, G, grad, &err), NTK_E_INVAL);
    ntk_net_work_free(w);
    assert_int_equal(ntk_net_work_create(net, 0, &w, &err), NTK_E_INVAL);
    free(grad);
    free(x);
    ntk_net_free(cl);
    ntk_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backward_fd),     cmocka_unit_test(test_init),
        cmocka_unit_test(test_layout),          cmocka_unit_test(test_forward_naive),
        cmocka_unit_test(test_apply_threads),   cmocka_unit_test(test_clone_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
