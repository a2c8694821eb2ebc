/*
 * model.c — kernel models: fit once, predict many (include/ntk.h, "kernel
 * models"; docs/math.md, "Training dynamics" and "Infinite ensembles").
 *
 * Fitting computes the training kernel K (NTK or NNGP; and for an NTK model
 * the train NNGP, for variances), then factorizes K_reg = K + ρ·I exactly
 * as ntk_predictor_create does: Cholesky for α = K_reg⁻¹·Y (t = ∞), then
 * the eigendecomposition K_reg = V·diag(λ)·Vᵀ in place of K, c = Vᵀ·Y. The
 * same ridge, jitter schedule, PSD tolerance and LAPACK calls make a model
 * and a predictor of the same kernel hold the same factorization to the
 * last bit; their predictions differ only by how the products are blocked.
 * With inf_only the eigendecomposition is skipped and the Cholesky factor
 * is computed in place (column-major 'L' on the row-major buffer is the
 * row-major upper triangle, so LAPACKE makes no N×N copy, and the strict
 * lower triangle keeps K for the jitter retries).
 *
 * Predicting (ensemble mean, f0 = 0), per block of test rows, with
 * ntk_dgemm (products that do not depend on the thread count):
 *   A = K(x*,X)·V;  f_t = A·diag(g_t)·c;  f_∞ = K(x*,X)·α.
 * Variances: with T = A·diag(g)·Vᵀ (g = 1/λ at t = ∞),
 *   var = K(x*,x*) − 2·rowsum(T ⊙ K(x*,X)) + rowsum((T·K_reg(X,X)) ⊙ T)
 * with the NNGP blocks (ntk_predict_cov's diagonal). For an NNGP model
 * K_reg(X,X) = V·diag(λ − jitter)·Vᵀ, so T never has to be formed:
 *   var = K(x*,x*) − 2·Σ_j A_ij² g_j + Σ_j A_ij² g_j² (λ_j − jitter).
 *
 * The file (see ntk.h) carries two FNV-1a 64 checksums: of the training
 * data (x, y) and of the fit (the meta values, the canonical spec and the
 * other arrays). The npz CRC-32s catch corruption; these catch a file that
 * was edited and re-zipped, whose arrays no longer belong together.
 */
#include "predict/predict_internal.h"

#include "core/blas.h"
#include "io/io_internal.h"

#include <cblas.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <lapacke.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORMAT_NAME "ntk-model"
#define FORMAT_VERSION 1
#define BLOCK_ELEMS ((size_t)1 << 24) /* test rows per block: rows·N ≤ this (128 MiB a buffer) */
#define NPZ_LIMIT ((uint64_t)0xFFFFFFFFu) /* ntk_npz_write writes no zip64 */

struct ntk_model {
    ntk_arch *arch;
    ntk_model_opts o;
    size_t N, d, k;
    double n_norm;      /* N·k, the MSE normalisation            */
    double test_scale;  /* applied to test inputs                */
    double *x, *y;      /* N × d (scaled), N × k                 */
    double *lam;        /* N eigenvalues of K_reg, ascending, clipped (NULL: inf_only) */
    double *V;          /* N × N eigenvectors, column j = eigenvector j              */
    double *c;          /* N × k: Vᵀ·y                           */
    double *alpha;      /* N × k: K_reg⁻¹·y (NULL: Cholesky failed) */
    double *nngp_xx;    /* N × N train NNGP (NTK models with V)  */
    ntk_predict_info info;
    double kernel_seconds, factor_seconds;
    uint64_t checksum, fit_checksum;
    size_t block_rows;  /* test rows per block; 0 = from BLOCK_ELEMS */
};

ntk_model_opts ntk_model_opts_default(void)
{
    ntk_model_opts o;
    memset(&o, 0, sizeof o);
    o.kernel = NTK_MODEL_NTK;
    o.param = NTK_PARAM_NTK;
    o.lr = 1.0;
    o.ridge_mode = NTK_RIDGE_RELATIVE;
    o.input_scale = 1.0;
    return o;
}

void ntk_model_free(ntk_model *m)
{
    if (!m) return;
    ntk_arch_free(m->arch);
    free(m->x);
    free(m->y);
    free(m->lam);
    free(m->V);
    free(m->c);
    free(m->alpha);
    free(m->nngp_xx);
    free(m);
}

void ntk_model_get_info(const ntk_model *m, ntk_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->n_train = m->N;
    info->n_inputs = m->d;
    info->n_outputs = m->k;
    info->opts = m->o;
    info->has_eigen = m->V != NULL;
    info->factor = m->info;
    info->kernel_seconds = m->kernel_seconds;
    info->factor_seconds = m->factor_seconds;
    info->checksum = m->checksum;
}

const ntk_arch *ntk_model_arch(const ntk_model *m) { return m->arch; }
void ntk_model_set_block_rows(ntk_model *m, size_t rows) { m->block_rows = rows; }
void ntk_model_set_threads(ntk_model *m, int threads) { m->o.threads = threads > 0 ? threads : 0; }

ntk_status ntk_model_set_input_scale(ntk_model *m, double scale, ntk_error *err)
{
    if (!(scale > 0) || !isfinite(scale))
        return ntk_fail(err, NTK_E_INVAL, "input scale must be a finite number > 0, got %g", scale);
    m->test_scale = scale;
    return NTK_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ checksums */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Over each double's little-endian bytes, whatever the host order. */
static uint64_t fnv_doubles(uint64_t h, const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, &a[i], 8);
        for (int j = 0; j < 8; j++) {
            h ^= (v >> (8 * j)) & 0xff;
            h *= FNV_PRIME;
        }
    }
    return h;
}

