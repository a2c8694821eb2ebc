/*
 * test_select.c — model selection from one eigendecomposition
 * (src/predict/select.c; include/ntk.h, "model selection"), each criterion
 * against an independent brute-force computation:
 *   1. leave-one-out residuals vs N refits, each reduced (N−1)-point system
 *      (K_RR + ρI)·X = Y_R solved directly by LAPACK (dposv), e_i = y_i −
 *      K_iR·X;
 *   2. k-fold CV residuals vs refits on every fold's complement (shuffled
 *      folds from ntk_select_folds, contiguous folds, uneven sizes);
 *   3. the log marginal likelihood vs a direct Cholesky computation
 *      (log|G| = 2·Σ log L_ii, yᵀG⁻¹y = ‖L⁻¹y‖²), and the scale-fitted one
 *      vs the direct likelihood of σ̂²·G, which must be a maximum over σ²;
 *   on random PSD kernels of chosen condition numbers and on real NTK /
 *   NNGP kernels (ntk_kernel), with relative and absolute ridges;
 *   4. tiny ridges on singular / ill-conditioned kernels: flagged
 *      unreliable, every criterion and residual NaN (never a number), the
 *      flag exactly err_est = κ₂(G)·N·ε > max_err;
 *   5. the folds (sizes, a permutation of the points, seeded), progress
 *      and cancellation, argument errors; CV's fold blocks summed over
 *      several column blocks;
 *   6. ntk_select_bytes against the peak resident memory the calls add.
 *
 * Tolerances (ε = DBL_EPSILON, κ = κ₂(G) from an independent dsyev of G).
 * Both sides are backward stable: the eigendecomposition is exact for
 * K + E, a Cholesky solve for G_RR + F, with ‖E‖, ‖F‖ ≤ p(N)·ε·‖G‖; we take
 * p(N) = N (the proven bounds have small constants times N; observed
 * backward errors are ~√N·ε). To first order:
 *   - log|G| moves by Σ_j |δλ_j|/(λ_j + ρ) ≤ N·‖E‖/λ_min(G) = N·κ·Nε
 *     (Weyl), yᵀG⁻¹y by a relative κ·Nε, so
 *     |Δ log p| ≤ κ·N·ε·(yᵀG⁻¹y + k·N);
 *   - G⁻¹ moves by a relative κ·Nε, entry (G⁻¹)_ii too
 *     (|δ(G⁻¹)_ii| ≤ ‖E‖·‖G⁻¹e_i‖² ≤ κ·Nε·(G⁻¹)_ii), and with it α and the
 *     held-out predictions Z·y_R (Z = G_BR·G_RR⁻¹): the residuals by
 *     κ·Nε·(‖e‖ + ‖y‖). (The worst case has a further √κ, from ‖Z‖ ≤ √κ:
 *     it needs the backward error aligned with the top eigenvectors of the
 *     Schur complement, which LAPACK's is not; observed errors here stay
 *     below 1e-3 of the κ·Nε bound, up to κ = 1.5e9.)
 * A factor 8 covers the two sides and the products' own rounding
 * (≤ N·ε·‖·‖ each). A wrong formula (another ridge, a missing division,
 * the wrong fold) misses by O(1) relative: far outside these bounds.
 */
#include "testutil.h"

#include "predict/predict_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS DBL_EPSILON

/* ------------------------------------------------------------ helpers */

static double *rnd(size_t n, uint64_t seed, double scale)
{
    tu_rng r = {seed};
    double *a = malloc((n ? n : 1) * sizeof *a);
    tu_fill_normal(&r, a, n, scale);
    return a;
}

/* A random symmetric PSD N × N kernel Q·diag(μ)·Qᵀ with μ log-spaced from
 * top down to top/kappa0 (the last `zeros` of them exactly 0), Q the
 * orthogonal factor of a Gaussian matrix (dgeqrf + dorgqr). */
static double *psd_kernel(size_t N, double kappa0, size_t zeros, double top, uint64_t seed)
{
    double *Q = rnd(N * N, seed, 1.0), *tau = malloc(N * sizeof *tau), *K = calloc(N * N, sizeof *K);
    if (LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)N, (lapack_int)N, Q, (lapack_int)N, tau) ||
        LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)N, (lapack_int)N, (lapack_int)N, Q, (lapack_int)N, tau))
        fail_msg("QR failed");
    for (size_t j = 0; j < N; j++) {
        double mu = j + zeros >= N ? 0.0 : top * pow(kappa0, -(double)j / (double)(N - 1 > zeros ? N - 1 - zeros : 1));
        for (size_t a = 0; a < N; a++)
            for (size_t b = 0; b < N; b++) K[a * N + b] += mu * Q[a * N + j] * Q[b * N + j];
    }
    for (size_t a = 0; a < N; a++) /* exactly symmetric */
        for (size_t b = a + 1; b < N; b++) K[b * N + a] = K[a * N + b];
    free(Q);
    free(tau);
    return K;
}

