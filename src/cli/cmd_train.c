/*
 * cmd_train.c — `ntk train`: trains a finite network (or its linearization)
 * on the MSE loss by gradient descent (docs/math.md, "Training dynamics"),
 * then saves its parameters, optionally with predictions on other points
 * and the loss curve.
 *
 * Before training it prints the largest stable learning rate of full-batch
 * GD on the linearized model, 2(1+μ)n/λ_max(Θ̂0) (μ the momentum; n = N·k
 * target entries; Θ̂0 the full empirical NTK at θ0 on the training set):
 * exact for --linearized, the usual guide for the network itself.
 */
#include "args.h"
#include "cli.h"
#include "io/io_internal.h" /* ntk_outputs_open: the --log stream */
#include "net/save_internal.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *TRAIN_HELP =
    "usage: ntk train --arch SPEC --x FILE --y FILE --lr ETA --steps T --save PARAMS.npz [options]\n"
    "\n"
    "Trains a finite network on the mean squared error L = (1/2n)·Σ(f − y)²\n"
    "(n = rows·outputs) by gradient descent and saves its parameters as an .npz\n"
    "archive (arch.txt, meta.txt, dense<l>.W, dense<l>.b; np.load reads it).\n"
    "Before training it prints the largest stable learning rate 2n/λ_max(Θ̂0)\n"
    "of the linearized model (computed when N·k <= 4096) and warns above it.\n"
    "\n"
    "  --arch SPEC       the network (or @FILE); the last dense width is the number\n"
    "                    of outputs k and must equal the columns of --y\n"
    "  --x FILE          training inputs, N x d (.npy or .csv)\n"
    "  --y FILE          training targets, N x k (.npy or .csv)\n"
    "  --lr ETA          learning rate, > 0\n"
    "  --steps T         number of updates, >= 0 (0 saves the initial parameters)\n"
    "  --batch B         minibatch size for SGD (rows reshuffled every epoch);\n"
    "                    0 or >= N (default): full-batch gradient descent\n"
    "  --momentum M      heavy-ball momentum in [0, 1) (default 0)\n"
    "  --seed S          seed of the initial parameters and the minibatch order\n"
    "                    (default 0); the same seed gives the same θ0 as\n"
    "                    'ntk empirical --seed S' and 'ntk features --seed S'\n"
    "  --linearized      train the linearized model f(x;θ0) + ϕ0(x)·(θ − θ0)\n"
    "                    instead; the saved file keeps θ and θ0 ('ntk apply' reads it)\n"
    "  --param P         ntk (default) or standard parameterization\n"
    "  --save FILE.npz   where the trained parameters go\n"
    "  --rows A:B        use only rows A to B-1 of --x and --y, counted from 0 as in Python's\n"
    "                    x[A:B] (A: or :B for one side); past the end of the file: an error\n"
    "  --scale S         multiply --x and --eval (not --y) by S, a number or a fraction\n"
    "                    like 1/255 (as 'ntk fit --scale'; 1/255 for 8-bit pixels). The\n"
    "                    saved network expects scaled inputs: give 'ntk apply', 'ntk\n"
    "                    empirical' and 'ntk features' of it the same --scale\n"
    "  --eval FILE       points to predict after training (needs --out)\n"
    "  --out FILE        predictions on --eval, rows x k (.npy or .csv)\n"
    "  --log FILE.csv    the full-training-set loss as CSV 'step,loss'\n"
    "  --log-every K     log every K steps, plus the first and the last (default:\n"
    "                    every step for full batch, every epoch for SGD)\n"
    "  --threads N       worker threads (default: all cores); results do not depend on it\n"
    "  --quiet           nothing on stderr unless an error\n"
    "  --force           start even when the memory or disk estimate says it will not fit\n"
    "\n"
    "Progress on stderr (steps, rate, ETA, and the loss on a terminal): a bar on a\n"
    "terminal, a line every 10 s otherwise. The memory training needs and the\n"
    "outputs' size on disk are checked before it starts. Outputs are written only\n"
    "when training succeeds; a diverging run (NaN/Inf loss) exits with 1; Ctrl-C\n"
    "(SIGINT) or SIGTERM stops it, writes nothing and exits with 130 or 143.\n"
    "\n"
    "example:\n"
    "  ntk train --arch 'dense(256,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)' \\\n"
    "            --x train_x.npy --y train_y.npy --lr 1 --steps 1000 --save net.npz \\\n"
    "            --eval test_x.npy --out pred.npy --log loss.csv\n";

