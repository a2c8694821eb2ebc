/*
 * test_empirical.c — the feature map and the empirical kernels of finite
 * networks (src/net/empirical.c):
 *   - the structured fast NTK against its reference twin J1·J2ᵀ, traced and
 *     full, many activations, both parameterizations, X2 given and omitted,
 *     including sizes large enough for the row-blocked products;
 *   - the Jacobian against central finite differences of f; its size limit;
 *   - traced = (1/k)·Σ_a of the full kernel's diagonal blocks, exact
 *     symmetry, PSD, the empirical NNGP against f·fᵀ/k computed directly;
 *   - Monte Carlo averages converging to the analytic kernels (ntk_kernel)
 *     as the width grows;
 *   - bitwise independence of the OpenMP and OpenBLAS thread counts;
 *   - argument errors.
 */
#include "testutil.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (ntk_net_init(net, seed, &err)) fail_msg("%s: %s", spec, err.msg);
    ntk_arch_free(a);
    return net;
}

static double *random_x(size_t n, size_t d, uint64_t seed, double scale)
{
    tu_rng r = {seed};
    double *x = malloc(n * d * sizeof *x);
    tu_fill_normal(&r, x, n * d, scale);
    return x;
}

static double *xmalloc(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) fail_msg("out of memory (%zu doubles)", n);
    return p;
}

/* Specs for the fast-vs-reference comparisons: k = 1 and 3, with and
 * without biases, per-layer parameterization overrides, a network ending
 * with an activation, a single dense layer. */
static const char *SPECS[] = {
    "dense(24,w_std=1.5,b_std=0.1),relu,dense(16,w_std=1.2,b_std=0.3),erf,dense(1,w_std=1.1,b_std=0.2)",
    "dense(20,w_std=1.3),tanh,dense(12,w_std=1.1),gelu,dense(3,w_std=1.2)",
    "dense(16,w_std=1.4,b_std=0.2),abs,dense(3,w_std=1.0,b_std=0.5)",
    "dense(12,w_std=1.2,b_std=0.1),leaky_relu(0.1),dense(10,w_std=1.3,b_std=0.2,param=standard),softplus,dense(3)",
    "dense(10,w_std=1.3,b_std=0.2),elu(0.5),dense(8),silu,dense(1,w_std=0.9)",
    "dense(14,w_std=1.1,b_std=0.4),sin(1,1.5,0.2),dense(9),sigmoid,dense(3,b_std=0.3)",
    "dense(16,w_std=1.5,b_std=0.1),relu,dense(3,w_std=1.2),erf",
    "dense(3,w_std=1.2,b_std=0.1)",
};
#define NSPECS (sizeof SPECS / sizeof *SPECS)

/* Both sides are sums of the same P products ϕ_p(x)·ϕ_p(x') (P ≤ ~1000
 * parameters here; ϕ_p = w·δ_o·h_j or β·δ_o from the same backward pass),
 * grouped differently: J·Jᵀ sums p in θ's order, the structured form sums
 * (δ·δ')(h·h') per layer. Each grouping is off from the exact sum by at most
 * ~P·ε·Σ_p|ϕ_p(x)ϕ_p(x')| ≤ P·ε·|ϕ(x)||ϕ(x')| ≤ P·ε·max_i Θ_ii
 * (Cauchy–Schwarz), i.e. ≤ ~1e3·1.1e-16 ≈ 1e-13 relative to max|Θ| in the
 * worst case (≈ √P·ε ≈ 1e-15 typically). 1e-12 leaves room for that and
 * nothing else: a wrong term, scale or layout is an O(1) error. */
#define TOL_REF 1e-12

static void compare_fast_ref(ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2, int full,
                             const char *what, double *worst)
{
    size_t k = ntk_net_n_outputs(net), r = full ? k : 1, m = n1 * r * (x2 ? n2 : n1) * r;
    double *a = xmalloc(m), *b = xmalloc(m);
    ntk_error err;
    if (ntk_empirical_ntk(net, x1, n1, x2, n2, full, a, &err)) fail_msg("%s: %s", what, err.msg);
    if (ntk_empirical_ntk_ref(net, x1, n1, x2, n2, full, b, &err)) fail_msg("%s (ref): %s", what, err.msg);
    double e = tu_max_rel(a, b, m);
    if (!(e <= TOL_REF)) fail_msg("%s: fast vs reference %.3e > %.0e", what, e, TOL_REF);
    if (e > *worst) *worst = e;
    free(a);
    free(b);
}

