/*
 * test_progress.c — the progress callback (ntk_progress in ntk.h) of every
 * long computation: the analytic kernel (fast tiles, symmetric and not,
 * the diagonal, the quadrature reference path), model fitting (with the
 * eigendecomposition, t = ∞ only with jitter retries) and prediction in
 * blocks, the empirical NTK / NNGP / Monte Carlo kernels and the Jacobian,
 * training (full batch, SGD, linearized) and the equivalence experiment.
 *
 * For each computation and for 1 and 2 threads:
 *  - the contract, checked at every call by a recording callback: it runs
 *    on the calling thread (pthread_equal), a stage starts at done = 0,
 *    within a stage done never decreases, total never shrinks, 0 ≤ done ≤
 *    total, and a completed call ends its last stage at done = total;
 *  - the result with the callback is bitwise the one without (memcmp of
 *    every output; a model is compared as its saved file);
 *  - cancellation: returning 1 at call j (the first, the second, a third,
 *    half-way, the last but one and the last of the C calls a full run
 *    makes) gives NTK_E_CANCELED with "canceled by the progress callback"
 *    and the stage in the message, no further call (calls == j), no object
 *    returned, and nothing leaked (the suite's AddressSanitizer run).
 * A callback that is never consulted, reports from a worker thread, or
 * keeps running after it asked to stop fails these checks.
 */
#include "testutil.h"

#include "predict/predict_internal.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ the recording callback */

typedef struct {
    pthread_t caller;
    size_t calls, cancel_at, stages;
    int canceled, bad, grew; /* grew: a total increased within a stage */
    char stage[128], why[512];
    double done, total;
} rec;

static void rec_init(rec *r, size_t cancel_at)
{
    memset(r, 0, sizeof *r);
    r->caller = pthread_self();
    r->cancel_at = cancel_at;
}

static void rec_bad(rec *r, const char *what, const char *stage, double done, double total)
{
    if (!r->bad)
        snprintf(r->why, sizeof r->why, "call %zu, stage '%s', done %.17g, total %.17g: %s", r->calls, stage, done,
                 total, what);
    r->bad = 1;
}

