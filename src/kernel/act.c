/*
 * act.c — activations φ, φ', and their dual kernels
 *   T(q11,q12,q22) = E[φ(u)φ(v)],  Ṫ = E[φ'(u)φ'(v)],
 *   (u,v) ~ N(0, [[q11,q12],[q12,q22]])            (docs/math.md, "Activations")
 *
 * Closed forms: ABReLU family (Cho & Saul arc-cosine kernels), Erf (Williams
 * 1997), Sin/Cos, GELU (arXiv:2002.08517, as in neural-tangents), identity.
 * Angles always through atan2 of (√((1−ρ)(1+ρ)), ρ), which stays accurate as
 * ρ → ±1; ρ is clipped to [−1, 1]; a zero-variance input takes ρ = 0 (the
 * limit neural-tangents uses). Products q11·q22 are formed as √q11·√q22 so
 * that depth-100 variances do not overflow.
 *
 * Quadrature (every activation, and the only path for tanh, sigmoid,
 * softplus, SiLU, ELU): polar coordinates split at the kink rays, see
 * kernel_internal.h. It converges exponentially for φ that are smooth on
 * each side of 0, kinked or not.
 */
#include "core/internal.h"
#include "kernel/kernel_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846
#define SQRT_2PI_INV 0.39894228040143267794 /* 1/√(2π) */