static void test_fast_vs_ref(void **state)
{
    (void)state;
    const size_t n1 = 9, n2 = 7, d = 5;
    double worst = 0;
    int cases = 0;
    for (size_t s = 0; s < NSPECS; s++)
        for (int param = 0; param < 2; param++) {
            ntk_net *net = make_net(SPECS[s], d, param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 100 + s);
            double *x1 = random_x(n1, d, 7 + s, 1.0), *x2 = random_x(n2, d, 70 + s, 1.3);
            char what[512];
            for (int full = 0; full < 2; full++)
                for (int given = 0; given < 2; given++) {
                    snprintf(what, sizeof what, "%s [%s, %s, %s]", SPECS[s], param ? "standard" : "ntk",
                             full ? "full" : "traced", given ? "X2 given" : "X2 = X1");
                    compare_fast_ref(net, x1, n1, given ? x2 : NULL, n2, full, what, &worst);
                    cases++;
                }
            free(x1);
            free(x2);
            ntk_net_free(net);
        }
    print_message("fast vs reference: %d cases, worst normalised error %.2e (tolerance %.0e)\n", cases, worst,
                  TOL_REF);
}

/* Large sets: the fast path works in blocks of ~256 output rows (85
 * points full with k = 3, 256 traced), so 1200 and 3000 points make many
 * blocks with short tails, and the forward/backward passes run in several
 * chunks; X2 = X1 goes through the off-diagonal dgemm, the diagonal dsyrk
 * and the mirror. */
static void test_fast_vs_ref_blocked(void **state)
{
    (void)state;
    const size_t d = 4;
    double worst = 0;
    ntk_net *net = make_net("dense(16,w_std=1.4,b_std=0.2),tanh,dense(12,w_std=1.2,b_std=0.1),relu,dense(3)", d,
                            NTK_PARAM_NTK, 5);
    double *x1 = random_x(1200, d, 1, 1.0), *x2 = random_x(1100, d, 2, 1.0);
    compare_fast_ref(net, x1, 1200, NULL, 0, 1, "blocked full, X2 = X1", &worst);
    compare_fast_ref(net, x1, 1200, x2, 1100, 1, "blocked full, X2 given", &worst);
    free(x1);
    free(x2);
    ntk_net_free(net);
    net = make_net("dense(16,w_std=1.4,b_std=0.2),erf,dense(1,w_std=1.2,b_std=0.1)", d, NTK_PARAM_STANDARD, 6);
    x1 = random_x(3000, d, 3, 1.0);
    x2 = random_x(2990, d, 4, 1.0);
    compare_fast_ref(net, x1, 3000, NULL, 0, 0, "blocked traced, X2 = X1", &worst);
    compare_fast_ref(net, x1, 3000, x2, 2990, 0, "blocked traced, X2 given", &worst);
    free(x1);
    free(x2);
    ntk_net_free(net);
    print_message("row-blocked fast vs reference: worst normalised error %.2e\n", worst);
}

/* Central differences of f: error h²·f'''/6 + ε·|f|/h; with h = 1e-5 and
 * smooth activations of O(1) derivatives that is ~1e-11, far below 1e-6
 * relative to max|J| (a wrong entry is O(1)). Every parameter is checked. */
static void test_jacobian_fd(void **state)
{
    (void)state;
    static const char *specs[] = {
        "dense(7,w_std=1.3,b_std=0.3),tanh,dense(5,w_std=1.2,b_std=0.2),erf,dense(2,w_std=1.1,b_std=0.4)",
        "dense(6,w_std=1.5),gelu,dense(4,w_std=1.1,b_std=0.2,param=standard),softplus,dense(3)",
    };
    const size_t n = 3, d = 4;
    double worst = 0;
    for (size_t s = 0; s < 2; s++)
        for (int param = 0; param < 2; param++) {
            ntk_net *net = make_net(specs[s], d, param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 40 + s);
            size_t k = ntk_net_n_outputs(net), P = ntk_net_n_params(net);
            double *x = random_x(n, d, 9 + s, 1.0);
            size_t bytes = ntk_net_jacobian_bytes(net, n);
            assert_int_equal(bytes, n * k * P * sizeof(double));
            double *J = xmalloc(n * k * P), fp[16], fm[16];
            ntk_error err;
            /* exactly at the limit: allowed */
            if (ntk_net_jacobian(net, x, n, J, bytes, &err)) fail_msg("%s", err.msg);
            double jmax = 0;
            for (size_t e = 0; e < n * k * P; e++) jmax = fmax(jmax, fabs(J[e]));
            double *theta = ntk_net_params(net), maxerr = 0;
            const double h = 1e-5;
            for (size_t p = 0; p < P; p++) {
                double t0 = theta[p];
                theta[p] = t0 + h;
                assert_int_equal(ntk_net_apply(net, x, n, fp, 1, &err), NTK_OK);
                theta[p] = t0 - h;
                assert_int_equal(ntk_net_apply(net, x, n, fm, 1, &err), NTK_OK);
                theta[p] = t0;
                for (size_t i = 0; i < n; i++)
                    for (size_t a = 0; a < k; a++) {
                        double fd = (fp[i * k + a] - fm[i * k + a]) / (2 * h);
                        maxerr = fmax(maxerr, fabs(fd - J[(i * k + a) * P + p]));
                    }
            }
            double rel = maxerr / jmax;
            if (!(rel <= 1e-6)) fail_msg("%s: Jacobian vs central differences %.3e", specs[s], rel);
            worst = fmax(worst, rel);
            free(J);
            free(x);
            ntk_net_free(net);
        }
    print_message("Jacobian vs central differences: worst error %.2e relative to max|J|\n", worst);
}

