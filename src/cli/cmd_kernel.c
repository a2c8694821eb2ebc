/*
 * cmd_kernel.c — `ntk kernel`: analytic infinite-width NNGP/NTK between the
 * rows of one or two data files, written as .npy or .csv.
 */
#include "args.h"
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *KERNEL_HELP =
    "usage: ntk kernel --arch SPEC --x1 FILE [--x2 FILE] --out FILE [options]\n"
    "\n"
    "Infinite-width kernels of a fully-connected network (neural-tangents\n"
    "conventions) between the rows of X1 (N1 x d) and X2 (N2 x d). Writes an\n"
    "N1 x N2 matrix, or N1 values with --diag, as .npy or .csv by extension.\n"
    "\n"
    "  --arch SPEC       the network, e.g. 'dense(512,w_std=1.5,b_std=0.05),relu,dense(1)'\n"
    "                    or @FILE to read the spec from a file\n"
    "  --x1 FILE         inputs, one point per row (.npy or .csv)\n"
    "  --x2 FILE         second input set; omitted: X2 = X1 (symmetric, one triangle computed)\n"
    "  --get WHAT        ntk (default), nngp, or ntk,nngp (both in one pass)\n"
    "  --out FILE[,FILE] output file(s), one per kernel in --get, same order\n"
    "  --param P         ntk (default) or standard parameterization for every dense layer\n"
    "  --diag            only K(x,x) for the rows of X1 (a 1-D output of N1 values)\n"
    "  --threads N       worker threads (default: all cores); results do not depend on it\n"
    "  --numeric         use quadrature even where a closed form exists (for checks)\n"
    "  --quad-degree M   quadrature nodes per piece (default 32, max 96)\n"
    "  --columns LIST    CSV/npy columns to use, 1-based: '1,3-5' or CSV header names\n"
    "  --header MODE     CSV header row: auto (default: a first row without any number,\n"
    "                    noted on stderr), yes, no\n"
    "  --rows A:B        use only rows A to B-1 of --x1, counted from 0 as in Python's\n"
    "                    x[A:B] (A: or :B for one side); past the end of the file: an error\n"
    "  --rows2 A:B       the same for --x2 (e.g. the training rows of 'ntk fit --rows')\n"
    "  --scale S         multiply the inputs (--x1 and --x2) by S, a number or a fraction\n"
    "                    like 1/255, as 'ntk fit --scale' does: the kernels 'ntk fit\n"
    "                    --kernel-file' and 'ntk predict --kernel-file' take\n"
    "  --quiet           no progress and no summary line on stderr (errors still)\n"
    "  --force           start even when the outputs seem not to fit in memory or on disk\n"
    "\n"
    "Progress goes to stderr: a bar on a terminal, a line every 10 s otherwise.\n"
    "Before any work the outputs (N1·N2 doubles each) are checked against the\n"
    "available memory and the free disk space; Ctrl-C (SIGINT) or SIGTERM stops\n"
    "the computation, writes nothing and exits with 130 or 143.\n"
    "\n"
    "Activations: relu, leaky_relu(alpha), abs, abrelu(a,b), erf, erf(a,b,c),\n"
    "sigmoid_like, sin(a,b,c), cos(a,b,c), identity, gelu (closed forms);\n"
    "tanh, sigmoid, softplus, silu, elu(alpha) (quadrature).\n"
    "dense(width, w_std=1, b_std=..., param=ntk|standard): no bias unless b_std is given.\n"
    "\n"
    "example:\n"
    "  ntk kernel --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "             --x1 train.npy --get ntk,nngp --out ntk.npy,nngp.npy\n"
    "  ntk kernel --arch @net.txt --x1 t10k-images-idx3-ubyte.gz --rows 0:1000 \\\n"
    "             --x2 train-images-idx3-ubyte.gz --rows2 50000:60000 --scale 1/255 --out kt.npy\n";

