/*
 * empirical.c — the feature map ϕ(x) = ∂f(x)/∂θ of a finite network and the
 * empirical kernels built on it (docs/math.md, "Finite networks and the
 * empirical NTK"). For a dense layer z_l = w_l·W_l h_{l−1} + β_l·b_l with
 * δ_l^a = ∂f_a/∂z_l:  ∂f_a/∂W_l = w_l·δ_l^a ⊗ h_{l−1},  ∂f_a/∂b_l = β_l·δ_l^a, so
 *
 *   Jacobian     J, (n·k) × P, row i·k + a = ∂f_a(x_i)/∂θ (outer products);
 *   NTK (fast)   Θ̂_ab(x,x') = Σ_l (δ_l^a(x)·δ_l^b(x')) · (w_l²·h_{l−1}(x)·h_{l−1}(x') + β_l²);
 *   NTK (ref)    J1·J2ᵀ;
 *   NNGP         f(X1)·f(X2)ᵀ / k;
 *   Monte Carlo  averages of the above over seeded initialisations.
 *
 * Fast path, memory layout. One pass over a point set X (n rows) runs, per
 * row chunk (chunks in parallel), the forward pass and one backward pass on
 * chunk·k rows seeded with e_a (net_backward_seeds), and keeps for each
 * dense layer l
 *   D_l  (n·k) × n_l   row i·k + a = δ_l^a(x_i)   (a point's k δ's contiguous)
 *   H_l  n × n_in      the layer input (H_0 is X itself; the others are
 *                      written there by the forward pass)
 * so memory is n·(k·Σ n_l + Σ_{l≥1} n_in). The same D_l buffer is two matrices:
 *   traced: n × (k·n_l), row i = [δ^0(x_i) … δ^{k−1}(x_i)], so that
 *           Σ_a δ^a(x_i)·δ^a(x'_j) is entry (i,j) of ONE product D1·D2ᵀ;
 *   full:   (n·k) × n_l, row (i,a); D1·D2ᵀ is the (n1k) × (n2k) Gram.
 * With r = rows per point (1 traced, k full) the output is (n1·r) × (n2·r)
 * and per layer out[(i,a),(j,b)] += (D1·D2ᵀ)[(i,a),(j,b)] · (w²·H1·H2ᵀ + β²)[i,j].
 * The products are formed block by block of the output (≈ 256 × 256
 * entries, every layer's two Gram blocks in cache, accumulated at once):
 * memory O(n1·n2·k² + n·k·Σ widths), never the n×P Jacobian. For X2 = X1
 * the diagonal blocks use dsyrk, only the upper triangle is computed, and
 * it is mirrored: the result is exactly symmetric. The reference forms J
 * from the same backward passes (outer products) and multiplies; J is
 * checked against ntk_net_backward's own gradients and finite differences
 * (tests/test_empirical.c).
 *
 * Progress (the _ex functions): work units are estimated flops — a row
 * chunk's passes 2·m·(1 + k)·Σ n_in·n_out, a Gram block's
 * pairs·Σ_l (2·r·k·n_l + 2·n_in + r²) — counted as chunks and blocks finish
 * (core/progress.c: reported from the calling thread only); a
 * cancellation skips the remaining chunks and blocks.
 *
 * Thread-count independence: every product goes through core/blas.h
 * (ntk_dgemm, ntk_dsyrk_upper: a partition fixed by the shapes, each block
 * one single-threaded OpenBLAS call), the layers are accumulated in a fixed
 * order, elementwise loops are per entry, and the row blocks depend on the
 * sizes only.
 */
#include "core/blas.h"
#include "core/internal.h"
#include "net/net_internal.h"

#include <cblas.h>
#include <limits.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EMP_CHUNK 256                     /* rows per forward/backward batch      */
#define EMP_BLOCK_ROWS 256                /* output rows per work item of the Gram */

static double gib(size_t bytes) { return (double)bytes / (double)(1u << 30); }

/* Copies the upper triangle of the n × n matrix a onto the lower one, in
 * tiles (a plain column walk over a large matrix is cache-hostile). */
static void mirror_upper(double *a, size_t n)
{
    const size_t T = 64;
#pragma omp parallel for schedule(dynamic, 1) if (n > 512)
    for (size_t ib = 0; ib < n; ib += T)
        for (size_t jb = 0; jb <= ib; jb += T) {
            const size_t ie = ib + T < n ? ib + T : n, je = jb + T < n ? jb + T : n;
            for (size_t i = ib; i < ie; i++)
                for (size_t j = jb; j < je && j < i; j++) a[i * n + j] = a[j * n + i];
        }
}

/* ------------------------------------------------------------ checks */

/* Sizes first (before any data is read, so a refusal never touches x),
 * finiteness (naming X1/X2) after. */
static ntk_status check_sets(const double *x1, size_t n1, const double *x2, size_t n2, ntk_error *err)
{
    if (!x1 || n1 == 0) return ntk_fail(err, NTK_E_SHAPE, "X1 has no rows");
    if (x2 && n2 == 0) return ntk_fail(err, NTK_E_SHAPE, "X2 has no rows");
    return NTK_OK;
}

static ntk_status check_finite_sets(const double *x1, size_t n1, const double *x2, size_t n2, size_t d,
                                    ntk_error *err)
{
    ntk_status s = ntk_check_finite(x1, n1, d, "X1", err);
    if (!s && x2) s = ntk_check_finite(x2, n2, d, "X2", err);
    return s;
}

