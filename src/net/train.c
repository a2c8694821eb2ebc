/*
 * train.c — gradient-descent training of a finite network or of its
 * linearization on the MSE loss (docs/math.md, "Training dynamics"):
 *   L = (1/2n)·Σ (f − y)²,  n = rows·k of the (mini)batch,  G = ∂L/∂f = (f − y)/n,
 *   v ← μ·v + ∇L,  θ ← θ − η·v          (heavy ball; μ = 0 is plain GD).
 *
 * One optimizer loop serves both models; a model is a pair of functions
 * "forward a batch" and "gradient of Σ G·f for the batch last forwarded"
 * (ntk_net_forward/backward, or the JVP/VJP of linear.c).
 *
 * Full batch (batch = 0 or ≥ rows): every step forwards the whole set, so
 * the loss at every step comes for free; for the linearized model the
 * forward pass at θ0 is computed once and only the JVP is redone.
 * Minibatch SGD: each epoch visits the rows in a fresh Fisher–Yates
 * permutation of 0..N−1 (the last batch of an epoch holds the remainder);
 * the draws are SplitMix64: draw j is SplitMix64(key + (j+1)·φ), key =
 * SplitMix64(seed), φ = 0x9E3779B97F4A7C15 (the generator of ntk_net_init,
 * net_seed_key in net.c), counted across epochs; a draw r is mapped to
 * [0, m) by rejecting r < 2⁶⁴ mod m and taking r mod m (exactly uniform).
 *
 * Progress: stage "training", done = updates made of opts->steps, reported
 * before the first and after every update (after its loss is logged); a
 * cancellation stops before the next update (θ keeps the updates made).
 *
 * Everything is allocated before the first step. Nothing here depends on
 * the thread count: the parallel loops are elementwise, the loss sums
 * serial, and the products are ntk_dgemm's (core/blas.h). o.threads bounds
 * every thread of the run (ntk_threads_begin).
 */
#include "core/internal.h"
#include "net/linear_internal.h"
#include "core/blas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define GOLDEN 0x9E3779B97F4A7C15ull

ntk_train_opts ntk_train_opts_default(void)
{
    ntk_train_opts o;
    memset(&o, 0, sizeof o);
    o.lr = 0.1;
    o.steps = 1000;
    o.batch = 0;
    o.momentum = 0.0;
    o.seed = 0;
    o.threads = 0;
    o.on_log = NULL;
    o.log_ctx = NULL;
    o.log_every = 0;
    return o;
}

/* ------------------------------------------------------------ models */

typedef struct {
    void *self;
    size_t d, k, n_params;
    double *theta;
    /* same_batch: x holds the rows of the previous call (see lin_forward) */
    ntk_status (*forward)(void *self, const double *x, size_t n, int same_batch, double *out, ntk_error *err);
    ntk_status (*backward)(void *self, const double *G, double *grad, ntk_error *err);
} train_model;

typedef struct {
    ntk_net *net;
    ntk_net_work *w;
} net_model;

static ntk_status net_fwd(void *self, const double *x, size_t n, int same_batch, double *out, ntk_error *err)
{
    (void)same_batch; /* θ changes every step: nothing to reuse */
    net_model *m = self;
    return ntk_net_forward(m->net, m->w, x, n, out, err);
}

static ntk_status net_bwd(void *self, const double *G, double *grad, ntk_error *err)
{
    net_model *m = self;
    return ntk_net_backward(m->net, m->w, G, grad, err);
}

typedef struct {
    ntk_linear *lin;
    lin_work *w;
} lin_model;

static ntk_status lin_fwd(void *self, const double *x, size_t n, int same_batch, double *out, ntk_error *err)
{
    lin_model *m = self;
    return lin_forward(m->lin, m->w, x, n, same_batch, out, err);
}

static ntk_status lin_bwd(void *self, const double *G, double *grad, ntk_error *err)
{
    lin_model *m = self;
    return lin_backward(m->lin, m->w, G, grad, err);
}

/* ------------------------------------------------------------ checks */

ntk_status net_train_check_shapes(const ntk_net *net, size_t x_rows, size_t x_cols, size_t y_rows, size_t y_cols,
                                  ntk_error *err)
{
    ntk_error_clear(err);
    if (x_rows == 0) return ntk_fail(err, NTK_E_SHAPE, "no training rows");
    if (x_cols != net->d_in)
        return ntk_fail(err, NTK_E_SHAPE, "X has %zu column%s but the network takes %zu input%s", x_cols,
                        x_cols == 1 ? "" : "s", net->d_in, net->d_in == 1 ? "" : "s");
    if (y_rows != x_rows)
        return ntk_fail(err, NTK_E_SHAPE, "Y has %zu row%s but X has %zu", y_rows, y_rows == 1 ? "" : "s", x_rows);
    if (y_cols != net->k)
        return ntk_fail(err, NTK_E_SHAPE, "Y has %zu column%s but the network has %zu output%s", y_cols,
                        y_cols == 1 ? "" : "s", net->k, net->k == 1 ? "" : "s");
    return NTK_OK;
}

