/*
 * kernel.c — infinite-width NNGP K and NTK Θ of a fully-connected network
 * (docs/math.md: Inputs, Dense 'ntk'/'standard', Activations;
 * docs/kernels.md: how and why).
 *
 * Two paths, same arguments and checks:
 *  - fast (kernel_fast, every activation closed form): the Gram product
 *    and the layer recursion fused per 256×1024 output block — one
 *    single-threaded BLAS call for the block, then the layers on it in
 *    vectorized tiles (tile.c, vmath.c) while it is in cache, then its
 *    mirror into the lower triangle. K⁰(x,x) comes from ddot for the
 *    per-point variances, the diagonal mode and every self-pair alike, so a
 *    point with itself has ρ = 1 exactly.
 *  - reference (ntk_kernel_ref; also any quadrature network): K⁰ by one
 *    blocked BLAS call (src/core/blas.c), then every entry runs the whole
 *    recursion in registers through act.c and libm; the per-point variances
 *    are the Gram diagonal's, computed by the same code as the entries.
 * Memory: the outputs, the inputs and the per-point variances; no N×N
 * temporaries. Entries are independent and the blocks are a rule of the
 * shapes, so the thread count cannot change any result.
 */
#include "core/internal.h"
#include "kernel/kernel_internal.h"

#include "core/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

ntk_kernel_opts ntk_kernel_opts_default(void)
{
    ntk_kernel_opts o;
    memset(&o, 0, sizeof o);
    o.param = NTK_PARAM_NTK;
    o.quad = NTK_QUAD_AUTO;
    return o;
}

static ntk_status plan_build(ntk_plan *P, const ntk_arch *arch, const ntk_kernel_opts *o, size_t d,
                             ntk_error *err)
{
    size_t n = ntk_arch_n_layers(arch);
    memset(P, 0, sizeof *P);
    P->steps = calloc(n ? n : 1, sizeof *P->steps);
    if (!P->steps) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    P->numeric = o->quad == NTK_QUAD_NUMERIC;
    int need_quad = P->numeric;
    double n_in = (double)d;
    for (size_t i = 0; i < n; i++) {
        const ntk_layer *L = ntk_arch_layer(arch, i);
        ntk_step *S = &P->steps[i];
        if (L->kind == NTK_LAYER_DENSE) {
            int param = L->param >= 0 ? L->param : (int)o->param;
            S->kind = param == NTK_PARAM_STANDARD ? NTK_STEP_DENSE_STD : NTK_STEP_DENSE_NTK;
            S->w2 = L->w_std * L->w_std;
            S->b2 = L->b_std * L->b_std;
            S->n_in = n_in;
            S->bias1 = L->has_bias ? 1.0 : 0.0;
            n_in = (double)L->width;
        } else {
            S->kind = NTK_STEP_ACT;
            S->act = L;
            S->slot = P->n_act++;
            if (!ntk_act_has_closed_form(L->act)) need_quad = 1;
        }
    }
    P->n_steps = n;
    P->fast = !need_quad;
    if (need_quad) {
        ntk_status s = ntk_quad_init(&P->quad, o->quad_degree, err);
        if (s) {
            free(P->steps);
            return s;
        }
    }
    return NTK_OK;
}

/* The whole recursion for one pair. qa/qb: the two points' variances at the
 * activation inputs (slot-major, stride sa/sb). With rec != NULL it is the
 * variance recursion of one point instead (q12 = q11 = q22 = K at every
 * activation, recorded into rec[slot*sa]): the same operations, so a
 * point paired with itself gets exactly its own variances. */
static inline void run_layers(const ntk_plan *P, double q12, const double *qa, size_t sa, const double *qb,
                              size_t sb, double *rec, double *Kout, double *Tout)
{
    double K = q12, Th = 0.0;
    for (size_t i = 0; i < P->n_steps; i++) {
        const ntk_step *S = &P->steps[i];
        switch (S->kind) {
        case NTK_STEP_DENSE_NTK:
            K = S->w2 * K + S->b2;
            Th = K + S->w2 * Th;
            break;
        case NTK_STEP_DENSE_STD:
            Th = S->n_in * K + S->w2 * Th + S->bias1;
            K = S->w2 * K + S->b2;
            break;
        default: {
            double T, Td, q1 = K, q2 = K;
            if (rec) rec[S->slot * sa] = K;
            else {
                q1 = qa[S->slot * sa];
                q2 = qb[S->slot * sb];
            }
            ntk_dual_eval(S->act, q1, K, q2, P->numeric, &P->quad, &T, &Td);
            K = T;
            Th *= Td;
        }
        }
    }
    *Kout = K;
    *Tout = Th;
}

