/*
 * predict.c — closed-form predictions of gradient descent / gradient flow
 * on MSE with a fixed kernel, kernel regression (t = ∞), ridge, and the
 * infinite-ensemble covariance (docs/math.md, "Training dynamics",
 * "Infinite ensembles and GPs"; neural-tangents predict.gradient_descent_mse
 * and gradient_descent_mse_ensemble conventions).
 *
 * One eigendecomposition Θ_reg = V·diag(λ)·Vᵀ (dsyevd) serves every time t:
 * with c = Vᵀ·(y − f0) and g_t(λ) = (1 − e_t(λ))/λ,
 *   f_t(x*) = f0(x*) + Θ(x*,X)·[V·diag(g_t)·c],
 * O(N²·k + M·N·k) per t (Θ(x*,X)·V once and O(M·N·k) per t when the
 * outputs outnumber the test points, k ≥ M). t = ∞ uses
 * α = Θ_reg⁻¹·(y − f0): V·diag(1/λ)·Vᵀ·(y − f0) when Θ_reg is certainly
 * positive definite (κ₂ < 1/(20·N^2.5·ε)), otherwise by its Cholesky
 * factor (dpotrf), which decides and finds the jitter.
 * The training points are predicted as test points with Θ(X,X) = Θ_reg − ρ·I
 * (ρ the absolute ridge), i.e. V·diag((λ − ρ)·g_t)·c: the function the
 * kernel machine defines, which is y at t = ∞ when there is no ridge.
 * The factorization is LAPACK's on OpenBLAS's threads (its last bits
 * depend on their number); everything after it — c, the predictions, the
 * covariances — is ntk_dgemm / ntk_dtrsm_right (core/blas.h), the same
 * bits for any thread count.
 */
#include "core/internal.h"
#include "core/blas.h"
#include "predict/predict_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ntk_predictor {
    size_t N, k;
    ntk_predict_opts o;
    double n_norm;        /* n = N·k, the MSE normalisation               */
    double ridge_abs;     /* absolute ridge added (incl. jitter)          */
    double *V;            /* N × N eigenvectors (column j = eigenvector j) */
    double *lam;          /* N eigenvalues of Θ_reg, ascending, clipped    */
    double *c;            /* N × k: Vᵀ·r                                   */
    double *r;            /* N × k: r = y − f0                             */
    double *f0;           /* N × k                                         */
    double *alpha;        /* N × k: Θ_reg⁻¹·(y − f0), if Cholesky worked    */
    double *chol;         /* N × N Cholesky factor (upper), or NULL        */
    ntk_predict_info info;
};

ntk_predict_opts ntk_predict_opts_default(void)
{
    ntk_predict_opts o;
    memset(&o, 0, sizeof o);
    o.lr = 1.0;
    o.ridge_mode = NTK_RIDGE_RELATIVE;
    return o;
}

void ntk_predictor_free(ntk_predictor *p)
{
    if (!p) return;
    free(p->V);
    free(p->lam);
    free(p->c);
    free(p->r);
    free(p->f0);
    free(p->alpha);
    free(p->chol);
    free(p);
}

void ntk_predictor_info(const ntk_predictor *p, ntk_predict_info *info) { *info = p->info; }
size_t ntk_predictor_n_train(const ntk_predictor *p) { return p->N; }
size_t ntk_predictor_n_outputs(const ntk_predictor *p) { return p->k; }

/* Full symmetric copy of the upper triangle of a (N×N) plus `add` on the
 * diagonal. */
static void sym_copy(double *dst, const double *a, size_t N, double add)
{
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i; j < N; j++) dst[i * N + j] = dst[j * N + i] = a[i * N + j];
        dst[i * N + i] += add;
    }
}

/* In-place transpose of a square N×N matrix, in cache blocks (LAPACKE's
 * row-major wrappers transpose column by column, which costs as much as a
 * third of dsyevd at N = 2048: we call the column-major routines instead). */
