/*
 * cmd_demo.c — `ntk demo`: the equivalence experiment (ntk compare) on
 * built-in data, as in Jacot et al. 2018 (Fig. 1–2): inputs on the unit
 * circle x = (cos γ, sin γ), a smooth target of the angle, a few training
 * points and a dense grid of test points; networks of growing width
 * trained by gradient descent against their linearization and the
 * infinite-width NTK prediction. Needs no files; prints where the plots are.
 */
#include "args.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *DEMO_HELP =
    "usage: ntk demo [--arch SPEC] [--widths LIST] [--steps T] [--seed S] [--out-dir DIR] [--threads N] [--quiet]\n"
    "\n"
    "The equivalence experiment on built-in data: 16 training points on the unit circle with\n"
    "target y = x1*x2 + x1/2, 256 test points around the circle. For each width a network is\n"
    "trained by gradient descent from theta0 next to its linearization, the kernel prediction\n"
    "with its own empirical NTK, and the infinite-width NTK prediction. Prints the table and\n"
    "writes compare.csv and plots (PNG, SVG) to --out-dir.\n"
    "\n"
    "  --arch SPEC    default dense(W,w_std=1.4,b_std=0.1),relu,dense(W,w_std=1.4,b_std=0.1),relu,dense(1,w_std=1.4,b_std=0.1)\n"
    "                 (W is replaced by each width; @FILE reads the spec from a file)\n"
    "  --widths LIST  default 64,256,1024,2048\n"
    "  --steps T      default 500\n"
    "  --seed S       default 0\n"
    "  --out-dir DIR  default ntk-demo\n"
    "  --threads N    worker threads\n"
    "  --quiet        no table on stdout, no progress on stderr (errors still)\n"
    "\n"
    "Progress goes to stderr (a bar on a terminal); Ctrl-C stops (exit status 130).\n";

#define N_TRAIN 16
#define N_TEST 256

static double target(double g) { return cos(g) * sin(g) + 0.5 * cos(g); }

int cmd_demo(int argc, char **argv)
{
    const char *cmd = "demo";
    const char *arch_s = NULL, *widths_s = NULL, *steps_s = NULL, *seed_s = NULL, *dir_s = NULL, *threads_s = NULL;
    int quiet = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},   {"--widths", 1, &widths_s, NULL},   {"--steps", 1, &steps_s, NULL},
        {"--seed", 1, &seed_s, NULL},   {"--out-dir", 1, &dir_s, NULL},     {"--threads", 1, &threads_s, NULL},
        {"--quiet", 0, NULL, &quiet},   {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(DEMO_HELP, stdout); return 0; }
    if (r) return r;
    const char *spec = arch_s ? arch_s
                              : "dense(64,w_std=1.4,b_std=0.1),relu,dense(64,w_std=1.4,b_std=0.1),relu,"
                                "dense(1,w_std=1.4,b_std=0.1)";
    ntk_compare_opts co = ntk_compare_opts_default();
    /* sized to finish in well under a minute on 2 cores */
    static const size_t demo_widths[] = {64, 256, 1024, 2048};
    co.widths = demo_widths;
    co.n_widths = 4;
    co.steps = 500;
    size_t widths[64];
    if (widths_s) {
        int n = cli_parse_size_list(cmd, "--widths", widths_s, widths, 64);
        if (n < 0) return 2;
        co.widths = widths;
        co.n_widths = (size_t)n;
    }
    long v;
    if (steps_s) {
        if (cli_parse_int(cmd, "--steps", steps_s, 1, 10000000, &v)) return 2;
        co.steps = (size_t)v;
    }
    if (seed_s && cli_parse_u64(cmd, "--seed", seed_s, &co.seed)) return 2;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        co.threads = (int)v;
        cli_set_threads((int)v);
    }
    ntk_arch *arch = NULL;
    if (cli_parse_arch(cmd, spec, &arch)) return 1;

    /* training angles: evenly spaced with a seeded jitter (fixed, so the
     * demo is reproducible); test angles: a uniform grid */
    double x[N_TRAIN * 2], y[N_TRAIN], gtr[N_TRAIN], xt[N_TEST * 2], yt[N_TEST], gte[N_TEST];
    for (int i = 0; i < N_TRAIN; i++) {
        double jitter = 0.35 * sin(12.9898 * (i + 1)); /* deterministic, in (−0.35, 0.35) */
        double g = 2 * M_PI * (i + 0.5 + jitter) / N_TRAIN;
        gtr[i] = g;
        x[2 * i] = cos(g);
        x[2 * i + 1] = sin(g);
        y[i] = target(g);
    }
    for (int i = 0; i < N_TEST; i++) {
        double g = 2 * M_PI * i / N_TEST;
        gte[i] = g;
        xt[2 * i] = cos(g);
        xt[2 * i + 1] = sin(g);
        yt[i] = target(g);
    }
    if (!quiet) {
        printf("ntk demo: 16 points on the unit circle, target y = x1*x2 + x1/2; trained networks of growing width\n"
               "vs their linearization vs the NTK predictions (this takes a few seconds to a minute)\n\n");
        fflush(stdout);
    }
    int rc = cli_compare_report(cmd, arch, &co, x, N_TRAIN, 2, y, 1, xt, N_TEST, yt, gte, gtr, "angle gamma (radians)",
                                dir_s ? dir_s : "ntk-demo", quiet);
    ntk_arch_free(arch);
    return rc;
}