static double logistic(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

double ntk_act_eval(const ntk_layer *L, double z)
{
    switch (L->act) {
    case NTK_ACT_IDENTITY: return z;
    case NTK_ACT_ABRELU: return z > 0 ? L->b * z : L->a * z;
    case NTK_ACT_ERF: return L->a * erf(L->b * z) + L->c;
    case NTK_ACT_SIN: return L->a * sin(L->b * z + L->c);
    case NTK_ACT_COS: return L->a * cos(L->b * z + L->c);
    case NTK_ACT_GELU: return 0.5 * z * erfc(-z * M_SQRT1_2);
    case NTK_ACT_TANH: return tanh(z);
    case NTK_ACT_SIGMOID: return logistic(z);
    case NTK_ACT_SOFTPLUS: return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
    case NTK_ACT_SILU: return z * logistic(z);
    case NTK_ACT_ELU: return z > 0 ? z : L->a * expm1(z);
    case NTK_ACT_COUNT: break;
    }
    return NAN;
}

double ntk_act_deriv(const ntk_layer *L, double z)
{
    switch (L->act) {
    case NTK_ACT_IDENTITY: return 1.0;
    case NTK_ACT_ABRELU: return z > 0 ? L->b : z < 0 ? L->a : 0.5 * (L->a + L->b);
    case NTK_ACT_ERF: return L->a * L->b * M_2_SQRTPI * exp(-L->b * L->b * z * z);
    case NTK_ACT_SIN: return L->a * L->b * cos(L->b * z + L->c);
    case NTK_ACT_COS: return -L->a * L->b * sin(L->b * z + L->c);
    case NTK_ACT_GELU: return 0.5 * erfc(-z * M_SQRT1_2) + z * SQRT_2PI_INV * exp(-0.5 * z * z);
    case NTK_ACT_TANH: { double t = tanh(z); return 1.0 - t * t; }
    case NTK_ACT_SIGMOID: { double s = logistic(z); return s * (1.0 - s); }
    case NTK_ACT_SOFTPLUS: return logistic(z);
    case NTK_ACT_SILU: { double s = logistic(z); return s * (1.0 + z * (1.0 - s)); }
    case NTK_ACT_ELU: return z > 0 ? 1.0 : z < 0 ? L->a * exp(z) : 0.5 * (1.0 + L->a);
    case NTK_ACT_COUNT: break;
    }
    return NAN;
}

int ntk_act_has_closed_form(ntk_act_kind k)
{
    switch (k) {
    case NTK_ACT_IDENTITY: case NTK_ACT_ABRELU: case NTK_ACT_ERF:
    case NTK_ACT_SIN: case NTK_ACT_COS: case NTK_ACT_GELU:
        return 1;
    default:
        return 0;
    }
}

/* Correlation geometry of (q11,q12,q22): s1 = √q11, s2 = √q22, ρ clipped,
 * c = √((1−ρ)(1+ρ)) = sin of the angle between the two inputs. */
typedef struct { double s1, s2, s12, rho, c; } geom; /* s12 = √(q11 q22) */

static geom make_geom(double q11, double q12, double q22)
{
    geom g;
    g.s1 = sqrt(q11 > 0 ? q11 : 0);
    g.s2 = sqrt(q22 > 0 ? q22 : 0);
    /* √(q11·q22) rather than √q11·√q22: for q11 = q12 = q22 (a point with
     * itself) it is exactly q, so ρ = 1 and the angle 0 exactly — the
     * product of two rounded roots would give ρ = 1 − 2⁻⁵³ and an angle of
     * 1.5e-8. The product form is used only where q11·q22 would overflow. */
    double p = q11 * q22;
    double den = (p > DBL_MIN && p <= DBL_MAX) ? sqrt(p) : g.s1 * g.s2;
    g.s12 = den;
    double rho = den > 0 ? q12 / den : 0.0;
    if (rho > 1) rho = 1;
    if (rho < -1) rho = -1;
    g.rho = rho;
    g.c = sqrt((1 - rho) * (1 + rho));
    return g;
}

static void dual_closed(const ntk_layer *L, double q11, double q12, double q22, double *T, double *Td)
{
    geom g = make_geom(q11, q12, q22);
    switch (L->act) {
    case NTK_ACT_IDENTITY:
        *T = q12;
        *Td = 1.0;
        return;
    case NTK_ACT_ABRELU: {
        double a = L->a, b = L->b;
        double theta = atan2(g.c, g.rho); /* = π/2 when a variance is 0 */
        double f = (a - b) * (a - b) / (2 * PI);
        double dot = 0.5 * (a * a + b * b) - f * theta;
        *T = f * (g.s12 * g.c) + dot * q12;
        *Td = dot;
        return;
    }
    case NTK_ACT_ERF: {
        double a = L->a, b2 = L->b * L->b;
        double p11 = b2 * (q11 > 0 ? q11 : 0), p22 = b2 * (q22 > 0 ? q22 : 0);
        double p12 = b2 * q12;
        /* (1+2p11)(1+2p22) − 4p12² without cancellation */
        double den = 1 + 2 * p11 + 2 * p22 + 4 * (b2 * g.s12) * (b2 * g.s12) * g.c * g.c;
        double sq = sqrt(den);
        *T = a * a * (2 / PI) * atan2(2 * p12, sq) + L->c * L->c;
        *Td = a * a * b2 * (4 / PI) / sq;
        return;
    }
    case NTK_ACT_SIN:
    case NTK_ACT_COS: {
        double a = L->a, b2 = L->b * L->b;
        double dist = q11 + q22 - 2 * q12; /* |x − x'|² in feature space */
        if (dist < 0) dist = 0;
        double em = exp(-0.5 * b2 * dist);
        double ep = exp(-0.5 * b2 * (q11 + q22 + 2 * q12));
        double c2 = cos(2 * L->c);
        if (L->act == NTK_ACT_COS) c2 = -c2; /* cos(2c + π) */
        *T = 0.5 * a * a * (em - ep * c2);
        *Td = 0.5 * a * a * b2 * (em + ep * c2);
        return;
    }
    case NTK_ACT_GELU: {
        double P = g.s12 * g.s12;
        double P1 = (q11 + 1) * (q22 + 1);
        /* D² = P1 − q12² = 1 + q11 + q22 + (q11 q22 − q12²) */
        double D2 = 1 + q11 + q22 + (g.s12 * g.c) * (g.s12 * g.c);
        double D = sqrt(D2);
        double A = atan2(q12, D);
        *T = 0.25 * q12 + ((q12 * q12 + P * D2) / (P1 * D) + q12 * A) / (2 * PI);
        *Td = 0.25 + A / (2 * PI) + q12 / (2 * PI * D) * (1 / D2 + (1 - P) / P1 + 1);
        return;
    }
    default:
        *T = *Td = NAN;
        return;
    }
}

/* Polar quadrature, see kernel_internal.h. */
static void dual_quad(const ntk_layer *L, double q11, double q12, double q22, const ntk_quad *Q,
                      double *T, double *Td)
{
    geom g = make_geom(q11, q12, q22);
    /* A zero variance is the limit q → 0⁺ with ρ = 0: keep the sign of
     * the direction, so φ' of a kinked φ takes its one-sided values. */
    double s1 = g.s1 > 0 ? g.s1 : DBL_MIN;
    double s2 = g.s2 > 0 ? g.s2 : DBL_MIN;
    double beta = atan2(g.c, g.rho); /* v = s2·r·cos(α − β) */
    double bp[5] = {-PI / 2, beta - PI / 2, PI / 2, beta + PI / 2, 3 * PI / 2};
    double sT = 0, sD = 0;
    for (int piece = 0; piece < 4; piece++) {
        double lo = bp[piece], hi = bp[piece + 1];
        if (!(hi > lo)) continue;
        double half = 0.5 * (hi - lo), mid = 0.5 * (hi + lo);
        double pT = 0, pD = 0;
        for (int k = 0; k < Q->m; k++) {
            double al = mid + half * Q->gx[k];
            double ca = s1 * cos(al), cb = s2 * cos(al - beta);
            double rT = 0, rD = 0;
            for (int j = 0; j < Q->nr; j++) {
                double r = Q->r[j];
                double u = r * ca, v = r * cb;
                rT += Q->rw[j] * ntk_act_eval(L, u) * ntk_act_eval(L, v);
                rD += Q->rw[j] * ntk_act_deriv(L, u) * ntk_act_deriv(L, v);
            }
            pT += Q->gw[k] * rT;
            pD += Q->gw[k] * rD;
        }
        sT += half * pT;
        sD += half * pD;
    }
    *T = sT;
    *Td = sD;
}

void ntk_dual_eval(const ntk_layer *act, double q11, double q12, double q22, int numeric,
                   const ntk_quad *quad, double *T, double *Tdot)
{
    if (!numeric && ntk_act_has_closed_form(act->act))
        dual_closed(act, q11, q12, q22, T, Tdot);
    else
        dual_quad(act, q11, q12, q22, quad, T, Tdot);
}

ntk_status ntk_act_dual(const ntk_layer *act, double q11, double q12, double q22,
                        ntk_quad_mode mode, int degree, double *T, double *Tdot, ntk_error *err)
{
    ntk_error_clear(err);
    if (!act || act->kind != NTK_LAYER_ACT || (unsigned)act->act >= NTK_ACT_COUNT)
        return ntk_fail(err, NTK_E_INVAL, "ntk_act_dual: not an activation layer");
    if (!isfinite(q11) || !isfinite(q12) || !isfinite(q22) || q11 < 0 || q22 < 0)
        return ntk_fail(err, NTK_E_NUMERIC, "ntk_act_dual: invalid covariance (%g, %g, %g)", q11, q12, q22);
    double t, td;
    int numeric = mode == NTK_QUAD_NUMERIC || !ntk_act_has_closed_form(act->act);
    if (numeric) {
        ntk_quad Q;
        ntk_status s = ntk_quad_init(&Q, degree, err);
        if (s) return s;
        ntk_dual_eval(act, q11, q12, q22, 1, &Q, &t, &td);
    } else {
        ntk_dual_eval(act, q11, q12, q22, 0, NULL, &t, &td);
    }
    if (T) *T = t;
    if (Tdot) *Tdot = td;
    return NTK_OK;
}
