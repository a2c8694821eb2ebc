/*
 * test_train.c — linearized networks (src/net/linear.c) and training
 * (src/net/train.c):
 *   1. f_lin(θ) = f0 + J0(θ − θ0) with J0 built row by row from backward
 *      passes on one-hot G (no finite differences, no empirical.c);
 *   2. full-batch GD on f_lin follows u_{s+1} − y = (I − (η/n)Θ̂0)(u_s − y)
 *      exactly (Θ̂0 = J0 J0ᵀ), and the heavy-ball version of it, k = 1, 2;
 *   3. GD on the real network: the loss decreases, log-callback semantics,
 *      early stop, momentum, SGD reproducible per seed, epoch coverage;
 *   4. divergence stops with NTK_E_NUMERIC naming the step;
 *   5. wide networks stay linear: the gap between the trained network and
 *      its trained linearization shrinks over widths 256, 1024, 4096;
 *   6. 1, 2 and 3 threads bitwise identical;
 *   7. argument errors and their messages.
 */
#include "testutil.h"
#include "net/linear_internal.h" /* net_train_check_shapes */

#include <cblas.h>
#include <lapacke.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static ntk_linear *make_lin(const ntk_net *net)
{
    ntk_linear *lin = NULL;
    ntk_error err;
    if (ntk_linear_create(net, &lin, &err)) fail_msg("%s", err.msg);
    return lin;
}

static double *random_mat(size_t n, uint64_t seed, double scale)
{
    tu_rng r = {seed};
    double *a = malloc((n ? n : 1) * sizeof *a);
    tu_fill_normal(&r, a, n, scale);
    return a;
}

/* J0 ((n·k) × P): row i·k + a = ∂f_a(x_i)/∂θ, from backward passes with
 * G = the one-hot e_(i,a) after one forward pass. */
static double *jacobian(const ntk_net *net, const double *x, size_t n)
{
    size_t k = ntk_net_n_outputs(net), P = ntk_net_n_params(net), m = n * k;
    double *J = malloc(m * P * sizeof *J), *G = calloc(m, sizeof *G);
    ntk_net_work *w;
    ntk_error err;
    if (ntk_net_work_create(net, n, &w, &err) || ntk_net_forward(net, w, x, n, NULL, &err)) fail_msg("%s", err.msg);
    for (size_t r = 0; r < m; r++) {
        G[r] = 1.0;
        if (ntk_net_backward(net, w, G, J + r * P, &err)) fail_msg("%s", err.msg);
        G[r] = 0.0;
    }
    ntk_net_work_free(w);
    free(G);
    return J;
}

/* Θ̂ = J Jᵀ (m × m) and its largest eigenvalue. */
static double *gram(const double *J, size_t m, size_t P)
{
    double *T = malloc(m * m * sizeof *T);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)P, 1.0, J, (int)P, J, (int)P, 0.0, T,
                (int)m);
    return T;
}

static double lambda_max(const double *T, size_t m)
{
    double *A = malloc(m * m * sizeof *A), *ev = malloc(m * sizeof *ev);
    memcpy(A, T, m * m * sizeof *A);
    if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (int)m, A, (int)m, ev)) fail_msg("dsyev failed");
    double l = ev[m - 1];
    free(A);
    free(ev);
    return l;
}

static double mse(const double *f, const double *y, size_t m)
{
    double s = 0;
    for (size_t e = 0; e < m; e++) s += (f[e] - y[e]) * (f[e] - y[e]);
    return s / (2.0 * (double)m);
}

/* |L̂ − L| for the full-set loss of a 1-output network on N rows computed
 * from a forward pass of other shapes (chunks) than the one that gave f,
 * and summed in another order: f may differ by δ_i ≤ 2·(forward-error
 * bound) (tu_forward_error_bound), and the sum of squares by γ_N of itself
 * plus the roundings of the final scaling, so
 *   |ΔL| ≤ (1/2N)·Σ (2|f_i − y_i|·δ_i + δ_i²) + (N + 3)·u·L. */
static double loss_tol(const ntk_net *net, const double *x, const double *y, const double *f, size_t N, double L)
{
    double *bd = malloc(N * sizeof *bd), tol = (double)(N + 3) * 0x1p-53 * L;
    tu_forward_error_bound(net, x, N, bd);
    for (size_t i = 0; i < N; i++) tol += (2 * fabs(f[i] - y[i]) * 2 * bd[i] + 4 * bd[i] * bd[i]) / (2.0 * (double)N);
    free(bd);
    return tol;
}