/* κ₂(K + ρI) by an independent dsyev (INFINITY when not positive definite). */
static double cond_of(const double *K, size_t N, double rho)
{
    double *B = malloc(N * N * sizeof *B), *w = malloc(N * sizeof *w);
    memcpy(B, K, N * N * sizeof *B);
    for (size_t i = 0; i < N; i++) B[i * N + i] += rho;
    if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)N, B, (lapack_int)N, w)) fail_msg("dsyev failed");
    double c = w[0] > 0 ? w[N - 1] / w[0] : INFINITY;
    free(B);
    free(w);
    return c;
}

static double trace(const double *K, size_t N)
{
    double t = 0;
    for (size_t i = 0; i < N; i++) t += K[i * N + i];
    return t;
}

/* Brute force: residuals of the points with held[i] != 0 under the ridge
 * model fitted on the others: (K_RR + ρI)·X = Y_R by dposv, e_B = Y_B −
 * K_BR·X (plain loops). Writes e (N × k) at the held-out rows only. */
static void refit_residuals(const double *K, size_t N, const double *Y, size_t k, double rho, const int *held,
                            double *e)
{
    size_t nr = 0;
    size_t *R = malloc(N * sizeof *R);
    for (size_t i = 0; i < N; i++)
        if (!held[i]) R[nr++] = i;
    double *G = malloc((nr * nr + 1) * sizeof *G), *X = malloc((nr * k + 1) * sizeof *X);
    for (size_t a = 0; a < nr; a++) {
        for (size_t b = 0; b < nr; b++) G[a * nr + b] = K[R[a] * N + R[b]];
        G[a * nr + a] += rho;
        for (size_t c = 0; c < k; c++) X[a * k + c] = Y[R[a] * k + c];
    }
    if (nr) {
        lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)nr, (lapack_int)k, G, (lapack_int)nr, X,
                                        (lapack_int)k);
        if (info) fail_msg("dposv of the reduced system: info %d", (int)info);
    }
    for (size_t i = 0; i < N; i++) {
        if (!held[i]) continue;
        for (size_t c = 0; c < k; c++) {
            double f = 0;
            for (size_t a = 0; a < nr; a++) f += K[i * N + R[a]] * X[a * k + c];
            e[i * k + c] = Y[i * k + c] - f;
        }
    }
    free(R);
    free(G);
    free(X);
}

static double frob(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

/* |a − b| ≤ tol entry by entry, else a failure naming the entry. */
static void expect_close(const char *what, const double *a, const double *b, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= tol))
            fail_msg("%s: entry %zu: %.17g vs %.17g (|diff| %.3g > tol %.3g)", what, i, a[i], b[i], fabs(a[i] - b[i]),
                     tol);
}

static ntk_select *mksel(const double *K, size_t N, const double *Y, size_t k)
{
    ntk_select *s = NULL;
    ntk_error err;
    if (ntk_select_create(K, N, Y, k, NULL, &s, &err)) fail_msg("ntk_select_create: %s", err.msg);
    return s;
}

/* Direct log p(Y|X) for covariance scale·(K + ρI) by Cholesky (dpotrf) and
 * triangular solves; *quad gets Σ_a y_aᵀ(K + ρI)⁻¹y_a. */
static double direct_mll(const double *K, size_t N, const double *Y, size_t k, double rho, double scale, double *quad)
{
    double *L = malloc(N * N * sizeof *L), *z = malloc(N * sizeof *z);
    for (size_t i = 0; i < N * N; i++) L[i] = scale * K[i];
    for (size_t i = 0; i < N; i++) L[i * N + i] += scale * rho;
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)N, L, (lapack_int)N)) fail_msg("dpotrf failed");
    double logdet = 0, q = 0;
    for (size_t i = 0; i < N; i++) logdet += 2.0 * log(L[i * N + i]);
    for (size_t c = 0; c < k; c++) {
        for (size_t i = 0; i < N; i++) { /* forward substitution L·z = y */
            double t = Y[i * k + c];
            for (size_t j = 0; j < i; j++) t -= L[i * N + j] * z[j];
            z[i] = t / L[i * N + i];
        }
        for (size_t i = 0; i < N; i++) q += z[i] * z[i];
    }
    free(L);
    free(z);
    if (quad) *quad = q * scale; /* = Σ yᵀ(K + ρI)⁻¹y */
    return -0.5 * q - 0.5 * (double)k * logdet - 0.5 * (double)(N * k) * log(2.0 * M_PI);
}

/* Every criterion of every ridge vs the brute force on one kernel.
 * folds: for CV (0 = none); fold_of: NULL = shuffled with seed 7. */
