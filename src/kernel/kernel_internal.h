/*
 * kernel_internal.h — shared by the analytic-kernel files: the quadrature
 * rule for dual activations and the per-layer plan of a network.
 */
#ifndef NTK_KERNEL_INTERNAL_H
#define NTK_KERNEL_INTERNAL_H

#include "ntk.h"

#include <stddef.h>

#define NTK_QUAD_MAX_DEGREE 96
/* Default angular nodes per piece, by a convergence test (tests/test_dual.c):
 * normalised error ≤ 2e-9 up to (b²·)q = 10 for erf, GELU, sin; the
 * radial rule (12 nodes on each of 7 panels) is converged at every degree. */
#define NTK_QUAD_DEFAULT_DEGREE 32
#define NTK_QUAD_RADIAL_PANELS 7
#define NTK_QUAD_RADIAL_NODES 12     /* radial nodes per panel up to degree 24 ... */
#define NTK_QUAD_RADIAL_NODES_MAX 48 /* ... then degree/2, so that raising the degree
                                        also resolves oscillating φ (sin, cos at large b²q) */

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
    double r[NTK_QUAD_RADIAL_NODES_MAX * NTK_QUAD_RADIAL_PANELS];
    double rw[NTK_QUAD_RADIAL_NODES_MAX * NTK_QUAD_RADIAL_PANELS];
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

/* ---- the per-layer plan of a network (kernel.c builds it, tile.c runs it) */
enum { NTK_STEP_DENSE_NTK, NTK_STEP_DENSE_STD, NTK_STEP_ACT };

typedef struct {
    int kind;
    double w2, b2;   /* dense: w_std², b_std²                        */
    double n_in;     /* standard: the layer's input width             */
    double bias1;    /* standard: 1 if the layer has a bias           */
    const ntk_layer *act;
    size_t slot;     /* activation: index into the per-point variances */
} ntk_step;

typedef struct {
    size_t n_steps, n_act;
    ntk_step *steps;
    int numeric;
    int fast;        /* every activation closed form and !numeric: tile.c */
    ntk_quad quad;
} ntk_plan;

/* ---- the tiled fast path (tile.c) */
/* Entries per tile: a row segment of the kernel; its working set (about ten
 * arrays of this many doubles) stays in L1/L2. A multiple of NTK_VM_PAD. */
#define NTK_TILE 256

/* Runs the whole recursion of P (P->fast) on m ≤ NTK_TILE entries.
 * k: in K⁰ = q12, out K; th: out Θ (both m values, the arrays must hold
 * NTK_TILE). Per-point variances are kept as 2 rows per activation slot s:
 * row 2s the variance q, row 2s+1 its root √max(q, 0). Row mode
 * (qa ≠ NULL): the entries are one row point against m column points; the
 * row point's q at slot s is qa[2s·lda] (root qa[(2s+1)·lda]), entry t's
 * column point's qb[2s·ldb + t] (root qb[(2s+1)·ldb + t]). Diagonal mode
 * (qa = NULL): each entry is a point with itself (q11 = q22 = q12) and,
 * when rec ≠ NULL, its q and root at slot s are stored in rec[2s·ldr + t],
 * rec[(2s+1)·ldr + t]. Both modes run the same operations, so a row
 * entry whose q12 equals the diagonal's q gets ρ = 1 exactly. */
void ntk_tile_run(const ntk_plan *P, size_t m, double *k, double *th, const double *qa, size_t lda,
                  const double *qb, size_t ldb, double *rec, size_t ldr);

/* ---- vectorized elementary functions (vmath.c) */
/* n must be a multiple of NTK_VM_PAD; each element is computed alone (its
 * value does not depend on its neighbours or position). Error bound: the
 * SLEEF u10 functions, ≤ NTK_VM_ULP ulp (documented by SLEEF, measured in
 * tests/test_kernel_fast.c); without SLEEF, libm. */
#define NTK_VM_PAD 8
#define NTK_VM_ULP 1.0
void ntk_vm_atan2(size_t n, const double *y, const double *x, double *out);
void ntk_vm_exp(size_t n, const double *x, double *out);
void ntk_vm_acos(size_t n, const double *x, double *out);
/* Which implementation runs on this CPU, in words. */
const char *ntk_vm_isa(void);
/* The variants behind the three: SLEEF's 2-lane dispatcher (any x86-64), and
 * vmath_avx2.c (call only when the CPU has AVX2 and FMA); libm without
 * SLEEF. For the tests. */
void ntk_vm_atan2_sse2(size_t n, const double *y, const double *x, double *out);
void ntk_vm_exp_sse2(size_t n, const double *x, double *out);
void ntk_vm_acos_sse2(size_t n, const double *x, double *out);
void ntk_vm_atan2_avx2(size_t n, const double *y, const double *x, double *out);
void ntk_vm_exp_avx2(size_t n, const double *x, double *out);
void ntk_vm_acos_avx2(size_t n, const double *x, double *out);
/* vmath_avx512.c (call only when the CPU has AVX-512F) */
void ntk_vm_atan2_avx512(size_t n, const double *y, const double *x, double *out);
void ntk_vm_exp_avx512(size_t n, const double *x, double *out);
void ntk_vm_acos_avx512(size_t n, const double *x, double *out);

/* ---- the plain reference of ntk_kernel (kernel.c): one entry at a time,
 * scalar libm, no tiles; same arguments and checks as ntk_kernel. */
ntk_status ntk_kernel_ref(const ntk_arch *arch, const ntk_kernel_opts *opts, const double *x1, size_t n1,
                          const double *x2, size_t n2, size_t d, double *nngp, double *ntk, ntk_error *err);

#endif
