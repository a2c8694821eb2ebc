/*
 * cmd_compare.c — `ntk compare`: the equivalence experiment (ntk_compare)
 * on the user's data, reported as a table on stdout, a CSV file and three
 * figures (PNG + SVG). cli_compare_report is shared with `ntk demo`.
 */
#include "args.h"
#include "cli.h"
#include "plot.h"

#include "io/io_internal.h" /* ntk_outputs_open */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *COMPARE_HELP =
    "usage: ntk compare --arch SPEC --x FILE --y FILE --x-test FILE [--y-test FILE] [options]\n"
    "\n"
    "The equivalence experiment: for each hidden width, a network trained by full-batch\n"
    "gradient descent from theta0, its linearization trained the same way, the kernel\n"
    "prediction with its own empirical NTK, and the infinite-width NTK prediction (mean\n"
    "+-2 sd). Reports losses, gaps, kernel drift and their log-log slopes against width.\n"
    "\n"
    "  --arch SPEC        the network; every dense layer but the last gets each width\n"
    "  --x, --y FILE      training inputs (N x d) and targets (N x k)\n"
    "  --x-test FILE      test inputs (M x d); --y-test FILE their targets (optional)\n"
    "  --widths LIST      hidden widths (default 64,256,1024,4096)\n"
    "  --lr ETA           learning rate (default n/lambda_max of the analytic NTK, half the largest stable)\n"
    "  --steps T          gradient-descent steps (default 1000)\n"
    "  --checkpoints LIST steps to report (default T/100,T/10,T)\n"
    "  --seed S           seed of theta0 (default 0)\n"
    "  --param P          ntk (default) or standard\n"
    "  --rows A:B         use only rows A to B-1 of --x and --y, counted from 0 as in Python's\n"
    "                     x[A:B] (A: or :B for one side); past the end of a file: an error\n"
    "  --test-rows A:B    the same for --x-test and --y-test\n"
    "  --scale S          multiply --x and --x-test (not the targets) by S, a number or a\n"
    "                     fraction like 1/255 (as 'ntk fit --scale')\n"
    "  --out-dir DIR      where compare.csv and the plots go (default ntk-compare)\n"
    "  --threads N        worker threads\n"
    "  --quiet            no table on stdout, no progress on stderr (errors still)\n"
    "  --force            start even when the memory estimate says it will not fit\n"
    "\n"
    "The memory the experiment needs (dominated by the full empirical NTK of the\n"
    "training set, (N·k)² doubles, and its factorization) is checked before it\n"
    "starts. Progress on stderr per width and part; Ctrl-C (SIGINT) or SIGTERM\n"
    "stops, writes nothing and exits with 130 or 143.\n"
    "\n"
    "example:\n"
    "  ntk compare --arch 'dense(512,w_std=1.5,b_std=0.1),erf,dense(1,w_std=1.5)' \\\n"
    "              --x x.npy --y y.npy --x-test xt.npy --widths 64,256,1024 --out-dir out\n";

static int ensure_dir(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return cli_error(cmd, "--out-dir %s: exists and is not a directory", dir);
        return 0;
    }
    if (mkdir(dir, 0777) != 0) return cli_error(cmd, "--out-dir %s: cannot create: %s", dir, strerror(errno));
    return 0;
}

static void fmt(char *b, size_t n, double v)
{
    if (isnan(v)) snprintf(b, n, "%10s", "-");
    else snprintf(b, n, "%10.3e", v);
}