static uint64_t data_checksum(const ntk_model *m)
{
    return fnv_doubles(fnv_doubles(FNV_OFFSET, m->x, m->N * m->d), m->y, m->N * m->k);
}

/* The meta.txt lines that the fit checksum covers (every setting and
 * result; not the format, version or checksum lines). */
static int meta_body(const ntk_model *m, char *buf, size_t n)
{
    const ntk_model_opts *o = &m->o;
    return snprintf(buf, n,
                    "kernel = %s\nparam = %s\nlr = %.17g\nridge = %.17g\nridge_mode = %s\ndiscrete = %d\n"
                    "auto_jitter = %d\ninput_scale = %.17g\nd = %zu\nN = %zu\nk = %zu\neigen = %d\ncholesky = %d\n"
                    "jitter = %.17g\nridge_added = %.17g\nlambda_min = %.17g\nlambda_max = %.17g\nn_clipped = %zu\n",
                    o->kernel == NTK_MODEL_NNGP ? "nngp" : "ntk", o->param == NTK_PARAM_STANDARD ? "standard" : "ntk",
                    o->lr, o->ridge, o->ridge_mode == NTK_RIDGE_ABSOLUTE ? "absolute" : "relative", o->discrete,
                    o->auto_jitter, o->input_scale, m->d, m->N, m->k, m->V != NULL, m->alpha != NULL,
                    m->info.jitter_added, m->info.ridge_added, m->info.lambda_min, m->info.lambda_max,
                    m->info.n_clipped);
}

/* The canonical spec, malloc'd with a trailing newline (NULL: no memory). */
static char *canon_spec(const ntk_arch *arch, size_t *len)
{
    size_t n = ntk_arch_format(arch, NULL, 0);
    char *s = malloc(n + 2);
    if (!s) return NULL;
    ntk_arch_format(arch, s, n + 1);
    s[n] = '\n';
    s[n + 1] = '\0';
    *len = n + 1;
    return s;
}

static ntk_status fit_checksum(const ntk_model *m, uint64_t *out, ntk_error *err)
{
    char body[2048];
    int bl = meta_body(m, body, sizeof body);
    size_t sl;
    char *spec = canon_spec(m->arch, &sl);
    if (bl < 0 || (size_t)bl >= sizeof body || !spec) {
        free(spec);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for the model checksum");
    }
    uint64_t h = fnv_bytes(FNV_OFFSET, body, (size_t)bl);
    h = fnv_bytes(h, spec, sl);
    free(spec);
    size_t N = m->N, k = m->k;
    if (m->alpha) h = fnv_doubles(h, m->alpha, N * k);
    if (m->lam) h = fnv_doubles(h, m->lam, N);
    if (m->V) h = fnv_doubles(h, m->V, N * N);
    if (m->c) h = fnv_doubles(h, m->c, N * k);
    if (m->nngp_xx) h = fnv_doubles(h, m->nngp_xx, N * N);
    *out = h;
    return NTK_OK;
}

/* ------------------------------------------------------------ fitting */

static ntk_status check_opts(const ntk_model_opts *o, ntk_error *err)
{
    if (o->kernel != NTK_MODEL_NTK && o->kernel != NTK_MODEL_NNGP)
        return ntk_fail(err, NTK_E_INVAL, "unknown model kernel %d (NTK_MODEL_NTK or NTK_MODEL_NNGP)", (int)o->kernel);
    if (o->param != NTK_PARAM_NTK && o->param != NTK_PARAM_STANDARD)
        return ntk_fail(err, NTK_E_INVAL, "unknown parameterization %d", (int)o->param);
    if (!(o->lr > 0) || !isfinite(o->lr)) return ntk_fail(err, NTK_E_INVAL, "learning rate must be > 0, got %g", o->lr);
    if (!(o->ridge >= 0) || !isfinite(o->ridge))
        return ntk_fail(err, NTK_E_INVAL, "ridge must be >= 0, got %g", o->ridge);
    if (o->ridge_mode != NTK_RIDGE_RELATIVE && o->ridge_mode != NTK_RIDGE_ABSOLUTE)
        return ntk_fail(err, NTK_E_INVAL, "unknown ridge mode %d", (int)o->ridge_mode);
    if (!(o->input_scale > 0) || !isfinite(o->input_scale))
        return ntk_fail(err, NTK_E_INVAL, "input scale must be a finite number > 0, got %g", o->input_scale);
    if (o->threads < 0) return ntk_fail(err, NTK_E_INVAL, "threads must be >= 0, got %d", o->threads);
    return NTK_OK;
}

/* Mirrors the upper triangle into the lower one (the kernel routines do
 * this already; a kernel handed in by a test may not). */
static void symmetrize(double *a, size_t N)
{
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) a[j * N + i] = a[i * N + j];
}

/* α = K_reg⁻¹·y and the eigendecomposition: the factorization of
 * ntk_predictor_create (ntk_factor_kernel); K becomes V. */
static ntk_status factor_eigen(ntk_model *m, double *K, ntk_error *err)
{
    size_t N = m->N, k = m->k;
    const ntk_model_opts *o = &m->o;
    ntk_factor F;
    ntk_status s = ntk_factor_kernel(K, NULL, N, m->y, k, o->ridge, o->ridge_mode, o->auto_jitter, 0, &F, err);
    if (s) return s;
    m->lam = F.lam;
    m->alpha = F.alpha;
    m->V = F.V; /* = K, taken over */
    m->info = F.info;
    if (!(m->c = malloc(N * k * sizeof *m->c))) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    ntk_dgemm(CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, m->V, (int)N, m->y, (int)k, 0.0, m->c, (int)k);
    return NTK_OK;
}

