/*
 * select.c — model selection for kernel ridge regression from one
 * eigendecomposition (include/ntk.h, "model selection"): leave-one-out and
 * k-fold cross-validation residuals, and the GP log marginal likelihood
 * (with and without a fitted kernel scale), for any number of ridges.
 *
 * With K = V·diag(λ)·Vᵀ (dsyevd and the clipping of predict.c:
 * ntk_eigen_sym, ntk_eigen_clip), c = Vᵀ·Y, and for a ridge ρ the weights
 * w_j = 1/(λ_j + ρ), so that G⁻¹ = (K + ρI)⁻¹ = V·diag(w)·Vᵀ:
 *   α = G⁻¹·Y = V·(w ⊙ c)                          N²·k per ridge
 *   (G⁻¹)_ii = Σ_j V_ij²·w_j   (all ridges: (V∘V)·[w_1 … w_R], one product)
 *   LOO:  e_i = α_i / (G⁻¹)_ii
 *   CV:   e_B = ((G⁻¹)_BB)⁻¹·α_B,  (G⁻¹)_BB = P·Pᵀ with P = V_B·diag(√w)
 *         (Cholesky of the |B| × |B| block; N·|B|² per fold)
 *   yᵀG⁻¹y = Σ_j w_j·c_j²,  log|G| = Σ_j log(λ_j + ρ).
 * Why these hold (block inverse): for G = [[G_BB, G_BR], [G_RB, G_RR]] and
 * H = G⁻¹, H_BB = (G_BB − G_BR·G_RR⁻¹·G_RB)⁻¹ and H_BR = −H_BB·G_BR·G_RR⁻¹,
 * so α_B = H_BB·y_B + H_BR·y_R = H_BB·(y_B − G_BR·G_RR⁻¹·y_R): the
 * residual of fold B under the ridge model fitted on the rest (whose
 * off-diagonal kernel blocks are K's) is H_BB⁻¹·α_B; |B| = 1 is LOO.
 *
 * Accuracy: the computed V, λ are exact for K + E with ‖E‖ ~ N·ε·‖K‖, so
 * G⁻¹ and everything above carry a relative error of order κ₂(G)·N·ε
 * (e.g. |δ(G⁻¹)_ii| ≤ ‖E‖·‖G⁻¹e_i‖² ≤ κ₂·(‖E‖/‖G‖)·(G⁻¹)_ii). A ridge
 * whose estimate exceeds max_err is reported unreliable, its criteria NaN.
 */
#include "predict/predict_internal.h"

#include "core/blas.h"
#include "net/net_internal.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BLOCK 256                 /* rows of V∘V formed at a time          */
#define CHUNK_ELEMS ((size_t)1 << 22) /* LOO: ridges per pass, N·R·k ≤ this    */
#define CV_COLS 1024                  /* CV: columns of V_B·diag(√w) at a time (default) */

struct ntk_select {
    size_t N, k;
    double *V;   /* N × N eigenvectors of K, column j = eigenvector j */
    double *lam; /* N eigenvalues, ascending, clipped to ≥ 0          */
    double *c;   /* N × k: Vᵀ·Y                                       */
    double tr;   /* tr(K), for relative ridges                        */
    ntk_predict_info info;
    size_t cv_cols; /* CV column block; 0 = CV_COLS                   */
};

ntk_select_opts ntk_select_opts_default(void)
{
    ntk_select_opts o;
    memset(&o, 0, sizeof o);
    o.ridge_mode = NTK_RIDGE_RELATIVE;
    o.loo = 1;
    o.mll = 1;
    o.max_err = 1e-2;
    return o;
}

void ntk_select_free(ntk_select *s)
{
    if (!s) return;
    free(s->V);
    free(s->lam);
    free(s->c);
    free(s);
}

void ntk_select_info(const ntk_select *s, ntk_predict_info *info) { *info = s->info; }
void ntk_select_set_cv_cols(ntk_select *s, size_t cols) { s->cv_cols = cols; }

