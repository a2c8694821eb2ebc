/*
 * test_compare.c — the equivalence experiment (ntk_compare) on a small case:
 *   - the linearized model and the own-kernel (Θ̂0) closed-form prediction
 *     agree to rounding (both are GD on the same linear model);
 *   - averaged over seeds, the gaps network–linearization and
 *     network–analytic-NTK prediction and the kernel drift decrease with
 *     width, and the fitted log–log slope of the drift lies in [−0.8, −0.3]
 *     (theory: −1/2);
 *   - argument errors.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NTR 8
#define NTE 32

static void circle(double *x, double *y, size_t n, double phase)
{
    for (size_t i = 0; i < n; i++) {
        double g = 2 * M_PI * ((double)i + phase) / (double)n;
        x[2 * i] = cos(g);
        x[2 * i + 1] = sin(g);
        y[i] = cos(g) * sin(g) + 0.5 * cos(g);
    }
}

static double slope(const double *w, const double *q, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double lx = log(w[i]), ly = log(q[i]);
        sx += lx; sy += ly; sxx += lx * lx; sxy += lx * ly;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

static void test_small_case(void **state)
{
    (void)state;
    double x[NTR * 2], y[NTR], xt[NTE * 2], yt[NTE];
    circle(x, y, NTR, 0.3);
    circle(xt, yt, NTE, 0.0);
    ntk_arch *arch = NULL;
    ntk_error err;
    assert_int_equal(ntk_arch_parse("dense(8,w_std=1.4,b_std=0.1),relu,dense(8,w_std=1.4,b_std=0.1),relu,"
                                    "dense(1,w_std=1.4,b_std=0.1)", &arch, &err), NTK_OK);
    const size_t widths[3] = {128, 512, 2048};
    const int S = 3;
    double lin[3] = {0}, ntk[3] = {0}, drift[3] = {0};
    for (int seed = 0; seed < S; seed++) {
        ntk_compare_opts o = ntk_compare_opts_default();
        o.widths = widths;
        o.n_widths = 3;
        o.steps = 200;
        o.seed = (uint64_t)seed;
        ntk_compare_result *R = NULL;
        if (ntk_compare(arch, &o, x, NTR, 2, y, 1, xt, NTE, yt, &R, &err)) fail_msg("%s", err.msg);
        assert_int_equal(R->n_widths, 3);
        assert_int_equal(R->n_checkpoints, 3); /* 2, 20, 200 */
        assert_int_equal(R->checkpoints[2], 200);
        assert_true(R->lr > 0 && R->lr < R->lr_max);
        for (size_t i = 0; i < R->n_widths * R->n_checkpoints; i++) {
            const ntk_compare_row *r = &R->rows[i];
            /* GD on the linearized model = the discrete closed form with Θ̂0:
             * the two differ only by rounding through ≤ 200 steps */
            assert_true(fabs(r->test_lin - r->test_kernel) <= 1e-9 * fabs(r->test_kernel) + 1e-15);
            assert_true(r->gap_lin > 0 && fabs(r->gap_lin - r->gap_kernel) <= 1e-6 * r->gap_lin);
            assert_true(isfinite(r->drift) && r->drift > 0);
        }
        for (int w = 0; w < 3; w++) {
            const ntk_compare_row *r = &R->rows[w * R->n_checkpoints + R->n_checkpoints - 1];
            lin[w] += r->gap_lin / S;
            ntk[w] += r->gap_ntk / S;
            drift[w] += r->drift / S;
        }
        /* the loss curves were recorded for every step and decrease overall */
        for (size_t w = 0; w < 3; w++) assert_true(R->loss_net[w * 201 + 200] < R->loss_net[w * 201 + 0]);
        assert_true(R->loss_inf[200] < R->loss_inf[0]);
        ntk_compare_free(R);
    }
    double wd[3] = {128, 512, 2048};
    double sd = slope(wd, drift, 3), sl = slope(wd, lin, 3), sn = slope(wd, ntk, 3);
    print_message("mean over %d seeds: net-lin %.3e %.3e %.3e (slope %.2f); net-ntk %.3e %.3e %.3e (slope %.2f); "
                  "drift %.3e %.3e %.3e (slope %.2f)\n",
                  S, lin[0], lin[1], lin[2], sl, ntk[0], ntk[1], ntk[2], sn, drift[0], drift[1], drift[2], sd);
    for (int w = 0; w < 2; w++) {
        assert_true(lin[w + 1] < lin[w]);
        assert_true(ntk[w + 1] < ntk[w]);
        assert_true(drift[w + 1] < drift[w]);
    }
    assert_true(sd >= -0.8 && sd <= -0.3);
    ntk_arch_free(arch);
}

static void test_errors(void **state)
{
    (void)state;
    double x[NTR * 2], y[NTR], xt[NTE * 2], yt[NTE];
    circle(x, y, NTR, 0.3);
    circle(xt, yt, NTE, 0.0);
    ntk_arch *arch = NULL;
    ntk_error err;
    assert_int_equal(ntk_arch_parse("dense(8),erf,dense(1)", &arch, &err), NTK_OK);
    ntk_compare_opts o = ntk_compare_opts_default();
    const size_t widths[1] = {16};
    o.widths = widths;
    o.n_widths = 1;
    o.steps = 10;
    ntk_compare_result *R = NULL;
    size_t bad_cp[2] = {5, 3};
    o.checkpoints = bad_cp;
    o.n_checkpoints = 2;
    assert_int_equal(ntk_compare(arch, &o, x, NTR, 2, y, 1, xt, NTE, yt, &R, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "increase"));
    size_t far_cp[1] = {11};
    o.checkpoints = far_cp;
    o.n_checkpoints = 1;
    assert_int_equal(ntk_compare(arch, &o, x, NTR, 2, y, 1, xt, NTE, yt, &R, &err), NTK_E_INVAL);
    assert_non_null(strstr(err.msg, "checkpoint 11"));
    o.checkpoints = NULL;
    o.n_checkpoints = 0;
    y[3] = NAN;
    assert_int_equal(ntk_compare(arch, &o, x, NTR, 2, y, 1, xt, NTE, yt, &R, &err), NTK_E_NUMERIC);
    assert_non_null(strstr(err.msg, "Y: row 4"));
    assert_null(R);
    ntk_arch_free(arch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_case),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