/* α = K_reg⁻¹·y by an in-place Cholesky factorization of K. */
static ntk_status factor_inf(ntk_model *m, double *K, ntk_error *err)
{
    size_t N = m->N, k = m->k;
    const ntk_model_opts *o = &m->o;
    double *d0 = malloc(N * sizeof *d0), *b = malloc(N * k * sizeof *b);
    if (!d0 || !b) {
        free(d0);
        free(b);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    }
    double tr = 0;
    for (size_t i = 0; i < N; i++) tr += d0[i] = K[i * N + i];
    double ridge_abs = o->ridge_mode == NTK_RIDGE_RELATIVE ? o->ridge * tr / (double)N : o->ridge;
    double jitter = 0, unit = DBL_EPSILON * fabs(tr) / (double)N;
    lapack_int info = 0;
    for (int attempt = 0;; attempt++) {
        if (attempt) /* the failed attempt overwrote the upper triangle: restore it */
            for (size_t i = 0; i < N; i++)
                for (size_t j = i + 1; j < N; j++) K[i * N + j] = K[j * N + i];
        for (size_t i = 0; i < N; i++) K[i * N + i] = d0[i] + ridge_abs + jitter;
        info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)N, K, (lapack_int)N);
        if (info <= 0 || !o->auto_jitter || attempt >= 14) break;
        jitter = unit * pow(10.0, attempt + 1);
    }
    free(d0);
    if (info != 0) {
        free(b);
        if (info < 0) return ntk_fail(err, NTK_E_INTERNAL, "dpotrf: argument %d", (int)-info);
        return ntk_fail(err, NTK_E_NUMERIC,
                        "the training kernel is not positive definite to working precision (the Cholesky "
                        "factorization failed at row %d of %zu%s): add a ridge%s",
                        (int)info, N, o->auto_jitter ? ", even with the largest jitter" : "",
                        o->auto_jitter ? "" : " or allow jitter");
    }
    m->info.cholesky_ok = 1;
    m->info.jitter_added = jitter;
    m->info.ridge_added = ridge_abs + jitter;
    m->info.lambda_min = m->info.lambda_max = NAN;
    /* column-major right-hand sides for dpotrs (no N×N copy that way) */
    for (size_t i = 0; i < N; i++)
        for (size_t a = 0; a < k; a++) b[a * N + i] = m->y[i * k + a];
    info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int)N, (lapack_int)k, K, (lapack_int)N, b, (lapack_int)N);
    if (info != 0) {
        free(b);
        return ntk_fail(err, NTK_E_INTERNAL, "dpotrs: info %d", (int)info);
    }
    if (!(m->alpha = malloc(N * k * sizeof *m->alpha))) {
        free(b);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < N; i++)
        for (size_t a = 0; a < k; a++) m->alpha[i * k + a] = b[a * N + i];
    free(b);
    free(K);
    return NTK_OK;
}

ntk_status ntk_model_fit_kernels(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                 size_t d, const double *y, size_t k, double *kxx, double *nngp_xx,
                                 double kernel_seconds, ntk_model **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    ntk_model_opts o = opts ? *opts : ntk_model_opts_default();
    ntk_status s;
    ntk_model *m = NULL;
    if ((s = check_opts(&o, err))) goto fail;
    if (!arch || !x || !y || !kxx || N == 0 || d == 0 || k == 0) {
        s = ntk_fail(err, NTK_E_INVAL, "ntk_model_fit: empty training set or missing arguments");
        goto fail;
    }
    if ((s = ntk_check_finite(kxx, N, N, "training kernel", err))) goto fail;
    if (nngp_xx && (s = ntk_check_finite(nngp_xx, N, N, "training NNGP", err))) goto fail;
    if (!(m = calloc(1, sizeof *m))) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto fail;
    }
    m->o = o;
    m->N = N;
    m->d = d;
    m->k = k;
    m->n_norm = (double)N * (double)k;
    m->test_scale = o.input_scale;
    m->kernel_seconds = kernel_seconds;
    m->x = malloc(N * d * sizeof *m->x);
    m->y = malloc(N * k * sizeof *m->y);
    if (!m->x || !m->y) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for the training data");
        goto fail;
    }
    memcpy(m->x, x, N * d * sizeof *x);
    memcpy(m->y, y, N * k * sizeof *y);
    {
        /* a private copy of the spec (ntk_arch has no clone): format and parse */
        size_t sl;
        char *spec = canon_spec(arch, &sl);
        if (!spec) {
            s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
            goto fail;
        }
        s = ntk_arch_parse(spec, &m->arch, err);
        free(spec);
        if (s) goto fail;
    }
    symmetrize(kxx, N);
    double t0 = now();
    if (o.inf_only) {
        free(nngp_xx);
        nngp_xx = NULL;
        s = factor_inf(m, kxx, err);
    } else {
        s = factor_eigen(m, kxx, err);
    }
    if (s) goto fail; /* on failure factor_* leave kxx to the caller */
    kxx = NULL;       /* on success it is m->V, or freed */
    if (nngp_xx && o.kernel == NTK_MODEL_NTK) {
        symmetrize(nngp_xx, N);
        m->nngp_xx = nngp_xx;
    } else {
        free(nngp_xx);
    }
    nngp_xx = NULL;
    m->factor_seconds = now() - t0;
    m->checksum = data_checksum(m);
    if ((s = fit_checksum(m, &m->fit_checksum, err))) goto fail;
    *out = m;
    return NTK_OK;
