/*
 * test_kernel_fast.c — the tiled fast path of ntk_kernel (src/kernel/tile.c,
 * vmath.c) against its references:
 *   - the vector atan2/exp (SLEEF u10) against long-double libm over the
 *     whole input range, random and edge inputs: max error ≤ NTK_VM_ULP;
 *   - ntk_kernel vs ntk_kernel_ref (the scalar per-entry loop) on fresh
 *     random inputs for every closed-form activation, both
 *     parameterizations, X2 given and omitted, and the diagonal mode;
 *   - exact self-pairs (ρ = 1: the full kernel's diagonal equals the
 *     diagonal mode bit for bit) and bitwise 1- vs 2-thread results;
 *   - overflow reported like the reference.
 * The seed is printed; NTK_TEST_SEED=<n> repeats a run.
 */
#include "testutil.h"
#include "kernel/kernel_internal.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static uint64_t seed;

/* error of a double result in units of the last place of the (long double)
 * exact value rounded to double; an overflowed exact value counts on the
 * scale of DBL_MAX's ulp, and Inf = Inf. */
static double ulp_err(double got, long double ref)
{
    if (isnan(got) || isnanl(ref)) return isnan(got) && isnanl(ref) ? 0 : INFINITY;
    if (isinf(got) && (ref > (long double)DBL_MAX || ref < -(long double)DBL_MAX))
        return (got > 0) == (ref > 0) ? 0 : INFINITY;
    double r = (double)ref;
    double a = fabs(r);
    if (isinf(r)) a = DBL_MAX;
    double u = a < DBL_MIN ? 0x1p-1074 : nextafter(a, INFINITY) - a;
    if (isinf(u)) u = DBL_MAX - nextafter(DBL_MAX, 0);
    return (double)(fabsl((long double)got - ref) / u);
}

/* a random double with a random exponent over the full range (and sign) */
static double wide(tu_rng *r)
{
    double m = 1 + tu_uniform(r);
    int e = (int)(tu_uniform(r) * 2098) - 1074;
    double v = ldexp(m, e);
    return tu_uniform(r) < 0.5 ? -v : v;
}

#define NV 4096

typedef void (*vm2_fn)(size_t, const double *, const double *, double *);
typedef void (*vm1_fn)(size_t, const double *, double *);

static void atan2_ulp(vm2_fn fn, const char *name)
{
    tu_rng r = {seed};
    double *y = malloc(NV * sizeof *y), *x = malloc(NV * sizeof *x), *o = malloc(NV * sizeof *o);
    const double edge[] = {0.0, -0.0, 0x1p-1074, -0x1p-1074, DBL_MIN, -DBL_MIN, DBL_MAX, -DBL_MAX, 1.0, -1.0,
                           0x1p-30, 1 - 0x1p-53, -(1 - 0x1p-53), 1 + 0x1p-52, 1e300, 1e-300, INFINITY, -INFINITY};
    size_t ne = sizeof edge / sizeof *edge;
    double worst = 0;
    for (int round = 0; round < 64; round++) {
        for (size_t i = 0; i < NV; i++) {
            int kind = round % 4;
            if (kind == 0) { /* full range */
                y[i] = wide(&r);
                x[i] = wide(&r);
            } else if (kind == 1) { /* the ReLU/GELU angle: atan2(√((1−ρ)(1+ρ)), ρ), ρ near ±1 */
                double e = ldexp(tu_uniform(&r), -(int)(tu_uniform(&r) * 60));
                double rho = tu_uniform(&r) < 0.5 ? 1 - e : -1 + e;
                if (tu_uniform(&r) < 0.2) rho = 2 * tu_uniform(&r) - 1;
                x[i] = rho;
                y[i] = sqrt((1 - rho) * (1 + rho));
            } else if (kind == 2) { /* the erf asin: atan2(2p12, √den), ratio near ±1 */
                double s = 1 + 100 * tu_uniform(&r);
                double e = ldexp(tu_uniform(&r), -(int)(tu_uniform(&r) * 60));
                x[i] = s;
                y[i] = (tu_uniform(&r) < 0.5 ? 1 : -1) * s * (1 - e) * 1e3 * tu_uniform(&r);
            } else { /* edges against everything */
                y[i] = edge[(size_t)(tu_uniform(&r) * ne)];
                x[i] = tu_uniform(&r) < 0.5 ? edge[(size_t)(tu_uniform(&r) * ne)] : wide(&r);
                if (tu_uniform(&r) < 0.5) { double t = x[i]; x[i] = y[i]; y[i] = t; }
            }
        }
        fn(NV, y, x, o);
        for (size_t i = 0; i < NV; i++) {
            double e = ulp_err(o[i], atan2l(y[i], x[i]));
            /* atan2 of zeros: the sign conventions, exactly */
            if (y[i] == 0 || isinf(y[i]) || isinf(x[i]))
                if (!(o[i] == atan2(y[i], x[i]) && signbit(o[i]) == signbit(atan2(y[i], x[i]))))
                    fail_msg("atan2(%a, %a) = %a, libm %a", y[i], x[i], o[i], atan2(y[i], x[i]));
            if (e > worst) worst = e;
            if (!(e <= NTK_VM_ULP)) fail_msg("atan2(%a, %a) = %a: %.3g ulp", y[i], x[i], o[i], e);
        }
    }
    printf("vector atan2 (%s): max error %.3f ulp over %d inputs (bound %.1f)\n", name, worst, 64 * NV,
           NTK_VM_ULP);
    free(y); free(x); free(o);
}

