/*
 * main.c — the `ntk` command: dispatches to sub-commands. Exit status: 0
 * success, 1 bad input or failure, 2 usage error.
 */
#include "cli.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMMANDS "kernel, empirical, features, train, apply, fit, predict, tune, compare, demo"

static const char *HELP =
    "ntk " NTK_VERSION_STRING " — Neural Tangent Kernels: infinite-width networks as kernels\n"
    "\n"
    "usage: ntk COMMAND [options]     (ntk COMMAND --help for each command's options)\n"
    "       ntk --version             (the version and the BLAS library in use)\n"
    "\n"
    "commands:\n"
    "  kernel     analytic NNGP/NTK between the rows of data files (.npy/.csv)\n"
    "  fit        fit a kernel model (NTK/NNGP regression, factorized once) on a\n"
    "             data set (.npy/.csv/IDX such as MNIST) and save it\n"
    "  predict    predictions of a fitted model at new points (times, variances,\n"
    "             MSE/R²/accuracy against targets)\n"
    "  tune       pick the ridge and (w_std, b_std) on a grid by leave-one-out, k-fold\n"
    "             CV or the GP marginal likelihood (one kernel per (w_std, b_std))\n"
    "  empirical  empirical NTK/NNGP of a finite network (seeded, saved, or a\n"
    "             Monte Carlo average over seeds)\n"
    "  features   the feature map: the Jacobian df/dtheta of a finite network\n"
    "  train      train a finite network (or its linearization) by gradient descent\n"
    "  apply      outputs of a network saved by 'ntk train'\n"
    "  compare    the equivalence experiment: trained networks vs their linearization vs\n"
    "             the kernel predictions, across widths (table, CSV, plots)\n"
    "  demo       the equivalence experiment on built-in data (no files needed)\n"
    "\n"
    "example:\n"
    "  ntk kernel --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "             --x1 x.npy --out ntk.npy\n"
    "  ntk train --arch 'dense(256,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "            --x x.npy --y y.npy --lr 1 --steps 500 --save net.npz\n"
    "  ntk apply --params net.npz --x test.npy --out pred.npy\n"
    "  ntk fit --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(10)' --x train.npy \\\n"
    "          --y labels.npy --labels --model model.npz\n"
    "  ntk predict --model model.npz --x test.npy --out pred.npy\n";

/* OpenMP threads that spin between parallel regions for long (libgomp's
 * default, 300000 spins) fight OpenBLAS's and other processes' threads for
 * the cores: on a busy 2-core machine a training run was 13x slower.
 * Sleeping at once (OMP_WAIT_POLICY=passive) is as bad the other way for
 * LAPACK, whose thousands of short BLAS-2 regions then each pay a futex
 * wake-up: dsyevd at N = 2048 took 2x as long. A short spin (GOMP_SPINCOUNT
 * = 10000, some microseconds) gets both: as fast as spinning idle, and on
 * a machine loaded with two busy processes dsyevd took 0.84 s against
 * 3.8 s passive and 7.8 s with the default. libgomp reads these when it is
 * loaded, before main, so the command re-executes itself once with it set
 * (an explicit OMP_WAIT_POLICY or GOMP_SPINCOUNT is respected). */
static void ensure_short_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("NTK_NO_REEXEC")) return;
    setenv("GOMP_SPINCOUNT", "10000", 1);
    setenv("NTK_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* if that failed, carry on with the default policy */
}

/* `ntk --version`: the version and the BLAS it runs on, for bug reports
 * (results in the last bits depend on the kernels OpenBLAS picks for the
 * CPU, which OPENBLAS_CORETYPE overrides). */
static int print_version(void)
{
    static const char *threading[] = {"sequential", "pthreads", "OpenMP"};
    int par = openblas_get_parallel();
    const char *core_env = getenv("OPENBLAS_CORETYPE");
    printf("ntk %s\n", ntk_version());
    printf("BLAS: %s\n", openblas_get_config());
    printf("BLAS core: %s, threading: %s", openblas_get_corename(),
           par >= 0 && par <= 2 ? threading[par] : "unknown");
    if (core_env && *core_env) printf(" (OPENBLAS_CORETYPE=%s)", core_env);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    ensure_short_spin(argv);
    /* no command is a usage error: one line on stderr, like every other */
    if (argc < 2) return cli_usage_error(NULL, "no command given (commands: " COMMANDS "; see 'ntk --help')");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(HELP, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return print_version();
    if (!strcmp(argv[1], "kernel")) return cmd_kernel(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fit")) return cmd_fit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "predict")) return cmd_predict(argc - 1, argv + 1);
    if (!strcmp(argv[1], "demo")) return cmd_demo(argc - 1, argv + 1);
    if (!strcmp(argv[1], "empirical")) return cmd_empirical(argc - 1, argv + 1);
    if (!strcmp(argv[1], "features")) return cmd_features(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "apply")) return cmd_apply(argc - 1, argv + 1);
    if (!strcmp(argv[1], "compare")) return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tune")) return cmd_tune(argc - 1, argv + 1);
    const char *names[] = {"kernel", "fit", "predict", "empirical", "features", "train", "apply", "compare", "demo",
                           "tune", NULL};
    const char *sug = cli_suggest_option(argv[1], names);
    if (sug) return cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", argv[1], sug);
    return cli_usage_error(NULL, "unknown command '%s' (commands: " COMMANDS "; see 'ntk --help')", argv[1]);
}