ntk_status ntk_select_create(const double *K, size_t N, const double *Y, size_t k, const ntk_select_opts *opts,
                             ntk_select **out, ntk_error *err)
{
    ntk_error_clear(err);
    if (!out) return ntk_fail(err, NTK_E_INVAL, "ntk_select_create: out must not be NULL");
    *out = NULL;
    if (!K || !Y) return ntk_fail(err, NTK_E_INVAL, "ntk_select_create: missing kernel or targets");
    if (N == 0) return ntk_fail(err, NTK_E_SHAPE, "empty training set");
    if (k == 0) return ntk_fail(err, NTK_E_SHAPE, "targets have no columns");
    const ntk_progress *pg = opts ? &opts->progress : NULL;
    ntk_status st;
    size_t bytes;
    if (ntk_mul_size(N, N, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_NOMEM, "a %zu x %zu kernel is too large", N, N);
    if ((st = ntk_check_finite(K, N, N, "training kernel", err))) return st;
    if ((st = ntk_check_finite(Y, N, k, "targets", err))) return st;
    ntk_select *s = calloc(1, sizeof *s);
    if (!s) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    s->N = N;
    s->k = k;
    s->V = malloc(bytes);
    s->lam = malloc(N * sizeof *s->lam);
    s->c = malloc(N * k * sizeof *s->c);
    if (!s->V || !s->lam || !s->c) {
        st = ntk_fail(err, NTK_E_NOMEM, "out of memory for the eigendecomposition of a %zu x %zu kernel", N, N);
        goto fail;
    }
    memcpy(s->V, K, bytes);
    for (size_t i = 0; i < N; i++) s->tr += K[i * N + i];
    if (ntk_progress_report(pg, "eigendecomposition", 0, 1)) {
        st = ntk_fail(err, NTK_E_CANCELED, "canceled");
        goto fail;
    }
    if ((st = ntk_eigen_sym(s->V, N, s->lam, err))) goto fail;
    s->info.lambda_min = s->lam[0];
    s->info.lambda_max = s->lam[N - 1];
    if ((st = ntk_eigen_clip(s->lam, N, &s->info.n_clipped, err))) goto fail;
    ntk_dgemm(CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, s->V, (int)N, Y, (int)k, 0.0, s->c, (int)k);
    if (ntk_progress_report(pg, "eigendecomposition", 1, 1)) {
        st = ntk_fail(err, NTK_E_CANCELED, "canceled");
        goto fail;
    }
    *out = s;
    return NTK_OK;
fail:
    ntk_select_free(s);
    return st;
}

/* ------------------------------------------------------------ folds */

/* The SplitMix64 stream of the seed: draw c (c = 1, 2, ...) is
 * mix(seed + c·φ) = net_seed_key(seed + (c − 1)·φ), φ = 0x9E3779B97F4A7C15
 * (the generator behind ntk_net_init and the minibatch order). */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = net_seed_key(*state);
    *state += 0x9E3779B97F4A7C15ull;
    return z;
}

ntk_status ntk_select_folds(size_t N, size_t folds, uint64_t seed, size_t *fold_of, ntk_error *err)
{
    ntk_error_clear(err);
    if (!fold_of) return ntk_fail(err, NTK_E_INVAL, "ntk_select_folds: fold_of must not be NULL");
    if (folds < 2 || folds > N)
        return ntk_fail(err, NTK_E_INVAL, "cross-validation needs 2 to N = %zu folds, got %zu", N, folds);
    size_t *perm = malloc(N * sizeof *perm);
    if (!perm) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < N; i++) perm[i] = i;
    uint64_t state = seed;
    for (size_t i = N - 1; i > 0; i--) {
        /* j uniform in [0, i]: the high word of a 64 × 64-bit product */
        size_t j = (size_t)(((unsigned __int128)splitmix64(&state) * (unsigned __int128)(i + 1)) >> 64);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t p = 0; p < N; p++) fold_of[perm[p]] = p % folds;
    free(perm);
    return NTK_OK;
}

/* ------------------------------------------------------------ evaluation */