static inline void run_entry(const ntk_plan *P, double q12, const double *qa, size_t sa, const double *qb, size_t sb,
                             double *Kout, double *Tout)
{
    run_layers(P, q12, qa, sa, qb, sb, NULL, Kout, Tout);
}

static void run_diag(const ntk_plan *P, double q, double *qs, size_t stride, double *Kout, double *Tout)
{
    run_layers(P, q, NULL, stride, NULL, 0, qs, Kout, Tout);
}

static int thread_count(const ntk_kernel_opts *o)
{
#ifdef _OPENMP
    return o->threads > 0 ? o->threads : omp_get_max_threads();
#else
    (void)o;
    return 1;
#endif
}

/* Finds the first non-finite value in the outputs (an overflow deep in the
 * recursion) and reports where. */
static ntk_status check_output(const double *a, size_t n1, size_t n2, const char *what, ntk_error *err)
{
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++)
            if (!isfinite(a[i * n2 + j]))
                return ntk_fail(err, NTK_E_NUMERIC,
                                "%s(%zu,%zu) = %g: the kernel overflowed (reduce w_std/b_std or the depth)",
                                what, i + 1, j + 1, a[i * n2 + j]);
    return NTK_OK;
}


/* ---- fast path: tiles (tile.c) -------------------------------------- */

/* Work-item block of the fused Gram + layers: GB_R rows × GB_C columns.
 * Large enough that each single-threaded BLAS call amortizes its packing
 * (A and B panels are packed once per call), small enough that the block
 * (K and Θ: 2 × 2 MiB) is still in cache for the layers and the mirror.
 * Square blocks measured best (bench_kernel, d = 784: 512 × 512 1.30–1.40×
 * the BLAS floor, 256 × 1024 1.38–1.43×, 128 × 2048 1.42–1.51×). */
#define GB_R 512
#define GB_C 512 /* ≥ GB_R: a strip's first block holds its diagonal square */
_Static_assert(GB_C >= GB_R, "GB_C < GB_R");

/* Stores a finished tile; adds (v − v) of every value to *bad (0 when
 * finite, NaN otherwise), which folds the finiteness check in. */
static void tile_store(const double *k, const double *th, size_t m, double *g, int kout_is_g, double *other,
                       double *bad)
{
    const double *first = kout_is_g ? k : th;
    double z = 0;
    for (size_t t = 0; t < m; t++) {
        g[t] = first[t];
        z += first[t] - first[t];
    }
    if (other)
        for (size_t t = 0; t < m; t++) {
            other[t] = th[t];
            z += th[t] - th[t];
        }
    *bad += z;
}

/* Per-point variances and their roots (slot-major, see ntk_tile_run) and, if wanted, the diagonal
 * K and Θ, for n points whose K⁰ is g[i], by diagonal-mode tiles. */
static void diag_tiles(const ntk_plan *P, size_t n, const double *g, double *q, double *kd, double *td)
{
    double k[NTK_TILE], th[NTK_TILE];
    for (size_t i0 = 0; i0 < n; i0 += NTK_TILE) {
        size_t m = n - i0 < NTK_TILE ? n - i0 : NTK_TILE;
        memcpy(k, g + i0, m * sizeof *k);
        ntk_tile_run(P, m, k, th, NULL, 0, NULL, 0, q ? q + i0 : NULL, n);
        if (kd) memcpy(kd + i0, k, m * sizeof *k);
        if (td) memcpy(td + i0, th, m * sizeof *th);
    }
}