fail:
    free(kxx);
    free(nngp_xx);
    ntk_model_free(m);
    return s;
}

ntk_status ntk_model_fit(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N, size_t d,
                         const double *y, size_t k, ntk_model **out, ntk_error *err)
{
    ntk_error_clear(err);
    if (out) *out = NULL;
    if (!out) return ntk_fail(err, NTK_E_INVAL, "ntk_model_fit: out must not be NULL");
    ntk_model_opts o = opts ? *opts : ntk_model_opts_default();
    ntk_status s;
    if ((s = check_opts(&o, err))) return s;
    if (!arch || ntk_arch_n_layers(arch) == 0) return ntk_fail(err, NTK_E_INVAL, "no architecture");
    if (!x || !y || N == 0) return ntk_fail(err, NTK_E_SHAPE, "empty training set");
    if (d == 0) return ntk_fail(err, NTK_E_SHAPE, "training inputs have no columns");
    if (k == 0) return ntk_fail(err, NTK_E_SHAPE, "targets have no columns");
    if ((s = ntk_check_finite(x, N, d, "training inputs", err))) return s;
    if ((s = ntk_check_finite(y, N, k, "targets", err))) return s;
    size_t bytes, xbytes;
    if (ntk_mul_size(N, N, sizeof(double), &bytes) || ntk_mul_size(N, d, sizeof(double), &xbytes))
        return ntk_fail(err, NTK_E_NOMEM, "a %zu x %zu training kernel is too large", N, N);
    double *xs = malloc(xbytes), *K = malloc(bytes);
    int want_nngp = o.kernel == NTK_MODEL_NTK && !o.inf_only;
    double *Kn = want_nngp ? malloc(bytes) : NULL;
    if (!xs || !K || (want_nngp && !Kn)) {
        free(xs);
        free(K);
        free(Kn);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for a %zu x %zu training kernel (%.3g GB each)", N, N,
                        (double)bytes / 1e9);
    }
    for (size_t i = 0; i < N * d; i++) xs[i] = o.input_scale == 1.0 ? x[i] : x[i] * o.input_scale;
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.param = o.param;
    ko.threads = o.threads;
    double t0 = now();
    s = ntk_kernel(arch, &ko, xs, N, NULL, 0, d, o.kernel == NTK_MODEL_NNGP ? K : Kn,
                   o.kernel == NTK_MODEL_NTK ? K : NULL, err);
    double t1 = now();
    if (s) {
        free(xs);
        free(K);
        free(Kn);
        return s;
    }
    int saved = ntk_threads_begin(o.threads); /* the factorization's LAPACK/BLAS threads too */
    s = ntk_model_fit_kernels(arch, &o, xs, N, d, y, k, K, Kn, t1 - t0, out, err);
    ntk_threads_end(saved);
    free(xs);
    return s;
}

/* ------------------------------------------------------------ saving */

static ntk_status add_if(ntk_npz *z, const char *name, const double *a, size_t rows, size_t cols, int ndim,
                         ntk_error *err)
{
    return a ? ntk_npz_add_array(z, name, a, rows, cols, ndim, err) : NTK_OK;
}

ntk_status ntk_model_save(const ntk_model *m, const char *path, ntk_error *err)
{
    ntk_error_clear(err);
    if (!m || !path) return ntk_fail(err, NTK_E_INVAL, "ntk_model_save: model and path must not be NULL");
    size_t N = m->N, k = m->k, d = m->d;
    /* the archive's size, roughly: every array plus headers */
    uint64_t total = (uint64_t)N * (d + k) + (m->alpha ? N * k : 0) + (m->V ? N + N * N + N * k : 0) +
                     (m->nngp_xx ? N * N : 0);
    if (total * 8 + 65536 > NPZ_LIMIT)
        return ntk_fail(err, NTK_E_INVAL,
                        "%s: the model would take %.3g GB, over the 4 GiB limit of an .npz without zip64; fit it "
                        "with inf_only (t = inf only: no N x N arrays) or on fewer points",
                        path, (double)total * 8 / 1e9);
    size_t sl;
    char *spec = canon_spec(m->arch, &sl);
    char meta[4096];
    int hl = snprintf(meta, sizeof meta, "format = " FORMAT_NAME " %d\nntk_version = " NTK_VERSION_STRING "\n",
                      FORMAT_VERSION);
    int bl = meta_body(m, meta + hl, sizeof meta - (size_t)hl), tl = -1;
    if (bl >= 0 && (size_t)(hl + bl) < sizeof meta)
        tl = snprintf(meta + hl + bl, sizeof meta - (size_t)(hl + bl),
                      "checksum = %016" PRIx64 "\nfit_checksum = %016" PRIx64 "\n", m->checksum, m->fit_checksum);
    if (!spec || tl < 0 || (size_t)(hl + bl + tl) >= sizeof meta) {
        free(spec);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    }
    ntk_npz *z = NULL;
    ntk_status s;
    if (!(s = ntk_npz_create(&z, err)) && !(s = ntk_npz_add_bytes(z, "arch.txt", spec, sl, err)) &&
        !(s = ntk_npz_add_bytes(z, "meta.txt", meta, strlen(meta), err)) &&
        !(s = ntk_npz_add_array(z, "x", m->x, N, d, 2, err)) && !(s = ntk_npz_add_array(z, "y", m->y, N, k, 2, err)) &&
        !(s = add_if(z, "alpha", m->alpha, N, k, 2, err)) && !(s = add_if(z, "eigenvalues", m->lam, N, 1, 1, err)) &&
        !(s = add_if(z, "eigenvectors", m->V, N, N, 2, err)) && !(s = add_if(z, "c", m->c, N, k, 2, err)) &&
        !(s = add_if(z, "nngp_xx", m->nngp_xx, N, N, 2, err)))
        s = ntk_npz_write(z, path, err);
    ntk_npz_free(z);
    free(spec);
    return s;
}

