/*
 * test_predict.c — closed-form predictions of gradient descent / gradient
 * flow with a fixed kernel, kernel regression, ridge, and the
 * infinite-ensemble mean and covariance (src/predict/predict.c;
 * docs/math.md, "Training dynamics" and "Infinite ensembles and GPs"):
 *   1. gradient flow vs classical RK4 integration of du/dt = −(η/n)Θ(u − y)
 *      and d(f*)/dt = −(η/n)Θ*(u − y) (step halving bounds the RK4 error);
 *   2. discrete GD vs literally iterating the recursions (s = 0, 1, 7, 100);
 *   3. vs GD on a real linearized network (ntk_train_linear) with its
 *      empirical full NTK, the (N·k)-vector formulation;
 *   4. t = ∞ vs a direct Cholesky solve; t = 1e3, 1e6, 1e9 converge to it;
 *   5. ridge: relative = absolute (bitwise), t = ∞ for test and training
 *      points, the finite-t path agrees with the t = ∞ path;
 *   6. GP posterior (NNGP, with and without noise) and the NTK-ensemble
 *      covariance vs dense formulas (dposv, dsyev matrix exponential);
 *      symmetry and PSD of the covariance;
 *   7. infinite-ensemble mean/variance vs a Monte Carlo ensemble of trained
 *      finite networks;
 *   8. argument and numerical errors, and their messages.
 * Tolerances: ε = DBL_EPSILON; a Cholesky or eigen solve of an N×N kernel
 * is backward stable with a perturbation of a few N·ε·‖Θ‖, so two
 * independent solves differ by at most ~N·ε·κ (κ = λmax/λmin); the tests
 * use 8·N·ε·κ for solve-vs-solve comparisons.
 */
#include "testutil.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define EPS DBL_EPSILON

/* ------------------------------------------------------------ helpers */

static ntk_arch *parse(const char *spec)
{
    ntk_arch *a = NULL;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) fail_msg("%s: %s", spec, err.msg);
    return a;
}

static double *rnd(size_t n, uint64_t seed, double scale)
{
    tu_rng r = {seed};
    double *a = malloc((n ? n : 1) * sizeof *a);
    tu_fill_normal(&r, a, n, scale);
    return a;
}

static double *dup(const double *a, size_t n)
{
    double *b = malloc((n ? n : 1) * sizeof *b);
    memcpy(b, a, n * sizeof *b);
    return b;
}

/* C (m×n) = A (m×p) · B (p×n), plain loops (independent of BLAS). */
static void mm(size_t m, size_t n, size_t p, const double *A, const double *B, double *C)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t l = 0; l < p; l++) s += A[i * p + l] * B[l * n + j];
            C[i * n + j] = s;
        }
}

/* C (m×n) = A (m×p) · Bᵀ, B (n×p). */
static void mm_t(size_t m, size_t n, size_t p, const double *A, const double *B, double *C)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t l = 0; l < p; l++) s += A[i * p + l] * B[j * p + l];
            C[i * n + j] = s;
        }
}

/* Eigenvalues (ascending) of the symmetric A (N×N) by dsyev, and the
 * eigenvectors (columns of Q, row-major) when Q is not NULL. */
static void eig(const double *A, size_t N, double *w, double *Q)
{
    double *B = dup(A, N * N);
    lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, Q ? 'V' : 'N', 'U', (lapack_int)N, B, (lapack_int)N, w);
    if (info) fail_msg("dsyev: info %d", (int)info);
    if (Q) memcpy(Q, B, N * N * sizeof *Q);
    free(B);
}

static double cond(const double *A, size_t N)
{
    double *w = malloc(N * sizeof *w);
    eig(A, N, w, NULL);
    double c = w[N - 1] / w[0];
    if (!(w[0] > 0)) fail_msg("kernel not positive definite: eigenvalues %.3e .. %.3e", w[0], w[N - 1]);
    free(w);
    return c;
}

static double lam_max(const double *A, size_t N)
{
    double *w = malloc(N * sizeof *w);
    eig(A, N, w, NULL);
    double l = w[N - 1];
    free(w);
    return l;
}

/* X (N×nrhs) = (A + add·I)⁻¹ B by LAPACKE_dposv on fresh copies. */
static void spd_solve(const double *A, size_t N, double add, const double *B, size_t nrhs, double *X)
{
    double *C = dup(A, N * N);
    for (size_t i = 0; i < N; i++) C[i * N + i] += add;
    memcpy(X, B, N * nrhs * sizeof *X);
    lapack_int info =
        LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)N, (lapack_int)nrhs, C, (lapack_int)N, X, (lapack_int)nrhs);
    if (info) fail_msg("dposv: info %d", (int)info);
    free(C);
}

static double trace(const double *A, size_t N)
{
    double t = 0;
    for (size_t i = 0; i < N; i++) t += A[i * N + i];
    return t;
}

static ntk_predictor *mkpred(const double *kxx, size_t N, const double *y, size_t k, const double *f0,
                             const ntk_predict_opts *o)
{
    ntk_predictor *p = NULL;
    ntk_error err;
    ntk_status s = ntk_predictor_create(kxx, N, y, k, f0, o, &p, &err);
    if (s) fail_msg("ntk_predictor_create: %s", err.msg);
    assert_non_null(p);
    assert_int_equal(ntk_predictor_n_train(p), N);
    assert_int_equal(ntk_predictor_n_outputs(p), k);
    return p;
}

static void pred(const ntk_predictor *p, const double *kxt, size_t M, const double *f0t, const double *times,
                 size_t nt, double *out)
{
    ntk_error err;
    ntk_status s = ntk_predict(p, kxt, M, f0t, times, nt, out, &err);
    if (s) fail_msg("ntk_predict: %s", err.msg);
}

static void pcov(const ntk_predictor *p, const double *kxt, size_t M, const double *Kxx, const double *Kxt,
                 const double *Ktt, int diag, double t, double *cov)
{
    ntk_error err;
    ntk_status s = ntk_predict_cov(p, kxt, M, Kxx, Kxt, Ktt, diag, t, cov, &err);
    if (s) fail_msg("ntk_predict_cov: %s", err.msg);
}

/* Analytic NNGP (K) and NTK (T) of `spec` on N training and M test points
 * in d dimensions (random normal inputs of the given seed). */
typedef struct {
    size_t N, M, d;
    double *x, *xt;       /* N×d, M×d   */
    double *K, *Kt, *Ktt; /* NNGP: N×N, M×N, M×M */
    double *T, *Tt, *Ttt; /* NTK:  N×N, M×N, M×M */
} problem;