static void check_all(const char *name, const double *K, size_t N, const double *Y, size_t k, const double *ridges,
                      size_t nr, ntk_ridge_mode mode, size_t folds, const size_t *fold_of)
{
    ntk_select *s = mksel(K, N, Y, k);
    ntk_select_opts o = ntk_select_opts_default();
    o.ridge_mode = mode;
    o.folds = folds;
    o.fold_of = fold_of;
    o.seed = 7;
    ntk_select_result *res = malloc(nr * sizeof *res);
    double *loo = malloc(nr * N * k * sizeof *loo), *cv = malloc(nr * N * k * sizeof *cv);
    double *ref = malloc(N * k * sizeof *ref);
    int *held = malloc(N * sizeof *held);
    size_t *fo = malloc(N * sizeof *fo);
    ntk_error err;
    if (ntk_select_eval(s, ridges, nr, &o, res, loo, folds ? cv : NULL, &err)) fail_msg("%s: eval: %s", name, err.msg);
    if (folds) {
        if (fold_of) memcpy(fo, fold_of, N * sizeof *fo);
        else if (ntk_select_folds(N, folds, 7, fo, &err)) fail_msg("%s", err.msg);
    }
    double tr = trace(K, N), ny = frob(Y, N * k);
    for (size_t r = 0; r < nr; r++) {
        const ntk_select_result *R = &res[r];
        double rho = mode == NTK_RIDGE_RELATIVE ? ridges[r] * tr / (double)N : ridges[r];
        char what[160];
        assert_true(R->ridge == ridges[r]);
        if (fabs(R->ridge_abs - rho) > 4 * EPS * rho) fail_msg("%s: ridge_abs %.17g, expected %.17g", name, R->ridge_abs, rho);
        double kap = cond_of(K, N, rho);
        /* the reported κ is the same quantity from the library's own λ */
        if (!(fabs(R->cond - kap) <= 8.0 * kap * kap * N * EPS + 1e-9 * kap))
            fail_msg("%s: ridge %g: cond %.6g vs dsyev %.6g", name, ridges[r], R->cond, kap);
        if (!R->reliable) fail_msg("%s: ridge %g (κ %.3g) flagged unreliable", name, ridges[r], kap);
        /* LOO: one refit per point (held = {i}) writes row i of ref */
        for (size_t i = 0; i < N; i++) {
            memset(held, 0, N * sizeof *held);
            held[i] = 1;
            refit_residuals(K, N, Y, k, rho, held, ref);
        }
        double ne = frob(ref, N * k);
        double tol = 8.0 * kap * (double)N * EPS * (ne + ny);
        snprintf(what, sizeof what, "%s: ridge %g (κ %.3g): LOO residuals", name, ridges[r], kap);
        expect_close(what, loo + r * N * k, ref, N * k, tol);
        double mse = ne * ne / (double)(N * k);
        /* |Δ‖e‖²| ≤ 2‖e‖·‖Δe‖ + ‖Δe‖², ‖Δe‖ ≤ √(N·k)·tol */
        double dn = sqrt((double)(N * k)) * tol, tmse = (2 * ne * dn + dn * dn) / (double)(N * k);
        if (!(fabs(R->loo_mse - mse) <= tmse))
            fail_msg("%s: LOO MSE %.17g vs %.17g (tol %.3g)", what, R->loo_mse, mse, tmse);
        /* CV */
        if (folds) {
            for (size_t f = 0; f < folds; f++) {
                for (size_t i = 0; i < N; i++) held[i] = fo[i] == f;
                refit_residuals(K, N, Y, k, rho, held, ref);
            }
            ne = frob(ref, N * k);
            tol = 8.0 * kap * (double)N * EPS * (ne + ny);
            snprintf(what, sizeof what, "%s: ridge %g (κ %.3g): %zu-fold CV residuals", name, ridges[r], kap, folds);
            expect_close(what, cv + r * N * k, ref, N * k, tol);
            mse = ne * ne / (double)(N * k);
            dn = sqrt((double)(N * k)) * tol;
            tmse = (2 * ne * dn + dn * dn) / (double)(N * k);
            if (!(fabs(R->cv_mse - mse) <= tmse))
                fail_msg("%s: CV MSE %.17g vs %.17g (tol %.3g)", what, R->cv_mse, mse, tmse);
        } else if (!isnan(R->cv_mse)) {
            fail_msg("%s: cv_mse %g without folds", name, R->cv_mse);
        }
        /* log marginal likelihood */
        double quad, lp = direct_mll(K, N, Y, k, rho, 1.0, &quad);
        double tl = 8.0 * kap * (double)N * EPS * (quad + (double)(N * k));
        if (!(fabs(R->log_ml - lp) <= tl))
            fail_msg("%s: ridge %g (κ %.3g): log_ml %.17g vs Cholesky %.17g (tol %.3g)", name, ridges[r], kap,
                     R->log_ml, lp, tl);
        double s2 = quad / (double)(N * k);
        if (!(fabs(R->sigma2 - s2) <= 8.0 * kap * (double)N * EPS * s2))
            fail_msg("%s: ridge %g: sigma2 %.17g vs %.17g", name, ridges[r], R->sigma2, s2);
        /* σ̂²·G: the direct likelihood at σ̂², whose quadratic term is N·k,
         * so its tolerance is that of log p with yᵀG⁻¹y = N·k. σ̂² is the
         * maximum: with f(σ²) = −q/(2σ²) − (N·k/2)·log σ² + const and
         * q = N·k·σ̂², f(t·σ̂²) − f(σ̂²) = −(N·k/2)·(1/t − 1 + log t), checked
         * at t = 1/2 and 2 (drops of 0.097·N·k and 0.153·N·k). */
        double ts = 8.0 * kap * (double)N * EPS * (2.0 * (double)(N * k));
        double ls = direct_mll(K, N, Y, k, rho, s2, NULL);
        if (!(fabs(R->log_ml_scaled - ls) <= ts))
            fail_msg("%s: ridge %g: log_ml_scaled %.17g vs Cholesky at sigma2 %.17g (tol %.3g)", name, ridges[r],
                     R->log_ml_scaled, ls, ts);
        for (int q = 0; q < 2; q++) {
            double t = q ? 2.0 : 0.5, drop = -0.5 * (double)(N * k) * (1.0 / t - 1.0 + log(t));
            double lt = direct_mll(K, N, Y, k, rho, s2 * t, NULL);
            if (!(fabs((lt - R->log_ml_scaled) - drop) <= 2 * ts))
                fail_msg("%s: ridge %g: log p at %g sigma2 - at sigma2 = %.17g, expected %.17g", name, ridges[r], t,
                         lt - R->log_ml_scaled, drop);
        }
        if (!(R->log_ml <= R->log_ml_scaled + tl)) fail_msg("%s: the fitted scale lowered the likelihood", name);
    }
    free(res);
    free(loo);
    free(cv);
    free(ref);
    free(held);
    free(fo);
    ntk_select_free(s);
}

