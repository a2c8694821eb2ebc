/*
 * main.c — the `ntk` command: dispatches to sub-commands. Exit status: 0
 * success, 1 bad input or failure, 2 usage error.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *HELP =
    "ntk " NTK_VERSION_STRING " — Neural Tangent Kernels: infinite-width networks as kernels\n"
    "\n"
    "usage: ntk COMMAND [options]     (ntk COMMAND --help for each command's options)\n"
    "\n"
    "commands:\n"
    "  kernel   analytic NNGP/NTK between the rows of data files (.npy/.csv)\n"
    "  demo     the kernels on built-in data, with a printed summary\n"
    "\n"
    "example:\n"
    "  ntk kernel --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "             --x1 x.npy --out ntk.npy\n";

int main(int argc, char **argv)
{
    /* no command is a usage error: one line on stderr, like every other */
    if (argc < 2) return cli_usage_error(NULL, "no command given (commands: kernel, demo; see 'ntk --help')");
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
    const char *names[] = {"kernel", "demo", NULL};
    const char *sug = cli_suggest_option(argv[1], names);
    if (sug) return cli_usage_error(NULL, "unknown command '%s' (did you mean '%s'?)", argv[1], sug);
    return cli_usage_error(NULL, "unknown command '%s' (commands: kernel, demo; see 'ntk --help')", argv[1]);
}