/* ------------------------------------------------------------ 1. linearization */

/* Both sides sum ≤ P ≈ 80 products of O(1) factors: rounding ≲ P·ε·Σ|terms|
 * ≈ 1e-13 of max|f|; 1e-12 bounds it. A wrong JVP term (a missing Ḣ W0ᵀ,
 * a wrong multiplier or φ') is O(|δθ|) = O(0.1) off. */
static void test_linear_vs_jacobian(void **state)
{
    (void)state;
    const char *spec = "dense(6,w_std=1.2,b_std=0.3),erf,dense(5,w_std=1.0,b_std=0.1),relu,dense(2,w_std=0.9,"
                       "b_std=0.2)";
    const size_t d = 3, n = 7, k = 2;
    double worst = 0;
    for (int p = 0; p < 2; p++) {
        ntk_net *net = make_net(spec, d, p ? NTK_PARAM_STANDARD : NTK_PARAM_NTK, 11);
        size_t P = ntk_net_n_params(net);
        double *x = random_mat(n * d, 12, 1.0);
        double *J = jacobian(net, x, n);
        double f0[14], fl[14], ref[14], fn[14];
        ntk_error err;
        assert_int_equal(ntk_net_apply(net, x, n, f0, 0, &err), NTK_OK);
        ntk_linear *lin = make_lin(net);
        double *th0 = malloc(P * sizeof *th0);
        memcpy(th0, ntk_net_params_const(net), P * sizeof *th0);
        assert_memory_equal(ntk_net_params_const(ntk_linear_base(lin)), th0, P * sizeof(double));
        /* at θ = θ0 the tangent is exactly 0: f_lin = f0 bit for bit */
        assert_int_equal(ntk_linear_apply(lin, x, n, fl, &err), NTK_OK);
        assert_memory_equal(fl, f0, sizeof fl);
        double *dth = random_mat(P, 13, 0.3), *th = ntk_linear_params(lin);
        for (size_t i = 0; i < P; i++) th[i] += dth[i];
        assert_int_equal(ntk_linear_apply(lin, x, n, fl, &err), NTK_OK);
        for (size_t r = 0; r < n * k; r++) {
            double s = 0;
            for (size_t i = 0; i < P; i++) s += J[r * P + i] * dth[i];
            ref[r] = f0[r] + s;
        }
        double e = tu_max_rel(fl, ref, n * k);
        if (!(e <= 1e-12)) fail_msg("%s: f_lin vs f0 + J0·δθ: %.3g > 1e-12", p ? "standard" : "ntk", e);
        if (e > worst) worst = e;
        /* the test can tell f_lin from f: the real network at θ differs */
        memcpy(ntk_net_params(net), th, P * sizeof(double));
        assert_int_equal(ntk_net_apply(net, x, n, fn, 0, &err), NTK_OK);
        assert_true(tu_max_rel(fn, ref, n * k) > 1e-4);
        /* the linearization owns its copy of θ0: overwriting the network's
         * parameters (just done) leaves it alone */
        assert_memory_equal(ntk_net_params_const(ntk_linear_base(lin)), th0, P * sizeof(double));
        /* errors */
        assert_int_equal(ntk_linear_apply(lin, x, 0, fl, &err), NTK_E_SHAPE);
        x[5] = NAN;
        assert_int_equal(ntk_linear_apply(lin, x, n, fl, &err), NTK_E_NUMERIC);
        assert_non_null(strstr(err.msg, "X: row 2, column 3"));
        ntk_linear_free(lin);
        ntk_net_free(net);
        free(x);
        free(J);
        free(dth);
        free(th0);
    }
    print_message("f_lin (JVP) vs f0 + J0·δθ: worst normalized error %.3g\n", worst);
}

/* ------------------------------------------------------------ 2. linear GD = closed form */

/* The code and the reference apply the same recurrence with different
 * rounding: per step ~ε·|θ| in each of the P entries of θ reaches u through
 * J0 as ≲ √P·ε·|J0| ≈ 1e-14, and the iteration is non-expanding for
 * η < 2n/λ_max (heavy ball: ηλ/n < 2(1+μ)), so after s = 30 steps the gap
 * is ≲ s·1e-14 ≈ 3e-13 of max|u|; 1e-10 leaves room. A missing 1/n, a
 * missing θ − θ0 or a wrong momentum form is O(1) off. */
