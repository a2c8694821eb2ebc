/*
 * model.c — kernel models: fit once, predict many (include/ntk.h, "kernel
 * models"; docs/math.md, "Training dynamics" and "Infinite ensembles and GPs").
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
#define FORMAT_VERSION 1       /* a model of a kernel computed here            */
#define FORMAT_VERSION_GIVEN 2 /* of a given kernel: the kernel_source lines too */
#define BLOCK_ELEMS ((size_t)1 << 24) /* test rows per block: rows·N ≤ this (128 MiB a buffer) */

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
    /* fit from a given kernel (ntk_model_fit_kernel); arch may be NULL */
    int given, nngp_given;
    int arch_wanted;         /* loading: meta.txt says arch.txt is there */
    uint64_t ksum, nsum;     /* FNV-1a 64 of the given kernels */
    char kname[256], nname[256];
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
    info->has_variances = m->V && (m->o.kernel == NTK_MODEL_NNGP || m->nngp_xx);
    info->kernel_given = m->given;
    info->has_arch = m->arch != NULL;
    info->kernel_checksum = m->given ? m->ksum : 0;
    info->nngp_checksum = m->nngp_given ? m->nsum : 0;
}

const ntk_arch *ntk_model_arch(const ntk_model *m) { return m->arch; }
const double *ntk_model_train_inputs(const ntk_model *m) { return m->x; }
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

/* The lines a model fit from a given kernel adds to meta_body (format 2). */
static int meta_given(const ntk_model *m, char *buf, size_t n)
{
    char nsum[17] = "none";
    if (m->nngp_given) snprintf(nsum, sizeof nsum, "%016" PRIx64, m->nsum);
    return snprintf(buf, n,
                    "kernel_source = given\nkernel_name = %s\nkernel_checksum = %016" PRIx64
                    "\nnngp_name = %s\nnngp_checksum = %s\narch = %d\n",
                    m->kname, m->ksum, m->nngp_given ? m->nname : "-", nsum, m->arch != NULL);
}

/* meta_body, then meta_given for such a model: the length, or -1 when it
 * does not fit in n bytes. */
static int meta_all(const ntk_model *m, char *buf, size_t n)
{
    int a = meta_body(m, buf, n);
    if (a < 0 || (size_t)a >= n) return -1;
    if (!m->given) return a;
    int b = meta_given(m, buf + a, n - (size_t)a);
    if (b < 0 || (size_t)(a + b) >= n) return -1;
    return a + b;
}

/* The canonical spec, malloc'd with a trailing newline (NULL: no memory). */
static char *canon_spec(const ntk_arch *arch, size_t *len)
{
    if (!arch) { /* a model of a given kernel without an architecture */
        *len = 0;
        return calloc(1, 1);
    }
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
    int bl = meta_all(m, body, sizeof body);
    size_t sl;
    char *spec = canon_spec(m->arch, &sl);
    if (bl < 0 || !spec) {
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

/* α = K_reg⁻¹·y by an in-place Cholesky factorization of K. Progress:
 * N³/3 flops an attempt; each jitter retry adds an attempt to *flops. */
static ntk_status factor_inf(ntk_model *m, double *K, double *flops, ntk_error *err)
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
        double attempt_flops = (double)N * (double)N * (double)N / 3;
        *flops += attempt_flops;
        if (ntk_progress_report(&o->progress, "Cholesky", *flops - attempt_flops, *flops)) {
            free(d0);
            free(b);
            return ntk_canceled(err, "Cholesky");
        }
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

/* What a model fit from a given kernel records (NULL: computed here). */
typedef struct {
    const char *kname, *nname;
    uint64_t ksum, nsum;
    int nngp;
} given_info;

/* A name for meta.txt: one line that survives its trimming (control
 * characters and spaces at the ends become '?'), at most n − 1 bytes. */
static void meta_name(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len > n - 1) len = n - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == len - 1)) ? '?' : (char)c;
    }
    dst[len] = '\0';
    if (!len) snprintf(dst, n, "-");
}

static ntk_status fit_factor(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N, size_t d,
                             const double *y, size_t k, double *kxx, double *nngp_xx, double kernel_seconds,
                             const given_info *g, ntk_model **out, ntk_error *err);

/* The body of ntk_model_fit_kernels; g describes a given kernel (then arch
 * may be NULL). opts->threads bounds every thread of the factorization
 * (LAPACK/BLAS included). */
static ntk_status fit_core(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N, size_t d,
                           const double *y, size_t k, double *kxx, double *nngp_xx, double kernel_seconds,
                           const given_info *g, ntk_model **out, ntk_error *err)
{
    int saved = ntk_threads_begin(opts ? opts->threads : 0);
    ntk_status s = fit_factor(arch, opts, x, N, d, y, k, kxx, nngp_xx, kernel_seconds, g, out, err);
    ntk_threads_end(saved);
    return s;
}

