/*
 * predict.c — closed-form predictions of gradient descent / gradient flow
 * on MSE with a fixed kernel, kernel regression (t = ∞), ridge, and the
 * infinite-ensemble covariance (docs/math.md, "Training dynamics",
 * "Infinite ensembles and GPs"; neural-tangents predict.gradient_descent_mse
 * and gradient_descent_mse_ensemble conventions).
 *
 * One eigendecomposition Θ_reg = V·diag(λ)·Vᵀ (dsyevd) serves every time t:
 * with c = Vᵀ·(y − f0) and g_t(λ) = (1 − e_t(λ))/λ,
 *   f_t(x*) = f0(x*) + [Θ(x*,X)·V]·diag(g_t)·c,
 * so a new t costs O(M·N·k) once Θ(x*,X)·V is formed. t = ∞ uses the
 * Cholesky factor (dpotrf) of Θ_reg: α = Θ_reg⁻¹·(y − f0).
 * The training points are predicted as test points with Θ(X,X) = Θ_reg − ρ·I
 * (ρ the absolute ridge), i.e. V·diag((λ − ρ)·g_t)·c: the function the
 * kernel machine defines, which is y at t = ∞ when there is no ridge.
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

ntk_status ntk_factor_kernel(double *K, size_t N, const double *r, size_t k, double ridge, ntk_ridge_mode mode,
                             int auto_jitter, int keep_chol, ntk_factor *f, ntk_error *err)
{
    memset(f, 0, sizeof *f);
    size_t bytes = N * N * sizeof(double);
    double tr = 0;
    for (size_t i = 0; i < N; i++) tr += K[i * N + i];
    f->ridge_abs = mode == NTK_RIDGE_RELATIVE ? ridge * tr / (double)N : ridge;
    double *chol = malloc(bytes);
    f->lam = malloc(N * sizeof *f->lam);
    if (!chol || !f->lam) {
        free(chol);
        free(f->lam);
        f->lam = NULL;
        return ntk_fail(err, NTK_E_NOMEM, "out of memory factorizing a %zu x %zu kernel", N, N);
    }
    /* Cholesky first (t = ∞), with the automatic jitter schedule if asked:
     * 10ε … 1e-1 relative to the mean diagonal */
    double jitter = 0, unit = DBL_EPSILON * fabs(tr) / (double)N;
    ntk_status s = NTK_OK;
    for (int attempt = 0;; attempt++) {
        sym_copy(chol, K, N, f->ridge_abs + jitter);
        lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)N, chol, (lapack_int)N);
        if (info == 0) { f->info.cholesky_ok = 1; break; }
        if (info < 0) { s = ntk_fail(err, NTK_E_INTERNAL, "dpotrf: argument %d", (int)-info); goto fail; }
        if (!auto_jitter || attempt >= 14) break;
        jitter = unit * pow(10.0, attempt + 1);
    }
    if (f->info.cholesky_ok) {
        f->ridge_abs += jitter;
        f->info.jitter_added = jitter;
        if (!(f->alpha = malloc(N * k * sizeof *f->alpha))) { s = ntk_fail(err, NTK_E_NOMEM, "out of memory"); goto fail; }
        memcpy(f->alpha, r, N * k * sizeof *r);
        LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)N, (lapack_int)k, chol, (lapack_int)N, f->alpha, (lapack_int)k);
    }
    if (keep_chol && f->info.cholesky_ok) f->chol = chol;
    else free(chol);
    chol = NULL;
    f->info.ridge_added = f->ridge_abs;
    for (size_t i = 0; i < N; i++) K[i * N + i] += f->ridge_abs;
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)N, K, (lapack_int)N, f->lam);
    if (info != 0) {
        s = ntk_fail(err, NTK_E_NUMERIC, "eigendecomposition of the training kernel failed (LAPACK dsyevd info %d)",
                     (int)info);
        goto fail;
    }
    f->info.lambda_min = f->lam[0];
    f->info.lambda_max = f->lam[N - 1];
    double tol = 100.0 * (double)N * DBL_EPSILON * fabs(f->lam[N - 1]);
    if (f->lam[0] < -tol) {
        s = ntk_fail(err, NTK_E_NUMERIC,
                     "the training kernel is not positive semidefinite: smallest eigenvalue %.6g, largest %.6g "
                     "(beyond rounding; a ridge of at least %.3g would make it positive definite)",
                     f->lam[0], f->lam[N - 1], -f->lam[0]);
        goto fail;
    }
    for (size_t i = 0; i < N; i++)
        if (f->lam[i] < 0) {
            f->lam[i] = 0;
            f->info.n_clipped++;
        }
    f->V = K;
    return NTK_OK;