/* The output's first non-finite entry (an overflow in the network). */
static ntk_status check_output(const double *a, size_t rows, size_t cols, const char *what, ntk_error *err)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            if (!isfinite(a[i * cols + j]))
                return ntk_fail(err, NTK_E_NUMERIC,
                                "%s(%zu,%zu) = %g: the network overflowed (reduce w_std/b_std or the depth)", what,
                                i + 1, j + 1, a[i * cols + j]);
    return NTK_OK;
}

/* An output of (n1·r) × (n2·r) doubles: representable, and within BLAS's int. */
static ntk_status check_out_size(const char *what, size_t n1, size_t n2, size_t r, size_t *entries, ntk_error *err)
{
    size_t R1, R2, bytes;
    if (ntk_mul_size(n1, r, 1, &R1) || ntk_mul_size(n2, r, 1, &R2) || ntk_mul_size(R1, R2, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_NOMEM, "the %s of %zu x %zu points (%zu rows per point) is too large", what, n1,
                        n2, r);
    if (R1 > INT_MAX / 2 || R2 > INT_MAX / 2)
        return ntk_fail(err, NTK_E_NOMEM, "the %s would be %zu x %zu (%zu bytes, %.1f GiB): over the BLAS index range",
                        what, R1, R2, bytes, gib(bytes));
    *entries = R1 * R2;
    return NTK_OK;
}

/* ------------------------------------------------------------ passes over a point set */

/* What one pass keeps of a point set (see the file header). */
typedef struct {
    size_t n;         /* points                                */
    double *arena;    /* all storage                           */
    const double **H; /* H[l]: n × n_in(l); H[0] is X itself     */
    double **Hw;      /* the owned H[l] (Hw[0] NULL when = X)  */
    double **D;       /* D[l]: (n·k) × n_l                     */
    double *f;        /* n × k outputs, or NULL                */
} pass_store;

static void store_free(pass_store *S)
{
    free(S->arena);
    free(S->H);
    free(S->Hw);
    free(S->D);
    memset(S, 0, sizeof *S);
}

static ntk_status store_alloc(const ntk_net *net, size_t n, int want_delta, int want_f, pass_store *S, ntk_error *err)
{
    memset(S, 0, sizeof *S);
    S->n = n;
    const size_t k = net->k;
    size_t total = 0, t;
    int bad = 0;
    for (size_t l = 0; want_delta && l < net->n_dense && !bad; l++) {
        const ntk_dense_info *Dl = &net->dense[l];
        size_t per, hin = l == 0 && Dl->layer == 0 ? 0 : Dl->n_in; /* the first dense layer's input is X */
        if (ntk_mul_size(k, Dl->n_out, 1, &per) || per + hin < per || ntk_mul_size(n, per + hin, 1, &t) ||
            total + t < total)
            bad = 1;
        else
            total += t;
    }
    if (!bad && want_f) {
        if (ntk_mul_size(n, k, 1, &t) || total + t < total) bad = 1;
        else total += t;
    }
    if (bad || ntk_mul_size(total, 1, sizeof(double), &t))
        return ntk_fail(err, NTK_E_NOMEM, "the backpropagated δ's of %zu points are too large", n);
    S->arena = malloc(total ? total * sizeof(double) : 1);
    S->H = calloc(net->n_dense ? net->n_dense : 1, sizeof *S->H);
    S->Hw = calloc(net->n_dense ? net->n_dense : 1, sizeof *S->Hw);
    S->D = calloc(net->n_dense ? net->n_dense : 1, sizeof *S->D);
    if (!S->arena || !S->H || !S->Hw || !S->D) {
        store_free(S);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for the δ's of %zu points (%zu bytes, %.2f GiB)", n,
                        total * sizeof(double), gib(total * sizeof(double)));
    }
    double *p = S->arena;
    for (size_t l = 0; want_delta && l < net->n_dense; l++) {
        const ntk_dense_info *Dl = &net->dense[l];
        S->D[l] = p;
        p += n * k * Dl->n_out;
        if (l == 0 && Dl->layer == 0) continue; /* H[0] = X, set by collect */
        S->H[l] = S->Hw[l] = p;
        p += n * Dl->n_in;
    }
    if (want_f) S->f = p;
    return NTK_OK;
}

/* Row chunks through the network: the forward pass of rows r0..r0+m and,
 * per output a, the backward pass with G = e_a on every row, whose δ's and
 * layer inputs go to a hook. */
typedef struct {
    const ntk_net *net;
    ntk_net_work *w;
    size_t chunk;        /* rows of w and G */
    double *G;
    double **dst;        /* per dense layer: where a chunk's δ's go     */
    double **saved;      /* per dense layer: w's own buffer, while the
                            layer before writes into the store          */
    double *seed, *drow; /* scratch of net_backward_seeds               */
} chunk_runner;

static void runner_free(chunk_runner *C)
{
    ntk_net_work_free(C->w);
    free(C->G);
    free(C->dst);
    free(C->saved);
    free(C->seed);
    free(C->drow);
    memset(C, 0, sizeof *C);
}

static ntk_status runner_create(const ntk_net *net, size_t n_max, chunk_runner *C, ntk_error *err)
{
    memset(C, 0, sizeof *C);
    C->net = net;
    C->chunk = n_max < EMP_CHUNK ? n_max : EMP_CHUNK;
    ntk_status s = ntk_net_work_create(net, C->chunk, &C->w, err);
    if (s) return s;
    C->dst = calloc(net->n_dense ? net->n_dense : 1, sizeof *C->dst);
    C->saved = calloc(net->n_dense ? net->n_dense : 1, sizeof *C->saved);
    C->seed = malloc(C->chunk * net->k * net->k * sizeof *C->seed);
    C->drow = malloc(net->max_width * sizeof *C->drow);
    if (!(C->G = malloc(C->chunk * net->k * sizeof *C->G)) || !C->dst || !C->saved || !C->seed || !C->drow) {
        runner_free(C);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for a batch of %zu rows", C->chunk);
    }
    return NTK_OK;
}

