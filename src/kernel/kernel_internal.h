/*
 * kernel_internal.h — shared by the analytic-kernel files: the quadrature
 * rule for dual activations and the per-layer plan of a network.
 */
#ifndef NTK_KERNEL_INTERNAL_H
#define NTK_KERNEL_INTERNAL_H

#include "ntk.h"

#define NTK_QUAD_MAX_DEGREE 96
/* Default angular nodes per piece, by a convergence test (tests/test_dual.c):
 * normalised error ≤ 2e-9 up to (b²·)q = 10 for erf, GELU, sin; the
 * radial rule (12 nodes on each of 7 panels) is converged at every degree. */
#define NTK_QUAD_DEFAULT_DEGREE 32
#define NTK_QUAD_RADIAL_PANELS 7
#define NTK_QUAD_RADIAL_NODES 12

/* Polar quadrature for E[f(u,v)], (u,v) ~ N(0,[[q11,q12],[q12,q22]]):
 * (g1,g2) = r(cos α, sin α), u = √q11·r·cos α, v = √q22·r·cos(α − β),
 * cos β = ρ. The α-range is split where u = 0 or v = 0 (the kinks of
 * ReLU-type φ lie on those rays), each piece gets an m-point
 * Gauss–Legendre rule; r uses composite Gauss–Legendre on fixed panels of
 * [0, 11] with the weight r·e^{−r²/2}/(2π) folded in (the tail beyond 11
 * is below e^{−60}). */
typedef struct {
    int m;                                   /* angular nodes per piece */
    double gx[NTK_QUAD_MAX_DEGREE];          /* GL nodes on [-1,1]    */
    double gw[NTK_QUAD_MAX_DEGREE];          /* GL weights            */
    int nr;                                  /* radial nodes          */
    double r[NTK_QUAD_RADIAL_NODES * NTK_QUAD_RADIAL_PANELS];
    double rw[NTK_QUAD_RADIAL_NODES * NTK_QUAD_RADIAL_PANELS];
} ntk_quad;

/* Gauss–Legendre nodes/weights on [-1,1] by Newton on P_n. */
void ntk_gauss_legendre(int n, double *x, double *w);
/* Fills q for degree m (0 = default). Returns NTK_E_INVAL if m is out of
 * [2, NTK_QUAD_MAX_DEGREE]. */
ntk_status ntk_quad_init(ntk_quad *q, int m, ntk_error *err);

/* T and Ṫ of one activation at (q11,q12,q22); closed form when one exists
 * and !numeric, else the polar quadrature `quad` (must be non-NULL then). */
void ntk_dual_eval(const ntk_layer *act, double q11, double q12, double q22, int numeric,
                   const ntk_quad *quad, double *T, double *Tdot);
/* Whether the activation has a closed form dual. */
int ntk_act_has_closed_form(ntk_act_kind k);

#endif
