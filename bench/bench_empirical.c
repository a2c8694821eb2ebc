/*
 * bench_empirical.c — times the empirical NTK of a 3-hidden-layer ReLU MLP
 * (width 512, d = 784) with k = 1 and k = 10 outputs:
 *   - the structured fast path (ntk_empirical_ntk), traced and full, against
 *     its BLAS floor: the per-layer Gram products it performs (dsyrk of the
 *     δ's, n × k·n_l traced or n·k × n_l full, and of the layer inputs) on
 *     random matrices of the same shapes, in the same run;
 *   - the reference (ntk_empirical_ntk_ref, J·Jᵀ), traced, against its floor
 *     (the dgemm J·Jᵀ alone, on the Jacobian from ntk_net_jacobian, whose
 *     time is printed too), at the largest N (multiple of 32, ≤ the fast
 *     path's N) whose Jacobian fits in 8 GiB.
 * Median of R runs after one warm-up for the fast path; the reference runs
 * once. Prints ratios, since this machine is shared and noisy.
 *   bench_empirical [N]      (default 1024)
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

#define R 3

static void fill(double *a, size_t n, unsigned long long seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (double)(seed >> 11) * 0x1.0p-53 - 0.5;
    }
}

/* The Gram products of the structured path on random data of the same
 * shapes: per dense layer, dsyrk of (rows × inner) δ's and of the inputs. */
static double blas_floor(size_t N, size_t k, int full, const size_t *n_in, const size_t *n_out, size_t L)
{
    size_t rows = full ? N * k : N, maxa = 0, maxh = 0;
    for (size_t l = 0; l < L; l++) {
        size_t inner = full ? n_out[l] : k * n_out[l];
        if (rows * inner > maxa) maxa = rows * inner;
        if (N * n_in[l] > maxh) maxh = N * n_in[l];
    }
    double *A = malloc(maxa * sizeof *A), *H = malloc(maxh * sizeof *H), *C = malloc(rows * rows * sizeof *C);
    double *Ch = malloc(N * N * sizeof *Ch);
    if (!A || !H || !C || !Ch) { fprintf(stderr, "out of memory\n"); exit(1); }
    fill(A, maxa, 1);
    fill(H, maxh, 2);
    double t0 = now();
    for (size_t l = 0; l < L; l++) {
        size_t inner = full ? n_out[l] : k * n_out[l];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)rows, (int)inner, 1.0, A, (int)inner, 0.0, C,
                    (int)rows);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)N, (int)n_in[l], 1.0, H, (int)n_in[l], 0.0, Ch,
                    (int)N);
    }
    double t = now() - t0;
    free(A); free(H); free(C); free(Ch);
    return t;
}

int main(int argc, char **argv)
{
    size_t N = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1024;
    const size_t d = 784, ks[2] = {1, 10};
    ntk_error err;
    printf("empirical NTK, 3-hidden-layer ReLU MLP, width 512, d = %zu, OpenBLAS threads %d\n", d,
           openblas_get_num_threads());
    printf("%-22s %6s %4s %12s %12s %8s\n", "path", "N", "k", "time (s)", "BLAS (s)", "ratio");
    for (int ik = 0; ik < 2; ik++) {
        size_t k = ks[ik];
        char spec[512];
        snprintf(spec, sizeof spec,
                 "dense(512,w_std=1.5,b_std=0.05),relu,dense(512,w_std=1.5,b_std=0.05),relu,"
                 "dense(512,w_std=1.5,b_std=0.05),relu,dense(%zu,w_std=1.5,b_std=0.05)", k);
        ntk_arch *arch;
        ntk_net *net;
        if (ntk_arch_parse(spec, &arch, &err) || ntk_net_create(arch, d, NTK_PARAM_NTK, &net, &err) ||
            ntk_net_init(net, 1, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        size_t L = ntk_net_n_dense(net), n_in[8], n_out[8], P = ntk_net_n_params(net);
        for (size_t l = 0; l < L; l++) {
            n_in[l] = ntk_net_dense(net, l)->n_in;
            n_out[l] = ntk_net_dense(net, l)->n_out;
        }
        double *x = malloc(N * d * sizeof *x), *out = malloc(N * k * N * k * sizeof *out);
        if (!x || !out) { fprintf(stderr, "out of memory\n"); return 1; }
        unsigned long long s = 42;
        for (size_t i = 0; i < N * d; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (double)(s >> 11) * 0x1.0p-53; /* pixel-like values in [0,1) */
        }
        for (int full = 0; full < 2; full++) {
            double tf[R], tb[R];
            for (int r = -1; r < R; r++) {
                double t0 = now();
                if (ntk_empirical_ntk(net, x, N, NULL, 0, full, out, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
                double t1 = now();
                double b = blas_floor(N, k, full, n_in, n_out, L);
                if (r >= 0) { tf[r] = t1 - t0; tb[r] = b; }
            }
            qsort(tf, R, sizeof *tf, cmp);
            qsort(tb, R, sizeof *tb, cmp);
            printf("%-22s %6zu %4zu %12.3f %12.3f %8.2f\n", full ? "fast, full" : "fast, traced", N, k, tf[R / 2],
                   tb[R / 2], tf[R / 2] / tb[R / 2]);
            fflush(stdout);
        }
        /* the reference at the largest N whose J (N·k × P doubles) fits in 8 GiB;
         * then its two parts: the Jacobian (public ntk_net_jacobian) and the
         * J·Jᵀ dgemm on it, and the fast path at the same N */
        size_t nr = (size_t)8 * (1u << 30) / (k * P * sizeof(double));
        if (nr > N) nr = N;
        nr -= nr % 32;
        if (nr == 0) nr = 1;
        double t0 = now();
        if (ntk_empirical_ntk_ref(net, x, nr, NULL, 0, 0, out, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double tref = now() - t0;
        double *J = malloc(nr * k * P * sizeof *J);
        if (!J) { fprintf(stderr, "out of memory\n"); return 1; }
        t0 = now();
        if (ntk_net_jacobian(net, x, nr, J, 0, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double tjac = now() - t0;
        t0 = now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)nr, (int)(k * P), 1.0, J, (int)(k * P), J,
                    (int)(k * P), 0.0, out, (int)nr);
        double tgemm = now() - t0;
        free(J);
        double tf[R];
        for (int r = -1; r < R; r++) {
            t0 = now();
            if (ntk_empirical_ntk(net, x, nr, NULL, 0, 0, out, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
            if (r >= 0) tf[r] = now() - t0;
        }
        qsort(tf, R, sizeof *tf, cmp);
        printf("%-22s %6zu %4zu %12.3f %12.3f %8.2f   (J: %.2f GiB, built in %.3f s; ref/fast %.0fx)\n",
               "reference, traced", nr, k, tref, tgemm, tref / tgemm, (double)(nr * k * P * sizeof(double)) / (1u << 30),
               tjac, tref / tf[R / 2]);
        if (nr != N) printf("%-22s %6zu %4zu %12.3f\n", "fast, traced", nr, k, tf[R / 2]);
        fflush(stdout);
        free(x);
        free(out);
        ntk_net_free(net);
        ntk_arch_free(arch);
    }
    return 0;
}
