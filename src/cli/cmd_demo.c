/*
 * cmd_demo.c — `ntk demo`: the analytic kernels on built-in data (points on
 * the unit circle, as in Jacot et al. 2018, Fig. 1), with a printed summary:
 * the kernel as a function of the angle between two inputs, and the
 * spectrum of the NTK Gram matrix.
 */
#include "args.h"
#include "cli.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *DEMO_HELP =
    "usage: ntk demo [--arch SPEC] [--n N] [--param ntk|standard] [--threads N]\n"
    "\n"
    "Computes the infinite-width NTK and NNGP of a network on N points of the\n"
    "unit circle (built in, no files needed) and prints a summary.\n"
    "  --arch SPEC   the network, or @FILE to read it from a file; default:\n"
    "                dense(1024,w_std=1.5,b_std=0.05),relu,dense(1024,w_std=1.5,b_std=0.05),relu,\n"
    "                dense(1,w_std=1.5,b_std=0.05)\n"
    "  --n N         number of points (default 1024)\n";

int cmd_demo(int argc, char **argv)
{
    const char *cmd = "demo";
    const char *arch_s = NULL, *n_s = NULL, *param_s = NULL, *threads_s = NULL;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},   {"--n", 1, &n_s, NULL},
        {"--param", 1, &param_s, NULL}, {"--threads", 1, &threads_s, NULL},
        {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(DEMO_HELP, stdout); return 0; }
    if (r) return r;
    const char *def_spec = "dense(1024,w_std=1.5,b_std=0.05),relu,dense(1024,w_std=1.5,b_std=0.05),relu,"
                           "dense(1,w_std=1.5,b_std=0.05)";
    long n = 1024, v;
    if (n_s) {
        if (cli_parse_int(cmd, "--n", n_s, 2, 20000, &v)) return 2;
        n = v;
    }
    ntk_kernel_opts ko = ntk_kernel_opts_default();
    if (param_s) {
        if (!strcmp(param_s, "ntk")) ko.param = NTK_PARAM_NTK;
        else if (!strcmp(param_s, "standard")) ko.param = NTK_PARAM_STANDARD;
        else return cli_usage_error(cmd, "--param: expected 'ntk' or 'standard', got '%s'", param_s);
    }
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        ko.threads = (int)v;
        cli_set_blas_threads(ko.threads);
    }
    char *spec = cli_arch_text(cmd, arch_s ? arch_s : def_spec); /* @FILE as in `ntk kernel` */
    if (!spec) return 1;
    ntk_error err;
    ntk_arch *arch = NULL;
    ntk_status ps = ntk_arch_parse(spec, &arch, &err);
    free(spec);
    if (ps) return cli_error(cmd, "--arch: %s", err.msg);

    size_t N = (size_t)n;
    double *x = malloc(N * 2 * sizeof *x), *K = malloc(N * N * sizeof *K), *T = malloc(N * N * sizeof *T),
           *w = malloc(N * sizeof *w);
    int rc = 1;
    if (!x || !K || !T || !w) { cli_error(cmd, "out of memory"); goto done; }
    for (size_t i = 0; i < N; i++) {
        double g = 2 * M_PI * (double)i / (double)N;
        x[2 * i] = cos(g);
        x[2 * i + 1] = sin(g);
    }
    double t0 = cli_now();
    if (ntk_kernel(arch, &ko, x, N, NULL, 0, 2, K, T, &err)) { cli_error(cmd, "%s", err.msg); goto done; }
    double t1 = cli_now();

    char canon[2048];
    ntk_arch_format(arch, canon, sizeof canon);
    printf("ntk demo: infinite-width kernels on %zu points of the unit circle (d = 2)\n", N);
    printf("  network:        %s\n", canon);
    printf("  parameterization: %s\n", ko.param == NTK_PARAM_STANDARD ? "standard" : "ntk");
    printf("  NTK + NNGP, %zu x %zu, one pass: %.3f s\n\n", N, N, t1 - t0);
    printf("  angle(x, x')    NTK Θ(x,x')      NNGP K(x,x')     Θ/Θ(x,x)\n");
    for (int k = 0; k <= 8; k++) {
        size_t j = (size_t)((double)k / 16.0 * (double)N + 0.5);
        if (j >= N) j = N - 1;
        double ang = 2 * M_PI * (double)j / (double)N;
        printf("  %6.3f pi      %14.8f   %14.8f   %8.5f\n", ang / M_PI, T[j], K[j], T[j] / T[0]);
    }
    /* spectrum of the NTK Gram matrix: conditioning of kernel regression */
    memcpy(K, T, N * N * sizeof *K);
    double t2 = cli_now();
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (lapack_int)N, K, (lapack_int)N, w);
    double t3 = cli_now();
    if (info != 0) { cli_error(cmd, "eigendecomposition failed (LAPACK info %d)", (int)info); goto done; }
    printf("\n  NTK spectrum: largest eigenvalue %.6g, smallest %.6g, condition number %.3g (dsyevd %.3f s)\n",
           w[N - 1], w[0], w[0] > 0 ? w[N - 1] / w[0] : INFINITY, t3 - t2);
    printf("  largest stable GD step on the linearized model, eta < 2n/lambda_max = %.6g (n = %zu)\n",
           2.0 * (double)N / w[N - 1], N);
    printf("\nTry: ntk kernel --help\n");
    rc = 0;
done:
    free(x); free(K); free(T); free(w);
    ntk_arch_free(arch);
    return rc;
}
