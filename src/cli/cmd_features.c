/*
 * cmd_features.c — `ntk features`: the feature map of a finite network, the
 * Jacobian J = ∂f/∂θ of its outputs on a set of points ((N·k) x P, row
 * i·k + a = ∂f_a(x_i)/∂θ; include/ntk.h, "feature map and empirical
 * kernels"). J·Jᵀ is the full empirical NTK.
 */
#include "args.h"
#include "cli.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *FEATURES_HELP =
    "usage: ntk features (--arch SPEC [--seed S] | --params FILE.npz) --x FILE --out FILE [options]\n"
    "\n"
    "The feature map ϕ(x) = ∂f(x)/∂θ of a finite network on the rows of X (N x d):\n"
    "the Jacobian J, (N·k) x P (k outputs, P parameters), row i·k+a = ∂f_a(x_i)/∂θ,\n"
    "with θ ordered as in the saved dense<l>.W (row-major) then dense<l>.b, layer by\n"
    "layer. J·Jᵀ is the full empirical NTK of 'ntk empirical --full'.\n"
    "\n"
    "  --arch SPEC       the network (or @FILE); with --params optional, and then it\n"
    "                    must equal the saved architecture\n"
    "  --seed S          initial parameters from seed S (default 0): the θ0 of\n"
    "                    'ntk train --seed S'\n"
    "  --params FILE     a network saved by 'ntk train' instead (excludes --seed); for\n"
    "                    a linearized model, the Jacobian at θ0 (its feature map)\n"
    "  --x FILE          inputs, one point per row (.npy or .csv)\n"
    "  --out FILE        the Jacobian (.npy or .csv)\n"
    "  --rows A:B        use only rows A to B-1 of --x, counted from 0 as in Python's\n"
    "                    x[A:B] (A: or :B for one side); past the end of the file: an error\n"
    "  --scale S         multiply --x by S, a number or a fraction like 1/255 (as\n"
    "                    'ntk fit --scale'; for 8-bit pixels use 1/255)\n"
    "  --max-gb G        refuse a Jacobian over G GiB (default 4)\n"
    "  --param P         ntk (default) or standard parameterization\n"
    "  --threads N       worker threads (default: all cores); results do not depend on it\n"
    "  --quiet           no progress and no summary line on stderr (errors still)\n"
    "  --force           start even when the memory or disk estimate says it will not fit\n"
    "\n"
    "The Jacobian's size is checked against --max-gb, the available memory and the\n"
    "free disk space before any work. Progress on stderr (rows of J); Ctrl-C\n"
    "(SIGINT) or SIGTERM stops, writes nothing and exits with 130 or 143.\n"
    "\n"
    "example:\n"
    "  ntk features --arch 'dense(64,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "               --seed 3 --x x.npy --out jacobian.npy\n";

int cmd_features(int argc, char **argv)
{
    const char *cmd = "features";
    const char *arch_s = NULL, *x_s = NULL, *out_s = NULL, *seed_s = NULL, *params_s = NULL, *maxgb_s = NULL,
               *param_s = NULL, *threads_s = NULL, *rows_s = NULL, *scale_s = NULL;
    int quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},     {"--x", 1, &x_s, NULL},
        {"--out", 1, &out_s, NULL},       {"--seed", 1, &seed_s, NULL},
        {"--params", 1, &params_s, NULL}, {"--max-gb", 1, &maxgb_s, NULL},
        {"--param", 1, &param_s, NULL},   {"--threads", 1, &threads_s, NULL},
        {"--quiet", 0, NULL, &quiet},     {"--rows", 1, &rows_s, NULL},
        {"--scale", 1, &scale_s, NULL},   {"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(FEATURES_HELP, stdout); return 0; }
    if (r) return r;
    cli_net_src src;
    if (cli_net_usage(cmd, arch_s, params_s, seed_s, param_s, &src)) return 2;
    if (!x_s) return cli_usage_error(cmd, "--x is required");
    if (!out_s) return cli_usage_error(cmd, "--out is required");
    cli_rows rows;
    double scale = 1.0;
    if (cli_parse_rows(cmd, "--rows", rows_s, NULL, &rows) || (scale_s && cli_parse_scale(cmd, scale_s, &scale)))
        return 2;
    double max_gb = 4;
    if (maxgb_s && cli_parse_double(cmd, "--max-gb", maxgb_s, 0, 1, INFINITY, 0, &max_gb)) return 2;
    long v;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        cli_set_threads((int)v);
    }
    if (cli_check_out(cmd, "--out", out_s, CLI_OUT_MATRIX)) return 1;

    int rc = 1;
    ntk_matrix x = {0};
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    double *J = NULL;
    ntk_error err;
    if (cli_read_data(cmd, "--x", x_s, NULL, &rows, scale, quiet, &x)) goto done;
    if (cli_net_get(cmd, &src, x.cols, "--x", x_s, &net, &lin)) goto done;
    const ntk_net *nn = lin ? ntk_linear_base(lin) : net;
    size_t N = x.rows, k = ntk_net_n_outputs(nn), P = ntk_net_n_params(nn);
    size_t bytes = ntk_net_jacobian_bytes(nn, N);
    double gib = (double)bytes / (double)(1u << 30);
    if (bytes == SIZE_MAX || gib > max_gb) {
        if (bytes == SIZE_MAX)
            cli_error(cmd, "the Jacobian of %zu points (%zu outputs x %zu parameters each) is too large to address", N,
                      k, P);
        else
            cli_error(cmd,
                      "the Jacobian of %zu points is %zu x %zu doubles = %zu bytes (%.3g GiB), over --max-gb %g "
                      "(raise --max-gb, or use fewer points or a smaller network)",
                      N, N * k, P, bytes, gib, max_gb);
        goto done;
    }
    {
        char what[96];
        snprintf(what, sizeof what, "the %zu x %zu Jacobian", N * k, P);
        const char *flags[1] = {"--out"}, *paths[1] = {out_s};
        size_t fb[1] = {cli_matrix_file_bytes(out_s, N * k, P)};
        if (cli_check_memory(cmd, bytes, what, NULL, force) || cli_check_disk(cmd, flags, paths, fb, 1, force))
            goto done;
    }
    if (!(J = malloc(bytes ? bytes : 1))) {
        cli_error(cmd, "out of memory for the %zu x %zu Jacobian (%.3g GiB)", N * k, P, gib);
        goto done;
    }
    double t0 = cli_now();
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    ntk_empirical_opts eo = ntk_empirical_opts_default();
    eo.progress = cli_progress_cb(&pr);
    ntk_status js = ntk_net_jacobian_ex(nn, &eo, x.data, N, J, 0, &err);
    if (js) {
        rc = cli_run_error(&pr, js, "%s", err.msg);
        goto done;
    }
    cli_progress_done(&pr);
    double t1 = cli_now();
    if (cli_write_matrix(cmd, out_s, J, N * k, P)) goto done;
    if (!quiet)
        fprintf(stderr, "ntk features: Jacobian %zu x %zu (%zu points, k = %zu, %zu parameters) in %.3f s -> %s\n",
                N * k, P, N, k, P, t1 - t0, out_s);
    rc = 0;
done:
    free(J);
    ntk_net_free(net);
    ntk_linear_free(lin);
    ntk_matrix_free(&x);
    return rc;
}