static int rec_fn(void *ctx, const char *stage, double done, double total)
{
    rec *r = ctx;
    r->calls++;
    if (!pthread_equal(pthread_self(), r->caller)) rec_bad(r, "called from another thread", stage, done, total);
    if (r->canceled) rec_bad(r, "called again after it asked to stop", stage, done, total);
    if (!stage || !*stage) {
        rec_bad(r, "no stage name", "", done, total);
        stage = "";
    }
    if (!isfinite(done) || !isfinite(total) || done < 0 || total < 0) rec_bad(r, "not finite or negative", stage, done, total);
    if (total > 0 && done > total) rec_bad(r, "done > total", stage, done, total);
    if (strcmp(stage, r->stage) != 0) {
        if (done != 0) rec_bad(r, "a stage does not start at 0", stage, done, total);
        snprintf(r->stage, sizeof r->stage, "%s", stage);
        r->stages++;
    } else {
        if (done < r->done) rec_bad(r, "done decreased", stage, done, total);
        if (total < r->total) rec_bad(r, "total decreased", stage, done, total);
        if (total > r->total) r->grew = 1;
    }
    r->done = done;
    r->total = total;
    if (r->cancel_at && r->calls == r->cancel_at) {
        r->canceled = 1;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the cases */

/* A case runs one computation with progress p (fn NULL: none) and returns
 * its outputs as bytes (malloc'd; NULL on failure, when everything it made
 * is freed). */
typedef ntk_status (*case_fn)(const ntk_progress *p, int threads, unsigned char **out, size_t *n, ntk_error *err);

static void set_threads(int t)
{
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
    openblas_set_num_threads(t);
}

/* Packs doubles into a fresh byte buffer. */
static unsigned char *pack(const double *a, size_t n, size_t *bytes)
{
    unsigned char *b = malloc(n * sizeof *a + 1);
    if (b) memcpy(b, a, n * sizeof *a);
    *bytes = n * sizeof *a;
    return b;
}

static void inputs(double *x, size_t n, uint64_t seed)
{
    tu_rng r = {seed};
    tu_fill_normal(&r, x, n, 1.0);
}

static ntk_arch *arch_of(const char *spec)
{
    ntk_arch *a = NULL;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) fail_msg("%s: %s", spec, err.msg);
    return a;
}

static const char *RELU = "dense(32,w_std=1.5,b_std=0.05),relu,dense(32,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)";
static const char *TANH = "dense(32,w_std=1.3,b_std=0.1),tanh,dense(1,w_std=1.3)";
static const char *NET = "dense(24,w_std=1.5,b_std=0.1),relu,dense(16,w_std=1.5,b_std=0.1),erf,dense(2,w_std=1.5)";

/* The analytic kernel: both outputs, X2 given or not, diagonal. */
static ntk_status kernel_case(const char *spec, size_t n1, size_t n2, int diag, const ntk_progress *p, int threads,
                              unsigned char **out, size_t *n, ntk_error *err)
{
    enum { D = 5 };
    ntk_arch *a = arch_of(spec);
    double *x1 = malloc(n1 * D * sizeof *x1), *x2 = n2 ? malloc(n2 * D * sizeof *x2) : NULL;
    size_t cols = diag ? 1 : n2 ? n2 : n1;
    double *k = malloc(2 * n1 * cols * sizeof *k);
    inputs(x1, n1 * D, 1);
    if (x2) inputs(x2, n2 * D, 2);
    ntk_kernel_opts o = ntk_kernel_opts_default();
    o.threads = threads;
    o.diag = diag;
    o.quad_degree = 8; /* quadrature (tanh) at a low degree: the same code path, 16x cheaper */
    if (p) o.progress = *p;
    ntk_status s = ntk_kernel(a, &o, x1, n1, x2, n2, D, k, k + n1 * cols, err);
    *out = s ? NULL : pack(k, 2 * n1 * cols, n);
    free(k);
    free(x1);
    free(x2);
    ntk_arch_free(a);
    return s;
}

/* fast tiles: 1100 points span 6 work blocks of 512 × 512 */
static ntk_status k_fast_sym(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return kernel_case(RELU, 1100, 0, 0, p, t, o, n, e);
}
static ntk_status k_fast_x2(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return kernel_case(RELU, 600, 700, 0, p, t, o, n, e);
}
static ntk_status k_fast_diag(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return kernel_case(RELU, 300, 0, 1, p, t, o, n, e);
}
/* quadrature (tanh): the per-entry reference path, rows of 64 entries */
static ntk_status k_quad_sym(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return kernel_case(TANH, 100, 0, 0, p, t, o, n, e);
}
static ntk_status k_quad_x2(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return kernel_case(TANH, 20, 150, 0, p, t, o, n, e);
}
static ntk_status k_quad_diag(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return kernel_case(TANH, 200, 0, 1, p, t, o, n, e);
}

/* The bytes of a file (NULL if unreadable). */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    *n = b && fread(b, 1, (size_t)sz, f) == (size_t)sz ? (size_t)sz : 0;
    fclose(f);
    return b;
}

enum { FN = 160, FD = 4, FK = 3 };

static void fit_data(double *x, double *y, int duplicate)
{
    inputs(x, FN * FD, 3);
    /* rows 0..9 equal: a singular kernel (each exact duplicate leaves a
     * pivot of rounding noise; one of them negative fails dpotrf) */
    for (size_t r = 1; duplicate && r < 10; r++) memcpy(x + r * FD, x, FD * sizeof *x);
    for (size_t i = 0; i < FN; i++)
        for (size_t a = 0; a < FK; a++) y[i * FK + a] = sin(x[i * FD + a] + 0.3 * (double)a);
}

