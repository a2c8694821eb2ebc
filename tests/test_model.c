/*
 * test_model.c — kernel models (ntk_model_*): fit → save → load → predict
 * against ntk_predictor on the same kernels (NTK and NNGP, gradient flow and
 * discrete GD, relative and absolute ridge, input scale, blocks of test
 * rows), the variances against ntk_predict_cov, the t = ∞-only models, the
 * checksums (edited data, fit arrays and meta values are refused), singular
 * and indefinite kernels, and the argument and file errors. Kernel reuse:
 * fits and predictions from given kernels against the computed ones (bit
 * for bit: the same calls), every refusal of a given kernel and the
 * tolerances of those checks on both sides; one network's predictions (f0)
 * against ntk_predictor and against a wide network trained by gradient
 * descent and its linearization. A model with arrays past 1 MiB, which the
 * load reads lazily from the file: the same predictions, and damage found.
 *
 * Tolerances: a model factorizes the same kernel with the same LAPACK calls
 * as ntk_predictor_create, so the two differ only in how the test × train
 * products are blocked: a few ulps of the result (1e-12 relative is
 * ~4500 ulps of headroom). Variances cancel (K** − 2·T·K*ᵀ + T·K·Tᵀ), so
 * their error is measured against max K(x*,x*), the scale of the terms;
 * at t = ∞ the model uses V·diag(1/λ)·Vᵀ where ntk_predict_cov uses the
 * Cholesky factor, which differ by ~cond(K)·ε relative.
 */
#include "testutil.h"

#include "predict/predict_internal.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define assert_has(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("message \"%s\" lacks \"%s\"", (msg), (sub)); \
    } while (0)

static const char *SPEC = "dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)";
enum { N = 24, D = 3, K = 2, M = 17 };

typedef struct {
    ntk_arch *arch;
    double x[N * D], y[N * K], xt[M * D];
} fixture;

static void make_fixture(fixture *f, uint64_t seed)
{
    ntk_error err;
    if (ntk_arch_parse(SPEC, &f->arch, &err)) fail_msg("%s", err.msg);
    tu_rng r = {seed};
    tu_fill_normal(&r, f->x, N * D, 1.0);
    tu_fill_normal(&r, f->xt, M * D, 1.0);
    for (size_t i = 0; i < N; i++) {
        f->y[i * K] = sin(f->x[i * D]) + 0.5 * f->x[i * D + 1];
        f->y[i * K + 1] = cos(f->x[i * D + 2]);
    }
}

static ntk_model *fit_ok(const fixture *f, const ntk_model_opts *o)
{
    ntk_error err;
    ntk_model *m = NULL;
    if (ntk_model_fit(f->arch, o, f->x, N, D, f->y, K, &m, &err)) fail_msg("fit: %s", err.msg);
    return m;
}

static ntk_model *reload(const ntk_model *m, char **path_out)
{
    ntk_error err;
    char *p = tu_tmpfile(".npz");
    if (ntk_model_save(m, p, &err)) fail_msg("save: %s", err.msg);
    ntk_model *l = NULL;
    if (ntk_model_load(p, &l, &err)) fail_msg("load: %s", err.msg);
    if (path_out) *path_out = p;
    else {
        unlink(p);
        free(p);
    }
    return l;
}

/* kernel (NTK or NNGP) between the rows of a (na) and b (nb, NULL = a). */
static double *kernel(const fixture *f, ntk_model_kernel kind, const double *a, size_t na, const double *b,
                      size_t nb, double scale)
{
    ntk_error err;
    double *as = malloc(na * D * sizeof *as), *bs = b ? malloc(nb * D * sizeof *bs) : NULL;
    for (size_t i = 0; i < na * D; i++) as[i] = a[i] * scale;
    for (size_t i = 0; b && i < nb * D; i++) bs[i] = b[i] * scale;
    size_t cols = b ? nb : na;
    double *out = malloc(na * cols * sizeof *out);
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ntk_status s = ntk_kernel(f->arch, &ko, as, na, bs, nb, D, kind == NTK_MODEL_NNGP ? out : NULL,
                              kind == NTK_MODEL_NTK ? out : NULL, &err);
    if (s) fail_msg("kernel: %s", err.msg);
    free(as);
    free(bs);
    return out;
}

static double *nngp_diag(const fixture *f, const double *a, size_t na, double scale)
{
    ntk_error err;
    double *as = malloc(na * D * sizeof *as), *out = malloc(na * sizeof *out);
    for (size_t i = 0; i < na * D; i++) as[i] = a[i] * scale;
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.diag = 1;
    if (ntk_kernel(f->arch, &ko, as, na, NULL, 0, D, out, NULL, &err)) fail_msg("%s", err.msg);
    free(as);
    return out;
}

static ntk_predict_opts popts_of(const ntk_model_opts *o)
{
    ntk_predict_opts p = ntk_predict_opts_default();
    p.lr = o->lr;
    p.ridge = o->ridge;
    p.ridge_mode = o->ridge_mode;
    p.discrete = o->discrete;
    p.auto_jitter = o->auto_jitter;
    return p;
}

static void assert_close(const double *a, const double *b, size_t n, double tol, const char *what)
{
    double e = tu_max_rel(a, b, n);
    if (!(e <= tol)) fail_msg("%s: max relative error %.3g > %.3g", what, e, tol);
}

/* |a − b| ≤ tol·scale entry by entry */
static void assert_abs(const double *a, const double *b, size_t n, double scale, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= tol * scale))
            fail_msg("%s: entry %zu: %.17g vs %.17g (|diff| %.3g > %.3g)", what, i, a[i], b[i], fabs(a[i] - b[i]),
                     tol * scale);
}

/* ------------------------------------------------------------ means */

static void check_against_predictor(const ntk_model_opts *o, uint64_t seed)
{
    fixture f;
    make_fixture(&f, seed);
    ntk_error err;
    ntk_model *m = fit_ok(&f, o);
    double s = o->input_scale;
    double *kxx = kernel(&f, o->kernel, f.x, N, NULL, 0, s), *kxt = kernel(&f, o->kernel, f.xt, M, f.x, N, s);
    ntk_predict_opts po = popts_of(o);
    ntk_predictor *p = NULL;
    if (ntk_predictor_create(kxx, N, f.y, K, NULL, &po, &p, &err)) fail_msg("predictor: %s", err.msg);

    const double times[] = {0, 1, 7, 100, 12345, INFINITY};
    const size_t nt = sizeof times / sizeof *times;
    double ref[6 * M * K], got[6 * M * K], again[6 * M * K], blocked[6 * M * K];
    if (ntk_predict(p, kxt, M, NULL, times, nt, ref, &err)) fail_msg("ntk_predict: %s", err.msg);
    if (ntk_model_predict(m, f.xt, M, D, times, nt, got, NULL, &err)) fail_msg("model: %s", err.msg);
    assert_close(got, ref, nt * M * K, 1e-12, "model vs ntk_predict");
    /* t = 0: the ensemble mean at initialization is 0 */
    for (size_t i = 0; i < M * K; i++) assert_true(got[i] == 0);

    /* the factorization is the predictor's, bit for bit */
    ntk_model_info mi;
    ntk_predict_info pi;
    ntk_model_get_info(m, &mi);
    ntk_predictor_info(p, &pi);
    assert_true(mi.factor.lambda_min == pi.lambda_min && mi.factor.lambda_max == pi.lambda_max);
    assert_true(mi.factor.ridge_added == pi.ridge_added && mi.factor.jitter_added == pi.jitter_added);
    assert_int_equal(mi.factor.n_clipped, pi.n_clipped);
    assert_int_equal(mi.factor.cholesky_ok, pi.cholesky_ok);
    assert_int_equal(mi.has_eigen, 1);
    assert_int_equal(mi.n_train, N);
    assert_int_equal(mi.n_inputs, D);
    assert_int_equal(mi.n_outputs, K);
    assert_true(mi.kernel_seconds >= 0 && mi.factor_seconds >= 0);

    /* saved and loaded: the same predictions, bitwise */
    ntk_model *l = reload(m, NULL);
    if (ntk_model_predict(l, f.xt, M, D, times, nt, again, NULL, &err)) fail_msg("loaded: %s", err.msg);
    assert_memory_equal(again, got, sizeof got);
    ntk_model_get_info(l, &mi);
    assert_true(mi.factor.lambda_min == pi.lambda_min && mi.factor.ridge_added == pi.ridge_added);
    assert_true(mi.opts.lr == o->lr && mi.opts.ridge == o->ridge && mi.opts.input_scale == o->input_scale);
    assert_int_equal(mi.opts.kernel, o->kernel);
    assert_int_equal(mi.opts.discrete, o->discrete);
    assert_true(mi.factor_seconds == 0);

    /* blocks of 5 test rows: 4 blocks, the last one short */
    ntk_model_set_block_rows(l, 5);
    if (ntk_model_predict(l, f.xt, M, D, times, nt, blocked, NULL, &err)) fail_msg("blocked: %s", err.msg);
    assert_close(blocked, got, nt * M * K, 1e-12, "blocked vs whole");

    /* as many outputs as test points (M2 = K): the other route for the means,
     * (kt·V)·W instead of kt·(V·W) */
    enum { M2 = K };
    double few[6 * M2 * K], few_ref[6 * M2 * K];
    if (ntk_model_predict(l, f.xt, M2, D, times, nt, few, NULL, &err)) fail_msg("few: %s", err.msg);
    for (size_t ti = 0; ti < nt; ti++) memcpy(few_ref + ti * M2 * K, got + ti * M * K, M2 * K * sizeof *few);
    assert_close(few, few_ref, nt * M2 * K, 1e-12, "k >= M route vs k < M route");

    /* the training points themselves at t = ∞ without ridge: the targets */
    if (o->ridge == 0 && !o->auto_jitter) {
        double fit_y[N * K], inf = INFINITY;
        if (ntk_model_predict(m, f.x, N, D, &inf, 1, fit_y, NULL, &err)) fail_msg("%s", err.msg);
        assert_close(fit_y, f.y, N * K, 1e-6, "interpolation of the training targets");
    }
    ntk_model_free(l);
    ntk_model_free(m);
    ntk_predictor_free(p);
    free(kxx);
    free(kxt);
    ntk_arch_free(f.arch);
}