static problem make_problem(const char *spec, size_t N, size_t M, size_t d, uint64_t seed)
{
    problem P = {N, M, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    P.x = rnd(N * d, seed, 1.0);
    P.xt = rnd(M * d, seed + 1000, 1.0);
    P.K = malloc(N * N * sizeof(double));
    P.T = malloc(N * N * sizeof(double));
    P.Kt = malloc(M * N * sizeof(double));
    P.Tt = malloc(M * N * sizeof(double));
    P.Ktt = malloc(M * M * sizeof(double));
    P.Ttt = malloc(M * M * sizeof(double));
    ntk_arch *arch = parse(spec);
    ntk_kernel_opts o = ntk_kernel_opts_default();
    ntk_error err;
    if (ntk_kernel(arch, &o, P.x, N, NULL, 0, d, P.K, P.T, &err) ||
        ntk_kernel(arch, &o, P.xt, M, P.x, N, d, P.Kt, P.Tt, &err) ||
        ntk_kernel(arch, &o, P.xt, M, NULL, 0, d, P.Ktt, P.Ttt, &err))
        fail_msg("%s: %s", spec, err.msg);
    ntk_arch_free(arch);
    return P;
}

static void free_problem(problem *P)
{
    free(P->x); free(P->xt);
    free(P->K); free(P->Kt); free(P->Ktt);
    free(P->T); free(P->Tt); free(P->Ttt);
}

static const char *RELU2 = "dense(64,w_std=1.5,b_std=0.1),relu,dense(64,w_std=1.5,b_std=0.1),relu,"
                           "dense(1,w_std=1.5,b_std=0.1)";
static const char *ERF1 = "dense(64,w_std=1.4,b_std=0.3),erf,dense(1,w_std=1.2,b_std=0.2)";

/* ------------------------------------------------------------ 1. gradient flow vs RK4 */

/* z = (u (N×k), f* (M×k));  u' = −c·Θ(u − y),  f*' = −c·Θ*(u − y),  c = η/n. */
static void flow_rhs(const double *Th, const double *Tt, size_t N, size_t M, size_t k, const double *y, double c,
                     const double *z, double *dz, double *e)
{
    for (size_t i = 0; i < N * k; i++) e[i] = z[i] - y[i];
    for (size_t i = 0; i < N + M; i++) {
        const double *row = i < N ? Th + i * N : Tt + (i - N) * N;
        for (size_t a = 0; a < k; a++) {
            double s = 0;
            for (size_t j = 0; j < N; j++) s += row[j] * e[j * k + a];
            dz[i * k + a] = -c * s;
        }
    }
}

/* Classical RK4 from t = 0 through the ascending times, about h0 per step
 * (each interval split into whole steps); writes z at every time to
 * out (nt × (N+M) × k). */
static void rk4(const double *Th, const double *Tt, size_t N, size_t M, size_t k, const double *y, double c,
                const double *z0, const double *times, size_t nt, double h0, double *out)
{
    size_t S = (N + M) * k;
    double *z = dup(z0, S), *k1 = malloc(S * sizeof *z), *k2 = malloc(S * sizeof *z), *k3 = malloc(S * sizeof *z),
           *k4 = malloc(S * sizeof *z), *zt = malloc(S * sizeof *z), *e = malloc(N * k * sizeof *z);
    double tprev = 0;
    for (size_t ti = 0; ti < nt; ti++) {
        double span = times[ti] - tprev;
        size_t steps = span > 0 ? (size_t)ceil(span / h0) : 0;
        double h = steps ? span / (double)steps : 0;
        for (size_t s = 0; s < steps; s++) {
            flow_rhs(Th, Tt, N, M, k, y, c, z, k1, e);
            for (size_t i = 0; i < S; i++) zt[i] = z[i] + 0.5 * h * k1[i];
            flow_rhs(Th, Tt, N, M, k, y, c, zt, k2, e);
            for (size_t i = 0; i < S; i++) zt[i] = z[i] + 0.5 * h * k2[i];
            flow_rhs(Th, Tt, N, M, k, y, c, zt, k3, e);
            for (size_t i = 0; i < S; i++) zt[i] = z[i] + h * k3[i];
            flow_rhs(Th, Tt, N, M, k, y, c, zt, k4, e);
            for (size_t i = 0; i < S; i++) z[i] += h / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        }
        memcpy(out + ti * S, z, S * sizeof *z);
        tprev = times[ti];
    }
    free(z); free(k1); free(k2); free(k3); free(k4); free(zt); free(e);
}

/* The RK4 error on mode λ with z = h·η·λ/n: per step |R(z) − e^{−z}| ≈
 * z⁵/120, so after m steps ≈ m·z⁵/120·e^{−mz} ≤ z⁴/(120·e) of the mode's
 * initial size. With z ≤ 0.02 (h = 0.02, η = n/λmax): ≤ 5e-10; with the
 * step halved, 16× less. The halved run is the reference; |z_h − z_{h/2}|
 * ≈ 15/16 of err(h), so err(h/2) ≈ |z_h − z_{h/2}|/15 is checked to be
 * ≤ 1e-9 (well below the 1e-8 budget) before the comparison. */
static void test_flow_vs_rk4(void **state)
{
    (void)state;
    const size_t N = 24, M = 6, d = 3;
    problem P = make_problem(RELU2, N, M, d, 101);
    const double kappa = cond(P.T, N);
    const double times[] = {0.0, 0.3, 3.0, 30.0, 300.0};
    const size_t nt = sizeof times / sizeof *times;
    double worst = 0, worst_rk = 0, worst_x = 0;
    /* k = 1, 3 < M: kxt·(V·W) per time; k = 7 ≥ M: (kxt·V)·W */
    for (int kk = 0; kk < 3; kk++) {
        size_t k = kk == 2 ? 7 : kk ? 3 : 1;
        for (int nz = 0; nz < 2; nz++) {
            double n = (double)(N * k);
            ntk_predict_opts o = ntk_predict_opts_default();
            o.lr = n / lam_max(P.T, N); /* fastest rate η·λmax/n = 1 per unit time */
            double *y = rnd(N * k, 7 + k, 1.0);
            double *f0 = nz ? rnd(N * k, 8 + k, 0.5) : NULL, *f0t = nz ? rnd(M * k, 9 + k, 0.5) : NULL;
            ntk_predictor *p = mkpred(P.T, N, y, k, f0, &o);
            size_t S = (N + M) * k;
            double *z0 = calloc(S, sizeof *z0);
            if (nz) {
                memcpy(z0, f0, N * k * sizeof *z0);
                memcpy(z0 + N * k, f0t, M * k * sizeof *z0);
            }
            double *zh = malloc(nt * S * sizeof *zh), *zh2 = malloc(nt * S * sizeof *zh2);
            double c = o.lr / n;
            rk4(P.T, P.Tt, N, M, k, y, c, z0, times, nt, 0.02, zh);
            rk4(P.T, P.Tt, N, M, k, y, c, z0, times, nt, 0.01, zh2);
            double *u = malloc(nt * N * k * sizeof *u), *f = malloc(nt * M * k * sizeof *f);
            double *zx = malloc(S * sizeof *zx);
            pred(p, NULL, N, NULL, times, nt, u);
            pred(p, P.Tt, M, f0t, times, nt, f);
            for (size_t ti = 0; ti < nt; ti++) {
                const double *ru = zh2 + ti * S, *rf = ru + N * k;
                double *pu = u + ti * N * k, *pf = f + ti * M * k;
                if (times[ti] == 0) {
                    /* t = 0: exactly f0 (1 − e = 0 multiplies everything) */
                    for (size_t i = 0; i < N * k; i++) assert_true(pu[i] == (nz ? f0[i] : 0.0));
                    for (size_t i = 0; i < M * k; i++) assert_true(pf[i] == (nz ? f0t[i] : 0.0));
                    continue;
                }
                double erk = tu_max_rel(zh + ti * S, ru, S) / 15.0;
                double eu = tu_max_rel(pu, ru, N * k), ef = tu_max_rel(pf, rf, M * k);
                /* Richardson: z_{h/2} + (z_{h/2} − z_h)/15 cancels the h⁴ term */
                for (size_t i = 0; i < S; i++) zx[i] = ru[i] + (ru[i] - zh[ti * S + i]) / 15.0;
                double ex = fmax(tu_max_rel(pu, zx, N * k), tu_max_rel(pf, zx + N * k, M * k));
                worst_x = fmax(worst_x, ex);
                if (!(erk <= 1e-9)) fail_msg("RK4 not converged: k=%zu t=%g est. error %.3e", k, times[ti], erk);
                if (!(eu <= 1e-8 && ef <= 1e-8))
                    fail_msg("gradient flow k=%zu f0%s t=%g: train %.3e test %.3e > 1e-8 (RK4 error %.1e)", k,
                             nz ? "≠0" : "=0", times[ti], eu, ef, erk);
                worst = fmax(worst, fmax(eu, ef));
                worst_rk = fmax(worst_rk, erk);
            }
            /* several times in one call = one time per call, bitwise */
            for (size_t ti = 0; ti < nt; ti++) {
                double *one = malloc(M * k * sizeof *one);
                pred(p, P.Tt, M, f0t, times + ti, 1, one);
                assert_memory_equal(one, f + ti * M * k, M * k * sizeof *one);
                free(one);
            }
            free(u); free(f); free(zh); free(zh2); free(z0); free(zx);
            free(y); free(f0); free(f0t);
            ntk_predictor_free(p);
        }
    }
    print_message("gradient flow vs RK4 (N=%zu, M=%zu, κ=%.2e, t ≤ 300/rate): max rel error %.2e "
                  "(RK4 error estimate %.1e, tolerance 1e-8); vs the Richardson-extrapolated RK4: %.2e\n", N, M,
                  kappa, worst, worst_rk, worst_x);
    /* the extrapolated reference is O(h⁵), its residual ~z = 0.01 of the h⁴ term:
     * the closed form must be far closer to it than to the raw RK4 */
    assert_true(worst_x <= 0.1 * worst_rk);
    free_problem(&P);
}

/* (a) Tiny t: with f0 = 0 the prediction is the increment itself, whose
 * Taylor series is (ηt/n)·Θ*·r − ½(ηt/n)²·Θ*·Θ·r + O((ηtλ/n)³); at
 * ηtλmax/n ≤ 1e-6 the remainder is ≤ 2e-13 relative. The closed form
 * (expm1) keeps full relative accuracy (~N·ε); 1 − exp(−x) would lose
 * ε/(ηtλ/n) ≥ 2e-10. Tolerance 1e-12.
 * (b) An exactly singular Θ (a bias-free ReLU net with a training point at
 * the origin: a zero row and column, so eigenvalue 0, possibly computed as
 * a tiny negative and clipped) with a test-train block whose origin column
 * is arbitrary: the ODE still holds, u_z stays at f0_z and f* drifts
 * linearly along the null direction (g = ηt/n for λ = 0). RK4 as in
 * test_flow_vs_rk4 (the null mode is linear: RK4 is exact on it). */
static void test_flow_small_t_and_singular(void **state)
{
    (void)state;
    const size_t N = 24, M = 6, d = 3, k = 2;
    problem P = make_problem(RELU2, N, M, d, 111);
    double n = (double)(N * k);
    ntk_predict_opts o = ntk_predict_opts_default();
    o.lr = n / lam_max(P.T, N);
    double *y = rnd(N * k, 112, 1.0);
    ntk_predictor *p = mkpred(P.T, N, y, k, NULL, &o);
    double *a1 = malloc(N * k * sizeof *a1), *a2 = malloc(N * k * sizeof *a2), *b1 = malloc(M * k * sizeof *b1),
           *b2 = malloc(M * k * sizeof *b2), *u = malloc(N * k * sizeof *u), *f = malloc(M * k * sizeof *f);
    /* a1 = Θ·y, a2 = Θ·Θ·y, b1 = Θ*·y, b2 = Θ*·Θ·y */
    mm(N, k, N, P.T, y, a1);
    mm(N, k, N, P.T, a1, a2);
    mm(M, k, N, P.Tt, y, b1);
    mm(M, k, N, P.Tt, a1, b2);
    const double ts[] = {1e-12, 1e-9, 1e-6};
    double worst = 0;
    for (int ti = 0; ti < 3; ti++) {
        double t = ts[ti], c = o.lr * t / n;
        pred(p, NULL, N, NULL, &t, 1, u);
        pred(p, P.Tt, M, NULL, &t, 1, f);
        double *ru = malloc(N * k * sizeof *ru), *rf = malloc(M * k * sizeof *rf);
        for (size_t i = 0; i < N * k; i++) ru[i] = c * a1[i] - 0.5 * c * c * a2[i];
        for (size_t i = 0; i < M * k; i++) rf[i] = c * b1[i] - 0.5 * c * c * b2[i];
        double eu = tu_max_rel(u, ru, N * k), ef = tu_max_rel(f, rf, M * k);
        if (!(eu <= 1e-12 && ef <= 1e-12)) fail_msg("t = %g: increments off by %.3e (train) %.3e (test)", t, eu, ef);
        worst = fmax(worst, fmax(eu, ef));
        free(ru); free(rf);
    }
    print_message("gradient flow at tiny t (ηtλmax/n = 1e-12..1e-6) vs Taylor: max rel error %.2e (tolerance 1e-12)\n",
                  worst);
    ntk_predictor_free(p);
    free(a1); free(a2); free(b1); free(b2); free(u); free(f); free(y);
    free_problem(&P);

    /* (b) */
    const char *spec = "dense(32,w_std=1.5),relu,dense(32,w_std=1.5),relu,dense(1,w_std=1.5)";
    const size_t n1 = 12, ms = 4, z = 3, S = (n1 + ms) * k;
    double *x = rnd(n1 * d, 113, 1.0), *xt = rnd(ms * d, 114, 1.0);
    x[z * d] = x[z * d + 1] = x[z * d + 2] = 0;
    double *T = malloc(n1 * n1 * sizeof *T), *Tt = malloc(ms * n1 * sizeof *Tt);
    ntk_arch *arch = parse(spec);
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ntk_error err;
    if (ntk_kernel(arch, &ko, x, n1, NULL, 0, d, NULL, T, &err) ||
        ntk_kernel(arch, &ko, xt, ms, x, n1, d, NULL, Tt, &err))
        fail_msg("%s", err.msg);
    for (size_t m = 0; m < ms; m++) {
        assert_true(Tt[m * n1 + z] == 0);
        Tt[m * n1 + z] = 0.3 + 0.1 * (double)m;
    }
    double *ys = rnd(n1 * k, 115, 1.0), *f0 = rnd(n1 * k, 116, 0.5), *f0t = rnd(ms * k, 117, 0.5);
    n = (double)(n1 * k);
    o.lr = n / lam_max(T, n1);
    p = mkpred(T, n1, ys, k, f0, &o);
    ntk_predict_info info;
    ntk_predictor_info(p, &info);
    assert_false(info.cholesky_ok);
    assert_true(fabs(info.lambda_min) <= 100.0 * (double)n1 * EPS * info.lambda_max);
    const double times[] = {1.0, 10.0, 100.0};
    double *z0 = malloc(S * sizeof *z0), *zh = malloc(3 * S * sizeof *zh), *zh2 = malloc(3 * S * sizeof *zh2);
    memcpy(z0, f0, n1 * k * sizeof *z0);
    memcpy(z0 + n1 * k, f0t, ms * k * sizeof *z0);
    rk4(T, Tt, n1, ms, k, ys, o.lr / n, z0, times, 3, 0.02, zh);
    rk4(T, Tt, n1, ms, k, ys, o.lr / n, z0, times, 3, 0.01, zh2);
    double *uu = malloc(3 * n1 * k * sizeof *uu), *ff = malloc(3 * ms * k * sizeof *ff), ws = 0, wrk = 0;
    pred(p, NULL, n1, NULL, times, 3, uu);
    pred(p, Tt, ms, f0t, times, 3, ff);
    for (int ti = 0; ti < 3; ti++) {
        const double *ru = zh2 + ti * S, *rf = ru + n1 * k;
        double erk = tu_max_rel(zh + ti * S, ru, S) / 15.0;
        double eu = tu_max_rel(uu + ti * n1 * k, ru, n1 * k), ef = tu_max_rel(ff + ti * ms * k, rf, ms * k);
        if (!(erk <= 1e-9 && eu <= 1e-8 && ef <= 1e-8))
            fail_msg("singular Θ, t = %g: train %.3e test %.3e (RK4 error %.1e)", times[ti], eu, ef, erk);
        for (size_t a = 0; a < k; a++) assert_true(fabs(uu[ti * n1 * k + z * k + a] - f0[z * k + a]) <= 1e-12);
        ws = fmax(ws, fmax(eu, ef));
        wrk = fmax(wrk, erk);
    }
    print_message("gradient flow with an exactly singular Θ (λmin = %.1e, %zu clipped) vs RK4: %.2e "
                  "(RK4 error %.1e, tolerance 1e-8)\n", info.lambda_min, info.n_clipped, ws, wrk);
    ntk_predictor_free(p);
    ntk_arch_free(arch);
    free(x); free(xt); free(T); free(Tt); free(ys); free(f0); free(f0t); free(z0); free(zh); free(zh2);
    free(uu); free(ff);
}

/* ------------------------------------------------------------ 2. discrete GD vs iteration */

/* Literal recursion, s steps: f* ← f* − c·Θ*(u − y); u ← u − c·Θ(u − y)
 * (both with the u before the update). Each step rounds at ~N·ε of the
 * state; 100 contractive steps accumulate ≲ 100·N·ε ≈ 5e-13 relative,
 * so 1e-10 fails only on a real discrepancy. η·λmax/n = 1 and 1.9 (the
 * second makes 1 − ηλ/n negative for the top modes). */
static void test_discrete_vs_iteration(void **state)
{
    (void)state;
    const size_t N = 20, M = 5, d = 4;
    problem P = make_problem(ERF1, N, M, d, 202);
    const double steps[] = {0, 1, 7, 100};
    const size_t ns = 4;
    double worst = 0;
    for (int kk = 0; kk < 2; kk++) {
        size_t k = kk ? 3 : 1;
        for (int rate = 0; rate < 2; rate++) {
            double n = (double)(N * k);
            ntk_predict_opts o = ntk_predict_opts_default();
            o.discrete = 1;
            o.lr = (rate ? 1.9 : 1.0) * n / lam_max(P.T, N);
            double *y = rnd(N * k, 21 + k, 1.0), *f0 = rnd(N * k, 22 + k, 0.7), *f0t = rnd(M * k, 23 + k, 0.7);
            ntk_predictor *p = mkpred(P.T, N, y, k, f0, &o);
            double *u = malloc(ns * N * k * sizeof *u), *f = malloc(ns * M * k * sizeof *f);
            pred(p, NULL, N, NULL, steps, ns, u);
            pred(p, P.Tt, M, f0t, steps, ns, f);
            double *ui = dup(f0, N * k), *fi = dup(f0t, M * k), *e = malloc(N * k * sizeof *e);
            double c = o.lr / n;
            size_t done = 0;
            for (size_t si = 0; si < ns; si++) {
                for (; done < (size_t)steps[si]; done++) {
                    for (size_t i = 0; i < N * k; i++) e[i] = ui[i] - y[i];
                    for (size_t m = 0; m < M; m++)
                        for (size_t a = 0; a < k; a++) {
                            double s = 0;
                            for (size_t j = 0; j < N; j++) s += P.Tt[m * N + j] * e[j * k + a];
                            fi[m * k + a] -= c * s;
                        }
                    for (size_t i = 0; i < N; i++)
                        for (size_t a = 0; a < k; a++) {
                            double s = 0;
                            for (size_t j = 0; j < N; j++) s += P.T[i * N + j] * e[j * k + a];
                            ui[i * k + a] -= c * s;
                        }
                }
                double eu = tu_max_rel(u + si * N * k, ui, N * k), ef = tu_max_rel(f + si * M * k, fi, M * k);
                if (!(eu <= 1e-10 && ef <= 1e-10))
                    fail_msg("discrete k=%zu ηλmax/n=%.1f s=%g: train %.3e test %.3e > 1e-10", k, rate ? 1.9 : 1.0,
                             steps[si], eu, ef);
                if (steps[si] == 0) assert_true(eu == 0 && ef == 0);
                worst = fmax(worst, fmax(eu, ef));
            }
            free(u); free(f); free(ui); free(fi); free(e);
            free(y); free(f0); free(f0t);
            ntk_predictor_free(p);
        }
    }
    print_message("discrete GD vs iterated recursion (s ≤ 100, ηλmax/n = 1, 1.9): max rel error %.2e "
                  "(tolerance 1e-10)\n", worst);
    free_problem(&P);
}

/* ------------------------------------------------------------ 3. vs a linearized network */

/* GD on f_lin(θ) = f0 + J0(θ − θ0) with L = (1/2n)Σ(f − y)², n = N·k, gives
 * u_{s+1} − y = (I − (η/n)Θ̂0)(u_s − y) with Θ̂0 = J0J0ᵀ the full
 * (N·k)×(N·k) empirical NTK in (i,a) order, and the same recursion at the
 * test points with Θ̂0(x*,X). So the predictor built from Θ̂0 with N' = N·k
 * "training points", k' = 1 and the targets flattened in (i,a) order (its
 * n = N'·k' = N·k: the same MSE normalisation) reproduces the trained
 * linearization. Both sides round at ~P·ε per product (P ≈ 4.6k
 * parameters) over ≤ 100 contractive steps: ≲ 1e-11; tolerance 1e-8. */
static void test_vs_linearized_network(void **state)
{
    (void)state;
    const size_t N = 10, M = 4, d = 3, k = 2, Nk = N * k, Mk = M * k;
    const char *spec = "dense(64,w_std=1.5,b_std=0.1),erf,dense(64,w_std=1.4,b_std=0.1),relu,"
                       "dense(2,w_std=1.2,b_std=0.1)";
    ntk_arch *arch = parse(spec);
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    ntk_error err;
    if (ntk_net_create(arch, d, NTK_PARAM_NTK, &net, &err) || ntk_net_init(net, 31, &err) ||
        ntk_linear_create(net, &lin, &err))
        fail_msg("%s", err.msg);
    double *x = rnd(N * d, 301, 1.0), *xt = rnd(M * d, 302, 1.0), *y = rnd(Nk, 303, 1.0);
    double *Th = malloc(Nk * Nk * sizeof *Th), *Tht = malloc(Mk * Nk * sizeof *Tht);
    double *f0 = malloc(Nk * sizeof *f0), *f0t = malloc(Mk * sizeof *f0t);
    if (ntk_empirical_ntk(net, x, N, NULL, 0, 1, Th, &err) || ntk_empirical_ntk(net, xt, M, x, N, 1, Tht, &err) ||
        ntk_net_apply(net, x, N, f0, 0, &err) || ntk_net_apply(net, xt, M, f0t, 0, &err))
        fail_msg("%s", err.msg);
    /* the structured Θ̂ is symmetric to rounding; the predictor reads the upper triangle */
    ntk_predict_opts o = ntk_predict_opts_default();
    o.discrete = 1;
    o.lr = (double)Nk / lam_max(Th, Nk); /* ηλmax/n = 1: stable */
    ntk_predictor *p = mkpred(Th, Nk, y, 1, f0, &o);
    const size_t steps[] = {1, 10, 100};
    double *u = malloc(Nk * sizeof *u), *f = malloc(Mk * sizeof *f), *ul = malloc(Nk * sizeof *ul),
           *fl = malloc(Mk * sizeof *fl);
    size_t done = 0;
    double worst = 0;
    for (size_t si = 0; si < 3; si++) {
        ntk_train_opts to = ntk_train_opts_default();
        to.lr = o.lr;
        to.steps = steps[si] - done;
        if (ntk_train_linear(lin, &to, x, y, N, NULL, &err)) fail_msg("ntk_train_linear: %s", err.msg);
        done = steps[si];
        if (ntk_linear_apply(lin, x, N, ul, &err) || ntk_linear_apply(lin, xt, M, fl, &err)) fail_msg("%s", err.msg);
        double t = (double)steps[si];
        pred(p, NULL, Nk, NULL, &t, 1, u);
        pred(p, Tht, Mk, f0t, &t, 1, f);
        double eu = tu_max_rel(u, ul, Nk), ef = tu_max_rel(f, fl, Mk);
        if (!(eu <= 1e-8 && ef <= 1e-8))
            fail_msg("linearized net, %zu steps: train %.3e test %.3e > 1e-8", steps[si], eu, ef);
        worst = fmax(worst, fmax(eu, ef));
    }
    /* the comparison can fail: the trained outputs moved far from f0 */
    assert_true(tu_max_rel(f0, ul, Nk) > 0.1);
    print_message("discrete prediction (full empirical NTK, %zu×%zu) vs trained linearized net (s = 1, 10, 100): "
                  "max rel error %.2e (tolerance 1e-8)\n", Nk, Nk, worst);
    free(u); free(f); free(ul); free(fl);
    free(x); free(xt); free(y); free(Th); free(Tht); free(f0); free(f0t);
    ntk_predictor_free(p);
    ntk_linear_free(lin);
    ntk_net_free(net);
    ntk_arch_free(arch);
}

/* ------------------------------------------------------------ 4. t = ∞ */

/* Kernel regression f0* + Θ*Θ⁻¹(y − f0) by the module (dpotrf/dpotrs)
 * vs dposv on a fresh copy: two backward-stable solves, so they differ by
 * ≲ N·ε·κ relative; tolerance 8·N·ε·κ (≈ 1e-10 for κ ~ 2e3). The training
 * points at t = ∞ are y (no ridge) up to one rounding of r + f0: 4ε. */
static void test_infinite_time(void **state)
{
    (void)state;
    const size_t N = 30, M = 7, d = 4, k = 3;
    problem P = make_problem(RELU2, N, M, d, 404);
    double kappa = cond(P.T, N), tol = 8.0 * (double)N * EPS * kappa;
    double *w = malloc(N * sizeof *w);
    eig(P.T, N, w, NULL);
    double *y = rnd(N * k, 41, 1.0), *f0 = rnd(N * k, 42, 0.5), *f0t = rnd(M * k, 43, 0.5);
    double *r = malloc(N * k * sizeof *r), *alpha = malloc(N * k * sizeof *r), *ref = malloc(M * k * sizeof *r);
    for (size_t i = 0; i < N * k; i++) r[i] = y[i] - f0[i];
    spd_solve(P.T, N, 0.0, r, k, alpha);
    mm(M, k, N, P.Tt, alpha, ref);
    for (size_t i = 0; i < M * k; i++) ref[i] += f0t[i];

    /* slowest rate η·λmin/n = 1e-6: e^{−ηλt/n} is ~1 at t = 1e3 for the
     * slow modes, e^{−1} at 1e6 and 0 (e^{−1000}) at 1e9 for all */
    ntk_predict_opts o = ntk_predict_opts_default();
    o.lr = 1e-6 * (double)(N * k) / w[0];
    ntk_predictor *p = mkpred(P.T, N, y, k, f0, &o);
    ntk_predict_info info;
    ntk_predictor_info(p, &info);
    assert_true(info.cholesky_ok);
    assert_true(info.jitter_added == 0 && info.ridge_added == 0);
    assert_true(fabs(info.lambda_min - w[0]) <= 8.0 * N * EPS * w[N - 1]);
    assert_true(fabs(info.lambda_max - w[N - 1]) <= 8.0 * N * EPS * w[N - 1]);
    const double times[] = {1e3, 1e6, 1e9, INFINITY};
    double *f = malloc(4 * M * k * sizeof *f), *u = malloc(4 * N * k * sizeof *u);
    pred(p, P.Tt, M, f0t, times, 4, f);
    pred(p, NULL, N, NULL, times, 4, u);
    double einf = tu_max_rel(f + 3 * M * k, ref, M * k), euinf = tu_max_rel(u + 3 * N * k, y, N * k);
    if (!(einf <= tol)) fail_msg("t = inf: %.3e > 8Nεκ = %.3e", einf, tol);
    if (!(euinf <= 4 * EPS)) fail_msg("t = inf, training points: %.3e ≠ y", euinf);
    double e[3], eu[3];
    for (int i = 0; i < 3; i++) {
        e[i] = tu_max_rel(f + i * M * k, ref, M * k);
        eu[i] = tu_max_rel(u + i * N * k, y, N * k);
    }
    print_message("t = inf vs dposv (κ = %.2e): %.2e (tolerance 8Nεκ = %.2e); training points vs y: %.1e\n", kappa,
                  einf, tol, euinf);
    print_message("  convergence, test error at t = 1e3, 1e6, 1e9: %.2e %.2e %.2e; training: %.2e %.2e %.2e\n", e[0],
                  e[1], e[2], eu[0], eu[1], eu[2]);
    assert_true(e[0] > e[1] && e[1] > e[2]);
    assert_true(eu[0] > eu[1] && eu[1] > eu[2]);
    assert_true(e[1] > 1e-3);            /* t = 1e6 is still visibly short of the limit */
    assert_true(e[2] <= tol && eu[2] <= 8.0 * N * EPS); /* t = 1e9 has converged (e^{-1000} = 0) */
    free(w); free(y); free(f0); free(f0t); free(r); free(alpha); free(ref); free(f); free(u);
    ntk_predictor_free(p);
    free_problem(&P);
}

/* An ill-conditioned but positive definite kernel, κ = 1e11 beyond the
 * 1/(20·N^2.5·ε) below which the predictor skips Cholesky: t = ∞ then goes
 * through the Cholesky factor, for the mean and for the covariance. Θ has
 * the eigenvectors of a ReLU NTK and eigenvalues 10^(−11·i/(N−1)). The
 * references solve with dposv; both sides' errors are ~N·ε·κ. */
static void test_infinite_time_cholesky_route(void **state)
{
    (void)state;
    const size_t N = 30, M = 5, d = 4, k = 2;
    problem P = make_problem(RELU2, N, M, d, 414);
    double *Q = malloc(N * N * sizeof *Q), *w = malloc(N * N * sizeof *w), *Th = calloc(N * N, sizeof *Th);
    eig(P.T, N, w, Q);
    for (size_t i = 0; i < N; i++) w[i] = pow(10.0, -11.0 * (double)i / (double)(N - 1));
    for (size_t i = 0; i < N; i++)
        for (size_t j = i; j < N; j++) {
            double a = 0;
            for (size_t l = 0; l < N; l++) a += Q[i * N + l] * w[l] * Q[j * N + l];
            Th[i * N + j] = Th[j * N + i] = a;
        }
    double kappa = cond(Th, N), nn = (double)N;
    assert_true(kappa > 1.0 / (20.0 * nn * nn * sqrt(nn) * EPS)); /* the Cholesky route, by construction */
    double tol = 8.0 * nn * EPS * kappa;
    double *y = rnd(N * k, 71, 1.0), *X = malloc(N * (M > k ? M : k) * sizeof *X);
    double *mean = malloc(M * k * sizeof *mean), *mref = malloc(M * k * sizeof *mref);
    ntk_predict_opts o = ntk_predict_opts_default();
    ntk_predictor *p = mkpred(Th, N, y, k, NULL, &o);
    ntk_predict_info info;
    ntk_predictor_info(p, &info);
    assert_true(info.cholesky_ok && info.jitter_added == 0);
    double tinf = INFINITY;
    pred(p, P.Tt, M, NULL, &tinf, 1, mean);
    spd_solve(Th, N, 0.0, y, k, X);
    mm(M, k, N, P.Tt, X, mref);
    double em = tu_max_rel(mean, mref, M * k);
    /* the GP posterior with Θ = K: Ktt − Kt·Θ⁻¹·Ktᵀ */
    double *KtT = malloc(N * M * sizeof *KtT), *cov = malloc(M * M * sizeof *cov), *ref = malloc(M * M * sizeof *ref);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) KtT[j * M + i] = P.Tt[i * N + j];
    spd_solve(Th, N, 0.0, KtT, M, X);
    mm(M, M, N, P.Tt, X, ref);
    for (size_t i = 0; i < M * M; i++) ref[i] = P.Ttt[i] - ref[i];
    pcov(p, P.Tt, M, Th, P.Tt, P.Ttt, 0, INFINITY, cov);
    double scale = 0, ec = 0;
    for (size_t i = 0; i < M * M; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < M * M; i++) ec = fmax(ec, fabs(cov[i] - ref[i]) / scale);
    print_message("t = inf by Cholesky (κ = %.2e): mean %.2e, posterior covariance %.2e vs dposv (tolerance 8Nεκ = "
                  "%.2e)\n",
                  kappa, em, ec, tol);
    if (!(em <= tol && ec <= tol)) fail_msg("Cholesky route: mean %.3e cov %.3e > %.3e", em, ec, tol);
    free(Q); free(w); free(Th); free(y); free(X); free(mean); free(mref); free(KtT); free(cov); free(ref);
    ntk_predictor_free(p);
    free_problem(&P);
}