/* A fitted model, compared as its saved file (arrays, meta, checksums). */
static ntk_status fit_case(int inf_only, int nngp, const ntk_progress *p, int threads, unsigned char **out, size_t *n,
                           ntk_error *err)
{
    ntk_arch *a = arch_of(RELU);
    double x[FN * FD], y[FN * FK];
    fit_data(x, y, inf_only);
    ntk_model_opts o = ntk_model_opts_default();
    o.threads = threads;
    o.inf_only = inf_only;
    o.auto_jitter = inf_only;
    o.kernel = nngp ? NTK_MODEL_NNGP : NTK_MODEL_NTK;
    if (p) o.progress = *p;
    ntk_model *m = (ntk_model *)&o; /* must be reset to NULL by the call */
    ntk_status s = ntk_model_fit(a, &o, x, FN, FD, y, FK, &m, err);
    *out = NULL;
    if (s) assert_null(m);
    if (!s) {
        char *path = tu_tmpfile(".npz");
        if (ntk_model_save(m, path, err) == NTK_OK) *out = slurp(path, n);
        unlink(path);
        free(path);
        assert_non_null(*out);
    }
    ntk_model_free(m);
    ntk_arch_free(a);
    return s;
}
static ntk_status fit_eigen(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return fit_case(0, 0, p, t, o, n, e);
}
static ntk_status fit_nngp(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return fit_case(0, 1, p, t, o, n, e);
}
static ntk_status fit_inf_jitter(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return fit_case(1, 0, p, t, o, n, e);
}

/* Predictions of a model (fitted without progress) in blocks of 7 test
 * points, means at three times and variances. */
static ntk_status predict_case(const ntk_progress *p, int threads, unsigned char **out, size_t *n, ntk_error *err)
{
    enum { MT = 40, NT = 3 };
    ntk_arch *a = arch_of(RELU);
    double x[FN * FD], y[FN * FK], xt[MT * FD], times[NT] = {1, 10, INFINITY};
    fit_data(x, y, 0);
    inputs(xt, MT * FD, 4);
    ntk_model_opts o = ntk_model_opts_default();
    o.threads = threads;
    o.ridge = 1e-3;
    ntk_model *m = NULL;
    if (ntk_model_fit(a, &o, x, FN, FD, y, FK, &m, err)) fail_msg("fit: %s", err->msg);
    ntk_model_set_block_rows(m, 7);
    ntk_model_predict_opts po = ntk_model_predict_opts_default();
    if (p) po.progress = *p;
    double res[NT * MT * FK + NT * MT];
    ntk_status s = ntk_model_predict_with(m, &po, xt, MT, FD, times, NT, res, res + NT * MT * FK, err);
    *out = s ? NULL : pack(res, sizeof res / sizeof *res, n);
    ntk_model_free(m);
    ntk_arch_free(a);
    return s;
}

/* Empirical kernels of one network (300 points: 2 × 2 Gram blocks of 256). */
enum { EN = 300, EN2 = 130, ED = 6 };
typedef enum { E_NTK, E_NTK_FULL_X2, E_NNGP, E_MC, E_JAC } emp_kind;

static ntk_status emp_case(emp_kind kind, const ntk_progress *p, int threads, unsigned char **out, size_t *n,
                           ntk_error *err)
{
    set_threads(threads);
    ntk_arch *a = arch_of(NET);
    ntk_net *net = NULL;
    if (ntk_net_create(a, ED, NTK_PARAM_NTK, &net, err) || ntk_net_init(net, 7, err)) fail_msg("%s", err->msg);
    const size_t k = ntk_net_n_outputs(net), P = ntk_net_n_params(net);
    double *x1 = malloc(EN * ED * sizeof *x1), *x2 = malloc(EN2 * ED * sizeof *x2);
    inputs(x1, EN * ED, 5);
    inputs(x2, EN2 * ED, 6);
    ntk_empirical_opts o = ntk_empirical_opts_default();
    if (p) o.progress = *p;
    size_t cnt = 0;
    double *res = NULL;
    ntk_status s = NTK_OK;
    switch (kind) {
    case E_NTK:
        res = malloc((cnt = EN * EN) * sizeof *res);
        s = ntk_empirical_ntk_ex(net, &o, x1, EN, NULL, 0, res, err);
        break;
    case E_NTK_FULL_X2:
        o.full = 1;
        res = malloc((cnt = EN * k * EN2 * k) * sizeof *res);
        s = ntk_empirical_ntk_ex(net, &o, x1, EN, x2, EN2, res, err);
        break;
    case E_NNGP:
        res = malloc((cnt = EN * EN2) * sizeof *res);
        s = ntk_empirical_nngp_ex(net, &o, x1, EN, x2, EN2, res, err);
        break;
    case E_MC:
        o.samples = 3;
        o.seed = 11;
        res = malloc((cnt = 2 * EN * EN) * sizeof *res);
        s = ntk_mc_kernels_ex(a, ED, &o, x1, EN, NULL, 0, res, res + EN * EN, err);
        break;
    case E_JAC:
        res = malloc((cnt = EN * k * P) * sizeof *res);
        s = ntk_net_jacobian_ex(net, &o, x1, EN, res, 0, err);
        break;
    }
    *out = s ? NULL : pack(res, cnt, n);
    free(res);
    free(x1);
    free(x2);
    ntk_net_free(net);
    ntk_arch_free(a);
    return s;
}
static ntk_status e_ntk(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return emp_case(E_NTK, p, t, o, n, e);
}
static ntk_status e_full(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return emp_case(E_NTK_FULL_X2, p, t, o, n, e);
}
static ntk_status e_nngp(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return emp_case(E_NNGP, p, t, o, n, e);
}
static ntk_status e_mc(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return emp_case(E_MC, p, t, o, n, e);
}
static ntk_status e_jac(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return emp_case(E_JAC, p, t, o, n, e);
}