int cmd_kernel(int argc, char **argv)
{
    const char *cmd = "kernel";
    const char *arch_s = NULL, *x1_s = NULL, *x2_s = NULL, *get_s = NULL, *out_s = NULL, *param_s = NULL,
               *threads_s = NULL, *deg_s = NULL, *cols_s = NULL, *header_s = NULL, *rows_s = NULL, *rows2_s = NULL,
               *scale_s = NULL;
    int diag = 0, numeric = 0, quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},       {"--x1", 1, &x1_s, NULL},
        {"--x2", 1, &x2_s, NULL},           {"--get", 1, &get_s, NULL},
        {"--out", 1, &out_s, NULL},         {"--param", 1, &param_s, NULL},
        {"--threads", 1, &threads_s, NULL}, {"--quad-degree", 1, &deg_s, NULL},
        {"--columns", 1, &cols_s, NULL},    {"--header", 1, &header_s, NULL},
        {"--diag", 0, NULL, &diag},         {"--numeric", 0, NULL, &numeric},
        {"--quiet", 0, NULL, &quiet},       {"--rows", 1, &rows_s, NULL},
        {"--rows2", 1, &rows2_s, NULL},     {"--scale", 1, &scale_s, NULL},
        {"--force", 0, NULL, &force},
        {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(KERNEL_HELP, stdout); return 0; }
    if (r) return r;
    if (!arch_s) return cli_usage_error(cmd, "--arch is required (see 'ntk kernel --help')");
    if (!x1_s) return cli_usage_error(cmd, "--x1 is required");
    if (!out_s) return cli_usage_error(cmd, "--out is required");
    if (diag && x2_s) return cli_usage_error(cmd, "--diag takes only --x1 (the diagonal K(x,x) of X1)");
    cli_rows rows1, rows2;
    double scale = 1.0;
    if (cli_parse_x1x2(cmd, rows_s, rows2_s, x2_s != NULL, scale_s, &rows1, &rows2, &scale)) return 2;

    ntk_kernel_opts ko = ntk_kernel_opts_default();
    ko.diag = diag;
    ko.quad = numeric ? NTK_QUAD_NUMERIC : NTK_QUAD_AUTO;
    if (param_s) {
        if (!strcmp(param_s, "ntk")) ko.param = NTK_PARAM_NTK;
        else if (!strcmp(param_s, "standard")) ko.param = NTK_PARAM_STANDARD;
        else return cli_usage_error(cmd, "--param: expected 'ntk' or 'standard', got '%s'", param_s);
    }
    long v;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        ko.threads = (int)v;
        cli_set_threads(ko.threads);
    }
    if (deg_s) {
        if (cli_parse_int(cmd, "--quad-degree", deg_s, 2, 96, &v)) return 2;
        ko.quad_degree = (int)v;
    }
    ntk_read_opts ro = ntk_read_opts_default();
    ro.columns = cols_s;
    if (header_s) {
        if (!strcmp(header_s, "auto")) ro.csv_header = -1;
        else if (!strcmp(header_s, "yes")) ro.csv_header = 1;
        else if (!strcmp(header_s, "no")) ro.csv_header = 0;
        else return cli_usage_error(cmd, "--header: expected auto, yes or no, got '%s'", header_s);
    }

    /* --get / --out lists, and the outputs checked before any work */
    char outbuf[8192];
    const char *out_ntk = NULL, *out_nngp = NULL;
    if ((r = cli_get_outputs(cmd, get_s, out_s, outbuf, sizeof outbuf, &out_ntk, &out_nngp))) return r;
    if ((out_ntk && cli_check_out(cmd, "--out", out_ntk, CLI_OUT_MATRIX)) ||
        (out_nngp && cli_check_out(cmd, "--out", out_nngp, CLI_OUT_MATRIX)))
        return 1;

    char *spec = cli_arch_text(cmd, arch_s);
    if (!spec) return 1;
    ntk_error err;
    ntk_arch *arch = NULL;
    if (ntk_arch_parse(spec, &arch, &err)) {
        free(spec);
        return cli_error(cmd, "--arch: %s", err.msg);
    }
    free(spec);

    int rc = 1;
    ntk_matrix x1 = {0}, x2 = {0};
    double *kn = NULL, *kt = NULL;
    if (cli_read_data(cmd, "--x1", x1_s, &ro, &rows1, scale, quiet, &x1)) goto done;
    if (x2_s) {
        if (cli_read_data(cmd, "--x2", x2_s, &ro, &rows2, scale, quiet, &x2)) goto done;
        if (x2.cols != x1.cols) {
            cli_error(cmd, "--x2 %s has %zu column%s but --x1 %s has %zu", x2_s, x2.cols, x2.cols == 1 ? "" : "s",
                      x1_s, x1.cols);
            goto done;
        }
    }
    size_t n1 = x1.rows, n2 = x2_s ? x2.rows : x1.rows;
    size_t count = diag ? n1 : n1 * n2;
    if (n1 != 0 && count / n1 != (diag ? 1 : n2)) { cli_error(cmd, "kernel too large"); goto done; }
    {
        /* before any work: the outputs in memory and on disk */
        size_t cols = diag ? 1 : n2, one = count > SIZE_MAX / sizeof(double) ? SIZE_MAX : count * sizeof(double);
        size_t need = (out_ntk && out_nngp) ? (one > SIZE_MAX / 2 ? SIZE_MAX : 2 * one) : one;
        char what[128];
        snprintf(what, sizeof what, "the %zu x %zu %s", n1, cols, out_ntk && out_nngp ? "NTK and NNGP" : "kernel");
        const char *flags[2] = {"--out", "--out"}, *paths[2] = {out_ntk, out_nngp};
        size_t bytes[2] = {out_ntk ? cli_matrix_file_bytes(out_ntk, n1, cols) : 0,
                           out_nngp ? cli_matrix_file_bytes(out_nngp, n1, cols) : 0};
        if (cli_check_memory(cmd, need, what, NULL, force) || cli_check_disk(cmd, flags, paths, bytes, 2, force))
            goto done;
    }
    if (out_nngp && !(kn = malloc(count * sizeof *kn))) {
        cli_error(cmd, "out of memory for a %zu x %zu kernel", n1, diag ? 1 : n2);
        goto done;
    }
    if (out_ntk && !(kt = malloc(count * sizeof *kt))) {
        cli_error(cmd, "out of memory for a %zu x %zu kernel", n1, diag ? 1 : n2);
        goto done;
    }
    double t0 = cli_now();
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    ko.progress = cli_progress_cb(&pr);
    ntk_status ks = ntk_kernel(arch, &ko, x1.data, n1, x2_s ? x2.data : NULL, n2, x1.cols, kn, kt, &err);
    if (ks) {
        rc = cli_run_error(&pr, ks, "%s", err.msg);
        goto done;
    }
    cli_progress_done(&pr);
    double t1 = cli_now();
    {   /* both files or neither */
        size_t c = diag ? 1 : n2;
        cli_matrix_out outs[2] = {{out_ntk, kt, n1, c, diag ? 1 : 2}, {out_nngp, kn, n1, c, diag ? 1 : 2}};
        if (cli_write_all(cmd, outs, 2)) goto done;
    }
    if (!quiet)
        fprintf(stderr, "ntk kernel: %s%s%s %zu x %zu (d = %zu) in %.3f s -> %s%s%s\n",
                out_ntk ? "NTK" : "", out_ntk && out_nngp ? "+" : "", out_nngp ? "NNGP" : "", n1,
                diag ? (size_t)1 : n2, x1.cols, t1 - t0, out_ntk ? out_ntk : "",
                out_ntk && out_nngp ? ", " : "", out_nngp ? out_nngp : "");
    rc = 0;
done:
    free(kn);
    free(kt);
    ntk_matrix_free(&x1);
    ntk_matrix_free(&x2);
    ntk_arch_free(arch);
    return rc;
}