/* a[j][i] = a[i][j] for i0 ≤ i < i1, j0 ≤ j < j1, i < j (a is n × n,
 * row-major), by 8 × 8 squares: each reads 8 rows' 64-byte pieces and
 * writes 8 rows' pieces, all in L1 (a column-at-a-time copy reads with a
 * stride of n doubles). */
static void mirror_block(double *a, size_t n, size_t i0, size_t i1, size_t j0, size_t j1)
{
    enum { S = 8 };
    for (size_t jb = j0; jb < j1; jb += S) {
        size_t je = jb + S < j1 ? jb + S : j1;
        for (size_t ib = i0; ib < i1 && ib < je; ib += S) {
            size_t ie = ib + S < i1 ? ib + S : i1;
            if (ie <= jb && ie - ib == S && je - jb == S) {
                for (size_t jj = 0; jj < S; jj++)
                    for (size_t ii = 0; ii < S; ii++) a[(jb + jj) * n + ib + ii] = a[(ib + ii) * n + jb + jj];
            } else {
                for (size_t j = jb; j < je; j++)
                    for (size_t i = ib; i < ie && i < j; i++) a[j * n + i] = a[i * n + j];
            }
        }
    }
}

static ntk_status kernel_fast(const ntk_plan *P, int nt, const ntk_kernel_opts *o, const double *x1, size_t n1,
                              const double *x2, size_t n2, size_t d, double *nngp, double *ntk, ntk_par_progress *pp,
                              ntk_error *err)
{
    ntk_status s = NTK_OK;
    size_t na = P->n_act ? P->n_act : 1;
    const int sym = x2 == NULL;
    if (sym) n2 = n1;
    double alpha = 1.0 / (double)d;
    /* per-point variances at each activation input, slot-major (so a row
     * tile reads its column points' values contiguously) */
    double *q1 = malloc(2 * n1 * na * sizeof *q1);
    double *q2 = sym ? q1 : malloc(2 * n2 * na * sizeof *q2);
    double *g0 = malloc((n1 + (sym ? 0 : n2)) * sizeof *g0);
    if (!q1 || !q2 || !g0) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto done;
    }

    if (o->diag) {
        for (size_t i = 0; i < n1; i++) g0[i] = ntk_ddot((int)d, x1 + i * d, x1 + i * d) * alpha;
        diag_tiles(P, n1, g0, NULL, nngp, ntk);
        if (nngp && (s = check_output(nngp, n1, 1, "NNGP", err))) goto done;
        if (ntk && (s = check_output(ntk, n1, 1, "NTK", err))) goto done;
        goto done;
    }

    /* K⁰ of each point with itself from ddot: the diagonal mode, the
     * per-point variances and (below) every self-pair or identical pair
     * start from the same value, so they run the same operations on the
     * same numbers and a point with itself has ρ = 1 exactly */
    for (size_t i = 0; i < n1; i++) g0[i] = ntk_ddot((int)d, x1 + i * d, x1 + i * d) * alpha;
    if (!sym)
        for (size_t j = 0; j < n2; j++) g0[n1 + j] = ntk_ddot((int)d, x2 + j * d, x2 + j * d) * alpha;
    diag_tiles(P, n1, g0, q1, NULL, NULL);
    if (!sym) diag_tiles(P, n2, g0 + n1, q2, NULL, NULL);

    /* Work items: blocks of GB_R rows × GB_C columns (the upper triangle's
     * when X2 is omitted, each row strip's first block starting at its
     * diagonal). An item computes its Gram block by one single-threaded
     * BLAS call (dsyrk for a diagonal square), runs the layers on it
     * tile by tile while it is in cache, and mirrors it into the lower
     * triangle. The blocks are a rule of the shapes alone, so the thread
     * count cannot change a value. */
    size_t nrs = (n1 + GB_R - 1) / GB_R, nitems = 0;
    for (size_t r = 0; r < nrs; r++) {
        size_t c0 = sym ? r * GB_R : 0;
        nitems += (n2 - c0 + GB_C - 1) / GB_C;
    }
    size_t *items = malloc(2 * nitems * sizeof *items);
    if (!items) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto done;
    }
    nitems = 0;
    for (size_t r = 0; r < nrs; r++)
        for (size_t c0 = sym ? r * GB_R : 0; c0 < n2; c0 += GB_C) {
            items[2 * nitems] = r * GB_R;
            items[2 * nitems + 1] = c0;
            nitems++;
        }

    double *G = nngp ? nngp : ntk;
    double *other = (nngp && ntk) ? ntk : NULL;
    const int kout_is_g = nngp != NULL;
    const double *xc = sym ? x1 : x2;
    double bad = 0;