fail:
    free(chol);
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

    sym_copy(p->V, kxx, N, 0.0);
    ntk_factor F;
    if ((s = ntk_factor_kernel(p->V, N, r, k, o.ridge, o.ridge_mode, o.auto_jitter, 1, &F, err))) goto fail;
    p->lam = F.lam;
    p->alpha = F.alpha;
    p->chol = F.chol;
    p->ridge_abs = F.ridge_abs;
    p->info = F.info;
    /* c = Vᵀ r */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, p->V, (int)N, r, (int)k, 0.0,
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
    double *A = NULL, *W = malloc(N * k * sizeof *W);
    if (!W) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    int need_A = 0;
    for (size_t i = 0; i < n_times; i++) need_A |= isfinite(times[i]);
    if (kxt && need_A) {
        size_t bytes;
        if (ntk_mul_size(M, N, sizeof(double), &bytes) || !(A = malloc(bytes))) {
            free(W);
            return ntk_fail(err, NTK_E_NOMEM, "out of memory for a %zu x %zu product", M, N);
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)N, 1.0, kxt, (int)N, p->V,
                    (int)N, 0.0, A, (int)N);
    }
    for (size_t ti = 0; ti < n_times; ti++) {
        double t = times[ti];
        double *o = out + ti * M * k;
        const double *base = kxt ? f0t : p->f0;
        for (size_t i = 0; i < M * k; i++) o[i] = base ? base[i] : 0.0;
        if (isinf(t)) {
            if (kxt) {
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)k, (int)N, 1.0, kxt, (int)N,
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
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)k, (int)N, 1.0, kxt ? A : p->V, (int)N, W,
                    (int)k, 1.0, o, (int)k);
    }
    free(A);
    free(W);
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
    if (isinf(t)) {
        /* Tᵀ = Θ_reg⁻¹·kxtᵀ via the Cholesky factor */
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) B[j * M + i] = kxt[i * N + j];
        LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)N, (lapack_int)M, p->chol, (lapack_int)N, B, (lapack_int)M);
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) T[i * N + j] = B[j * M + i];
    } else {
        /* T = (kxt·V)·diag(g)·Vᵀ */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)N, 1.0, kxt, (int)N, p->V, (int)N,
                    0.0, B, (int)N);
        for (size_t j = 0; j < N; j++) {
            double g = gfun(p, p->lam[j], t);
            for (size_t i = 0; i < M; i++) B[i * N + j] *= g;
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)N, 1.0, B, (int)N, p->V, (int)N, 0.0,
                    T, (int)N);
    }
    /* K(X,X) regularized like the predictor's kernel: the same ridge,
     * relative to K's own trace in the relative mode */
    double trK = 0;
    for (size_t i = 0; i < N; i++) trK += nngp_xx[i * N + i];
    double addK = p->o.ridge_mode == NTK_RIDGE_RELATIVE ? p->o.ridge * trK / (double)N : p->o.ridge;
    sym_copy(Kr, nngp_xx, N, addK);
    /* B = T·K_reg */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)N, 1.0, T, (int)N, Kr, (int)N, 0.0, B,
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
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)M, (int)N, -1.0, T, (int)N, nngp_xt, (int)N,
                    1.0, cov, (int)M);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)M, (int)N, -1.0, nngp_xt, (int)N, T, (int)N,
                    1.0, cov, (int)M);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)M, (int)N, 1.0, B, (int)N, T, (int)N, 1.0,
                    cov, (int)M);
    }
done:
    free(T);
    free(B);
    free(Kr);
    return s;
}
