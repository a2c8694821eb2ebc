/*
 * tile.c — the fast path of ntk_kernel: the layer recursion of
 * docs/math.md run on a tile of entries at a time (structure of arrays), so
 * every step is a loop over the tile that the compiler vectorizes, and the
 * transcendental functions go through vmath.c (SLEEF) in vector lanes.
 *
 * Each closed form below is the expression of act.c's dual_closed written
 * operation for operation the same (same order, no contraction: this file
 * is compiled with -ffp-contract=off), so the tile and the scalar reference
 * differ only by atan2/exp (≤ 1 ulp each, vmath.c). The geometry follows
 * act.c's make_geom: ρ = q12/√(q11·q22) with the product's root (exact for
 * a self-pair), √q11·√q22 only where the product is not a normal finite
 * number, ρ clipped, a zero variance takes ρ = 0. Erf forms its
 * determinant from the same root without ρ (one division less, see there).
 */
#include "kernel/kernel_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Scratch of one tile: NTK_TILE doubles per array, on the stack. */
typedef struct {
    double a[NTK_TILE], b[NTK_TILE];          /* q11, q22 per entry   */
    double ra[NTK_TILE], rb[NTK_TILE];        /* √q11, √q22 (q < 0 → 0) */
    double s12[NTK_TILE], rho[NTK_TILE], c[NTK_TILE];
    double y[NTK_TILE], x[NTK_TILE], f[NTK_TILE];
} scratch;

/* make_geom of act.c over the tile: s12 = √(q11 q22), ρ, and
 * c = √((1−ρ)(1+ρ)). The per-point roots ra, rb
 * come precomputed (they only serve the overflow fallback). */
static inline __attribute__((always_inline)) void geom(size_t n, const double *restrict q11, const double *restrict q12,
                        const double *restrict q22, const double *restrict ra, const double *restrict rb,
                        double *restrict s12, double *restrict rho, double *restrict c)
{
    for (size_t i = 0; i < n; i++) {
        double p = q11[i] * q22[i];
        int ok = (p > DBL_MIN) & (p <= DBL_MAX);
        double sp = sqrt(ok ? p : 1.0);
        double den = ok ? sp : ra[i] * rb[i];
        double r = q12[i] / (den > 0 ? den : 1.0);
        r = den > 0 ? r : 0.0;
        r = r > 1 ? 1 : r;
        r = r < -1 ? -1 : r;
        s12[i] = den;
        rho[i] = r;
        c[i] = sqrt((1 - r) * (1 + r));
    }
}

/* K ← T(q11, K, q22), Θ ← Θ·Ṫ over the tile (n a multiple of NTK_VM_PAD). */
static inline __attribute__((always_inline)) void act_tile(const ntk_layer *L, size_t n, scratch *S, double *restrict k, double *restrict th)
{
    const double *restrict q11 = S->a, *restrict q22 = S->b, *restrict ra = S->ra, *restrict rb = S->rb;
    double *restrict s12 = S->s12, *restrict rho = S->rho, *restrict c = S->c;
    double *restrict y = S->y, *restrict x = S->x, *restrict f = S->f;
    switch (L->act) {
    case NTK_ACT_IDENTITY:
        return; /* T = q12, Ṫ = 1 */
    case NTK_ACT_ABRELU: {
        double a = L->a, b = L->b;
        double fa = (a - b) * (a - b) / (2 * PI), h = 0.5 * (a * a + b * b);
        geom(n, q11, k, q22, ra, rb, s12, rho, c);
        /* θ = acos ρ (= atan2(c, ρ) of the reference, ≤ 1 ulp apart plus
         * c's rounding; acos costs 0.6 of atan2); = π/2 when a variance is 0 */
        ntk_vm_acos(n, rho, f);
        for (size_t i = 0; i < n; i++) {
            double dot = h - fa * f[i];
            k[i] = fa * (s12[i] * c[i]) + dot * k[i];
            th[i] *= dot;
        }
        return;
    }
    case NTK_ACT_ERF: {
        double a = L->a, b2 = L->b * L->b, cc = L->c * L->c;
        double aT = a * a * (2 / PI), aD = a * a * b2 * (4 / PI);
        for (size_t i = 0; i < n; i++) {
            double p11 = b2 * (q11[i] > 0 ? q11[i] : 0), p22 = b2 * (q22[i] > 0 ? q22[i] : 0);
            double p12 = b2 * k[i];
            /* (1+2p11)(1+2p22) − 4p12² without cancellation: act.c writes
             * q11q22 − q12² = s12²·(1−ρ)(1+ρ); here the equal-conditioned
             * (s12 − |q12|)(s12 + |q12|), clipped at 0 as ρ is at ±1,
             * which spares the division of ρ */
            double p = q11[i] * q22[i];
            int ok = (p > DBL_MIN) & (p <= DBL_MAX);
            double sp = sqrt(ok ? p : 1.0);
            double sd = ok ? sp : ra[i] * rb[i], aq = fabs(k[i]);
            double gap = sd - aq;
            gap = gap > 0 ? gap : 0;
            double den = 1 + 2 * p11 + 2 * p22 + 4 * (b2 * gap) * (b2 * (sd + aq));
            x[i] = sqrt(den);
            y[i] = 2 * p12;
        }
        ntk_vm_atan2(n, y, x, f);
        for (size_t i = 0; i < n; i++) {
            k[i] = aT * f[i] + cc;
            th[i] *= aD / x[i];
        }
        return;
    }
    case NTK_ACT_SIN:
    case NTK_ACT_COS: {
        double a = L->a, b2 = L->b * L->b;
        double c2 = cos(2 * L->c);
        if (L->act == NTK_ACT_COS) c2 = -c2; /* cos(2c + π) */
        double hb = -0.5 * b2, aT = 0.5 * a * a, aD = 0.5 * a * a * b2;
        for (size_t i = 0; i < n; i++) {
            double dist = q11[i] + q22[i] - 2 * k[i]; /* |x − x'|² in feature space */
            dist = dist < 0 ? 0 : dist;
            x[i] = hb * dist;
            y[i] = hb * (q11[i] + q22[i] + 2 * k[i]);
        }
        ntk_vm_exp(n, x, rho);
        ntk_vm_exp(n, y, c);
        for (size_t i = 0; i < n; i++) {
            k[i] = aT * (rho[i] - c[i] * c2);
            th[i] *= aD * (rho[i] + c[i] * c2);
        }
        return;
    }
    case NTK_ACT_GELU: {
        geom(n, q11, k, q22, ra, rb, s12, rho, c);
        for (size_t i = 0; i < n; i++) {
            double sc = s12[i] * c[i];
            /* D² = P1 − q12² = 1 + q11 + q22 + (q11 q22 − q12²) */
            x[i] = sqrt(1 + q11[i] + q22[i] + sc * sc);
        }
        ntk_vm_atan2(n, k, x, f);
        for (size_t i = 0; i < n; i++) {
            double q12 = k[i], P = s12[i] * s12[i], P1 = (q11[i] + 1) * (q22[i] + 1);
            double sc = s12[i] * c[i];
            double D2 = 1 + q11[i] + q22[i] + sc * sc, D = x[i], A = f[i];
            k[i] = 0.25 * q12 + ((q12 * q12 + P * D2) / (P1 * D) + q12 * A) / (2 * PI);
            th[i] *= 0.25 + A / (2 * PI) + q12 / (2 * PI * D) * (1 / D2 + (1 - P) / P1 + 1);
        }
        return;
    }
    default: /* not reached: ntk_plan.fast holds only closed forms */
        for (size_t i = 0; i < n; i++) k[i] = th[i] = NAN;
        return;
    }
}