static ntk_status check_eval(const ntk_select *s, const double *ridges, size_t n, const ntk_select_opts *o,
                             ntk_error *err)
{
    if (o->ridge_mode != NTK_RIDGE_RELATIVE && o->ridge_mode != NTK_RIDGE_ABSOLUTE)
        return ntk_fail(err, NTK_E_INVAL, "unknown ridge mode %d", (int)o->ridge_mode);
    if (!(o->max_err > 0) || !isfinite(o->max_err))
        return ntk_fail(err, NTK_E_INVAL, "max_err must be a finite number > 0, got %g", o->max_err);
    for (size_t r = 0; r < n; r++)
        if (!(ridges[r] >= 0) || !isfinite(ridges[r]))
            return ntk_fail(err, NTK_E_INVAL, "ridge %zu: must be a finite number >= 0, got %g", r + 1, ridges[r]);
    if (o->folds == 1 || o->folds > s->N)
        return ntk_fail(err, NTK_E_INVAL, "cross-validation needs 2 to N = %zu folds, got %zu", s->N, o->folds);
    if (o->folds && o->fold_of) {
        for (size_t i = 0; i < s->N; i++)
            if (o->fold_of[i] >= o->folds)
                return ntk_fail(err, NTK_E_INVAL, "point %zu: fold %zu, but there are %zu folds (0 to %zu)", i + 1,
                                o->fold_of[i], o->folds, o->folds - 1);
    }
    return NTK_OK;
}

static ntk_status canceled(ntk_error *err) { return ntk_fail(err, NTK_E_CANCELED, "canceled"); }

/* Leave-one-out for the reliable ridges (w: N × n weights, column r =
 * 1/(λ + ρ_r), zero for unreliable ridges), in chunks of ridges. */
static ntk_status eval_loo(const ntk_select *s, const double *w, size_t n, const ntk_select_opts *o,
                           ntk_select_result *res, double *resid, ntk_error *err)
{
    const size_t N = s->N, k = s->k;
    size_t rc = CHUNK_ELEMS / (N * k);
    if (rc < 1) rc = 1;
    if (rc > n) rc = n;
    size_t rb = ROW_BLOCK < N ? ROW_BLOCK : N;
    double *W = malloc(N * rc * sizeof *W), *D = malloc(N * rc * sizeof *D), *S = malloc(rb * N * sizeof *S);
    double *Cw = malloc(N * rc * k * sizeof *Cw), *A = malloc(N * rc * k * sizeof *A);
    ntk_status st = NTK_OK;
    if (!W || !D || !S || !Cw || !A) {
        st = ntk_fail(err, NTK_E_NOMEM, "out of memory for leave-one-out (N = %zu, k = %zu)", N, k);
        goto done;
    }
    for (size_t r0 = 0; r0 < n; r0 += rc) {
        size_t m = n - r0 < rc ? n - r0 : rc;
        if (ntk_progress_report(&o->progress, "loo", (double)r0, (double)n)) {
            st = canceled(err);
            goto done;
        }
        /* W (N × m), Cw (N × m·k) = W_jr·c_ja */
        for (size_t j = 0; j < N; j++)
            for (size_t r = 0; r < m; r++) {
                double wj = w[j * n + r0 + r];
                W[j * m + r] = wj;
                for (size_t a = 0; a < k; a++) Cw[(j * m + r) * k + a] = wj * s->c[j * k + a];
            }
        /* D = (V∘V)·W, by row blocks of V∘V; A = V·Cw (α of every ridge) */
        for (size_t i0 = 0; i0 < N; i0 += rb) {
            size_t b = N - i0 < rb ? N - i0 : rb;
            for (size_t i = 0; i < b * N; i++) S[i] = s->V[i0 * N + i] * s->V[i0 * N + i];
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)m, (int)N, 1.0, S, (int)N, W, (int)m, 0.0,
                      D + i0 * m, (int)m);
        }
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)N, (int)(m * k), (int)N, 1.0, s->V, (int)N, Cw, (int)(m * k), 0.0,
                  A, (int)(m * k));
        for (size_t r = 0; r < m; r++) {
            ntk_select_result *R = &res[r0 + r];
            double *e = resid ? resid + (r0 + r) * N * k : NULL;
            if (!R->reliable) {
                if (e)
                    for (size_t i = 0; i < N * k; i++) e[i] = NAN;
                continue;
            }
            double sse = 0;
            for (size_t i = 0; i < N; i++) {
                double d = D[i * m + r]; /* ≥ 1/(λ_max + ρ) > 0 */
                for (size_t a = 0; a < k; a++) {
                    double ei = A[(i * m + r) * k + a] / d;
                    sse += ei * ei;
                    if (e) e[i * k + a] = ei;
                }
            }
            R->loo_mse = sse / ((double)N * (double)k);
        }
    }
    if (ntk_progress_report(&o->progress, "loo", (double)n, (double)n)) st = canceled(err);