#define STABLE_MAX_NK 4096 /* Θ̂0 (N·k)² doubles: 128 MiB at most     */
#define STABLE_DSYEVD_MAX 1024 /* exact eigenvalues up to here, else power iteration */

/* λ_max of the full empirical NTK at θ0 on X (N·k ≤ STABLE_MAX_NK), or NAN
 * when it cannot be had. Power iteration from the all-ones vector (NTK
 * matrices are dominated by a near-constant eigenvector), by Rayleigh
 * quotients: converges from below, so 2n/λ is at worst a slight over-estimate. */
static double lambda_max(const ntk_net *net, const double *x, size_t N)
{
    size_t m = N * ntk_net_n_outputs(net);
    if (m > STABLE_MAX_NK) return NAN;
    double *T = malloc(m * m * sizeof *T), *v = malloc(m * sizeof *v), *w = malloc(m * sizeof *w);
    double lam = NAN;
    ntk_error err;
    if (!T || !v || !w || ntk_empirical_ntk(net, x, N, NULL, 0, 1, T, &err)) goto done;
    if (m <= STABLE_DSYEVD_MAX) {
        /* column-major 'L' = row-major 'U' of the symmetric T, without LAPACKE's copy */
        if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)m, T, (lapack_int)m, w) == 0) lam = w[m - 1];
        goto done;
    }
    for (size_t i = 0; i < m; i++) v[i] = 1.0 / sqrt((double)m);
    double prev = 0;
    for (int it = 0; it < 500; it++) {
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)m, 1.0, T, (int)m, v, 1, 0.0, w, 1);
        double r = cblas_ddot((int)m, v, 1, w, 1), nw = cblas_dnrm2((int)m, w, 1);
        lam = r;
        if (!(nw > 0)) break;
        for (size_t i = 0; i < m; i++) v[i] = w[i] / nw;
        if (it > 0 && fabs(r - prev) <= 1e-9 * fabs(r)) break;
        prev = r;
    }
done:
    free(T);
    free(v);
    free(w);
    return lam > 0 && isfinite(lam) ? lam : NAN;
}

/* ------------------------------------------------------------ the loss log and the progress bar */

typedef struct {
    FILE *log;          /* the temporary log file, or NULL        */
    size_t steps;
    int bar;            /* show the loss with the progress        */
    int io_error;
    double first, last; /* losses at step 0 and at the last log   */
    cli_progress *pr;
} train_cb;