static ntk_status check_args(const ntk_net *net, const ntk_train_opts *o, const double *x, const double *y, size_t n,
                             ntk_error *err)
{
    if (!(o->lr > 0) || !isfinite(o->lr))
        return ntk_fail(err, NTK_E_INVAL, "the learning rate must be positive and finite, got %g", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1))
        return ntk_fail(err, NTK_E_INVAL, "the momentum must be in [0, 1), got %g", o->momentum);
    if (o->threads < 0) return ntk_fail(err, NTK_E_INVAL, "threads must be >= 0, got %d", o->threads);
    if (n == 0 || !x || !y) return ntk_fail(err, NTK_E_SHAPE, "no training rows");
    ntk_status s = ntk_check_finite(x, n, net->d_in, "X", err);
    if (!s) s = ntk_check_finite(y, n, net->k, "Y", err);
    return s;
}

/* ------------------------------------------------------------ the loop */

/* Buffers of one run, allocated together before the first step. */
typedef struct {
    double *grad, *v;  /* n_params                                       */
    double *out, *G;   /* B × k                                           */
    double *xb, *yb;   /* B × d, B × k: the gathered minibatch (SGD only) */
    size_t *perm;      /* N (SGD only)                                    */
} train_bufs;

static void bufs_free(train_bufs *b)
{
    free(b->grad);
    free(b->v);
    free(b->out);
    free(b->G);
    free(b->xb);
    free(b->yb);
    free(b->perm);
}

static ntk_status bufs_alloc(train_bufs *b, size_t P, size_t N, size_t B, size_t d, size_t k, ntk_error *err)
{
    memset(b, 0, sizeof *b);
    size_t szp, szo, szx;
    int bad = ntk_mul_size(P ? P : 1, 1, sizeof(double), &szp) || ntk_mul_size(B, k, sizeof(double), &szo) ||
              ntk_mul_size(B, d, sizeof(double), &szx);
    if (!bad) {
        b->grad = malloc(szp);
        b->v = calloc(P ? P : 1, sizeof(double));
        b->out = malloc(szo);
        b->G = malloc(szo);
        bad = !b->grad || !b->v || !b->out || !b->G;
        if (!bad && B < N) {
            b->xb = malloc(szx);
            b->yb = malloc(szo);
            b->perm = malloc(N * sizeof *b->perm);
            bad = !b->xb || !b->yb || !b->perm;
        }
    }
    if (bad) {
        bufs_free(b);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for training buffers (%zu parameters, batch %zu)", P, B);
    }
    return NTK_OK;
}

/* Uniform integer in [0, m), m ≥ 1, from the SplitMix64 stream (key, *ctr). */
static size_t draw_below(uint64_t key, uint64_t *ctr, size_t m)
{
    uint64_t bound = (uint64_t)m, thresh = (0 - bound) % bound, r;
    do r = net_seed_key(key + (*ctr)++ * GOLDEN); /* = SplitMix64(key + (ctr+1)·φ) */
    while (r < thresh);
    return (size_t)(r % bound);
}

/* Σ (out − y)² over m entries, serial (thread-count independent). */
static double sq_err(const double *out, const double *y, size_t m)
{
    double s = 0;
    for (size_t e = 0; e < m; e++) {
        double r = out[e] - y[e];
        s += r * r;
    }
    return s;
}

/* The full-set loss, forwarding chunks of ≤ B rows. */
static ntk_status full_loss(const train_model *M, const double *x, const double *y, size_t N, size_t B, double *out,
                            double *loss, ntk_error *err)
{
    double s = 0;
    for (size_t r = 0; r < N; r += B) {
        size_t m = N - r < B ? N - r : B;
        ntk_status st = M->forward(M->self, x + r * M->d, m, 0, out, err);
        if (st) return st;
        s += sq_err(out, y + r * M->k, m * M->k);
    }
    *loss = s / (2.0 * (double)N * (double)M->k);
    return NTK_OK;
}