/* Rows of J (outer products w·δ ⊗ h from the hooked backward pass over a
 * padded batch) against the network's own gradient, ntk_net_backward with a
 * one-hot G on a 1-row batch (∂W by dgemm): the same products, rounded
 * twice each (w·δ then ·h, or δ·h then ·w), of δ's and h's whose sums (≤ 24
 * terms per layer, 3 layers) a 1-row and a 16-row GEMM may round
 * differently: ≤ ~3·24·ε ≈ 1e-14 of max|J|; 1e-13 bounds that. */
static void test_jacobian_vs_backward(void **state)
{
    (void)state;
    for (int param = 0; param < 2; param++) {
        const char *spec = SPECS[param ? 3 : 5];
        const size_t n = 5, d = 4;
        ntk_net *net = make_net(spec, d, param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 9);
        size_t k = ntk_net_n_outputs(net), P = ntk_net_n_params(net);
        double *x = random_x(n, d, 5, 1.0), *J = xmalloc(n * k * P), *g = xmalloc(P), G[8] = {0};
        ntk_error err;
        assert_int_equal(ntk_net_jacobian(net, x, n, J, 0, &err), NTK_OK);
        ntk_net_work *w;
        assert_int_equal(ntk_net_work_create(net, 1, &w, &err), NTK_OK);
        double jmax = 0, emax = 0;
        for (size_t e = 0; e < n * k * P; e++) jmax = fmax(jmax, fabs(J[e]));
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ntk_net_forward(net, w, x + i * d, 1, NULL, &err), NTK_OK);
            for (size_t a = 0; a < k; a++) {
                G[a] = 1.0;
                assert_int_equal(ntk_net_backward(net, w, G, g, &err), NTK_OK);
                G[a] = 0.0;
                for (size_t p = 0; p < P; p++) emax = fmax(emax, fabs(g[p] - J[(i * k + a) * P + p]));
            }
        }
        if (!(emax <= 1e-13 * jmax)) fail_msg("%s: J vs one-hot backward %.3e of max|J|", spec, emax / jmax);
        print_message("Jacobian vs one-hot ntk_net_backward (%s): max difference %.2e of max|J|\n",
                      param ? "standard" : "ntk", emax / jmax);
        ntk_net_work_free(w);
        free(x);
        free(J);
        free(g);
        ntk_net_free(net);
    }
}

static void test_jacobian_limit(void **state)
{
    (void)state;
    ntk_net *net = make_net("dense(50,w_std=1.5,b_std=0.1),relu,dense(10)", 20, NTK_PARAM_NTK, 1);
    size_t n = 4, bytes = ntk_net_jacobian_bytes(net, n);
    assert_int_equal(bytes, n * 10 * (20 * 50 + 50 + 50 * 10) * sizeof(double)); /* dense(10): no bias */
    double *x = random_x(n, 20, 3, 1.0), J[1];
    ntk_error err;
    /* refused before anything is written or read: J has room for 1 double */
    assert_int_equal(ntk_net_jacobian(net, x, n, J, bytes - 1, &err), NTK_E_NOMEM);
    char want[64];
    snprintf(want, sizeof want, "%zu bytes", bytes);
    if (!strstr(err.msg, want) || !strstr(err.msg, "GiB") || !strstr(err.msg, "limit"))
        fail_msg("refusal message lacks the size: '%s'", err.msg);
    print_message("refusal: %s\n", err.msg);
    /* overflow */
    assert_true(ntk_net_jacobian_bytes(net, SIZE_MAX / 4) == SIZE_MAX);
    assert_int_equal(ntk_net_jacobian(net, x, SIZE_MAX / 4, J, 0, &err), NTK_E_NOMEM);
    assert_non_null(strstr(err.msg, "too large"));
    /* NaN input */
    x[1 * 20 + 6] = NAN;
    double *Jb = xmalloc(bytes / sizeof(double));
    assert_int_equal(ntk_net_jacobian(net, x, n, Jb, 0, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "row 2, column 7"));
    free(Jb);
    free(x);
    ntk_net_free(net);
}