/* Training: θ after the run. */
static ntk_status train_case(int linear, size_t batch, const ntk_progress *p, int threads, unsigned char **out,
                             size_t *n, ntk_error *err)
{
    enum { TN = 40, TD = 3 };
    ntk_arch *a = arch_of(NET);
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    if (ntk_net_create(a, TD, NTK_PARAM_NTK, &net, err) || ntk_net_init(net, 3, err)) fail_msg("%s", err->msg);
    if (linear && ntk_linear_create(net, &lin, err)) fail_msg("%s", err->msg);
    double x[TN * TD], y[TN * 2];
    inputs(x, TN * TD, 8);
    for (size_t i = 0; i < TN; i++) {
        y[2 * i] = sin(x[i * TD]);
        y[2 * i + 1] = x[i * TD + 1] * x[i * TD + 2];
    }
    ntk_train_opts o = ntk_train_opts_default();
    o.lr = 0.2;
    o.steps = 60;
    o.batch = batch;
    o.momentum = 0.5;
    o.threads = threads;
    if (p) o.progress = *p;
    double loss;
    ntk_status s = linear ? ntk_train_linear(lin, &o, x, y, TN, &loss, err) : ntk_train(net, &o, x, y, TN, &loss, err);
    *out = s ? NULL : pack(linear ? ntk_linear_params(lin) : ntk_net_params(net), ntk_net_n_params(net), n);
    ntk_linear_free(lin);
    ntk_net_free(net);
    ntk_arch_free(a);
    return s;
}
static ntk_status t_full(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return train_case(0, 0, p, t, o, n, e);
}
static ntk_status t_sgd(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return train_case(0, 7, p, t, o, n, e);
}
static ntk_status t_linear(const ntk_progress *p, int t, unsigned char **o, size_t *n, ntk_error *e)
{
    return train_case(1, 0, p, t, o, n, e);
}

