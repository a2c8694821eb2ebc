/*
 * test_threads.c — the thread contract of include/ntk.h ("Threads"):
 *   1. a call's `threads` bounds every thread it runs, OpenMP's and
 *      OpenBLAS's (its OpenMP build runs on OpenMP's threads): the
 *      process's thread count (/proc/self/status) after calls with
 *      threads = 1, 2, 3 under an OpenMP setting of 4 is 1, 2, 3, and
 *      threads = 0 follows the caller's setting (4); the caller's setting
 *      is restored; threads < 0 is refused;
 *   2. bitwise the same results for 1, 2 and 3 threads where ntk.h
 *      promises them: kernels on inputs of more than 10000 columns (where
 *      OpenBLAS's own ddot splits the sum among its threads), the
 *      predictions and covariances of one factorization (ntk_predict,
 *      ntk_predict_cov, ntk_model_predict), the equivalence experiment
 *      (whose learning rate and predictions come from factorizations);
 *   3. the factorizations (ntk_predictor_create, ntk_model_fit): the same
 *      bits for the same thread count, and predictions within the
 *      perturbation bound of a backward-stable factorization across
 *      thread counts.
 * Test 1 must run first: the OpenMP thread pool only grows.
 */
#include "testutil.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void set_default_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Threads of this process, from /proc/self/status (0 if unreadable). */
static int process_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* ------------------------------------------------------------ 1. the bound */

static const char *NET_SPEC = "dense(256,w_std=1.5,b_std=0.1),erf,dense(256,w_std=1.5,b_std=0.1),relu,dense(2)";

/* Every kind of call that takes a `threads`, on sizes where each of them
 * runs parallel regions (products of m·n·k > 262144, loops over > 65536
 * entries, LAPACK on a 128 × 128 kernel). */
static void run_every_kind(int threads)
{
    const size_t n = 128, d = 16, M = 100;
    ntk_error err;
    double *x = tu_random(n * d, 1, 1.0), *xt = tu_random(M * d, 2, 1.0), *y = tu_random(n * 2, 3, 1.0);
    double *K = malloc(n * n * sizeof *K), *f = malloc(M * 2 * sizeof *f);
    ntk_arch *arch = tu_parse(NET_SPEC), *tanh_arch = tu_parse("dense(64,w_std=1.3,b_std=0.1),tanh,dense(1)");
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.threads = threads;
    if (ntk_kernel(arch, &ko, x, n, NULL, 0, d, NULL, K, &err)) fail_msg("kernel: %s", err.msg);
    if (ntk_kernel(tanh_arch, &ko, x, 12, xt, 12, d, K, NULL, &err)) fail_msg("kernel: %s", err.msg); /* quadrature */
    ntk_net *net = NULL;
    if (ntk_net_create(arch, d, NTK_PARAM_NTK, &net, &err) || ntk_net_init(net, 5, &err)) fail_msg("%s", err.msg);
    if (ntk_net_apply(net, xt, M, f, threads, &err)) fail_msg("apply: %s", err.msg);
    ntk_train_opts to = ntk_train_opts_default();
    to.threads = threads;
    to.steps = 2;
    if (ntk_train(net, &to, x, y, n, NULL, &err)) fail_msg("train: %s", err.msg);
    ntk_model_opts mo = ntk_model_opts_default();
    mo.threads = threads;
    mo.ridge = 1e-3;
    ntk_model *m = NULL;
    double tinf = INFINITY;
    if (ntk_model_fit(arch, &mo, x, n, d, y, 2, &m, &err)) fail_msg("fit: %s", err.msg);
    ntk_model_set_threads(m, threads);
    if (ntk_model_predict(m, xt, M, d, &tinf, 1, f, NULL, &err)) fail_msg("model predict: %s", err.msg);
    ntk_model_free(m);
    ntk_compare_opts co = ntk_compare_opts_default();
    const size_t widths[] = {32};
    co.widths = widths;
    co.n_widths = 1;
    co.steps = 3;
    co.threads = threads;
    ntk_compare_result *R = NULL;
    if (ntk_compare(arch, &co, x, 40, d, y, 2, xt, 10, NULL, &R, &err)) fail_msg("compare: %s", err.msg);
    ntk_compare_free(R);
    ntk_net_free(net);
    ntk_arch_free(arch);
    ntk_arch_free(tanh_arch);
    free(x);
    free(xt);
    free(y);
    free(K);
    free(f);
}