/* ------------------------------------------------------------ 5. ridge */

static void test_ridge(void **state)
{
    (void)state;
    const size_t N = 25, M = 6, d = 3, k = 3;
    problem P = make_problem(ERF1, N, M, d, 505);
    double *y = rnd(N * k, 51, 1.0), *f0 = rnd(N * k, 52, 0.5), *f0t = rnd(M * k, 53, 0.5);
    const double rr = 0.05;
    /* (a) relative ridge r = absolute ridge r·tr(Θ)/N: the same double
     * (trace summed in the same order), so the same bits everywhere */
    ntk_predict_opts orel = ntk_predict_opts_default(), oabs = orel;
    orel.ridge = rr;
    oabs.ridge = rr * trace(P.T, N) / (double)N;
    oabs.ridge_mode = NTK_RIDGE_ABSOLUTE;
    const double rho = oabs.ridge;
    ntk_predictor *prel = mkpred(P.T, N, y, k, f0, &orel), *pabs = mkpred(P.T, N, y, k, f0, &oabs);
    ntk_predict_info ir, ia;
    ntk_predictor_info(prel, &ir);
    ntk_predictor_info(pabs, &ia);
    assert_true(ir.ridge_added == rho && ia.ridge_added == rho);
    assert_true(ir.jitter_added == 0 && ir.cholesky_ok);
    const double times[] = {0, 1, 10, 1e3, INFINITY};
    double *a = malloc(5 * M * k * sizeof *a), *b = malloc(5 * M * k * sizeof *b);
    double *ua = malloc(5 * N * k * sizeof *a), *ub = malloc(5 * N * k * sizeof *b);
    pred(prel, P.Tt, M, f0t, times, 5, a);
    pred(pabs, P.Tt, M, f0t, times, 5, b);
    assert_memory_equal(a, b, 5 * M * k * sizeof *a);
    pred(prel, NULL, N, NULL, times, 5, ua);
    pred(pabs, NULL, N, NULL, times, 5, ub);
    assert_memory_equal(ua, ub, 5 * N * k * sizeof *a);

    /* (b) t = ∞: f0* + Θ*(Θ + ρI)⁻¹(y − f0); (c) training points:
     * f0 + Θ(Θ + ρI)⁻¹(y − f0) (the kernel machine's function, not y).
     * Solve-vs-solve: tolerance 8·N·ε·κ(Θ + ρI). */
    double *Treg = dup(P.T, N * N);
    for (size_t i = 0; i < N; i++) Treg[i * N + i] += rho;
    double kappa = cond(Treg, N), tol = 8.0 * (double)N * EPS * kappa;
    double *r = malloc(N * k * sizeof *r), *alpha = malloc(N * k * sizeof *r);
    double *ref = malloc(M * k * sizeof *r), *uref = malloc(N * k * sizeof *r);
    for (size_t i = 0; i < N * k; i++) r[i] = y[i] - f0[i];
    spd_solve(P.T, N, rho, r, k, alpha);
    mm(M, k, N, P.Tt, alpha, ref);
    mm(N, k, N, P.T, alpha, uref);
    for (size_t i = 0; i < M * k; i++) ref[i] += f0t[i];
    for (size_t i = 0; i < N * k; i++) uref[i] += f0[i];
    double e = tu_max_rel(a + 4 * M * k, ref, M * k), eu = tu_max_rel(ua + 4 * N * k, uref, N * k);
    if (!(e <= tol && eu <= tol)) fail_msg("ridge, t = inf: test %.3e train %.3e > %.3e", e, eu, tol);
    /* the ridge matters: the training points are visibly not y */
    assert_true(tu_max_rel(ua + 4 * N * k, y, N * k) > 1e-3);

    /* (d) the eigen path at a time where every mode has converged
     * (η·ρ·t/n ≥ 1000, e^{−1000} = 0) equals the Cholesky path */
    double tbig = 1000.0 * (double)(N * k) / (orel.lr * rho);
    double *fb = malloc(M * k * sizeof *fb), *ubig = malloc(N * k * sizeof *ubig);
    pred(prel, P.Tt, M, f0t, &tbig, 1, fb);
    pred(prel, NULL, N, NULL, &tbig, 1, ubig);
    double e2 = tu_max_rel(fb, a + 4 * M * k, M * k), eu2 = tu_max_rel(ubig, ua + 4 * N * k, N * k);
    if (!(e2 <= tol && eu2 <= tol))
        fail_msg("ridge: t = %.3g vs t = inf: test %.3e train %.3e > %.3e", tbig, e2, eu2, tol);
    print_message("ridge (relative %.2f = absolute %.4g, bitwise equal); t = inf vs dposv: test %.2e, train %.2e; "
                  "converged finite t vs inf: %.2e %.2e (tolerance 8Nεκ = %.2e)\n", rr, rho, e, eu, e2, eu2, tol);
    free(a); free(b); free(ua); free(ub); free(Treg); free(r); free(alpha); free(ref); free(uref); free(fb);
    free(ubig); free(y); free(f0); free(f0t);
    ntk_predictor_free(prel);
    ntk_predictor_free(pabs);
    free_problem(&P);
}