/* The equivalence experiment: every number of the result. */
static ntk_status compare_case(const ntk_progress *p, int threads, unsigned char **out, size_t *n, ntk_error *err)
{
    enum { CN = 8, CM = 10, CD = 2 };
    ntk_arch *a = arch_of("dense(16,w_std=1.4,b_std=0.1),relu,dense(1,w_std=1.4,b_std=0.1)");
    double x[CN * CD], y[CN], xt[CM * CD], yt[CM];
    inputs(x, CN * CD, 9);
    inputs(xt, CM * CD, 10);
    for (size_t i = 0; i < CN; i++) y[i] = sin(x[i * CD]);
    for (size_t i = 0; i < CM; i++) yt[i] = sin(xt[i * CD]);
    static const size_t widths[] = {16, 48};
    ntk_compare_opts o = ntk_compare_opts_default();
    o.widths = widths;
    o.n_widths = 2;
    o.steps = 30;
    o.threads = threads;
    if (p) o.progress = *p;
    ntk_compare_result *R = (ntk_compare_result *)&o; /* must be reset to NULL */
    ntk_status s = ntk_compare(a, &o, x, CN, CD, y, 1, xt, CM, yt, &R, err);
    *out = NULL;
    if (s) assert_null(R);
    if (!s) {
        size_t nr = R->n_widths * R->n_checkpoints, T = R->steps;
        size_t cnt = nr * (sizeof *R->rows / sizeof(double)) + 2 * R->n_widths * CM + 2 * CM + R->n_widths * (T + 1) +
                     (T + 1) + 8;
        double *v = calloc(cnt, sizeof *v), *q = v;
        for (size_t i = 0; i < nr; i++) {
            const ntk_compare_row *r = &R->rows[i];
            double row[] = {(double)r->width, (double)r->step, r->train_net, r->train_lin, r->train_kernel,
                            r->train_inf, r->test_net, r->test_lin, r->test_kernel, r->test_inf, r->gap_lin,
                            r->gap_kernel, r->gap_inf, r->gap_ntk, r->drift, r->dist0};
            memcpy(q, row, sizeof row);
            q += sizeof row / sizeof *row;
        }
        memcpy(q, R->f_net, R->n_widths * CM * sizeof *q), q += R->n_widths * CM;
        memcpy(q, R->f_lin, R->n_widths * CM * sizeof *q), q += R->n_widths * CM;
        memcpy(q, R->inf_mean, CM * sizeof *q), q += CM;
        memcpy(q, R->inf_std, CM * sizeof *q), q += CM;
        memcpy(q, R->loss_net, R->n_widths * (T + 1) * sizeof *q), q += R->n_widths * (T + 1);
        memcpy(q, R->loss_inf, (T + 1) * sizeof *q), q += T + 1;
        memcpy(q, R->slope, 6 * sizeof *q), q += 6;
        *q++ = R->lr;
        *q++ = R->lr_max;
        *out = pack(v, (size_t)(q - v), n);
        free(v);
    }
    ntk_compare_free(R);
    ntk_arch_free(a);
    return s;
}

/* ------------------------------------------------------------ the checks */

/* Cancels at the first call of the si-th stage whose done reaches f·total
 * (every stage reports done = total when it completes, so the point is
 * reached whatever the threads' timing). */
typedef struct {
    rec r;
    size_t stage_index;
    double frac;
} rec_at;

static int rec_at_fn(void *ctx, const char *stage, double done, double total)
{
    rec_at *c = ctx;
    int was_canceled = c->r.canceled;
    rec_fn(&c->r, stage, done, total);
    if (!was_canceled && c->r.stages == c->stage_index + 1 && done >= c->frac * total) {
        c->r.canceled = 1;
        c->r.cancel_at = c->r.calls;
        return 1;
    }
    return 0;
}

/* One canceled run: NTK_E_CANCELED, its message, no result, no call after. */
static void expect_canceled(const char *name, const char *where, case_fn run, int threads, rec *c, ntk_progress *pc)
{
    ntk_error err;
    unsigned char *o = (unsigned char *)c; /* must come back NULL */
    size_t no = 0;
    memset(&err, 0, sizeof err);
    ntk_status s = run(pc, threads, &o, &no, &err);
    if (s != NTK_E_CANCELED) fail_msg("%s (%d threads): canceled %s: status %d (%s)", name, threads, where, (int)s, err.msg);
    if (err.status != NTK_E_CANCELED || !strstr(err.msg, "canceled by the progress callback (stage: "))
        fail_msg("%s: canceled %s: error %d '%s'", name, where, (int)err.status, err.msg);
    if (c->bad) fail_msg("%s: canceled %s: %s", name, where, c->why);
    if (c->calls != c->cancel_at)
        fail_msg("%s: canceled %s at call %zu, but called %zu times", name, where, c->cancel_at, c->calls);
    assert_null(o);
}

