/*
 * main.c — the `ntk` command: dispatches to sub-commands. Exit status: 0
 * success, 1 bad input or failure, 2 usage error.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define COMMANDS "kernel, empirical, features, train, apply, demo"

static const char *HELP =
    "ntk " NTK_VERSION_STRING " — Neural Tangent Kernels: infinite-width networks as kernels\n"
    "\n"
    "usage: ntk COMMAND [options]     (ntk COMMAND --help for each command's options)\n"
    "\n"
    "commands:\n"
    "  kernel     analytic NNGP/NTK between the rows of data files (.npy/.csv)\n"
    "  empirical  empirical NTK/NNGP of a finite network (seeded, saved, or a\n"
    "             Monte Carlo average over seeds)\n"
    "  features   the feature map: the Jacobian df/dtheta of a finite network\n"
    "  train      train a finite network (or its linearization) by gradient descent\n"
    "  apply      outputs of a network saved by 'ntk train'\n"
    "  demo       the kernels on built-in data, with a printed summary\n"
    "\n"
    "example:\n"
    "  ntk kernel --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "             --x1 x.npy --out ntk.npy\n"
    "  ntk train --arch 'dense(256,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "            --x x.npy --y y.npy --lr 1 --steps 500 --save net.npz\n"
    "  ntk apply --params net.npz --x test.npy --out pred.npy\n";

int main(int argc, char **argv)
{
    /* no command is a usage error: one line on stderr, like every other */
    if (argc < 2) return cli_usage_error(NULL, "no command given (commands: " COMMANDS "; see 'ntk --help')");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(HELP, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ntk %s\n", NTK_VERSION_STRING);
        return 0;
    }
    if (!strcmp(argv[1], "kernel")) return cmd_kernel(argc - 1, argv + 1);
    if (!strcmp(argv[1], "demo")) return cmd_demo(argc - 1, argv + 1);
    if (!strcmp(argv[1], "empirical")) return cmd_empirical(argc - 1, argv + 1);
    if (!strcmp(argv[1], "features")) return cmd_features(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "apply")) return cmd_apply(argc - 1, argv + 1);
    const char *names[] = {"kernel", "empirical", "features", "train", "apply", "demo", NULL};
    const char *sug = cli_suggest_option(argv[1], names);
    if (sug) return cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", argv[1], sug);
    return cli_usage_error(NULL, "unknown command '%s' (commands: " COMMANDS "; see 'ntk --help')", argv[1]);
}
