/*
 * bench_kernel.c — times the analytic NTK+NNGP (ntk_kernel) of a
 * 3-hidden-layer ReLU network, d = 784, against the floor: the bare BLAS
 * Gram product X·Xᵀ (dsyrk, what the kernel needs before its elementwise
 * layer recursion) on the same inputs in the same run. Median of R runs
 * after one warm-up; prints ratios, since this machine is shared and noisy.
 *   bench_kernel [N ...]      (default: 1024 4096)
 */
#include "ntk.h"

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

#define R 5

int main(int argc, char **argv)
{
    size_t ns[8] = {1024, 4096};
    int nn = 2;
    if (argc > 1) {
        nn = 0;
        for (int i = 1; i < argc && nn < 8; i++) ns[nn++] = (size_t)strtoul(argv[i], NULL, 10);
    }
    const size_t d = 784;
    const char *spec = "dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu,"
                       "dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5,b_std=0.05)";
    ntk_arch *arch;
    ntk_error err;
    if (ntk_arch_parse(spec, &arch, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("analytic NTK+NNGP, 3-hidden-layer ReLU, d = %zu, median of %d runs\n", d, R);
    printf("%6s %12s %12s %12s %10s\n", "N", "ntk (s)", "dsyrk (s)", "dgemm (s)", "ntk/dsyrk");
    for (int k = 0; k < nn; k++) {
        size_t N = ns[k];
        double *x = malloc(N * d * sizeof *x), *K = malloc(N * N * sizeof *K), *T = malloc(N * N * sizeof *T);
        if (!x || !K || !T) { fprintf(stderr, "out of memory\n"); return 1; }
        unsigned long long s = 42;
        for (size_t i = 0; i < N * d; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (double)(s >> 11) * 0x1.0p-53; /* pixel-like values in [0,1) */
        }
        ntk_kernel_opts o = ntk_kernel_opts_default();
        double tk[R], ts[R], tg[R];
        for (int r = -1; r < R; r++) {
            double t0 = now();
            if (ntk_kernel(arch, &o, x, N, NULL, 0, d, K, T, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
            double t1 = now();
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)N, (int)d, 1.0 / d, x, (int)d, 0.0, K, (int)N);
            double t2 = now();
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)N, (int)d, 1.0 / d, x, (int)d, x,
                        (int)d, 0.0, K, (int)N);
            double t3 = now();
            if (r >= 0) { tk[r] = t1 - t0; ts[r] = t2 - t1; tg[r] = t3 - t2; }
        }
        qsort(tk, R, sizeof *tk, cmp);
        qsort(ts, R, sizeof *ts, cmp);
        qsort(tg, R, sizeof *tg, cmp);
        printf("%6zu %12.4f %12.4f %12.4f %10.2f\n", N, tk[R / 2], ts[R / 2], tg[R / 2], tk[R / 2] / ts[R / 2]);
        free(x); free(K); free(T);
    }
    ntk_arch_free(arch);
    return 0;
}