#pragma omp parallel num_threads(nt) reduction(+ : bad)
    {
#ifdef _OPENMP
        /* this thread's BLAS calls run single-threaded (the ICV of this
         * implicit task only), also when the region has one thread */
        omp_set_num_threads(1);
#endif
        double k[NTK_TILE], th[NTK_TILE];
#pragma omp for schedule(dynamic, 1)
        for (size_t it = 0; it < nitems; it++) {
            if (ntk_pp_stopped(pp)) continue; /* canceled: skip the rest */
            size_t i0 = items[2 * it], j0 = items[2 * it + 1];
            size_t entries = 0; /* computed by this item, for the progress */
            size_t i1 = i0 + GB_R < n1 ? i0 + GB_R : n1, j1 = j0 + GB_C < n2 ? j0 + GB_C : n2;
            size_t jg = j0; /* columns [jg, j1) by dgemm */
            if (sym && j0 == i0) {
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)(i1 - i0), (int)d, alpha, x1 + i0 * d,
                            (int)d, 0.0, G + i0 * n2 + i0, (int)n2);
                jg = i1;
            }
            if (jg < j1)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(i1 - i0), (int)(j1 - jg), (int)d, alpha,
                            x1 + i0 * d, (int)d, xc + jg * d, (int)d, 0.0, G + i0 * n2 + jg, (int)n2);
            for (size_t i = i0; i < i1; i++) {
                size_t js = sym && j0 < i ? i : j0;
                entries += j1 - js;
                if (sym && js == i) G[i * n2 + i] = g0[i];
                if (!sym)
                    for (size_t j = j0; j < j1; j++) {
                        double g = G[i * n2 + j];
                        /* The same point in X1 and X2: dgemm's sum and
                         * ddot's may differ in the last bit, which would
                         * put ρ at 1 − 2⁻⁵³ and move the angle to
                         * 1.5e-8. Identical rows get q12 = q11 exactly. */
                        if (g0[i] == g0[n1 + j] && fabs(g - g0[i]) <= 1e-12 * fabs(g0[i]) &&
                            !memcmp(x1 + i * d, x2 + j * d, d * sizeof *x1))
                            G[i * n2 + j] = g0[i];
                    }
                for (size_t t0 = js; t0 < j1; t0 += NTK_TILE) {
                    size_t m = j1 - t0 < NTK_TILE ? j1 - t0 : NTK_TILE;
                    double *grow = G + i * n2 + t0;
                    memcpy(k, grow, m * sizeof *k);
                    ntk_tile_run(P, m, k, th, q1 + i, n1, q2 + t0, n2, NULL, 0);
                    tile_store(k, th, m, grow, kout_is_g, other ? other + i * n2 + t0 : NULL, &bad);
                }
            }
            if (sym) { /* mirror: G[j][i] = G[i][j] for i < j */
                mirror_block(G, n1, i0, i1, j0, j1);
                if (other) mirror_block(other, n1, i0, i1, j0, j1);
            }
            ntk_pp_add(pp, (double)entries);
        }
    }
    free(items);
    if (ntk_pp_stopped(pp)) goto done; /* the outputs are partial: no checks */
    if (bad != 0 || bad != bad) { /* rare: find and name the first bad entry */
        if (nngp && (s = check_output(nngp, n1, n2, "NNGP", err))) goto done;
        if (ntk && (s = check_output(ntk, n1, n2, "NTK", err))) goto done;
    }

done:
    free(g0);
    if (q2 != q1) free(q2);
    free(q1);
    return s;
}