/* traced = (1/k)·Σ_a full[(i,a),(j,a)], symmetry, PSD, NNGP = f·fᵀ/k. */
static void test_properties(void **state)
{
    (void)state;
    const size_t n = 12, n2 = 5, d = 6;
    for (size_t s = 0; s < NSPECS; s++)
        for (int param = 0; param < 2; param++) {
            ntk_net *net = make_net(SPECS[s], d, param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 200 + s);
            size_t k = ntk_net_n_outputs(net), N = n * k;
            double *x = random_x(n, d, 17 + s, 1.0), *x2 = random_x(n2, d, 27 + s, 1.0);
            double *T = xmalloc(n * n), *F = xmalloc(N * N), *tr = xmalloc(n * n), *W = xmalloc(N * N);
            double w[64];
            ntk_error err;
            assert_int_equal(ntk_empirical_ntk(net, x, n, NULL, 0, 0, T, &err), NTK_OK);
            assert_int_equal(ntk_empirical_ntk(net, x, n, NULL, 0, 1, F, &err), NTK_OK);
            /* exact symmetry */
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                    if (T[i * n + j] != T[j * n + i]) fail_msg("%s: traced NTK not symmetric at (%zu,%zu)", SPECS[s], i, j);
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < N; j++)
                    if (F[i * N + j] != F[j * N + i]) fail_msg("%s: full NTK not symmetric at (%zu,%zu)", SPECS[s], i, j);
            /* traced vs the trace of the full kernel's k×k blocks: the same
             * products summed in another order (see TOL_REF) */
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) {
                    double t = 0;
                    for (size_t a = 0; a < k; a++) t += F[(i * k + a) * N + j * k + a];
                    tr[i * n + j] = t / (double)k;
                }
            double e = tu_max_rel(T, tr, n * n);
            if (!(e <= TOL_REF)) fail_msg("%s: traced vs trace of full %.3e", SPECS[s], e);
            /* PSD (Gram matrices of ϕ): eigenvalues ≥ −1e-12·λ_max, the
             * rounding of the entries (≤ 1e-13 relative, above) */
            for (int which = 0; which < 2; which++) {
                size_t m = which ? N : n;
                memcpy(W, which ? F : T, m * m * sizeof *W);
                assert_int_equal(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)m, W, (lapack_int)m, w), 0);
                if (!(w[0] >= -1e-12 * w[m - 1]) || !(w[m - 1] > 0))
                    fail_msg("%s: %s NTK not PSD: %.3e .. %.3e", SPECS[s], which ? "full" : "traced", w[0], w[m - 1]);
            }
            /* X2 = X1 given explicitly: the general path, same values up to rounding */
            assert_int_equal(ntk_empirical_ntk(net, x, n, x, n, 1, W, &err), NTK_OK);
            e = tu_max_rel(W, F, N * N);
            if (!(e <= TOL_REF)) fail_msg("%s: X2 = X1 given vs omitted %.3e", SPECS[s], e);
            /* NNGP = f·fᵀ/k, directly: sums of k products, ≤ k·ε relative
             * to max|f|² ≤ k·max K_ii; 1e-14 covers k ≤ 3 */
            double f[64], f2[64], K[144], Kd[144];
            assert_int_equal(ntk_net_apply(net, x, n, f, 1, &err), NTK_OK);
            assert_int_equal(ntk_net_apply(net, x2, n2, f2, 1, &err), NTK_OK);
            for (int given = 0; given < 2; given++) {
                size_t m2 = given ? n2 : n;
                const double *g = given ? f2 : f;
                assert_int_equal(ntk_empirical_nngp(net, x, n, given ? x2 : NULL, n2, K, &err), NTK_OK);
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < m2; j++) {
                        double t = 0;
                        for (size_t a = 0; a < k; a++) t += f[i * k + a] * g[j * k + a];
                        Kd[i * m2 + j] = t / (double)k;
                    }
                e = tu_max_rel(K, Kd, n * m2);
                if (!(e <= 1e-14)) fail_msg("%s: NNGP vs f·fᵀ/k %.3e", SPECS[s], e);
                if (!given)
                    for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < n; j++) assert_true(K[i * n + j] == K[j * n + i]);
            }
            /* one Monte Carlo sample of a network with seed s is that network's kernels */
            {
                ntk_net *net1 = make_net(SPECS[s], d, param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 200 + s);
                ntk_arch *arch = parse(SPECS[s]);
                double *mk = xmalloc(n * n), *mt = xmalloc(N * N);
                assert_int_equal(ntk_mc_kernels(arch, param ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, d, 200 + s, 1, x, n,
                                                NULL, 0, 1, mk, mt, &err),
                                 NTK_OK);
                assert_int_equal(ntk_empirical_nngp(net1, x, n, NULL, 0, K, &err), NTK_OK);
                assert_memory_equal(mt, F, N * N * sizeof(double));
                assert_memory_equal(mk, K, n * n * sizeof(double));
                free(mk);
                free(mt);
                ntk_arch_free(arch);
                ntk_net_free(net1);
            }
            free(x);
            free(x2);
            free(T);
            free(F);
            free(tr);
            free(W);
            ntk_net_free(net);
        }
}