static ntk_status runner_backward(chunk_runner *C, size_t m, size_t a, net_dense_hook hook, void *ctx, ntk_error *err)
{
    const size_t k = C->net->k;
    memset(C->G, 0, m * k * sizeof *C->G);
    for (size_t i = 0; i < m; i++) C->G[i * k + a] = 1.0;
    return net_backward_hook(C->net, C->w, C->G, NULL, hook, ctx, err);
}

/* ------------------------------------------------------------ the structured Gram */

/* Everything one evaluation needs, allocated once (the Monte Carlo loop
 * reuses it for every network). */
typedef struct {
    const ntk_net *net;
    size_t n1, n2, r, bpts;    /* points, rows per point, points per block */
    size_t n_tmp;              /* per-thread temporaries (Td, Th)          */
    int sym, want_delta;
    pass_store S1, S2;
    chunk_runner *C;           /* n_tmp runners: one per thread            */
    double *Td, *Th;           /* block temporaries, n_tmp of each         */
    ntk_par_progress *pp;      /* progress in flops, or NULL               */
} emp_plan;

static void plan_free(emp_plan *P)
{
    store_free(&P->S1);
    store_free(&P->S2);
    for (size_t t = 0; P->C && t < P->n_tmp; t++) runner_free(&P->C[t]);
    free(P->C);
    free(P->Td);
    free(P->Th);
    memset(P, 0, sizeof *P);
}

/* want_delta: the NTK (δ's, block temporaries); want_f: the outputs.
 * Sizes have been checked (check_out_size) by the caller. */
static ntk_status plan_create(const ntk_net *net, size_t n1, size_t n2, int sym, int full, int want_delta, int want_f,
                              emp_plan *P, ntk_error *err)
{
    memset(P, 0, sizeof *P);
    P->net = net;
    P->n1 = n1;
    P->n2 = sym ? n1 : n2;
    P->sym = sym;
    P->want_delta = want_delta;
    P->r = full ? net->k : 1;
    const size_t k = net->k;
    for (size_t l = 0; l < net->n_dense; l++)
        if (net->dense[l].n_out > INT_MAX / k)
            return ntk_fail(err, NTK_E_NOMEM, "layer %zu: k·width = %zu·%zu is over the BLAS index range",
                            net->dense[l].layer + 1, k, net->dense[l].n_out);
    /* points per work item: blocks of about EMP_BLOCK_ROWS output rows;
     * depends on the sizes only */
    P->bpts = EMP_BLOCK_ROWS / P->r ? EMP_BLOCK_ROWS / P->r : 1;
#ifdef _OPENMP
    P->n_tmp = (size_t)omp_get_max_threads();
#else
    P->n_tmp = 1;
#endif
    ntk_status s;
    if ((s = store_alloc(net, n1, want_delta, want_f, &P->S1, err))) goto fail;
    if (!sym && (s = store_alloc(net, n2, want_delta, want_f, &P->S2, err))) goto fail;
    if (!(P->C = calloc(P->n_tmp, sizeof *P->C))) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t t = 0; t < P->n_tmp; t++)
        if ((s = runner_create(net, n1 > P->n2 ? n1 : P->n2, &P->C[t], err))) goto fail;
    if (want_delta) {
        size_t td = P->n_tmp * P->bpts * P->r * P->bpts * P->r, th = P->n_tmp * P->bpts * P->bpts;
        P->Td = malloc(td * sizeof *P->Td);
        P->Th = malloc(th * sizeof *P->Th);
        if (!P->Td || !P->Th) {
            s = ntk_fail(err, NTK_E_NOMEM, "out of memory for the empirical NTK's block products (%zu bytes)",
                         (td + th) * sizeof(double));
            goto fail;
        }
    }
    return NTK_OK;
fail:
    plan_free(P);
    return s;
}

/* ------------------------------------------------------------ work estimates (progress) */

/* Flops of the passes over m rows: the forward pass, and with δ's the
 * backward pass on m·k rows. */
static double pass_flops(const emp_plan *P, size_t m)
{
    const ntk_net *net = P->net;
    double w = 0;
    for (size_t l = 0; l < net->n_dense; l++) w += (double)net->dense[l].n_in * (double)net->dense[l].n_out;
    return 2.0 * (double)m * (1.0 + (P->want_delta ? (double)net->k : 0.0)) * w;
}

/* Flops of one Gram block of bm × bn points (a diagonal block: its upper
 * triangle): per layer the D and H products and the elementwise update. */
static double block_flops(const emp_plan *P, size_t bm, size_t bn, int diag)
{
    const ntk_net *net = P->net;
    const double r = (double)P->r, k = (double)net->k;
    double pairs = diag ? (double)bm * ((double)bm + 1) / 2 : (double)bm * (double)bn, per = 0;
    for (size_t l = 0; l < net->n_dense; l++)
        per += 2 * r * k * (double)net->dense[l].n_out + 2 * (double)net->dense[l].n_in + r * r;
    return pairs * per;
}

/* All the work of one evaluation from a plan: passes over X1 (and X2),
 * the Gram blocks when the NTK is wanted, the NNGP product when asked. */