/* ------------------------------------------------------------ 1–3: random PSD kernels */

static void test_random_kernels(void **state)
{
    (void)state;
    const size_t N = 37, k = 3;
    double *Y = rnd(N * k, 11, 1.0);
    /* well conditioned (κ0 = 1e3), absolute ridges from tiny to huge */
    double *K = psd_kernel(N, 1e3, 0, 5.0, 1);
    double abs_r[] = {0.0, 1e-6, 1e-2, 1.0, 1e3};
    check_all("kappa 1e3, absolute", K, N, Y, k, abs_r, 5, NTK_RIDGE_ABSOLUTE, 5, NULL);
    free(K);
    /* ill conditioned (κ0 = 1e10): relative ridges bring κ(G) down to
     * 1e8 .. 1 */
    K = psd_kernel(N, 1e10, 0, 3.0, 2);
    double rel_r[] = {1e-8, 1e-5, 1e-2, 10.0};
    check_all("kappa 1e10, relative", K, N, Y, k, rel_r, 4, NTK_RIDGE_RELATIVE, 4, NULL);
    free(K);
    /* singular (rank N − 5): a ridge is needed, and enough */
    K = psd_kernel(N, 1e2, 5, 1.0, 3);
    double sing_r[] = {1e-6, 1e-3, 1.0};
    check_all("rank-deficient, relative", K, N, Y, k, sing_r, 3, NTK_RIDGE_RELATIVE, 3, NULL);
    free(K);
    free(Y);
}

static void test_folds_variants(void **state)
{
    (void)state;
    const size_t N = 23, k = 2;
    double *Y = rnd(N * k, 5, 2.0), *K = psd_kernel(N, 1e4, 0, 1.0, 9);
    double r[] = {1e-4, 0.1};
    size_t fo[23];
    /* contiguous folds of sizes 8, 8, 7 */
    for (size_t i = 0; i < N; i++) fo[i] = i < 8 ? 0 : i < 16 ? 1 : 2;
    check_all("contiguous folds", K, N, Y, k, r, 2, NTK_RIDGE_RELATIVE, 3, fo);
    /* interleaved folds, one of a single point */
    for (size_t i = 0; i < N; i++) fo[i] = i == 5 ? 3 : i % 3;
    check_all("interleaved folds", K, N, Y, k, r, 2, NTK_RIDGE_RELATIVE, 4, fo);
    /* every fold a single point: CV is LOO (two code paths, one answer) */
    for (size_t i = 0; i < N; i++) fo[i] = N - 1 - i;
    ntk_select *s = mksel(K, N, Y, k);
    ntk_select_opts o = ntk_select_opts_default();
    o.folds = N;
    o.fold_of = fo;
    ntk_select_result res[2];
    double loo[2 * 23 * 2], cv[2 * 23 * 2];
    ntk_error err;
    if (ntk_select_eval(s, r, 2, &o, res, loo, cv, &err)) fail_msg("%s", err.msg);
    for (size_t i = 0; i < 2 * N * k; i++) {
        double kap = cond_of(K, N, res[i / (N * k)].ridge_abs);
        double tol = 8.0 * kap * (double)N * EPS * (fabs(loo[i]) + frob(Y, N * k));
        if (!(fabs(loo[i] - cv[i]) <= tol)) fail_msg("N-fold CV vs LOO: entry %zu: %.17g vs %.17g", i, cv[i], loo[i]);
    }
    ntk_select_free(s);
    free(K);
    free(Y);
}