/* ------------------------------------------------------------ 6. GP inference */

/* max |A − Aᵀ| / max|A|, and λmin(A)/max|A| (for PSD checks). */
static void sym_psd(const double *A, size_t M, double *asym, double *lmin_rel)
{
    double mx = 0, as = 0;
    for (size_t i = 0; i < M * M; i++) mx = fmax(mx, fabs(A[i]));
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < M; j++) as = fmax(as, fabs(A[i * M + j] - A[j * M + i]));
    double *w = malloc(M * sizeof *w);
    eig(A, M, w, NULL);
    *asym = as / mx;
    *lmin_rel = w[0] / mx;
    free(w);
}

/* cov = Ktt − T·Ktᵀ − Kt·Tᵀ + T·(K + add·I)·Tᵀ, plain loops. */
static void cov_formula(const double *Tm, const double *K, double add, const double *Kt, const double *Ktt, size_t N,
                        size_t M, double *cov)
{
    double *Kr = dup(K, N * N), *B = malloc(M * N * sizeof *B), *C1 = malloc(M * M * sizeof *B),
           *C2 = malloc(M * M * sizeof *B);
    for (size_t i = 0; i < N; i++) Kr[i * N + i] += add;
    mm(M, N, N, Tm, Kr, B);
    mm_t(M, M, N, B, Tm, C2);
    mm_t(M, M, N, Tm, Kt, C1);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < M; j++)
            cov[i * M + j] = Ktt[i * M + j] - C1[i * M + j] - C1[j * M + i] + C2[i * M + j];
    free(Kr); free(B); free(C1); free(C2);
}