static int on_log(void *ctx, size_t step, double loss)
{
    train_cb *c = ctx;
    if (c->log && fprintf(c->log, "%zu,%.17g\n", step, loss) < 0) c->io_error = 1;
    if (step == 0) c->first = loss;
    c->last = loss;
    if (c->bar) cli_progress_note(c->pr, "loss %.6g", loss);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *cmd = "train";
    const char *arch_s = NULL, *x_s = NULL, *y_s = NULL, *lr_s = NULL, *steps_s = NULL, *batch_s = NULL,
               *mom_s = NULL, *seed_s = NULL, *param_s = NULL, *save_s = NULL, *eval_s = NULL, *out_s = NULL,
               *log_s = NULL, *every_s = NULL, *threads_s = NULL, *rows_s = NULL, *scale_s = NULL;
    int linearized = 0, quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},         {"--x", 1, &x_s, NULL},
        {"--y", 1, &y_s, NULL},               {"--lr", 1, &lr_s, NULL},
        {"--steps", 1, &steps_s, NULL},       {"--batch", 1, &batch_s, NULL},
        {"--momentum", 1, &mom_s, NULL},      {"--seed", 1, &seed_s, NULL},
        {"--param", 1, &param_s, NULL},       {"--save", 1, &save_s, NULL},
        {"--eval", 1, &eval_s, NULL},         {"--out", 1, &out_s, NULL},
        {"--log", 1, &log_s, NULL},           {"--log-every", 1, &every_s, NULL},
        {"--threads", 1, &threads_s, NULL},   {"--linearized", 0, NULL, &linearized},
        {"--quiet", 0, NULL, &quiet},         {"--rows", 1, &rows_s, NULL},
        {"--scale", 1, &scale_s, NULL},       {"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) { fputs(TRAIN_HELP, stdout); return 0; }
    if (r) return r;
    if (!arch_s) return cli_usage_error(cmd, "--arch is required (see 'ntk train --help')");
    if (!x_s) return cli_usage_error(cmd, "--x is required");
    if (!y_s) return cli_usage_error(cmd, "--y is required");
    if (!lr_s) return cli_usage_error(cmd, "--lr is required");
    if (!steps_s) return cli_usage_error(cmd, "--steps is required");
    if (!save_s) return cli_usage_error(cmd, "--save is required (where the trained parameters go)");
    if (eval_s && !out_s) return cli_usage_error(cmd, "--eval needs --out (where the predictions go)");
    if (out_s && !eval_s) return cli_usage_error(cmd, "--out needs --eval (the points to predict)");

    ntk_train_opts to = ntk_train_opts_default();
    long v;
    if (cli_parse_double(cmd, "--lr", lr_s, 0, 1, INFINITY, 0, &to.lr)) return 2;
    if (cli_parse_int(cmd, "--steps", steps_s, 0, LONG_MAX, &v)) return 2;
    to.steps = (size_t)v;
    to.batch = 0;
    if (batch_s) {
        if (cli_parse_int(cmd, "--batch", batch_s, 0, LONG_MAX, &v)) return 2;
        to.batch = (size_t)v;
    }
    to.momentum = 0;
    if (mom_s && cli_parse_double(cmd, "--momentum", mom_s, 0, 0, 1, 1, &to.momentum)) return 2;
    size_t every = 0;
    if (every_s) {
        if (cli_parse_int(cmd, "--log-every", every_s, 1, LONG_MAX, &v)) return 2;
        every = (size_t)v;
    }
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        to.threads = (int)v;
        cli_set_threads(to.threads);
    }
    cli_net_src src;
    if (cli_net_usage(cmd, arch_s, NULL, seed_s, param_s, &src)) return 2;
    cli_rows rows;
    double in_scale = 1.0;
    if (cli_parse_rows(cmd, "--rows", rows_s, NULL, &rows) || (scale_s && cli_parse_scale(cmd, scale_s, &in_scale)))
        return 2;
    to.seed = src.seed;
    const char *outs[3] = {save_s, out_s, log_s};
    const char *oflags[3] = {"--save", "--out", "--log"};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                return cli_usage_error(cmd, "%s and %s name the same file '%s'", oflags[i], oflags[j], outs[i]);
    if (cli_check_out(cmd, "--save", save_s, CLI_OUT_NPZ) || (out_s && cli_check_out(cmd, "--out", out_s, CLI_OUT_MATRIX)) ||
        (log_s && cli_check_out(cmd, "--log", log_s, CLI_OUT_CSV)))
        return 1;

    int rc = 1;
    ntk_matrix x = {0}, y = {0}, xe = {0};
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    double *pred = NULL;
    FILE *logf = NULL;
    ntk_outputs *oset = NULL; /* --save, --out and --log: all or nothing */
    ntk_error err;
    if (cli_read_data(cmd, "--x", x_s, NULL, &rows, in_scale, quiet, &x) ||
        cli_read_data(cmd, "--y", y_s, NULL, &rows, 1.0, quiet, &y))
        goto done;
    if (y.rows != x.rows) {
        cli_error(cmd, "--y %s has %zu row%s but --x %s has %zu", y_s, y.rows, y.rows == 1 ? "" : "s", x_s, x.rows);
        goto done;
    }
    if (eval_s) {
        if (cli_read_data(cmd, "--eval", eval_s, NULL, NULL, in_scale, quiet, &xe)) goto done;
        if (xe.cols != x.cols) {
            cli_error(cmd, "--eval %s has %zu column%s but --x %s has %zu", eval_s, xe.cols, xe.cols == 1 ? "" : "s",
                      x_s, x.cols);
            goto done;
        }
    }
    if (cli_net_get(cmd, &src, x.cols, "--x", x_s, &net, NULL)) goto done;
    size_t N = x.rows, k = ntk_net_n_outputs(net);
    if (y.cols != k) {
        cli_error(cmd, "--y %s has %zu column%s but the network has %zu output%s (the last dense layer's width)", y_s,
                  y.cols, y.cols == 1 ? "" : "s", k, k == 1 ? "" : "s");
        goto done;
    }
    size_t B = (to.batch == 0 || to.batch >= N) ? N : to.batch;
    size_t epoch = (N + B - 1) / B;
    {
        /* before any work: training's memory (with the stability bound's
         * Θ̂0 when it is computed, and the predictions) and the files */
        double nk = (double)N * (double)k, lam_b = !quiet && nk <= STABLE_MAX_NK ? 3 * nk * nk * 8 : 0;
        double needd = (double)ntk_train_bytes(net, &to, N, linearized) + lam_b + (double)xe.rows * (double)k * 8;
        size_t need = needd >= 1.8e19 ? SIZE_MAX : (size_t)needd;
        char what[96];
        snprintf(what, sizeof what, "training on %zu points (%zu parameters)", N, ntk_net_n_params(net));
        size_t every_n = every ? every : B == N ? 1 : epoch;
        double params = (double)ntk_net_n_params(net) * 8 * (linearized ? 2 : 1) + 65536;
        const char *flags[3] = {"--save", "--out", "--log"}, *paths[3] = {save_s, out_s, log_s};
        size_t bytes[3] = {params >= 1.8e19 ? SIZE_MAX : (size_t)params,
                           out_s ? cli_matrix_file_bytes(out_s, xe.rows, k) : 0,
                           (to.steps / every_n + 3) * 48}; /* "step,loss" lines of at most 45 characters */
        if (cli_check_memory(cmd, need, what, NULL, force) || cli_check_disk(cmd, flags, paths, bytes, 3, force))
            goto done;
    }

    /* the stability bound of full-batch GD on the linearized model */
    double lam = NAN, bound = NAN;
    const double scale = 2.0 * (1.0 + to.momentum) * (double)(N * k);
    if (!quiet) {
        lam = lambda_max(net, x.data, N);
        bound = scale / lam;
        const char *form = to.momentum > 0 ? "2(1+momentum)n/lambda_max" : "2n/lambda_max";
        if (isnan(lam) && N * k > STABLE_MAX_NK)
            fprintf(stderr, "ntk train: note: N·k = %zu > %d: the largest stable learning rate %s is not computed\n",
                    N * k, STABLE_MAX_NK, form);
        else if (isnan(lam))
            fprintf(stderr, "ntk train: note: the largest stable learning rate could not be computed\n");
        else {
            fprintf(stderr,
                    "ntk train: largest stable learning rate (full-batch GD, linearized model at theta0): "
                    "%s = %.6g (n = %zu, lambda_max = %.6g)\n",
                    form, bound, N * k, lam);
            if (to.lr > bound)
                fprintf(stderr, "ntk train: warning: --lr %g exceeds %s = %.6g: training will likely diverge\n",
                        to.lr, form, bound);
        }
    }

    if (linearized && ntk_linear_create(net, &lin, &err)) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    if (ntk_outputs_create(&oset, &err) || (log_s && ntk_outputs_open(oset, log_s, &logf, &err))) {
        cli_error(cmd, "--log: %s", err.msg);
        goto done;
    }
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    to.progress = cli_progress_cb(&pr);
    train_cb cb = {logf, to.steps, !quiet && isatty(2), 0, NAN, NAN, &pr};
    if (logf && fputs("step,loss\n", logf) < 0) cb.io_error = 1;
    to.on_log = on_log;
    to.log_ctx = &cb;
    if (every) to.log_every = every;
    else if (logf) to.log_every = B == N ? 1 : epoch;
    else if (cb.bar) {
        to.log_every = to.steps / 100 ? to.steps / 100 : 1;
        if (B < N && to.log_every < epoch) to.log_every = epoch;
    }

    double t0 = cli_now(), final_loss = NAN;
    ntk_status ts = lin ? ntk_train_linear(lin, &to, x.data, y.data, N, &final_loss, &err)
                        : ntk_train(net, &to, x.data, y.data, N, &final_loss, &err);
    double t1 = cli_now();
    if (ts) {
        cli_progress_done(&pr);
        if (ts == NTK_E_NUMERIC && isnan(lam)) {
            /* the bound for the message: θ0 again (the linearized model keeps it) */
            if (lin) lam = lambda_max(ntk_linear_base(lin), x.data, N);
            else if (!ntk_net_init(net, src.seed, NULL)) lam = lambda_max(net, x.data, N);
            bound = scale / lam;
        }
        if (ts == NTK_E_NUMERIC && !isnan(lam))
            cli_error(cmd, "%s (--lr %g; the largest stable rate for this data is %s = %.6g)", err.msg, to.lr,
                      to.momentum > 0 ? "2(1+momentum)n/lambda_max" : "2n/lambda_max", bound);
        else rc = cli_run_error(&pr, ts, "%s", err.msg);
        goto done;
    }
    cli_progress_done(&pr);
    if (eval_s) {
        size_t ne = xe.rows;
        if (!(pred = malloc(ne * k * sizeof *pred))) {
            cli_error(cmd, "out of memory for %zu x %zu predictions", ne, k);
            goto done;
        }
        ntk_status s = lin ? ntk_linear_apply(lin, xe.data, ne, pred, &err)
                           : ntk_net_apply(net, xe.data, ne, pred, to.threads, &err);
        if (s) {
            cli_error(cmd, "--eval %s: %s", eval_s, err.msg);
            goto done;
        }
    }
    if (logf) {
        int io_error = cb.io_error;
        FILE *f = logf;
        logf = NULL;
        if (ntk_outputs_close(oset, f, &err) || io_error) {
            if (io_error) snprintf(err.msg, sizeof err.msg, "%s: write failed", log_s);
            cli_error(cmd, "--log: %s", err.msg);
            goto done;
        }
    }
    net_save_info info = {1, src.seed};
    if (net_save_model_to(oset, net, lin, &info, save_s, &err)) {
        cli_error(cmd, "--save: %s", err.msg);
        goto done;
    }
    if (eval_s && ntk_outputs_write_matrix(oset, out_s, pred, xe.rows, k, 2, &err)) {
        cli_error(cmd, "--out: %s", err.msg);
        goto done;
    }
    if (ntk_outputs_commit(oset, &err)) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "ntk train: %zu step%s of %s%s on %zu point%s (%zu parameters): loss %.6g -> %.6g in %.3f s -> %s\n",
                to.steps, to.steps == 1 ? "" : "s", B == N ? "full-batch GD" : "SGD", lin ? " (linearized)" : "", N,
                N == 1 ? "" : "s", ntk_net_n_params(net), cb.first, final_loss, t1 - t0, save_s);
    rc = 0;
done:
    if (logf) ntk_outputs_close(oset, logf, NULL);
    ntk_outputs_free(oset); /* uncommitted (a failure): nothing is written */
    free(pred);
    ntk_linear_free(lin);
    ntk_net_free(net);
    ntk_matrix_free(&x);
    ntk_matrix_free(&y);
    ntk_matrix_free(&xe);
    return rc;
}