static double eval_flops(const emp_plan *P, int want_nngp)
{
    const size_t chunk = P->C[0].chunk;
    double t = 0;
    for (int set = 0; set < (P->sym ? 1 : 2); set++) {
        const size_t n = set ? P->n2 : P->n1;
        for (size_t r0 = 0; r0 < n; r0 += chunk) t += pass_flops(P, n - r0 < chunk ? n - r0 : chunk);
    }
    if (P->want_delta) {
        const size_t B = P->bpts, nb1 = (P->n1 + B - 1) / B, nb2 = (P->n2 + B - 1) / B;
        for (size_t bi = 0; bi < nb1; bi++)
            for (size_t bj = P->sym ? bi : 0; bj < nb2; bj++) {
                size_t bm = P->n1 - bi * B < B ? P->n1 - bi * B : B, bn = P->n2 - bj * B < B ? P->n2 - bj * B : B;
                t += block_flops(P, bm, bn, P->sym && bi == bj);
            }
    }
    if (want_nngp) t += 2.0 * (double)P->n1 * (double)P->n2 * (double)P->net->k;
    return t;
}

/* One pass over x (S->n rows): outputs into S->f if kept, δ's and layer
 * inputs if want_delta. Chunks of rows run in parallel, each on one thread
 * with its own runner (its products unsplit, single-threaded: core/blas.c),
 * so a chunk's values do not depend on the thread count. The δ's of all k
 * outputs come from one backward pass on chunk·k rows
 * (net_backward_seeds), written straight into D. */
static ntk_status collect(emp_plan *P, const double *x, pass_store *S, ntk_error *err)
{
    const ntk_net *net = P->net;
    if (P->want_delta && net->n_dense && !S->Hw[0]) S->H[0] = x;
    const size_t k = net->k, chunk = P->C[0].chunk, nc = (S->n + chunk - 1) / chunk;
    size_t bad_chunk = SIZE_MAX; /* the first chunk that failed, and its error */
    ntk_error first;
    ntk_status first_s = NTK_OK;
#pragma omp parallel num_threads((int)P->n_tmp)
    {
#ifdef _OPENMP
        omp_set_num_threads(1);
        chunk_runner *C = &P->C[omp_get_thread_num()];
#else
        chunk_runner *C = &P->C[0];
#endif
#pragma omp for schedule(dynamic, 1)
        for (size_t c = 0; c < nc; c++) {
            if (ntk_pp_stopped(P->pp)) continue; /* canceled: skip the rest */
            const size_t r0 = c * chunk, m = S->n - r0 < chunk ? S->n - r0 : chunk;
            /* the inputs of dense layers 1.. (outputs of the layer before
             * each) go straight into the store's rows of this chunk */
            for (size_t l = 1; P->want_delta && l < net->n_dense; l++) {
                const size_t li = net->dense[l].layer - 1;
                C->saved[l] = C->w->out[li];
                C->w->out[li] = S->Hw[l] + r0 * net->dense[l].n_in;
            }
            ntk_error e;
            ntk_status st = ntk_net_forward(net, C->w, x + r0 * net->d_in, m, S->f ? S->f + r0 * k : NULL, &e);
            if (!st && P->want_delta) {
                for (size_t l = 0; l < net->n_dense; l++) C->dst[l] = S->D[l] + r0 * k * net->dense[l].n_out;
                net_backward_seeds(net, C->w, C->dst, C->seed, C->drow);
            }
            for (size_t l = 1; P->want_delta && l < net->n_dense; l++) C->w->out[net->dense[l].layer - 1] = C->saved[l];
            if (st) {
#pragma omp critical(ntk_emp_collect)
                if (c < bad_chunk) {
                    bad_chunk = c;
                    first = e;
                    first_s = st;
                }
            }
            ntk_pp_add(P->pp, pass_flops(P, m));
        }
    }
    if (first_s && err) *err = first;
    if (!first_s && ntk_pp_stopped(P->pp)) return ntk_canceled(err, P->pp->stage);
    return first_s;
}

static ntk_status plan_collect(emp_plan *P, const double *x1, const double *x2, ntk_error *err)
{
    ntk_status s = collect(P, x1, &P->S1, err);
    if (!s && !P->sym) s = collect(P, x2, &P->S2, err);
    return s;
}

/* out ((n1·r) × (n2·r)) = Σ_l (D1·D2ᵀ) ⊙ (w²·H1·H2ᵀ + β²) from the stores;
 * traced results divided by k; symmetric results mirrored.
 * Work items are blocks of bpts × bpts points (the upper triangle's for
 * X2 = X1): an item forms each layer's two Gram blocks by single-threaded
 * BLAS calls (dsyrk on a diagonal block) into its thread's temporaries,
 * which stay in cache, and accumulates them into its output block in layer
 * order; then divides and mirrors the block. The blocks are a rule of the
 * sizes, so no value depends on the thread count. */