done:
    free(W);
    free(D);
    free(S);
    free(Cw);
    free(A);
    return st;
}

/* k-fold cross-validation for the reliable ridges. */
static ntk_status eval_cv(const ntk_select *s, const double *w, size_t n, const ntk_select_opts *o,
                          ntk_select_result *res, double *resid, ntk_error *err)
{
    const size_t N = s->N, k = s->k, F = o->folds;
    size_t *fold = o->fold_of ? NULL : malloc(N * sizeof *fold);
    size_t *start = calloc(F + 1, sizeof *start), *idx = malloc(N * sizeof *idx);
    double *alpha = malloc(N * k * sizeof *alpha), *Cw = malloc(N * k * sizeof *Cw), *sw = malloc(N * sizeof *sw);
    double *P = NULL, *H = NULL, *B = NULL;
    ntk_status st = NTK_OK;
    if ((!o->fold_of && !fold) || !start || !idx || !alpha || !Cw || !sw) {
        st = ntk_fail(err, NTK_E_NOMEM, "out of memory for cross-validation");
        goto done;
    }
    if (!o->fold_of && (st = ntk_select_folds(N, F, o->seed, fold, err))) goto done;
    const size_t *fo = o->fold_of ? o->fold_of : fold;
    /* the points of each fold, in increasing order: idx[start[f] .. start[f+1]) */
    for (size_t i = 0; i < N; i++) start[fo[i] + 1]++;
    size_t mmax = 0;
    for (size_t f = 0; f < F; f++) {
        if (start[f + 1] == 0) {
            st = ntk_fail(err, NTK_E_INVAL, "fold %zu of %zu has no points", f, F);
            goto done;
        }
        if (start[f + 1] > mmax) mmax = start[f + 1];
        start[f + 1] += start[f];
    }
    {
        size_t *pos = malloc(F * sizeof *pos);
        if (!pos) {
            st = ntk_fail(err, NTK_E_NOMEM, "out of memory");
            goto done;
        }
        memcpy(pos, start, F * sizeof *pos);
        for (size_t i = 0; i < N; i++) idx[pos[fo[i]]++] = i;
        free(pos);
    }
    const size_t cols = s->cv_cols ? s->cv_cols : CV_COLS, cb = cols < N ? cols : N;
    P = malloc(mmax * cb * sizeof *P);
    H = malloc(mmax * mmax * sizeof *H);
    B = malloc(mmax * k * sizeof *B);
    if (!P || !H || !B) {
        st = ntk_fail(err, NTK_E_NOMEM, "out of memory for cross-validation folds of %zu points", mmax);
        goto done;
    }
    for (size_t r = 0; r < n; r++) {
        ntk_select_result *R = &res[r];
        double *e = resid ? resid + r * N * k : NULL;
        if (e)
            for (size_t i = 0; i < N * k; i++) e[i] = NAN;
        if (!R->reliable) continue;
        /* α = V·(w ⊙ c) */
        for (size_t j = 0; j < N; j++) {
            sw[j] = sqrt(w[j * n + r]);
            for (size_t a = 0; a < k; a++) Cw[j * k + a] = w[j * n + r] * s->c[j * k + a];
        }
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, s->V, (int)N, Cw, (int)k, 0.0, alpha,
                  (int)k);
        double sse = 0;
        int ok = 1;
        for (size_t f = 0; f < F && ok; f++) {
            if (ntk_progress_report(&o->progress, "cv", (double)(r * F + f), (double)(n * F))) {
                st = canceled(err);
                goto done;
            }
            size_t m = start[f + 1] - start[f];
            const size_t *ib = idx + start[f];
            /* (G⁻¹)_BB = P·Pᵀ (upper triangle), P = V_B·diag(√w) (m × N),
             * summed over blocks of cb columns (memory m·cb, not m·N) */
            for (size_t j0 = 0; j0 < N; j0 += cb) {
                size_t c = N - j0 < cb ? N - j0 : cb;
                for (size_t p = 0; p < m; p++)
                    for (size_t j = 0; j < c; j++) P[p * c + j] = s->V[ib[p] * N + j0 + j] * sw[j0 + j];
                ntk_dsyrk_upper((int)m, (int)c, 1.0, P, (int)c, j0 ? 1.0 : 0.0, H, (int)m);
            }
            /* column-major 'L' on the row-major upper triangle; right-hand
             * sides α_B column-major (m × k) */
            for (size_t p = 0; p < m; p++)
                for (size_t a = 0; a < k; a++) B[a * m + p] = alpha[ib[p] * k + a];
            lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)m, H, (lapack_int)m);
            if (info == 0)
                info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int)m, (lapack_int)k, H, (lapack_int)m, B,
                                      (lapack_int)m);
            if (info < 0) {
                st = ntk_fail(err, NTK_E_INTERNAL, "dpotrf/dpotrs: argument %d", (int)-info);
                goto done;
            }
            if (info > 0) { /* (G⁻¹)_BB not positive definite to working precision */
                ok = 0;
                break;
            }
            for (size_t p = 0; p < m; p++)
                for (size_t a = 0; a < k; a++) {
                    double ei = B[a * m + p];
                    sse += ei * ei;
                    if (e) e[ib[p] * k + a] = ei;
                }
        }
        if (ok) R->cv_mse = sse / ((double)N * (double)k);
        else if (e)
            for (size_t i = 0; i < N * k; i++) e[i] = NAN;
    }
    if (ntk_progress_report(&o->progress, "cv", (double)(n * F), (double)(n * F))) st = canceled(err);