static ntk_status fit_factor(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N, size_t d,
                             const double *y, size_t k, double *kxx, double *nngp_xx, double kernel_seconds,
                             const given_info *g, ntk_model **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    ntk_model_opts o = opts ? *opts : ntk_model_opts_default();
    ntk_status s;
    ntk_model *m = NULL;
    if ((s = check_opts(&o, err))) goto fail;
    if ((!arch && !g) || !x || !y || !kxx || N == 0 || d == 0 || k == 0) {
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
    if (g) {
        m->given = 1;
        m->nngp_given = g->nngp;
        m->ksum = g->ksum;
        m->nsum = g->nsum;
        meta_name(m->kname, sizeof m->kname, g->kname);
        meta_name(m->nname, sizeof m->nname, g->nname);
    }
    if (arch) {
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
    /* progress in flops (estimates; the LAPACK calls are single units):
     * stage "eigendecomposition" (dsyevd with eigenvectors ~4N³, and the
     * Cholesky factorization that may follow it in ntk_factor_kernel), or
     * "Cholesky" (inf_only: N³/3 an attempt) */
    const double n3 = (double)N * (double)N * (double)N;
    double flops = o.inf_only ? n3 / 3 : 4 * n3;
    const char *stage = o.inf_only ? "Cholesky" : "eigendecomposition";
    if (ntk_progress_report(&o.progress, stage, 0, flops)) {
        s = ntk_canceled(err, stage);
        goto fail;
    }
    if (o.inf_only) {
        free(nngp_xx);
        nngp_xx = NULL;
        s = factor_inf(m, kxx, &flops, err);
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
    m->o.progress = (ntk_progress){NULL, NULL}; /* the fit's: not kept */
    if (ntk_progress_report(&o.progress, stage, flops, flops)) {
        s = ntk_canceled(err, stage);
        goto fail;
    }
    *out = m;
    return NTK_OK;
fail:
    free(kxx);
    free(nngp_xx);
    ntk_model_free(m);
    return s;
}

ntk_status ntk_model_fit_kernels(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                 size_t d, const double *y, size_t k, double *kxx, double *nngp_xx,
                                 double kernel_seconds, ntk_model **out, ntk_error *err)
{
    return fit_core(arch, opts, x, N, d, y, k, kxx, nngp_xx, kernel_seconds, NULL, out, err);
}

/* ------------------------------------------------------------ given kernels: checks */

#define GIVEN_SYM_TOL 1e-6  /* asymmetry tolerated, relative to √(K_ii·K_jj) (ntk.h) */
/* Given vs computed entries, relative to √(K_ii·K_jj): the same kernel
 * computed in blocks of other shapes differs by rounding of the Gram
 * entries (~d·ε), amplified near duplicate points where arccos is steep
 * (~√(d·ε)) and summed over the layers: measured up to 2.3e-8 at d = 784
 * with 8 ReLU layers (1e-15 elsewhere); 1e-5 leaves room for depth 100
 * and d ~ 10^4, while another kernel kind, network, input scale or row
 * order differs by O(1). */
#define GIVEN_ARCH_TOL 1e-5

/* A given N × N kernel: finite, a non-negative diagonal, symmetric to
 * GIVEN_SYM_TOL·max(√(K_ii·K_jj), ε·max K_ii). Walked in square tiles so
 * that the transposed reads stay in cache. */
static ntk_status check_square(const double *K, size_t N, const char *name, ntk_error *err)
{
    ntk_status s;
    if ((s = ntk_check_finite(K, N, N, name, err))) return s;
    double dmax = 0;
    for (size_t i = 0; i < N; i++) {
        double v = K[i * N + i];
        if (v < 0)
            return ntk_fail(err, NTK_E_NUMERIC,
                            "%s: diagonal entry %zu is %.6g < 0: not a kernel matrix (K(x,x) >= 0)", name, i + 1, v);
        if (v > dmax) dmax = v;
    }
    const double low = DBL_EPSILON * dmax;
    enum { TB = 64 };
    for (size_t i0 = 0; i0 < N; i0 += TB)
        for (size_t j0 = i0; j0 < N; j0 += TB) {
            size_t i1 = i0 + TB < N ? i0 + TB : N, j1 = j0 + TB < N ? j0 + TB : N;
            for (size_t i = i0; i < i1; i++)
                for (size_t j = (j0 == i0 ? i + 1 : j0); j < j1; j++) {
                    double a = K[i * N + j], b = K[j * N + i];
                    double sc = fmax(sqrt(K[i * N + i] * K[j * N + j]), low);
                    if (!(fabs(a - b) <= GIVEN_SYM_TOL * sc))
                        return ntk_fail(err, NTK_E_NUMERIC,
                                        "%s: not symmetric: entry (%zu, %zu) is %.17g but (%zu, %zu) is %.17g "
                                        "(|difference| %.3g > %g·sqrt(K_ii·K_jj)): not the kernel of one set of "
                                        "points with itself",
                                        name, i + 1, j + 1, a, j + 1, i + 1, b, fabs(a - b), GIVEN_SYM_TOL);
                }
        }
    return NTK_OK;
}

/* Given entries g[j·step] (j < n) against the ones ntk_kernel computes,
 * c[j], with scales sc[j] = √(K_ii·K_jj) of the computed kernel:
 * |g − c| ≤ GIVEN_ARCH_TOL·sc. The entries are row `row` (1-based), or
 * the diagonal when row is 0. */
static ntk_status compare_entries(const char *name, size_t row, const char *kind, const double *g, size_t step,
                                  const double *c, const double *sc, size_t n, const char *advice, ntk_error *err)
{
    for (size_t j = 0; j < n; j++)
        if (!(fabs(g[j * step] - c[j]) <= GIVEN_ARCH_TOL * sc[j]))
            return ntk_fail(err, NTK_E_INVAL,
                            "%s: entry (%zu, %zu) is %.17g, but the %s of the architecture there is %.17g: not this "
                            "network's %s on these points (another architecture, kernel, parameterization, input "
                            "scale or rows?)%s",
                            name, row ? row : j + 1, j + 1, g[j * step], kind, c[j], kind, advice);
    return NTK_OK;
}

/* The architecture's kernels between the point p (1 × d, scaled) and the
 * N points xs: rows rn, rt (N each: NNGP, NTK); p's own dp[0..1] (NNGP,
 * NTK); with want_diag the diagonals dn, dt of xs (N each). */
static ntk_status arch_row(const ntk_arch *arch, const ntk_model_opts *o, const double *p, const double *xs,
                           size_t N, size_t d, double *rn, double *rt, double *dp, double *dn, double *dt,
                           int want_diag, ntk_error *err)
{
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.param = o->param;
    ko.threads = o->threads;
    ntk_status s;
    if ((s = ntk_kernel(arch, &ko, p, 1, xs, N, d, rn, rt, err))) return s;
    ko.diag = 1;
    if ((s = ntk_kernel(arch, &ko, p, 1, NULL, 0, d, &dp[0], &dp[1], err))) return s;
    if (want_diag && (s = ntk_kernel(arch, &ko, xs, N, NULL, 0, d, dn, dt, err))) return s;
    return NTK_OK;
}

/* The given training kernels (N × N) against the architecture's: their
 * diagonals and first rows (ntk.h). xs: the scaled inputs. */
static ntk_status check_fit_arch(const ntk_arch *arch, const ntk_model_opts *o, const double *xs, size_t N, size_t d,
                                 const double *K, const char *kname, const double *Kn, const char *nname,
                                 ntk_error *err)
{
    double *buf = malloc(5 * N * sizeof *buf), dp[2];
    if (!buf) return ntk_fail(err, NTK_E_NOMEM, "out of memory checking a %zu x %zu kernel", N, N);
    double *rn = buf, *rt = buf + N, *dn = buf + 2 * N, *dt = buf + 3 * N, *sc = buf + 4 * N;
    ntk_status s = arch_row(arch, o, xs, xs, N, d, rn, rt, dp, dn, dt, 1, err);
    const char *adv = "; fit a kernel of another kind (an empirical NTK) without an architecture";
    for (int pass = 0; !s && pass < 2; pass++) {
        const double *G = pass ? Kn : K;
        if (!G) continue;
        int nngp = pass || o->kernel == NTK_MODEL_NNGP;
        const double *cd = nngp ? dn : dt, *cr = nngp ? rn : rt;
        const char *kind = nngp ? "NNGP" : "NTK", *name = pass ? nname : kname;
        s = compare_entries(name, 0, kind, G, N + 1, cd, cd, N, adv, err);
        for (size_t j = 0; !s && j < N; j++) sc[j] = sqrt(cd[0] * cd[j]);
        if (!s) s = compare_entries(name, 1, kind, G, 1, cr, sc, N, adv, err);
    }
    free(buf);
    return s;
}

/* ------------------------------------------------------------ given kernels: fitting */

ntk_status ntk_model_fit_kernel_owned(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                      size_t d, const double *y, size_t k, double *kxx, double *nngp_xx,
                                      const char *kname, const char *nname, ntk_model **out, ntk_error *err)
{
    ntk_error_clear(err);
    if (out) *out = NULL;
    ntk_model_opts o = opts ? *opts : ntk_model_opts_default();
    const char *kn = kname ? kname : "training kernel", *nn = nname ? nname : "train NNGP";
    double *xs = NULL;
    ntk_status s;
    if (!out) {
        s = ntk_fail(err, NTK_E_INVAL, "ntk_model_fit_kernel: out must not be NULL");
        goto fail;
    }
    if ((s = check_opts(&o, err))) goto fail;
    if (!x || !y || !kxx || N == 0) {
        s = ntk_fail(err, NTK_E_SHAPE, "empty training set or no training kernel");
        goto fail;
    }
    if (d == 0 || k == 0) {
        s = ntk_fail(err, NTK_E_SHAPE, "%s have no columns", d == 0 ? "training inputs" : "targets");
        goto fail;
    }
    if (o.kernel == NTK_MODEL_NNGP || o.inf_only) { /* no variances from it: not kept */
        free(nngp_xx);
        nngp_xx = NULL;
    }
    if ((s = ntk_check_finite(x, N, d, "training inputs", err)) || (s = ntk_check_finite(y, N, k, "targets", err)) ||
        (s = check_square(kxx, N, kn, err)) || (nngp_xx && (s = check_square(nngp_xx, N, nn, err))))
        goto fail;
    if (!(xs = malloc(N * d * sizeof *xs))) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for the training data");
        goto fail;
    }
    for (size_t i = 0; i < N * d; i++) xs[i] = o.input_scale == 1.0 ? x[i] : x[i] * o.input_scale;
    if (arch && (s = check_fit_arch(arch, &o, xs, N, d, kxx, kn, nngp_xx, nn, err))) goto fail;
    given_info g = {kn, nn, fnv_doubles(FNV_OFFSET, kxx, N * N),
                    nngp_xx ? fnv_doubles(FNV_OFFSET, nngp_xx, N * N) : 0, nngp_xx != NULL};
    s = fit_core(arch, &o, xs, N, d, y, k, kxx, nngp_xx, 0.0, &g, out, err); /* takes both kernels */
    free(xs);
    return s;
fail:
    free(kxx);
    free(nngp_xx);
    free(xs);
    return s;
}

ntk_status ntk_model_fit_kernel(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                size_t d, const double *y, size_t k, const ntk_model_kernels *kernels,
                                ntk_model **out, ntk_error *err)
{
    ntk_error_clear(err);
    if (out) *out = NULL;
    if (!kernels || !kernels->kxx) return ntk_fail(err, NTK_E_INVAL, "ntk_model_fit_kernel: no training kernel");
    if (N == 0) return ntk_fail(err, NTK_E_SHAPE, "empty training set");
    size_t bytes;
    if (ntk_mul_size(N, N, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_NOMEM, "a %zu x %zu training kernel is too large", N, N);
    double *K = malloc(bytes), *Kn = kernels->nngp_xx ? malloc(bytes) : NULL;
    if (!K || (kernels->nngp_xx && !Kn)) {
        free(K);
        free(Kn);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for a %zu x %zu training kernel (%.3g GB)", N, N,
                        (double)bytes / 1e9);
    }
    memcpy(K, kernels->kxx, bytes);
    if (Kn) memcpy(Kn, kernels->nngp_xx, bytes);
    return ntk_model_fit_kernel_owned(arch, opts, x, N, d, y, k, K, Kn, kernels->kxx_name, kernels->nngp_name, out,
                                      err);
}

/* ------------------------------------------------------------ size estimates */

/* n doubles in bytes; SIZE_MAX when that does not fit a size_t. Doubles
 * count exactly up to 2^53 bytes, far beyond any memory. */
static size_t doubles_bytes(double n)
{
    double b = 8.0 * n;
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

/* The peak, in doubles (see ntk.h): during dsyevd the kernel, the train
 * NNGP, ntk_factor_kernel's copy of the kernel for Cholesky and dsyevd's
 * workspace (1 + 6N + 2N², LAPACKE's query) are alive at once; the inputs
 * twice (the scaled copy, the model's). Saving copies every array into the
 * archive in memory, which stays below that peak. */
size_t ntk_model_fit_bytes(const ntk_model_opts *opts, size_t N, size_t d, size_t k)
{
    ntk_model_opts o = opts ? *opts : ntk_model_opts_default();
    const double n = (double)N, nn = n * n;
    double sq; /* N × N arrays at the peak */
    if (o.inf_only) sq = 1;                          /* K, factorized in place */
    else if (o.kernel == NTK_MODEL_NTK) sq = 3 + 2;  /* K, NNGP, copy + dsyevd's 2N² */
    else sq = 2 + 2;                                 /* K, copy + dsyevd's 2N²       */
    double small = 2 * n * (double)d + 4 * n * (double)k + 8 * n + 1;
    return doubles_bytes(sq * nn + small);
}

size_t ntk_model_file_bytes(const ntk_model_opts *opts, size_t N, size_t d, size_t k)
{
    ntk_model_opts o = opts ? *opts : ntk_model_opts_default();
    const double n = (double)N;
    double a = n * (double)d + 2 * n * (double)k; /* x, y, alpha */
    if (!o.inf_only) a += n + n * n + n * (double)k + (o.kernel == NTK_MODEL_NTK ? n * n : 0);
    size_t b = doubles_bytes(a);
    /* headers of up to 8 members (.npy ≤ 256, zip ≤ 200 bytes each), meta
     * and spec text: 64 KiB is ample */
    return b > SIZE_MAX - 65536 ? SIZE_MAX : b + 65536;
}

size_t ntk_model_predict_bytes(const ntk_model *m, size_t M, size_t n_times, int var)
{
    if (!m || M == 0) return 0;
    const double N = (double)m->N, k = (double)m->k, d = (double)m->d;
    size_t Bz = m->block_rows ? m->block_rows : BLOCK_ELEMS / m->N;
    if (Bz < 1) Bz = 1;
    if (Bz > M) Bz = M;
    const double B = (double)Bz;
    const int ntk = m->o.kernel == NTK_MODEL_NTK;
    /* upper bound: every time finite (the N × k coefficients per time) and A formed */
    double a = B * d + 2 * B * N + (var && ntk ? 3 * B * N : 0) + B + N + N * k + (double)n_times * N * k;
    return doubles_bytes(a);
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
    ko.progress = o.progress; /* stage "kernel" */
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
    s = ntk_model_fit_kernels(arch, &o, xs, N, d, y, k, K, Kn, t1 - t0, out, err);
    free(xs);
    return s;
}

/* ------------------------------------------------------------ saving */

static ntk_status add_if(ntk_npz *z, const char *name, const double *a, size_t rows, size_t cols, int ndim,
                         ntk_error *err)
{
    return a ? ntk_npz_add_array_ref(z, name, a, rows, cols, ndim, err) : NTK_OK;
}

ntk_status ntk_model_save(const ntk_model *m, const char *path, ntk_error *err)
{
    return ntk_model_save_to(NULL, m, path, err);
}

ntk_status ntk_model_save_to(ntk_outputs *o, const ntk_model *m, const char *path, ntk_error *err)
{
    ntk_error_clear(err);
    if (!m || !path) {
        ntk_outputs_fail(o);
        return ntk_fail(err, NTK_E_INVAL, "ntk_model_save: model and path must not be NULL");
    }
    size_t N = m->N, k = m->k, d = m->d;
    size_t sl = 0;
    char *spec = canon_spec(m->arch, &sl);
    char meta[4096];
    int hl = snprintf(meta, sizeof meta, "format = " FORMAT_NAME " %d\nntk_version = " NTK_VERSION_STRING "\n",
                      m->given ? FORMAT_VERSION_GIVEN : FORMAT_VERSION);
    int bl = meta_all(m, meta + hl, sizeof meta - (size_t)hl), tl = -1;
    if (bl >= 0 && (size_t)(hl + bl) < sizeof meta)
        tl = snprintf(meta + hl + bl, sizeof meta - (size_t)(hl + bl),
                      "checksum = %016" PRIx64 "\nfit_checksum = %016" PRIx64 "\n", m->checksum, m->fit_checksum);
    if (!spec || tl < 0 || (size_t)(hl + bl + tl) >= sizeof meta) {
        free(spec);
        ntk_outputs_fail(o);
        return ntk_fail(err, NTK_E_NOMEM, "%s: out of memory", path);
    }
    ntk_npz *z = NULL;
    ntk_status s;
    if (!(s = ntk_npz_create(&z, err)) && !(s = m->arch ? ntk_npz_add_bytes(z, "arch.txt", spec, sl, err) : NTK_OK) &&
        !(s = ntk_npz_add_bytes(z, "meta.txt", meta, strlen(meta), err)) &&
        /* by reference: the arrays (2·N² doubles at most) stream from the model into the file */
        !(s = add_if(z, "x", m->x, N, d, 2, err)) && !(s = add_if(z, "y", m->y, N, k, 2, err)) &&
        !(s = add_if(z, "alpha", m->alpha, N, k, 2, err)) && !(s = add_if(z, "eigenvalues", m->lam, N, 1, 1, err)) &&
        !(s = add_if(z, "eigenvectors", m->V, N, N, 2, err)) && !(s = add_if(z, "c", m->c, N, k, 2, err)) &&
        !(s = add_if(z, "nngp_xx", m->nngp_xx, N, N, 2, err)))
        s = o ? ntk_outputs_write_npz(o, z, path, err) : ntk_npz_write(z, path, err);
    ntk_npz_free(z);
    free(spec);
    if (s) ntk_outputs_fail(o); /* a failure before the write dooms the set too */
    return s;
}

/* ------------------------------------------------------------ loading */

enum {
    K_FORMAT, K_VERSION, K_KERNEL, K_PARAM, K_LR, K_RIDGE, K_RIDGE_MODE, K_DISCRETE, K_AUTO_JITTER, K_SCALE, K_D,
    K_N, K_K, K_EIGEN, K_CHOLESKY, K_JITTER, K_RIDGE_ADDED, K_LMIN, K_LMAX, K_CLIPPED, K_CHECKSUM, K_FIT_CHECKSUM,
    K_SOURCE, K_KNAME, K_KSUM, K_NNAME, K_NSUM, K_ARCH, /* format 2 only (a given kernel) */
    K_COUNT
};
#define K_REQUIRED (K_FIT_CHECKSUM + 1) /* every format has the keys before this */
static const char *const KEYS[K_COUNT] = {
    "format",      "ntk_version", "kernel", "param", "lr",          "ridge",      "ridge_mode", "discrete",
    "auto_jitter", "input_scale", "d",      "N",     "k",           "eigen",      "cholesky",   "jitter",
    "ridge_added", "lambda_min",  "lambda_max", "n_clipped", "checksum", "fit_checksum",
    "kernel_source", "kernel_name", "kernel_checksum", "nngp_name", "nngp_checksum", "arch"};


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

/* Format 2: the given kernel's lines into m (m->arch_wanted says whether
 * arch.txt must be there). */
static ntk_status read_meta_given(const char *path, char *const *v, ntk_model *m, ntk_error *err)
{
    if (strcmp(v[K_SOURCE], "given")) return bad_value(path, K_SOURCE, v[K_SOURCE], "given", err);
    if (parse_hex64(v[K_KSUM], &m->ksum)) return bad_value(path, K_KSUM, v[K_KSUM], "16 hex digits", err);
    m->nngp_given = strcmp(v[K_NSUM], "none") != 0;
    if (m->nngp_given && parse_hex64(v[K_NSUM], &m->nsum))
        return bad_value(path, K_NSUM, v[K_NSUM], "16 hex digits or none", err);
    if (m->nngp_given && (m->o.kernel != NTK_MODEL_NTK || !v[K_EIGEN] || strcmp(v[K_EIGEN], "1")))
        return bad_value(path, K_NSUM, v[K_NSUM], "none (an NNGP or inf-only model keeps no train NNGP)", err);
    int a;
    if (parse_enum(v[K_ARCH], "0", "1", &a)) return bad_value(path, K_ARCH, v[K_ARCH], "0 or 1", err);
    m->arch_wanted = a;
    m->given = 1;
    meta_name(m->kname, sizeof m->kname, v[K_KNAME]);
    meta_name(m->nname, sizeof m->nname, v[K_NNAME]);
    return NTK_OK;
}

/* Settings and results from meta.txt into m (arrays not yet read). */
static ntk_status read_meta(const ntk_npz *z, const char *path, ntk_model *m, int *eigen, int *chol, uint64_t *sum,
                            uint64_t *fsum, ntk_error *err)
{
    char *text = NULL;
    size_t n = 0;
    if (!ntk_npz_has(z, "meta.txt"))
        return ntk_fail(err, NTK_E_FORMAT, "%s: no member 'meta.txt': not a model file of 'ntk fit'", path);
    char *v[K_COUNT];
    ntk_status s = ntk_npz_get_bytes(z, "meta.txt", &text, &n, err); /* a damaged member says so */
    if (s) return s;
    if ((s = parse_meta(text, n, path, v, err))) goto done;
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
    if (ver != FORMAT_VERSION && ver != FORMAT_VERSION_GIVEN) {
        s = ntk_fail(err, NTK_E_FORMAT,
                     "%s: meta.txt: format '%s' is not one this ntk (" NTK_VERSION_STRING ") reads (" FORMAT_NAME
                     " 1 or %d)%s",
                     path, v[K_FORMAT], FORMAT_VERSION_GIVEN, ver > FORMAT_VERSION_GIVEN ? "; it comes from a newer ntk" : "");
        goto done;
    }
    for (int i = K_KERNEL; i < (ver == FORMAT_VERSION ? K_REQUIRED : K_COUNT); i++)
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
    if (ver == FORMAT_VERSION_GIVEN && (s = read_meta_given(path, v, m, err))) goto done;
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
    int want_arch = !m->given || m->arch_wanted;
    if (want_arch && !ntk_npz_has(z, "arch.txt")) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: no member 'arch.txt' (the architecture spec)", path);
        goto fail;
    }
    if (want_arch && (s = ntk_npz_get_bytes(z, "arch.txt", &spec, &n, err))) goto fail;
    if (want_arch && strlen(spec) != n) {
        s = ntk_fail(err, NTK_E_FORMAT, "%s: arch.txt holds a NUL byte", path);
        goto fail;
    }
    if (want_arch && (s = ntk_arch_parse(spec, &m->arch, err))) {
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
    if (eigen && m->o.kernel == NTK_MODEL_NTK && (!m->given || m->nngp_given) &&
        (s = get_array(z, path, "nngp_xx", N, N, 2, &m->nngp_xx, err)))
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

ntk_model_predict_opts ntk_model_predict_opts_default(void)
{
    ntk_model_predict_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

/* What the options ask of the model and of the given test kernels, before
 * any work (ntk.h). */
static ntk_status check_predict_opts(const ntk_model *m, const ntk_model_predict_opts *po, const double *xt, size_t M,
                                     const double *times, size_t n_times, const double *var, ntk_error *err)
{
    const size_t N = m->N, k = m->k;
    const int ntk = m->o.kernel == NTK_MODEL_NTK;
    if (!po->kxt && (po->nngp_xt || po->nngp_tt))
        return ntk_fail(err, NTK_E_INVAL, "given test kernels: the model's own test x train kernel (kxt) is missing");
    if (!po->kxt && !xt) return ntk_fail(err, NTK_E_INVAL, "no test inputs and no test x train kernel (kxt)");
    if (!po->kxt && !m->arch)
        return ntk_fail(err, NTK_E_INVAL,
                        "the model was fit from a given kernel without an architecture: its predictions need the "
                        "test x train kernel (kxt)");
    if (var) {
        if (!m->V)
            return ntk_fail(err, NTK_E_INVAL,
                            "variances need the eigendecomposition, but the model was fit for t = inf only");
        if (ntk && !m->nngp_xx)
            return ntk_fail(err, NTK_E_INVAL,
                            "variances of an NTK model need the train NNGP, and this model was fit from a given "
                            "kernel without one");
        if (po->kxt && !po->nngp_tt)
            return ntk_fail(err, NTK_E_INVAL,
                            "variances from given test kernels need nngp_tt (the NNGP K(x*,x*) of each test point)");
        if (po->kxt && ntk && !po->nngp_xt)
            return ntk_fail(err, NTK_E_INVAL,
                            "variances of an NTK model from given test kernels need nngp_xt (the test x train NNGP)");
        if (po->f0_train || po->f0_test)
            return ntk_fail(err, NTK_E_INVAL,
                            "variances are those of the infinite ensemble; with a given f0 the prediction is one "
                            "network's, which has none");
    }
    for (size_t i = 0; po->f0_train && i < n_times; i++) {
        if (!isinf(times[i])) continue;
        if (!m->V)
            return ntk_fail(err, NTK_E_INVAL,
                            "t = inf with f0 at the training points needs K_reg^-1·f0(X) from the "
                            "eigendecomposition, but the model was fit for t = inf only");
        if (!(m->lam[0] > 0))
            return ntk_fail(err, NTK_E_NUMERIC,
                            "t = inf with f0 at the training points needs K_reg^-1·f0(X), but the smallest eigenvalue "
                            "of the kernel is %.3g: refit with a ridge",
                            m->lam[0]);
    }
    ntk_status s;
    if ((po->kxt && (s = ntk_check_finite(po->kxt, M, N, "test x train kernel", err))) ||
        (po->nngp_xt && (s = ntk_check_finite(po->nngp_xt, M, N, "test x train NNGP", err))) ||
        (po->nngp_tt && (s = ntk_check_finite(po->nngp_tt, M, 1, "test NNGP diagonal", err))) ||
        (po->f0_train && (s = ntk_check_finite(po->f0_train, N, k, "f0 at the training points", err))) ||
        (po->f0_test && (s = ntk_check_finite(po->f0_test, M, k, "f0 at the test points", err))))
        return s;
    for (size_t i = 0; po->nngp_tt && i < M; i++)
        if (po->nngp_tt[i] < 0)
            return ntk_fail(err, NTK_E_NUMERIC, "test NNGP diagonal: entry %zu is %.6g < 0: not a kernel's K(x,x)",
                            i + 1, po->nngp_tt[i]);
    return NTK_OK;
}

/* The first row of each given test kernel against the architecture's on
 * the first test point (ntk.h). */
static ntk_status check_predict_arch(const ntk_model *m, const ntk_model_predict_opts *po, const double *xt,
                                     ntk_error *err)
{
    const size_t N = m->N, d = m->d;
    const int ntk = m->o.kernel == NTK_MODEL_NTK;
    double *buf = malloc((5 * N + d) * sizeof *buf), dp[2];
    if (!buf) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    double *rn = buf, *rt = buf + N, *dn = buf + 2 * N, *dt = buf + 3 * N, *sc = buf + 4 * N, *p = buf + 5 * N;
    for (size_t j = 0; j < d; j++) p[j] = xt[j] * m->test_scale;
    ntk_status s = arch_row(m->arch, &m->o, p, m->x, N, d, rn, rt, dp, dn, dt, 1, err);
    for (size_t j = 0; !s && j < N; j++) sc[j] = ntk ? sqrt(dp[1] * dt[j]) : sqrt(dp[0] * dn[j]);
    if (!s) s = compare_entries("test x train kernel", 1, ntk ? "NTK" : "NNGP", po->kxt, 1, ntk ? rt : rn, sc, N, "", err);
    for (size_t j = 0; !s && po->nngp_xt && ntk && j < N; j++) sc[j] = sqrt(dp[0] * dn[j]);
    if (!s && po->nngp_xt && ntk) s = compare_entries("test x train NNGP", 1, "NNGP", po->nngp_xt, 1, rn, sc, N, "", err);
    if (!s && po->nngp_tt) s = compare_entries("test NNGP diagonal", 1, "NNGP", po->nngp_tt, 1, &dp[0], &dp[0], 1, "", err);
    free(buf);
    return s;
}

ntk_status ntk_model_predict(const ntk_model *m, const double *xt, size_t M, size_t d, const double *times,
                             size_t n_times, double *mean, double *var, ntk_error *err)
{
    if (!xt) {
        ntk_error_clear(err);
        return ntk_fail(err, NTK_E_INVAL, "ntk_model_predict: missing arguments");
    }
    return ntk_model_predict_with(m, NULL, xt, M, d, times, n_times, mean, var, err);
}

static ntk_status model_predict_with(const ntk_model *m, const ntk_model_predict_opts *opts, const double *xt,
                                  size_t M, size_t d, const double *times, size_t n_times, double *mean,
                                  double *var, ntk_error *err);

/* m->o.threads (ntk_model_set_threads) bounds every thread of the call. */
ntk_status ntk_model_predict_with(const ntk_model *m, const ntk_model_predict_opts *opts, const double *xt,
                                  size_t M, size_t d, const double *times, size_t n_times, double *mean,
                                  double *var, ntk_error *err)
{
    int saved = ntk_threads_begin(m ? m->o.threads : 0);
    ntk_status s = model_predict_with(m, opts, xt, M, d, times, n_times, mean, var, err);
    ntk_threads_end(saved);
    return s;
}

static ntk_status model_predict_with(const ntk_model *m, const ntk_model_predict_opts *opts, const double *xt,
                                  size_t M, size_t d, const double *times, size_t n_times, double *mean,
                                  double *var, ntk_error *err)
{
    ntk_error_clear(err);
    const ntk_model_predict_opts po = opts ? *opts : ntk_model_predict_opts_default();
    if (!m || !times || !mean) return ntk_fail(err, NTK_E_INVAL, "ntk_model_predict: missing arguments");
    if (M == 0) return ntk_fail(err, NTK_E_SHAPE, "no test points");
    if (n_times == 0) return ntk_fail(err, NTK_E_INVAL, "no times");
    if (xt && d != m->d)
        return ntk_fail(err, NTK_E_SHAPE, "test inputs have %zu column%s but the model was fit on %zu", d,
                        d == 1 ? "" : "s", m->d);
    ntk_status s;
    if ((s = check_times(m, times, n_times, err))) return s;
    if ((s = check_predict_opts(m, &po, xt, M, times, n_times, var, err))) return s;
    if (xt && (s = ntk_check_finite(xt, M, d, "test inputs", err))) return s;
    if (xt && po.kxt && m->arch && (s = check_predict_arch(m, &po, xt, err))) return s;
    const size_t N = m->N, k = m->k;
    const int ntk = m->o.kernel == NTK_MODEL_NTK;
    const int given = po.kxt != NULL;
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
    const int scale_x = !given && m->test_scale != 1.0;
    double *xs = scale_x ? malloc(B * d * sizeof *xs) : NULL;
    double *kt = given ? NULL : malloc(bn * sizeof *kt);
    double *kn = var && ntk && !given ? malloc(bn * sizeof *kn) : NULL;
    double *A = need_A ? malloc(bn * sizeof *A) : NULL;
    double *P = var && ntk ? malloc(bn * sizeof *P) : NULL;
    double *T = var && ntk ? malloc(bn * sizeof *T) : NULL;
    double *kd = var && !given ? malloc(B * sizeof *kd) : NULL;
    double *g = malloc(N * sizeof *g), *W = malloc(N * k * sizeof *W);
    double *u = coef ? malloc(n_fin * N * k * sizeof *u) : NULL;
    /* a network's f0 at the training points: c = Vᵀ·(Y − f0(X)) and, for
     * t = ∞, α − V·diag(1/λ)·Vᵀ·f0(X) (ntk.h); the model's own c and α
     * when f0 is not given */
    const int f0_inf = po.f0_train && n_fin < n_times;
    double *c_f0 = po.f0_train && m->V ? malloc(N * k * sizeof *c_f0) : NULL;
    double *a_f0 = f0_inf ? malloc(N * k * sizeof *a_f0) : NULL;
    if ((scale_x && !xs) || (!given && !kt) || (var && ntk && ((!given && !kn) || !P || !T)) || (need_A && !A) ||
        (var && !given && !kd) || !g || !W || (coef && !u) || (po.f0_train && m->V && !c_f0) || (f0_inf && !a_f0)) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for %zu x %zu test kernel blocks", B, N);
        goto done;
    }
    const double *c = m->c, *alpha = m->alpha;
    if (c_f0) {
        for (size_t i = 0; i < N * k; i++) W[i] = m->y[i] - po.f0_train[i];
        ntk_dgemm(CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, m->V, (int)N, W, (int)k, 0.0, c_f0, (int)k);
        c = c_f0;
    }
    if (a_f0) {
        ntk_dgemm(CblasTrans, CblasNoTrans, (int)N, (int)k, (int)N, 1.0, m->V, (int)N, po.f0_train, (int)k, 0.0, W,
                  (int)k);
        for (size_t j = 0; j < N; j++)
            for (size_t a = 0; a < k; a++) W[j * k + a] /= m->lam[j];
        memcpy(a_f0, m->alpha, N * k * sizeof *a_f0);
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)N, (int)k, (int)N, -1.0, m->V, (int)N, W, (int)k, 1.0, a_f0,
                  (int)k);
        alpha = a_f0;
    }
    for (size_t ti = 0, q = 0; coef && ti < n_times; ti++) {
        if (!isfinite(times[ti])) continue;
        for (size_t j = 0; j < N; j++) {
            double gj = ntk_predict_g(m->o.lr, m->n_norm, m->o.discrete, m->lam[j], times[ti]);
            for (size_t a = 0; a < k; a++) W[j * k + a] = gj * c[j * k + a];
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
    /* progress: stage "prediction", test points done. Within a block the
     * test kernel takes the share wk of its work, estimated per entry as
     * 2d + 20·layers flops against 2N for A, 4N for NTK variances (T, P) */
    const double ck = 2.0 * (double)d + 20.0 * (double)ntk_arch_n_layers(m->arch);
    const double cr = (need_A ? 2.0 : 0.0) * (double)N + (var && ntk ? 4.0 * (double)N : 0.0);
    const double wk = ck / (ck + cr);
    ntk_subprogress sp;
    if (ntk_progress_report(&po.progress, "prediction", 0, (double)M)) {
        s = ntk_canceled(err, "prediction");
        goto done;
    }

    for (size_t i0 = 0; i0 < M; i0 += B) {
        size_t b = M - i0 < B ? M - i0 : B;
        /* Kt: the model's kernel K(x*,X); Kn: the NNGP when it differs; Kd:
         * the NNGP K(x*,x*) (given, or computed from the arch) */
        const double *Kt = kt, *Kn = kn, *Kd = kd;
        if (given) {
            Kt = po.kxt + i0 * N;
            Kn = po.nngp_xt ? po.nngp_xt + i0 * N : NULL;
            Kd = po.nngp_tt ? po.nngp_tt + i0 : NULL;
        } else {
            const double *xb = xt + i0 * d;
            if (xs) {
                for (size_t i = 0; i < b * d; i++) xs[i] = xb[i] * m->test_scale;
                xb = xs;
            }
            ko.progress = ntk_subprogress_bind(&sp, &po.progress, "prediction", (double)i0, (double)b * wk, (double)M);
            kod.progress = ko.progress;
            if ((s = ntk_kernel(m->arch, &ko, xb, b, m->x, N, d, ntk ? kn : kt, ntk ? kt : NULL, err))) goto done;
            if (var && (s = ntk_kernel(m->arch, &kod, xb, b, NULL, 0, d, kd, NULL, err))) goto done;
        }
        if (need_A)
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)N, (int)N, 1.0, Kt, (int)N, m->V,
                        (int)N, 0.0, A, (int)N);
        for (size_t ti = 0, q = 0; ti < n_times; ti++) {
            double t = times[ti];
            double *o = mean + (ti * M + i0) * k;
            if (isinf(t)) {
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)k, (int)N, 1.0, Kt, (int)N,
                            alpha, (int)k, 0.0, o, (int)k);
            } else if (coef) {
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)k, (int)N, 1.0, Kt, (int)N, u + q++ * N * k,
                          (int)k, 0.0, o, (int)k);
            } else {
                for (size_t j = 0; j < N; j++) {
                    double gj = ntk_predict_g(m->o.lr, m->n_norm, m->o.discrete, m->lam[j], t);
                    for (size_t a = 0; a < k; a++) W[j * k + a] = gj * c[j * k + a];
                }
                ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)b, (int)k, (int)N, 1.0, A, (int)N, W,
                            (int)k, 0.0, o, (int)k);
            }
            if (po.f0_test)
                for (size_t i = 0; i < b * k; i++) o[i] += po.f0_test[i0 * k + i];
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
                    vo[i] = Kd[i] - 2 * s1 + s2;
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
                    s1 += T[i * N + j] * Kn[i * N + j];
                    s2 += P[i * N + j] * T[i * N + j];
                }
                vo[i] = Kd[i] - 2 * s1 + s2;
            }
        }
        if (ntk_progress_report(&po.progress, "prediction", (double)(i0 + b), (double)M)) {
            s = ntk_canceled(err, "prediction");
            goto done;
        }
    }
    s = NTK_OK;
done:
    free(c_f0);
    free(a_f0);
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