/* ---------------------------------------------------------------- Monte Carlo → analytic */

/* The empirical kernel of one network at initialisation fluctuates around
 * the analytic kernel by O(1/√width) (Jacot et al. 2018; Arora et al. 2019),
 * its mean is off by O(1/width). Two statistics per width W, from S seeds:
 *   ε_W = RMS over the seeds of ‖Θ̂_s − Θ‖_F/‖Θ‖_F (one network's error),
 *   E_W = ‖mean_s Θ̂_s − Θ‖_F/‖Θ‖_F (the Monte Carlo average's error).
 * Checks:
 *   - rate: ε_128/ε_512 ≥ 1.6 and ε_128/ε_2048 ≥ 1.6² (expected 2 and 4);
 *   - no bias: E_W ≤ 3.5·ε_W/√S at every width (a 3.5σ bound: an average of
 *     S unbiased draws is off by ~ε/√S; a wrong scale, bias term or
 *     parameterization shows as an E that does not shrink with S).
 * ε from 8 seeds scatters by ~12% and E_8 is a single draw of a few-mode
 * Gaussian, so "E_8 drops 1.6× per 4× in width and is < 2% at width 2048"
 * holds only for some seed sets (measured: it fails for 4–16 of 16 sets of
 * 8 seeds per configuration here; E_8 at 2048 spans 1.0–3.8%). Hence 64
 * seeds at widths 128 and 512 (cheap) and 8 at 2048, the rate over the
 * 16× span at 2048, and the bias as a z-bound. Over 12 independent seed
 * sets of each configuration below (and an erf NNGP): min ε_128/ε_512 = 1.73,
 * min ε_128/ε_2048 = 2.89, max E·√S/ε = 1.68; an 8% scale error in the
 * empirical NTK fails both checks (ε_128/ε_2048 = 2.37, z = 3.8 at 512).
 * The NNGP f·f'/k has O(1) variance per output whatever the width, so the
 * NNGP networks end in dense(W): k = W outputs and the same O(1/√W) rate
 * (one hidden layer: the W×W output layer already doubles the cost). */
typedef struct {
    double eps, E;
} mc_stat;

static double frob_err(const double *a, const double *b, size_t n)
{
    double e = 0, t = 0;
    for (size_t i = 0; i < n; i++) {
        e += (a[i] - b[i]) * (a[i] - b[i]);
        t += b[i] * b[i];
    }
    return sqrt(e / t);
}

static mc_stat mc_stats(const char *tmpl, size_t W, ntk_param param, int want_ntk, const double *x, size_t n,
                        size_t d, uint64_t seed0, size_t S)
{
    char spec[512];
    snprintf(spec, sizeof spec, tmpl, W, W, W);
    ntk_arch *arch = parse(spec);
    double *one = xmalloc(n * n), *avg = xmalloc(n * n), *an = xmalloc(n * n);
    ntk_error err;
    ntk_kernel_opts o = ntk_kernel_opts_default();
    o.param = param;
    if (ntk_kernel(arch, &o, x, n, NULL, 0, d, want_ntk ? NULL : an, want_ntk ? an : NULL, &err))
        fail_msg("%s: %s", spec, err.msg);
    double ss = 0;
    for (size_t s = 0; s < S; s++) {
        if (ntk_mc_kernels(arch, param, d, seed0 + s, 1, x, n, NULL, 0, 0, want_ntk ? NULL : one, want_ntk ? one : NULL,
                           &err))
            fail_msg("%s: %s", spec, err.msg);
        double e = frob_err(one, an, n * n);
        ss += e * e;
        /* the library's order: sample 0, then += each, then / S */
        for (size_t i = 0; i < n * n; i++) avg[i] = s ? avg[i] + one[i] : one[i];
    }
    for (size_t i = 0; i < n * n; i++) avg[i] /= (double)S;
    if (W == 128) {
        /* ntk_mc_kernels over S samples is that average, bit for bit */
        if (ntk_mc_kernels(arch, param, d, seed0, S, x, n, NULL, 0, 0, want_ntk ? NULL : one, want_ntk ? one : NULL,
                           &err))
            fail_msg("%s: %s", spec, err.msg);
        assert_memory_equal(one, avg, n * n * sizeof(double));
    }
    mc_stat st = {sqrt(ss / (double)S), frob_err(avg, an, n * n)};
    free(one);
    free(avg);
    free(an);
    ntk_arch_free(arch);
    return st;
}