/* ------------------------------------------------------------ real kernels */

static void test_real_kernels(void **state)
{
    (void)state;
    const size_t N = 40, d = 4, k = 2;
    const char *specs[] = {
        "dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)",
        "dense(8,w_std=1.2,b_std=0.3),erf,dense(1,w_std=0.8,b_std=0.1)",
    };
    double *X = rnd(N * d, 21, 1.0), *Y = malloc(N * k * sizeof *Y);
    for (size_t i = 0; i < N; i++) {
        Y[i * k] = sin(2 * X[i * d]) + X[i * d + 1] * X[i * d + 2];
        Y[i * k + 1] = X[i * d + 3] > 0 ? 1.0 : 0.0;
    }
    double *ntk = malloc(N * N * sizeof *ntk), *nngp = malloc(N * N * sizeof *nngp);
    double r[] = {1e-6, 1e-3, 1e-1, 3.0};
    for (size_t a = 0; a < 2; a++) {
        ntk_arch *arch = NULL;
        ntk_error err;
        if (ntk_arch_parse(specs[a], &arch, &err)) fail_msg("%s", err.msg);
        ntk_kernel_opts ko = ntk_kernel_opts_default();
        if (ntk_kernel(arch, &ko, X, N, NULL, 0, d, nngp, ntk, &err)) fail_msg("%s", err.msg);
        char name[64];
        snprintf(name, sizeof name, "%s NTK", a ? "erf" : "relu");
        check_all(name, ntk, N, Y, k, r, 4, NTK_RIDGE_RELATIVE, 5, NULL);
        snprintf(name, sizeof name, "%s NNGP", a ? "erf" : "relu");
        check_all(name, nngp, N, Y, k, r, 4, NTK_RIDGE_RELATIVE, 5, NULL);
        ntk_arch_free(arch);
    }
    free(X);
    free(Y);
    free(ntk);
    free(nngp);
}

/* CV's fold blocks summed over column blocks of V (1024 columns; here 7,
 * so 40 = 5·7 + 5 crosses full and partial blocks): the same residuals as
 * refits, for each fold assignment. */
static void test_cv_column_blocks(void **state)
{
    (void)state;
    const size_t N = 40, k = 2;
    double *Y = rnd(N * k, 17, 1.0), *K = psd_kernel(N, 1e5, 0, 2.0, 12);
    double r[] = {1e-4, 0.3}, cv[2 * 40 * 2], ref[40 * 2];
    int held[40];
    size_t fo[40];
    ntk_error err;
    for (size_t F = 2; F <= 5; F += 3) {
        ntk_select *s = mksel(K, N, Y, k);
        ntk_select_set_cv_cols(s, 7);
        ntk_select_opts o = ntk_select_opts_default();
        o.folds = F;
        ntk_select_result res[2];
        if (ntk_select_eval(s, r, 2, &o, res, NULL, cv, &err)) fail_msg("%s", err.msg);
        ntk_select_folds(N, F, 0, fo, &err);
        for (size_t q = 0; q < 2; q++) {
            for (size_t f = 0; f < F; f++) {
                for (size_t i = 0; i < N; i++) held[i] = fo[i] == f;
                refit_residuals(K, N, Y, k, res[q].ridge_abs, held, ref);
            }
            double kap = cond_of(K, N, res[q].ridge_abs);
            char what[96];
            snprintf(what, sizeof what, "%zu folds, column blocks of 7, ridge %g (κ %.3g)", F, r[q], kap);
            expect_close(what, cv + q * N * k, ref, N * k, 8.0 * kap * (double)N * EPS * (frob(ref, N * k) + frob(Y, N * k)));
        }
        ntk_select_free(s);
    }
    free(Y);
    free(K);
}

/* ------------------------------------------------------------ 4: unreliable ridges */