done:
    free(fold);
    free(start);
    free(idx);
    free(alpha);
    free(Cw);
    free(sw);
    free(P);
    free(H);
    free(B);
    return st;
}

/* The log marginal likelihoods, O(N·k) per ridge. */
static void eval_mll(const ntk_select *s, size_t n, ntk_select_result *res)
{
    const size_t N = s->N, k = s->k;
    const double nk = (double)N * (double)k, log2pi = log(2.0 * M_PI);
    for (size_t r = 0; r < n; r++) {
        ntk_select_result *R = &res[r];
        if (!R->reliable) continue;
        double quad = 0, logdet = 0;
        for (size_t j = 0; j < N; j++) {
            double g = s->lam[j] + R->ridge_abs, q = 0;
            for (size_t a = 0; a < k; a++) q += s->c[j * k + a] * s->c[j * k + a];
            quad += q / g;
            logdet += log(g);
        }
        R->log_ml = -0.5 * quad - 0.5 * (double)k * logdet - 0.5 * nk * log2pi;
        R->sigma2 = quad / nk;
        R->log_ml_scaled = -0.5 * nk * (log(2.0 * M_PI * R->sigma2) + 1.0) - 0.5 * (double)k * logdet;
    }
}

/* ------------------------------------------------------------ memory */

/* The peak of ntk_select_create and ntk_select_eval, in doubles, as they
 * allocate: the object (V, λ, c = N² + N + N·k) lives throughout;
 * creating it adds dsyevd's workspace (LAPACKE's query for jobz = 'V':
 * 1 + 6N + 2N² doubles and 3 + 5N ints); evaluating adds w (N·n) and then
 * either the LOO chunk (W, D: N·rc; S: rb·N; Cw, A: N·rc·k) or the CV
 * buffers (folds, α, Cw, √w: ~4N + 2N·k; P: m·cb, H: m², B: m·k for the
 * largest fold m), one after the other. */