static void exp_ulp(vm1_fn fn, const char *name)
{
    tu_rng r = {seed ^ 0x9e3779b97f4a7c15ull};
    double *x = malloc(NV * sizeof *x), *o = malloc(NV * sizeof *o);
    const double edge[] = {0.0, -0.0, 0x1p-1074, -0x1p-1074, 1.0, -1.0, 709.78, 709.79, -708.39, -708.4, -745.13,
                           -745.14, -1e300, 1e300, -INFINITY, INFINITY, 0x1p-60, -0x1p-60};
    size_t ne = sizeof edge / sizeof *edge;
    double worst = 0;
    for (int round = 0; round < 64; round++) {
        for (size_t i = 0; i < NV; i++) {
            int kind = round % 4;
            if (kind == 0) x[i] = -760 * tu_uniform(&r);            /* the kernel's range: x ≤ 0 */
            else if (kind == 1) x[i] = 1420 * tu_uniform(&r) - 710; /* full finite range */
            else if (kind == 2) x[i] = wide(&r);
            else x[i] = edge[(size_t)(tu_uniform(&r) * ne)];
        }
        fn(NV, x, o);
        for (size_t i = 0; i < NV; i++) {
            double e = ulp_err(o[i], expl(x[i]));
            if (e > worst) worst = e;
            if (!(e <= NTK_VM_ULP)) fail_msg("exp(%a) = %a: %.3g ulp", x[i], o[i], e);
        }
    }
    printf("vector exp (%s): max error %.3f ulp over %d inputs (bound %.1f)\n", name, worst, 64 * NV,
           NTK_VM_ULP);
    free(x); free(o);
}

/* acos over [−1, 1]: uniform, clustered at ±1 (the ReLU angle of nearly
 * parallel inputs: 1 − 2⁻ᵏ up to k = 60), tiny arguments, and the edges;
 * outside [−1, 1] and NaN give NaN. */