static void test_unreliable(void **state)
{
    (void)state;
    const size_t N = 30, d = 3, k = 2;
    /* a linear kernel X·Xᵀ of rank 3: singular; and a kernel of κ0 = 1e15 */
    double *X = rnd(N * d, 4, 1.0), *Y = rnd(N * k, 6, 1.0), *K = calloc(N * N, sizeof *K);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            for (size_t c = 0; c < d; c++) K[i * N + j] += X[i * d + c] * X[j * d + c];
    double *K2 = psd_kernel(N, 1e15, 0, 1.0, 8);
    double r[] = {0.0, 1e-30, 1e-16, 1e-13, 1e-9, 1e-2};
    const size_t nr = sizeof r / sizeof *r;
    for (int which = 0; which < 2; which++) {
        const double *KK = which ? K2 : K;
        ntk_select *s = mksel(KK, N, Y, k);
        ntk_predict_info info;
        ntk_select_info(s, &info);
        ntk_select_opts o = ntk_select_opts_default();
        o.folds = 3;
        ntk_select_result res[6];
        double loo[6 * 30 * 2], cv[6 * 30 * 2];
        ntk_error err;
        if (ntk_select_eval(s, r, nr, &o, res, loo, cv, &err)) fail_msg("%s", err.msg);
        double lmax = info.lambda_max, lmin = info.lambda_min > 0 ? info.lambda_min : 0, tr = trace(KK, N);
        size_t n_unrel = 0;
        for (size_t q = 0; q < nr; q++) {
            const ntk_select_result *R = &res[q];
            double rho = r[q] * tr / (double)N;
            double c = lmin + rho > 0 ? (lmax + rho) / (lmin + rho) : INFINITY;
            int expect = c * (double)N * EPS <= o.max_err;
            if (R->reliable != expect)
                fail_msg("kernel %d, ridge %g: reliable %d, expected %d (cond %.3g)", which, r[q], R->reliable, expect, c);
            if (!(R->err_est == R->cond * (double)N * EPS) && !(isinf(R->cond) && isinf(R->err_est)))
                fail_msg("err_est %.3g is not cond·N·ε", R->err_est);
            if (R->reliable) {
                if (!isfinite(R->loo_mse) || !isfinite(R->cv_mse) || !isfinite(R->log_ml))
                    fail_msg("kernel %d, ridge %g: reliable but not finite", which, r[q]);
                continue;
            }
            n_unrel++;
            if (!isnan(R->loo_mse) || !isnan(R->cv_mse) || !isnan(R->log_ml) || !isnan(R->log_ml_scaled) ||
                !isnan(R->sigma2))
                fail_msg("kernel %d, ridge %g (cond %.3g): unreliable but a criterion is a number", which, r[q], R->cond);
            for (size_t i = 0; i < N * k; i++)
                if (!isnan(loo[q * N * k + i]) || !isnan(cv[q * N * k + i]))
                    fail_msg("kernel %d, ridge %g: unreliable but residual %zu is a number", which, r[q], i);
        }
        /* ridges 0, 1e-30, 1e-16 are too small for both kernels; 1e-2 is fine */
        if (n_unrel < 3 || !res[nr - 1].reliable) fail_msg("kernel %d: %zu unreliable ridges", which, n_unrel);
        /* a larger max_err accepts more; max_err is honoured exactly */
        o.max_err = 1e6;
        if (ntk_select_eval(s, r + 3, 1, &o, res, NULL, NULL, &err)) fail_msg("%s", err.msg);
        assert_int_equal(res[0].reliable, res[0].err_est <= 1e6);
        ntk_select_free(s);
    }
    /* the ridge that makes the singular kernel usable agrees with refits */
    double rr[] = {1e-4, 1e-2};
    check_all("rank-3 linear kernel", K, N, Y, k, rr, 2, NTK_RIDGE_RELATIVE, 3, NULL);
    free(X);
    free(Y);
    free(K);
    free(K2);
}

/* ------------------------------------------------------------ 5: folds, N = 1, progress, errors */

static void test_folds(void **state)
{
    (void)state;
    ntk_error err;
    for (size_t N = 2; N <= 50; N += 7)
        for (size_t F = 2; F <= N && F <= 11; F += 3) {
            size_t a[50], b[50], cnt[11] = {0};
            if (ntk_select_folds(N, F, 42, a, &err) || ntk_select_folds(N, F, 42, b, &err)) fail_msg("%s", err.msg);
            for (size_t i = 0; i < N; i++) {
                assert_true(a[i] < F);
                assert_int_equal(a[i], b[i]); /* seeded: the same again */
                cnt[a[i]]++;
            }
            for (size_t f = 0; f < F; f++) /* sizes ⌊N/F⌋ or ⌈N/F⌉ */
                if (cnt[f] != N / F && cnt[f] != (N + F - 1) / F) fail_msg("N %zu, F %zu: fold %zu has %zu", N, F, f, cnt[f]);
        }
    /* another seed, another assignment; not the contiguous one */
    size_t a[40], b[40];
    ntk_select_folds(40, 4, 1, a, &err);
    ntk_select_folds(40, 4, 2, b, &err);
    int same = 1, contiguous = 1;
    for (size_t i = 0; i < 40; i++) {
        same &= a[i] == b[i];
        contiguous &= a[i] == i / 10;
    }
    assert_false(same);
    assert_false(contiguous);
    assert_int_equal(ntk_select_folds(5, 1, 0, a, &err), NTK_E_INVAL);
    assert_int_equal(ntk_select_folds(5, 6, 0, a, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "2 to N = 5 folds"));
}