static void test_linear_gd_closed_form(void **state)
{
    (void)state;
    const size_t d = 3, N = 10, steps = 30;
    double worst = 0;
    for (size_t k = 1; k <= 2; k++)
        for (int mom = 0; mom < 2; mom++) {
            char spec[256];
            snprintf(spec, sizeof spec,
                     "dense(16,w_std=1.5,b_std=0.2),tanh,dense(16,w_std=1.5,b_std=0.2),relu,dense(%zu,w_std=1.0,"
                     "b_std=0.1)",
                     k);
            ntk_net *net = make_net(spec, d, NTK_PARAM_NTK, 20 + k);
            size_t P = ntk_net_n_params(net), n = N * k;
            double *x = random_mat(N * d, 21, 1.0), *y = random_mat(n, 22, 1.0);
            double *J = jacobian(net, x, N), *T = gram(J, n, P);
            double lmax = lambda_max(T, n);
            double eta = 1.5 * (double)n / lmax, mu = mom ? 0.9 : 0.0;
            double *u = malloc(n * sizeof *u), *r = malloc(n * sizeof *r), *w = calloc(n, sizeof *w),
                   *Tr = malloc(n * sizeof *Tr), *ut = malloc(n * sizeof *ut);
            ntk_error err;
            assert_int_equal(ntk_net_apply(net, x, N, u, 0, &err), NTK_OK);
            for (size_t e = 0; e < n; e++) r[e] = u[e] - y[e];
            for (size_t s = 0; s < steps; s++) {
                cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, T, (int)n, r, 1, 0.0, Tr, 1);
                for (size_t e = 0; e < n; e++) {
                    w[e] = mu * w[e] + Tr[e] / (double)n; /* J0·v */
                    r[e] -= eta * w[e];
                }
            }
            for (size_t e = 0; e < n; e++) u[e] = y[e] + r[e];
            ntk_linear *lin = make_lin(net);
            ntk_train_opts o = ntk_train_opts_default();
            o.lr = eta;
            o.steps = steps;
            o.momentum = mu;
            double loss;
            assert_int_equal(ntk_train_linear(lin, &o, x, y, N, &loss, &err), NTK_OK);
            assert_int_equal(ntk_linear_apply(lin, x, N, ut, &err), NTK_OK);
            double e = tu_max_rel(ut, u, n);
            if (!(e <= 1e-10)) fail_msg("k %zu, momentum %g: trained f_lin vs closed form %.3g > 1e-10", k, mu, e);
            if (e > worst) worst = e;
            double lref = mse(u, y, n);
            assert_true(fabs(loss - lref) <= 1e-9 * lref);
            /* the base network is untouched by training */
            assert_memory_equal(ntk_net_params_const(ntk_linear_base(lin)), ntk_net_params_const(net),
                                P * sizeof(double));
            ntk_linear_free(lin);
            ntk_net_free(net);
            free(x);
            free(y);
            free(J);
            free(T);
            free(u);
            free(r);
            free(w);
            free(Tr);
            free(ut);
        }
    print_message("linearized GD vs y + (I - (eta/n)Theta0)^s (u0 - y): worst normalized error %.3g\n", worst);
}

/* ------------------------------------------------------------ 3. real network */

typedef struct {
    size_t n, stop_at;
    size_t steps[64];
    double loss[64];
} log_rec;

static int record(void *ctx, size_t step, double loss)
{
    log_rec *L = ctx;
    if (L->n < 64) {
        L->steps[L->n] = step;
        L->loss[L->n] = loss;
    }
    L->n++;
    return L->stop_at && step >= L->stop_at;
}

static const char *GD_SPEC =
    "dense(64,w_std=1.5,b_std=0.1),relu,dense(64,w_std=1.5,b_std=0.1),relu,dense(1,w_std=1.5,b_std=0.1)";

static void gd_task(double **x, double **y, size_t N, size_t d)
{
    *x = random_mat(N * d, 31, 1.0);
    *y = malloc(N * sizeof **y);
    for (size_t i = 0; i < N; i++) (*y)[i] = sin((*x)[i * d] + 0.5 * (*x)[i * d + 1] - (*x)[i * d + 2]);
}