/* ------------------------------------------------------------ loading */

enum {
    K_FORMAT, K_VERSION, K_KERNEL, K_PARAM, K_LR, K_RIDGE, K_RIDGE_MODE, K_DISCRETE, K_AUTO_JITTER, K_SCALE, K_D,
    K_N, K_K, K_EIGEN, K_CHOLESKY, K_JITTER, K_RIDGE_ADDED, K_LMIN, K_LMAX, K_CLIPPED, K_CHECKSUM, K_FIT_CHECKSUM,
    K_COUNT
};
static const char *const KEYS[K_COUNT] = {
    "format",      "ntk_version", "kernel", "param", "lr",          "ridge",      "ridge_mode", "discrete",
    "auto_jitter", "input_scale", "d",      "N",     "k",           "eigen",      "cholesky",   "jitter",
    "ridge_added", "lambda_min",  "lambda_max", "n_clipped", "checksum", "fit_checksum"};


/* key = value lines into val[] (pointers into text, modified in place). */
static ntk_status parse_meta(char *text, size_t n, const char *path, char **val, ntk_error *err)
{
    return ntk_meta_parse(text, n, path, KEYS, K_COUNT, val, err);
}

static int parse_size(const char *s, size_t lo, size_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v > SIZE_MAX || v < lo) return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_num(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end) return -1;
    *out = v;
    return 0;
}

static int parse_hex64(const char *s, uint64_t *out)
{
    if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16) return -1;
    *out = (uint64_t)strtoull(s, NULL, 16);
    return 0;
}

static int parse_enum(const char *s, const char *a, const char *b, int *out)
{
    if (!strcmp(s, a)) *out = 0;
    else if (!strcmp(s, b)) *out = 1;
    else return -1;
    return 0;
}

static ntk_status bad_value(const char *path, int key, const char *v, const char *want, ntk_error *err)
{
    return ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: %s = '%s', expected %s", path, KEYS[key], v, want);
}

/* Settings and results from meta.txt into m (arrays not yet read). */
static ntk_status read_meta(const ntk_npz *z, const char *path, ntk_model *m, int *eigen, int *chol, uint64_t *sum,
                            uint64_t *fsum, ntk_error *err)
{
    char *text = NULL;
    size_t n = 0;
    if (ntk_npz_get_bytes(z, "meta.txt", &text, &n, NULL))
        return ntk_fail(err, NTK_E_FORMAT, "%s: no member 'meta.txt': not a model file of 'ntk fit'", path);
    char *v[K_COUNT];
    ntk_status s = parse_meta(text, n, path, v, err);
    if (s) goto done;
    if (!v[K_FORMAT]) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt has no 'format' line", path);
        goto done;
    }
    size_t ver;
    if (strncmp(v[K_FORMAT], FORMAT_NAME " ", strlen(FORMAT_NAME) + 1) ||
        parse_size(v[K_FORMAT] + strlen(FORMAT_NAME) + 1, 0, &ver)) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: not a model file of 'ntk fit' (meta.txt: format = %s%s)", path,
                     v[K_FORMAT], strncmp(v[K_FORMAT], "ntk-params", 10) ? "" : ": a network's parameters");
        goto done;
    }
    if (ver != FORMAT_VERSION) {
        s = ntk_fail(err, NTK_E_FORMAT,
                     "%s: meta.txt: format '%s' is not one this ntk (" NTK_VERSION_STRING ") reads (" FORMAT_NAME
                     " %d)%s",
                     path, v[K_FORMAT], FORMAT_VERSION, ver > FORMAT_VERSION ? "; it comes from a newer ntk" : "");
        goto done;
    }
    for (int i = K_KERNEL; i < K_COUNT; i++)
        if (!v[i]) {
            s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt has no '%s' line", path, KEYS[i]);
            goto done;
        }
    ntk_model_opts *o = &m->o;
    int e;
    if (parse_enum(v[K_KERNEL], "ntk", "nngp", &e)) { s = bad_value(path, K_KERNEL, v[K_KERNEL], "ntk or nngp", err); goto done; }
    o->kernel = e ? NTK_MODEL_NNGP : NTK_MODEL_NTK;
    if (parse_enum(v[K_PARAM], "ntk", "standard", &e)) { s = bad_value(path, K_PARAM, v[K_PARAM], "ntk or standard", err); goto done; }
    o->param = e ? NTK_PARAM_STANDARD : NTK_PARAM_NTK;
    if (parse_enum(v[K_RIDGE_MODE], "relative", "absolute", &e)) {
        s = bad_value(path, K_RIDGE_MODE, v[K_RIDGE_MODE], "relative or absolute", err);
        goto done;
    }
    o->ridge_mode = e ? NTK_RIDGE_ABSOLUTE : NTK_RIDGE_RELATIVE;
    const int flags[4] = {K_DISCRETE, K_AUTO_JITTER, K_EIGEN, K_CHOLESKY};
    int *fdst[4] = {&o->discrete, &o->auto_jitter, eigen, chol};
    for (int i = 0; i < 4; i++)
        if (parse_enum(v[flags[i]], "0", "1", fdst[i])) { s = bad_value(path, flags[i], v[flags[i]], "0 or 1", err); goto done; }
    const int sizes[3] = {K_D, K_N, K_K};
    size_t *sdst[3] = {&m->d, &m->N, &m->k};
    for (int i = 0; i < 3; i++)
        if (parse_size(v[sizes[i]], 1, sdst[i])) { s = bad_value(path, sizes[i], v[sizes[i]], "a positive integer", err); goto done; }
    if (parse_size(v[K_CLIPPED], 0, &m->info.n_clipped) || m->info.n_clipped > m->N) {
        s = bad_value(path, K_CLIPPED, v[K_CLIPPED], "an integer from 0 to N", err);
        goto done;
    }
    struct { int key; double *dst; int positive; } nums[] = {
        {K_LR, &o->lr, 1}, {K_RIDGE, &o->ridge, 0}, {K_SCALE, &o->input_scale, 1},
        {K_JITTER, &m->info.jitter_added, 0}, {K_RIDGE_ADDED, &m->info.ridge_added, 0},
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        double x;
        if (parse_num(v[nums[i].key], &x) || !isfinite(x) || (nums[i].positive ? !(x > 0) : !(x >= 0))) {
            s = bad_value(path, nums[i].key, v[nums[i].key], nums[i].positive ? "a number > 0" : "a number >= 0", err);
            goto done;
        }
        *nums[i].dst = x;
    }
    if (parse_num(v[K_LMIN], &m->info.lambda_min)) { s = bad_value(path, K_LMIN, v[K_LMIN], "a number", err); goto done; }
    if (parse_num(v[K_LMAX], &m->info.lambda_max)) { s = bad_value(path, K_LMAX, v[K_LMAX], "a number", err); goto done; }
    if (parse_hex64(v[K_CHECKSUM], sum)) { s = bad_value(path, K_CHECKSUM, v[K_CHECKSUM], "16 hex digits", err); goto done; }
    if (parse_hex64(v[K_FIT_CHECKSUM], fsum)) {
        s = bad_value(path, K_FIT_CHECKSUM, v[K_FIT_CHECKSUM], "16 hex digits", err);
        goto done;
    }
    if (!*eigen && !*chol) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt: eigen = 0 and cholesky = 0: the model cannot predict", path);
        goto done;
    }
    m->info.cholesky_ok = *chol;