static void test_one_point(void **state)
{
    (void)state;
    /* N = 1: the held-out model has no data and predicts 0, so e = y */
    double K = 2.5, Y[2] = {0.7, -1.25}, r = 0.5, e[2];
    ntk_select *s = mksel(&K, 1, Y, 2);
    ntk_select_result res;
    ntk_error err;
    if (ntk_select_eval(s, &r, 1, NULL, &res, e, NULL, &err)) fail_msg("%s", err.msg);
    /* e = α/(G⁻¹) = (y/3.75)/(1/3.75): exact up to two roundings */
    assert_true(fabs(e[0] - Y[0]) <= 2 * EPS * fabs(Y[0]) && fabs(e[1] - Y[1]) <= 2 * EPS * fabs(Y[1]));
    ntk_select_free(s);
}

typedef struct {
    int calls, stop_at;
    double last_done;
    char stage[32];
} prog_state;

static int prog_fn(void *ctx, const char *stage, double done, double total)
{
    prog_state *p = ctx;
    if (strcmp(stage, p->stage)) {
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->last_done = -1;
    }
    if (!(done >= p->last_done) || (total > 0 && done > total)) fail_msg("progress %s: %g of %g after %g", stage, done, total, p->last_done);
    p->last_done = done;
    p->calls++;
    return p->stop_at && p->calls >= p->stop_at;
}

static void test_progress(void **state)
{
    (void)state;
    const size_t N = 20, k = 1;
    double *K = psd_kernel(N, 1e2, 0, 1.0, 3), *Y = rnd(N, 2, 1.0);
    double r[] = {1e-3, 1e-2, 1e-1};
    prog_state ps = {0};
    ntk_select_opts o = ntk_select_opts_default();
    o.folds = 4;
    o.progress.fn = prog_fn;
    o.progress.ctx = &ps;
    ntk_select *s = NULL;
    ntk_select_result res[3];
    ntk_error err;
    if (ntk_select_create(K, N, Y, k, &o, &s, &err) || ntk_select_eval(s, r, 3, &o, res, NULL, NULL, &err))
        fail_msg("%s", err.msg);
    int total = ps.calls;
    assert_true(total >= 2 + 2 + 3 * 4 + 2);
    /* stopping at every call in turn cancels cleanly */
    for (int stop = 1; stop <= total; stop++) {
        prog_state p2 = {0};
        p2.stop_at = stop;
        o.progress.ctx = &p2;
        ntk_select *s2 = NULL;
        ntk_status st = ntk_select_create(K, N, Y, k, &o, &s2, &err);
        if (!st) st = ntk_select_eval(s2, r, 3, &o, res, NULL, NULL, &err);
        assert_int_equal(st, NTK_E_CANCELED);
        ntk_select_free(s2);
    }
    ntk_select_free(s);
    free(K);
    free(Y);
}

static void test_errors(void **state)
{
    (void)state;
    const size_t N = 6, k = 1;
    double *K = psd_kernel(N, 10, 0, 1.0, 1), Y[6] = {1, 2, 3, 4, 5, 6};
    ntk_select *s = NULL;
    ntk_error err;
    assert_int_equal(ntk_select_create(K, 0, Y, k, NULL, &s, &err), NTK_E_SHAPE);
    assert_int_equal(ntk_select_create(K, N, Y, 0, NULL, &s, &err), NTK_E_SHAPE);
    assert_int_equal(ntk_select_create(NULL, N, Y, k, NULL, &s, &err), NTK_E_INVAL);
    K[2 * N + 3] = NAN;
    assert_int_equal(ntk_select_create(K, N, Y, k, NULL, &s, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "training kernel: row 3, column 4"));
    K[2 * N + 3] = K[3 * N + 2];
    Y[4] = INFINITY;
    assert_int_equal(ntk_select_create(K, N, Y, k, NULL, &s, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "targets: row 5"));
    Y[4] = 5;
    assert_null(s);
    /* not PSD: an eigenvalue of −1 */
    double *B = psd_kernel(N, 10, 0, 1.0, 1);
    for (size_t i = 0; i < N; i++) B[i * N + i] -= 1.0;
    assert_int_equal(ntk_select_create(B, N, Y, k, NULL, &s, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "not positive semidefinite"));
    free(B);

    s = mksel(K, N, Y, k);
    ntk_select_result res[2];
    ntk_select_opts o = ntk_select_opts_default();
    double bad[] = {1e-3, -1e-3};
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "ridge 2"));
    bad[1] = NAN;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    bad[1] = 1e-2;
    o.folds = 1;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    o.folds = 7;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    size_t fo[6] = {0, 1, 2, 0, 1, 3};
    o.folds = 3;
    o.fold_of = fo;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "point 6: fold 3"));
    size_t fo2[6] = {0, 0, 2, 0, 2, 2}; /* fold 1 empty */
    o.fold_of = fo2;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "fold 1 of 3 has no points"));
    o = ntk_select_opts_default();
    o.max_err = 0;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    o = ntk_select_opts_default();
    o.ridge_mode = (ntk_ridge_mode)5;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_E_INVAL);
    /* only what was asked for */
    o = ntk_select_opts_default();
    o.loo = 0;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_OK);
    assert_true(isnan(res[0].loo_mse) && isnan(res[0].cv_mse) && isfinite(res[0].log_ml));
    o.loo = 1;
    o.mll = 0;
    assert_int_equal(ntk_select_eval(s, bad, 2, &o, res, NULL, NULL, &err), NTK_OK);
    assert_true(isfinite(res[0].loo_mse) && isnan(res[0].log_ml) && isnan(res[0].sigma2));
    ntk_select_free(s);
    free(K);
}