static void test_gd_real_network(void **state)
{
    (void)state;
    const size_t N = 20, d = 3;
    double *x, *y;
    gd_task(&x, &y, N, d);
    ntk_net *net0 = make_net(GD_SPEC, d, NTK_PARAM_NTK, 30);
    size_t P = ntk_net_n_params(net0);
    double *J = jacobian(net0, x, N), *T = gram(J, N, P);
    double eta = 0.5 * (double)N / lambda_max(T, N); /* a quarter of the linear model's limit */
    ntk_error err;
    double f0[20];
    assert_int_equal(ntk_net_apply(net0, x, N, f0, 0, &err), NTK_OK);
    double L0 = mse(f0, y, N);

    /* GD, logging every 10 of 100 steps */
    ntk_net *gd = NULL;
    assert_int_equal(ntk_net_clone(net0, &gd, &err), NTK_OK);
    ntk_train_opts o = ntk_train_opts_default();
    o.lr = eta;
    o.steps = 100;
    o.log_every = 10;
    log_rec L = {0};
    o.on_log = record;
    o.log_ctx = &L;
    double loss;
    assert_int_equal(ntk_train(gd, &o, x, y, N, &loss, &err), NTK_OK);
    assert_int_equal(L.n, 11);
    for (size_t i = 0; i < L.n; i++) assert_int_equal(L.steps[i], 10 * i);
    /* the same 20-row forward pass and sum: the scalings differ by ≤ 3u·L */
    assert_true(fabs(L.loss[0] - L0) <= 2 * DBL_EPSILON * L0);
    for (size_t i = 1; i < L.n; i++) assert_true(L.loss[i] <= L.loss[i - 1]);
    assert_true(loss == L.loss[L.n - 1]);
    assert_true(loss < 0.5 * L0);
    print_message("GD (eta %.3g): loss %.4g -> %.4g after 100 steps\n", eta, L0, loss);

    /* the last step is logged once even off the grid; log_every 0 = first and last */
    ntk_net *t = NULL;
    assert_int_equal(ntk_net_clone(net0, &t, &err), NTK_OK);
    memset(&L, 0, sizeof L);
    o.steps = 25;
    assert_int_equal(ntk_train(t, &o, x, y, N, NULL, &err), NTK_OK);
    assert_int_equal(L.n, 4);
    assert_int_equal(L.steps[3], 25);
    memcpy(ntk_net_params(t), ntk_net_params_const(net0), P * sizeof(double));
    memset(&L, 0, sizeof L);
    o.log_every = 0;
    assert_int_equal(ntk_train(t, &o, x, y, N, NULL, &err), NTK_OK);
    assert_int_equal(L.n, 2);
    assert_int_equal(L.steps[0], 0);
    assert_int_equal(L.steps[1], 25);

    /* early stop at step 30 = a 30-step run */
    memcpy(ntk_net_params(t), ntk_net_params_const(net0), P * sizeof(double));
    memset(&L, 0, sizeof L);
    L.stop_at = 30;
    o.steps = 100;
    o.log_every = 10;
    assert_int_equal(ntk_train(t, &o, x, y, N, &loss, &err), NTK_OK);
    assert_int_equal(L.n, 4);
    assert_true(loss == L.loss[3]);
    ntk_net *t30 = NULL;
    assert_int_equal(ntk_net_clone(net0, &t30, &err), NTK_OK);
    o.on_log = NULL;
    o.steps = 30;
    double loss30;
    assert_int_equal(ntk_train(t30, &o, x, y, N, &loss30, &err), NTK_OK);
    assert_memory_equal(ntk_net_params_const(t), ntk_net_params_const(t30), P * sizeof(double));
    assert_true(loss30 == loss);

    /* momentum: a different path, also downhill */
    ntk_net *hb = NULL;
    assert_int_equal(ntk_net_clone(net0, &hb, &err), NTK_OK);
    o.steps = 100;
    o.momentum = 0.9;
    double lossm;
    assert_int_equal(ntk_train(hb, &o, x, y, N, &lossm, &err), NTK_OK);
    assert_true(lossm < 0.5 * L0);
    assert_memory_not_equal(ntk_net_params_const(hb), ntk_net_params_const(gd), P * sizeof(double));
    print_message("heavy ball (mu 0.9): loss %.4g -> %.4g\n", L0, lossm);

    /* SGD, batch 7 of 20 rows (epochs of 7, 7, 6) */
    o.momentum = 0;
    o.batch = 7;
    o.steps = 120;
    o.seed = 5;
    ntk_net *s1 = NULL, *s2 = NULL, *s3 = NULL;
    assert_int_equal(ntk_net_clone(net0, &s1, &err), NTK_OK);
    assert_int_equal(ntk_net_clone(net0, &s2, &err), NTK_OK);
    assert_int_equal(ntk_net_clone(net0, &s3, &err), NTK_OK);
    double ls1, ls2, ls3;
    memset(&L, 0, sizeof L);
    o.on_log = record;
    o.log_every = 40;
    assert_int_equal(ntk_train(s1, &o, x, y, N, &ls1, &err), NTK_OK);
    assert_int_equal(L.n, 4);
    /* the logged losses are full-set losses (a forward pass in chunks of
     * 7, 7 and 6 rows, summed in another order): within loss_tol of L0 */
    double tol0 = loss_tol(net0, x, y, f0, N, L0);
    if (!(fabs(L.loss[0] - L0) <= tol0)) fail_msg("SGD: logged loss %.17g vs %.17g (bound %.3g)", L.loss[0], L0, tol0);
    o.on_log = NULL;
    assert_int_equal(ntk_train(s2, &o, x, y, N, &ls2, &err), NTK_OK);
    assert_memory_equal(ntk_net_params_const(s1), ntk_net_params_const(s2), P * sizeof(double));
    assert_true(ls1 == ls2);
    assert_true(ls1 < 0.5 * L0);
    o.seed = 6;
    assert_int_equal(ntk_train(s3, &o, x, y, N, &ls3, &err), NTK_OK);
    assert_memory_not_equal(ntk_net_params_const(s1), ntk_net_params_const(s3), P * sizeof(double));
    print_message("SGD batch 7: loss %.4g -> %.4g (seed 5), %.4g (seed 6)\n", L0, ls1, ls3);

    /* batch ≥ rows is full-batch GD, bit for bit */
    ntk_net *b1 = NULL, *b2 = NULL;
    assert_int_equal(ntk_net_clone(net0, &b1, &err), NTK_OK);
    assert_int_equal(ntk_net_clone(net0, &b2, &err), NTK_OK);
    o.steps = 20;
    o.batch = 0;
    assert_int_equal(ntk_train(b1, &o, x, y, N, NULL, &err), NTK_OK);
    o.batch = 50;
    assert_int_equal(ntk_train(b2, &o, x, y, N, NULL, &err), NTK_OK);
    assert_memory_equal(ntk_net_params_const(b1), ntk_net_params_const(b2), P * sizeof(double));

    ntk_net *nets[] = {net0, gd, t, t30, hb, s1, s2, s3, b1, b2};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) ntk_net_free(nets[i]);
    free(x);
    free(y);
    free(J);
    free(T);
}