done:
    free(text);
    return s;
}

/* Reads array `name` of the expected shape (ndim 1: (rows,)). */
static ntk_status get_array(const ntk_npz *z, const char *path, const char *name, size_t rows, size_t cols, int ndim,
                            double **out, ntk_error *err)
{
    ntk_matrix a = {0};
    ntk_status s = ntk_npz_get_array(z, name, &a, err);
    if (s) return s;
    int ok = a.rows == rows && a.cols == cols && (ndim == 2 ? a.ndim == 2 || (cols == 1 && a.ndim == 1) : a.ndim == 1);
    if (!ok) {
        char got[64], want[64];
        if (a.ndim == 1) snprintf(got, sizeof got, "(%zu,)", a.rows);
        else snprintf(got, sizeof got, "(%zu, %zu)", a.rows, a.cols);
        if (ndim == 1) snprintf(want, sizeof want, "(%zu,)", rows);
        else snprintf(want, sizeof want, "(%zu, %zu)", rows, cols);
        ntk_matrix_free(&a);
        return ntk_fail(err, NTK_E_SHAPE, "%s: %s has shape %s, expected %s (meta.txt: N = %zu)", path, name, got, want,
                        rows);
    }
    *out = a.data;
    return NTK_OK;
}

ntk_status ntk_model_load(const char *path, ntk_model **out, ntk_error *err)
{
    ntk_error_clear(err);
    if (out) *out = NULL;
    if (!path || !out) return ntk_fail(err, NTK_E_INVAL, "ntk_model_load: path and out must not be NULL");
    ntk_npz *z = NULL;
    ntk_status s;
    if ((s = ntk_npz_read(path, &z, err))) return s;
    ntk_model *m = calloc(1, sizeof *m);
    char *spec = NULL;
    if (!m) {
        ntk_npz_free(z);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    }
    int eigen = 0, chol = 0;
    uint64_t sum = 0, fsum = 0, h;
    if ((s = read_meta(z, path, m, &eigen, &chol, &sum, &fsum, err))) goto fail;
    size_t n = 0, N = m->N, k = m->k, d = m->d;
    if (ntk_npz_get_bytes(z, "arch.txt", &spec, &n, NULL)) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: no member 'arch.txt' (the architecture spec)", path);
        goto fail;
    }
    if (strlen(spec) != n) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: arch.txt holds a NUL byte", path);
        goto fail;
    }
    if ((s = ntk_arch_parse(spec, &m->arch, err))) {
        ntk_error e2;
        s = ntk_fail(&e2, s, "%s: arch.txt: %s", path, err ? err->msg : "bad spec");
        if (err) *err = e2;
        goto fail;
    }
    if ((s = get_array(z, path, "x", N, d, 2, &m->x, err)) || (s = get_array(z, path, "y", N, k, 2, &m->y, err)))
        goto fail;
    if (chol && (s = get_array(z, path, "alpha", N, k, 2, &m->alpha, err))) goto fail;
    if (eigen && ((s = get_array(z, path, "eigenvalues", N, 1, 1, &m->lam, err)) ||
                  (s = get_array(z, path, "eigenvectors", N, N, 2, &m->V, err)) ||
                  (s = get_array(z, path, "c", N, k, 2, &m->c, err))))
        goto fail;
    if (eigen && m->o.kernel == NTK_MODEL_NTK && (s = get_array(z, path, "nngp_xx", N, N, 2, &m->nngp_xx, err)))
        goto fail;
    ntk_npz_free(z);
    z = NULL;
    {
        char what[NTK_ERRMSG_MAX / 2];
        snprintf(what, sizeof what, "%s: x", path);
        if ((s = ntk_check_finite(m->x, N, d, what, err))) goto fail;
        snprintf(what, sizeof what, "%s: y", path);
        if ((s = ntk_check_finite(m->y, N, k, what, err))) goto fail;
    }
    m->checksum = data_checksum(m);
    if (m->checksum != sum) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: the training data does not match its checksum (the file was modified)",
                     path);
        goto fail;
    }
    if ((s = fit_checksum(m, &h, err))) goto fail;
    if (h != fsum) {
        s = ntk_fail(err, NTK_E_FORMAT,
                     "%s: the fitted arrays or settings do not match their checksum (the file was modified)", path);
        goto fail;
    }
    m->fit_checksum = h;
    m->n_norm = (double)N * (double)k;
    m->test_scale = m->o.input_scale;
    free(spec);
    *out = m;
    return NTK_OK;