static void acos_ulp(vm1_fn fn, const char *name)
{
    tu_rng r = {seed ^ 0x7f4a7c159e3779b9ull};
    double *x = malloc(NV * sizeof *x), *o = malloc(NV * sizeof *o);
    const double edge[] = {0.0, -0.0, 1.0, -1.0, 1 - 0x1p-53, -(1 - 0x1p-53), 0.5, -0.5, 0x1p-1074, -0x1p-1074,
                           0x1p-30, 1 + 0x1p-52, -1 - 0x1p-52, 2.0, INFINITY, -INFINITY, NAN};
    size_t ne = sizeof edge / sizeof *edge;
    double worst = 0;
    for (int round = 0; round < 64; round++) {
        for (size_t i = 0; i < NV; i++) {
            int kind = round % 4;
            double e = ldexp(tu_uniform(&r), -(int)(tu_uniform(&r) * 60));
            if (kind == 0) x[i] = 2 * tu_uniform(&r) - 1;
            else if (kind == 1) x[i] = tu_uniform(&r) < 0.5 ? 1 - e : -1 + e;
            else if (kind == 2) x[i] = tu_uniform(&r) < 0.5 ? e : -e;
            else x[i] = edge[(size_t)(tu_uniform(&r) * ne)];
        }
        fn(NV, x, o);
        for (size_t i = 0; i < NV; i++) {
            if (!(fabs(x[i]) <= 1)) {
                if (!isnan(o[i])) fail_msg("acos(%a) = %a, not NaN", x[i], o[i]);
                continue;
            }
            double e = ulp_err(o[i], acosl(x[i]));
            if (e > worst) worst = e;
            if (!(e <= NTK_VM_ULP)) fail_msg("acos(%a) = %a: %.3g ulp", x[i], o[i], e);
        }
    }
    printf("vector acos (%s): max error %.3f ulp over %d inputs (bound %.1f)\n", name, worst, 64 * NV,
           NTK_VM_ULP);
    free(x); free(o);
}

static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int have_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/* the dispatching entry points, and every variant this CPU can run */
static void test_vm_atan2_ulp(void **state)
{
    (void)state;
    atan2_ulp(ntk_vm_atan2, ntk_vm_isa());
    atan2_ulp(ntk_vm_atan2_sse2, "2-lane variant");
    if (have_avx2()) atan2_ulp(ntk_vm_atan2_avx2, "AVX2 variant");
    if (have_avx512()) atan2_ulp(ntk_vm_atan2_avx512, "AVX-512 variant");
}

static void test_vm_acos_ulp(void **state)
{
    (void)state;
    acos_ulp(ntk_vm_acos, ntk_vm_isa());
    acos_ulp(ntk_vm_acos_sse2, "2-lane variant");
    if (have_avx2()) acos_ulp(ntk_vm_acos_avx2, "AVX2 variant");
    if (have_avx512()) acos_ulp(ntk_vm_acos_avx512, "AVX-512 variant");
}

static void test_vm_exp_ulp(void **state)
{
    (void)state;
    exp_ulp(ntk_vm_exp, ntk_vm_isa());
    exp_ulp(ntk_vm_exp_sse2, "2-lane variant");
    if (have_avx2()) exp_ulp(ntk_vm_exp_avx2, "AVX2 variant");
    if (have_avx512()) exp_ulp(ntk_vm_exp_avx512, "AVX-512 variant");
}

/* ---- fast vs reference kernels ---------------------------------------- */

static const char *specs[] = {
    "dense(64,w_std=1.5,b_std=0.1),relu,dense(64,w_std=1.4,b_std=0.2),relu,dense(1,w_std=1.3,b_std=0.1)",
    "dense(64,w_std=1.2),leaky_relu(alpha=0.2),dense(64,w_std=1.1,b_std=0.3),abs,dense(3,b_std=0.5)",
    "dense(64,w_std=1.3,b_std=0.2),abrelu(a=-0.4,b=1.3),dense(1)",
    "dense(64,w_std=1.5,b_std=0.05),erf,dense(64,w_std=1.5,b_std=0.05),erf(a=1.5,b=0.7,c=0.2),dense(1)",
    "dense(64,w_std=2.0,b_std=0.1),sigmoid_like,dense(64),sigmoid_like,dense(1,b_std=0.2)",
    "dense(64,w_std=1.1,b_std=0.1),sin(a=1.2,b=0.9,c=0.3),dense(64,w_std=1.2),cos,dense(1)",
    "dense(64,w_std=1.4,b_std=0.1),gelu,dense(64,w_std=1.3,b_std=0.2),gelu,dense(1)",
    "dense(64,w_std=1.2,b_std=0.3),identity,dense(64,w_std=0.9),relu,dense(1)",
    "dense(64,w_std=1.5,b_std=0.05),relu,dense(64,w_std=1.5,b_std=0.05),erf,dense(64),gelu,"
    "dense(64),sin,dense(64),relu,dense(1,w_std=1.5,b_std=0.05)",
};
#define NSPEC (sizeof specs / sizeof *specs)