static void transpose_inplace(double *a, size_t N)
{
    enum { TB = 32 };
    for (size_t i0 = 0; i0 < N; i0 += TB)
        for (size_t j0 = i0; j0 < N; j0 += TB) {
            size_t i1 = i0 + TB < N ? i0 + TB : N, j1 = j0 + TB < N ? j0 + TB : N;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = (j0 == i0 ? i + 1 : j0); j < j1; j++) {
                    double t = a[i * N + j];
                    a[i * N + j] = a[j * N + i];
                    a[j * N + i] = t;
                }
        }
}

/* X = A⁻¹·B for B (N × k, row-major, in place) with A = UᵀU, U the upper
 * Cholesky factor stored row-major (= the column-major lower factor L of
 * dpotrf 'L', A = L·Lᵀ). Two triangular solves, no copies of U. */
static void chol_solve(const double *U, size_t N, double *B, size_t k)
{
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)N, (int)k, 1.0, U, (int)N, B,
                (int)k);
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, (int)N, (int)k, 1.0, U, (int)N, B,
                (int)k);
}

ntk_status ntk_eigen_sym(double *K, size_t N, double *lam, ntk_error *err)
{
    /* column-major 'L' = the row-major upper triangle (no LAPACKE copies):
     * eigenvector j comes back as row j; one blocked transpose makes it
     * column j */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)N, K, (lapack_int)N, lam);
    if (info != 0)
        return ntk_fail(err, NTK_E_NUMERIC,
                        "eigendecomposition of the training kernel failed (LAPACK dsyevd info %d)", (int)info);
    transpose_inplace(K, N);
    return NTK_OK;
}

ntk_status ntk_eigen_clip(double *lam, size_t N, size_t *n_clipped, ntk_error *err)
{
    double tol = 100.0 * (double)N * DBL_EPSILON * fabs(lam[N - 1]);
    if (lam[0] < -tol)
        return ntk_fail(err, NTK_E_NUMERIC,
                        "the training kernel is not positive semidefinite: smallest eigenvalue %.6g, largest %.6g "
                        "(beyond rounding; a ridge of at least %.3g would make it positive definite)",
                        lam[0], lam[N - 1], -lam[0]);
    for (size_t i = 0; i < N; i++)
        if (lam[i] < 0) {
            lam[i] = 0;
            (*n_clipped)++;
        }
    return NTK_OK;
}

