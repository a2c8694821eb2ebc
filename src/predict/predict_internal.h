/*
 * predict_internal.h — pieces shared by the prediction engine (predict.c)
 * and kernel models (model.c): the spectral filter g_t of gradient flow /
 * gradient descent on MSE, and fitting a model from kernels already
 * computed (for tests, which inject kernels of their own).
 */
#ifndef NTK_PREDICT_INTERNAL_H
#define NTK_PREDICT_INTERNAL_H

#include "core/internal.h"

#include <math.h>

/* g_t(λ) = (1 − e_t(λ))/λ with e_t(λ) = exp(−η·t·λ/n) (gradient flow; expm1
 * keeps small λt accurate) or (1 − η·λ/n)^t (discrete GD, t whole steps);
 * the limit η·t/n at λ = 0. n = N·k, the MSE normalisation. */
static inline double ntk_predict_g(double lr, double n_norm, int discrete, double lam, double t)
{
    double x = lr * lam / n_norm; /* rate per unit time */
    double one_minus_e;           /* 1 − e_t(λ) */
    if (lam == 0) return lr * t / n_norm;
    if (discrete)
        one_minus_e = x < 1 ? -expm1(t * log1p(-x)) : 1.0 - pow(1.0 - x, t);
    else
        one_minus_e = -expm1(-x * t);
    return one_minus_e / lam;
}

/* K (N × N row-major; only its upper triangle is read) = V·diag(λ)·Vᵀ by
 * dsyevd, V overwriting K (column j = eigenvector j), λ ascending in lam. */
ntk_status ntk_eigen_sym(double *K, size_t N, double *lam, ntk_error *err);
/* The PSD check and clipping of ascending eigenvalues (N ≥ 1): an
 * eigenvalue below −100·N·ε·|λ_max| is refused (NTK_E_NUMERIC naming it);
 * tinier negative ones are set to 0 and added to *n_clipped. */
ntk_status ntk_eigen_clip(double *lam, size_t N, size_t *n_clipped, ntk_error *err);

/* The factorization behind ntk_predictor_create and model fits. K (N × N,
 * row-major; only its upper triangle is read) gets the ridge ρ
 * (ridge·tr(K)/N or absolute); K + ρI = V·diag(λ)·Vᵀ by dsyevd with V
 * overwriting K (f->V = K). When κ₂(K + ρI) < 1/(20·N^2.5·ε), Cholesky is
 * certain to succeed and is skipped: α = V·diag(1/λ)·Vᵀ·r. Otherwise
 * Cholesky decides t = ∞ (with auto_jitter, after the smallest jitter
 * 10^j·ε·tr(K)/N that lets it succeed, which shifts every λ): α =
 * (K + ρI)⁻¹·r (N × k) when it works, and keep_chol keeps its factor
 * (upper, row-major) in f->chol. An eigenvalue below −100·N·ε·λ_max is
 * refused as not PSD; tinier negative ones are clipped to 0 and counted.
 * K0, when not NULL, is an untouched copy of K the caller keeps (only
 * read, if Cholesky runs); without it K is copied first. On failure
 * nothing is left allocated. */
typedef struct {
    double *V, *lam, *alpha, *chol;
    double ridge_abs;
    ntk_predict_info info;
} ntk_factor;
ntk_status ntk_factor_kernel(double *K, const double *K0, size_t N, const double *r, size_t k, double ridge,
                             ntk_ridge_mode mode, int auto_jitter, int keep_chol, ntk_factor *f, ntk_error *err);

/* ntk_model_fit after the kernel: x (N × d) is the scaled input the kernel
 * saw; kxx (N × N, symmetric, the model's kernel) and nngp_xx (N × N, the
 * train NNGP for variances of an NTK model, or NULL) are malloc'd blocks
 * the call takes over (freed on failure too); kxx is factorized in place.
 * kernel_seconds is recorded in the info. */
ntk_status ntk_model_fit_kernels(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                 size_t d, const double *y, size_t k, double *kxx, double *nngp_xx,
                                 double kernel_seconds, ntk_model **out, ntk_error *err);

/* ntk_model_fit_kernel without the copies: kxx and nngp_xx (N × N, or
 * NULL) are malloc'd blocks the call takes over (freed on failure too);
 * kname/nname name them in messages and meta.txt (NULL: defaults). */
ntk_status ntk_model_fit_kernel_owned(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                      size_t d, const double *y, size_t k, double *kxx, double *nngp_xx,
                                      const char *kname, const char *nname, ntk_model **out, ntk_error *err);

/* ntk_model_save staged in the output set o (NULL: written on its own, as
 * ntk_model_save): the model appears only with the set's commit, and any
 * failure dooms the set. The arrays are written when staged; the model may
 * be freed before the commit. */
ntk_status ntk_model_save_to(ntk_outputs *o, const ntk_model *m, const char *path, ntk_error *err);

/* Columns of V_B·diag(√w) per block in ntk_select_eval's cross-validation
 * (0 = automatic, 1024), so that tests cross block boundaries with few
 * points. */
void ntk_select_set_cv_cols(ntk_select *s, size_t cols);

/* Test rows per block in ntk_model_predict (0 = automatic: rows·N ≤ 2^24),
 * so that tests can cross block boundaries with few points. */
void ntk_model_set_block_rows(ntk_model *m, size_t rows);

#endif
