/*
 * bench_train.c — times full-batch gradient descent (ntk_train) and GD on
 * the linearization (ntk_train_linear) of a 2-hidden-layer ReLU MLP on
 * N = 4096 random inputs, d = 784, k = 1, against the floor: the bare BLAS
 * dgemms one step needs, with the same shapes, in the same run.
 *   network step:    forward Z = H Wᵀ per layer, backward ∂W = Δᵀ H per
 *                    layer and ∂H = Δ W for all but the first;
 *   linearized step: the JVP (H Ẇᵀ per layer, Ḣ W0ᵀ for all but the first;
 *                    the forward pass at θ0 is reused across full-batch
 *                    steps) plus the same backward.
 * Everything else (activations, loss, the θ update) is what the ratio
 * measures. Median of R runs of the dgemm set; the training is one run of
 * `steps` steps. The machine is shared and noisy: read the ratios.
 *   bench_train [steps [width ...]]     (default: 100 1024 64)
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

/* C (m × n) = A (m × kk) · B (n × kk)ᵀ or variants, as in net.c. */
static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t m, size_t n, size_t kk, const double *A,
                 const double *B, double *C)
{
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)kk, 1.0, A, ta == CblasNoTrans ? (int)kk : (int)m, B,
                tb == CblasNoTrans ? (int)n : (int)kk, 0.0, C, (int)n);
}

/* The dgemms of one step with the shapes of `net` on N rows; linear = 1
 * for the linearized model. Buffers are big enough for any layer. */
static double blas_floor(const ntk_net *net, size_t N, int linear, double *A, double *B, double *C)
{
    size_t L = ntk_net_n_dense(net);
    double t[R];
    for (int r = -1; r < R; r++) {
        double t0 = now();
        for (size_t l = 0; l < L; l++) {
            const ntk_dense_info *D = ntk_net_dense(net, l);
            gemm(CblasNoTrans, CblasTrans, N, D->n_out, D->n_in, A, B, C);  /* H Wᵀ (or H Ẇᵀ) */
            if (linear && l > 0) gemm(CblasNoTrans, CblasTrans, N, D->n_out, D->n_in, A, B, C); /* Ḣ W0ᵀ */
        }
        for (size_t l = L; l-- > 0;) {
            const ntk_dense_info *D = ntk_net_dense(net, l);
            gemm(CblasTrans, CblasNoTrans, D->n_out, D->n_in, N, A, B, C);  /* ∂W = Δᵀ H */
            if (l > 0) gemm(CblasNoTrans, CblasNoTrans, N, D->n_in, D->n_out, A, B, C); /* ∂H = Δ W */
        }
        if (r >= 0) t[r] = now() - t0;
    }
    qsort(t, R, sizeof *t, cmp);
    return t[R / 2];
}

int main(int argc, char **argv)
{
    size_t steps = 100, widths[8] = {1024, 64};
    int nw = 2;
    if (argc > 1) steps = (size_t)strtoul(argv[1], NULL, 10);
    if (argc > 2) {
        nw = 0;
        for (int i = 2; i < argc && nw < 8; i++) widths[nw++] = (size_t)strtoul(argv[i], NULL, 10);
    }
    const size_t N = 4096, d = 784;
    double *x = malloc(N * d * sizeof *x), *y = malloc(N * sizeof *y);
    if (!x || !y) { fprintf(stderr, "out of memory\n"); return 1; }
    unsigned long long s = 42;
    for (size_t i = 0; i < N * d; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (double)(s >> 11) * 0x1.0p-53; /* pixel-like values in [0,1) */
    }
    for (size_t i = 0; i < N; i++) y[i] = x[i * d] - 0.5;
    printf("full-batch GD, 2-hidden-layer ReLU MLP, N = %zu, d = %zu, k = 1, %zu steps\n", N, d, steps);
    printf("%6s %8s %12s %12s %8s %12s %12s\n", "width", "model", "s/step", "BLAS s/step", "ratio", "loss0",
           "loss");
    for (int wi = 0; wi < nw; wi++) {
        size_t W = widths[wi];
        char spec[256];
        snprintf(spec, sizeof spec, "dense(%zu,w_std=1.4,b_std=0.1),relu,dense(%zu,w_std=1.4,b_std=0.1),relu,"
                 "dense(1,w_std=1.4,b_std=0.1)", W, W);
        ntk_arch *arch;
        ntk_net *net, *net0;
        ntk_linear *lin;
        ntk_error err;
        if (ntk_arch_parse(spec, &arch, &err) || ntk_net_create(arch, d, NTK_PARAM_NTK, &net, &err) ||
            ntk_net_init(net, 1, &err) || ntk_net_clone(net, &net0, &err) || ntk_linear_create(net, &lin, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        size_t big = (W > d ? W : d) * (N > W ? N : W);
        double *A = calloc(big, sizeof *A), *B = calloc(big, sizeof *B), *C = calloc(big, sizeof *C);
        if (!A || !B || !C) { fprintf(stderr, "out of memory\n"); return 1; }
        for (int linear = 0; linear < 2; linear++) {
            double floor_t = blas_floor(net0, N, linear, A, B, C);
            ntk_train_opts o = ntk_train_opts_default();
            o.lr = 0.1;
            o.steps = 0;
            double loss0, loss;
            /* steps = 0: the initial loss, one forward pass */
            if (linear ? ntk_train_linear(lin, &o, x, y, N, &loss0, &err) : ntk_train(net, &o, x, y, N, &loss0, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            o.steps = steps;
            double t0 = now();
            ntk_status st = linear ? ntk_train_linear(lin, &o, x, y, N, &loss, &err)
                                   : ntk_train(net, &o, x, y, N, &loss, &err);
            double t = (now() - t0) / (double)(steps ? steps : 1);
            if (st) { fprintf(stderr, "%s\n", err.msg); return 1; }
            printf("%6zu %8s %12.4f %12.4f %8.2f %12.5g %12.5g\n", W, linear ? "linear" : "network", t, floor_t,
                   t / floor_t, loss0, loss);
            fflush(stdout);
        }
        free(A);
        free(B);
        free(C);
        ntk_linear_free(lin);
        ntk_net_free(net);
        ntk_net_free(net0);
        ntk_arch_free(arch);
    }
    free(x);
    free(y);
    return 0;
}