ntk_status ntk_factor_kernel(double *K, const double *K0, size_t N, const double *r, size_t k, double ridge,
                             ntk_ridge_mode mode, int auto_jitter, int keep_chol, ntk_factor *f, ntk_error *err)
{
    memset(f, 0, sizeof *f);
    size_t bytes = N * N * sizeof(double);
    double tr = 0;
    for (size_t i = 0; i < N; i++) tr += K[i * N + i];
    f->ridge_abs = mode == NTK_RIDGE_RELATIVE ? ridge * tr / (double)N : ridge;
    /* a copy of K for the Cholesky factorization, if it is needed, unless
     * the caller keeps one (K0) */
    double *chol = K0 ? NULL : malloc(bytes), *orig = NULL;
    f->lam = malloc(N * sizeof *f->lam);
    if ((!K0 && !chol) || !f->lam) {
        free(chol);
        free(f->lam);
        f->lam = NULL;
        return ntk_fail(err, NTK_E_NOMEM, "out of memory factorizing a %zu x %zu kernel", N, N);
    }
    if (chol) memcpy(chol, K, bytes);
    ntk_status s = NTK_OK;
    for (size_t i = 0; i < N; i++) K[i * N + i] += f->ridge_abs;
    if ((s = ntk_eigen_sym(K, N, f->lam, err))) goto fail;
    lapack_int info;
    if (!(f->alpha = malloc(N * k * sizeof *f->alpha))) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto fail;
    }
    /* t = ∞ needs K_reg positive definite. When κ₂(K_reg) < 1/(20·N^2.5·ε)
     * Cholesky is certain to succeed (Higham, Accuracy and Stability,
     * Thm 10.7: 20·N^1.5·κ₂(H)·u < 1 with H the diagonally scaled matrix,
     * κ₂(H) ≤ N·κ₂(K_reg)), so it is not run: α = V·diag(1/λ)·Vᵀ·r, and no
     * jitter is needed. Otherwise Cholesky decides, with the automatic jitter
     * schedule if asked: 10ε … 1e-1 relative to the mean diagonal; a jitter
     * shifts every eigenvalue by itself. */
    double lmin = f->lam[0], lmax = f->lam[N - 1];
    double nn = (double)N;
    if (lmin > 0 && lmin > 20.0 * nn * nn * sqrt(nn) * DBL_EPSILON * lmax) {
        f->info.cholesky_ok = 1;
        double *c = malloc(N * k * sizeof *c);
        if (!c) {
            s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
            goto fail;
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, K, (int)N, r, (int)k, 0.0,
                    c, (int)k);
        for (size_t j = 0; j < N; j++)
            for (size_t a = 0; a < k; a++) c[j * k + a] /= f->lam[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, K, (int)N, c, (int)k,
                    0.0, f->alpha, (int)k);
        free(c);
        free(chol);
        chol = NULL;
    } else {
        double jitter = 0, unit = DBL_EPSILON * fabs(tr) / (double)N;
        if ((!chol && !(chol = malloc(bytes))) || (auto_jitter && !K0 && !(orig = malloc(bytes)))) {
            s = ntk_fail(err, NTK_E_NOMEM, "out of memory factorizing a %zu x %zu kernel", N, N);
            goto fail;
        }
        if (orig) memcpy(orig, chol, bytes);
        const double *src = K0 ? K0 : orig;
        for (int attempt = 0;; attempt++) {
            if (attempt || K0) memcpy(chol, src, bytes);
            for (size_t i = 0; i < N; i++) chol[i * N + i] += f->ridge_abs + jitter;
            /* column-major 'L' reads and writes the row-major upper
             * triangle: the factor is U with UᵀU = K_reg + jitter */
            info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)N, chol, (lapack_int)N);
            if (info == 0) { f->info.cholesky_ok = 1; break; }
            if (info < 0) { s = ntk_fail(err, NTK_E_INTERNAL, "dpotrf: argument %d", (int)-info); goto fail; }
            if (!auto_jitter || attempt >= 14) break;
            jitter = unit * pow(10.0, attempt + 1);
        }
        free(orig);
        orig = NULL;
        if (f->info.cholesky_ok) {
            f->ridge_abs += jitter;
            f->info.jitter_added = jitter;
            for (size_t i = 0; i < N; i++) f->lam[i] += jitter;
            memcpy(f->alpha, r, N * k * sizeof *r);
            chol_solve(chol, N, f->alpha, k);
        } else {
            free(f->alpha);
            f->alpha = NULL;
        }
        if (keep_chol && f->info.cholesky_ok) f->chol = chol;
        else free(chol);
        chol = NULL;
    }
    f->info.ridge_added = f->ridge_abs;
    f->info.lambda_min = f->lam[0];
    f->info.lambda_max = f->lam[N - 1];
    if ((s = ntk_eigen_clip(f->lam, N, &f->info.n_clipped, err))) goto fail;
    f->V = K;
    return NTK_OK;
fail:
    free(chol);
    free(orig);
    free(f->chol);
    free(f->lam);
    free(f->alpha);
    f->lam = f->alpha = f->chol = NULL;
    return s;
}