/* Every row is visited exactly once per epoch: with one-hot inputs
 * x_i = e_i, f = W x (standard dense(1), no bias), W = 0 and y = 1, one
 * epoch of SGD (batches 3, 3, 3, 1 of 10 rows) moves W_i exactly once, by
 * η/nb with nb the size of its batch: nine entries η/3 and one η. */
static void test_sgd_epoch(void **state)
{
    (void)state;
    const size_t N = 10;
    double x[100] = {0}, y[10];
    for (size_t i = 0; i < N; i++) {
        x[i * N + i] = 1;
        y[i] = 1;
    }
    for (uint64_t seed = 0; seed < 2; seed++) {
        ntk_net *net = make_net("dense(1)", N, NTK_PARAM_STANDARD, 1);
        memset(ntk_net_params(net), 0, N * sizeof(double));
        ntk_train_opts o = ntk_train_opts_default();
        o.lr = 0.3;
        o.batch = 3;
        o.steps = 4;
        o.seed = seed;
        ntk_error err;
        assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_OK);
        const double *W = ntk_net_params_const(net);
        size_t thirds = 0, ones = 0;
        for (size_t i = 0; i < N; i++) {
            if (W[i] == 0.3 / 3) thirds++;
            if (W[i] == 0.3) ones++;
        }
        assert_int_equal(thirds, 9);
        assert_int_equal(ones, 1);
        ntk_net_free(net);
    }
}

/* ------------------------------------------------------------ 4. divergence */