static void test_mc_convergence(void **state)
{
    (void)state;
    static const struct {
        const char *name, *tmpl;
        int want_ntk;
        ntk_param param;
    } cfg[] = {
        {"NTK  relu ntk", "dense(%zu,w_std=1.5,b_std=0.1),relu,dense(%zu,w_std=1.5,b_std=0.1),relu,dense(1,w_std=1.5,b_std=0.1)",
         1, NTK_PARAM_NTK},
        {"NTK  relu standard", "dense(%zu,w_std=1.5,b_std=0.1),relu,dense(%zu,w_std=1.5,b_std=0.1),relu,dense(1,w_std=1.5,b_std=0.1)",
         1, NTK_PARAM_STANDARD},
        {"NTK  erf ntk", "dense(%zu,w_std=1.3,b_std=0.5),erf,dense(%zu,w_std=1.3,b_std=0.5),erf,dense(1,w_std=1.3,b_std=0.5)",
         1, NTK_PARAM_NTK},
        {"NTK  erf standard", "dense(%zu,w_std=1.3,b_std=0.5),erf,dense(%zu,w_std=1.3,b_std=0.5),erf,dense(1,w_std=1.3,b_std=0.5)",
         1, NTK_PARAM_STANDARD},
        /* for the NNGP both parameterizations give the same networks' outputs
         * (and erf's NNGP map is inside the erf NTKs above): one configuration */
        {"NNGP relu standard (k = W)", "dense(%zu,w_std=1.5,b_std=0.1),relu,dense(%zu,w_std=1.5,b_std=0.1)", 0,
         NTK_PARAM_STANDARD},
    };
    const size_t n = 10, d = 6, widths[3] = {128, 512, 2048}, seeds[3] = {64, 64, 8};
    double *x = random_x(n, d, 2024, 1.0);
    print_message("Monte Carlo vs analytic, relative Frobenius errors, %zu points, d = %zu; eps = one network (RMS over "
                  "seeds), E = the average over the seeds (64, 64, 8):\n",
                  n, d);
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        mc_stat st[3];
        for (int i = 0; i < 3; i++)
            st[i] = mc_stats(cfg[c].tmpl, widths[i], cfg[c].param, cfg[c].want_ntk, x, n, d, 1000 + 100000 * (uint64_t)i,
                             seeds[i]);
        double r4 = st[0].eps / st[1].eps, r16 = st[0].eps / st[2].eps, z[3];
        for (int i = 0; i < 3; i++) z[i] = st[i].E / (st[i].eps / sqrt((double)seeds[i]));
        print_message("  %-27s eps %.4f %.4f %.4f (128/512 %.2f, 128/2048 %.2f)  E %.4f %.4f %.4f (z %.2f %.2f %.2f)\n",
                      cfg[c].name, st[0].eps, st[1].eps, st[2].eps, r4, r16, st[0].E, st[1].E, st[2].E, z[0], z[1],
                      z[2]);
        if (!(r4 >= 1.6 && r16 >= 1.6 * 1.6)) {
            free(x);
            fail_msg("%s: the error does not shrink like 1/sqrt(width)", cfg[c].name);
        }
        for (int i = 0; i < 3; i++)
            if (!(z[i] <= 3.5)) {
                free(x);
                fail_msg("%s: the Monte Carlo average is biased at width %zu (E = %.4f, %.1f standard errors)",
                         cfg[c].name, widths[i], st[i].E, z[i]);
            }
    }
    free(x);
}

/* ---------------------------------------------------------------- threads */

static void run_all(ntk_net *net, const ntk_arch *arch, const double *x, size_t n, const double *x2, size_t n2,
                    size_t d, double **outs, size_t *sizes)
{
    ntk_error err;
    size_t k = ntk_net_n_outputs(net);
    int i = 0;
    assert_int_equal(ntk_empirical_ntk(net, x, n, NULL, 0, 0, outs[i++], &err), NTK_OK);
    assert_int_equal(ntk_empirical_ntk(net, x, n, NULL, 0, 1, outs[i++], &err), NTK_OK);
    assert_int_equal(ntk_empirical_ntk(net, x, n, x2, n2, 0, outs[i++], &err), NTK_OK);
    assert_int_equal(ntk_empirical_ntk(net, x, n, x2, n2, 1, outs[i++], &err), NTK_OK);
    assert_int_equal(ntk_empirical_nngp(net, x, n, NULL, 0, outs[i++], &err), NTK_OK);
    assert_int_equal(ntk_empirical_ntk_ref(net, x, n, x2, n2, 0, outs[i++], &err), NTK_OK);
    assert_int_equal(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 3, 2, x, n, NULL, 0, 1, outs[i], outs[i + 1], &err), NTK_OK);
    i += 2;
    assert_int_equal(ntk_net_jacobian(net, x2, 8, outs[i++], 0, &err), NTK_OK);
    size_t s[] = {n * n, n * n * k * k, n * n2, n * n2 * k * k, n * n, n * n2, n * n, n * n * k * k,
                  8 * k * ntk_net_n_params(net)};
    memcpy(sizes, s, sizeof s);
}