ntk_status ntk_predictor_create(const double *kxx, size_t N, const double *y, size_t k, const double *f0,
                                const ntk_predict_opts *opts, ntk_predictor **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    ntk_predict_opts o = opts ? *opts : ntk_predict_opts_default();
    if (!kxx || !y || N == 0 || k == 0) return ntk_fail(err, NTK_E_SHAPE, "empty training set");
    if (!(o.lr > 0) || !isfinite(o.lr)) return ntk_fail(err, NTK_E_INVAL, "learning rate must be > 0, got %g", o.lr);
    if (!(o.ridge >= 0) || !isfinite(o.ridge)) return ntk_fail(err, NTK_E_INVAL, "ridge must be >= 0, got %g", o.ridge);
    ntk_status s;
    if ((s = ntk_check_finite(kxx, N, N, "training kernel", err))) return s;
    if ((s = ntk_check_finite(y, N, k, "targets", err))) return s;
    if (f0 && (s = ntk_check_finite(f0, N, k, "initial outputs", err))) return s;
    size_t bytes;
    if (ntk_mul_size(N, N, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_NOMEM, "a %zu x %zu kernel is too large", N, N);

    ntk_predictor *p = calloc(1, sizeof *p);
    if (!p) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    p->N = N;
    p->k = k;
    p->o = o;
    p->n_norm = (double)N * (double)k;
    p->V = malloc(bytes);
    p->c = malloc(N * k * sizeof *p->c);
    p->f0 = calloc(N * k, sizeof *p->f0);
    double *r = malloc(N * k * sizeof *r);
    if (!p->V || !p->c || !p->f0 || !r) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory factorizing a %zu x %zu kernel", N, N);
        goto fail;
    }
    if (f0) memcpy(p->f0, f0, N * k * sizeof *f0);
    for (size_t i = 0; i < N * k; i++) r[i] = y[i] - p->f0[i];

    memcpy(p->V, kxx, bytes); /* the factorization reads the upper triangle only */
    ntk_factor F;
    if ((s = ntk_factor_kernel(p->V, kxx, N, r, k, o.ridge, o.ridge_mode, o.auto_jitter, 1, &F, err))) goto fail;
    p->lam = F.lam;
    p->alpha = F.alpha;
    p->chol = F.chol;
    p->ridge_abs = F.ridge_abs;
    p->info = F.info;
    /* c = Vᵀ r */
    ntk_dgemm(CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, p->V, (int)N, r, (int)k, 0.0,
                p->c, (int)k);
    p->r = r;
    *out = p;
    return NTK_OK;
fail:
    free(r);
    ntk_predictor_free(p);
    return s;
}

/* g_t(λ) = (1 − e_t(λ))/λ (predict_internal.h). */
static double gfun(const ntk_predictor *p, double lam, double t)
{
    return ntk_predict_g(p->o.lr, p->n_norm, p->o.discrete, lam, t);
}

static ntk_status check_times(const ntk_predictor *p, const double *times, size_t n, ntk_error *err)
{
    for (size_t i = 0; i < n; i++) {
        double t = times[i];
        if (!(t >= 0)) return ntk_fail(err, NTK_E_INVAL, "time %g: times must be >= 0", t);
        if (isinf(t) && !p->info.cholesky_ok)
            return ntk_fail(err, NTK_E_NUMERIC,
                            "t = inf needs a positive definite training kernel, but it is singular to working "
                            "precision (smallest eigenvalue %.3g, largest %.3g): add a ridge or allow jitter",
                            p->info.lambda_min, p->info.lambda_max);
        if (p->o.discrete && isfinite(t) && t != floor(t))
            return ntk_fail(err, NTK_E_INVAL, "time %g: discrete gradient descent needs whole steps", t);
    }
    return NTK_OK;
}