static void check_case(const char *name, case_fn run)
{
    for (int threads = 1; threads <= 2; threads++) {
        set_threads(threads);
        ntk_error err;
        unsigned char *plain = NULL, *with = NULL;
        size_t np = 0, nw = 0;
        if (run(NULL, threads, &plain, &np, &err)) fail_msg("%s (%d threads), no callback: %s", name, threads, err.msg);
        rec r;
        rec_init(&r, 0);
        ntk_progress p = {rec_fn, &r};
        if (run(&p, threads, &with, &nw, &err)) fail_msg("%s (%d threads), callback: %s", name, threads, err.msg);
        if (r.bad) fail_msg("%s (%d threads): %s", name, threads, r.why);
        if (r.calls < 2) fail_msg("%s: %zu progress calls", name, r.calls);
        if (!(r.done == r.total)) fail_msg("%s: the last call is %.17g of %.17g", name, r.done, r.total);
        if (np != nw || memcmp(plain, with, np) != 0)
            fail_msg("%s (%d threads): the result with a progress callback differs from the one without", name,
                     threads);
        free(plain);
        free(with);

        /* one thread: the calls are a fixed sequence; cancel at the first,
         * second, a third, half, last but one and last of them */
        const size_t C = r.calls, S = r.stages;
        size_t at[6] = {1, 2, C / 3, C / 2, C - 1, C};
        for (int i = 0; threads == 1 && i < 6; i++) {
            if (at[i] == 0 || (i > 0 && at[i] <= at[i - 1])) continue;
            rec c;
            rec_init(&c, at[i]);
            ntk_progress pc = {rec_fn, &c};
            char where[64];
            snprintf(where, sizeof where, "at call %zu of %zu", at[i], C);
            expect_canceled(name, where, run, threads, &c, &pc);
        }
        /* any thread count (how often thread 0 reports depends on timing):
         * at the start, half-way and the end of every stage */
        static const double fr[3] = {0, 0.5, 1};
        for (size_t si = 0; si < S; si++)
            for (int i = 0; i < 3; i++) {
                rec_at c;
                rec_init(&c.r, 0);
                c.stage_index = si;
                c.frac = fr[i];
                ntk_progress pc = {rec_at_fn, &c};
                char where[64];
                snprintf(where, sizeof where, "in stage %zu of %zu at %g", si + 1, S, fr[i]);
                expect_canceled(name, where, run, threads, &c.r, &pc);
            }
    }
    set_threads(2);
}