fail:
    free(spec);
    ntk_npz_free(z);
    ntk_model_free(m);
    return s;
}

/* ------------------------------------------------------------ predicting */

static ntk_status check_times(const ntk_model *m, const double *times, size_t n, ntk_error *err)
{
    for (size_t i = 0; i < n; i++) {
        double t = times[i];
        if (!(t >= 0)) return ntk_fail(err, NTK_E_INVAL, "time %g: times must be >= 0", t);
        if (isinf(t) && !m->alpha)
            return ntk_fail(err, NTK_E_NUMERIC,
                            "t = inf needs a positive definite training kernel, but its Cholesky factorization failed "
                            "(smallest eigenvalue %.3g, largest %.3g): refit with a ridge or jitter",
                            m->info.lambda_min, m->info.lambda_max);
        if (isfinite(t) && !m->V)
            return ntk_fail(err, NTK_E_INVAL,
                            "time %g: the model was fit for t = inf only (no eigendecomposition); refit without "
                            "inf_only for finite times",
                            t);
        if (m->o.discrete && isfinite(t) && t != floor(t))
            return ntk_fail(err, NTK_E_INVAL, "time %g: discrete gradient descent needs whole steps", t);
    }
    return NTK_OK;
}

static ntk_status model_predict(const ntk_model *m, const double *xt, size_t M, size_t d, const double *times,
                                size_t n_times, double *mean, double *var, ntk_error *err);

/* m->o.threads (ntk_model_set_threads) bounds every thread of the call. */
ntk_status ntk_model_predict(const ntk_model *m, const double *xt, size_t M, size_t d, const double *times,
                             size_t n_times, double *mean, double *var, ntk_error *err)
{
    int saved = ntk_threads_begin(m ? m->o.threads : 0);
    ntk_status s = model_predict(m, xt, M, d, times, n_times, mean, var, err);
    ntk_threads_end(saved);
    return s;
}