int cli_compare_report(const char *cmd, const ntk_arch *arch, const ntk_compare_opts *co, const double *x, size_t N,
                       size_t d, const double *y, size_t k, const double *xt, size_t M, const double *yt,
                       const double *plot_x, const double *plot_train_x, const char *xlabel, const char *out_dir,
                       int quiet)
{
    if (ensure_dir(cmd, out_dir)) return 1;
    ntk_error err;
    ntk_compare_result *R = NULL;
    double t0 = cli_now();
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    ntk_compare_opts cop = *co;
    cop.progress = cli_progress_cb(&pr);
    ntk_status cs = ntk_compare(arch, &cop, x, N, d, y, k, xt, M, yt, &R, &err);
    if (cs) return cli_run_error(&pr, cs, "%s", err.msg);
    cli_progress_done(&pr);
    double t1 = cli_now();
    char spec[4096];
    ntk_arch_format(arch, spec, sizeof spec);
    if (!quiet) {
        printf("equivalence experiment: %s\n", spec);
        printf("  N = %zu training points, M = %zu test points, d = %zu, k = %zu; %zu GD steps, lr = %.4g "
               "(largest stable 2n/lambda_max = %.4g); seed %llu; %.1f s\n\n",
               N, M, d, k, R->steps, R->lr, R->lr_max, (unsigned long long)co->seed, t1 - t0);
        printf("%6s %6s | %10s %10s %10s %10s | %10s %10s %10s %10s | %10s %10s %10s %10s | %10s %10s\n", "width",
               "step", "train net", "lin", "kernel", "inf", "test net", "lin", "kernel", "inf", "net-lin", "net-kernel",
               "net-ntk", "net-inf", "drift", "|K0-K|/|K|");
        for (size_t w = 0; w < R->n_widths; w++)
            for (size_t c = 0; c < R->n_checkpoints; c++) {
                const ntk_compare_row *r = &R->rows[w * R->n_checkpoints + c];
                double v[14] = {r->train_net, r->train_lin, r->train_kernel, r->train_inf, r->test_net, r->test_lin,
                                r->test_kernel, r->test_inf, r->gap_lin, r->gap_kernel, r->gap_ntk, r->gap_inf, r->drift,
                                r->dist0};
                char b[14][24];
                for (int i = 0; i < 14; i++) fmt(b[i], sizeof b[i], v[i]);
                printf("%6zu %6zu | %s %s %s %s | %s %s %s %s | %s %s %s %s | %s %s\n", r->width, r->step, b[0], b[1],
                       b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13]);
            }
        printf("\ncolumns: losses L = (1/2n) sum (f - y)^2 of the network, its linearization, the kernel prediction with\n"
               "its own empirical NTK, and the infinite-width mean; RMS test-set gaps between the network and each\n"
               "of: linearization, own-kernel prediction, analytic-NTK prediction from the same f0, infinite-width\n"
               "mean (this one keeps the random initial function, so it does not vanish); kernel drift\n"
               "|K_t - K_0|/|K_0| and distance |K_0 - K_inf|/|K_inf| of the empirical NTK on the training set.\n");
        printf("\nlog-log slope against width at step %zu (theory: about -0.5 for the kernel quantities):\n",
               R->steps);
        printf("  net-lin %.3f   net-kernel %.3f   net-ntk %.3f   net-inf %.3f   kernel drift %.3f   |K0-K|/|K| %.3f\n",
               R->slope[0], R->slope[1], R->slope[5], R->slope[2], R->slope[3], R->slope[4]);
    }
    /* compare.csv and the plots: staged in one set, committed together */
    int rc = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/compare.csv", out_dir);
    ntk_outputs *o = NULL;
    {
        FILE *f = NULL;
        if (ntk_outputs_create(&o, &err) || ntk_outputs_open(o, path, &f, &err)) {
            rc = cli_error(cmd, "%s", err.msg);
            goto done;
        }
        fprintf(f, "width,step,train_net,train_lin,train_kernel,train_inf,test_net,test_lin,test_kernel,test_inf,"
                   "gap_net_lin,gap_net_kernel,gap_net_ntk,gap_net_inf,kernel_drift,kernel_dist0\n");
        for (size_t i = 0; i < R->n_widths * R->n_checkpoints; i++) {
            const ntk_compare_row *r = &R->rows[i];
            fprintf(f, "%zu,%zu,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g\n",
                    r->width, r->step, r->train_net, r->train_lin, r->train_kernel, r->train_inf, r->test_net,
                    r->test_lin, r->test_kernel, r->test_inf, r->gap_lin, r->gap_kernel, r->gap_ntk, r->gap_inf,
                    r->drift, r->dist0);
        }
        fprintf(f, "# slopes (log-log vs width at step %zu): gap_net_lin %.6g, gap_net_kernel %.6g, gap_net_ntk %.6g, "
                   "gap_net_inf %.6g, kernel_drift %.6g, kernel_dist0 %.6g\n",
                R->steps, R->slope[0], R->slope[1], R->slope[5], R->slope[2], R->slope[3], R->slope[4]);
        if (ntk_outputs_close(o, f, &err)) { /* flushes; reports any failed write */
            rc = cli_error(cmd, "%s", err.msg);
            goto done;
        }
    }
    /* plots: the first output column */
    {
        char perr[512], base[4096];
        size_t W = R->n_widths;
        double *f1 = malloc(W * M * sizeof *f1), *m1 = malloc(M * sizeof *m1), *y1 = yt ? malloc(M * sizeof *y1) : NULL;
        double *ty = malloc(N * sizeof *ty);
        if (!f1 || !m1 || (yt && !y1) || !ty) { rc = cli_error(cmd, "out of memory"); goto done; }
        for (size_t w = 0; w < W; w++)
            for (size_t i = 0; i < M; i++) f1[w * M + i] = R->f_net[(w * M + i) * k];
        for (size_t i = 0; i < M; i++) {
            m1[i] = R->inf_mean[i * k];
            if (y1) y1[i] = yt[i * k];
        }
        for (size_t i = 0; i < N; i++) ty[i] = y[i * k];
        plot_functions_data fd = {"networks after training vs the infinite-width NTK prediction", xlabel, M, W, N,
                                  plot_x, f1, R->widths, m1, R->inf_std, y1, plot_train_x, plot_train_x ? ty : NULL};
        snprintf(base, sizeof base, "%s/function", out_dir);
        if (plot_functions(o, base, &fd, perr, sizeof perr)) rc = cli_error(cmd, "%s", perr);
        double q[5][64];
        for (size_t w = 0; w < W && w < 64; w++) {
            const ntk_compare_row *r = &R->rows[w * R->n_checkpoints + R->n_checkpoints - 1];
            q[0][w] = r->gap_lin;
            q[1][w] = r->gap_kernel;
            q[2][w] = r->gap_ntk;
            q[3][w] = r->drift;
            q[4][w] = r->dist0;
        }
        plot_gaps_data gd = {"gaps and kernel drift vs width (log-log)",
                             W,
                             R->widths,
                             {q[0], q[1], q[2], q[3], q[4]},
                             {"net - linearized", "net - own-kernel pred.", "net - NTK pred. (same f0)", "kernel drift",
                              "|K0 - K| / |K|"},
                             {R->slope[0], R->slope[1], R->slope[5], R->slope[3], R->slope[4]}};
        snprintf(base, sizeof base, "%s/gaps", out_dir);
        if (!rc && plot_gaps(o, base, &gd, perr, sizeof perr)) rc = cli_error(cmd, "%s", perr);
        plot_losses_data ld = {"training loss", W, R->steps, R->widths, R->loss_net, R->loss_inf};
        snprintf(base, sizeof base, "%s/loss", out_dir);
        if (!rc && plot_losses(o, base, &ld, perr, sizeof perr)) rc = cli_error(cmd, "%s", perr);
        free(f1);
        free(m1);
        free(y1);
        free(ty);
    }
    if (!rc && ntk_outputs_commit(o, &err)) rc = cli_error(cmd, "%s", err.msg);
    if (!rc && !quiet)
        printf("\nwrote %s/compare.csv and the plots %s/function, %s/gaps, %s/loss (.png and .svg)\n", out_dir,
               out_dir, out_dir, out_dir);