static void structured_ntk(emp_plan *P, double *out)
{
    const ntk_net *net = P->net;
    const size_t k = net->k, r = P->r, n1 = P->n1, n2 = P->n2, R2 = n2 * r, B = P->bpts;
    const pass_store *S1 = &P->S1, *S2 = P->sym ? &P->S1 : &P->S2;
    const int sym = P->sym;
    const size_t nb1 = (n1 + B - 1) / B, nb2 = (n2 + B - 1) / B;
    const size_t nitems = sym ? nb1 * (nb1 + 1) / 2 : nb1 * nb2;
    const size_t ldt = B * r;
    const int traced_k = r == 1 && k > 1; /* traced over k outputs: divide by k */
#pragma omp parallel num_threads((int)P->n_tmp)
    {
#ifdef _OPENMP
        omp_set_num_threads(1); /* this thread's BLAS calls run single-threaded */
        const size_t tid = (size_t)omp_get_thread_num();
#else
        const size_t tid = 0;
#endif
        double *Td = P->Td + tid * ldt * ldt, *Th = P->Th + tid * B * B;
#pragma omp for schedule(dynamic, 1)
        for (size_t it = 0; it < nitems; it++) {
            if (ntk_pp_stopped(P->pp)) continue; /* canceled: skip the rest */
            size_t bi, bj;
            if (sym) { /* it → (bi, bj), bi ≤ bj, row by row */
                size_t rem = it;
                bi = 0;
                while (rem >= nb1 - bi) {
                    rem -= nb1 - bi;
                    bi++;
                }
                bj = bi + rem;
            } else {
                bi = it / nb2;
                bj = it % nb2;
            }
            const size_t i0 = bi * B, j0 = bj * B;
            const size_t bm = (n1 - i0 < B ? n1 - i0 : B), bn = (n2 - j0 < B ? n2 - j0 : B);
            const size_t rows = bm * r, cols = bn * r;
            const int diag = sym && bi == bj;
            double *ob = out + i0 * r * R2 + j0 * r;
            for (size_t l = 0; l < net->n_dense; l++) {
                const ntk_dense_info *Dl = &net->dense[l];
                const size_t c = k * Dl->n_out / r, nin = Dl->n_in;
                const double w2 = Dl->w_mult * Dl->w_mult, beta2 = Dl->has_bias ? Dl->b_mult * Dl->b_mult : 0.0;
                /* rows i0·r.. of D as an (n·r) × c matrix start at i0·r·c = i0·k·n_l */
                const double *A = S1->D[l] + i0 * k * Dl->n_out, *HA = S1->H[l] + i0 * nin;
                const double *Bd = S2->D[l] + j0 * k * Dl->n_out, *HB = S2->H[l] + j0 * nin;
                if (diag) {
                    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)rows, (int)c, 1.0, A, (int)c, 0.0, Td,
                                (int)ldt);
                    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)bm, (int)nin, w2, HA, (int)nin, 0.0, Th,
                                (int)B);
                } else {
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)c, 1.0, A, (int)c,
                                Bd, (int)c, 0.0, Td, (int)ldt);
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bm, (int)bn, (int)nin, w2, HA, (int)nin,
                                HB, (int)nin, 0.0, Th, (int)B);
                }
                /* ob[(i,a),(j,b)] (+)= Td[(i,a),(j,b)]·(Th[i,j] + β²); on a diagonal
                 * block only (j,b) ≥ (i,a) */
                const int first = l == 0;
                for (size_t p = 0; p < rows; p++) {
                    const double *td = Td + p * ldt, *th = Th + (p / r) * B;
                    double *o = ob + p * R2;
                    for (size_t q = diag ? p : 0; q < cols;) {
                        const size_t j = q / r, qe = (j + 1) * r;
                        const double t = th[j] + beta2;
                        if (first)
                            for (; q < qe; q++) o[q] = td[q] * t;
                        else
                            for (; q < qe; q++) o[q] += td[q] * t;
                    }
                }
            }
            if (traced_k)
                for (size_t p = 0; p < rows; p++)
                    for (size_t q = diag ? p : 0; q < cols; q++) ob[p * R2 + q] /= (double)k;
            if (sym) { /* mirror: out[(j,b),(i,a)] = out[(i,a),(j,b)] above the diagonal */
                double *mb = out + j0 * r * R2 + i0 * r; /* the transposed block */
                for (size_t p = 0; p < rows; p++)
                    for (size_t q = diag ? p + 1 : 0; q < cols; q++) mb[q * R2 + p] = ob[p * R2 + q];
            }
            ntk_pp_add(P->pp, block_flops(P, bm, bn, diag));
        }
    }
}

/* NNGP f1·f2ᵀ/k from the stores (X2 = X1: upper triangle, mirrored). */
static void nngp_from_f(const emp_plan *P, double *out)
{
    const size_t n1 = P->n1, n2 = P->n2, k = P->net->k;
    const double kk = (double)k;
    if (P->sym) {
        ntk_dsyrk_upper((int)n1, (int)k, 1.0, P->S1.f, (int)k, 0.0, out, (int)n1);
        for (size_t i = 0; i < n1; i++)
            for (size_t j = i; j < n1; j++) out[i * n1 + j] /= kk;
        mirror_upper(out, n1);
        return;
    }
    ntk_dgemm(CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)k, 1.0, P->S1.f, (int)k, P->S2.f, (int)k, 0.0, out,
              (int)n2);
    for (size_t e = 0; e < n1 * n2; e++) out[e] /= kk;
}

/* ------------------------------------------------------------ Jacobian */

size_t ntk_net_jacobian_bytes(const ntk_net *net, size_t n)
{
    size_t rows, bytes;
    if (!net || ntk_mul_size(n, net->k, 1, &rows) || ntk_mul_size(rows, net->n_params, sizeof(double), &bytes))
        return SIZE_MAX;
    return bytes;
}

typedef struct {
    const ntk_net *net;
    double *J;
    size_t r0, a;
} jac_ctx;

/* Rows (i,a) of J for the chunk: w·δ ⊗ h into W's place, β·δ into b's. */
static void jac_hook(void *vctx, size_t l, const double *delta, const double *h, size_t m)
{
    jac_ctx *c = vctx;
    const ntk_dense_info *Dl = &c->net->dense[l];
    const size_t k = c->net->k, P = c->net->n_params, no = Dl->n_out, ni = Dl->n_in;
#pragma omp parallel for schedule(static) if (m * no * ni > 65536)
    for (size_t i = 0; i < m; i++) {
        double *row = c->J + ((c->r0 + i) * k + c->a) * P;
        const double *dl = delta + i * no, *hi = h + i * ni;
        for (size_t o = 0; o < no; o++) {
            const double t = Dl->w_mult * dl[o];
            double *Wr = row + Dl->w_offset + o * ni;
            for (size_t j = 0; j < ni; j++) Wr[j] = t * hi[j];
        }
        if (Dl->has_bias)
            for (size_t o = 0; o < no; o++) row[Dl->b_offset + o] = Dl->b_mult * dl[o];
    }
}