static ntk_status model_predict(const ntk_model *m, const double *xt, size_t M, size_t d, const double *times,
                                size_t n_times, double *mean, double *var, ntk_error *err)
{
    ntk_error_clear(err);
    if (!m || !xt || !times || !mean) return ntk_fail(err, NTK_E_INVAL, "ntk_model_predict: missing arguments");
    if (M == 0) return ntk_fail(err, NTK_E_SHAPE, "no test points");
    if (n_times == 0) return ntk_fail(err, NTK_E_INVAL, "no times");
    if (d != m->d)
        return ntk_fail(err, NTK_E_SHAPE, "test inputs have %zu column%s but the model was fit on %zu", d,
                        d == 1 ? "" : "s", m->d);
    ntk_status s;
    if ((s = check_times(m, times, n_times, err))) return s;
    if (var && !m->V)
        return ntk_fail(err, NTK_E_INVAL,
                        "variances need the eigendecomposition, but the model was fit for t = inf only");
    if ((s = ntk_check_finite(xt, M, d, "test inputs", err))) return s;
    const size_t N = m->N, k = m->k;
    const int ntk = m->o.kernel == NTK_MODEL_NTK;
    /* finite times: mean = kt·(V·W_t) with W_t = diag(g_t)·c, the N × k
     * coefficients u_t = V·W_t formed once per call (N²·k + b·N·k per block
     * and time); when the outputs outnumber the test points, A = kt·V per
     * block instead (b·N² + b·N·k). Variances need A anyway; the means do
     * not depend on whether they are asked for. */
    size_t n_fin = 0;
    for (size_t i = 0; i < n_times; i++) n_fin += isfinite(times[i]) != 0;
    const int coef = k < M && n_fin;
    int need_A = var != NULL || (n_fin && !coef);

    size_t B = m->block_rows ? m->block_rows : BLOCK_ELEMS / N;
    if (B < 1) B = 1;
    if (B > M) B = M;
    size_t bn = B * N;
    double *xs = m->test_scale != 1.0 ? malloc(B * d * sizeof *xs) : NULL;
    double *kt = malloc(bn * sizeof *kt);
    double *kn = var && ntk ? malloc(bn * sizeof *kn) : NULL;
    double *A = need_A ? malloc(bn * sizeof *A) : NULL;
    double *P = var && ntk ? malloc(bn * sizeof *P) : NULL;
    double *T = var && ntk ? malloc(bn * sizeof *T) : NULL;
    double *kd = var ? malloc(B * sizeof *kd) : NULL;
    double *g = malloc(N * sizeof *g), *W = malloc(N * k * sizeof *W);
    double *u = coef ? malloc(n_fin * N * k * sizeof *u) : NULL;
    if ((m->test_scale != 1.0 && !xs) || !kt || (var && ntk && (!kn || !P || !T)) || (need_A && !A) || (var && !kd) ||
        !g || !W || (coef && !u)) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for %zu x %zu test kernel blocks", B, N);
        goto done;
    }
    for (size_t ti = 0, q = 0; coef && ti < n_times; ti++) {
        if (!isfinite(times[ti])) continue;
        for (size_t j = 0; j < N; j++) {
            double gj = ntk_predict_g(m->o.lr, m->n_norm, m->o.discrete, m->lam[j], times[ti]);
            for (size_t a = 0; a < k; a++) W[j * k + a] = gj * m->c[j * k + a];
        }
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, m->V, (int)N, W, (int)k, 0.0,
                  u + q++ * N * k, (int)k);
    }
    /* the ridge of K(X,X) for NTK-model variances, as ntk_predict_cov */
    double ridge_K = 0;
    if (var && ntk) {
        double tr = 0;
        for (size_t i = 0; i < N; i++) tr += m->nngp_xx[i * N + i];
        ridge_K = m->o.ridge_mode == NTK_RIDGE_RELATIVE ? m->o.ridge * tr / (double)N : m->o.ridge;
    }
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.param = m->o.param;
    ko.threads = m->o.threads;
    ntk_kernel_opts kod = ko;
    kod.diag = 1;

    for (size_t i0 = 0; i0 < M; i0 += B) {
        size_t b = M - i0 < B ? M - i0 : B;
        const double *xb = xt + i0 * d;
        if (xs) {
            for (size_t i = 0; i < b * d; i++) xs[i] = xb[i] * m->test_scale;
            xb = xs;
        }
        /* kt: the model's kernel K(x*,X); kn: the NNGP when it differs */
        if ((s = ntk_kernel(m->arch, &ko, xb, b, m->x, N, d, ntk ? kn : kt, ntk ? kt : NULL, err))) goto done;
        if (var && (s = ntk_kernel(m->arch, &kod, xb, b, NULL, 0, d, kd, NULL, err))) goto done;
        if (need_A)
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)N, (int)N, 1.0, kt, (int)N, m->V,
                        (int)N, 0.0, A, (int)N);
        for (size_t ti = 0, q = 0; ti < n_times; ti++) {
            double t = times[ti];
            double *o = mean + (ti * M + i0) * k;
            if (isinf(t)) {
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)k, (int)N, 1.0, kt, (int)N,
                            m->alpha, (int)k, 0.0, o, (int)k);
            } else if (coef) {
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)k, (int)N, 1.0, kt, (int)N, u + q++ * N * k,
                          (int)k, 0.0, o, (int)k);
            } else {
                for (size_t j = 0; j < N; j++) {
                    double gj = ntk_predict_g(m->o.lr, m->n_norm, m->o.discrete, m->lam[j], t);
                    for (size_t a = 0; a < k; a++) W[j * k + a] = gj * m->c[j * k + a];
                }
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)k, (int)N, 1.0, A, (int)N, W,
                            (int)k, 0.0, o, (int)k);
            }
            if (!var) continue;
            for (size_t j = 0; j < N; j++)
                g[j] = isinf(t) ? (m->lam[j] > 0 ? 1.0 / m->lam[j] : 0.0)
                                : ntk_predict_g(m->o.lr, m->n_norm, m->o.discrete, m->lam[j], t);
            double *vo = var + ti * M + i0;
            if (!ntk) {
                const double jit = m->info.jitter_added;
                for (size_t i = 0; i < b; i++) {
                    double s1 = 0, s2 = 0;
                    for (size_t j = 0; j < N; j++) {
                        double a2 = A[i * N + j] * A[i * N + j];
                        s1 += a2 * g[j];
                        s2 += a2 * g[j] * g[j] * (m->lam[j] - jit);
                    }
                    vo[i] = kd[i] - 2 * s1 + s2;
                }
                continue;
            }
            /* T = (A·diag(g))·Vᵀ; P = T·K(X,X) + ρ_K·T */
            for (size_t i = 0; i < b; i++)
                for (size_t j = 0; j < N; j++) P[i * N + j] = A[i * N + j] * g[j];
            ntk_dgemm(CblasNoTrans, CblasTrans, (int)b, (int)N, (int)N, 1.0, P, (int)N, m->V, (int)N,
                        0.0, T, (int)N);
            memcpy(P, T, b * N * sizeof *P);
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)N, (int)N, 1.0, T, (int)N, m->nngp_xx,
                        (int)N, ridge_K, P, (int)N);
            for (size_t i = 0; i < b; i++) {
                double s1 = 0, s2 = 0;
                for (size_t j = 0; j < N; j++) {
                    s1 += T[i * N + j] * kn[i * N + j];
                    s2 += P[i * N + j] * T[i * N + j];
                }
                vo[i] = kd[i] - 2 * s1 + s2;
            }
        }
    }
    s = NTK_OK;
done:
    free(xs);
    free(kt);
    free(kn);
    free(A);
    free(P);
    free(T);
    free(kd);
    free(g);
    free(W);
    free(u);
    return s;
}
