/*
 * kernel.c — infinite-width NNGP K and NTK Θ of a fully-connected network
 * (docs/math.md: Inputs, Dense 'ntk'/'standard', Activations).
 *
 *   K⁰ = X1·X2ᵀ/d (one BLAS call: dsyrk when X2 = X1, else dgemm), Θ⁰ = 0;
 *   then every entry runs the whole layer recursion in registers, reading its
 *   Gram value once and writing K and Θ once. The per-point variances q(x,x)
 *   at each activation's input are computed first (n × #activations doubles),
 *   by the same code as the entries, so a diagonal entry sees q12 = q11 = q22
 *   bit for bit and its angle is exactly 0.
 * Memory: the outputs, the inputs and the per-point variances; no N×N
 * temporaries. Entries are independent, so the thread count cannot change
 * any result.
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

enum { STEP_DENSE_NTK, STEP_DENSE_STD, STEP_ACT };

typedef struct {
    int kind;
    double w2, b2;   /* dense: w_std², b_std²                        */
    double n_in;     /* standard: the layer's input width             */
    double bias1;    /* standard: 1 if the layer has a bias           */
    const ntk_layer *act;
    size_t slot;     /* activation: index into the per-point variances */
} step;

typedef struct {
    size_t n_steps, n_act;
    step *steps;
    int numeric;
    ntk_quad quad;
} plan;

ntk_kernel_opts ntk_kernel_opts_default(void)
{
    ntk_kernel_opts o;
    memset(&o, 0, sizeof o);
    o.param = NTK_PARAM_NTK;
    o.quad = NTK_QUAD_AUTO;
    return o;
}

static ntk_status plan_build(plan *P, const ntk_arch *arch, const ntk_kernel_opts *o, size_t d,
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
        step *S = &P->steps[i];
        if (L->kind == NTK_LAYER_DENSE) {
            int param = L->param >= 0 ? L->param : (int)o->param;
            S->kind = param == NTK_PARAM_STANDARD ? STEP_DENSE_STD : STEP_DENSE_NTK;
            S->w2 = L->w_std * L->w_std;
            S->b2 = L->b_std * L->b_std;
            S->n_in = n_in;
            S->bias1 = L->has_bias ? 1.0 : 0.0;
            n_in = (double)L->width;
        } else {
            S->kind = STEP_ACT;
            S->act = L;
            S->slot = P->n_act++;
            if (!ntk_act_has_closed_form(L->act)) need_quad = 1;
        }
    }
    P->n_steps = n;
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
 * activation inputs (slot-major, stride sa/sb). */
static inline void run_entry(const plan *P, double q12, const double *qa, size_t sa,
                             const double *qb, size_t sb, double *Kout, double *Tout)
{
    double K = q12, Th = 0.0;
    for (size_t i = 0; i < P->n_steps; i++) {
        const step *S = &P->steps[i];
        switch (S->kind) {
        case STEP_DENSE_NTK:
            K = S->w2 * K + S->b2;
            Th = K + S->w2 * Th;
            break;
        case STEP_DENSE_STD:
            Th = S->n_in * K + S->w2 * Th + S->bias1;
            K = S->w2 * K + S->b2;
            break;
        default: {
            double T, Td;
            ntk_dual_eval(S->act, qa[S->slot * sa], K, qb[S->slot * sb], P->numeric, &P->quad, &T, &Td);
            K = T;
            Th *= Td;
        }
        }
    }
    *Kout = K;
    *Tout = Th;
}

/* Variance recursion of one point, recording q at each activation input
 * into qs[slot*stride]; returns K(x,x) and Θ(x,x). Runs exactly the ops of
 * run_entry with q12 = q11 = q22. */
static void run_diag(const plan *P, double q, double *qs, size_t stride, double *Kout, double *Tout)
{
    double K = q, Th = 0.0;
    for (size_t i = 0; i < P->n_steps; i++) {
        const step *S = &P->steps[i];
        switch (S->kind) {
        case STEP_DENSE_NTK:
            K = S->w2 * K + S->b2;
            Th = K + S->w2 * Th;
            break;
        case STEP_DENSE_STD:
            Th = S->n_in * K + S->w2 * Th + S->bias1;
            K = S->w2 * K + S->b2;
            break;
        default: {
            double T, Td;
            qs[S->slot * stride] = K;
            ntk_dual_eval(S->act, K, K, K, P->numeric, &P->quad, &T, &Td);
            K = T;
            Th *= Td;
        }
        }
    }
    *Kout = K;
    *Tout = Th;
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

ntk_status ntk_kernel(const ntk_arch *arch, const ntk_kernel_opts *opts, const double *x1, size_t n1,
                      const double *x2, size_t n2, size_t d, double *nngp, double *ntk, ntk_error *err)
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

    plan P;
    if ((s = plan_build(&P, arch, &o, d, err))) return s;
    int nt = thread_count(&o);
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
            double q = cblas_ddot((int)d, x1 + i * d, 1, x1 + i * d, 1) * scale;
            double K, Th;
            run_diag(&P, q, q1 + i * na, 1, &K, &Th);
            if (nngp) nngp[i] = K;
            if (ntk) ntk[i] = Th;
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
        for (size_t i = 0; i < n1; i++) g0[i] = cblas_ddot((int)d, x1 + i * d, 1, x1 + i * d, 1) * alpha;
        for (size_t j = 0; j < n2; j++) g0[n1 + j] = cblas_ddot((int)d, x2 + j * d, 1, x2 + j * d, 1) * alpha;
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
        }
    }
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
    free(g0);
    if (q2 != q1) free(q2);
    free(q1);
    free(P.steps);
    return s;
}