static ntk_arch *parse(const char *spec)
{
    ntk_arch *a = NULL;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) fail_msg("%s: %s", spec, err.msg);
    return a;
}

/* Worst |fast − ref| / (tol·√(ref(x,x)·ref(x',x'))) over the entries: the
 * error on the scale of the kernel (Cauchy–Schwarz bounds every entry by
 * it). Returns the worst error/scale. */
static double scaled_err(const double *f, const double *r, size_t n1, size_t n2, const double *d1,
                         const double *d2)
{
    double worst = 0;
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++) {
            double sc = sqrt(fabs(d1[i]) * fabs(d2[j]));
            if (sc == 0) sc = DBL_MIN;
            double e = fabs(f[i * n2 + j] - r[i * n2 + j]) / sc;
            if (!(e <= worst)) worst = e;
        }
    return worst;
}

/* One spec/param/shape: fast vs ref for K and Θ, X2 given or omitted, and
 * the diagonal mode; and the full kernel's diagonal = the diagonal mode,
 * bitwise. Returns the worst scaled error. */
static double compare_one(const char *spec, ntk_param param, size_t n1, size_t n2, size_t d, tu_rng *r)
{
    ntk_arch *arch = parse(spec);
    ntk_kernel_opts o = ntk_kernel_opts_default();
    o.param = param;
    ntk_error err;
    double *x1 = malloc(n1 * d * sizeof *x1), *x2 = malloc(n2 * d * sizeof *x2);
    tu_fill_normal(r, x1, n1 * d, 1.0);
    tu_fill_normal(r, x2, n2 * d, 1.0);
    memcpy(x2 + 3 * d, x1 + 2 * d, d * sizeof *x1); /* a point in both sets */
    memset(x1 + 5 * d, 0, d * sizeof *x1);          /* a zero-variance point (ρ = 0 convention) */
    size_t nm = n1 * (n1 > n2 ? n1 : n2);
    double *kf = malloc(nm * sizeof *kf), *tf = malloc(nm * sizeof *tf);
    double *kr = malloc(nm * sizeof *kr), *tr = malloc(nm * sizeof *tr);
    double *dk1 = malloc(n1 * sizeof *dk1), *dt1 = malloc(n1 * sizeof *dt1);
    double *dk2 = malloc(n2 * sizeof *dk2), *dt2 = malloc(n2 * sizeof *dt2);
    double *fk = malloc(n1 * sizeof *fk), *ft = malloc(n1 * sizeof *ft);
    double worst = 0;

    /* diagonal mode: references for the scale, and fast vs ref */
    ntk_kernel_opts od = o;
    od.diag = 1;
    if (ntk_kernel_ref(arch, &od, x1, n1, NULL, 0, d, dk1, dt1, &err)) fail_msg("%s", err.msg);
    if (ntk_kernel_ref(arch, &od, x2, n2, NULL, 0, d, dk2, dt2, &err)) fail_msg("%s", err.msg);
    if (ntk_kernel(arch, &od, x1, n1, NULL, 0, d, fk, ft, &err)) fail_msg("%s", err.msg);
    for (size_t i = 0; i < n1; i++) {
        worst = fmax(worst, fabs(fk[i] - dk1[i]) / fmax(fabs(dk1[i]), DBL_MIN));
        worst = fmax(worst, fabs(ft[i] - dt1[i]) / fmax(fabs(dt1[i]), DBL_MIN));
    }

    /* X2 omitted */
    if (ntk_kernel(arch, &o, x1, n1, NULL, 0, d, kf, tf, &err)) fail_msg("%s", err.msg);
    if (ntk_kernel_ref(arch, &o, x1, n1, NULL, 0, d, kr, tr, &err)) fail_msg("%s", err.msg);
    worst = fmax(worst, scaled_err(kf, kr, n1, n1, dk1, dk1));
    worst = fmax(worst, scaled_err(tf, tr, n1, n1, dt1, dt1));
    /* A point with itself: the fast path starts a self-pair, the per-point
     * variances and the diagonal mode from the same K⁰ (ddot), so ρ = 1
     * exactly and the full kernel's diagonal is the diagonal mode's bit for
     * bit (ρ = 1 − 2⁻⁵³ would move a ReLU NTK by ~1e-9). For nets of
     * ABReLU/identity only, every operation at ρ = 1 (acos(1) = 0,
     * products) is also the reference's, so the diagonal modes agree too. */
    int homog = !strstr(spec, "erf") && !strstr(spec, "sigmoid") && !strstr(spec, "sin") &&
                !strstr(spec, "cos") && !strstr(spec, "gelu");
    for (size_t i = 0; i < n1; i++) {
        if (kf[i * n1 + i] != fk[i] || tf[i * n1 + i] != ft[i])
            fail_msg("%s: self-pair %zu: K %a vs diag %a, NTK %a vs %a", spec, i, kf[i * n1 + i], fk[i],
                     tf[i * n1 + i], ft[i]);
        if (homog && (fk[i] != dk1[i] || ft[i] != dt1[i]))
            fail_msg("%s: diag %zu: K %a vs ref %a, NTK %a vs %a", spec, i, fk[i], dk1[i], ft[i], dt1[i]);
        for (size_t j = 0; j < i; j++)
            if (kf[i * n1 + j] != kf[j * n1 + i] || tf[i * n1 + j] != tf[j * n1 + i])
                fail_msg("%s: not exactly symmetric at (%zu,%zu)", spec, i, j);
    }

    /* X2 given; NNGP only and NTK only too */
    if (ntk_kernel(arch, &o, x1, n1, x2, n2, d, kf, tf, &err)) fail_msg("%s", err.msg);
    if (ntk_kernel_ref(arch, &o, x1, n1, x2, n2, d, kr, tr, &err)) fail_msg("%s", err.msg);
    worst = fmax(worst, scaled_err(kf, kr, n1, n2, dk1, dk2));
    worst = fmax(worst, scaled_err(tf, tr, n1, n2, dt1, dt2));
    /* the shared point: K⁰ from the same ddot as the diagonal mode, so the
     * same operations on the same values: bitwise the diagonal mode's */
    if (kf[2 * n2 + 3] != fk[2] || tf[2 * n2 + 3] != ft[2])
        fail_msg("%s: the shared point: K %a vs diag %a", spec, kf[2 * n2 + 3], fk[2]);
    double *k1 = malloc(n1 * n2 * sizeof *k1);
    if (ntk_kernel(arch, &o, x1, n1, x2, n2, d, k1, NULL, &err)) fail_msg("%s", err.msg);
    if (memcmp(k1, kf, n1 * n2 * sizeof *k1)) fail_msg("%s: NNGP alone differs from NNGP with NTK", spec);
    if (ntk_kernel(arch, &o, x1, n1, x2, n2, d, NULL, k1, &err)) fail_msg("%s", err.msg);
    if (memcmp(k1, tf, n1 * n2 * sizeof *k1)) fail_msg("%s: NTK alone differs from NTK with NNGP", spec);

    free(k1); free(x1); free(x2); free(kf); free(tf); free(kr); free(tr);
    free(dk1); free(dt1); free(dk2); free(dt2); free(fk); free(ft);
    ntk_arch_free(arch);
    return worst;
}