/* ------------------------------------------------------------ the memory estimate */

/* Resident bytes of this process ("VmRSS:" / "VmHWM:" of
 * /proc/self/status), or -1. */
static double proc_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) v = atof(line + strlen(key)) * 1024.0;
    fclose(f);
    return v;
}

/* Resets VmHWM to the current VmRSS (Linux ≥ 4.0); 0 on success. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int bad = fputs("5", f) < 0;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* The peak resident memory that ntk_select_create + ntk_select_eval add,
 * measured (VmHWM after − VmRSS before), against ntk_select_bytes. The
 * run is repeated after a warm-up of the same size, with one BLAS thread,
 * so that OpenBLAS's own buffers (per thread, allocated and touched on
 * first use: not the call's memory) are resident before; blocks above
 * 128 KiB are always mmap'ed (no reuse of freed heap pages, which would
 * hide memory). Resident memory counts touched pages, so it is at most the
 * estimate (1 MiB allows for allocator and page rounding), and at least
 * 0.8 of it (dsyevd touches its workspace): an estimate missing or adding
 * an N × N array (3N² vs 2N² or 4N²) fails one side. Case 1: the
 * eigendecomposition is the peak; case 2 (many ridges, few points): the
 * leave-one-out chunk is. */
static void test_bytes(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) /* gcc; clang below */
    skip(); /* ASan's allocator and quarantine: resident memory means nothing here */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    if (proc_kb("VmHWM:") < 0 || reset_peak()) {
        print_message("no /proc/self/status or clear_refs: the measurement is skipped\n");
        skip();
    }
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    const int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const struct {
        size_t N, k, R, folds;
    } cases[] = {{1200, 3, 5, 5}, {400, 3, 2000, 0}};
    for (size_t c = 0; c < 2; c++) {
        const size_t N = cases[c].N, k = cases[c].k, R = cases[c].R;
        double *K = malloc(N * N * sizeof *K), *Y = rnd(N * k, 7 + c, 1.0), *rid = malloc(R * sizeof *rid);
        ntk_select_result *res = malloc(R * sizeof *res);
        for (size_t i = 0; i < N; i++) /* exp(−0.05·|i − j|): positive definite */
            for (size_t j = 0; j < N; j++) K[i * N + j] = exp(-0.05 * fabs((double)i - (double)j));
        for (size_t r = 0; r < R; r++) rid[r] = 1e-4 * pow(1e4, (double)r / (double)(R > 1 ? R - 1 : 1));
        ntk_select_opts so = ntk_select_opts_default();
        so.folds = cases[c].folds;
        ntk_error err;
        double base = 0, peak = 0;
        for (int pass = 0; pass < 2; pass++) {
            malloc_trim(0);
            assert_int_equal(reset_peak(), 0);
            base = proc_kb("VmRSS:");
            ntk_select *s = NULL;
            if (ntk_select_create(K, N, Y, k, &so, &s, &err) || ntk_select_eval(s, rid, R, &so, res, NULL, NULL, &err))
                fail_msg("N = %zu: %s", N, err.msg);
            peak = proc_kb("VmHWM:");
            ntk_select_free(s);
        }
        double est = (double)ntk_select_bytes(N, k, R, &so), used = peak - base;
        print_message("N = %zu, k = %zu, %zu ridges, %zu folds: %.2f MB measured, %.2f MB estimated\n", N, k, R,
                      cases[c].folds, used / 1e6, est / 1e6);
        if (!(used <= est + 1048576 && used >= 0.8 * est))
            fail_msg("N = %zu: the call used %.0f bytes at its peak, ntk_select_bytes says %.0f", N, used, est);
        free(K);
        free(Y);
        free(rid);
        free(res);
    }
    assert_true(ntk_select_bytes(SIZE_MAX / 2, 1, 1, NULL) == SIZE_MAX);
    openblas_set_num_threads(threads);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_kernels), cmocka_unit_test(test_folds_variants),
        cmocka_unit_test(test_real_kernels),   cmocka_unit_test(test_cv_column_blocks),
        cmocka_unit_test(test_unreliable),
        cmocka_unit_test(test_folds),          cmocka_unit_test(test_one_point),
        cmocka_unit_test(test_progress),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