static ntk_status diverged(ntk_error *err, size_t step, double loss)
{
    if (step == 0) /* no update yet: the learning rate is not the cause */
        return ntk_fail(err, NTK_E_NUMERIC,
                        "the initial loss is not finite (loss = %g): the network's outputs overflow at its initial "
                        "parameters (reduce w_std/b_std or the depth)",
                        loss);
    return ntk_fail(err, NTK_E_NUMERIC, "training diverged at step %zu (loss = %g); try a smaller learning rate", step,
                    loss);
}

static int is_log_point(const ntk_train_opts *o, size_t s)
{
    return s == 0 || s == o->steps || (o->log_every > 0 && s % o->log_every == 0);
}

/* v ← μv + g, θ ← θ − ηv, elementwise. */
static void update(double *theta, double *v, const double *g, size_t P, double lr, double mu, int nt)
{
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt) if (P > 65536)
    for (size_t i = 0; i < P; i++) {
        v[i] = mu * v[i] + g[i];
        theta[i] -= lr * v[i];
    }
}

/* Runs the optimizer; step s means "after s updates". */
static ntk_status train_loop(const train_model *M, const ntk_train_opts *o, const double *x, const double *y, size_t N,
                             size_t B, train_bufs *b, double *final_loss, ntk_error *err)
{
    size_t d = M->d, k = M->k, P = M->n_params;
    int nt = 1;
#ifdef _OPENMP
    nt = o->threads > 0 ? o->threads : omp_get_max_threads();
#endif
    ntk_status s;
    double loss = NAN;
    const double total = (double)o->steps;
    if (ntk_progress_report(&o->progress, "training", 0, total)) return ntk_canceled(err, "training");

    if (B >= N) { /* full batch: the loss at θ_s comes with the gradient's forward pass */
        double inv_n = 1.0 / ((double)N * (double)k);
        size_t m = N * k;
        for (size_t step = 0;; step++) {
            if ((s = M->forward(M->self, x, N, step > 0, b->out, err))) return s;
            loss = 0.5 * inv_n * sq_err(b->out, y, m);
            if (!isfinite(loss)) return diverged(err, step, loss);
            if (o->on_log && is_log_point(o, step) && o->on_log(o->log_ctx, step, loss)) break;
            /* after the log, so that a callback showing the loss shows this step's */
            if (step && ntk_progress_report(&o->progress, "training", (double)step, total))
                return ntk_canceled(err, "training");
            if (step == o->steps) break;
            for (size_t e = 0; e < m; e++) b->G[e] = (b->out[e] - y[e]) * inv_n;
            if ((s = M->backward(M->self, b->G, b->grad, err))) return s;
            update(M->theta, b->v, b->grad, P, o->lr, o->momentum, nt);
        }
        if (final_loss) *final_loss = loss;
        return NTK_OK;
    }

    /* minibatch SGD */
    uint64_t key = net_seed_key(o->seed), ctr = 0;
    size_t pos = N; /* position in the current epoch's permutation; N = start a new one */
    if (o->on_log) {
        if ((s = full_loss(M, x, y, N, B, b->out, &loss, err))) return s;
        if (!isfinite(loss)) return diverged(err, 0, loss);
        if (o->on_log(o->log_ctx, 0, loss)) {
            if (final_loss) *final_loss = loss;
            return NTK_OK;
        }
    }
    for (size_t step = 1; step <= o->steps; step++) {
        if (pos == N) {
            for (size_t i = 0; i < N; i++) b->perm[i] = i;
            for (size_t i = N - 1; i > 0; i--) {
                size_t j = draw_below(key, &ctr, i + 1);
                size_t t = b->perm[i];
                b->perm[i] = b->perm[j];
                b->perm[j] = t;
            }
            pos = 0;
        }
        size_t nb = N - pos < B ? N - pos : B;
        for (size_t r = 0; r < nb; r++) {
            size_t src = b->perm[pos + r];
            memcpy(b->xb + r * d, x + src * d, d * sizeof(double));
            memcpy(b->yb + r * k, y + src * k, k * sizeof(double));
        }
        pos += nb;
        if ((s = M->forward(M->self, b->xb, nb, 0, b->out, err))) return s;
        size_t m = nb * k;
        double inv_n = 1.0 / (double)m;
        double bl = 0.5 * inv_n * sq_err(b->out, b->yb, m);
        if (!isfinite(bl)) return diverged(err, step - 1, bl); /* the loss at θ_{step−1} */
        for (size_t e = 0; e < m; e++) b->G[e] = (b->out[e] - b->yb[e]) * inv_n;
        if ((s = M->backward(M->self, b->G, b->grad, err))) return s;
        update(M->theta, b->v, b->grad, P, o->lr, o->momentum, nt);
        int last = step == o->steps;
        if (last || (o->on_log && is_log_point(o, step))) {
            if ((s = full_loss(M, x, y, N, B, b->out, &loss, err))) return s;
            if (!isfinite(loss)) return diverged(err, step, loss);
            if (o->on_log && o->on_log(o->log_ctx, step, loss)) break;
        }
        if (ntk_progress_report(&o->progress, "training", (double)step, total)) return ntk_canceled(err, "training");
    }
    if (o->steps == 0 && !o->on_log && (s = full_loss(M, x, y, N, B, b->out, &loss, err))) return s;
    if (final_loss) *final_loss = loss;
    return NTK_OK;
}