ntk_status ntk_predict(const ntk_predictor *p, const double *kxt, size_t M, const double *f0t, const double *times,
                       size_t n_times, double *out, ntk_error *err)
{
    ntk_error_clear(err);
    size_t N = p->N, k = p->k;
    ntk_status s;
    if ((s = check_times(p, times, n_times, err))) return s;
    /* without kxt the rows are the N training points: a different M means
     * the caller sized `out` for something else */
    if (!kxt && M != N)
        return ntk_fail(err, NTK_E_SHAPE,
                        "no test-train kernel given, so the predictions are for the %zu training points, but M = %zu",
                        N, M);
    if (M == 0) return ntk_fail(err, NTK_E_SHAPE, "no test points");
    if (kxt && (s = ntk_check_finite(kxt, M, N, "test-train kernel", err))) return s;
    if (kxt && f0t && (s = ntk_check_finite(f0t, M, k, "initial test outputs", err))) return s;
    /* a finite time t: with W = diag(g_t)·c (N × k),
     *   f_t = base + kxt·(V·W)       (N²·k + M·N·k flops; k < M)
     *       = base + (kxt·V)·W       (M·N² once for all times, then M·N·k);
     * the choice depends on the shapes only, so the result at one time does
     * not depend on the other times asked for. Without kxt (training
     * points) f_t = base + V·diag((λ − ρ)·g_t)·c. */
    const int a_path = kxt && k >= M;
    int need = 0;
    for (size_t i = 0; i < n_times; i++) need |= isfinite(times[i]);
    double *W = malloc(N * k * sizeof *W), *u = NULL, *A = NULL;
    size_t bytes = 0;
    int bad = !W;
    if (!bad && need && kxt && !a_path) bad = !(u = malloc(N * k * sizeof *u));
    if (!bad && need && a_path) bad = ntk_mul_size(M, N, sizeof(double), &bytes) || !(A = malloc(bytes));
    if (bad) {
        free(W);
        free(u);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for the predictions of %zu points", M);
    }
    if (A)
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)N, 1.0, kxt, (int)N, p->V,
                    (int)N, 0.0, A, (int)N);
    const double *base = kxt ? f0t : p->f0;
    for (size_t ti = 0; ti < n_times; ti++) {
        double t = times[ti];
        double *o = out + ti * M * k;
        for (size_t i = 0; i < M * k; i++) o[i] = base ? base[i] : 0.0;
        if (isinf(t)) {
            if (kxt) {
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)M, (int)k, (int)N, 1.0, kxt, (int)N,
                            p->alpha, (int)k, 1.0, o, (int)k);
            } else {
                /* Θ·α = (Θ_reg − ρI)·α = r − ρ·α */
                for (size_t i = 0; i < N * k; i++) o[i] += p->r[i] - p->ridge_abs * p->alpha[i];
            }
            continue;
        }
        for (size_t j = 0; j < N; j++) {
            double g = gfun(p, p->lam[j], t);
            if (!kxt) g *= p->lam[j] - p->ridge_abs;
            for (size_t a = 0; a < k; a++) W[j * k + a] = g * p->c[j * k + a];
        }
        if (A) {
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)M, (int)k, (int)N, 1.0, A, (int)N, W, (int)k,
                        1.0, o, (int)k);
        } else if (kxt) {
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, p->V, (int)N, W,
                        (int)k, 0.0, u, (int)k);
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)M, (int)k, (int)N, 1.0, kxt, (int)N, u,
                        (int)k, 1.0, o, (int)k);
        } else {
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, p->V, (int)N, W,
                        (int)k, 1.0, o, (int)k);
        }
    }
    free(A);
    free(W);
    free(u);
    return NTK_OK;
}

