/*
 * cmd_apply.c — `ntk apply`: the outputs of a saved network (or of a saved
 * linearized model, f_lin(x;θ) = f(x;θ0) + ϕ0(x)·(θ − θ0)) on a set of points.
 */
#include "args.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *APPLY_HELP =
    "usage: ntk apply --params FILE.npz --x FILE --out FILE [options]\n"
    "\n"
    "Evaluates a network saved by 'ntk train' on the rows of X (N x d) and writes\n"
    "its outputs, N x k. For a model trained with --linearized, the outputs of the\n"
    "linearized model. The same as the --eval predictions of 'ntk train', bit for bit.\n"
    "\n"
    "  --params FILE     the saved network (.npz)\n"
    "  --x FILE          inputs, one point per row (.npy or .csv)\n"
    "  --out FILE        the outputs (.npy or .csv)\n"
    "  --rows A:B        use only rows A to B-1 of --x, counted from 0 as in Python's\n"
    "                    x[A:B] (A: or :B for one side); past the end of the file: an error\n"
    "  --scale S         multiply --x by S, a number or a fraction like 1/255: the\n"
    "                    --scale the network was trained with ('ntk train --scale')\n"
    "  --threads N       worker threads (default: all cores); results do not depend on it\n"
    "  --quiet           no summary line on stderr\n"
    "\n"
    "example:\n"
    "  ntk apply --params net.npz --x test_x.npy --out pred.npy\n";

int cmd_apply(int argc, char **argv)
{
    const char *cmd = "apply";
    const char *params_s = NULL, *x_s = NULL, *out_s = NULL, *threads_s = NULL, *rows_s = NULL, *scale_s = NULL;
    int quiet = 0;
    const cli_opt opts[] = {
        {"--params", 1, &params_s, NULL},   {"--x", 1, &x_s, NULL},
        {"--out", 1, &out_s, NULL},         {"--threads", 1, &threads_s, NULL},
        {"--quiet", 0, NULL, &quiet},       {"--rows", 1, &rows_s, NULL},
        {"--scale", 1, &scale_s, NULL},     {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(APPLY_HELP, stdout); return 0; }
    if (r) return r;
    if (!params_s) return cli_usage_error(cmd, "--params is required (see 'ntk apply --help')");
    if (!x_s) return cli_usage_error(cmd, "--x is required");
    if (!out_s) return cli_usage_error(cmd, "--out is required");
    long v;
    int threads = 0;
    cli_rows rows;
    double scale = 1.0;
    if (cli_parse_rows(cmd, "--rows", rows_s, NULL, &rows) || (scale_s && cli_parse_scale(cmd, scale_s, &scale)))
        return 2;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        threads = (int)v;
        cli_set_threads(threads);
    }
    if (cli_check_out(cmd, "--out", out_s, CLI_OUT_MATRIX)) return 1;

    int rc = 1;
    ntk_matrix x = {0};
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    double *f = NULL;
    ntk_error err;
    cli_net_src src;
    memset(&src, 0, sizeof src);
    src.params = params_s;
    if (cli_read_data(cmd, "--x", x_s, NULL, &rows, scale, quiet, &x)) goto done;
    if (cli_net_get(cmd, &src, x.cols, "--x", x_s, &net, &lin)) goto done;
    size_t N = x.rows, k = ntk_net_n_outputs(lin ? ntk_linear_base(lin) : net);
    if (!(f = malloc(N * k * sizeof *f))) {
        cli_error(cmd, "out of memory for %zu x %zu outputs", N, k);
        goto done;
    }
    double t0 = cli_now();
    ntk_status s = lin ? ntk_linear_apply(lin, x.data, N, f, &err) : ntk_net_apply(net, x.data, N, f, threads, &err);
    if (s) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    double t1 = cli_now();
    if (cli_write_matrix(cmd, out_s, f, N, k)) goto done;
    if (!quiet)
        fprintf(stderr, "ntk apply: %s%s on %zu point%s (k = %zu) in %.3f s -> %s\n", lin ? "linearized model " : "network ",
                params_s, N, N == 1 ? "" : "s", k, t1 - t0, out_s);
    rc = 0;
done:
    free(f);
    ntk_net_free(net);
    ntk_linear_free(lin);
    ntk_matrix_free(&x);
    return rc;
}