/* Three builds of the loops: AVX-512F (8 lanes), AVX2 (4 lanes) and
 * baseline x86-64 (2 lanes), picked at load time. Without contraction all
 * round every operation the same way, so the choice changes speed only. */
__attribute__((target_clones("avx512f", "avx2", "default")))
void ntk_tile_run(const ntk_plan *P, size_t m, double *k, double *th, const double *qa, size_t lda,
                  const double *qb, size_t ldb, double *rec, size_t ldr)
{
    scratch S;
    /* pad to whole vector lanes with a harmless point (q = 1, ρ = 1) */
    size_t n = (m + NTK_VM_PAD - 1) / NTK_VM_PAD * NTK_VM_PAD;
    for (size_t i = m; i < n; i++) k[i] = 1.0;
    for (size_t i = 0; i < n; i++) th[i] = 0.0;
    for (size_t st = 0; st < P->n_steps; st++) {
        const ntk_step *T = &P->steps[st];
        switch (T->kind) {
        case NTK_STEP_DENSE_NTK: {
            double w2 = T->w2, b2 = T->b2;
            for (size_t i = 0; i < n; i++) {
                k[i] = w2 * k[i] + b2;
                th[i] = k[i] + w2 * th[i];
            }
            break;
        }
        case NTK_STEP_DENSE_STD: {
            double w2 = T->w2, b2 = T->b2, nin = T->n_in, b1 = T->bias1;
            for (size_t i = 0; i < n; i++) {
                th[i] = nin * k[i] + w2 * th[i] + b1;
                k[i] = w2 * k[i] + b2;
            }
            break;
        }
        default: {
            size_t s = T->slot;
            if (qa) {
                double v = qa[2 * s * lda], rv = qa[(2 * s + 1) * lda];
                for (size_t i = 0; i < n; i++) {
                    S.a[i] = v;
                    S.ra[i] = rv;
                }
                memcpy(S.b, qb + 2 * s * ldb, m * sizeof *S.b);
                memcpy(S.rb, qb + (2 * s + 1) * ldb, m * sizeof *S.rb);
                for (size_t i = m; i < n; i++) S.b[i] = S.rb[i] = 1.0;
            } else {
                for (size_t i = 0; i < n; i++) {
                    S.a[i] = S.b[i] = k[i];
                    S.ra[i] = S.rb[i] = sqrt(k[i] > 0 ? k[i] : 0);
                }
                if (rec) {
                    memcpy(rec + 2 * s * ldr, k, m * sizeof *k);
                    memcpy(rec + (2 * s + 1) * ldr, S.ra, m * sizeof *k);
                }
            }
            act_tile(T->act, n, &S, k, th);
        }
        }
    }
}