/* Tolerance: each layer (dense or activation) adds a few ulp relative to
 * the kernel scale (atan2/exp ≤ 1 ulp each side, erf's c² formed without
 * the root, the rounding of a handful of products), and the recursion
 * carries earlier errors forward with a Lipschitz constant ≈ 1 on that
 * scale away from ρ = ±1: 64·L·ε for L layers. */
static void test_fast_vs_ref(void **state)
{
    (void)state;
    tu_rng r = {seed ^ 0x1234567ull};
    /* tails; > 1 tile; the second > 1 row block of GB_R = 512 (kernel.c) and > 1 mirrored block */
    const size_t shapes[][3] = {{37, 53, 5}, {530, 41, 7}};
    for (size_t s = 0; s < NSPEC; s++) {
        ntk_arch *a = parse(specs[s]);
        double tol = 64.0 * (double)ntk_arch_n_layers(a) * DBL_EPSILON;
        ntk_arch_free(a);
        for (int param = 0; param < 2; param++)
            for (size_t sh = 0; sh < 2; sh++) {
                double w = compare_one(specs[s], (ntk_param)param, shapes[sh][0], shapes[sh][1], shapes[sh][2], &r);
                printf("%-40.40s %-8s %3zux%-3zu worst %.2e (tol %.1e)\n", specs[s], param ? "standard" : "ntk",
                       shapes[sh][0], shapes[sh][1], w, tol);
                if (!(w <= tol)) fail_msg("%s: fast vs ref %.3g > %.3g", specs[s], w, tol);
            }
    }
}

