/*
 * compare.c — the equivalence experiment (see include/ntk.h): a finite
 * network trained by gradient descent, its linearization, the kernel
 * prediction with its own Θ̂0, and the infinite-width NTK prediction, across
 * widths; gaps, kernel drift and their log–log slopes against width.
 *
 * The kernel prediction uses the full empirical NTK (N·k × N·k, rows (i,a))
 * in the discrete-GD closed form, which is exactly what GD on the
 * linearized model computes, so gap_kernel ≈ gap_lin checks the whole chain.
 *
 * Progress (opts->progress): stages "infinite width: kernels" (entries of
 * the three analytic kernels), "infinite width: predictions" (5 parts),
 * then per width "width W (i/n): kernels" (5 parts: the empirical kernels
 * and the predictors) and "width W (i/n): training" (2T steps: network and
 * linearization); the library calls inside report through sub-progresses
 * (core/progress.c), so a cancellation stops within any of them.
 */
#include "core/internal.h"
#include "core/blas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t DEFAULT_WIDTHS[] = {64, 256, 1024, 4096};

ntk_compare_opts ntk_compare_opts_default(void)
{
    ntk_compare_opts o;
    memset(&o, 0, sizeof o);
    o.widths = DEFAULT_WIDTHS;
    o.n_widths = 4;
    o.steps = 1000;
    o.param = NTK_PARAM_NTK;
    return o;
}

void ntk_compare_free(ntk_compare_result *r)
{
    if (!r) return;
    free(r->widths);
    free(r->checkpoints);
    free(r->rows);
    free(r->f_net);
    free(r->f_lin);
    free(r->inf_mean);
    free(r->inf_std);
    free(r->loss_net);
    free(r->loss_inf);
    free(r);
}

static double half_mse(const double *f, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (f[i] - y[i]) * (f[i] - y[i]);
    return 0.5 * s / (double)n;
}

static double rms_diff(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s / (double)n);
}

static double frob_rel(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

/* Least-squares slope of log q against log w (NaN if any q ≤ 0). */
static double loglog_slope(const size_t *w, const double *q, size_t n)
{
    if (n < 2) return NAN;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double v = q[i];
        if (!(v > 0)) return NAN;
        double lx = log((double)w[i]), ly = log(v);
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
    }
    double den = (double)n * sxx - sx * sx;
    return den > 0 ? ((double)n * sxy - sx * sy) / den : NAN;
}

/* Records the training loss of every step into ctx. */
typedef struct { double *loss; size_t offset; } loss_rec;

static int record_loss(void *ctx, size_t step, double loss)
{
    loss_rec *r = ctx;
    r->loss[r->offset + step] = loss;
    return 0;
}

typedef struct {
    ntk_net *net;
    ntk_linear *lin;
    ntk_predictor *pk;
    double *buf[8];
} width_state;

/* ntk_predictor_create on one thread: LAPACK's results depend on its
 * thread count, and the learning rate (from λ_max) and every prediction
 * of the experiment come from these factorizations, so on one thread the
 * whole experiment is bitwise the same for any o.threads (ntk.h,
 * "Threads"). Their cost is small beside training the networks at the
 * sizes of an experiment. */
static ntk_status predictor_1t(const double *kxx, size_t N, const double *y, size_t k, const double *f0,
                               const ntk_predict_opts *po, ntk_predictor **out, ntk_error *err)
{
    int saved = ntk_threads_begin(1);
    ntk_status s = ntk_predictor_create(kxx, N, y, k, f0, po, out, err);
    ntk_threads_end(saved);
    return s;
}

static void width_state_free(width_state *s)
{
    ntk_linear_free(s->lin);
    ntk_net_free(s->net);
    ntk_predictor_free(s->pk);
    for (int i = 0; i < 8; i++) free(s->buf[i]);
    memset(s, 0, sizeof *s);
}

/* The largest allocations alive at once, in doubles: the analytic kernels
 * and the infinite-width trajectory for the whole run; per width the full
 * empirical NTKs (N·k)² and (M·k)·(N·k), the traced ones, the predictor of
 * the full Θ̂0 (its V, the Cholesky copy and dsyevd's 2(N·k)² workspace
 * while it factorizes) and the network (parameters, linearization, train
 * workspace ~ N·Σ widths). */