static ntk_status kernel_run(const ntk_arch *arch, const ntk_kernel_opts *opts, const double *x1, size_t n1,
                             const double *x2, size_t n2, size_t d, double *nngp, double *ntk, ntk_error *err,
                             int allow_fast)
{
    ntk_error_clear(err);
    ntk_kernel_opts o = opts ? *opts : ntk_kernel_opts_default();
    if (!arch || ntk_arch_n_layers(arch) == 0) return ntk_fail(err, NTK_E_INVAL, "no architecture");
    if (!x1 || n1 == 0) return ntk_fail(err, NTK_E_SHAPE, "X1 has no rows");
    if (d == 0) return ntk_fail(err, NTK_E_SHAPE, "inputs have no columns");
    if (!nngp && !ntk) return ntk_fail(err, NTK_E_INVAL, "neither NNGP nor NTK requested");
    if (o.param != NTK_PARAM_NTK && o.param != NTK_PARAM_STANDARD)
        return ntk_fail(err, NTK_E_INVAL, "unknown parameterization %d", (int)o.param);
    if (o.quad != NTK_QUAD_AUTO && o.quad != NTK_QUAD_NUMERIC)
        return ntk_fail(err, NTK_E_INVAL, "unknown quadrature mode %d", (int)o.quad);
    if (o.threads < 0) return ntk_fail(err, NTK_E_INVAL, "threads must be >= 0, got %d", o.threads);
    if (o.diag && x2) return ntk_fail(err, NTK_E_INVAL, "the diagonal mode takes one input set (no X2)");
    if (x2 && n2 == 0) return ntk_fail(err, NTK_E_SHAPE, "X2 has no rows");
    size_t bytes;
    if (ntk_mul_size(n1, x2 ? n2 : n1, sizeof(double), &bytes))
        return ntk_fail(err, NTK_E_NOMEM, "a %zu x %zu kernel is too large", n1, x2 ? n2 : n1);
    ntk_status s = ntk_check_finite(x1, n1, d, "X1", err);
    if (s) return s;
    if (x2 && (s = ntk_check_finite(x2, n2, d, "X2", err))) return s;

    /* progress: entries computed (X2 omitted: the upper triangle) */
    const double n1d = (double)n1, total = o.diag ? n1d : x2 ? n1d * (double)n2 : n1d * (n1d + 1) / 2;
    ntk_par_progress pp;
    if (ntk_pp_start(&pp, &o.progress, "kernel", total)) return ntk_canceled(err, "kernel");

    ntk_plan P;
    if ((s = plan_build(&P, arch, &o, d, err))) return s;
    int nt = thread_count(&o);
    if (allow_fast && P.fast) {
        s = kernel_fast(&P, nt, &o, x1, n1, x2, n2, d, nngp, ntk, &pp, err);
        free(P.steps);
        if (!s && ntk_pp_finish(&pp)) s = ntk_canceled(err, "kernel");
        return s;
    }
    size_t na = P.n_act ? P.n_act : 1;
    const int sym = x2 == NULL;
    if (sym) n2 = n1;

    /* per-point variances at each activation input, point-major */
    double *q1 = malloc(n1 * na * sizeof *q1);
    double *q2 = sym ? q1 : malloc(n2 * na * sizeof *q2);
    double *g0 = NULL; /* |x|²/d per point, only needed when not taken from the Gram */
    if (!q1 || !q2) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
        goto done;
    }

    if (o.diag) {
        double scale = 1.0 / (double)d;
        for (size_t i = 0; i < n1; i++) {
            double q = ntk_ddot((int)d, x1 + i * d, x1 + i * d) * scale;
            double K, Th;
            run_diag(&P, q, q1 + i * na, 1, &K, &Th);
            if (nngp) nngp[i] = K;
            if (ntk) ntk[i] = Th;
            if ((i & 63) == 63 && ntk_pp_add(&pp, 64)) goto done;
        }
        if (nngp && (s = check_output(nngp, n1, 1, "NNGP", err))) goto done;
        if (ntk && (s = check_output(ntk, n1, 1, "NTK", err))) goto done;
        goto done;
    }

    /* Gram into the first requested output; the entries are then updated in
     * place (and copied into the other output). */
    double *G = nngp ? nngp : ntk;
    double alpha = 1.0 / (double)d;
    if (sym) {
        ntk_dsyrk_upper((int)n1, (int)d, alpha, x1, (int)d, 0.0, G, (int)n1);
    } else {
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)d, alpha, x1, (int)d,
                    x2, (int)d, 0.0, G, (int)n2);
        g0 = malloc((n1 + n2) * sizeof *g0);
        if (!g0) {
            s = ntk_fail(err, NTK_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n1; i++) g0[i] = ntk_ddot((int)d, x1 + i * d, x1 + i * d) * alpha;
        for (size_t j = 0; j < n2; j++) g0[n1 + j] = ntk_ddot((int)d, x2 + j * d, x2 + j * d) * alpha;
    }

    /* variances per point */
    {
        double Kd, Td;
        for (size_t i = 0; i < n1; i++)
            run_diag(&P, sym ? G[i * n1 + i] : g0[i], q1 + i * na, 1, &Kd, &Td);
        if (!sym)
            for (size_t j = 0; j < n2; j++) run_diag(&P, g0[n1 + j], q2 + j * na, 1, &Kd, &Td);
    }

    double *other = (nngp && ntk) ? ntk : NULL;
    const int kout_is_g = nngp != NULL; /* G holds K (else Θ) */
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt)
    for (size_t i = 0; i < n1; i++) {
        size_t j0 = sym ? i : 0;
        if (ntk_pp_stopped(&pp)) continue; /* canceled: skip the rest */
        for (size_t j = j0; j < n2; j++) {
            double K, Th, g = G[i * n2 + j];
            /* The same point in X1 and X2: dgemm's sum and ddot's may differ
             * in the last bit, which would put ρ at 1 − 2⁻⁵³ and move the
             * angle to 1.5e-8. Identical rows get q12 = q11 exactly. */
            if (!sym && g0[i] == g0[n1 + j] && fabs(g - g0[i]) <= 1e-12 * fabs(g0[i]) &&
                !memcmp(x1 + i * d, x2 + j * d, d * sizeof *x1))
                g = g0[i];
            run_entry(&P, g, q1 + i * na, 1, q2 + j * na, 1, &K, &Th);
            G[i * n2 + j] = kout_is_g ? K : Th;
            if (other) other[i * n2 + j] = Th;
            /* progress every 64 entries and at the row's end (a quadrature
             * entry of a deep network can take milliseconds) */
            if ((((j - j0) & 63) == 63 || j + 1 == n2) && ntk_pp_add(&pp, (double)(((j - j0) & 63) + 1))) break;
        }
    }
    if (ntk_pp_stopped(&pp)) goto done; /* the outputs are partial: no checks */
    if (sym) {
        for (size_t i = 0; i < n1; i++)
            for (size_t j = 0; j < i; j++) {
                G[i * n1 + j] = G[j * n1 + i];
                if (other) other[i * n1 + j] = other[j * n1 + i];
            }
    }
    if (nngp && (s = check_output(nngp, n1, n2, "NNGP", err))) goto done;
    if (ntk && (s = check_output(ntk, n1, n2, "NTK", err))) goto done;

done:
    if (!s && ntk_pp_finish(&pp)) s = ntk_canceled(err, "kernel");
    free(g0);
    if (q2 != q1) free(q2);
    free(q1);
    free(P.steps);
    return s;
}

ntk_status ntk_kernel(const ntk_arch *arch, const ntk_kernel_opts *opts, const double *x1, size_t n1,
                      const double *x2, size_t n2, size_t d, double *nngp, double *ntk, ntk_error *err)
{
    int saved = ntk_threads_begin(opts ? opts->threads : 0); /* opts->threads bounds every thread of the call */
    ntk_status s = kernel_run(arch, opts, x1, n1, x2, n2, d, nngp, ntk, err, 1);
    ntk_threads_end(saved);
    return s;
}

ntk_status ntk_kernel_ref(const ntk_arch *arch, const ntk_kernel_opts *opts, const double *x1, size_t n1,
                          const double *x2, size_t n2, size_t d, double *nngp, double *ntk, ntk_error *err)
{
    int saved = ntk_threads_begin(opts ? opts->threads : 0);
    ntk_status s = kernel_run(arch, opts, x1, n1, x2, n2, d, nngp, ntk, err, 0);
    ntk_threads_end(saved);
    return s;
}