static void test_bound(void **state)
{
    (void)state;
#ifndef _OPENMP
    skip(); /* one thread is all there is */
#else
    int t0 = process_threads();
    if (t0 != 1) {
        print_message("skipped: the process already runs %d threads\n", t0);
        skip();
    }
    set_default_threads(4);
    for (int t = 1; t <= 3; t++) {
        run_every_kind(t);
        int got = process_threads();
        print_message("threads = %d: the process has %d threads\n", t, got);
        if (got > t) fail_msg("threads = %d: %d threads ran", t, got);
        /* and the count is used (unless OMP_DYNAMIC lets the runtime give fewer) */
        if (got < t && !omp_get_dynamic()) fail_msg("threads = %d: only %d threads ran", t, got);
        assert_int_equal(default_threads(), 4); /* the caller's setting, restored */
    }
    run_every_kind(0);
    int got = process_threads();
    print_message("threads = 0 under an OpenMP setting of 4: %d threads\n", got);
    if (got > 4 || (got < 4 && !omp_get_dynamic()))
        fail_msg("threads = 0 under an OpenMP setting of 4: %d threads ran", got);
    assert_int_equal(default_threads(), 4);
    /* a negative count is refused (ntk_net_apply used to ignore its argument) */
    ntk_arch *arch = tu_parse("dense(3),relu,dense(1)");
    ntk_net *net = NULL;
    ntk_error err;
    double x[2] = {1, 2}, f[1];
    if (ntk_net_create(arch, 2, NTK_PARAM_NTK, &net, &err) || ntk_net_init(net, 1, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ntk_net_apply(net, x, 1, f, -1, &err), NTK_E_INVAL);
    assert_string_equal(err.msg, "threads must be >= 0, got -1");
    ntk_net_free(net);
    ntk_arch_free(arch);
    set_default_threads(2);
#endif
}

/* ------------------------------------------------------------ 2. bitwise */

static int same(const double *a, const double *b, size_t n) { return !memcmp(a, b, n * sizeof *a); }

/* d = 12000 > 10000: OpenBLAS's ddot adds per-thread partial sums above
 * 10000 terms, so the per-point variances |x|²/d once depended on the
 * thread count. Closed form (the fast path) and quadrature, X2 omitted and
 * given. */
static void test_kernel_wide_inputs(void **state)
{
    (void)state;
    const size_t n = 16, n2 = 5, d = 12000;
    double *x = tu_random(n * d, 11, 1.0), *x2 = tu_random(n2 * d, 12, 1.0);
    const char *specs[] = {"dense(8,w_std=1.4,b_std=0.1),relu,dense(1)", "dense(8,w_std=1.2,b_std=0.3),tanh,dense(1)"};
    for (size_t s = 0; s < 2; s++) {
        ntk_arch *arch = tu_parse(specs[s]);
        double *K[6], *T[6], *Kx[6], *D[6];
        for (int t = 0; t < 6; t++) {
            /* threads 1, 2, 3 by the caller's setting (threads = 0), then
             * by the argument under a setting of 4 */
            ntk_kernel_opts o = ntk_kernel_opts_default();
            set_default_threads(t < 3 ? t + 1 : 4);
            o.threads = t < 3 ? 0 : t - 2;
            ntk_error err;
            K[t] = malloc(n * n * sizeof(double));
            T[t] = malloc(n * n * sizeof(double));
            Kx[t] = malloc(n * n2 * sizeof(double));
            D[t] = malloc(n * sizeof(double));
            if (ntk_kernel(arch, &o, x, n, NULL, 0, d, K[t], T[t], &err) ||
                ntk_kernel(arch, &o, x, n, x2, n2, d, Kx[t], NULL, &err))
                fail_msg("%s: %s", specs[s], err.msg);
            o.diag = 1;
            if (ntk_kernel(arch, &o, x, n, NULL, 0, d, D[t], NULL, &err)) fail_msg("%s: %s", specs[s], err.msg);
        }
        for (int t = 1; t < 6; t++)
            if (!same(K[0], K[t], n * n) || !same(T[0], T[t], n * n) || !same(Kx[0], Kx[t], n * n2) ||
                !same(D[0], D[t], n))
                fail_msg("%s, d = %zu: 1 and %d threads (%s) differ", specs[s], d, t % 3 + 1,
                         t < 3 ? "the caller's setting" : "opts.threads");
        for (int t = 0; t < 6; t++) {
            free(K[t]);
            free(T[t]);
            free(Kx[t]);
            free(D[t]);
        }
        ntk_arch_free(arch);
    }
    set_default_threads(2);
    free(x);
    free(x2);
}

typedef struct {
    size_t N, M, d, k;
    double *x, *xt, *y, *K, *Kt, *Kn, *Knt, *Kntt; /* NTK train/test, NNGP train, test×train, test diag */
} problem;

/* An NTK regression problem; dup > 0 makes rows dup.. copies of earlier
 * rows up to 1e-9, so that the kernel is ill-conditioned (Cholesky path). */
static problem make_problem(size_t N, size_t M, size_t dup)
{
    problem P = {N, M, 6, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const size_t d = P.d;
    P.x = tu_random(N * d, 21, 1.0);
    P.xt = tu_random(M * d, 22, 1.0);
    P.y = tu_random(N * P.k, 23, 1.0);
    for (size_t i = dup; dup && i < N; i++)
        for (size_t c = 0; c < d; c++) P.x[i * d + c] = P.x[(i - dup) * d + c] + 1e-9 * (double)(c + 1);
    P.K = malloc(N * N * sizeof(double));
    P.Kt = malloc(M * N * sizeof(double));
    P.Kn = malloc(N * N * sizeof(double));
    P.Knt = malloc(M * N * sizeof(double));
    P.Kntt = malloc(M * M * sizeof(double));
    ntk_arch *arch = tu_parse("dense(64,w_std=1.5,b_std=0.2),erf,dense(64,w_std=1.5,b_std=0.2),relu,dense(2)");
    ntk_kernel_opts o = ntk_kernel_opts_default();
    ntk_error err;
    if (ntk_kernel(arch, &o, P.x, N, NULL, 0, d, P.Kn, P.K, &err) ||
        ntk_kernel(arch, &o, P.xt, M, P.x, N, d, P.Knt, P.Kt, &err) ||
        ntk_kernel(arch, &o, P.xt, M, NULL, 0, d, P.Kntt, NULL, &err))
        fail_msg("%s", err.msg);
    ntk_arch_free(arch);
    return P;
}

static void free_problem(problem *P)
{
    free(P->x);
    free(P->xt);
    free(P->y);
    free(P->K);
    free(P->Kt);
    free(P->Kn);
    free(P->Knt);
    free(P->Kntt);
}

/* One predictor each (created on the default threads), then its
 * predictions at t = 1 and ∞ and its covariances (full and diagonal, t = 2
 * and ∞) on 1, 2 and 3 threads: M = 300 test points span 3 blocks of
 * NTK_GEMM_BLOCK rows. Well conditioned (eigendecomposition for every
 * time) and ill conditioned (Cholesky for t = ∞, ntk_dtrsm_right). */
static void test_predictor_bitwise(void **state)
{
    (void)state;
    const size_t N = 160, M = 300;
    for (int ill = 0; ill < 2; ill++) {
        problem P = make_problem(N, M, ill ? 80 : 0);
        const size_t k = P.k;
        ntk_predict_opts o = ntk_predict_opts_default();
        o.ridge = ill ? 0 : 1e-2;
        o.auto_jitter = ill;
        ntk_predictor *p = NULL;
        ntk_error err;
        if (ntk_predictor_create(P.K, N, P.y, k, NULL, &o, &p, &err)) fail_msg("%s", err.msg);
        ntk_predict_info info;
        ntk_predictor_info(p, &info);
        print_message("%s kernel: lambda %.3g .. %.3g, jitter %.3g\n", ill ? "ill-conditioned" : "ridged",
                      info.lambda_min, info.lambda_max, info.jitter_added);
        assert_true(info.cholesky_ok);
        double times[2] = {1, INFINITY};
        double *f[3], *cv[3], *dg[3], *cvi[3];
        for (int t = 0; t < 3; t++) {
            set_default_threads(t + 1);
            f[t] = malloc(2 * M * k * sizeof(double));
            cv[t] = malloc(M * M * sizeof(double));
            cvi[t] = malloc(M * M * sizeof(double));
            dg[t] = malloc(M * sizeof(double));
            double diag[300];
            for (size_t i = 0; i < M; i++) diag[i] = P.Kntt[i * M + i];
            if (ntk_predict(p, P.Kt, M, NULL, times, 2, f[t], &err) ||
                ntk_predict_cov(p, P.Kt, M, P.Kn, P.Knt, P.Kntt, 0, 2.0, cv[t], &err) ||
                ntk_predict_cov(p, P.Kt, M, P.Kn, P.Knt, P.Kntt, 0, INFINITY, cvi[t], &err) ||
                ntk_predict_cov(p, P.Kt, M, P.Kn, P.Knt, diag, 1, INFINITY, dg[t], &err))
                fail_msg("%s", err.msg);
        }
        for (int t = 1; t < 3; t++) {
            if (!same(f[0], f[t], 2 * M * k)) fail_msg("ntk_predict: 1 and %d threads differ", t + 1);
            if (!same(cv[0], cv[t], M * M) || !same(cvi[0], cvi[t], M * M))
                fail_msg("ntk_predict_cov: 1 and %d threads differ", t + 1);
            if (!same(dg[0], dg[t], M)) fail_msg("ntk_predict_cov (diagonal): 1 and %d threads differ", t + 1);
        }
        for (int t = 0; t < 3; t++) {
            free(f[t]);
            free(cv[t]);
            free(cvi[t]);
            free(dg[t]);
        }
        ntk_predictor_free(p);
        free_problem(&P);
    }
    set_default_threads(2);
}

/* One model (fit on the default threads), its means and variances on 1, 2
 * and 3 threads (the model's and the caller's setting): M = 300 test points, more than one block of the model's
 * test-point loop and of NTK_GEMM_BLOCK rows. */
static void test_model_predict_bitwise(void **state)
{
    (void)state;
    const size_t N = 160, M = 300;
    problem P = make_problem(N, M, 0);
    ntk_arch *arch = tu_parse("dense(64,w_std=1.5,b_std=0.2),erf,dense(64,w_std=1.5,b_std=0.2),relu,dense(2)");
    ntk_model_opts mo = ntk_model_opts_default();
    mo.ridge = 1e-2;
    ntk_model *m = NULL;
    ntk_error err;
    if (ntk_model_fit(arch, &mo, P.x, N, P.d, P.y, P.k, &m, &err)) fail_msg("%s", err.msg);
    double times[3] = {0.5, 4, INFINITY};
    double *mean[3], *var[3];
    for (int t = 0; t < 3; t++) {
        set_default_threads(t + 1); /* as `ntk predict --threads` does */
        ntk_model_set_threads(m, t + 1);
        mean[t] = malloc(3 * M * P.k * sizeof(double));
        var[t] = malloc(3 * M * sizeof(double));
        if (ntk_model_predict(m, P.xt, M, P.d, times, 3, mean[t], var[t], &err)) fail_msg("%s", err.msg);
    }
    for (int t = 1; t < 3; t++)
        if (!same(mean[0], mean[t], 3 * M * P.k) || !same(var[0], var[t], 3 * M))
            fail_msg("ntk_model_predict: 1 and %d threads differ", t + 1);
    for (int t = 0; t < 3; t++) {
        free(mean[t]);
        free(var[t]);
    }
    ntk_model_free(m);
    ntk_arch_free(arch);
    free_problem(&P);
    set_default_threads(2);
}

/* The experiment on 1, 2 and 3 threads: N·k = 48, where LAPACK's dsyevd
 * already gives other bits on 2 threads than on 1 — and its λ_max sets the
 * learning rate of every network. */
static void test_compare_bitwise(void **state)
{
    (void)state;
    const size_t N = 24, M = 9, d = 3, k = 2;
    double *x = tu_random(N * d, 31, 1.0), *xt = tu_random(M * d, 32, 1.0);
    double *y = tu_random(N * k, 33, 1.0), *yt = tu_random(M * k, 34, 1.0);
    ntk_arch *arch = tu_parse("dense(64,w_std=1.5,b_std=0.1),relu,dense(64,w_std=1.5,b_std=0.1),erf,dense(2)");
    const size_t widths[] = {32, 128};
    ntk_compare_result *R[3];
    for (int t = 0; t < 3; t++) {
        ntk_compare_opts o = ntk_compare_opts_default();
        o.widths = widths;
        o.n_widths = 2;
        o.steps = 20;
        o.threads = t + 1;
        set_default_threads(t + 1); /* as `ntk compare --threads` does */
        ntk_error err;
        if (ntk_compare(arch, &o, x, N, d, y, k, xt, M, yt, &R[t], &err)) fail_msg("%s", err.msg);
    }
    set_default_threads(2);
    for (int t = 1; t < 3; t++) {
        const ntk_compare_result *a = R[0], *b = R[t];
        size_t W = a->n_widths, T = a->steps;
        if (memcmp(&a->lr, &b->lr, sizeof a->lr) || memcmp(&a->lr_max, &b->lr_max, sizeof a->lr))
            fail_msg("compare: the learning rate differs between 1 and %d threads", t + 1);
        if (memcmp(a->rows, b->rows, W * a->n_checkpoints * sizeof *a->rows) || memcmp(a->slope, b->slope, sizeof a->slope) ||
            !same(a->f_net, b->f_net, W * M * k) || !same(a->f_lin, b->f_lin, W * M * k) ||
            !same(a->inf_mean, b->inf_mean, M * k) || !same(a->inf_std, b->inf_std, M) ||
            !same(a->loss_net, b->loss_net, W * (T + 1)) || !same(a->loss_inf, b->loss_inf, T + 1))
            fail_msg("compare: 1 and %d threads differ", t + 1);
    }
    for (int t = 0; t < 3; t++) ntk_compare_free(R[t]);
    ntk_arch_free(arch);
    free(x);
    free(xt);
    free(y);
    free(yt);
}

/* ------------------------------------------------------------ 3. factorizations */

/* Two backward-stable factorizations of K_reg (N × N, eigenvalues
 * λ_min..λ_max) are exact for K_reg + E_1 and K_reg + E_2 with
 * ‖E‖₂ ≤ c·N·u·λ_max (LAPACK's normwise bound; c = 16, as in
 * test_predict.c). A prediction at time t is f = kxt·φ_t(K_reg)·y with
 * φ_t(λ) = (1 − e^(−aλ))/λ, a = η·t/n (φ_∞ = 1/λ), and for symmetric
 * matrices ‖φ(A + E) − φ(A)‖₂ ≤ L·‖E‖₂ with L = max|φ'| on the spectrum
 * ≤ min(a²/2, 1/λ_min²); the product adds ≤ γ_N·Σ_j|kxt_ij||w_j| ≤
 * γ_N·‖kxt_i‖₂·‖w‖₂, ‖w‖₂ ≤ min(a, 1/λ_min)·‖y‖₂. So two factorizations'
 * predictions differ by at most
 *   2·‖kxt_i‖₂·‖y_a‖₂·(c·N·u·λ_max·L + γ_N·min(a, 1/λ_min)).
 * A wrong factorization (a missing eigenvector, a wrong α) is off by
 * O(|f|). */
static double pred_bound(const double *kxt_row, size_t N, double ynorm, double lmin, double lmax, double a)
{
    const double u = 0x1p-53, c = 16;
    double kn = 0;
    for (size_t j = 0; j < N; j++) kn += kxt_row[j] * kxt_row[j];
    double L = fmin(a * a / 2, 1 / (lmin * lmin)), Phi = fmin(a, 1 / lmin);
    double gN = (double)N * u / (1 - (double)N * u);
    return 2 * sqrt(kn) * ynorm * (c * (double)N * u * lmax * L + gN * Phi);
}

static void check_close(const char *what, const double *f1, const double *f2, const problem *P, double lmin,
                        double lmax, double a, int t)
{
    for (size_t a_out = 0; a_out < P->k; a_out++) {
        double yn = 0;
        for (size_t i = 0; i < P->N; i++) yn += P->y[i * P->k + a_out] * P->y[i * P->k + a_out];
        yn = sqrt(yn);
        for (size_t i = 0; i < P->M; i++) {
            double b = pred_bound(P->Kt + i * P->N, P->N, yn, lmin, lmax, a);
            double e = fabs(f1[i * P->k + a_out] - f2[i * P->k + a_out]);
            if (!(e <= b))
                fail_msg("%s: 1 vs %d threads, point %zu, output %zu: |diff| %.3g > bound %.3g", what, t, i, a_out, e,
                         b);
        }
    }
}

static void test_factorization_per_count(void **state)
{
    (void)state;
    const size_t N = 200, M = 50;
    problem P = make_problem(N, M, 0);
    const size_t k = P.k;
    ntk_predict_opts o = ntk_predict_opts_default();
    o.ridge = 1e-3;
    double times[2] = {3, INFINITY}, *f[3];
    ntk_predict_info info;
    double worst = 0;
    for (int t = 0; t < 3; t++) {
        ntk_predictor *p[2];
        ntk_error err;
        set_default_threads(t + 1);
        for (int r = 0; r < 2; r++)
            if (ntk_predictor_create(P.K, N, P.y, k, NULL, &o, &p[r], &err)) fail_msg("%s", err.msg);
        f[t] = malloc(2 * M * k * sizeof(double));
        double *g = malloc(2 * M * k * sizeof(double));
        if (ntk_predict(p[0], P.Kt, M, NULL, times, 2, f[t], &err) || ntk_predict(p[1], P.Kt, M, NULL, times, 2, g, &err))
            fail_msg("%s", err.msg);
        if (!same(f[t], g, 2 * M * k)) fail_msg("ntk_predictor_create on %d threads: two runs differ", t + 1);
        ntk_predictor_info(p[0], &info);
        ntk_predictor_free(p[0]);
        ntk_predictor_free(p[1]);
        free(g);
        if (t == 0) continue;
        double a = o.lr * times[0] / (double)(N * k);
        check_close("predictor, t = 3", f[0], f[t], &P, info.lambda_min, info.lambda_max, a, t + 1);
        check_close("predictor, t = inf", f[0] + M * k, f[t] + M * k, &P, info.lambda_min, info.lambda_max, INFINITY,
                    t + 1);
        worst = fmax(worst, tu_max_rel(f[t], f[0], 2 * M * k));
    }
    print_message("predictor: 1 vs 2, 3 threads differ by %.3g of max|f| (kappa %.3g)\n", worst,
                  info.lambda_max / info.lambda_min);
    for (int t = 0; t < 3; t++) free(f[t]);

    /* ntk_model_fit with threads = 1, 2, 3: the same file twice per count */
    ntk_arch *arch = tu_parse("dense(64,w_std=1.5,b_std=0.2),erf,dense(64,w_std=1.5,b_std=0.2),relu,dense(2)");
    ntk_model_opts mo = ntk_model_opts_default();
    mo.ridge = 1e-3;
    double *mean[3];
    worst = 0;
    ntk_model_info mi;
    for (int t = 0; t < 3; t++) {
        ntk_model *m[2];
        ntk_error err;
        char *path[2];
        mo.threads = t + 1;
        for (int r = 0; r < 2; r++) {
            path[r] = tu_tmpfile(".npz");
            if (ntk_model_fit(arch, &mo, P.x, N, P.d, P.y, k, &m[r], &err) || ntk_model_save(m[r], path[r], &err))
                fail_msg("%s", err.msg);
        }
        FILE *f1 = fopen(path[0], "rb"), *f2 = fopen(path[1], "rb");
        assert_non_null(f1);
        assert_non_null(f2);
        int c1, c2;
        do {
            c1 = fgetc(f1);
            c2 = fgetc(f2);
        } while (c1 == c2 && c1 != EOF);
        if (c1 != c2) fail_msg("ntk_model_fit with threads = %d: two runs write different files", t + 1);
        fclose(f1);
        fclose(f2);
        mean[t] = malloc(2 * M * k * sizeof(double));
        if (ntk_model_predict(m[0], P.xt, M, P.d, times, 2, mean[t], NULL, &err)) fail_msg("%s", err.msg);
        ntk_model_get_info(m[0], &mi);
        for (int r = 0; r < 2; r++) {
            ntk_model_free(m[r]);
            remove(path[r]);
            free(path[r]);
        }
        if (t == 0) continue;
        double a = mo.lr * times[0] / (double)(N * k);
        check_close("model, t = 3", mean[0], mean[t], &P, mi.factor.lambda_min, mi.factor.lambda_max, a, t + 1);
        check_close("model, t = inf", mean[0] + M * k, mean[t] + M * k, &P, mi.factor.lambda_min,
                    mi.factor.lambda_max, INFINITY, t + 1);
        worst = fmax(worst, tu_max_rel(mean[t], mean[0], 2 * M * k));
    }
    print_message("model: 1 vs 2, 3 threads differ by %.3g of max|f|\n", worst);
    for (int t = 0; t < 3; t++) free(mean[t]);
    ntk_arch_free(arch);
    free_problem(&P);
    set_default_threads(2);
}

int main(int argc, char **argv)
{
    if (argc > 1) cmocka_set_test_filter(argv[1]); /* e.g. test_threads 'test_compare*' */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound), /* first: the thread pool only grows */
        cmocka_unit_test(test_kernel_wide_inputs),
        cmocka_unit_test(test_predictor_bitwise),
        cmocka_unit_test(test_model_predict_bitwise),
        cmocka_unit_test(test_compare_bitwise),
        cmocka_unit_test(test_factorization_per_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