static void test_divergence(void **state)
{
    (void)state;
    const size_t N = 20, d = 3;
    double *x, *y;
    gd_task(&x, &y, N, d);
    ntk_net *net0 = make_net(GD_SPEC, d, NTK_PARAM_NTK, 30);
    ntk_error err;
    for (int kind = 0; kind < 3; kind++) {
        ntk_train_opts o = ntk_train_opts_default();
        o.lr = 1e4;
        o.steps = 2000;
        if (kind == 2) o.batch = 6;
        ntk_status s;
        if (kind == 1) {
            ntk_linear *lin = make_lin(net0);
            s = ntk_train_linear(lin, &o, x, y, N, NULL, &err);
            ntk_linear_free(lin);
        } else {
            ntk_net *net = NULL;
            assert_int_equal(ntk_net_clone(net0, &net, &err), NTK_OK);
            s = ntk_train(net, &o, x, y, N, NULL, &err);
            ntk_net_free(net);
        }
        assert_int_equal(s, NTK_E_NUMERIC);
        assert_int_equal(err.status, NTK_E_NUMERIC);
        assert_non_null(strstr(err.msg, "training diverged at step "));
        assert_non_null(strstr(err.msg, "smaller learning rate"));
        print_message("%s: %s\n", kind == 0 ? "GD" : kind == 1 ? "linear GD" : "SGD", err.msg);
    }
    /* a loss that overflows before any update is not blamed on the learning rate */
    ntk_net *huge = make_net("dense(8,w_std=1e100),relu,dense(8,w_std=1e100),relu,dense(1,w_std=1e100)", d,
                             NTK_PARAM_NTK, 1);
    ntk_train_opts o = ntk_train_opts_default();
    o.steps = 5;
    for (size_t batch = 0; batch <= 6; batch += 6) {
        o.batch = batch;
        assert_int_equal(ntk_train(huge, &o, x, y, N, NULL, &err), NTK_E_NUMERIC);
        assert_non_null(strstr(err.msg, "the initial loss is not finite"));
    }
    print_message("%s\n", err.msg);
    ntk_net_free(huge);
    ntk_net_free(net0);
    free(x);
    free(y);
}

/* ------------------------------------------------------------ 5. wide networks stay linear */

/* f_T − f_lin,T = O(1/√width) (Lee et al. 2019, Theorem 2.1): RMS gap over
 * 16 training and 8 test points after T = 25 steps of GD at η = n/λ_max of
 * the infinite-width NTK (half the largest stable step, width-independent),
 * averaged over 2 seeds. Expected ratio per 4× width ≈ 2 (measured 2.9 and
 * 5.8), so a monotone decrease with a wide margin; a linearization that is
 * not the network's first-order expansion, or a training path that
 * differs, would not shrink (checked: dropping the Ḣ W0ᵀ term fails). */
static void test_wide_is_linear(void **state)
{
    (void)state;
    const size_t N = 16, Nt = 8, d = 3, T = 25, n_seeds = 2;
    const size_t widths[] = {256, 1024, 4096};
    double *x = random_mat((N + Nt) * d, 41, 1.0), y[16];
    for (size_t i = 0; i < N; i++) y[i] = sin(0.8 * x[i * d] - 0.6 * x[i * d + 1] + 0.4 * x[i * d + 2]);
    double gap[3] = {0}, rel[3] = {0};
    double eta = 0;
    for (size_t wi = 0; wi < 3; wi++) {
        char spec[256];
        snprintf(spec, sizeof spec,
                 "dense(%zu,w_std=1.5,b_std=0.1),erf,dense(%zu,w_std=1.5,b_std=0.1),erf,dense(1,w_std=1.5,b_std=0.1)",
                 widths[wi], widths[wi]);
        if (wi == 0) { /* η from the analytic NTK: the same for every width */
            ntk_arch *a = parse(spec);
            ntk_kernel_opts ko = ntk_kernel_opts_default();
            double Th[256];
            ntk_error err;
            assert_int_equal(ntk_kernel(a, &ko, x, N, NULL, 0, d, NULL, Th, &err), NTK_OK);
            eta = (double)N / lambda_max(Th, N);
            ntk_arch_free(a);
        }
        struct timespec c0, c1;
        clock_gettime(CLOCK_MONOTONIC, &c0);
        for (uint64_t seed = 0; seed < n_seeds; seed++) {
            ntk_net *net = make_net(spec, d, NTK_PARAM_NTK, 100 + seed);
            ntk_linear *lin = make_lin(net);
            ntk_train_opts o = ntk_train_opts_default();
            o.lr = eta;
            o.steps = T;
            ntk_error err;
            double f[24], fl[24], f0[24];
            assert_int_equal(ntk_net_apply(net, x, N + Nt, f0, 0, &err), NTK_OK);
            assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_OK);
            assert_int_equal(ntk_train_linear(lin, &o, x, y, N, NULL, &err), NTK_OK);
            assert_int_equal(ntk_net_apply(net, x, N + Nt, f, 0, &err), NTK_OK);
            assert_int_equal(ntk_linear_apply(lin, x, N + Nt, fl, &err), NTK_OK);
            double s = 0, m = 0;
            for (size_t i = 0; i < N + Nt; i++) {
                s += (f[i] - fl[i]) * (f[i] - fl[i]);
                m += (f[i] - f0[i]) * (f[i] - f0[i]);
            }
            gap[wi] += sqrt(s / (double)(N + Nt)) / (double)n_seeds;
            print_message("  seed %llu: %.3e\n", (unsigned long long)seed, sqrt(s / (double)(N + Nt)));
            rel[wi] += sqrt(s / m) / (double)n_seeds; /* gap relative to how far training moved f */
            ntk_linear_free(lin);
            ntk_net_free(net);
        }
        clock_gettime(CLOCK_MONOTONIC, &c1);
        print_message("width %5zu: RMS |f - f_lin| = %.3e (%.3e of the RMS change of f), %.1f s\n", widths[wi],
                      gap[wi], rel[wi], (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec));
    }
    for (size_t wi = 1; wi < 3; wi++)
        if (!(gap[wi] < gap[wi - 1]))
            fail_msg("the gap does not shrink from width %zu to %zu: %.3e -> %.3e", widths[wi - 1], widths[wi],
                     gap[wi - 1], gap[wi]);
    free(x);
}