/* Sizes chosen so that the products are split into parallel blocks
 * (ntk_dgemm: m·n·k > 262144; a raw threaded dgemm in their place fails
 * this test: rows 300 is not a multiple of 8) and the OpenMP loops
 * (> 65536 entries) run in parallel. */
static void test_threads(void **state)
{
    (void)state;
    const char *spec = "dense(128,w_std=1.5,b_std=0.1),relu,dense(96,w_std=1.3,b_std=0.2),tanh,dense(3,w_std=1.1)";
    const size_t n = 300, n2 = 260, d = 20, k = 3, NOUT = 9;
    ntk_arch *arch = parse(spec);
    ntk_net *net = make_net(spec, d, NTK_PARAM_NTK, 77);
    double *x = random_x(n, d, 1, 1.0), *x2 = random_x(n2, d, 2, 1.0);
    size_t P = ntk_net_n_params(net), sizes[9];
    size_t cap = n * n * k * k > 8 * k * P ? n * n * k * k : 8 * k * P;
    double *ref[9], *got[9];
    for (size_t i = 0; i < NOUT; i++) {
        ref[i] = xmalloc(cap);
        got[i] = xmalloc(cap);
    }
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    run_all(net, arch, x, n, x2, n2, d, ref, sizes);
    static const int conf[][2] = {{2, 2}, {1, 2}, {2, 1}, {3, 3}};
    for (int c = 0; c < 4; c++) {
        omp_set_num_threads(conf[c][0]);
        openblas_set_num_threads(conf[c][1]);
        run_all(net, arch, x, n, x2, n2, d, got, sizes);
        for (size_t i = 0; i < NOUT; i++)
            if (memcmp(ref[i], got[i], sizes[i] * sizeof(double)))
                fail_msg("output %zu differs with %d OpenMP / %d OpenBLAS threads", i, conf[c][0], conf[c][1]);
    }
    omp_set_num_threads(2);
    openblas_set_num_threads(2);
    for (size_t i = 0; i < NOUT; i++) {
        free(ref[i]);
        free(got[i]);
    }
    free(x);
    free(x2);
    ntk_net_free(net);
    ntk_arch_free(arch);
}

/* ---------------------------------------------------------------- errors */