#define CASE(fn)                                                                  \
    static void test_##fn(void **state)                                           \
    {                                                                             \
        (void)state;                                                              \
        check_case(#fn, fn);                                                      \
    }
CASE(k_fast_sym)
CASE(k_fast_x2)
CASE(k_fast_diag)
CASE(k_quad_sym)
CASE(k_quad_x2)
CASE(k_quad_diag)
CASE(fit_eigen)
CASE(fit_nngp)
CASE(fit_inf_jitter)
CASE(predict_case)
CASE(e_ntk)
CASE(e_full)
CASE(e_nngp)
CASE(e_mc)
CASE(e_jac)
CASE(t_full)
CASE(t_sgd)
CASE(t_linear)
CASE(compare_case)

/* The units of the stages, where they are exact counts: the kernel's
 * entries (upper triangle with X2 omitted), training steps, prediction
 * points. A reporter that counted wrong would end below or above them. */
static double g_total;
static int total_fn(void *ctx, const char *stage, double done, double total)
{
    (void)ctx;
    (void)stage;
    (void)done;
    g_total = total;
    return 0;
}

static void test_units(void **state)
{
    (void)state;
    ntk_progress p = {total_fn, NULL};
    unsigned char *o;
    size_t n;
    ntk_error err;
    g_total = -1;
    assert_int_equal(k_fast_sym(&p, 2, &o, &n, &err), NTK_OK);
    free(o);
    assert_true(g_total == 1100.0 * 1101 / 2);
    assert_int_equal(k_quad_x2(&p, 2, &o, &n, &err), NTK_OK);
    free(o);
    assert_true(g_total == 20.0 * 150);
    assert_int_equal(k_quad_diag(&p, 2, &o, &n, &err), NTK_OK);
    free(o);
    assert_true(g_total == 200.0);
    assert_int_equal(t_sgd(&p, 2, &o, &n, &err), NTK_OK);
    free(o);
    assert_true(g_total == 60.0);
    assert_int_equal(predict_case(&p, 2, &o, &n, &err), NTK_OK);
    free(o);
    assert_true(g_total == 40.0);
    /* the duplicated row makes the first Cholesky attempt fail: the retry
     * with jitter adds its N³/3 to the factorization's total */
    rec r;
    rec_init(&r, 0);
    ntk_progress pr = {rec_fn, &r};
    assert_int_equal(fit_inf_jitter(&pr, 1, &o, &n, &err), NTK_OK);
    free(o);
    assert_false(r.bad);
    assert_true(r.grew);
    assert_true(r.total >= 2.0 * FN * FN * FN / 3);
}

/* The size estimates: what they count, on small cases whose allocations
 * are known (an NTK fit with its eigendecomposition holds 5 N × N arrays at
 * the peak, inf_only one; a traced empirical NTK at least its δ's). */
static void test_estimates(void **state)
{
    (void)state;
    ntk_model_opts o = ntk_model_opts_default();
    size_t N = 1000, d = 10, k = 2;
    size_t eig = ntk_model_fit_bytes(&o, N, d, k);
    assert_true(eig >= 5 * N * N * 8 && eig < 5 * N * N * 8 + 200 * N * 8);
    o.kernel = NTK_MODEL_NNGP;
    size_t nngp = ntk_model_fit_bytes(&o, N, d, k);
    assert_true(nngp >= 4 * N * N * 8 && nngp < eig);
    o.inf_only = 1;
    size_t inf = ntk_model_fit_bytes(&o, N, d, k);
    assert_true(inf >= N * N * 8 && inf < 2 * N * N * 8);
    assert_true(ntk_model_fit_bytes(&o, (size_t)1 << 40, d, k) == SIZE_MAX);
    /* the file holds x, y, alpha (+ V, eigenvalues, c, and for NTK the train NNGP) */
    o = ntk_model_opts_default();
    size_t fb = ntk_model_file_bytes(&o, N, d, k);
    assert_true(fb >= (2 * N * N + N * d + 3 * N * k + N) * 8 && fb <= (2 * N * N + N * d + 3 * N * k + N) * 8 + 65536);

    ntk_arch *a = arch_of(NET);
    ntk_net *net = NULL;
    ntk_error err;
    if (ntk_net_create(a, ED, NTK_PARAM_NTK, &net, &err)) fail_msg("%s", err.msg);
    /* δ's: k·Σ n_l per point = 2·(24 + 16 + 2) = 84, plus layer inputs 24 + 16 */
    size_t eb = ntk_empirical_bytes(net, NULL, 1000, 0, 1, 0);
    assert_true(eb >= 1000 * (84 + 40) * 8);
    ntk_empirical_opts eo = ntk_empirical_opts_default();
    eo.samples = 2;
    assert_true(ntk_empirical_bytes(net, &eo, 1000, 0, 1, 1) >= eb + 2 * 1000 * 1000 * 8);
    ntk_train_opts to = ntk_train_opts_default();
    size_t tb = ntk_train_bytes(net, &to, 500, 0);
    assert_true(tb >= 2 * ntk_net_n_params(net) * 8 + 500 * (24 + 24 + 16 + 16 + 2) * 8);
    assert_true(ntk_train_bytes(net, &to, 500, 1) > tb);
    ntk_net_free(net);
    ntk_arch_free(a);
}

int main(int argc, char **argv)
{
    if (argc > 1) cmocka_set_test_filter(argv[1]); /* e.g. "test_k_*" */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k_fast_sym),  cmocka_unit_test(test_k_fast_x2),   cmocka_unit_test(test_k_fast_diag),
        cmocka_unit_test(test_k_quad_sym),  cmocka_unit_test(test_k_quad_x2),   cmocka_unit_test(test_k_quad_diag),
        cmocka_unit_test(test_fit_eigen),   cmocka_unit_test(test_fit_nngp),    cmocka_unit_test(test_fit_inf_jitter),
        cmocka_unit_test(test_predict_case), cmocka_unit_test(test_e_ntk),      cmocka_unit_test(test_e_full),
        cmocka_unit_test(test_e_nngp),      cmocka_unit_test(test_e_mc),        cmocka_unit_test(test_e_jac),
        cmocka_unit_test(test_t_full),      cmocka_unit_test(test_t_sgd),       cmocka_unit_test(test_t_linear),
        cmocka_unit_test(test_compare_case), cmocka_unit_test(test_units),     cmocka_unit_test(test_estimates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