size_t ntk_compare_bytes(const ntk_arch *arch, const ntk_compare_opts *opts, size_t N, size_t d, size_t k, size_t M)
{
    if (!arch) return 0;
    ntk_compare_opts o = opts ? *opts : ntk_compare_opts_default();
    size_t wmax = 0;
    for (size_t i = 0; i < o.n_widths && o.widths; i++)
        if (o.widths[i] > wmax) wmax = o.widths[i];
    /* parameters and summed widths of the widest network */
    double P = 0, widths = 0, n_in = (double)d;
    size_t nl = ntk_arch_n_layers(arch), last = nl;
    for (size_t i = 0; i < nl; i++)
        if (ntk_arch_layer(arch, i)->kind == NTK_LAYER_DENSE) last = i;
    for (size_t i = 0; i < nl; i++) {
        const ntk_layer *L = ntk_arch_layer(arch, i);
        if (L->kind != NTK_LAYER_DENSE) {
            widths += n_in;
            continue;
        }
        double n_out = i == last ? (double)L->width : (double)wmax;
        P += n_in * n_out + (L->has_bias ? n_out : 0);
        widths += n_out;
        n_in = n_out;
    }
    const double n = (double)N, m = (double)M, kk = (double)k, T = (double)o.steps, nk = n * kk, mk = m * kk;
    double a = 2 * n * n + 2 * m * n + m + (T + 1) * nk + 4 * mk + (T + 1) * 4; /* analytic part */
    a += 5 * nk * nk + mk * nk + 2 * n * n + 4 * (nk + mk);                    /* empirical, predictor */
    a += 5 * P + 4 * (n + m) * widths;                                          /* networks, workspaces */
    double b = 8 * a;
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

static ntk_status compare_run(const ntk_arch *arch, const ntk_compare_opts *opts, const double *x, size_t N, size_t d,
                              const double *y, size_t k, const double *xt, size_t M, const double *yt,
                              ntk_compare_result **out, ntk_error *err);

/* opts->threads bounds every thread of the experiment. */
ntk_status ntk_compare(const ntk_arch *arch, const ntk_compare_opts *opts, const double *x, size_t N, size_t d,
                       const double *y, size_t k, const double *xt, size_t M, const double *yt,
                       ntk_compare_result **out, ntk_error *err)
{
    int saved = ntk_threads_begin(opts ? opts->threads : 0);
    ntk_status s = compare_run(arch, opts, x, N, d, y, k, xt, M, yt, out, err);
    ntk_threads_end(saved);
    return s;
}

static ntk_status compare_run(const ntk_arch *arch, const ntk_compare_opts *opts, const double *x, size_t N, size_t d,
                              const double *y, size_t k, const double *xt, size_t M, const double *yt,
                              ntk_compare_result **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    ntk_compare_opts o = opts ? *opts : ntk_compare_opts_default();
    ntk_status s;
    if (!arch || !x || !y || !xt || N == 0 || M == 0 || d == 0 || k == 0)
        return ntk_fail(err, NTK_E_INVAL, "compare: missing data");
    if (o.n_widths == 0 || !o.widths) return ntk_fail(err, NTK_E_INVAL, "compare: no widths");
    if (o.steps == 0) return ntk_fail(err, NTK_E_INVAL, "compare: steps must be positive");
    if ((s = ntk_check_finite(x, N, d, "X", err)) || (s = ntk_check_finite(y, N, k, "Y", err)) ||
        (s = ntk_check_finite(xt, M, d, "X test", err)) || (yt && (s = ntk_check_finite(yt, M, k, "Y test", err))))
        return s;

    ntk_compare_result *R = calloc(1, sizeof *R);
    if (!R) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    const size_t W = o.n_widths, T = o.steps;
    size_t cps_default[3] = {T / 100 ? T / 100 : 1, T / 10 ? T / 10 : 1, T};
    const size_t *cps = o.checkpoints ? o.checkpoints : cps_default;
    size_t ncp_in = o.checkpoints ? o.n_checkpoints : 3;
    R->widths = malloc(W * sizeof *R->widths);
    R->checkpoints = malloc((ncp_in ? ncp_in : 1) * sizeof *R->checkpoints);
    if (!R->widths || !R->checkpoints) { s = ntk_fail(err, NTK_E_NOMEM, "out of memory"); goto fail; }
    memcpy(R->widths, o.widths, W * sizeof *R->widths);
    /* sorted, unique, within (0, T] */
    size_t ncp = 0;
    for (size_t i = 0; i < ncp_in; i++) {
        if (cps[i] == 0 || cps[i] > T)
            { s = ntk_fail(err, NTK_E_INVAL, "checkpoint %zu is outside [1, %zu]", cps[i], T); goto fail; }
        if (ncp && cps[i] <= R->checkpoints[ncp - 1]) {
            if (cps[i] == R->checkpoints[ncp - 1]) continue;
            s = ntk_fail(err, NTK_E_INVAL, "checkpoints must increase");
            goto fail;
        }
        R->checkpoints[ncp++] = cps[i];
    }
    if (ncp == 0 || R->checkpoints[ncp - 1] != T) R->checkpoints[ncp++] = T;
    R->n_widths = W;
    R->n_checkpoints = ncp;
    R->steps = T;
    R->M = M;
    R->k = k;
    R->rows = calloc(W * ncp, sizeof *R->rows);
    R->f_net = calloc(W * M * k, sizeof(double));
    R->f_lin = calloc(W * M * k, sizeof(double));
    R->inf_mean = calloc(M * k, sizeof(double));
    R->inf_std = calloc(M, sizeof(double));
    R->loss_net = calloc(W * (T + 1), sizeof(double));
    R->loss_inf = calloc(T + 1, sizeof(double));
    if (!R->rows || !R->f_net || !R->f_lin || !R->inf_mean || !R->inf_std || !R->loss_net || !R->loss_inf) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto fail;
    }
    const double n_norm = (double)(N * k);

    /* ---- infinite width: analytic Θ and K on train, test×train, test diag */
    double *Th = malloc(N * N * sizeof *Th), *Kx = malloc(N * N * sizeof *Kx);
    double *Tht = malloc(M * N * sizeof *Tht), *Kxt = malloc(M * N * sizeof *Kxt), *Ktt = malloc(M * sizeof *Ktt);
    double *inf_tr = NULL, *inf_te = NULL, *times = NULL;
    ntk_predictor *pinf = NULL;
    width_state ws;
    memset(&ws, 0, sizeof ws);
    if (!Th || !Kx || !Tht || !Kxt || !Ktt) { s = ntk_fail(err, NTK_E_NOMEM, "out of memory"); goto done; }
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.param = o.param;
    ko.threads = o.threads;
    /* progress: the three kernels' entries in one stage */
    const ntk_progress *prog = &o.progress;
    ntk_subprogress sp;
    char stage[96];
    const double e1 = (double)N * ((double)N + 1) / 2, e2 = (double)M * (double)N, e3 = (double)M;
    const double ek = e1 + e2 + e3;
#define CANCEL_IF(cond) do { if (cond) { s = ntk_canceled(err, stage); goto done; } } while (0)
    snprintf(stage, sizeof stage, "infinite width: kernels");
    CANCEL_IF(ntk_progress_report(prog, stage, 0, ek));
    /* the analytic kernels of the first width's network (widths matter
     * only in the standard parameterization; then each width has its own
     * limit and Θ is recomputed below) */
    ntk_arch *aw = NULL;
    if ((s = ntk_arch_set_hidden_width(arch, R->widths[W - 1], &aw, err))) goto done;
    ko.progress = ntk_subprogress_bind(&sp, prog, stage, 0, e1, ek);
    if (!(s = ntk_kernel(aw, &ko, x, N, NULL, 0, d, Kx, Th, err))) {
        ko.progress = ntk_subprogress_bind(&sp, prog, stage, e1, e2, ek);
        s = ntk_kernel(aw, &ko, xt, M, x, N, d, Kxt, Tht, err);
    }
    if (s) {
        ntk_arch_free(aw);
        goto done;
    }
    ko.diag = 1;
    ko.progress = ntk_subprogress_bind(&sp, prog, stage, e1 + e2, e3, ek);
    s = ntk_kernel(aw, &ko, xt, M, NULL, 0, d, Ktt, NULL, err);
    ko.diag = 0;
    ko.progress = (ntk_progress){NULL, NULL};
    ntk_arch_free(aw);
    if (s) goto done;
    CANCEL_IF(ntk_progress_report(prog, stage, ek, ek));
    snprintf(stage, sizeof stage, "infinite width: predictions");
    CANCEL_IF(ntk_progress_report(prog, stage, 0, 5));

    ntk_predict_opts po = ntk_predict_opts_default();
    po.discrete = 1;
    po.lr = 1.0; /* placeholder until λ_max is known */
    if ((s = predictor_1t(Th, N, y, k, NULL, &po, &pinf, err))) goto done;
    ntk_predict_info info;
    ntk_predictor_info(pinf, &info);
    R->lr_max = 2 * n_norm / info.lambda_max;
    R->lr = o.lr > 0 ? o.lr : n_norm / info.lambda_max;
    ntk_predictor_free(pinf);
    pinf = NULL;
    CANCEL_IF(ntk_progress_report(prog, stage, 1, 5));
    po.lr = R->lr;
    if ((s = predictor_1t(Th, N, y, k, NULL, &po, &pinf, err))) goto done;
    CANCEL_IF(ntk_progress_report(prog, stage, 2, 5));
    times = malloc((T + 1) * sizeof *times);
    inf_tr = malloc((T + 1) * N * k * sizeof *inf_tr);
    inf_te = malloc(ncp * M * k * sizeof *inf_te);
    if (!times || !inf_tr || !inf_te) { s = ntk_fail(err, NTK_E_NOMEM, "out of memory"); goto done; }
    for (size_t t = 0; t <= T; t++) times[t] = (double)t;
    if ((s = ntk_predict(pinf, NULL, N, NULL, times, T + 1, inf_tr, err))) goto done;
    CANCEL_IF(ntk_progress_report(prog, stage, 3, 5));
    for (size_t t = 0; t <= T; t++) R->loss_inf[t] = half_mse(inf_tr + t * N * k, y, N * k);
    double cpt[64];
    if (ncp > 64) { s = ntk_fail(err, NTK_E_INVAL, "at most 64 checkpoints"); goto done; }
    for (size_t c = 0; c < ncp; c++) cpt[c] = (double)R->checkpoints[c];
    if ((s = ntk_predict(pinf, Tht, M, NULL, cpt, ncp, inf_te, err))) goto done;
    CANCEL_IF(ntk_progress_report(prog, stage, 4, 5));
    memcpy(R->inf_mean, inf_te + (ncp - 1) * M * k, M * k * sizeof(double));
    if ((s = ntk_predict_cov(pinf, Tht, M, Kx, Kxt, Ktt, 1, (double)T, R->inf_std, err))) goto done;
    for (size_t i = 0; i < M; i++) R->inf_std[i] = sqrt(R->inf_std[i] > 0 ? R->inf_std[i] : 0);
    CANCEL_IF(ntk_progress_report(prog, stage, 5, 5));

    /* ---- per width */
    for (size_t wi = 0; wi < W; wi++) {
        size_t w = R->widths[wi];
        memset(&ws, 0, sizeof ws);
        snprintf(stage, sizeof stage, "width %zu (%zu/%zu): kernels", w, wi + 1, W);
        CANCEL_IF(ntk_progress_report(prog, stage, 0, 5));
        if ((s = ntk_arch_set_hidden_width(arch, w, &aw, err))) goto done;
        s = ntk_net_create(aw, d, o.param, &ws.net, err);
        if (!s && o.param == NTK_PARAM_STANDARD) {
            /* in the standard parameterization the limit depends on the widths */
            ko.progress = ntk_subprogress_bind(&sp, prog, stage, 0, 1, 5);
            s = ntk_kernel(aw, &ko, x, N, NULL, 0, d, NULL, Th, err);
            ko.progress = (ntk_progress){NULL, NULL};
        }
        ntk_arch_free(aw);
        if (s) goto done;
        if ((s = ntk_net_init(ws.net, o.seed, err))) goto done;
        size_t Nk = N * k, Mk = M * k;
        double *f0tr = ws.buf[0] = malloc(Nk * sizeof(double));
        double *f0te = ws.buf[1] = malloc(Mk * sizeof(double));
        double *K0 = ws.buf[2] = malloc(Nk * Nk * sizeof(double));  /* full Θ̂0 train */
        double *K0t = ws.buf[3] = malloc(Mk * Nk * sizeof(double)); /* full Θ̂0 test×train */
        double *Kt = ws.buf[4] = malloc(N * N * sizeof(double));    /* traced Θ̂ train, at 0 then t */
        double *K0tr = ws.buf[5] = malloc(N * N * sizeof(double));
        double *kp = ws.buf[6] = malloc(ncp * Mk * sizeof(double)); /* kernel prediction on test */
        double *kptr = ws.buf[7] = malloc(ncp * Nk * sizeof(double));
        double *ftr = malloc(Nk * sizeof(double)), *fte = malloc(Mk * sizeof(double));
        double *ltr = malloc(Nk * sizeof(double)), *lte = malloc(Mk * sizeof(double));
        double *np_te = malloc(ncp * Mk * sizeof(double)); /* analytic-NTK prediction, own f0 */
        if (!f0tr || !f0te || !K0 || !K0t || !Kt || !K0tr || !kp || !kptr || !ftr || !fte || !ltr || !lte || !np_te) {
            free(ftr); free(fte); free(ltr); free(lte); free(np_te);
            s = ntk_fail(err, NTK_E_NOMEM, "out of memory at width %zu", w);
            goto done;
        }
#define TRY(call) do { if ((s = (call))) { free(ftr); free(fte); free(ltr); free(lte); free(np_te); goto done; } } while (0)
        ntk_empirical_opts eo = ntk_empirical_opts_default();
#define EMP(part, xa, na, xb, nb, full_, out_) \
    (eo.full = (full_), eo.progress = ntk_subprogress_bind(&sp, prog, stage, (part), 1, 5), \
     ntk_empirical_ntk_ex(ws.net, &eo, (xa), (na), (xb), (nb), (out_), err))
        TRY(ntk_net_apply(ws.net, x, N, f0tr, o.threads, err));
        TRY(ntk_net_apply(ws.net, xt, M, f0te, o.threads, err));
        TRY(EMP(1, x, N, NULL, 0, 1, K0));
        TRY(EMP(2, xt, M, x, N, 1, K0t));
        TRY(EMP(3, x, N, NULL, 0, 0, K0tr));
        double dist0 = frob_rel(K0tr, Th, N * N);
        /* kernel prediction with Θ̂0 and f0: targets as an (N·k)-vector */
        TRY(predictor_1t(K0, Nk, y, 1, f0tr, &po, &ws.pk, err));
        TRY(ntk_predict(ws.pk, K0t, Mk, f0te, cpt, ncp, kp, err));
        TRY(ntk_predict(ws.pk, NULL, Nk, NULL, cpt, ncp, kptr, err));
        TRY(ntk_linear_create(ws.net, &ws.lin, err));
        /* the analytic NTK's prediction from this network's own f0 */
        ntk_predictor *pn = NULL;
        s = predictor_1t(Th, N, y, k, f0tr, &po, &pn, err);
        if (!s) s = ntk_predict(pn, Tht, M, f0te, cpt, ncp, np_te, err);
        ntk_predictor_free(pn);
        if (s) { free(np_te); free(ftr); free(fte); free(ltr); free(lte); goto done; }
        if (ntk_progress_report(prog, stage, 5, 5)) TRY(ntk_canceled(err, stage));
        snprintf(stage, sizeof stage, "width %zu (%zu/%zu): training", w, wi + 1, W);
        const double t2 = 2.0 * (double)T;
        if (ntk_progress_report(prog, stage, 0, t2)) TRY(ntk_canceled(err, stage));

        ntk_train_opts to = ntk_train_opts_default();
        to.lr = R->lr;
        to.threads = o.threads;
        loss_rec rec = {R->loss_net, wi * (T + 1)};
        size_t done_steps = 0;
        for (size_t c = 0; c < ncp; c++) {
            size_t target = R->checkpoints[c];
            to.steps = target - done_steps;
            rec.offset = wi * (T + 1) + done_steps;
            to.on_log = record_loss;
            to.log_ctx = &rec;
            to.log_every = 1;
            to.progress = ntk_subprogress_bind(&sp, prog, stage, 2.0 * (double)done_steps, (double)to.steps, t2);
            TRY(ntk_train(ws.net, &to, x, y, N, NULL, err));
            to.on_log = NULL;
            to.progress = ntk_subprogress_bind(&sp, prog, stage, (double)(2 * done_steps + to.steps),
                                               (double)to.steps, t2);
            TRY(ntk_train_linear(ws.lin, &to, x, y, N, NULL, err));
            done_steps = target;
            TRY(ntk_net_apply(ws.net, x, N, ftr, o.threads, err));
            TRY(ntk_net_apply(ws.net, xt, M, fte, o.threads, err));
            TRY(ntk_linear_apply(ws.lin, x, N, ltr, err));
            TRY(ntk_linear_apply(ws.lin, xt, M, lte, err));
            eo.full = 0; /* the drift: cancellation only, the steps are the units */
            eo.progress = ntk_subprogress_bind(&sp, prog, stage, 2.0 * (double)done_steps, 0, t2);
            TRY(ntk_empirical_ntk_ex(ws.net, &eo, x, N, NULL, 0, Kt, err));
            ntk_compare_row *row = &R->rows[wi * ncp + c];
            row->width = w;
            row->step = target;
            row->train_net = half_mse(ftr, y, Nk);
            row->train_lin = half_mse(ltr, y, Nk);
            row->train_kernel = half_mse(kptr + c * Nk, y, Nk);
            row->train_inf = half_mse(inf_tr + target * Nk, y, Nk);
            row->test_net = yt ? half_mse(fte, yt, Mk) : NAN;
            row->test_lin = yt ? half_mse(lte, yt, Mk) : NAN;
            row->test_kernel = yt ? half_mse(kp + c * Mk, yt, Mk) : NAN;
            row->test_inf = yt ? half_mse(inf_te + c * Mk, yt, Mk) : NAN;
            row->gap_lin = rms_diff(fte, lte, Mk);
            row->gap_kernel = rms_diff(fte, kp + c * Mk, Mk);
            row->gap_inf = rms_diff(fte, inf_te + c * Mk, Mk);
            row->gap_ntk = rms_diff(fte, np_te + c * Mk, Mk);
            row->drift = frob_rel(Kt, K0tr, N * N);
            row->dist0 = dist0;
        }
        memcpy(R->f_net + wi * Mk, fte, Mk * sizeof(double));
        memcpy(R->f_lin + wi * Mk, lte, Mk * sizeof(double));
        free(ftr); free(fte); free(ltr); free(lte); free(np_te);
#undef EMP
#undef TRY
        width_state_free(&ws);
    }
    /* slopes at the last checkpoint */
    {
        double q[6][64];
        if (W > 64) { s = ntk_fail(err, NTK_E_INVAL, "at most 64 widths"); goto done; }
        for (size_t wi = 0; wi < W; wi++) {
            const ntk_compare_row *r = &R->rows[wi * ncp + ncp - 1];
            q[0][wi] = r->gap_lin;
            q[1][wi] = r->gap_kernel;
            q[2][wi] = r->gap_inf;
            q[3][wi] = r->drift;
            q[4][wi] = r->dist0;
            q[5][wi] = r->gap_ntk;
        }
        for (int j = 0; j < 6; j++) R->slope[j] = loglog_slope(R->widths, q[j], W);
    }
#undef CANCEL_IF
done:
    width_state_free(&ws);
    ntk_predictor_free(pinf);
    free(Th); free(Kx); free(Tht); free(Kxt); free(Ktt);
    free(inf_tr); free(inf_te); free(times);
    if (s) goto fail;
    *out = R;
    return NTK_OK;
fail:
    ntk_compare_free(R);
    return s;
}