/* J ((n·k) × P) by chunks: one forward pass, k backward passes. Progress
 * (prog may be NULL): stage "Jacobian", rows of J done (n·k in all). */
static ntk_status jacobian_rows(const ntk_net *net, const double *x, size_t n, double *J, const ntk_progress *prog,
                                ntk_error *err)
{
    const double rows = (double)n * (double)net->k;
    if (ntk_progress_report(prog, "Jacobian", 0, rows)) return ntk_canceled(err, "Jacobian");
    chunk_runner C;
    ntk_status s = runner_create(net, n, &C, err);
    if (s) return s;
    jac_ctx ctx = {net, J, 0, 0};
    for (size_t r0 = 0; r0 < n && !s; r0 += C.chunk) {
        const size_t m = n - r0 < C.chunk ? n - r0 : C.chunk;
        if ((s = ntk_net_forward(net, C.w, x + r0 * net->d_in, m, NULL, err))) break;
        ctx.r0 = r0;
        for (size_t a = 0; a < net->k && !s; a++) {
            ctx.a = a;
            s = runner_backward(&C, m, a, jac_hook, &ctx, err);
            if (!s && ntk_progress_report(prog, "Jacobian", (double)r0 * (double)net->k + (double)((a + 1) * m), rows))
                s = ntk_canceled(err, "Jacobian");
        }
    }
    runner_free(&C);
    return s;
}

ntk_status ntk_net_jacobian(const ntk_net *net, const double *x, size_t n, double *J, size_t max_bytes,
                            ntk_error *err)
{
    return ntk_net_jacobian_ex(net, NULL, x, n, J, max_bytes, err);
}

ntk_status ntk_net_jacobian_ex(const ntk_net *net, const ntk_empirical_opts *opts, const double *x, size_t n,
                               double *J, size_t max_bytes, ntk_error *err)
{
    ntk_error_clear(err);
    if (!net) return ntk_fail(err, NTK_E_INVAL, "no network");
    if (!x || n == 0) return ntk_fail(err, NTK_E_SHAPE, "X has no rows");
    if (!J) return ntk_fail(err, NTK_E_INVAL, "no output for the Jacobian");
    size_t bytes = ntk_net_jacobian_bytes(net, n);
    if (bytes == SIZE_MAX)
        return ntk_fail(err, NTK_E_NOMEM, "the Jacobian of %zu points (%zu outputs x %zu parameters each) is too large",
                        n, net->k, net->n_params);
    if (max_bytes && bytes > max_bytes)
        return ntk_fail(err, NTK_E_NOMEM,
                        "the Jacobian of %zu points is %zu x %zu doubles = %zu bytes (%.2f GiB), over the limit of "
                        "%zu bytes (%.2f GiB)",
                        n, n * net->k, net->n_params, bytes, gib(bytes), max_bytes, gib(max_bytes));
    ntk_status s = ntk_check_finite(x, n, net->d_in, "X", err);
    if (s) return s;
    if ((s = jacobian_rows(net, x, n, J, opts ? &opts->progress : NULL, err))) return s;
    return check_output(J, n * net->k, net->n_params, "J", err);
}

/* ------------------------------------------------------------ empirical kernels */

ntk_empirical_opts ntk_empirical_opts_default(void)
{
    ntk_empirical_opts o;
    memset(&o, 0, sizeof o);
    o.param = NTK_PARAM_NTK;
    o.samples = 1;
    return o;
}

/* The plan's allocations, counted as store_alloc, runner_create and
 * plan_create make them, plus the Monte Carlo sums. */
