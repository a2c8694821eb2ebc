/*
 * cmd_empirical.c — `ntk empirical`: the empirical NTK Θ̂ = ϕ(x)·ϕ(x') and
 * NNGP f(x)·f(x')/k of one finite network (seeded or saved), or their Monte
 * Carlo average over several seeded networks (docs/math.md, "Finite
 * networks and the empirical NTK").
 *
 * A saved linearized model f_lin(x;θ) = f(x;θ0) + ϕ0(x)·(θ − θ0) has the
 * feature map ϕ0 for every θ, so its NTK is that of the network at θ0; its
 * NNGP is f_lin(x)·f_lin(x')/k, computed here from its outputs.
 */
#include "args.h"
#include "cli.h"

#include "core/blas.h" /* products that do not depend on the thread count */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *EMPIRICAL_HELP =
    "usage: ntk empirical (--arch SPEC [--seed S] | --params FILE.npz) --x1 FILE [--x2 FILE] --out FILE[,FILE] [options]\n"
    "\n"
    "Empirical kernels of a finite network between the rows of X1 (N1 x d) and\n"
    "X2 (N2 x d): the NTK Θ̂(x,x') = ϕ(x)·ϕ(x') with ϕ = ∂f/∂θ, traced over the k\n"
    "outputs ((1/k)·Σ_a Θ̂_aa, N1 x N2) or --full ((N1·k) x (N2·k), entry\n"
    "[(i,a),(j,b)] at row i·k+a, column j·k+b), and the NNGP f(x)·f(x')/k (N1 x N2).\n"
    "\n"
    "  --arch SPEC       the network (or @FILE); with --params optional, and then it\n"
    "                    must equal the saved architecture\n"
    "  --seed S          initial parameters from seed S (default 0): the θ0 of\n"
    "                    'ntk train --seed S'\n"
    "  --params FILE     a network saved by 'ntk train' instead (excludes --seed and\n"
    "                    --samples); for a linearized model the NTK is that at θ0\n"
    "  --x1 FILE         inputs, one point per row (.npy or .csv)\n"
    "  --x2 FILE         second input set; omitted: X2 = X1 (exactly symmetric)\n"
    "  --get WHAT        ntk (default), nngp, or ntk,nngp\n"
    "  --out FILE[,FILE] output file(s), one per kernel in --get, same order\n"
    "  --full            the full NTK over outputs instead of the traced one\n"
    "  --samples S       average over S networks with seeds S0, S0+1, ... (S0 =\n"
    "                    --seed): Monte Carlo estimates of the infinite-width kernels\n"
    "  --param P         ntk (default) or standard parameterization\n"
    "  --rows A:B        use only rows A to B-1 of --x1, counted from 0 as in Python's\n"
    "                    x[A:B] (A: or :B for one side); past the end of the file: an error\n"
    "  --rows2 A:B       the same for --x2\n"
    "  --scale S         multiply --x1 and --x2 by S, a number or a fraction like 1/255 (as\n"
    "                    'ntk fit --scale'; for 8-bit pixels use 1/255)\n"
    "  --threads N       worker threads (default: all cores); results do not depend on it\n"
    "  --quiet           no progress and no summary line on stderr (errors still)\n"
    "  --force           start even when the memory or disk estimate says it will not fit\n"
    "\n"
    "The memory the kernels need (outputs, the backpropagated δ's of every point,\n"
    "workspaces) and the outputs' size on disk are checked before any work. Progress\n"
    "on stderr (estimated flops); Ctrl-C (SIGINT) or SIGTERM stops, writes nothing\n"
    "and exits with 130 or 143.\n"
    "\n"
    "example:\n"
    "  ntk empirical --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "                --x1 x.npy --get ntk,nngp --samples 8 --out entk.npy,enngp.npy\n";

/* f_lin(X1)·f_lin(X2)ᵀ/k of a linearized model (X2 = X1 when x2 is NULL). */
static int lin_nngp(const char *cmd, const ntk_linear *lin, const ntk_matrix *x1, const ntk_matrix *x2, double *out)
{
    size_t k = ntk_net_n_outputs(ntk_linear_base(lin)), n1 = x1->rows, n2 = x2 ? x2->rows : n1;
    double *f1 = malloc(n1 * k * sizeof *f1), *f2 = x2 ? malloc(n2 * k * sizeof *f2) : f1;
    ntk_error err;
    int rc = 1;
    if (!f1 || !f2 || n1 * k > INT_MAX || n2 * k > INT_MAX) {
        cli_error(cmd, "out of memory for the outputs of %zu points", n1 + (x2 ? n2 : 0));
        goto done;
    }
    if (ntk_linear_apply(lin, x1->data, n1, f1, &err) || (x2 && ntk_linear_apply(lin, x2->data, n2, f2, &err))) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    if (!x2) { /* one triangle, mirrored: exactly symmetric */
        ntk_dsyrk_upper((int)n1, (int)k, 1.0 / (double)k, f1, (int)k, 0.0, out, (int)n1);
        for (size_t i = 0; i < n1; i++)
            for (size_t j = 0; j < i; j++) out[i * n1 + j] = out[j * n1 + i];
    } else {
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)n1, (int)n2, (int)k, 1.0 / (double)k, f1, (int)k, f2, (int)k, 0.0,
                  out, (int)n2);
    }
    rc = 0;