size_t ntk_select_bytes(size_t N, size_t k, size_t n_ridges, const ntk_select_opts *opts)
{
    ntk_select_opts o = opts ? *opts : ntk_select_opts_default();
    const double n = (double)N, kk = (double)k, nn = n * n;
    const double obj = nn + n + n * kk;
    const double create = obj + 1 + 6 * n + 2 * nn + (3 + 5 * n) / 2;
    double loo = 0, cv = 0;
    if (o.loo && N && k) {
        size_t rc = CHUNK_ELEMS / (N * k);
        if (rc < 1) rc = 1;
        if (rc > n_ridges) rc = n_ridges;
        const double r = (double)rc, rb = (double)(ROW_BLOCK < N ? ROW_BLOCK : N);
        loo = 2 * n * r + rb * n + 2 * n * r * kk;
    }
    if (o.folds >= 2 && o.folds <= N) {
        /* shuffled folds differ by at most one point; one's own may hold all but folds − 1 */
        const double m = o.fold_of ? n - (double)o.folds + 1 : ceil(n / (double)o.folds);
        const double cb = (double)(CV_COLS < N ? CV_COLS : N);
        cv = 4 * n + 2 * n * kk + (double)o.folds + 1 + m * cb + m * m + m * kk;
    }
    const double eval = obj + n * (double)n_ridges + (loo > cv ? loo : cv);
    const double b = 8.0 * (create > eval ? create : eval);
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

ntk_status ntk_select_eval(const ntk_select *s, const double *ridges, size_t n, const ntk_select_opts *opts,
                           ntk_select_result *res, double *loo_resid, double *cv_resid, ntk_error *err)
{
    ntk_error_clear(err);
    if (!s || !res || (n && !ridges)) return ntk_fail(err, NTK_E_INVAL, "ntk_select_eval: missing arguments");
    ntk_select_opts o = opts ? *opts : ntk_select_opts_default();
    ntk_status st;
    if ((st = check_eval(s, ridges, n, &o, err))) return st;
    if (n == 0) return NTK_OK;
    const size_t N = s->N;
    const double lmin = s->lam[0], lmax = s->lam[N - 1];
    double *w = malloc(N * n * sizeof *w); /* N × n: w_jr = 1/(λ_j + ρ_r), 0 when unreliable */
    if (!w) return ntk_fail(err, NTK_E_NOMEM, "out of memory for %zu ridges", n);
    for (size_t r = 0; r < n; r++) {
        ntk_select_result *R = &res[r];
        R->ridge = ridges[r];
        R->ridge_abs = o.ridge_mode == NTK_RIDGE_RELATIVE ? ridges[r] * s->tr / (double)N : ridges[r];
        double lo = lmin + R->ridge_abs, hi = lmax + R->ridge_abs;
        R->cond = lo > 0 ? hi / lo : INFINITY;
        R->err_est = R->cond * (double)N * DBL_EPSILON;
        R->reliable = R->err_est <= o.max_err;
        R->loo_mse = R->cv_mse = R->log_ml = R->log_ml_scaled = R->sigma2 = NAN;
        for (size_t j = 0; j < N; j++) w[j * n + r] = R->reliable ? 1.0 / (s->lam[j] + R->ridge_abs) : 0.0;
    }
    st = NTK_OK;
    if (o.loo && (st = eval_loo(s, w, n, &o, res, loo_resid, err))) goto done;
    if (o.folds >= 2 && (st = eval_cv(s, w, n, &o, res, cv_resid, err))) goto done;
    if (o.mll) {
        if (ntk_progress_report(&o.progress, "mll", 0, (double)n)) {
            st = canceled(err);
            goto done;
        }
        eval_mll(s, n, res);
        if (ntk_progress_report(&o.progress, "mll", (double)n, (double)n)) st = canceled(err);
    }
done:
    free(w);
    return st;
}