static void test_gp_inference(void **state)
{
    (void)state;
    const size_t N = 15, M = 5, d = 3, k = 2;
    problem P = make_problem(ERF1, N, M, d, 606);
    double *y = rnd(N * k, 61, 1.0);
    double *cov = malloc(M * M * sizeof *cov), *ref = malloc(M * M * sizeof *ref), *dg = malloc(M * sizeof *dg);
    double *X = malloc(N * N * sizeof *X), *Tm = malloc(M * N * sizeof *Tm);
    double *mean = malloc(M * k * sizeof *mean), *mref = malloc(M * k * sizeof *mref);
    double asym, lmin;

    /* (a) NNGP posterior, noise-free and with noise ρ (absolute ridge):
     * mean K*(K+ρ)⁻¹y, cov K** − K*(K+ρ)⁻¹K*ᵀ. Solve-vs-solve: 8·N·ε·κ(K),
     * relative to max|K**| for the covariance (its first-order error in T
     * cancels, so this is generous). */
    double kapK = cond(P.K, N), tolK = 8.0 * (double)N * EPS * kapK;
    double worst_post = 0;
    for (int noisy = 0; noisy < 2; noisy++) {
        ntk_predict_opts o = ntk_predict_opts_default();
        double rho = noisy ? 0.01 : 0.0;
        o.ridge = rho;
        o.ridge_mode = NTK_RIDGE_ABSOLUTE;
        ntk_predictor *p = mkpred(P.K, N, y, k, NULL, &o);
        double tinf = INFINITY;
        pred(p, P.Kt, M, NULL, &tinf, 1, mean);
        spd_solve(P.K, N, rho, y, k, X);
        mm(M, k, N, P.Kt, X, mref);
        double em = tu_max_rel(mean, mref, M * k);
        /* X = (K+ρ)⁻¹K*ᵀ (N×M) */
        double *KtT = malloc(N * M * sizeof *KtT);
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) KtT[j * M + i] = P.Kt[i * N + j];
        spd_solve(P.K, N, rho, KtT, M, X);
        mm(M, M, N, P.Kt, X, ref);
        for (size_t i = 0; i < M * M; i++) ref[i] = P.Ktt[i] - ref[i];
        pcov(p, P.Kt, M, P.K, P.Kt, P.Ktt, 0, INFINITY, cov);
        double scale = 0, ec = 0;
        for (size_t i = 0; i < M * M; i++) scale = fmax(scale, fabs(P.Ktt[i]));
        for (size_t i = 0; i < M * M; i++) ec = fmax(ec, fabs(cov[i] - ref[i]) / scale);
        double mdiag[8], rdiag[8];
        for (size_t i = 0; i < M; i++) { mdiag[i] = P.Ktt[i * M + i]; rdiag[i] = ref[i * M + i]; }
        pcov(p, P.Kt, M, P.K, P.Kt, mdiag, 1, INFINITY, dg);
        double ed = 0;
        for (size_t i = 0; i < M; i++) ed = fmax(ed, fabs(dg[i] - rdiag[i]) / scale);
        if (!(em <= tolK && ec <= tolK && ed <= tolK))
            fail_msg("NNGP posterior (ρ=%g): mean %.3e cov %.3e diag %.3e > 8Nεκ = %.3e", rho, em, ec, ed, tolK);
        sym_psd(cov, M, &asym, &lmin);
        assert_true(asym <= 4 * N * EPS && lmin >= -tolK);
        /* the posterior shrank the prior variance (the test can tell them apart) */
        for (size_t i = 0; i < M; i++) assert_true(dg[i] < mdiag[i] && dg[i] >= -tolK * scale);
        worst_post = fmax(worst_post, fmax(em, fmax(ec, ed)));
        free(KtT);
        ntk_predictor_free(p);
    }

    /* (b) NTK ensemble at finite t: T = Θ*·Θ⁻¹(I − exp(−(ηt/n)Θ)) densely,
     * exp by dsyev (Q diag(e^{−ηtλ/n}) Qᵀ), Θ⁻¹ by dposv; mean T·y, cov of
     * math.md. I − E has absolute error ~N·ε, amplified by Θ⁻¹ to ≲ N·ε·κ
     * of ‖T‖: tolerance 16·N·ε·κ(Θ). t = 0 gives K** bitwise. */
    double kapT = cond(P.T, N), tolT = 16.0 * (double)N * EPS * kapT;
    ntk_predict_opts o = ntk_predict_opts_default();
    double n = (double)(N * k);
    o.lr = n / lam_max(P.T, N);
    ntk_predictor *p = mkpred(P.T, N, y, k, NULL, &o);
    double *w = malloc(N * sizeof *w), *Q = malloc(N * N * sizeof *Q), *E = malloc(N * N * sizeof *E),
           *QD = malloc(N * N * sizeof *QD), *S = malloc(N * N * sizeof *S);
    eig(P.T, N, w, Q);
    const double times[] = {0.0, 0.5, 5.0, 50.0, INFINITY};
    double worst_ens = 0, worst_asym = 0, worst_lmin = INFINITY;
    for (size_t ti = 0; ti < 5; ti++) {
        double t = times[ti];
        if (isinf(t)) {
            for (size_t i = 0; i < N * N; i++) S[i] = 0;
            for (size_t i = 0; i < N; i++) S[i * N + i] = 1;
        } else {
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < N; j++) QD[i * N + j] = Q[i * N + j] * exp(-o.lr * t * w[j] / n);
            mm_t(N, N, N, QD, Q, E);
            for (size_t i = 0; i < N * N; i++) S[i] = (i % (N + 1) == 0 ? 1.0 : 0.0) - E[i];
        }
        spd_solve(P.T, N, 0.0, S, N, X); /* Θ⁻¹(I − E) */
        mm(M, N, N, P.Tt, X, Tm);
        mm(M, k, N, Tm, y, mref);
        cov_formula(Tm, P.K, 0.0, P.Kt, P.Ktt, N, M, ref);
        pred(p, P.Tt, M, NULL, &t, 1, mean);
        pcov(p, P.Tt, M, P.K, P.Kt, P.Ktt, 0, t, cov);
        if (t == 0) {
            assert_memory_equal(cov, P.Ktt, M * M * sizeof *cov);
            for (size_t i = 0; i < M * k; i++) assert_true(mean[i] == 0);
            continue;
        }
        double scale = 0, ec = 0;
        for (size_t i = 0; i < M * M; i++) scale = fmax(scale, fabs(P.Ktt[i]));
        for (size_t i = 0; i < M * M; i++) ec = fmax(ec, fabs(cov[i] - ref[i]) / scale);
        double em = tu_max_rel(mean, mref, M * k);
        double mdiag[8];
        for (size_t i = 0; i < M; i++) mdiag[i] = P.Ktt[i * M + i];
        pcov(p, P.Tt, M, P.K, P.Kt, mdiag, 1, t, dg);
        double ed = 0;
        for (size_t i = 0; i < M; i++) ed = fmax(ed, fabs(dg[i] - cov[i * M + i]) / scale);
        if (!(em <= tolT && ec <= tolT && ed <= 4 * N * EPS))
            fail_msg("NTK ensemble t=%g: mean %.3e cov %.3e (tol %.3e), diag_only vs full %.3e", t, em, ec, tolT, ed);
        sym_psd(cov, M, &asym, &lmin);
        if (!(asym <= 4 * N * EPS && lmin >= -tolT))
            fail_msg("NTK ensemble t=%g: asymmetry %.3e, λmin/max|cov| %.3e", t, asym, lmin);
        for (size_t i = 0; i < M; i++) assert_true(dg[i] >= -tolT * scale);
        worst_ens = fmax(worst_ens, fmax(em, ec));
        worst_asym = fmax(worst_asym, asym);
        worst_lmin = fmin(worst_lmin, lmin);
    }
    print_message("NNGP posterior vs dposv (κ(K) = %.2e): max rel error %.2e (tolerance %.2e)\n", kapK, worst_post,
                  tolK);
    print_message("NTK ensemble mean/cov vs dense expm formula (κ(Θ) = %.2e): %.2e (tolerance %.2e); "
                  "asymmetry %.1e, min eigenvalue/max|cov| %.1e\n", kapT, worst_ens, tolT, worst_asym, worst_lmin);
    free(w); free(Q); free(E); free(QD); free(S);
    ntk_predictor_free(p);
    free(y); free(cov); free(ref); free(dg); free(X); free(Tm); free(mean); free(mref);
    free_problem(&P);
}

