/*
 * test_model.c — kernel models (ntk_model_*): fit → save → load → predict
 * against ntk_predictor on the same kernels (NTK and NNGP, gradient flow and
 * discrete GD, relative and absolute ridge, input scale, blocks of test
 * rows), the variances against ntk_predict_cov, the t = ∞-only models, the
 * checksums (edited data, fit arrays and meta values are refused), singular
 * and indefinite kernels, and the argument and file errors.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntk_flow),    cmocka_unit_test(test_nngp_discrete), cmocka_unit_test(test_input_scale),
        cmocka_unit_test(test_cov),         cmocka_unit_test(test_inf_only),      cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_bad_kernels), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
