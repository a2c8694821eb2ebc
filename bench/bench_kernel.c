/*
 * bench_kernel.c — times the analytic NTK+NNGP (ntk_kernel, the tiled fast
 * path) and its scalar reference twin (ntk_kernel_ref, the pre-tile code)
 * against the floor: the bare BLAS Gram product the kernel needs before its
 * elementwise layer recursion, on the same inputs in the same run
 * (dsyrk when X2 is omitted, dgemm for X1·X2ᵀ). Median of R runs after one
 * warm-up; prints ratios, since this machine is shared and noisy.
 *   bench_kernel [case ...]   cases: relu (3-hidden-layer ReLU, d = 784,
 *                             N = 4096), erf (5-hidden-layer erf, d = 16,
 *                             N = 8192), x2 (the relu net, 4096 × 16384),
 *                             relu1k, linear (no activation: the Gram and
 *                             the stores alone); default: relu erf x2
 *   NTK_BENCH_R=5 (runs), NTK_BENCH_REF=0 skips the reference.
 */
#include "ntk.h"
#include "kernel/kernel_internal.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int r)
{
    qsort(t, (size_t)r, sizeof *t, cmp);
    return t[r / 2];
}

static double *inputs(size_t n, size_t d, unsigned long long s)
{
    double *x = malloc(n * d * sizeof *x);
    if (!x) return NULL;
    for (size_t i = 0; i < n * d; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (double)(s >> 11) * 0x1.0p-53; /* pixel-like values in [0,1) */
    }
    return x;
}

#define RELU3 "dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu," \
              "dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5,b_std=0.05)"
#define ERF5 "dense(512,w_std=1.5,b_std=0.05),erf,dense(512,w_std=1.5,b_std=0.05),erf," \
             "dense(512,w_std=1.5,b_std=0.05),erf,dense(512,w_std=1.5,b_std=0.05),erf," \
             "dense(512,w_std=1.5,b_std=0.05),erf,dense(1,w_std=1.5,b_std=0.05)"

static int run_case(const char *name, const char *spec, size_t n1, size_t n2, size_t d, int R, int ref)
{
    ntk_arch *arch;
    ntk_error err;
    if (ntk_arch_parse(spec, &arch, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int sym = n2 == 0;
    size_t m2 = sym ? n1 : n2;
    double *x1 = inputs(n1, d, 42), *x2 = sym ? NULL : inputs(n2, d, 7);
    double *K = malloc(n1 * m2 * sizeof *K), *T = malloc(n1 * m2 * sizeof *T);
    if (!x1 || (!sym && !x2) || !K || !T) { fprintf(stderr, "out of memory\n"); return 1; }
    ntk_kernel_opts o = ntk_kernel_opts_default();
    double *tk = calloc((size_t)R, sizeof *tk), *tr = calloc((size_t)R, sizeof *tr), *tf = calloc((size_t)R, sizeof *tf);
    for (int r = -1; r < R; r++) {
        double t0 = now();
        if (ntk_kernel(arch, &o, x1, n1, x2, n2, d, K, T, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t1 = now();
        if (ref && ntk_kernel_ref(arch, &o, x1, n1, x2, n2, d, K, T, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t2 = now();
        if (sym)
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n1, (int)d, 1.0 / d, x1, (int)d, 0.0, K, (int)n1);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)d, 1.0 / d, x1, (int)d, x2,
                        (int)d, 0.0, K, (int)n2);
        double t3 = now();
        if (r >= 0) { tk[r] = t1 - t0; tr[r] = t2 - t1; tf[r] = t3 - t2; }
    }
    double k = median(tk, R), rf = median(tr, R), f = median(tf, R);
    printf("%-6s %6zu %6zu %4zu %10.4f %10.4f %10.4f %8s %9.2f %9.2f\n", name, n1, m2, d, k, ref ? rf : 0.0, f,
           sym ? "dsyrk" : "dgemm", ref ? rf / f : 0.0, k / f);
    free(tk); free(tr); free(tf);
    free(x1); free(x2); free(K); free(T);
    ntk_arch_free(arch);
    return 0;
}

int main(int argc, char **argv)
{
    const char *def[] = {"relu", "erf", "x2"};
    const char **cases = argc > 1 ? (const char **)(argv + 1) : def;
    int nc = argc > 1 ? argc - 1 : 3;
    const char *e = getenv("NTK_BENCH_R");
    int R = e ? atoi(e) : 5;
    if (R < 1) R = 1;
    e = getenv("NTK_BENCH_REF");
    int ref = e ? atoi(e) != 0 : 1;
    printf("analytic NTK+NNGP vs the BLAS Gram floor; median of %d runs; vector math: %s\n", R, ntk_vm_isa());
    printf("%-6s %6s %6s %4s %10s %10s %10s %8s %9s %9s\n", "case", "N1", "N2", "d", "fast (s)", "ref (s)",
           "floor (s)", "floor", "ref/flr", "fast/flr");
    for (int c = 0; c < nc; c++) {
        int rc = 0;
        if (!strcmp(cases[c], "relu")) rc = run_case("relu", RELU3, 4096, 0, 784, R, ref);
        else if (!strcmp(cases[c], "linear")) rc = run_case("linear", "dense(512,w_std=1.5,b_std=0.05),dense(1)", 4096, 0, 784, R, ref);
        else if (!strcmp(cases[c], "relu1k")) rc = run_case("relu1k", RELU3, 1024, 0, 784, R, ref);
        else if (!strcmp(cases[c], "erf")) rc = run_case("erf", ERF5, 8192, 0, 16, R, ref);
        else if (!strcmp(cases[c], "x2")) rc = run_case("x2", RELU3, 4096, 16384, 784, R, ref);
        else { fprintf(stderr, "unknown case '%s' (relu, relu1k, erf, x2, linear)\n", cases[c]); return 1; }
        if (rc) return rc;
        fflush(stdout);
    }
    return 0;
}