/* ------------------------------------------------------------ 7. Monte Carlo ensemble */

/* R networks "dense(512,w_std=1.5,b_std=0.2),erf,dense(1,…)" ('ntk'
 * parameterization, 2049 parameters), N = 8 training points in d = 2,
 * M = 4 test points, each network initialised with its own seed and
 * trained by full-batch GD (ntk_train) for s = 20 steps with
 * η = n/λmax(Θ); vs the infinite-ensemble mean and variance at t = s
 * (discrete mode: the same GD steps) from the analytic NTK/NNGP.
 * Tolerance per test point, with σ² the predicted variance:
 *   |mean_MC − mean| ≤ 4·σ/√R + c_m/width,
 *   |var_MC − var|   ≤ 4·σ²·√(2/(R−1)) + c_v/width
 * (the MC standard errors of a Gaussian sample's mean and unbiased
 * variance; 4 of them: under the null each of the 8 statistics exceeds
 * that with probability 6e-5). The finite-width bias is O(1/width): the
 * NTK fluctuates by O(1/√width) around Θ and moves by O(1/√width) in
 * training, both entering the mean and variance at second order. Its
 * constant, measured for this setup with 8192 networks: |Δmean|·width
 * ≈ 1.6 and |Δvar|·width ≈ 0.4 at widths 64 and 256 (the products agree
 * between the widths, confirming the 1/width scaling). c_m = 4 and
 * c_v = 2 are 2.5× and 5× that: at width 512 they add 0.008 and 0.004,
 * below the MC terms. With R = 1024 the test still has the power to
 * reject the ensemble at t = 0 (prior) and t = ∞, which is checked. */