static void test_ntk_flow(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    check_against_predictor(&o, 1);
    o.lr = 0.37;
    o.ridge = 1e-3;
    check_against_predictor(&o, 2);
}

static void test_nngp_discrete(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    o.kernel = NTK_MODEL_NNGP;
    check_against_predictor(&o, 3);
    o.discrete = 1;
    o.lr = 2.0;
    o.ridge = 0.05;
    o.ridge_mode = NTK_RIDGE_ABSOLUTE;
    check_against_predictor(&o, 4);
    o.kernel = NTK_MODEL_NTK;
    check_against_predictor(&o, 5);
}

static void test_input_scale(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    o.input_scale = 0.25;
    check_against_predictor(&o, 6);
    /* a replaced test scale: the same as test points pre-scaled by hand */
    fixture f;
    make_fixture(&f, 6);
    ntk_model *m = fit_ok(&f, &o);
    ntk_error err;
    double inf = INFINITY, a[M * K], b[M * K], xt2[M * D];
    for (size_t i = 0; i < M * D; i++) xt2[i] = f.xt[i] * 2.0;
    if (ntk_model_predict(m, xt2, M, D, &inf, 1, a, NULL, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ntk_model_set_input_scale(m, 0.5, &err), NTK_OK);
    if (ntk_model_predict(m, f.xt, M, D, &inf, 1, b, NULL, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(a, b, sizeof a); /* 2·x·0.25 = x·0.5 exactly */
    assert_int_equal(ntk_model_set_input_scale(m, 0, &err), NTK_E_INVAL);
    assert_int_equal(ntk_model_set_input_scale(m, NAN, &err), NTK_E_INVAL);
    ntk_model_free(m);
    ntk_arch_free(f.arch);
}

/* ------------------------------------------------------------ variances */

static void check_cov(ntk_model_kernel kind, const ntk_model_opts *base, uint64_t seed)
{
    fixture f;
    make_fixture(&f, seed);
    ntk_model_opts o = *base;
    o.kernel = kind;
    ntk_model *m = fit_ok(&f, &o);
    ntk_model *l = reload(m, NULL);
    double *kxx = kernel(&f, kind, f.x, N, NULL, 0, 1), *kxt = kernel(&f, kind, f.xt, M, f.x, N, 1);
    double *nxx = kernel(&f, NTK_MODEL_NNGP, f.x, N, NULL, 0, 1), *nxt = kernel(&f, NTK_MODEL_NNGP, f.xt, M, f.x, N, 1);
    double *ntt = nngp_diag(&f, f.xt, M, 1);
    ntk_predict_opts po = popts_of(&o);
    ntk_predictor *p = NULL;
    ntk_error err;
    if (ntk_predictor_create(kxx, N, f.y, K, NULL, &po, &p, &err)) fail_msg("%s", err.msg);
    double scale = 0;
    for (size_t i = 0; i < M; i++) scale = fmax(scale, ntt[i]);

    const double times[] = {0, 3, 50, 4000, INFINITY};
    const size_t nt = sizeof times / sizeof *times;
    double mean[5 * M * K], var[5 * M], var2[5 * M], ref[M];
    if (ntk_model_predict(m, f.xt, M, D, times, nt, mean, var, &err)) fail_msg("%s", err.msg);
    if (ntk_model_predict(l, f.xt, M, D, times, nt, mean, var2, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(var, var2, sizeof var);
    /* the means do not depend on whether variances are asked for */
    double mean_nv[5 * M * K];
    if (ntk_model_predict(l, f.xt, M, D, times, nt, mean_nv, NULL, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(mean_nv, mean, sizeof mean);
    ntk_model_info mi;
    ntk_model_get_info(m, &mi);
    double cond = mi.factor.lambda_max / mi.factor.lambda_min;
    for (size_t ti = 0; ti < nt; ti++) {
        if (ntk_predict_cov(p, kxt, M, nxx, nxt, ntt, 1, times[ti], ref, &err)) fail_msg("cov: %s", err.msg);
        char what[64];
        snprintf(what, sizeof what, "%s variance at t = %g", kind == NTK_MODEL_NTK ? "NTK" : "NNGP", times[ti]);
        double tol = isinf(times[ti]) ? fmax(1e-12, 100 * cond * DBL_EPSILON) : 1e-12;
        assert_abs(var + ti * M, ref, M, scale, tol, what);
        if (times[ti] == 0) assert_abs(var, ntt, M, scale, 1e-15, "variance at t = 0 is the prior");
        for (size_t i = 0; i < M; i++) assert_true(var[ti * M + i] > -1e-9 * scale);
    }
    ntk_model_set_block_rows(l, 4);
    if (ntk_model_predict(l, f.xt, M, D, times, nt, mean, var2, &err)) fail_msg("%s", err.msg);
    assert_abs(var2, var, nt * M, scale, 1e-13, "blocked variances");
    ntk_model_free(m);
    ntk_model_free(l);
    ntk_predictor_free(p);
    free(kxx);
    free(kxt);
    free(nxx);
    free(nxt);
    free(ntt);
    ntk_arch_free(f.arch);
}

static void test_cov(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    o.ridge = 1e-4;
    check_cov(NTK_MODEL_NTK, &o, 11);
    check_cov(NTK_MODEL_NNGP, &o, 12);
    o.ridge = 0.01;
    o.ridge_mode = NTK_RIDGE_ABSOLUTE;
    o.discrete = 1;
    check_cov(NTK_MODEL_NTK, &o, 13);
    check_cov(NTK_MODEL_NNGP, &o, 14);
}

/* ------------------------------------------------------------ t = ∞ only */

static void test_inf_only(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 21);
    ntk_error err;
    for (int kind = 0; kind < 2; kind++) {
        ntk_model_opts o = ntk_model_opts_default();
        o.kernel = kind ? NTK_MODEL_NNGP : NTK_MODEL_NTK;
        o.ridge = 1e-6;
        ntk_model *full = fit_ok(&f, &o);
        o.inf_only = 1;
        ntk_model *m = fit_ok(&f, &o);
        ntk_model_info mi, fi;
        ntk_model_get_info(m, &mi);
        ntk_model_get_info(full, &fi);
        assert_int_equal(mi.has_eigen, 0);
        assert_int_equal(mi.factor.cholesky_ok, 1);
        assert_true(isnan(mi.factor.lambda_min) && isnan(mi.factor.lambda_max));
        assert_true(mi.factor.ridge_added == fi.factor.ridge_added);
        double inf = INFINITY, a[M * K], b[M * K], c[M * K], v[M];
        if (ntk_model_predict(m, f.xt, M, D, &inf, 1, a, NULL, &err)) fail_msg("%s", err.msg);
        if (ntk_model_predict(full, f.xt, M, D, &inf, 1, b, NULL, &err)) fail_msg("%s", err.msg);
        /* lower vs upper Cholesky: the same factor up to rounding */
        double cond = fi.factor.lambda_max / fi.factor.lambda_min;
        assert_close(a, b, M * K, fmax(1e-12, 10 * cond * DBL_EPSILON), "inf_only vs full at t = inf");
        char *path = NULL;
        ntk_model *l = reload(m, &path);
        if (ntk_model_predict(l, f.xt, M, D, &inf, 1, c, NULL, &err)) fail_msg("%s", err.msg);
        assert_memory_equal(a, c, sizeof a);
        /* no eigenvectors in the file */
        ntk_npz *z = NULL;
        if (ntk_npz_read(path, &z, &err)) fail_msg("%s", err.msg);
        for (size_t i = 0; i < ntk_npz_count(z); i++) {
            const char *nm = ntk_npz_member_name(z, i);
            assert_true(strcmp(nm, "eigenvectors.npy") && strcmp(nm, "nngp_xx.npy") && strcmp(nm, "c.npy"));
        }
        ntk_npz_free(z);
        double one = 1;
        assert_int_equal(ntk_model_predict(l, f.xt, M, D, &one, 1, a, NULL, &err), NTK_E_INVAL);
        assert_has(err.msg, "time 1: the model was fit for t = inf only");
        assert_int_equal(ntk_model_predict(l, f.xt, M, D, &inf, 1, a, v, &err), NTK_E_INVAL);
        assert_has(err.msg, "variances need the eigendecomposition");
        unlink(path);
        free(path);
        ntk_model_free(l);
        ntk_model_free(m);
        ntk_model_free(full);
    }
    ntk_arch_free(f.arch);
}

/* ------------------------------------------------------------ checksums */

typedef enum { EDIT_X, EDIT_Y, EDIT_V, EDIT_ALPHA, EDIT_NNGP, EDIT_META_LR, EDIT_META_N, EDIT_ARCH } edit_kind;

/* Rewrites the archive at `path` with one change (valid zip, valid CRCs). */
static void edit_model(const char *path, edit_kind e)
{
    ntk_error err;
    ntk_npz *z = NULL, *w = NULL;
    if (ntk_npz_read(path, &z, &err) || ntk_npz_create(&w, &err)) fail_msg("%s", err.msg);
    static const char *const targets[] = {"x.npy", "y.npy", "eigenvectors.npy", "alpha.npy", "nngp_xx.npy"};
    for (size_t i = 0; i < ntk_npz_count(z); i++) {
        const char *nm = ntk_npz_member_name(z, i);
        size_t len = strlen(nm);
        if (len > 4 && !strcmp(nm + len - 4, ".npy")) {
            ntk_matrix a = {0};
            if (ntk_npz_get_array(z, nm, &a, &err)) fail_msg("%s", err.msg);
            if (e <= EDIT_NNGP && !strcmp(nm, targets[e])) a.data[a.rows * a.cols / 2] *= 1.0 + 1e-15 * 4;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(len - 4), nm);
            if (ntk_npz_add_array(w, name, a.data, a.rows, a.cols, a.ndim, &err)) fail_msg("%s", err.msg);
            ntk_matrix_free(&a);
        } else {
            char *b = NULL;
            size_t n = 0;
            if (ntk_npz_get_bytes(z, nm, &b, &n, &err)) fail_msg("%s", err.msg);
            char buf[8192];
            assert_true(n < sizeof buf - 64);
            memcpy(buf, b, n + 1);
            if (!strcmp(nm, "meta.txt") && e == EDIT_META_LR) {
                char *p = strstr(buf, "\nlr = 1\n");
                assert_non_null(p);
                memcpy(p, "\nlr = 2\n", 8);
            } else if (!strcmp(nm, "meta.txt") && e == EDIT_META_N) {
                char *p = strstr(buf, "\nN = 24\n");
                assert_non_null(p);
                memcpy(p, "\nN = 23\n", 8);
            } else if (!strcmp(nm, "arch.txt") && e == EDIT_ARCH) {
                char *p = strstr(buf, "relu");
                assert_non_null(p);
                memcpy(p, "gelu", 4);
            }
            if (ntk_npz_add_bytes(w, nm, buf, n, &err)) fail_msg("%s", err.msg);
            free(b);
        }
    }
    if (ntk_npz_write(w, path, &err)) fail_msg("%s", err.msg);
    ntk_npz_free(z);
    ntk_npz_free(w);
}

static void test_checksums(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 31);
    ntk_model_opts o = ntk_model_opts_default();
    ntk_model *m = fit_ok(&f, &o);
    ntk_error err;
    char *p = tu_tmpfile(".npz");
    static const struct {
        edit_kind e;
        ntk_status st;
        const char *msg;
    } cases[] = {
        {EDIT_X, NTK_E_FORMAT, "the training data does not match its checksum (the file was modified)"},
        {EDIT_Y, NTK_E_FORMAT, "the training data does not match its checksum (the file was modified)"},
        {EDIT_V, NTK_E_FORMAT, "the fitted arrays or settings do not match their checksum (the file was modified)"},
        {EDIT_ALPHA, NTK_E_FORMAT, "the fitted arrays or settings do not match their checksum"},
        {EDIT_NNGP, NTK_E_FORMAT, "the fitted arrays or settings do not match their checksum"},
        {EDIT_META_LR, NTK_E_FORMAT, "the fitted arrays or settings do not match their checksum"},
        {EDIT_META_N, NTK_E_SHAPE, "x has shape (24, 3), expected (23, 3)"},
        {EDIT_ARCH, NTK_E_FORMAT, "the fitted arrays or settings do not match their checksum"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (ntk_model_save(m, p, &err)) fail_msg("%s", err.msg);
        ntk_model *l = NULL;
        assert_int_equal(ntk_model_load(p, &l, &err), NTK_OK); /* unedited: fine */
        ntk_model_free(l);
        edit_model(p, cases[i].e);
        ntk_status s = ntk_model_load(p, &l, &err);
        if (s != cases[i].st) fail_msg("edit %zu: status %d (%s), expected %d", i, s, s ? err.msg : "ok", cases[i].st);
        assert_null(l);
        assert_has(err.msg, p);
        assert_has(err.msg, cases[i].msg);
    }
    unlink(p);
    free(p);
    ntk_model_free(m);
    ntk_arch_free(f.arch);
}

/* ------------------------------------------------------------ kernels that are not positive definite */

static double *copy_of(const double *a, size_t n)
{
    double *c = malloc(n * sizeof *c);
    memcpy(c, a, n * sizeof *c);
    return c;
}

static void test_bad_kernels(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 41);
    ntk_error err;
    ntk_model *m = NULL;
    ntk_model_opts o = ntk_model_opts_default();
    const double x3[3] = {1, 2, 3}, y3[3] = {1, -1, 0.5};
    /* indefinite: eigenvalues 3, -1 and 1 */
    const double indef[9] = {1, 2, 0, 2, 1, 0, 0, 0, 1};
    assert_int_equal(ntk_model_fit_kernels(f.arch, &o, x3, 3, 1, y3, 1, copy_of(indef, 9), NULL, 0, &m, &err),
                     NTK_E_NUMERIC);
    assert_null(m);
    assert_has(err.msg, "not positive semidefinite: smallest eigenvalue -1, largest 3");
    assert_has(err.msg, "a ridge of at least 1");
    /* singular (rank 1): fit works, finite times work, t = ∞ does not */
    const double ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(ntk_model_fit_kernels(f.arch, &o, x3, 3, 1, y3, 1, copy_of(ones, 9), NULL, 0, &m, &err), NTK_OK);
    ntk_model_info mi;
    ntk_model_get_info(m, &mi);
    assert_int_equal(mi.factor.cholesky_ok, 0);
    ntk_model_free(m);
    o.inf_only = 1;
    assert_int_equal(ntk_model_fit_kernels(f.arch, &o, x3, 3, 1, y3, 1, copy_of(ones, 9), NULL, 0, &m, &err),
                     NTK_E_NUMERIC);
    assert_has(err.msg, "not positive definite to working precision");
    assert_has(err.msg, "add a ridge or allow jitter");
    o.auto_jitter = 1;
    assert_int_equal(ntk_model_fit_kernels(f.arch, &o, x3, 3, 1, y3, 1, copy_of(ones, 9), NULL, 0, &m, &err), NTK_OK);
    ntk_model_get_info(m, &mi);
    assert_true(mi.factor.jitter_added > 0 && mi.factor.cholesky_ok);
    ntk_model_free(m);

    /* a real kernel with duplicated training points: singular; jitter fixes it */
    double xd[N * D], yd[N * K];
    memcpy(xd, f.x, sizeof xd);
    memcpy(yd, f.y, sizeof yd);
    memcpy(xd + D, xd, D * sizeof *xd);
    memcpy(yd + K, yd, K * sizeof *yd);
    o = ntk_model_opts_default();
    assert_int_equal(ntk_model_fit(f.arch, &o, xd, N, D, yd, K, &m, &err), NTK_OK);
    ntk_model_get_info(m, &mi);
    double inf = INFINITY, one = 1, out[M * K];
    if (!mi.factor.cholesky_ok) {
        assert_int_equal(ntk_model_predict(m, f.xt, M, D, &inf, 1, out, NULL, &err), NTK_E_NUMERIC);
        assert_has(err.msg, "t = inf needs a positive definite training kernel");
    }
    assert_int_equal(ntk_model_predict(m, f.xt, M, D, &one, 1, out, NULL, &err), NTK_OK);
    ntk_model_free(m);
    o.auto_jitter = 1;
    assert_int_equal(ntk_model_fit(f.arch, &o, xd, N, D, yd, K, &m, &err), NTK_OK);
    ntk_model_get_info(m, &mi);
    assert_int_equal(mi.factor.cholesky_ok, 1);
    assert_int_equal(ntk_model_predict(m, f.xt, M, D, &inf, 1, out, NULL, &err), NTK_OK);
    ntk_model_free(m);
    ntk_arch_free(f.arch);
}

/* ------------------------------------------------------------ errors */

static void test_errors(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 51);
    ntk_error err;
    ntk_model *m = NULL;
    ntk_model_opts o = ntk_model_opts_default();
    double y[N * K];
    memcpy(y, f.y, sizeof y);
    y[1 * K + 0] = NAN;
    assert_int_equal(ntk_model_fit(f.arch, &o, f.x, N, D, y, K, &m, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "targets: row 2, column 1");
    assert_null(m);
    double x[N * D];
    memcpy(x, f.x, sizeof x);
    x[5] = INFINITY;
    assert_int_equal(ntk_model_fit(f.arch, &o, x, N, D, f.y, K, &m, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "training inputs: row 2, column 3");
    o.lr = 0;
    assert_int_equal(ntk_model_fit(f.arch, &o, f.x, N, D, f.y, K, &m, &err), NTK_E_INVAL);
    assert_has(err.msg, "learning rate must be > 0");
    o = ntk_model_opts_default();
    o.ridge = -1;
    assert_int_equal(ntk_model_fit(f.arch, &o, f.x, N, D, f.y, K, &m, &err), NTK_E_INVAL);
    o = ntk_model_opts_default();
    o.input_scale = 0;
    assert_int_equal(ntk_model_fit(f.arch, &o, f.x, N, D, f.y, K, &m, &err), NTK_E_INVAL);
    assert_has(err.msg, "input scale");
    o = ntk_model_opts_default();
    o.kernel = (ntk_model_kernel)7;
    assert_int_equal(ntk_model_fit(f.arch, &o, f.x, N, D, f.y, K, &m, &err), NTK_E_INVAL);
    o = ntk_model_opts_default();
    assert_int_equal(ntk_model_fit(f.arch, &o, f.x, 0, D, f.y, K, &m, &err), NTK_E_SHAPE);

    o.discrete = 1;
    m = fit_ok(&f, &o);
    double out[2 * M * K], v[2 * M];
    double t_half = 0.5, t_neg = -1, t_nan = NAN, t1 = 1;
    assert_int_equal(ntk_model_predict(m, f.xt, M, D - 1, &t1, 1, out, NULL, &err), NTK_E_SHAPE);
    assert_has(err.msg, "test inputs have 2 columns but the model was fit on 3");
    assert_int_equal(ntk_model_predict(m, f.xt, M, D, &t_half, 1, out, NULL, &err), NTK_E_INVAL);
    assert_has(err.msg, "discrete gradient descent needs whole steps");
    assert_int_equal(ntk_model_predict(m, f.xt, M, D, &t_neg, 1, out, NULL, &err), NTK_E_INVAL);
    assert_int_equal(ntk_model_predict(m, f.xt, M, D, &t_nan, 1, out, v, &err), NTK_E_INVAL);
    assert_int_equal(ntk_model_predict(m, f.xt, 0, D, &t1, 1, out, NULL, &err), NTK_E_SHAPE);
    assert_int_equal(ntk_model_predict(m, f.xt, M, D, &t1, 0, out, NULL, &err), NTK_E_INVAL);
    double xt[M * D];
    memcpy(xt, f.xt, sizeof xt);
    xt[4] = NAN;
    assert_int_equal(ntk_model_predict(m, xt, M, D, &t1, 1, out, NULL, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "test inputs: row 2, column 2");
    ntk_model_free(m);

    /* files that are not models */
    ntk_model *l = NULL;
    char *p = tu_tmpfile(".npz");
    assert_int_equal(ntk_model_load(p, &l, &err), NTK_E_IO);
    assert_has(err.msg, p);
    ntk_net *net = NULL;
    if (ntk_net_create(f.arch, D, NTK_PARAM_NTK, &net, &err) || ntk_net_save(net, p, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ntk_model_load(p, &l, &err), NTK_E_FORMAT);
    assert_has(err.msg, "not a model file of 'ntk fit' (meta.txt: format = ntk-params 1: a network's parameters)");
    ntk_net_free(net);
    ntk_npz *z = NULL;
    if (ntk_npz_create(&z, &err) || ntk_npz_write(z, p, &err)) fail_msg("%s", err.msg);
    ntk_npz_free(z);
    assert_int_equal(ntk_model_load(p, &l, &err), NTK_E_FORMAT);
    assert_has(err.msg, "no member 'meta.txt'");
    unlink(p);
    free(p);
    ntk_arch_free(f.arch);
}

/* ------------------------------------------------------------ given kernels (kernel reuse)
 *
 * A model fit from the kernels ntk_model_fit computes (the same ntk_kernel
 * calls) is the same model to the last bit, and predicting from the test
 * kernels ntk_model_predict computes (one block: the same call) gives the
 * same numbers bit for bit: the code paths after the kernel are shared. */

/* The kernels of the model's kind on the scaled inputs, computed as
 * ntk_model_fit / ntk_model_predict compute them: K(X,X) with X2 = NULL,
 * both outputs for an NTK model (the NNGP rides along), only the NNGP for
 * an NNGP model. */
typedef struct {
    double *kxx, *nxx, *kxt, *nxt, *ntt;
} kernel_set;

static void kernels_as_model(const fixture *f, const ntk_model_opts *o, kernel_set *ks)
{
    ntk_error err;
    double xs[N * D], ts[M * D];
    for (size_t i = 0; i < N * D; i++) xs[i] = f->x[i] * o->input_scale;
    for (size_t i = 0; i < M * D; i++) ts[i] = f->xt[i] * o->input_scale;
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.param = o->param;
    int ntk = o->kernel == NTK_MODEL_NTK;
    ks->kxx = malloc(N * N * sizeof *ks->kxx);
    ks->nxx = ntk ? malloc(N * N * sizeof *ks->nxx) : NULL;
    ks->kxt = malloc(M * N * sizeof *ks->kxt);
    ks->nxt = ntk ? malloc(M * N * sizeof *ks->nxt) : NULL;
    ks->ntt = malloc(M * sizeof *ks->ntt);
    if (ntk_kernel(f->arch, &ko, xs, N, NULL, 0, D, ntk ? ks->nxx : ks->kxx, ntk ? ks->kxx : NULL, &err) ||
        ntk_kernel(f->arch, &ko, ts, M, xs, N, D, ntk ? ks->nxt : ks->kxt, ntk ? ks->kxt : NULL, &err))
        fail_msg("kernel: %s", err.msg);
    ko.diag = 1;
    if (ntk_kernel(f->arch, &ko, ts, M, NULL, 0, D, ks->ntt, NULL, &err)) fail_msg("kernel: %s", err.msg);
}

static void kernel_set_free(kernel_set *ks)
{
    free(ks->kxx);
    free(ks->nxx);
    free(ks->kxt);
    free(ks->nxt);
    free(ks->ntt);
}

/* FNV-1a 64 over the little-endian bytes of n doubles, written out here
 * from its definition (offset basis 0xcbf29ce484222325, prime 0x100000001b3). */
static uint64_t fnv1a(const double *a, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, &a[i], 8);
        for (int j = 0; j < 8; j++) {
            h ^= (v >> (8 * j)) & 0xff;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

/* The text of member `member` of the archive at path (malloc'd). */
static char *member_text(const char *path, const char *member)
{
    ntk_error err;
    ntk_npz *z = NULL;
    char *b = NULL;
    size_t n;
    if (ntk_npz_read(path, &z, &err) || ntk_npz_get_bytes(z, member, &b, &n, &err)) fail_msg("%s", err.msg);
    ntk_npz_free(z);
    return b;
}

/* Rewrites meta.txt of the archive at path with `from` replaced by `to`
 * (the same length), the rest as it was. */
static void edit_meta(const char *path, const char *from, const char *to)
{
    ntk_error err;
    ntk_npz *z = NULL, *w = NULL;
    if (ntk_npz_read(path, &z, &err) || ntk_npz_create(&w, &err)) fail_msg("%s", err.msg);
    for (size_t i = 0; i < ntk_npz_count(z); i++) {
        const char *nm = ntk_npz_member_name(z, i);
        char *b = NULL;
        size_t n = 0;
        if (ntk_npz_get_bytes(z, nm, &b, &n, &err)) fail_msg("%s", err.msg);
        if (!strcmp(nm, "meta.txt")) {
            char *q = strstr(b, from);
            assert_non_null(q);
            assert_int_equal(strlen(from), strlen(to));
            memcpy(q, to, strlen(to));
        }
        if (ntk_npz_add_bytes(w, nm, b, n, &err)) fail_msg("%s", err.msg);
        free(b);
    }
    if (ntk_npz_write(w, path, &err)) fail_msg("%s", err.msg);
    ntk_npz_free(z);
    ntk_npz_free(w);
}

static void check_given_same(const ntk_model_opts *o, uint64_t seed, int with_arch)
{
    fixture f;
    make_fixture(&f, seed);
    ntk_error err;
    kernel_set ks;
    kernels_as_model(&f, o, &ks);
    int ntk = o->kernel == NTK_MODEL_NTK;
    ntk_model *ref = fit_ok(&f, o), *m = NULL;
    ntk_model_kernels kk = {ks.kxx, ks.nxx, "K.npy", ntk ? "KN.npy" : NULL};
    if (ntk_model_fit_kernel(with_arch ? f.arch : NULL, o, f.x, N, D, f.y, K, &kk, &m, &err))
        fail_msg("fit_kernel: %s", err.msg);
    ntk_model_info ri, mi;
    ntk_model_get_info(ref, &ri);
    ntk_model_get_info(m, &mi);
    assert_true(mi.factor.lambda_min == ri.factor.lambda_min || (isnan(mi.factor.lambda_min) && o->inf_only));
    assert_true(mi.factor.ridge_added == ri.factor.ridge_added && mi.factor.jitter_added == ri.factor.jitter_added);
    assert_int_equal(mi.has_eigen, ri.has_eigen);
    assert_int_equal(mi.has_variances, ri.has_variances);
    assert_int_equal(mi.kernel_given, 1);
    assert_int_equal(ri.kernel_given, 0);
    assert_int_equal(mi.has_arch, with_arch);
    assert_true(mi.kernel_checksum == fnv1a(ks.kxx, N * N));
    assert_true(mi.nngp_checksum == (ntk && !o->inf_only ? fnv1a(ks.nxx, N * N) : 0));

    const double all_times[] = {0, 1, 7, 100, INFINITY};
    const double *times = o->inf_only ? all_times + 4 : all_times;
    const size_t nt = o->inf_only ? 1 : 5;
    const int var = !o->inf_only;
    double want[5 * M * K], got[5 * M * K], wv[5 * M], gv[5 * M];
    if (ntk_model_predict(ref, f.xt, M, D, times, nt, want, var ? wv : NULL, &err)) fail_msg("%s", err.msg);
    ntk_model_predict_opts po = ntk_model_predict_opts_default();
    po.kxt = ks.kxt;
    po.nngp_xt = ks.nxt;
    po.nngp_tt = ks.ntt;
    /* from the given test kernels, with and without the test inputs */
    for (int with_x = 0; with_x < 2; with_x++) {
        ntk_model *l = reload(m, NULL);
        memset(got, 0, sizeof got);
        if (ntk_model_predict_with(l, &po, with_x ? f.xt : NULL, M, D, times, nt, got, var ? gv : NULL, &err))
            fail_msg("predict_with: %s", err.msg);
        assert_memory_equal(got, want, nt * M * K * sizeof *got);
        if (var) assert_memory_equal(gv, wv, nt * M * sizeof *gv);
        ntk_model_free(l);
    }
    /* with an arch, test kernels computed from the inputs as well */
    if (with_arch) {
        if (ntk_model_predict(m, f.xt, M, D, times, nt, got, var ? gv : NULL, &err)) fail_msg("%s", err.msg);
        assert_memory_equal(got, want, nt * M * K * sizeof *got);
        if (var) assert_memory_equal(gv, wv, nt * M * sizeof *gv);
    } else {
        assert_int_equal(ntk_model_predict(m, f.xt, M, D, times, nt, got, NULL, &err), NTK_E_INVAL);
        assert_has(err.msg, "without an architecture: its predictions need the test x train kernel (kxt)");
    }
    /* the file: format 2 and the source lines, which the fit checksum covers */
    char *path = NULL;
    ntk_model *l = reload(m, &path);
    char *meta = member_text(path, "meta.txt");
    char line[160];
    assert_has(meta, "format = ntk-model 2\n");
    assert_has(meta, "kernel_source = given\nkernel_name = K.npy\n");
    snprintf(line, sizeof line, "kernel_checksum = %016" PRIx64 "\n", fnv1a(ks.kxx, N * N));
    assert_has(meta, line);
    if (ntk && !o->inf_only) {
        snprintf(line, sizeof line, "nngp_name = KN.npy\nnngp_checksum = %016" PRIx64 "\n", fnv1a(ks.nxx, N * N));
        assert_has(meta, line);
    } else {
        assert_has(meta, "nngp_name = -\nnngp_checksum = none\n");
    }
    assert_has(meta, with_arch ? "arch = 1\n" : "arch = 0\n");
    ntk_model_get_info(l, &mi);
    assert_int_equal(mi.has_arch, with_arch);
    assert_true(mi.kernel_checksum == fnv1a(ks.kxx, N * N));
    free(meta);
    ntk_model_free(l);
    /* the source lines are covered by the fit checksum */
    static const char *const edits[3][2] = {{"kernel_name = K.npy", "kernel_name = L.npy"},
                                            {"kernel_source = given", "kernel_source = GIVEN"},
                                            {"\narch = ", "\narch = "}};
    for (int e = 0; e < 3; e++) {
        char from[32], to[32];
        snprintf(from, sizeof from, "%s%s", edits[e][0], e == 2 ? (with_arch ? "1" : "0") : "");
        snprintf(to, sizeof to, "%s%s", edits[e][1], e == 2 ? (with_arch ? "0" : "1") : "");
        if (ntk_model_save(m, path, &err)) fail_msg("%s", err.msg);
        edit_meta(path, from, to);
        l = NULL;
        ntk_status st = ntk_model_load(path, &l, &err);
        assert_null(l);
        if (e == 1) {
            assert_int_equal(st, NTK_E_FORMAT);
            assert_has(err.msg, "meta.txt: kernel_source = 'GIVEN', expected given");
        } else if (e == 2 && !with_arch) {
            assert_int_equal(st, NTK_E_FORMAT); /* arch = 1 but no arch.txt */
            assert_has(err.msg, "no member 'arch.txt'");
        } else {
            assert_int_equal(st, NTK_E_FORMAT);
            assert_has(err.msg, "do not match their checksum");
        }
    }
    unlink(path);
    free(path);
    ntk_model_free(m);
    ntk_model_free(ref);
    kernel_set_free(&ks);
    ntk_arch_free(f.arch);
}

static void test_given_kernels(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    o.ridge = 1e-4;
    check_given_same(&o, 61, 1);
    check_given_same(&o, 62, 0);
    o.kernel = NTK_MODEL_NNGP;
    o.input_scale = 0.25;
    check_given_same(&o, 63, 1);
    check_given_same(&o, 64, 0);
    o = ntk_model_opts_default();
    o.discrete = 1;
    o.lr = 3;
    o.ridge = 0.01;
    o.ridge_mode = NTK_RIDGE_ABSOLUTE;
    check_given_same(&o, 65, 1);
    o.inf_only = 1;
    check_given_same(&o, 66, 1);
    check_given_same(&o, 67, 0);
}

/* An NTK model fit without the train NNGP: means as before, no variances. */
static void test_given_no_nngp(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 68);
    ntk_model_opts o = ntk_model_opts_default();
    kernel_set ks;
    kernels_as_model(&f, &o, &ks);
    ntk_error err;
    ntk_model *m = NULL;
    ntk_model_kernels kk = {ks.kxx, NULL, NULL, NULL};
    if (ntk_model_fit_kernel(f.arch, &o, f.x, N, D, f.y, K, &kk, &m, &err)) fail_msg("%s", err.msg);
    ntk_model *l = reload(m, NULL);
    ntk_model_info mi;
    ntk_model_get_info(l, &mi);
    assert_int_equal(mi.has_eigen, 1);
    assert_int_equal(mi.has_variances, 0);
    assert_true(mi.nngp_checksum == 0);
    double t = 5, mean[M * K], v[M];
    assert_int_equal(ntk_model_predict(l, f.xt, M, D, &t, 1, mean, NULL, &err), NTK_OK);
    assert_int_equal(ntk_model_predict(l, f.xt, M, D, &t, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "variances of an NTK model need the train NNGP");
    ntk_model_free(l);
    ntk_model_free(m);
    kernel_set_free(&ks);
    ntk_arch_free(f.arch);
}

/* Every refusal of a given kernel, and the tolerances on both sides. */
static void test_given_errors(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 71);
    ntk_model_opts o = ntk_model_opts_default();
    o.ridge = 1e-3;
    kernel_set ks;
    kernels_as_model(&f, &o, &ks);
    ntk_error err;
    ntk_model *m = NULL;
    double *bad = malloc(N * N * sizeof *bad);
#define FIT_BAD(arch, kxx, nxx)                                                                     \
    do {                                                                                           \
        ntk_model_kernels kk_ = {(kxx), (nxx), "K.npy", "KN.npy"};                                 \
        st = ntk_model_fit_kernel((arch), &o, f.x, N, D, f.y, K, &kk_, &m, &err);                  \
    } while (0)
    ntk_status st;
    /* NaN */
    memcpy(bad, ks.kxx, N * N * sizeof *bad);
    bad[3 * N + 5] = NAN;
    FIT_BAD(NULL, bad, NULL);
    assert_int_equal(st, NTK_E_NUMERIC);
    assert_null(m);
    assert_has(err.msg, "K.npy: row 4, column 6");
    /* a negative diagonal */
    memcpy(bad, ks.kxx, N * N * sizeof *bad);
    bad[2 * N + 2] = -0.5;
    FIT_BAD(NULL, bad, NULL);
    assert_int_equal(st, NTK_E_NUMERIC);
    assert_has(err.msg, "K.npy: diagonal entry 3 is -0.5 < 0");
    /* asymmetric: 1e-4 of √(K_ii·K_jj) is refused, 1e-9 is rounding and accepted */
    for (int big = 0; big < 2; big++) {
        memcpy(bad, ks.kxx, N * N * sizeof *bad);
        bad[4 * N + 9] += (big ? 1e-4 : 1e-9) * sqrt(ks.kxx[4 * N + 4] * ks.kxx[9 * N + 9]);
        FIT_BAD(NULL, bad, NULL);
        if (!big) {
            assert_int_equal(st, NTK_OK);
            ntk_model_free(m);
            m = NULL;
            continue;
        }
        assert_int_equal(st, NTK_E_NUMERIC);
        assert_has(err.msg, "K.npy: not symmetric: entry (5, 10) is");
        assert_has(err.msg, "but (10, 5) is");
    }
    /* the NNGP file checked the same way */
    memcpy(bad, ks.nxx, N * N * sizeof *bad);
    bad[1 * N + 0] *= 1.01;
    FIT_BAD(NULL, ks.kxx, bad);
    assert_int_equal(st, NTK_E_NUMERIC);
    assert_has(err.msg, "KN.npy: not symmetric: entry (1, 2)");
    /* against the architecture: the NNGP as the NTK, the kernel of the
     * unscaled inputs, rows in another order (a constant diagonal would
     * hide that: the first row shows it), an entry off by 1e-4; 1e-9 passes */
    FIT_BAD(f.arch, ks.nxx, NULL);
    assert_int_equal(st, NTK_E_INVAL);
    assert_has(err.msg, "K.npy: entry (1, 1) is");
    assert_has(err.msg, "but the NTK of the architecture there is");
    assert_has(err.msg, "without an architecture");
    FIT_BAD(f.arch, ks.kxx, ks.kxx);
    assert_int_equal(st, NTK_E_INVAL);
    assert_has(err.msg, "KN.npy: entry (1, 1) is");
    assert_has(err.msg, "the NNGP of the architecture");
    o.input_scale = 0.5;
    FIT_BAD(f.arch, ks.kxx, NULL);
    assert_int_equal(st, NTK_E_INVAL);
    o.input_scale = 1;
    for (size_t i = 0; i < N; i++) /* swap points 0 and 1: rows and columns */
        for (size_t j = 0; j < N; j++) {
            size_t pi = i < 2 ? 1 - i : i, pj = j < 2 ? 1 - j : j;
            bad[i * N + j] = ks.kxx[pi * N + pj];
        }
    FIT_BAD(f.arch, bad, NULL);
    assert_int_equal(st, NTK_E_INVAL);
    FIT_BAD(NULL, bad, NULL); /* a fine kernel without an arch */
    assert_int_equal(st, NTK_OK);
    ntk_model_free(m);
    m = NULL;
    for (int big = 0; big < 2; big++) {
        memcpy(bad, ks.kxx, N * N * sizeof *bad);
        double e = (big ? 1e-4 : 1e-9) * sqrt(ks.kxx[0] * ks.kxx[7 * N + 7]);
        bad[7] += e;
        bad[7 * N] += e;
        FIT_BAD(f.arch, bad, NULL);
        assert_int_equal(st, big ? NTK_E_INVAL : NTK_OK);
        if (big) assert_has(err.msg, "K.npy: entry (1, 8) is");
        ntk_model_free(m);
        m = NULL;
    }
    /* missing pieces */
    FIT_BAD(f.arch, NULL, NULL);
    assert_int_equal(st, NTK_E_INVAL);
    assert_int_equal(ntk_model_fit_kernel(f.arch, &o, f.x, N, D, f.y, K, NULL, &m, &err), NTK_E_INVAL);

    /* predictions from given test kernels */
    ntk_model_kernels kk = {ks.kxx, ks.nxx, NULL, NULL};
    if (ntk_model_fit_kernel(f.arch, &o, f.x, N, D, f.y, K, &kk, &m, &err)) fail_msg("%s", err.msg);
    double t1 = 1, inf = INFINITY, mean[M * K], v[M];
    ntk_model_predict_opts po = ntk_model_predict_opts_default();
    po.nngp_tt = ks.ntt;
    assert_int_equal(ntk_model_predict_with(m, &po, f.xt, M, D, &t1, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "the model's own test x train kernel (kxt) is missing");
    po = ntk_model_predict_opts_default();
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, NULL, &err), NTK_E_INVAL);
    assert_has(err.msg, "no test inputs and no test x train kernel");
    po.kxt = ks.kxt;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "variances from given test kernels need nngp_tt");
    po.nngp_tt = ks.ntt;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "variances of an NTK model from given test kernels need nngp_xt");
    po.nngp_xt = ks.nxt;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, v, &err), NTK_OK);
    /* a NaN, a negative variance, kernels of other test points */
    double *kt2 = malloc(M * N * sizeof *kt2), tt2[M];
    memcpy(kt2, ks.kxt, M * N * sizeof *kt2);
    kt2[2 * N + 1] = INFINITY;
    po.kxt = kt2;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, NULL, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "test x train kernel: row 3, column 2");
    memcpy(tt2, ks.ntt, sizeof tt2);
    tt2[4] = -1;
    po.kxt = ks.kxt;
    po.nngp_tt = tt2;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, v, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "test NNGP diagonal: entry 5 is -1 < 0");
    po.nngp_tt = ks.ntt;
    for (size_t i = 0; i < M * N; i++) kt2[i] = ks.kxt[(i + N) % (M * N)]; /* rows shifted by one */
    po.kxt = kt2;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, NULL, &err), NTK_OK); /* no x: unchecked */
    assert_int_equal(ntk_model_predict_with(m, &po, f.xt, M, D, &t1, 1, mean, NULL, &err), NTK_E_INVAL);
    assert_has(err.msg, "test x train kernel: entry (1, 1) is");
    po.kxt = ks.kxt;
    po.nngp_xt = ks.kxt; /* the NTK as the NNGP */
    assert_int_equal(ntk_model_predict_with(m, &po, f.xt, M, D, &t1, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "test x train NNGP: entry (1, 1)");
    po.nngp_xt = ks.nxt;
    memcpy(tt2, ks.ntt, sizeof tt2);
    tt2[0] = ks.ntt[0] * 1.001;
    po.nngp_tt = tt2;
    assert_int_equal(ntk_model_predict_with(m, &po, f.xt, M, D, &t1, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "test NNGP diagonal: entry (1, 1)");
    po.nngp_tt = ks.ntt;
    /* f0 and variances; f0 at t = ∞ without the eigendecomposition */
    double f0[N * K] = {0}, f0t[M * K] = {0};
    po.f0_train = f0;
    po.f0_test = f0t;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, v, &err), NTK_E_INVAL);
    assert_has(err.msg, "with a given f0 the prediction is one network's");
    f0[3] = NAN;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &t1, 1, mean, NULL, &err), NTK_E_NUMERIC);
    assert_has(err.msg, "f0 at the training points: row 2, column 2");
    f0[3] = 0;
    ntk_model_free(m);
    o.inf_only = 1;
    if (ntk_model_fit_kernel(NULL, &o, f.x, N, D, f.y, K, &kk, &m, &err)) fail_msg("%s", err.msg);
    po = ntk_model_predict_opts_default();
    po.kxt = ks.kxt;
    po.f0_train = f0;
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &inf, 1, mean, NULL, &err), NTK_E_INVAL);
    assert_has(err.msg, "t = inf with f0 at the training points needs K_reg^-1·f0(X) from the eigendecomposition");
    po.f0_train = NULL;
    po.f0_test = f0t; /* f0 on the test points alone only adds */
    assert_int_equal(ntk_model_predict_with(m, &po, NULL, M, D, &inf, 1, mean, NULL, &err), NTK_OK);
    ntk_model_free(m);
    free(kt2);
    free(bad);
    kernel_set_free(&ks);
    ntk_arch_free(f.arch);