done:
    ntk_outputs_free(o); /* not committed after a failure: no file of the run appears */
    ntk_compare_free(R);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    const char *cmd = "compare";
    const char *arch_s = NULL, *x_s = NULL, *y_s = NULL, *xt_s = NULL, *yt_s = NULL, *widths_s = NULL, *lr_s = NULL,
               *steps_s = NULL, *cps_s = NULL, *seed_s = NULL, *param_s = NULL, *dir_s = NULL, *threads_s = NULL,
               *rows_s = NULL, *trows_s = NULL, *scale_s = NULL;
    int quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},       {"--x", 1, &x_s, NULL},           {"--y", 1, &y_s, NULL},
        {"--x-test", 1, &xt_s, NULL},       {"--y-test", 1, &yt_s, NULL},     {"--widths", 1, &widths_s, NULL},
        {"--lr", 1, &lr_s, NULL},           {"--steps", 1, &steps_s, NULL},   {"--checkpoints", 1, &cps_s, NULL},
        {"--seed", 1, &seed_s, NULL},       {"--param", 1, &param_s, NULL},   {"--out-dir", 1, &dir_s, NULL},
        {"--threads", 1, &threads_s, NULL}, {"--quiet", 0, NULL, &quiet},     {"--rows", 1, &rows_s, NULL},
        {"--test-rows", 1, &trows_s, NULL}, {"--scale", 1, &scale_s, NULL},   {"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(COMPARE_HELP, stdout); return 0; }
    if (r) return r;
    if (!arch_s) return cli_usage_error(cmd, "--arch is required (see 'ntk compare --help')");
    if (!x_s || !y_s || !xt_s) return cli_usage_error(cmd, "--x, --y and --x-test are required");
    ntk_compare_opts co = ntk_compare_opts_default();
    size_t widths[64], cps[64];
    if (widths_s) {
        int n = cli_parse_size_list(cmd, "--widths", widths_s, widths, 64);
        if (n < 0) return 2;
        co.widths = widths;
        co.n_widths = (size_t)n;
    }
    if (cps_s) {
        int n = cli_parse_size_list(cmd, "--checkpoints", cps_s, cps, 64);
        if (n < 0) return 2;
        co.checkpoints = cps;
        co.n_checkpoints = (size_t)n;
    }
    long v;
    if (steps_s) {
        if (cli_parse_int(cmd, "--steps", steps_s, 1, 10000000, &v)) return 2;
        co.steps = (size_t)v;
    }
    if (lr_s && cli_parse_double(cmd, "--lr", lr_s, 0, 1, INFINITY, 1, &co.lr)) return 2;
    if (seed_s && cli_parse_u64(cmd, "--seed", seed_s, &co.seed)) return 2;
    if (param_s && cli_parse_param(cmd, param_s, &co.param)) return 2;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        co.threads = (int)v;
        cli_set_threads((int)v);
    }
    cli_rows rows, trows;
    double scale = 1.0;
    if (cli_parse_rows(cmd, "--rows", rows_s, NULL, &rows) || cli_parse_rows(cmd, "--test-rows", trows_s, NULL, &trows) ||
        (scale_s && cli_parse_scale(cmd, scale_s, &scale)))
        return 2;
    ntk_arch *arch = NULL;
    if (cli_parse_arch(cmd, arch_s, &arch)) return 1;
    ntk_read_opts ro = ntk_read_opts_default();
    ntk_matrix x = {0}, y = {0}, xt = {0}, yt = {0};
    int rc = 1;
    if (cli_read_data(cmd, "--x", x_s, &ro, &rows, scale, quiet, &x) ||
        cli_read_data(cmd, "--y", y_s, &ro, &rows, 1.0, quiet, &y) ||
        cli_read_data(cmd, "--x-test", xt_s, &ro, &trows, scale, quiet, &xt) ||
        (yt_s && cli_read_data(cmd, "--y-test", yt_s, &ro, &trows, 1.0, quiet, &yt)))
        goto done;
    if (y.rows != x.rows) { cli_error(cmd, "--y %s has %zu rows but --x %s has %zu", y_s, y.rows, x_s, x.rows); goto done; }
    if (xt.cols != x.cols) {
        cli_error(cmd, "--x-test %s has %zu columns but --x %s has %zu", xt_s, xt.cols, x_s, x.cols);
        goto done;
    }
    if (yt_s && (yt.rows != xt.rows || yt.cols != y.cols)) {
        cli_error(cmd, "--y-test %s is %zu x %zu but should be %zu x %zu (test rows x target columns)", yt_s, yt.rows,
                  yt.cols, xt.rows, y.cols);
        goto done;
    }
    {
        char what[96];
        snprintf(what, sizeof what, "N = %zu, k = %zu, M = %zu (full empirical NTKs)", x.rows, y.cols, xt.rows);
        if (cli_check_memory(cmd, ntk_compare_bytes(arch, &co, x.rows, x.cols, y.cols, xt.rows), what, NULL, force))
            goto done;
    }
    {
        /* plot abscissa: the input itself for d = 1, else the row index */
        double *px = malloc(xt.rows * sizeof *px), *tx = x.cols == 1 ? malloc(x.rows * sizeof *tx) : NULL;
        for (size_t i = 0; px && i < xt.rows; i++) px[i] = x.cols == 1 ? xt.data[i] : (double)i;
        for (size_t i = 0; tx && i < x.rows; i++) tx[i] = x.data[i];
        rc = cli_compare_report(cmd, arch, &co, x.data, x.rows, x.cols, y.data, y.cols, xt.data, xt.rows,
                                yt_s ? yt.data : NULL, px, tx, x.cols == 1 ? "x" : "test point", dir_s ? dir_s : "ntk-compare",
                                quiet);
        free(px);
        free(tx);
    }
done:
    ntk_matrix_free(&x);
    ntk_matrix_free(&y);
    ntk_matrix_free(&xt);
    ntk_matrix_free(&yt);
    ntk_arch_free(arch);
    return rc;
}