#define MC_CM 4.0
#define MC_CV 2.0

static void test_monte_carlo_ensemble(void **state)
{
    (void)state;
    const size_t N = 8, M = 4, d = 2, R = 1024, width = 512, steps = 20;
    /* the networks are tiny (8 rows): one thread each is fastest, and
     * keeps the run time independent of the machine's load */
#ifdef _OPENMP
    int omp_before = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    int blas_before = openblas_get_num_threads();
    openblas_set_num_threads(1);
    clock_t c0 = clock();

    char spec[256];
    snprintf(spec, sizeof spec, "dense(%zu,w_std=1.5,b_std=0.2),erf,dense(1,w_std=1.5,b_std=0.2)", width);
    problem P = make_problem(spec, N, M, d, 707);
    double y[8];
    for (size_t i = 0; i < N; i++) y[i] = sin(1.5 * P.x[i * d]) + 0.5 * cos(P.x[i * d + 1]);
    ntk_predict_opts o = ntk_predict_opts_default();
    o.discrete = 1;
    o.lr = (double)N / lam_max(P.T, N); /* ηλmax/n = 1: stable, the top mode fits in one step */
    ntk_predictor *p = mkpred(P.T, N, y, 1, NULL, &o);
    double t = (double)steps, tinf = INFINITY, mean[4], var[4], tt[4], mean_inf[4], var_inf[4];
    for (size_t i = 0; i < M; i++) tt[i] = P.Ktt[i * M + i];
    pred(p, P.Tt, M, NULL, &t, 1, mean);
    pcov(p, P.Tt, M, P.K, P.Kt, tt, 1, t, var);
    pred(p, P.Tt, M, NULL, &tinf, 1, mean_inf);
    pcov(p, P.Tt, M, P.K, P.Kt, tt, 1, tinf, var_inf);

    ntk_arch *arch = parse(spec);
    ntk_net *net = NULL;
    ntk_error err;
    if (ntk_net_create(arch, d, NTK_PARAM_NTK, &net, &err)) fail_msg("%s", err.msg);
    double *f = malloc(R * M * sizeof *f);
    ntk_train_opts to = ntk_train_opts_default();
    to.lr = o.lr;
    to.steps = steps;
    to.threads = 1;
    for (size_t r = 0; r < R; r++) {
        if (ntk_net_init(net, 5000 + r, &err) || ntk_train(net, &to, P.x, y, N, NULL, &err) ||
            ntk_net_apply(net, P.xt, M, f + r * M, 1, &err))
            fail_msg("network %zu: %s", r, err.msg);
    }
    double worst_m = 0, worst_v = 0;
    int prior_rejected = 0, inf_rejected = 0;
    for (size_t m = 0; m < M; m++) {
        double mu = 0, v = 0;
        for (size_t r = 0; r < R; r++) mu += f[r * M + m];
        mu /= (double)R;
        for (size_t r = 0; r < R; r++) v += (f[r * M + m] - mu) * (f[r * M + m] - mu);
        v /= (double)(R - 1);
        double se_m = sqrt(var[m] / (double)R), se_v = var[m] * sqrt(2.0 / (double)(R - 1));
        double tol_m = 4.0 * se_m + MC_CM / (double)width, tol_v = 4.0 * se_v + MC_CV / (double)width;
        double em = fabs(mu - mean[m]), ev = fabs(v - var[m]);
        print_message("  x*_%zu: mean MC %+.4f vs %+.4f (|Δ| %.4f, tol %.4f; t=0: 0, t=inf: %+.4f); "
                      "var MC %.4f vs %.4f (|Δ| %.4f, tol %.4f; t=0: %.4f, t=inf: %.4f)\n",
                      m, mu, mean[m], em, tol_m, mean_inf[m], v, var[m], ev, tol_v, tt[m], var_inf[m]);
        if (!(em <= tol_m && ev <= tol_v))
            fail_msg("test point %zu: MC mean %.5f vs %.5f (tol %.5f), MC variance %.5f vs %.5f (tol %.5f)", m, mu,
                     mean[m], tol_m, v, var[m], tol_v);
        worst_m = fmax(worst_m, em / se_m);
        worst_v = fmax(worst_v, ev / se_v);
        /* power: the prior (t = 0: mean 0, variance K**) and the t = ∞
         * ensemble lie beyond twice the tolerance somewhere */
        prior_rejected |= fabs(mean[m]) > 2 * tol_m || fabs(tt[m] - var[m]) > 2 * tol_v;
        inf_rejected |= fabs(mean_inf[m] - mean[m]) > 2 * tol_m || fabs(var_inf[m] - var[m]) > 2 * tol_v;
    }
    assert_true(prior_rejected && inf_rejected);
    print_message("Monte Carlo ensemble (%zu nets, width %zu, %zu GD steps): worst |Δmean| = %.2f standard errors, "
                  "worst |Δvar| = %.2f standard errors (%.1f s CPU)\n", R, width, steps, worst_m, worst_v,
                  (double)(clock() - c0) / CLOCKS_PER_SEC);
    free(f);
    ntk_net_free(net);
    ntk_arch_free(arch);
    ntk_predictor_free(p);
    free_problem(&P);
#ifdef _OPENMP
    omp_set_num_threads(omp_before);
#endif
    openblas_set_num_threads(blas_before);
}

/* ------------------------------------------------------------ 8. errors */