/* ------------------------------------------------------------ 6. threads */

/* 500 rows, layers of 256: the activation loops (500·256 elements) and the
 * update (≈ 72k parameters) are above the 65536-element OpenMP threshold,
 * and the products are split into several of ntk_dgemm's blocks of 128
 * rows (500 is not a multiple of 8 or of 128: OpenBLAS's own threaded
 * dgemm would move its edge tiles between threads). Threads 1, 2, 3, by
 * opts.threads and the caller's setting: the same bits. */
static void test_threads(void **state)
{
    (void)state;
    const char *spec = "dense(256,w_std=1.5,b_std=0.1),erf,dense(256,w_std=1.5,b_std=0.1),relu,dense(8,w_std=1.2,"
                       "b_std=0.1)";
    const size_t N = 500, d = 16;
    double *x = random_mat(N * d, 51, 1.0), *y = random_mat(N * 8, 52, 1.0);
    ntk_net *net0 = make_net(spec, d, NTK_PARAM_NTK, 50);
    size_t P = ntk_net_n_params(net0);
    for (int kind = 0; kind < 3; kind++) {
        double *th[3], loss[3];
        for (int t = 0; t < 3; t++) {
            set_threads(t + 1);
            ntk_train_opts o = ntk_train_opts_default();
            o.lr = 0.5;
            o.steps = 6;
            o.threads = t + 1;
            if (kind == 2) {
                o.batch = 128;
                o.momentum = 0.5;
            }
            ntk_error err;
            if (kind == 1) {
                ntk_linear *lin = make_lin(net0);
                assert_int_equal(ntk_train_linear(lin, &o, x, y, N, &loss[t], &err), NTK_OK);
                th[t] = malloc(P * sizeof(double));
                memcpy(th[t], ntk_linear_params(lin), P * sizeof(double));
                ntk_linear_free(lin);
            } else {
                ntk_net *net = NULL;
                assert_int_equal(ntk_net_clone(net0, &net, &err), NTK_OK);
                assert_int_equal(ntk_train(net, &o, x, y, N, &loss[t], &err), NTK_OK);
                th[t] = malloc(P * sizeof(double));
                memcpy(th[t], ntk_net_params_const(net), P * sizeof(double));
                ntk_net_free(net);
            }
        }
        for (int t = 1; t < 3; t++) {
            assert_memory_equal(th[0], th[t], P * sizeof(double));
            assert_memory_equal(&loss[0], &loss[t], sizeof(double));
        }
        for (int t = 0; t < 3; t++) free(th[t]);
    }
    set_threads(2);
    ntk_net_free(net0);
    free(x);
    free(y);
}

/* ------------------------------------------------------------ 7. argument errors */