size_t ntk_empirical_bytes(const ntk_net *net, const ntk_empirical_opts *opts, size_t n1, size_t n2, int want_ntk,
                           int want_nngp)
{
    if (!net) return 0;
    const ntk_empirical_opts o = opts ? *opts : ntk_empirical_opts_default();
    const double k = (double)net->k, r = o.full ? k : 1;
    const int sym = n2 == 0;
    const double N1 = (double)n1, N2 = sym ? N1 : (double)n2;
    double store = 0; /* per point */
    for (size_t l = 0; want_ntk && l < net->n_dense; l++) {
        const ntk_dense_info *Dl = &net->dense[l];
        store += k * (double)Dl->n_out + (l == 0 && Dl->layer == 0 ? 0 : (double)Dl->n_in);
    }
    if (want_nngp) store += k;
    double a = store * (N1 + (sym ? 0 : N2));
    double nt = 1, chunk = (N1 > N2 ? N1 : N2) < EMP_CHUNK ? (N1 > N2 ? N1 : N2) : EMP_CHUNK, outs = 0;
#ifdef _OPENMP
    nt = (double)omp_get_max_threads();
#endif
    for (size_t i = 0; i < net->n_layers; i++) outs += (double)net->layers[i].n_out;
    const double mw = (double)net->max_width;
    a += nt * (chunk * outs + 2 * chunk * mw + chunk * k + chunk * k * k + mw);
    if (want_ntk) {
        const double B = EMP_BLOCK_ROWS / r >= 1 ? (double)(size_t)(EMP_BLOCK_ROWS / r) : 1;
        a += nt * (B * r * B * r + B * B);
    }
    if (o.samples > 1) a += (want_nngp ? N1 * N2 : 0) + (want_ntk ? N1 * r * N2 * r : 0);
    double b = 8 * a;
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

/* Starts the progress of an evaluation from plan P (`evals` of them) and
 * hooks it into the plan; non-zero when the first report canceled. */
static int plan_progress(emp_plan *P, ntk_par_progress *pp, const ntk_empirical_opts *o, const char *stage,
                         double evals, int want_nngp)
{
    P->pp = pp;
    return ntk_pp_start(pp, &o->progress, stage, evals * eval_flops(P, want_nngp));
}

ntk_status ntk_empirical_ntk(const ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2, int full,
                             double *out, ntk_error *err)
{
    ntk_empirical_opts o = ntk_empirical_opts_default();
    o.full = full;
    return ntk_empirical_ntk_ex(net, &o, x1, n1, x2, n2, out, err);
}

ntk_status ntk_empirical_ntk_ex(const ntk_net *net, const ntk_empirical_opts *opts, const double *x1, size_t n1,
                                const double *x2, size_t n2, double *out, ntk_error *err)
{
    ntk_error_clear(err);
    const ntk_empirical_opts o = opts ? *opts : ntk_empirical_opts_default();
    const int full = o.full;
    if (!net) return ntk_fail(err, NTK_E_INVAL, "no network");
    if (!out) return ntk_fail(err, NTK_E_INVAL, "no output for the empirical NTK");
    ntk_status s = check_sets(x1, n1, x2, n2, err);
    if (s) return s;
    const int sym = x2 == NULL;
    if (sym) n2 = n1;
    size_t entries, r = full ? net->k : 1;
    if ((s = check_out_size(full ? "full empirical NTK" : "empirical NTK", n1, n2, r, &entries, err))) return s;
    if ((s = check_finite_sets(x1, n1, x2, n2, net->d_in, err))) return s;
    emp_plan P;
    if ((s = plan_create(net, n1, n2, sym, full, 1, 0, &P, err))) return s;
    ntk_par_progress pp;
    if (plan_progress(&P, &pp, &o, "empirical NTK", 1, 0)) s = ntk_canceled(err, pp.stage);
    else if (!(s = plan_collect(&P, x1, x2, err))) {
        structured_ntk(&P, out);
        if (ntk_pp_stopped(&pp)) s = ntk_canceled(err, pp.stage);
        else s = check_output(out, n1 * r, n2 * r, "NTK", err);
    }
    if (!s && ntk_pp_finish(&pp)) s = ntk_canceled(err, pp.stage);
    plan_free(&P);
    return s;
}

ntk_status ntk_empirical_ntk_ref(const ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2,
                                 int full, double *out, ntk_error *err)
{
    ntk_error_clear(err);
    if (!net) return ntk_fail(err, NTK_E_INVAL, "no network");
    if (!out) return ntk_fail(err, NTK_E_INVAL, "no output for the empirical NTK");
    ntk_status s = check_sets(x1, n1, x2, n2, err);
    if (s) return s;
    const int sym = x2 == NULL;
    if (sym) n2 = n1;
    const size_t k = net->k, P = net->n_params;
    size_t entries, r = full ? k : 1;
    if ((s = check_out_size(full ? "full empirical NTK" : "empirical NTK", n1, n2, r, &entries, err))) return s;
    size_t b1 = ntk_net_jacobian_bytes(net, n1), b2 = sym ? 0 : ntk_net_jacobian_bytes(net, n2);
    if (b1 == SIZE_MAX || b2 == SIZE_MAX || b1 + b2 < b1 || P > INT_MAX / k)
        return ntk_fail(err, NTK_E_NOMEM,
                        "the reference empirical NTK's Jacobians (%zu + %zu points x %zu outputs x %zu parameters) "
                        "are too large",
                        n1, sym ? 0 : n2, k, P);
    if ((s = check_finite_sets(x1, n1, x2, n2, net->d_in, err))) return s;
    double *J1 = malloc(b1), *J2 = sym ? J1 : malloc(b2);
    if (!J1 || !J2) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for the Jacobians (%zu bytes, %.2f GiB)", b1 + b2, gib(b1 + b2));
        goto done;
    }
    if ((s = jacobian_rows(net, x1, n1, J1, NULL, err))) goto done;
    if (!sym && (s = jacobian_rows(net, x2, n2, J2, NULL, err))) goto done;
    if (full) {
        /* Θ[(i,a),(j,b)] = J1 row (i,a) · J2 row (j,b) */
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)(n1 * k), (int)(n2 * k), (int)P, 1.0, J1, (int)P, J2, (int)P, 0.0,
                  out, (int)(n2 * k));
    } else {
        /* J as n × (k·P): row i is ϕ_0(x_i) … ϕ_{k−1}(x_i), so the product is Σ_a ϕ_a(x_i)·ϕ_a(x'_j) */
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)(k * P), 1.0, J1, (int)(k * P), J2, (int)(k * P),
                  0.0, out, (int)n2);
        for (size_t e = 0; e < n1 * n2; e++) out[e] /= (double)k;
    }
    s = check_output(out, n1 * r, n2 * r, "NTK", err);
done:
    if (J2 != J1) free(J2);
    free(J1);
    return s;
}

ntk_status ntk_empirical_nngp(const ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2,
                              double *out, ntk_error *err)
{
    return ntk_empirical_nngp_ex(net, NULL, x1, n1, x2, n2, out, err);
}