#undef FIT_BAD
}

/* ------------------------------------------------------------ one network's predictions (f0)
 *
 * Against ntk_predictor, whose f0 enters as r = y − f0 at creation: finite
 * times take c = Vᵀ·(y − f0) by the same formula, so the two differ by the
 * blocking of the products (1e-12 relative to the largest prediction, as
 * above); at t = ∞ the model uses α − V·diag(1/λ)·Vᵀ·f0 where the predictor
 * solves with y − f0 by its own route (eigen or Cholesky): they differ by
 * ~cond(K_reg)·ε relative, so 100·cond·ε. */
static void check_f0_predictor(const ntk_model_opts *o, uint64_t seed)
{
    fixture f;
    make_fixture(&f, seed);
    ntk_error err;
    kernel_set ks;
    kernels_as_model(&f, o, &ks);
    tu_rng r = {seed * 7 + 1};
    double f0[N * K], f0t[M * K];
    tu_fill_normal(&r, f0, N * K, 0.7);
    tu_fill_normal(&r, f0t, M * K, 0.7);
    ntk_predict_opts pio = popts_of(o);
    ntk_predictor *p = NULL;
    if (ntk_predictor_create(ks.kxx, N, f.y, K, f0, &pio, &p, &err)) fail_msg("%s", err.msg);
    ntk_model *m = fit_ok(&f, o);
    ntk_model *l = reload(m, NULL);
    ntk_model_info mi;
    ntk_model_get_info(m, &mi);
    const double times[] = {0, 1, 7, 100, 12345, INFINITY};
    const size_t nt = 6;
    double ref[6 * M * K], got[6 * M * K], given[6 * M * K], zero[6 * M * K], plain[6 * M * K];
    if (ntk_predict(p, ks.kxt, M, f0t, times, nt, ref, &err)) fail_msg("%s", err.msg);
    ntk_model_predict_opts po = ntk_model_predict_opts_default();
    po.f0_train = f0;
    po.f0_test = f0t;
    if (ntk_model_predict_with(l, &po, f.xt, M, D, times, nt, got, NULL, &err)) fail_msg("%s", err.msg);
    double cond = mi.factor.lambda_max / mi.factor.lambda_min;
    assert_close(got, ref, 5 * M * K, 1e-12, "f0: model vs ntk_predict, finite times");
    assert_close(got + 5 * M * K, ref + 5 * M * K, M * K, fmax(1e-12, 100 * cond * DBL_EPSILON),
                 "f0: model vs ntk_predict, t = inf");
    /* t = 0: f0 itself, exactly */
    assert_memory_equal(got, f0t, sizeof f0t);
    /* from the given test kernel: the same bits */
    po.kxt = ks.kxt;
    if (ntk_model_predict_with(l, &po, NULL, M, D, times, nt, given, NULL, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(given, got, sizeof got);
    /* f0 = 0 is the ensemble mean, bit for bit */
    double z0[N * K] = {0}, zt[M * K] = {0};
    po.f0_train = z0;
    po.f0_test = zt;
    if (ntk_model_predict_with(l, &po, NULL, M, D, times, nt, zero, NULL, &err) ||
        ntk_model_predict(l, f.xt, M, D, times, nt, plain, NULL, &err))
        fail_msg("%s", err.msg);
    assert_memory_equal(zero, plain, sizeof zero);
    /* blocks of 5 rows */
    ntk_model_set_block_rows(l, 5);
    po.f0_train = f0;
    po.f0_test = f0t;
    po.kxt = NULL;
    if (ntk_model_predict_with(l, &po, f.xt, M, D, times, nt, given, NULL, &err)) fail_msg("%s", err.msg);
    assert_close(given, got, nt * M * K, 1e-12, "f0: blocked vs whole");
    ntk_predictor_free(p);
    ntk_model_free(l);
    ntk_model_free(m);
    kernel_set_free(&ks);
    ntk_arch_free(f.arch);
}

static void test_f0_predictor(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    o.ridge = 1e-3;
    check_f0_predictor(&o, 81);
    o.kernel = NTK_MODEL_NNGP;
    o.discrete = 1;
    o.lr = 2;
    check_f0_predictor(&o, 82);
}

/* A wide network trained by gradient descent, its linearization, and the
 * model fit from its own empirical NTK with its f0 (arch = NULL): the
 * kernel prediction is the linearized network's closed form, so the two
 * agree to the rounding of T steps of GD (each step a relative ~N·ε error
 * in f, growing at most linearly: T·N·ε·max|f| ≈ 200·8·2.2e-16 ≈ 4e-13;
 * 1e-10 allows for the contraction factor). The network itself differs
 * from its linearization by O(width^-1/2): within 3% here, and much closer
 * than the ensemble mean (f0 = 0), which misses f0 entirely. */
static void test_f0_trained_network(void **state)
{
    (void)state;
    enum { NT = 8, NE = 12, T = 200 };
    double x[NT * 2], y[NT], xe[NE * 2];
    for (size_t i = 0; i < NT; i++) {
        double g = 2 * M_PI * ((double)i + 0.3) / NT;
        x[2 * i] = cos(g);
        x[2 * i + 1] = sin(g);
        y[i] = x[2 * i] * x[2 * i + 1] + 0.5 * x[2 * i];
    }
    for (size_t i = 0; i < NE; i++) {
        double g = 2 * M_PI * (double)i / NE;
        xe[2 * i] = cos(g);
        xe[2 * i + 1] = sin(g);
    }
    ntk_error err;
    ntk_arch *arch = NULL;
    ntk_net *net = NULL, *trained = NULL;
    ntk_linear *lin = NULL;
    if (ntk_arch_parse("dense(2048,w_std=1.5,b_std=0.1),relu,dense(1,w_std=1.5,b_std=0.1)", &arch, &err) ||
        ntk_net_create(arch, 2, NTK_PARAM_NTK, &net, &err) || ntk_net_init(net, 3, &err) ||
        ntk_net_clone(net, &trained, &err) || ntk_linear_create(net, &lin, &err))
        fail_msg("%s", err.msg);
    double kxx[NT * NT], kxt[NE * NT], f0[NT], f0t[NE];
    if (ntk_empirical_ntk(net, x, NT, NULL, 0, 0, kxx, &err) || ntk_empirical_ntk(net, xe, NE, x, NT, 0, kxt, &err) ||
        ntk_net_apply(net, x, NT, f0, 0, &err) || ntk_net_apply(net, xe, NE, f0t, 0, &err))
        fail_msg("%s", err.msg);
    ntk_train_opts to = ntk_train_opts_default();
    to.lr = 1;
    to.steps = T;
    double f_net[NE], f_lin[NE];
    if (ntk_train(trained, &to, x, y, NT, NULL, &err) || ntk_train_linear(lin, &to, x, y, NT, NULL, &err) ||
        ntk_net_apply(trained, xe, NE, f_net, 0, &err) || ntk_linear_apply(lin, xe, NE, f_lin, &err))
        fail_msg("%s", err.msg);
    ntk_model_opts o = ntk_model_opts_default();
    o.discrete = 1;
    o.lr = 1;
    ntk_model *m = NULL;
    ntk_model_kernels kk = {kxx, NULL, "empirical NTK", NULL};
    if (ntk_model_fit_kernel(NULL, &o, x, NT, 2, y, 1, &kk, &m, &err)) fail_msg("%s", err.msg);
    ntk_model_predict_opts po = ntk_model_predict_opts_default();
    po.kxt = kxt;
    po.f0_train = f0;
    po.f0_test = f0t;
    double t = T, f_k[NE], f_mean[NE];
    if (ntk_model_predict_with(m, &po, NULL, NE, 2, &t, 1, f_k, NULL, &err)) fail_msg("%s", err.msg);
    po.f0_train = po.f0_test = NULL;
    if (ntk_model_predict_with(m, &po, NULL, NE, 2, &t, 1, f_mean, NULL, &err)) fail_msg("%s", err.msg);
    double e_lin = tu_max_rel(f_k, f_lin, NE), e_net = tu_max_rel(f_k, f_net, NE), e_mean = tu_max_rel(f_mean, f_net, NE);
    print_message("kernel+f0 vs linearized %.3g, vs network %.3g; ensemble mean vs network %.3g\n", e_lin, e_net,
                  e_mean);
    assert_true(e_lin <= 1e-10);
    assert_true(e_net <= 0.03);
    assert_true(e_net < e_mean / 3);
    ntk_model_free(m);
    ntk_linear_free(lin);
    ntk_net_free(trained);
    ntk_net_free(net);
    ntk_arch_free(arch);
}

/* ------------------------------------------------------------ lazy loading */

/* The data offset of member `name` in the .npz bytes b (n of them; no
 * zip64, no comment). */
static size_t member_data(const unsigned char *b, size_t n, const char *name)
{
#define RD16(p) ((size_t)(p)[0] | (size_t)(p)[1] << 8)
#define RD32(p) (RD16(p) | RD16((p) + 2) << 16)
    const unsigned char *end = b + n - 22;
    size_t count = RD16(end + 10), k = RD32(end + 16), len = strlen(name);
    for (size_t i = 0; i < count; i++) {
        const unsigned char *e = b + k;
        if (RD16(e + 28) == len && !memcmp(e + 46, name, len)) {
            const unsigned char *h = b + RD32(e + 42);
            return (size_t)(h - b) + 30 + RD16(h + 26) + RD16(h + 28);
        }
        k += 46 + RD16(e + 28) + RD16(e + 30) + RD16(e + 32);
    }
    fail_msg("no member %s", name);
    return 0;
#undef RD16
#undef RD32
}

/* A model whose N x N arrays pass 1 MiB (N = 400: 1.28 MB each), which
 * ntk_npz_read leaves in the file until the load reads them, each straight
 * into the model's own array: the loaded model predicts the same means and
 * variances as the fitted one, bit for bit (the same arrays, the same
 * code). A byte flipped in the eigenvectors' data is refused by the load,
 * naming the file and the member (their CRC-32, checked as they are read). */
static void test_lazy_load(void **state)
{
    (void)state;
    enum { NL = 400, ML = 9 };
    ntk_error err;
    ntk_arch *arch = NULL;
    if (ntk_arch_parse(SPEC, &arch, &err)) fail_msg("%s", err.msg);
    double *x = malloc(NL * D * sizeof *x), *y = malloc(NL * K * sizeof *y), xt[ML * D];
    tu_rng r = {71};
    tu_fill_normal(&r, x, NL * D, 1.0);
    tu_fill_normal(&r, y, NL * K, 1.0);
    tu_fill_normal(&r, xt, ML * D, 1.0);
    ntk_model_opts o = ntk_model_opts_default();
    o.ridge = 1e-3;
    ntk_model *m = NULL;
    if (ntk_model_fit(arch, &o, x, NL, D, y, K, &m, &err)) fail_msg("fit: %s", err.msg);
    const double times[] = {10, INFINITY};
    double got[2 * ML * K], var[2 * ML], again[2 * ML * K], var2[2 * ML];
    if (ntk_model_predict(m, xt, ML, D, times, 2, got, var, &err)) fail_msg("%s", err.msg);
    char *p = NULL;
    ntk_model *l = reload(m, &p);
    if (ntk_model_predict(l, xt, ML, D, times, 2, again, var2, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(again, got, sizeof got);
    assert_memory_equal(var2, var, sizeof var);
    ntk_model_free(l);
    l = NULL;

    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size_t n = (size_t)ftell(f);
    assert_true(n > 2 * NL * NL * 8);
    unsigned char *b = malloc(n);
    rewind(f);
    assert_int_equal(fread(b, 1, n, f), n);
    fclose(f);
    b[member_data(b, n, "eigenvectors.npy") + 128 + 8 * NL * NL / 2] ^= 0x10;
    f = fopen(p, "wb");
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    assert_int_equal(ntk_model_load(p, &l, &err), NTK_E_FORMAT);
    assert_null(l);
    assert_has(err.msg, p);
    assert_has(err.msg, "member 'eigenvectors.npy': CRC-32 mismatch");
    unlink(p);
    free(p);
    free(b);
    free(x);
    free(y);
    ntk_model_free(m);
    ntk_arch_free(arch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntk_flow),    cmocka_unit_test(test_nngp_discrete), cmocka_unit_test(test_input_scale),
        cmocka_unit_test(test_cov),         cmocka_unit_test(test_inf_only),      cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_bad_kernels), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_given_kernels), cmocka_unit_test(test_given_no_nngp), cmocka_unit_test(test_given_errors),
        cmocka_unit_test(test_f0_predictor), cmocka_unit_test(test_f0_trained_network),
        cmocka_unit_test(test_lazy_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
