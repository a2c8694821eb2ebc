/*
 * test_dual.c — dual activations T = E[φ(u)φ(v)], Ṫ = E[φ'(u)φ'(v)]:
 *   closed forms vs the polar quadrature, the quadrature's convergence in
 *   its degree, both vs independent mpmath values (tests/ref/mp/duals.tsv,
 *   made by tools/mp_reference/make_duals.py at 40 digits), and φ' vs
 *   central differences of φ.
 *
 * Error measure: |ΔT| / √(T(q11,q11,q11)·T(q22,q22,q22)), the entry's error
 * relative to the kernel's own scale (Cauchy–Schwarz bounds |T| by it). A
 * plain relative error is meaningless where T crosses 0 (e.g. ReLU at
 * ρ = −1, where T = 0 exactly).
 */
#include "testutil.h"
#include "kernel/kernel_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *CLOSED[] = {"relu", "leaky_relu(0.1)", "abs", "abrelu(-0.5,2)", "erf", "erf(0.7,1.3,0.2)",
                               "sigmoid_like", "sin(1.5,0.8,0.3)", "cos(1,2,0)", "identity", "gelu"};
static const char *NUMERIC_ONLY[] = {"tanh", "sigmoid", "softplus", "silu", "elu", "elu(0.5)"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Parses "dense(1),ACT" and returns the activation layer (arch kept in *keep). */
static const ntk_layer *act_layer(const char *act, ntk_arch **keep)
{
    char spec[128];
    snprintf(spec, sizeof spec, "dense(1),%s", act);
    ntk_error err;
    ntk_status s = ntk_arch_parse(spec, keep, &err);
    if (s) fail_msg("%s: %s", spec, err.msg);
    return ntk_arch_layer(*keep, 1);
}

typedef struct { double T, D; } dual;

static dual eval(const ntk_layer *L, double q11, double q12, double q22, ntk_quad_mode mode, int deg)
{
    dual r;
    ntk_error err;
    ntk_status s = ntk_act_dual(L, q11, q12, q22, mode, deg, &r.T, &r.D, &err);
    if (s) fail_msg("ntk_act_dual: %s", err.msg);
    return r;
}

/* Normalised errors of `got` vs `want` at (q11,q12,q22), scales from `scale_mode`. */
static void norm_err(const ntk_layer *L, double q11, double q22, dual got, dual want, double *eT, double *eD)
{
    dual a = eval(L, q11, q11, q11, NTK_QUAD_AUTO, 0), b = eval(L, q22, q22, q22, NTK_QUAD_AUTO, 0);
    double sT = sqrt(fabs(a.T * b.T)), sD = sqrt(fabs(a.D * b.D));
    if (sT < 1e-300) sT = 1e-300;
    if (sD < 1e-300) sD = 1e-300;
    *eT = fabs(got.T - want.T) / sT;
    *eD = fabs(got.D - want.D) / sD;
}

static const double QS[] = {0.01, 0.3, 1.0, 3.0, 10.0};
static const double RHOS[] = {-1.0, -0.999999, -0.5, 0.0, 0.3, 0.7, 0.999999, 1 - 1e-10, 1.0};

/* Max normalised error of the quadrature at degree `deg` against the closed
 * form over the grid with effective variance b²q ≤ qmax. */
static double closed_vs_quad(const ntk_layer *L, int deg, double qmax)
{
    double worst = 0;
    double bscale = (L->act == NTK_ACT_ERF || L->act == NTK_ACT_SIN || L->act == NTK_ACT_COS) ? L->b * L->b : 1.0;
    for (size_t i = 0; i < COUNT(QS); i++)
        for (size_t j = 0; j < COUNT(QS); j++) {
            double q11 = QS[i], q22 = QS[j] * 0.8;
            if (bscale * fmax(q11, q22) > qmax) continue;
            for (size_t k = 0; k < COUNT(RHOS); k++) {
                double q12 = RHOS[k] * sqrt(q11) * sqrt(q22);
                dual c = eval(L, q11, q12, q22, NTK_QUAD_AUTO, 0);
                dual n = eval(L, q11, q12, q22, NTK_QUAD_NUMERIC, deg);
                double eT, eD;
                norm_err(L, q11, q22, n, c, &eT, &eD);
                if (!(eT <= worst)) worst = eT;
                if (!(eD <= worst)) worst = eD;
            }
        }
    return worst;
}

/* Every closed form agrees with the quadrature at the default degree to
 * 1e-8 (the required accuracy of the numerical path; measured ≤ 4e-9) over
 * b²q ≤ 10 (the practical range), both T and Ṫ, incl. ρ → ±1. */
static void test_closed_vs_quadrature(void **state)
{
    (void)state;
    for (size_t a = 0; a < COUNT(CLOSED); a++) {
        ntk_arch *keep = NULL;
        const ntk_layer *L = act_layer(CLOSED[a], &keep);
        double e = closed_vs_quad(L, 0, 10.0);
        print_message("%-18s closed vs quadrature (deg %d): %.2e\n", CLOSED[a], NTK_QUAD_DEFAULT_DEGREE, e);
        if (!(e <= 1e-8)) fail_msg("%s: closed form vs quadrature error %.3e > 1e-8", CLOSED[a], e);
        /* kinked ones are exact on each piece: the split makes them converge
         * to rounding at any reasonable degree */
        if (L->act == NTK_ACT_ABRELU || L->act == NTK_ACT_IDENTITY) {
            double e2 = closed_vs_quad(L, 16, 1e9);
            if (!(e2 <= 1e-13)) fail_msg("%s: kink-split quadrature error %.3e > 1e-13", CLOSED[a], e2);
        }
        ntk_arch_free(keep);
    }
}

/* The convergence test that picks the default degree: for activations
 * without a closed form, the default degree agrees with degree 80 to 1e-8
 * over q ≤ 10, and the error falls with the degree (16 → default). */
static void test_quadrature_convergence(void **state)
{
    (void)state;
    for (size_t a = 0; a < COUNT(NUMERIC_ONLY); a++) {
        ntk_arch *keep = NULL;
        const ntk_layer *L = act_layer(NUMERIC_ONLY[a], &keep);
        double e_def = 0, e16 = 0;
        for (size_t i = 0; i < COUNT(QS); i++)
            for (size_t k = 0; k < COUNT(RHOS); k++) {
                double q11 = QS[i], q22 = QS[(i + 2) % COUNT(QS)];
                double q12 = RHOS[k] * sqrt(q11) * sqrt(q22);
                dual ref = eval(L, q11, q12, q22, NTK_QUAD_NUMERIC, 80);
                dual d0 = eval(L, q11, q12, q22, NTK_QUAD_NUMERIC, 0);
                dual d16 = eval(L, q11, q12, q22, NTK_QUAD_NUMERIC, 16);
                double s = sqrt(fabs(eval(L, q11, q11, q11, NTK_QUAD_NUMERIC, 80).T *
                                     eval(L, q22, q22, q22, NTK_QUAD_NUMERIC, 80).T));
                double sd = sqrt(fabs(eval(L, q11, q11, q11, NTK_QUAD_NUMERIC, 80).D *
                                      eval(L, q22, q22, q22, NTK_QUAD_NUMERIC, 80).D));
                e_def = fmax(e_def, fmax(fabs(d0.T - ref.T) / s, fabs(d0.D - ref.D) / sd));
                e16 = fmax(e16, fmax(fabs(d16.T - ref.T) / s, fabs(d16.D - ref.D) / sd));
            }
        print_message("%-10s degree 16: %.2e  default: %.2e (vs degree 80)\n", NUMERIC_ONLY[a], e16, e_def);
        if (!(e_def <= 1e-8)) fail_msg("%s: default-degree error %.3e > 1e-8", NUMERIC_ONLY[a], e_def);
        if (!(e_def <= e16)) fail_msg("%s: no convergence (%.3e at 16, %.3e at default)", NUMERIC_ONLY[a], e16, e_def);
        ntk_arch_free(keep);
    }
}

/* φ' against a central difference of φ, away from kinks: error O(h²)
 * ≈ 1e-10·|φ'''| plus rounding ε|φ|/h ≈ 1e-11. */
static void test_derivatives(void **state)
{
    (void)state;
    const char *all[COUNT(CLOSED) + COUNT(NUMERIC_ONLY)];
    size_t n = 0;
    for (size_t i = 0; i < COUNT(CLOSED); i++) all[n++] = CLOSED[i];
    for (size_t i = 0; i < COUNT(NUMERIC_ONLY); i++) all[n++] = NUMERIC_ONLY[i];
    const double zs[] = {-3.1, -1.2, -0.4, 0.35, 0.9, 2.2, 4.5};
    for (size_t a = 0; a < n; a++) {
        ntk_arch *keep = NULL;
        const ntk_layer *L = act_layer(all[a], &keep);
        for (size_t k = 0; k < COUNT(zs); k++) {
            double z = zs[k], h = 1e-5;
            double fd = (ntk_act_eval(L, z + h) - ntk_act_eval(L, z - h)) / (2 * h);
            double d = ntk_act_deriv(L, z);
            if (!(fabs(fd - d) <= 1e-8 * fmax(1.0, fabs(d))))
                fail_msg("%s: phi'(%g) = %.12g but the central difference is %.12g", all[a], z, d, fd);
        }
        ntk_arch_free(keep);
    }
}

/* Against mpmath (40 digits): closed forms to 1e-13 (a few roundings of
 * O(1) terms, with the kernel scale as unit) plus the conditioning of the
 * angle near ρ = ±1 (below); quadrature at the default
 * degree to 1e-8 where b²q ≤ 10 and at degree 64 to 1e-11 where b²q ≤ 50. */
static void test_mpmath_duals(void **state)
{
    (void)state;
    char *path = tu_path("ref/mp/duals.tsv");
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s (made by tools/mp_reference/make_duals.py)", path);
    char line[1024];
    int rows = 0;
    double worst_closed = 0, worst_quad = 0, worst_quad64 = 0;
    if (!fgets(line, sizeof line, f)) fail_msg("%s is empty", path);
    while (fgets(line, sizeof line, f)) {
        char act[128];
        double q11, q12, q22, T, D;
        if (sscanf(line, "%127[^\t]\t%lf\t%lf\t%lf\t%lf\t%lf", act, &q11, &q12, &q22, &T, &D) != 6)
            fail_msg("%s: bad line: %s", path, line);
        ntk_arch *keep = NULL;
        const ntk_layer *L = act_layer(act, &keep);
        dual want = {T, D};
        double bscale = (L->act == NTK_ACT_ERF || L->act == NTK_ACT_SIN || L->act == NTK_ACT_COS) ? L->b * L->b : 1.0;
        double qeff = bscale * fmax(q11, q22);
        double eT, eD;
        if (ntk_act_has_closed_form(L->act)) {
            /* The angle θ = atan2(√(1−ρ²), ρ) has dθ/dρ = −1/√(1−ρ²): the
             * ~2ε rounding of ρ = q12/√(q11·q22) moves θ by 2ε/√(1−ρ²),
             * which the arc-cosine (ABReLU) forms pass on with a factor
             * (a−b)²/(2π) ≤ 1. Near ρ = ±1 that, not the formula, bounds the
             * agreement (1e-10 from 1: 2e-11). */
            double rho = q12 / sqrt(q11 * q22), one_m = (1 - fabs(rho)) * (1 + fabs(rho));
            double tol = 1e-13 + 4 * DBL_EPSILON / sqrt(fmax(one_m, DBL_EPSILON * DBL_EPSILON));
            norm_err(L, q11, q22, eval(L, q11, q12, q22, NTK_QUAD_AUTO, 0), want, &eT, &eD);
            if (!(fmax(eT, eD) <= tol))
                fail_msg("%s at (%g, %.17g, %g): closed form T err %.2e, Tdot err %.2e", act, q11, q12, q22, eT, eD);
            worst_closed = fmax(worst_closed, fmax(eT, eD));
        }
        if (qeff <= 10) {
            norm_err(L, q11, q22, eval(L, q11, q12, q22, NTK_QUAD_NUMERIC, 0), want, &eT, &eD);
            if (!(fmax(eT, eD) <= 1e-8))
                fail_msg("%s at (%g, %.17g, %g): quadrature T err %.2e, Tdot err %.2e", act, q11, q12, q22, eT, eD);
            worst_quad = fmax(worst_quad, fmax(eT, eD));
        }
        if (qeff <= 50) {
            norm_err(L, q11, q22, eval(L, q11, q12, q22, NTK_QUAD_NUMERIC, 64), want, &eT, &eD);
            if (!(fmax(eT, eD) <= 1e-11))
                fail_msg("%s at (%g, %.17g, %g): degree-64 quadrature T err %.2e, Tdot err %.2e", act, q11, q12,
                         q22, eT, eD);
            worst_quad64 = fmax(worst_quad64, fmax(eT, eD));
        }
        ntk_arch_free(keep);
        rows++;
    }
    fclose(f);
    free(path);
    print_message("mpmath duals: %d points; closed forms %.2e, quadrature %.2e (default), %.2e (deg 64)\n", rows,
                  worst_closed, worst_quad, worst_quad64);
    assert_true(rows >= 100);
}

/* Zero variance: the limit neural-tangents takes (ρ = 0): for ReLU,
 * Ṫ = 1/4·... = (a²+b²)/2 − (a−b)²/4 and T = 0; quadrature agrees. */
static void test_zero_variance(void **state)
{
    (void)state;
    ntk_arch *keep = NULL;
    const ntk_layer *L = act_layer("abrelu(-0.5,2)", &keep);
    dual c = eval(L, 0, 0, 1.3, NTK_QUAD_AUTO, 0);
    dual n = eval(L, 0, 0, 1.3, NTK_QUAD_NUMERIC, 0);
    assert_true(c.T == 0.0);
    assert_true(fabs(c.D - ((0.25 + 4) / 2 - 6.25 / 4)) <= 1e-15);
    assert_true(fabs(n.T) <= 1e-15 && fabs(n.D - c.D) <= 1e-14);
    ntk_error err;
    double T;
    assert_int_equal(ntk_act_dual(L, -1, 0, 1, NTK_QUAD_AUTO, 0, &T, NULL, &err), NTK_E_NUMERIC);
    assert_int_equal(ntk_act_dual(L, 1, NAN, 1, NTK_QUAD_AUTO, 0, &T, NULL, &err), NTK_E_NUMERIC);
    assert_int_equal(ntk_act_dual(L, 1, 0, 1, NTK_QUAD_NUMERIC, 200, &T, NULL, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "degree"));
    ntk_arch_free(keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_vs_quadrature), cmocka_unit_test(test_quadrature_convergence),
        cmocka_unit_test(test_derivatives),          cmocka_unit_test(test_mpmath_duals),
        cmocka_unit_test(test_zero_variance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