ntk_status ntk_predict_cov(const ntk_predictor *p, const double *kxt, size_t M, const double *nngp_xx,
                           const double *nngp_xt, const double *nngp_tt, int diag_only, double t, double *cov,
                           ntk_error *err)
{
    ntk_error_clear(err);
    size_t N = p->N;
    ntk_status s;
    if ((s = check_times(p, &t, 1, err))) return s;
    if (!kxt || !nngp_xx || !nngp_xt || !nngp_tt) return ntk_fail(err, NTK_E_INVAL, "missing kernel blocks");
    if (M == 0) return ntk_fail(err, NTK_E_SHAPE, "no test points");
    if ((s = ntk_check_finite(kxt, M, N, "test-train kernel", err)) ||
        (s = ntk_check_finite(nngp_xx, N, N, "train NNGP", err)) ||
        (s = ntk_check_finite(nngp_xt, M, N, "test-train NNGP", err)) ||
        (s = ntk_check_finite(nngp_tt, M, diag_only ? 1 : M, "test NNGP", err)))
        return s;
    size_t bytes;
    if (ntk_mul_size(M, N, sizeof(double), &bytes)) return ntk_fail(err, NTK_E_NOMEM, "too large");
    double *T = malloc(bytes), *B = malloc(bytes), *Kr = NULL;
    size_t nb;
    ntk_mul_size(N, N, sizeof(double), &nb);
    Kr = malloc(nb);
    if (!T || !B || !Kr) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for the covariance");
        goto done;
    }
    if (isinf(t) && p->chol) {
        /* T = kxt·Θ_reg⁻¹ by the Cholesky factor, T·UᵀU = kxt: two
         * triangular solves from the right */
        memcpy(T, kxt, M * N * sizeof *T);
        ntk_dtrsm_right(CblasUpper, CblasNoTrans, CblasNonUnit, (int)M, (int)N, 1.0, p->chol,
                    (int)N, T, (int)N);
        ntk_dtrsm_right(CblasUpper, CblasTrans, CblasNonUnit, (int)M, (int)N, 1.0, p->chol,
                    (int)N, T, (int)N);
    } else {
        /* T = (kxt·V)·diag(g)·Vᵀ, g = 1/λ at t = ∞ when Θ_reg was certain
         * to be positive definite (no Cholesky factor then) */
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)N, 1.0, kxt, (int)N, p->V, (int)N,
                    0.0, B, (int)N);
        for (size_t j = 0; j < N; j++) {
            double g = isinf(t) ? 1.0 / p->lam[j] : gfun(p, p->lam[j], t);
            for (size_t i = 0; i < M; i++) B[i * N + j] *= g;
        }
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)M, (int)N, (int)N, 1.0, B, (int)N, p->V, (int)N, 0.0,
                    T, (int)N);
    }
    /* K(X,X) regularized like the predictor's kernel: the same ridge,
     * relative to K's own trace in the relative mode */
    double trK = 0;
    for (size_t i = 0; i < N; i++) trK += nngp_xx[i * N + i];
    double addK = p->o.ridge_mode == NTK_RIDGE_RELATIVE ? p->o.ridge * trK / (double)N : p->o.ridge;
    sym_copy(Kr, nngp_xx, N, addK);
    /* B = T·K_reg */
    ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)N, 1.0, T, (int)N, Kr, (int)N, 0.0, B,
                (int)N);
    if (diag_only) {
        for (size_t i = 0; i < M; i++) {
            double a = 0, b = 0;
            for (size_t j = 0; j < N; j++) {
                a += T[i * N + j] * nngp_xt[i * N + j];
                b += B[i * N + j] * T[i * N + j];
            }
            cov[i] = nngp_tt[i] - 2 * a + b;
        }
    } else {
        for (size_t i = 0; i < M * M; i++) cov[i] = nngp_tt[i];
        /* cov −= T·K(X,x*) + K(x*,X)·Tᵀ; cov += B·Tᵀ */
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)M, (int)M, (int)N, -1.0, T, (int)N, nngp_xt, (int)N,
                    1.0, cov, (int)M);
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)M, (int)M, (int)N, -1.0, nngp_xt, (int)N, T, (int)N,
                    1.0, cov, (int)M);
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)M, (int)M, (int)N, 1.0, B, (int)N, T, (int)N, 1.0,
                    cov, (int)M);
    }
done:
    free(T);
    free(B);
    free(Kr);
    return s;
}