static void expect(ntk_status got, ntk_status want, const ntk_error *err, const char *needle)
{
    if (got != want) fail_msg("status %d, expected %d (%s)", (int)got, (int)want, err->msg);
    if (needle && !strstr(err->msg, needle)) fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

static void test_errors(void **state)
{
    (void)state;
    const char *spec = "dense(8,w_std=1.5,b_std=0.1),relu,dense(2)";
    const size_t n = 4, d = 3;
    ntk_arch *arch = parse(spec);
    ntk_net *net = make_net(spec, d, NTK_PARAM_NTK, 1);
    double *x = random_x(n, d, 1, 1.0), *x2 = random_x(n, d, 2, 1.0), out[64], out2[64];
    ntk_error err;

    /* NaN / Inf rows named by set, row and column (1-based) */
    x[1 * d + 2] = NAN;
    expect(ntk_empirical_ntk(net, x, n, NULL, 0, 0, out, &err), NTK_E_NUMERIC, &err, "X1: row 2, column 3");
    expect(ntk_empirical_ntk_ref(net, x, n, NULL, 0, 1, out, &err), NTK_E_NUMERIC, &err, "X1: row 2, column 3");
    expect(ntk_empirical_nngp(net, x, n, NULL, 0, out, &err), NTK_E_NUMERIC, &err, "X1: row 2, column 3");
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 0, 2, x, n, NULL, 0, 0, out, out2, &err), NTK_E_NUMERIC, &err,
           "X1: row 2, column 3");
    x[1 * d + 2] = 0.5;
    x2[3 * d + 0] = -INFINITY;
    expect(ntk_empirical_ntk(net, x, n, x2, n, 1, out, &err), NTK_E_NUMERIC, &err, "X2: row 4, column 1");
    expect(ntk_empirical_ntk_ref(net, x, n, x2, n, 0, out, &err), NTK_E_NUMERIC, &err, "X2: row 4, column 1");
    expect(ntk_empirical_nngp(net, x, n, x2, n, out, &err), NTK_E_NUMERIC, &err, "X2: row 4, column 1");
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 0, 1, x, n, x2, n, 1, NULL, out, &err), NTK_E_NUMERIC, &err,
           "X2: row 4, column 1");
    x2[3 * d + 0] = 0.25;

    /* zero rows */
    expect(ntk_empirical_ntk(net, x, 0, NULL, 0, 0, out, &err), NTK_E_SHAPE, &err, "X1 has no rows");
    expect(ntk_empirical_ntk(net, NULL, 3, NULL, 0, 0, out, &err), NTK_E_SHAPE, &err, "X1 has no rows");
    expect(ntk_empirical_ntk(net, x, n, x2, 0, 0, out, &err), NTK_E_SHAPE, &err, "X2 has no rows");
    expect(ntk_empirical_ntk_ref(net, x, 0, NULL, 0, 1, out, &err), NTK_E_SHAPE, &err, "X1 has no rows");
    expect(ntk_empirical_nngp(net, x, n, x2, 0, out, &err), NTK_E_SHAPE, &err, "X2 has no rows");
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 0, 1, x, 0, NULL, 0, 0, out, NULL, &err), NTK_E_SHAPE, &err,
           "X1 has no rows");
    expect(ntk_net_jacobian(net, x, 0, out, 0, &err), NTK_E_SHAPE, &err, "no rows");

    /* sizes refused before X is read (x has n rows, the calls claim more) */
    size_t huge = (size_t)1 << 40;
    expect(ntk_empirical_ntk(net, x, huge, NULL, 0, 1, out, &err), NTK_E_NOMEM, &err, "too large");
    expect(ntk_empirical_ntk(net, x, huge, x2, huge, 0, out, &err), NTK_E_NOMEM, &err, "too large");
    expect(ntk_empirical_ntk_ref(net, x, huge, NULL, 0, 1, out, &err), NTK_E_NOMEM, &err, "too large");
    expect(ntk_empirical_nngp(net, x, huge, NULL, 0, out, &err), NTK_E_NOMEM, &err, "too large");
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 0, 1, x, huge, NULL, 0, 1, NULL, out, &err), NTK_E_NOMEM, &err,
           "too large");
    /* representable in bytes, but more rows than BLAS's int indexes */
    expect(ntk_empirical_ntk(net, x, (size_t)1 << 31, x2, 1, 0, out, &err), NTK_E_NOMEM, &err, "BLAS index range");

    /* arguments */
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 0, 0, x, n, NULL, 0, 0, out, NULL, &err), NTK_E_INVAL, &err,
           "samples");
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, d, 0, 1, x, n, NULL, 0, 0, NULL, NULL, &err), NTK_E_INVAL, &err,
           "neither");
    expect(ntk_mc_kernels(NULL, NTK_PARAM_NTK, d, 0, 1, x, n, NULL, 0, 0, out, NULL, &err), NTK_E_INVAL, &err,
           "architecture");
    expect(ntk_mc_kernels(arch, (ntk_param)7, d, 0, 1, x, n, NULL, 0, 0, out, NULL, &err), NTK_E_INVAL, &err,
           "parameterization");
    expect(ntk_mc_kernels(arch, NTK_PARAM_NTK, 0, 0, 1, x, n, NULL, 0, 0, out, NULL, &err), NTK_E_SHAPE, &err,
           "columns");
    expect(ntk_empirical_ntk(NULL, x, n, NULL, 0, 0, out, &err), NTK_E_INVAL, &err, "no network");
    expect(ntk_empirical_ntk(net, x, n, NULL, 0, 0, NULL, &err), NTK_E_INVAL, &err, "no output");
    expect(ntk_empirical_nngp(net, x, n, NULL, 0, NULL, &err), NTK_E_INVAL, &err, "no output");
    expect(ntk_net_jacobian(net, x, n, NULL, 0, &err), NTK_E_INVAL, &err, "no output");
    assert_true(ntk_net_jacobian_bytes(NULL, 1) == SIZE_MAX);

    /* an overflowing network is reported, not returned as inf */
    ntk_net *big = make_net("dense(8,w_std=1e200),relu,dense(8,w_std=1e200),relu,dense(1,w_std=1e200)", d,
                            NTK_PARAM_NTK, 1);
    expect(ntk_empirical_ntk(big, x, n, NULL, 0, 0, out, &err), NTK_E_NUMERIC, &err, "overflowed");
    ntk_net_free(big);

    /* a failed call leaves the library usable: a good call still works */
    expect(ntk_empirical_ntk(net, x, n, NULL, 0, 0, out, &err), NTK_OK, &err, NULL);
    free(x);
    free(x2);
    ntk_net_free(net);
    ntk_arch_free(arch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_vs_ref),
        cmocka_unit_test(test_fast_vs_ref_blocked),
        cmocka_unit_test(test_jacobian_fd),
        cmocka_unit_test(test_jacobian_vs_backward),
        cmocka_unit_test(test_jacobian_limit),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_mc_convergence),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