done:
    free(f1);
    if (x2) free(f2);
    return rc;
}

int cmd_empirical(int argc, char **argv)
{
    const char *cmd = "empirical";
    const char *arch_s = NULL, *x1_s = NULL, *x2_s = NULL, *get_s = NULL, *out_s = NULL, *seed_s = NULL,
               *params_s = NULL, *samples_s = NULL, *param_s = NULL, *threads_s = NULL, *rows_s = NULL,
               *rows2_s = NULL, *scale_s = NULL;
    int full = 0, quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},       {"--x1", 1, &x1_s, NULL},
        {"--x2", 1, &x2_s, NULL},           {"--get", 1, &get_s, NULL},
        {"--out", 1, &out_s, NULL},         {"--seed", 1, &seed_s, NULL},
        {"--params", 1, &params_s, NULL},   {"--samples", 1, &samples_s, NULL},
        {"--param", 1, &param_s, NULL},     {"--threads", 1, &threads_s, NULL},
        {"--full", 0, NULL, &full},         {"--quiet", 0, NULL, &quiet},
        {"--rows", 1, &rows_s, NULL},       {"--rows2", 1, &rows2_s, NULL},
        {"--scale", 1, &scale_s, NULL},     {"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(EMPIRICAL_HELP, stdout); return 0; }
    if (r) return r;
    cli_net_src src;
    if (cli_net_usage(cmd, arch_s, params_s, seed_s, param_s, &src)) return 2;
    if (!x1_s) return cli_usage_error(cmd, "--x1 is required");
    if (!out_s) return cli_usage_error(cmd, "--out is required");
    cli_rows rows1, rows2;
    double scale = 1.0;
    if (cli_parse_x1x2(cmd, rows_s, rows2_s, x2_s != NULL, scale_s, &rows1, &rows2, &scale)) return 2;
    long v;
    size_t samples = 1;
    if (samples_s) {
        if (params_s)
            return cli_usage_error(cmd, "--samples averages over freshly seeded networks; it cannot be used with "
                                        "--params (one saved network)");
        if (cli_parse_int(cmd, "--samples", samples_s, 1, LONG_MAX, &v)) return 2;
        samples = (size_t)v;
    }
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        cli_set_threads((int)v);
    }
    char outbuf[8192];
    const char *out_ntk, *out_nngp;
    if (cli_get_outputs(cmd, get_s, out_s, outbuf, sizeof outbuf, &out_ntk, &out_nngp)) return 2;
    if (full && !out_ntk) return cli_usage_error(cmd, "--full applies to the NTK; --get has no ntk");
    if ((out_ntk && cli_check_out(cmd, "--out", out_ntk, CLI_OUT_MATRIX)) ||
        (out_nngp && cli_check_out(cmd, "--out", out_nngp, CLI_OUT_MATRIX)))
        return 1;

    int rc = 1;
    ntk_matrix x1 = {0}, x2 = {0};
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    ntk_arch *arch = NULL;
    double *kn = NULL, *kt = NULL;
    ntk_error err;
    if (cli_read_data(cmd, "--x1", x1_s, NULL, &rows1, scale, quiet, &x1)) goto done;
    if (x2_s) {
        if (cli_read_data(cmd, "--x2", x2_s, NULL, &rows2, scale, quiet, &x2)) goto done;
        if (x2.cols != x1.cols) {
            cli_error(cmd, "--x2 %s has %zu column%s but --x1 %s has %zu", x2_s, x2.cols, x2.cols == 1 ? "" : "s",
                      x1_s, x1.cols);
            goto done;
        }
    }
    size_t k;
    if (samples > 1) {
        if (cli_parse_arch(cmd, arch_s, &arch)) goto done;
        /* k without building a network: the last dense layer's width */
        k = 0;
        for (size_t i = 0; i < ntk_arch_n_layers(arch); i++)
            if (ntk_arch_layer(arch, i)->kind == NTK_LAYER_DENSE) k = ntk_arch_layer(arch, i)->width;
        if (k == 0) {
            cli_error(cmd, "--arch: the network has no dense layer");
            goto done;
        }
    } else {
        if (cli_net_get(cmd, &src, x1.cols, "--x1", x1_s, &net, &lin)) goto done;
        k = ntk_net_n_outputs(lin ? ntk_linear_base(lin) : net);
    }
    size_t n1 = x1.rows, n2 = x2_s ? x2.rows : n1, rr = full ? k : 1;
    size_t rows = n1 * rr, cols = n2 * rr;
    if ((rr && rows / rr != n1) || (rr && cols / rr != n2) || (cols && rows > SIZE_MAX / sizeof(double) / cols)) {
        cli_error(cmd, "the kernel of %zu x %zu points is too large", n1, n2);
        goto done;
    }
    ntk_empirical_opts eo = ntk_empirical_opts_default();
    eo.full = full;
    eo.samples = samples;
    eo.seed = src.seed;
    eo.param = src.has_param ? src.param : NTK_PARAM_NTK;
    {
        /* before any work: outputs and working memory, the files on disk */
        ntk_net *probe = NULL; /* for --samples, a network of the shape to measure */
        const ntk_net *nn = lin ? ntk_linear_base(lin) : net;
        if (!nn && !ntk_net_create(arch, x1.cols, eo.param, &probe, &err)) nn = probe;
        size_t work = 0, m2 = x2_s ? n2 : 0;
        if (nn && samples > 1) work = ntk_empirical_bytes(nn, &eo, n1, m2, out_ntk != NULL, out_nngp != NULL);
        else if (nn) {
            size_t a = out_ntk ? ntk_empirical_bytes(nn, &eo, n1, m2, 1, 0) : 0;
            size_t b = out_nngp && !lin ? ntk_empirical_bytes(nn, &eo, n1, m2, 0, 1) : 0;
            work = a > b ? a : b;
        }
        ntk_net_free(probe);
        double outd = (out_nngp ? (double)n1 * (double)n2 : 0) + (out_ntk ? (double)rows * (double)cols : 0);
        double needd = (double)work + 8 * outd;
        size_t need = needd >= 1.8e19 ? SIZE_MAX : (size_t)needd;
        char what[128];
        snprintf(what, sizeof what, "%zu x %zu points (%s%s%s)", n1, n2, out_ntk ? (full ? "full NTK" : "NTK") : "",
                 out_ntk && out_nngp ? ", " : "", out_nngp ? "NNGP" : "");
        const char *flags[2] = {"--out", "--out"}, *paths[2] = {out_ntk, out_nngp};
        size_t bytes[2] = {out_ntk ? cli_matrix_file_bytes(out_ntk, rows, cols) : 0,
                           out_nngp ? cli_matrix_file_bytes(out_nngp, n1, n2) : 0};
        if (cli_check_memory(cmd, need, what, NULL, force) || cli_check_disk(cmd, flags, paths, bytes, 2, force))
            goto done;
    }
    if (out_nngp && !(kn = malloc(n1 * n2 * sizeof *kn))) {
        cli_error(cmd, "out of memory for a %zu x %zu NNGP", n1, n2);
        goto done;
    }
    if (out_ntk && !(kt = malloc(rows * cols * sizeof *kt))) {
        cli_error(cmd, "out of memory for a %zu x %zu NTK", rows, cols);
        goto done;
    }
    const double *x2d = x2_s ? x2.data : NULL;
    double t0 = cli_now();
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    eo.progress = cli_progress_cb(&pr);
    ntk_status es = NTK_OK;
    if (samples > 1) {
        es = ntk_mc_kernels_ex(arch, x1.cols, &eo, x1.data, n1, x2d, n2, kn, kt, &err);
    } else {
        const ntk_net *nn = lin ? ntk_linear_base(lin) : net;
        if (kt) es = ntk_empirical_ntk_ex(nn, &eo, x1.data, n1, x2d, n2, kt, &err);
        if (!es && kn) {
            if (lin) {
                cli_progress_done(&pr);
                if (lin_nngp(cmd, lin, &x1, x2_s ? &x2 : NULL, kn)) goto done;
            } else {
                es = ntk_empirical_nngp_ex(net, &eo, x1.data, n1, x2d, n2, kn, &err);
            }
        }
    }
    if (es) {
        rc = cli_run_error(&pr, es, "%s", err.msg);
        goto done;
    }
    cli_progress_done(&pr);
    double t1 = cli_now();
    {   /* both files or neither */
        cli_matrix_out outs[2] = {{out_ntk, kt, rows, cols, 2}, {out_nngp, kn, n1, n2, 2}};
        if (cli_write_all(cmd, outs, 2)) goto done;
    }
    if (!quiet) {
        char what[64];
        if (samples > 1) snprintf(what, sizeof what, "Monte Carlo average of %zu networks", samples);
        else snprintf(what, sizeof what, "%s", params_s ? "saved network" : "one network");
        fprintf(stderr, "ntk empirical: %s%s%s (%s) %zu x %zu (d = %zu, k = %zu) in %.3f s -> %s%s%s\n",
                out_ntk ? (full ? "full NTK" : "NTK") : "", out_ntk && out_nngp ? "+" : "", out_nngp ? "NNGP" : "",
                what, n1, n2, x1.cols, k, t1 - t0, out_ntk ? out_ntk : "", out_ntk && out_nngp ? ", " : "",
                out_nngp ? out_nngp : "");
    }
    rc = 0;
done:
    free(kn);
    free(kt);
    ntk_net_free(net);
    ntk_linear_free(lin);
    ntk_arch_free(arch);
    ntk_matrix_free(&x1);
    ntk_matrix_free(&x2);
    return rc;
}