ntk_status ntk_empirical_nngp_ex(const ntk_net *net, const ntk_empirical_opts *opts, const double *x1, size_t n1,
                                 const double *x2, size_t n2, double *out, ntk_error *err)
{
    ntk_error_clear(err);
    const ntk_empirical_opts o = opts ? *opts : ntk_empirical_opts_default();
    if (!net) return ntk_fail(err, NTK_E_INVAL, "no network");
    if (!out) return ntk_fail(err, NTK_E_INVAL, "no output for the empirical NNGP");
    ntk_status s = check_sets(x1, n1, x2, n2, err);
    if (s) return s;
    const int sym = x2 == NULL;
    if (sym) n2 = n1;
    size_t entries;
    if ((s = check_out_size("empirical NNGP", n1, n2, 1, &entries, err))) return s;
    if ((s = check_finite_sets(x1, n1, x2, n2, net->d_in, err))) return s;
    emp_plan P;
    if ((s = plan_create(net, n1, n2, sym, 0, 0, 1, &P, err))) return s;
    ntk_par_progress pp;
    if (plan_progress(&P, &pp, &o, "empirical NNGP", 1, 1)) s = ntk_canceled(err, pp.stage);
    else if (!(s = plan_collect(&P, x1, x2, err))) {
        nngp_from_f(&P, out);
        s = check_output(out, n1, n2, "NNGP", err);
    }
    if (!s && ntk_pp_finish(&pp)) s = ntk_canceled(err, pp.stage);
    plan_free(&P);
    return s;
}

ntk_status ntk_mc_kernels(const ntk_arch *arch, ntk_param param, size_t d, uint64_t seed, size_t samples,
                          const double *x1, size_t n1, const double *x2, size_t n2, int full, double *nngp,
                          double *ntk, ntk_error *err)
{
    ntk_empirical_opts o = ntk_empirical_opts_default();
    o.param = param;
    o.seed = seed;
    o.samples = samples;
    o.full = full;
    return ntk_mc_kernels_ex(arch, d, &o, x1, n1, x2, n2, nngp, ntk, err);
}

ntk_status ntk_mc_kernels_ex(const ntk_arch *arch, size_t d, const ntk_empirical_opts *opts, const double *x1,
                             size_t n1, const double *x2, size_t n2, double *nngp, double *ntk, ntk_error *err)
{
    ntk_error_clear(err);
    const ntk_empirical_opts o = opts ? *opts : ntk_empirical_opts_default();
    const ntk_param param = o.param;
    const uint64_t seed = o.seed;
    const size_t samples = o.samples;
    const int full = o.full;
    if (!arch) return ntk_fail(err, NTK_E_INVAL, "no architecture");
    if (samples == 0) return ntk_fail(err, NTK_E_INVAL, "the number of Monte Carlo samples must be at least 1");
    if (!nngp && !ntk) return ntk_fail(err, NTK_E_INVAL, "neither NNGP nor NTK requested");
    if (d == 0) return ntk_fail(err, NTK_E_SHAPE, "inputs have no columns");
    ntk_status s = check_sets(x1, n1, x2, n2, err);
    if (s) return s;
    const int sym = x2 == NULL;
    if (sym) n2 = n1;
    ntk_net *net = NULL;
    if ((s = ntk_net_create(arch, d, param, &net, err))) return s;
    const size_t k = net->k, r = full ? k : 1;
    size_t e_nngp = 0, e_ntk = 0;
    emp_plan P = {0};
    double *tn = NULL, *tt = NULL;
    if ((s = check_out_size("empirical NNGP", n1, n2, 1, &e_nngp, err))) goto done;
    if (ntk && (s = check_out_size(full ? "full empirical NTK" : "empirical NTK", n1, n2, r, &e_ntk, err))) goto done;
    if ((s = check_finite_sets(x1, n1, x2, n2, d, err))) goto done;
    /* the NTK's pass keeps the outputs too: the NNGP comes for free */
    if ((s = plan_create(net, n1, n2, sym, full, ntk != NULL, nngp != NULL, &P, err))) goto done;
    if ((nngp && samples > 1 && !(tn = malloc(e_nngp * sizeof *tn))) ||
        (ntk && samples > 1 && !(tt = malloc(e_ntk * sizeof *tt)))) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for the Monte Carlo sums");
        goto done;
    }
    ntk_par_progress pp;
    if (plan_progress(&P, &pp, &o, "Monte Carlo kernels", (double)samples, nngp != NULL)) {
        s = ntk_canceled(err, pp.stage);
        goto done;
    }
    /* sample 0 straight into the outputs, the others into temporaries added
     * in order s = 1, 2, …: a fixed-order sum */
    for (size_t smp = 0; smp < samples; smp++) {
        double *on = smp ? tn : nngp, *ot = smp ? tt : ntk;
        if ((s = ntk_net_init(net, seed + smp, err))) goto done;
        if ((s = plan_collect(&P, x1, x2, err))) goto done;
        if (ntk) structured_ntk(&P, ot);
        if (ntk_pp_stopped(&pp)) {
            s = ntk_canceled(err, pp.stage);
            goto done;
        }
        if (nngp) nngp_from_f(&P, on);
        if (smp) {
            if (nngp)
                for (size_t e = 0; e < e_nngp; e++) nngp[e] += tn[e];
            if (ntk)
                for (size_t e = 0; e < e_ntk; e++) ntk[e] += tt[e];
        }
    }
    if (samples > 1) {
        const double S = (double)samples;
        if (nngp)
            for (size_t e = 0; e < e_nngp; e++) nngp[e] /= S;
        if (ntk)
            for (size_t e = 0; e < e_ntk; e++) ntk[e] /= S;
    }
    if (nngp && (s = check_output(nngp, n1, n2, "NNGP", err))) goto done;
    if (ntk && (s = check_output(ntk, n1 * r, n2 * r, "NTK", err))) goto done;
    if (ntk_pp_finish(&pp)) s = ntk_canceled(err, pp.stage);
done:
    plan_free(&P);
    free(tn);
    free(tt);
    ntk_net_free(net);
    return s;
}