/* ------------------------------------------------------------ memory estimate */

/* What ntk_train / ntk_train_linear allocate (see bufs_alloc,
 * ntk_net_work_create, lin_work_create) and, for the linearized model,
 * what ntk_linear_create holds (a clone of the network and θ). */
size_t ntk_train_bytes(const ntk_net *net, const ntk_train_opts *opts, size_t n, int linearized)
{
    if (!net || n == 0) return 0;
    ntk_train_opts o = opts ? *opts : ntk_train_opts_default();
    const double N = (double)n, B = (o.batch == 0 || o.batch >= n) ? N : (double)o.batch;
    const double P = (double)net->n_params, k = (double)net->k, d = (double)net->d_in, mw = (double)net->max_width;
    double outs = 0;
    for (size_t i = 0; i < net->n_layers; i++) outs += (double)net->layers[i].n_out;
    double a = B * outs + 2 * B * mw;     /* the batch workspace        */
    a += 2 * P + 2 * B * k;               /* gradient, velocity, out, G */
    if (B < N) a += B * d + B * k + N;    /* the gathered minibatch, the permutation */
    if (linearized) a += 2 * P + 2 * B * mw + P; /* clone and θ, tangents, θ − θ0 */
    double b = 8 * a;
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

/* ------------------------------------------------------------ entry points */

ntk_status ntk_train(ntk_net *net, const ntk_train_opts *opts, const double *x, const double *y, size_t n,
                     double *final_loss, ntk_error *err)
{
    ntk_error_clear(err);
    if (!net) return ntk_fail(err, NTK_E_INVAL, "no network to train");
    ntk_train_opts o = opts ? *opts : ntk_train_opts_default();
    ntk_status s = check_args(net, &o, x, y, n, err);
    if (s) return s;
    size_t B = (o.batch == 0 || o.batch >= n) ? n : o.batch;
    net_model nm = {net, NULL};
    if ((s = ntk_net_work_create(net, B, &nm.w, err))) return s;
    train_bufs b;
    if ((s = bufs_alloc(&b, net->n_params, n, B, net->d_in, net->k, err))) {
        ntk_net_work_free(nm.w);
        return s;
    }
    train_model M = {&nm, net->d_in, net->k, net->n_params, net->theta, net_fwd, net_bwd};
    int saved = ntk_threads_begin(o.threads);
    s = train_loop(&M, &o, x, y, n, B, &b, final_loss, err);
    ntk_threads_end(saved);
    bufs_free(&b);
    ntk_net_work_free(nm.w);
    return s;
}

ntk_status ntk_train_linear(ntk_linear *lin, const ntk_train_opts *opts, const double *x, const double *y, size_t n,
                            double *final_loss, ntk_error *err)
{
    ntk_error_clear(err);
    if (!lin) return ntk_fail(err, NTK_E_INVAL, "no linearized network to train");
    const ntk_net *net = lin->base;
    ntk_train_opts o = opts ? *opts : ntk_train_opts_default();
    ntk_status s = check_args(net, &o, x, y, n, err);
    if (s) return s;
    size_t B = (o.batch == 0 || o.batch >= n) ? n : o.batch;
    lin_model lm = {lin, NULL};
    if ((s = lin_work_create(lin, B, &lm.w, err))) return s;
    train_bufs b;
    if ((s = bufs_alloc(&b, net->n_params, n, B, net->d_in, net->k, err))) {
        lin_work_free(lm.w);
        return s;
    }
    train_model M = {&lm, net->d_in, net->k, net->n_params, lin->theta, lin_fwd, lin_bwd};
    int saved = ntk_threads_begin(o.threads);
    s = train_loop(&M, &o, x, y, n, B, &b, final_loss, err);
    ntk_threads_end(saved);
    bufs_free(&b);
    lin_work_free(lm.w);
    return s;
}