static void test_errors(void **state)
{
    (void)state;
    const size_t N = 6, d = 3;
    ntk_net *net = make_net("dense(5,w_std=1.5,b_std=0.1),relu,dense(1)", d, NTK_PARAM_NTK, 1);
    ntk_linear *lin = make_lin(net);
    size_t P = ntk_net_n_params(net);
    double *th0 = malloc(P * sizeof *th0);
    memcpy(th0, ntk_net_params_const(net), P * sizeof *th0);
    double *x = random_mat(N * d, 2, 1.0), *y = random_mat(N, 3, 1.0);
    ntk_error err;

    /* shapes as the CLI knows them */
    assert_int_equal(net_train_check_shapes(net, N, d, N, 1, &err), NTK_OK);
    assert_int_equal(net_train_check_shapes(net, N, d, N, 3, &err), NTK_E_SHAPE);
    assert_string_equal(err.msg, "Y has 3 columns but the network has 1 output");
    assert_int_equal(net_train_check_shapes(net, N, d, N + 1, 1, &err), NTK_E_SHAPE);
    assert_string_equal(err.msg, "Y has 7 rows but X has 6");
    assert_int_equal(net_train_check_shapes(net, N, 4, N, 1, &err), NTK_E_SHAPE);
    assert_string_equal(err.msg, "X has 4 columns but the network takes 3 inputs");
    assert_int_equal(net_train_check_shapes(net, 0, d, 0, 1, &err), NTK_E_SHAPE);

    ntk_train_opts o = ntk_train_opts_default();
    o.steps = 3;
    double bad_lr[] = {0, -0.1, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++) {
        o.lr = bad_lr[i];
        assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_E_INVAL);
        assert_non_null(strstr(err.msg, "learning rate must be positive and finite"));
        assert_int_equal(ntk_train_linear(lin, &o, x, y, N, NULL, &err), NTK_E_INVAL);
    }
    o.lr = 0.1;
    double bad_mu[] = {1.0, -0.1, NAN};
    for (size_t i = 0; i < 3; i++) {
        o.momentum = bad_mu[i];
        assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_E_INVAL);
        assert_non_null(strstr(err.msg, "momentum must be in [0, 1)"));
    }
    o.momentum = 0;
    o.threads = -1;
    assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_E_INVAL);
    o.threads = 0;
    assert_int_equal(ntk_train(net, &o, x, y, 0, NULL, &err), NTK_E_SHAPE);
    y[2] = NAN;
    assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_E_NUMERIC);
    assert_string_equal(err.msg, "Y: row 3, column 1: nan is not finite");
    assert_int_equal(ntk_train_linear(lin, &o, x, y, N, NULL, &err), NTK_E_NUMERIC);
    y[2] = 0;
    x[4] = INFINITY;
    assert_int_equal(ntk_train(net, &o, x, y, N, NULL, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "X: row 2, column 2"));
    /* nothing was updated by the rejected calls */
    assert_memory_equal(ntk_net_params_const(net), th0, P * sizeof *th0);
    assert_memory_equal(ntk_linear_params(lin), th0, P * sizeof *th0);
    x[4] = 0;
    /* steps = 0: no update, the initial loss */
    o.steps = 0;
    double loss;
    assert_int_equal(ntk_train(net, &o, x, y, N, &loss, &err), NTK_OK);
    double f[6];
    assert_int_equal(ntk_net_apply(net, x, N, f, 0, &err), NTK_OK);
    /* The same forward pass (6 rows both times) and the same serial sum s
     * of squares; train.c forms (0.5·fl(1/m))·s, mse s/(2m): three
     * roundings between them, |Δ| ≤ 3u·L < 2ε·L. */
    double L0 = mse(f, y, N);
    if (!(fabs(loss - L0) <= 2 * DBL_EPSILON * L0)) fail_msg("steps = 0: loss %.17g vs %.17g", loss, L0);
    /* batch 4: the full-set loss forwards rows 0–3 and 4–5 separately */
    o.batch = 4;
    assert_int_equal(ntk_train(net, &o, x, y, N, &loss, &err), NTK_OK);
    double tol = loss_tol(net, x, y, f, N, L0);
    if (!(fabs(loss - L0) <= tol)) fail_msg("batch 4: loss %.17g vs %.17g (bound %.3g)", loss, L0, tol);
    assert_memory_equal(ntk_net_params_const(net), th0, P * sizeof *th0);

    ntk_linear_free(lin);
    ntk_net_free(net);
    free(th0);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_vs_jacobian), cmocka_unit_test(test_linear_gd_closed_form),
        cmocka_unit_test(test_gd_real_network),    cmocka_unit_test(test_sgd_epoch),
        cmocka_unit_test(test_divergence),         cmocka_unit_test(test_wide_is_linear),
        cmocka_unit_test(test_threads),            cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