static void set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
}

/* 1, 2 and 3 threads, bitwise (blocked BLAS + independent entries). */
static void test_threads_bitwise(void **state)
{
    (void)state;
    tu_rng r = {seed ^ 0xabcdefull};
    size_t n1 = 1100, n2 = 150, d = 20; /* 3 row blocks of 512 (kernel.c) */
    double *x1 = malloc(n1 * d * sizeof *x1), *x2 = malloc(n2 * d * sizeof *x2);
    tu_fill_normal(&r, x1, n1 * d, 1.0);
    tu_fill_normal(&r, x2, n2 * d, 1.0);
    double *k[3], *t[3], *kx[3], *tx[3];
    for (size_t s = 0; s < NSPEC; s++) {
        ntk_arch *arch = parse(specs[s]);
        for (int c = 0; c < 3; c++) {
            set_threads(c + 1);
            ntk_kernel_opts o = ntk_kernel_opts_default();
            o.threads = c + 1;
            ntk_error err;
            k[c] = malloc(n1 * n1 * sizeof(double)); t[c] = malloc(n1 * n1 * sizeof(double));
            kx[c] = malloc(n1 * n2 * sizeof(double)); tx[c] = malloc(n1 * n2 * sizeof(double));
            if (ntk_kernel(arch, &o, x1, n1, NULL, 0, d, k[c], t[c], &err)) fail_msg("%s", err.msg);
            if (ntk_kernel(arch, &o, x1, n1, x2, n2, d, kx[c], tx[c], &err)) fail_msg("%s", err.msg);
        }
        for (int c = 1; c < 3; c++)
            if (memcmp(k[0], k[c], n1 * n1 * sizeof(double)) || memcmp(t[0], t[c], n1 * n1 * sizeof(double)) ||
                memcmp(kx[0], kx[c], n1 * n2 * sizeof(double)) || memcmp(tx[0], tx[c], n1 * n2 * sizeof(double)))
                fail_msg("%s: 1 and %d threads differ", specs[s], c + 1);
        for (int c = 0; c < 3; c++) { free(k[c]); free(t[c]); free(kx[c]); free(tx[c]); }
        ntk_arch_free(arch);
    }
    set_threads(2);
    free(x1); free(x2);
}

/* An overflow deep in the recursion: the same error, same entry, as the ref. */
static void test_overflow_reported(void **state)
{
    (void)state;
    char spec[8192] = ""; /* K grows ×5000 a layer: Inf after ~85 */
    for (int l = 0; l < 120; l++) strcat(spec, "dense(8,w_std=100),relu,");
    strcat(spec, "dense(1)");
    ntk_arch *arch = parse(spec);
    tu_rng r = {seed};
    double x[3 * 4], K[9], T[9];
    tu_fill_normal(&r, x, 12, 1.0);
    ntk_kernel_opts o = ntk_kernel_opts_default();
    ntk_error e1, e2;
    ntk_status s1 = ntk_kernel(arch, &o, x, 3, NULL, 0, 4, K, T, &e1);
    ntk_status s2 = ntk_kernel_ref(arch, &o, x, 3, NULL, 0, 4, K, T, &e2);
    assert_int_equal(s1, NTK_E_NUMERIC);
    assert_int_equal(s2, NTK_E_NUMERIC);
    assert_string_equal(e1.msg, e2.msg);
    ntk_arch_free(arch);
}

int main(void)
{
    const char *e = getenv("NTK_TEST_SEED");
    seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
    printf("test_kernel_fast: seed %llu (NTK_TEST_SEED to repeat)\n", (unsigned long long)seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_atan2_ulp),
        cmocka_unit_test(test_vm_exp_ulp),
        cmocka_unit_test(test_vm_acos_ulp),
        cmocka_unit_test(test_fast_vs_ref),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_overflow_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