#define EXPECT(call, code, text)                                                                              \
    do {                                                                                                      \
        memset(&err, 0, sizeof err);                                                                          \
        ntk_status s_ = (call);                                                                               \
        if (s_ != (code)) fail_msg("%s: status %d, expected %d (%s)", #call, (int)s_, (int)(code), err.msg);  \
        if ((text) && !strstr(err.msg, (text))) fail_msg("%s: message '%s' lacks '%s'", #call, err.msg, (text)); \
    } while (0)

static void test_errors(void **state)
{
    (void)state;
    const size_t N = 10, M = 3, d = 2, k = 2;
    problem P = make_problem(ERF1, N, M, d, 808);
    double *y = rnd(N * k, 81, 1.0), *f0 = rnd(N * k, 82, 1.0), *f0t = rnd(M * k, 83, 1.0);
    double out[64], cov[16], t1 = 1.0;
    ntk_error err;
    ntk_predictor *p = (ntk_predictor *)&err; /* must be reset to NULL on failure */
    ntk_predict_opts o = ntk_predict_opts_default();

    /* sizes */
    EXPECT(ntk_predictor_create(P.T, 0, y, k, NULL, &o, &p, &err), NTK_E_SHAPE, "empty");
    assert_null(p);
    EXPECT(ntk_predictor_create(P.T, N, y, 0, NULL, &o, &p, &err), NTK_E_SHAPE, "empty");
    EXPECT(ntk_predictor_create(NULL, N, y, k, NULL, &o, &p, &err), NTK_E_SHAPE, NULL);
    EXPECT(ntk_predictor_create(P.T, N, NULL, k, NULL, &o, &p, &err), NTK_E_SHAPE, NULL);
    p = mkpred(P.T, N, y, k, f0, &o);
    /* no kxt means the N training points: M must say so */
    EXPECT(ntk_predict(p, NULL, M, NULL, &t1, 1, out, &err), NTK_E_SHAPE, "10 training points, but M = 3");
    EXPECT(ntk_predict(p, P.Tt, 0, NULL, &t1, 1, out, &err), NTK_E_SHAPE, "no test points");
    EXPECT(ntk_predict_cov(p, P.Tt, 0, P.K, P.Kt, P.Ktt, 0, 1.0, cov, &err), NTK_E_SHAPE, "no test points");
    EXPECT(ntk_predict_cov(p, P.Tt, M, P.K, NULL, P.Ktt, 0, 1.0, cov, &err), NTK_E_INVAL, "missing");

    /* times */
    double bad[] = {1.0, -0.5};
    EXPECT(ntk_predict(p, P.Tt, M, f0t, bad, 2, out, &err), NTK_E_INVAL, "time -0.5");
    bad[1] = NAN;
    EXPECT(ntk_predict(p, NULL, N, NULL, bad, 2, out, &err), NTK_E_INVAL, ">= 0");
    EXPECT(ntk_predict_cov(p, P.Tt, M, P.K, P.Kt, P.Ktt, 0, -1.0, cov, &err), NTK_E_INVAL, "time -1");
    ntk_predictor_free(p);
    o.discrete = 1;
    p = mkpred(P.T, N, y, k, f0, &o);
    double frac[] = {3.0, 2.5};
    EXPECT(ntk_predict(p, P.Tt, M, f0t, frac, 2, out, &err), NTK_E_INVAL, "whole steps");
    EXPECT(ntk_predict_cov(p, P.Tt, M, P.K, P.Kt, P.Ktt, 0, 0.5, cov, &err), NTK_E_INVAL, "whole steps");
    double ok_times[] = {3.0, INFINITY};
    EXPECT(ntk_predict(p, P.Tt, M, f0t, ok_times, 2, out, &err), NTK_OK, NULL);
    ntk_predictor_free(p);
    o.discrete = 0;

    /* options */
    const double bad_lr[] = {0.0, -1.0, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        ntk_predict_opts ob = o;
        ob.lr = bad_lr[i];
        EXPECT(ntk_predictor_create(P.T, N, y, k, NULL, &ob, &p, &err), NTK_E_INVAL, "learning rate");
        assert_null(p);
    }
    ntk_predict_opts ob = o;
    ob.ridge = -0.1;
    EXPECT(ntk_predictor_create(P.T, N, y, k, NULL, &ob, &p, &err), NTK_E_INVAL, "ridge");
    ob.ridge = NAN;
    EXPECT(ntk_predictor_create(P.T, N, y, k, NULL, &ob, &p, &err), NTK_E_INVAL, "ridge");

    /* non-finite inputs, named with their 1-based row and column */
    double *Tb = dup(P.T, N * N), *yb = dup(y, N * k);
    Tb[1 * N + 2] = NAN;
    EXPECT(ntk_predictor_create(Tb, N, y, k, NULL, &o, &p, &err), NTK_E_NUMERIC, "training kernel: row 2, column 3");
    yb[3 * k + 1] = NAN;
    EXPECT(ntk_predictor_create(P.T, N, yb, k, NULL, &o, &p, &err), NTK_E_NUMERIC, "targets: row 4, column 2");
    EXPECT(ntk_predictor_create(P.T, N, y, k, yb, &o, &p, &err), NTK_E_NUMERIC, "initial outputs: row 4, column 2");
    assert_null(p);
    p = mkpred(P.T, N, y, k, f0, &o);
    double *Ttb = dup(P.Tt, M * N), *f0tb = dup(f0t, M * k), *Kb = dup(P.K, N * N), *Kttb = dup(P.Ktt, M * M);
    Ttb[2 * N + 4] = INFINITY;
    EXPECT(ntk_predict(p, Ttb, M, f0t, &t1, 1, out, &err), NTK_E_NUMERIC, "test-train kernel: row 3, column 5");
    f0tb[1 * k] = NAN;
    EXPECT(ntk_predict(p, P.Tt, M, f0tb, &t1, 1, out, &err), NTK_E_NUMERIC, "initial test outputs: row 2, column 1");
    Kb[5 * N + 5] = NAN;
    EXPECT(ntk_predict_cov(p, P.Tt, M, Kb, P.Kt, P.Ktt, 0, 1.0, cov, &err), NTK_E_NUMERIC,
           "train NNGP: row 6, column 6");
    Kttb[1 * M + 2] = NAN;
    EXPECT(ntk_predict_cov(p, P.Tt, M, P.K, P.Kt, Kttb, 0, 1.0, cov, &err), NTK_E_NUMERIC,
           "test NNGP: row 2, column 3");
    EXPECT(ntk_predict_cov(p, P.Tt, M, P.K, P.Kt, Kttb, 1, 1.0, cov, &err), NTK_OK, NULL); /* only Kttb[0..M) read */
    ntk_predictor_free(p);

    /* a symmetric matrix with eigenvalue −0.5 (the others 1..N−1): refused,
     * naming the smallest eigenvalue, with and without auto_jitter (the
     * jitter, ≤ 1e-1·tr/N relative, cannot lift −0.5) */
    double *Q = malloc(N * N * sizeof *Q), *w = malloc(N * N * sizeof *w), *A = malloc(N * N * sizeof *A);
    eig(P.T, N, w, Q);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t l = 0; l < N; l++) s += Q[i * N + l] * (l == 0 ? -0.5 : (double)l) * Q[j * N + l];
            A[i * N + j] = s;
        }
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < i; j++) A[i * N + j] = A[j * N + i];
    for (int aj = 0; aj < 2; aj++) {
        ntk_predict_opts on = o;
        on.auto_jitter = aj;
        EXPECT(ntk_predictor_create(A, N, y, k, NULL, &on, &p, &err), NTK_E_NUMERIC, "smallest eigenvalue -0.5");
        assert_non_null(strstr(err.msg, "not positive semidefinite"));
        assert_null(p);
    }

    /* An exactly singular kernel: a bias-free ReLU net and a training point
     * at the origin give a zero row and column, so dpotrf meets a zero
     * pivot whatever the rounding. Finite t works; t = ∞ is refused with a
     * hint; auto_jitter then adds the smallest jitter 10ε·tr/N. */
    {
        const char *spec = "dense(32,w_std=1.5),relu,dense(32,w_std=1.5),relu,dense(1,w_std=1.5)";
        const size_t n1 = 12, ms = 4, z = 5;
        double *x = rnd(n1 * d, 84, 1.0), *xt = rnd(ms * d, 85, 1.0), *ys = rnd(n1, 86, 1.0);
        x[z * d] = x[z * d + 1] = 0;
        double *T = malloc(n1 * n1 * sizeof *T), *Tt = malloc(ms * n1 * sizeof *Tt);
        ntk_arch *arch = parse(spec);
        ntk_kernel_opts ko = ntk_kernel_opts_default();
        if (ntk_kernel(arch, &ko, x, n1, NULL, 0, d, NULL, T, &err) ||
            ntk_kernel(arch, &ko, xt, ms, x, n1, d, NULL, Tt, &err))
            fail_msg("%s", err.msg);
        for (size_t j = 0; j < n1; j++) assert_true(T[z * n1 + j] == 0 && T[j * n1 + z] == 0);
        for (size_t i = 0; i < ms; i++) assert_true(Tt[i * n1 + z] == 0);
        double tinf = INFINITY, ts[] = {1.0, INFINITY}, fo[32];
        p = mkpred(T, n1, ys, 1, NULL, &o);
        ntk_predict_info info;
        ntk_predictor_info(p, &info);
        assert_false(info.cholesky_ok);
        EXPECT(ntk_predict(p, Tt, ms, NULL, &t1, 1, fo, &err), NTK_OK, NULL);
        EXPECT(ntk_predict(p, Tt, ms, NULL, ts, 2, fo, &err), NTK_E_NUMERIC, "add a ridge or allow jitter");
        EXPECT(ntk_predict(p, NULL, n1, NULL, &tinf, 1, fo, &err), NTK_E_NUMERIC, "singular");
        EXPECT(ntk_predict_cov(p, Tt, ms, T, Tt, P.Ktt, 0, INFINITY, cov, &err), NTK_E_NUMERIC, "jitter");
        ntk_predictor_free(p);

        ntk_predict_opts oj = o;
        oj.auto_jitter = 1;
        p = mkpred(T, n1, ys, 1, NULL, &oj);
        ntk_predictor_info(p, &info);
        double tr = trace(T, n1), j1 = DBL_EPSILON * tr / (double)n1 * 10.0;
        assert_true(info.cholesky_ok && info.jitter_added > 0 && info.ridge_added == info.jitter_added);
        if (!(fabs(info.jitter_added - j1) <= 4 * EPS * j1))
            fail_msg("jitter %.6g, expected the smallest step 10ε·tr/N = %.6g", info.jitter_added, j1);
        pred(p, Tt, ms, NULL, &tinf, 1, fo);
        /* the origin's row decouples: the other n1 − 1 points' kernel
         * regression with the same jitter, solve-vs-solve 8·N·ε·κ */
        size_t n2 = n1 - 1;
        double *T2 = malloc(n2 * n2 * sizeof *T2), *Tt2 = malloc(ms * n2 * sizeof *Tt2), y2[16], a2[16], ref[8];
        for (size_t i = 0, ii = 0; i < n1; i++) {
            if (i == z) continue;
            y2[ii] = ys[i];
            for (size_t j = 0, jj = 0; j < n1; j++)
                if (j != z) T2[ii * n2 + jj++] = T[i * n1 + j];
            ii++;
        }
        for (size_t m = 0; m < ms; m++)
            for (size_t j = 0, jj = 0; j < n1; j++)
                if (j != z) Tt2[m * n2 + jj++] = Tt[m * n1 + j];
        spd_solve(T2, n2, info.jitter_added, y2, 1, a2);
        mm(ms, 1, n2, Tt2, a2, ref);
        double tol = 8.0 * (double)n2 * EPS * cond(T2, n2), e = tu_max_rel(fo, ref, ms);
        if (!(e <= tol)) fail_msg("jittered t = inf: %.3e > %.3e", e, tol);
        /* training points at ∞: Θ(Θ + jI)⁻¹y, computed as y − j·α: the
         * origin's α_z = y_z/j (dpotrs: two divisions by √j), so u_z = 0
         * up to ~4ε·|y_z| */
        double fo_all[16];
        pred(p, NULL, n1, NULL, &tinf, 1, fo_all);
        if (!(fabs(fo_all[z]) <= 8 * EPS * fabs(ys[z]))) fail_msg("origin at t = inf: %.3e, not 0", fo_all[z]);
        print_message("errors: non-PSD and singular kernels refused; auto_jitter added %.3g (= 10ε·tr/N), "
                      "t = inf then matches the decoupled solve to %.2e (tolerance %.2e)\n",
                      info.jitter_added, e, tol);
        free(T2); free(Tt2);
        ntk_predictor_free(p);
        ntk_arch_free(arch);
        free(x); free(xt); free(ys); free(T); free(Tt);
    }
    free(Q); free(w); free(A);
    free(Tb); free(yb); free(Ttb); free(f0tb); free(Kb); free(Kttb);
    free(y); free(f0); free(f0t);
    free_problem(&P);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_vs_rk4),
        cmocka_unit_test(test_flow_small_t_and_singular),
        cmocka_unit_test(test_discrete_vs_iteration),
        cmocka_unit_test(test_vs_linearized_network),
        cmocka_unit_test(test_infinite_time),
        cmocka_unit_test(test_infinite_time_cholesky_route),
        cmocka_unit_test(test_ridge),
        cmocka_unit_test(test_gp_inference),
        cmocka_unit_test(test_monte_carlo_ensemble),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
