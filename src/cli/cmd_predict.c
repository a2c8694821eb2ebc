/*
 * cmd_predict.c — `ntk predict`: applies a kernel model saved by `ntk fit`
 * to new points (ntk_model_load / ntk_model_predict): the infinite-ensemble
 * mean at one or more times, optionally the predictive variances, and with
 * test targets the MSE and R² (or the accuracy, for class labels) per time.
 *
 * Several times go into one file, time-major, the layout of
 * ntk_model_predict's output: (n_times·M) × k, rows t·M .. t·M + M − 1 for
 * the t-th time of --time, so np.load(...).reshape(n_times, M, k) is the
 * 3-D array. One file per time would need a flag per file or invented
 * names; refusing several times would make a learning curve cost one test
 * kernel per time, the thing a model exists to avoid.
 *
 * --kernel-file (and --nngp-file, --nngp-diag-file) give the test kernels
 * instead of computing them; --f0-train/--f0-test make the prediction that
 * of one network from its initial outputs (ntk_model_predict_with).
 */
#include "args.h"
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *PREDICT_HELP =
    "usage: ntk predict --model MODEL.npz --x FILE --out FILE [options]\n"
    "       ntk predict --model MODEL.npz --kernel-file KT.npy --out FILE [options]\n"
    "\n"
    "Applies a model made by 'ntk fit' to new points: the mean of the infinite\n"
    "ensemble (f0 = 0) after training time t, f_t(x) = K(x,X)·V·diag((1 - e^(-lr·t·λ/n))/λ)·Vᵀ·Y\n"
    "(n = N·k), and at t = inf the kernel regression K(x,X)·K⁻¹·Y. The cost is the\n"
    "M x N kernel of the new points against the training points and a product.\n"
    "\n"
    "  --model FILE.npz   the model ('ntk fit --model'); its checksums are verified\n"
    "  --x FILE           points to predict, M x d (.npy, .csv or IDX), d as in the model\n"
    "  --out FILE         predictions (.npy or .csv): M x k for one time; for n times\n"
    "                     (n·M) x k, time-major: the first M rows are the first time of\n"
    "                     --time, the next M the second, ...; np.load(FILE).reshape(n, M, k)\n"
    "                     is indexed (time, point, output)\n"
    "  --time LIST        comma list of times >= 0 and/or inf (default: inf), in units of\n"
    "                     gradient descent steps of the fitted --lr (whole steps for a\n"
    "                     --discrete model); finite times need a model fit without --inf-only\n"
    "  --cov              also the predictive variance of the infinite ensemble at each\n"
    "                     point (an NNGP model at t = inf: the GP posterior variance); its\n"
    "                     mean over the points is printed per time\n"
    "  --var-out FILE     write the variances (implies --cov): M values for one time,\n"
    "                     n x M for n times (row i = the i-th time)\n"
    "  --y FILE           targets of the points: prints the MSE and R² per time on stdout\n"
    "                     (R² = 1 - Σ(f - y)²/Σ(y - mean of its column)²)\n"
    "  --labels           --y holds class labels: the MSE and R² are against their one-hot\n"
    "                     encoding, and the accuracy (argmax of the prediction) is printed\n"
    "  --scale S          multiply --x by S (a number or a fraction like 1/255) instead\n"
    "                     of the scale recorded in the model by 'ntk fit --scale'\n"
    "  --limit N          use only the first N rows of --x (and of --y)\n"
    "  --rows A:B         use only rows A to B-1 of --x and --y, counted from 0 as in\n"
    "                     Python's x[A:B] (A: or :B for one side); past the end: an error.\n"
    "                     The kernel and f0 files below must be those of the rows used\n"
    "  --kernel-file KT   the test x train kernel, M x N (.npy or .csv), instead of\n"
    "                     computing it: 'ntk kernel --x1 TEST --x2 TRAIN' with the fit's\n"
    "                     --arch, --scale and training rows (--rows2), the model's kernel\n"
    "                     kind. --x is then optional (M = its rows); with --x and a model\n"
    "                     with an --arch, its first row is checked against the architecture's\n"
    "  --nngp-file F      with --kernel-file, for --cov of an NTK model: the test x train\n"
    "                     NNGP, M x N ('ntk kernel --get ntk,nngp' writes both)\n"
    "  --nngp-diag-file F with --kernel-file, for --cov: the NNGP K(x,x) of each test point,\n"
    "                     M values ('ntk kernel --x1 TEST --diag --get nngp')\n"
    "  --f0-train F       the predictions of one network instead of the ensemble mean: F\n"
    "                     holds its outputs at initialization on the model's training\n"
    "                     points (N x k, e.g. 'ntk apply' on the parameters saved by\n"
    "                     'ntk train --steps 0'), --f0-test F on the points predicted\n"
    "                     (M x k); both are needed. Then f_t(x) = f0(x) + K(x,X)·V·\n"
    "                     diag((1 - e^(-lr·t·λ/n))/λ)·Vᵀ·(Y - f0(X)) (neural-tangents'\n"
    "                     fx_train_0/fx_test_0). With the network's own empirical NTK as\n"
    "                     the model's kernel ('ntk empirical', 'ntk fit --kernel-file\n"
    "                     --discrete --lr' of the training) this is the linearized network\n"
    "                     after t steps of 'ntk train' (one output: with k > 1 the traced\n"
    "                     empirical NTK leaves out the cross-output terms). t = inf needs\n"
    "                     a model fit without --inf-only; no --cov (one network has no\n"
    "                     ensemble variance)\n"
    "  --f0-test F        see --f0-train\n"
    "  --f0-params P.npz  instead of both: the network saved in P ('ntk train --steps 0\n"
    "                     --save', or any 'ntk train --linearized' file: its θ0) is applied\n"
    "                     to the model's training points and to --x (scaled as the model\n"
    "                     scales them; the network must have been trained with that --scale)\n"
    "  --threads N        worker threads (default: all cores); results do not depend on it\n"
    "  --quiet            no progress and no summary on stderr (errors still)\n"
    "  --force            start even when the memory or disk estimate says it will not fit\n"
    "\n"
    "Before the model is read its size is checked against the available memory\n"
    "(reading holds the archive and its arrays: about twice the file), and before\n"
    "the predictions their working memory and outputs; the outputs against the free\n"
    "disk space. Progress on stderr (test points done); Ctrl-C (SIGINT) or SIGTERM\n"
    "stops, writes nothing and exits with 130 or 143.\n"
    "\n"
    "stdout (with --y or --cov): a header line, then one line per time:\n"
    "  time  mse  r2  [accuracy]  [mean_var]\n"
    "\n"
    "example:\n"
    "  ntk fit --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(10,w_std=1.5,b_std=0.05)' \\\n"
    "          --x train.npy --y train_labels.npy --labels --model model.npz\n"
    "  ntk predict --model model.npz --x test.npy --time 10,100,inf --out pred.npy \\\n"
    "              --cov --var-out var.npy --y test_labels.npy --labels\n"
    "  (with precomputed kernels, see 'ntk fit --help': kernel reuse)\n"
    "  ntk predict --model m.npz --kernel-file Kt.npy --f0-train f0.npy --f0-test f0t.npy \\\n"
    "              --time 1000 --out one_network.npy\n";

#define MAX_TIMES 4096

/* --time: comma list of non-negative numbers and inf. 0 or 2. */
static int parse_times(const char *cmd, const char *s, double **times, size_t *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    if (cap > MAX_TIMES) return cli_usage_error(cmd, "--time: at most %d times", MAX_TIMES);
    double *t = malloc(cap * sizeof *t);
    if (!t) return cli_usage_error(cmd, "out of memory");
    size_t k = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item) {
            free(t);
            return cli_usage_error(cmd, "--time: expected a comma list of times >= 0 or inf, got '%s'", s);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (!strcasecmp(item, "inf") || !strcasecmp(item, "infinity")) {
            t[k++] = INFINITY;
        } else {
            char *end;
            double v = strtod(item, &end);
            if (end == item || *end || !isfinite(v) || !(v >= 0)) {
                free(t);
                return cli_usage_error(cmd, "--time: '%s' is not a time >= 0 or inf (in '%s')", item, s);
            }
            t[k++] = v;
        }
        if (!e) break;
        p = e + 1;
    }
    *times = t;
    *n = k;
    return 0;
}

/* --f0-params: the outputs of the saved network (of its θ0 for a
 * linearized model) on the model's training inputs (already scaled) and
 * on the test inputs x times scale. 0, or 1 after an error. */
static int f0_of_network(const char *cmd, const char *path, const ntk_model *m, const char *x_s, const ntk_matrix *x,
                         double scale, ntk_matrix *f0a, ntk_matrix *f0b)
{
    ntk_model_info in;
    ntk_model_get_info(m, &in);
    cli_net_src src;
    memset(&src, 0, sizeof src);
    src.params = path;
    ntk_net *net = NULL;
    ntk_linear *lin = NULL;
    ntk_error err;
    int rc = 1;
    double *xs = NULL;
    if (cli_net_get(cmd, &src, in.n_inputs, "--x", x_s, &net, &lin)) return 1;
    const ntk_net *nn = lin ? ntk_linear_base(lin) : net;
    size_t N = in.n_train, M = x->rows, k = in.n_outputs, d = in.n_inputs;
    if (ntk_net_n_outputs(nn) != k) {
        cli_error(cmd, "--f0-params %s: the network has %zu output%s but the model has k = %zu", path,
                  ntk_net_n_outputs(nn), ntk_net_n_outputs(nn) == 1 ? "" : "s", k);
        goto done;
    }
    if (ntk_matrix_alloc(f0a, N, k, &err) || ntk_matrix_alloc(f0b, M, k, &err) || !(xs = malloc(M * d * sizeof *xs))) {
        cli_error(cmd, "out of memory for f0");
        goto done;
    }
    for (size_t i = 0; i < M * d; i++) xs[i] = x->data[i] * scale;
    if (ntk_net_apply(nn, ntk_model_train_inputs(m), N, f0a->data, 0, &err) ||
        ntk_net_apply(nn, xs, M, f0b->data, 0, &err)) {
        cli_error(cmd, "--f0-params %s: %s", path, err.msg);
        goto done;
    }
    rc = 0;
done:
    free(xs);
    ntk_net_free(net);
    ntk_linear_free(lin);
    return rc;
}

/* A table line on stdout without the padding of its last column. */
static void put_line(char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ') line[--n] = '\0';
    puts(line);
}

int cmd_predict(int argc, char **argv)
{
    const char *cmd = "predict";
    const char *model_s = NULL, *x_s = NULL, *out_s = NULL, *time_s = NULL, *var_s = NULL, *y_s = NULL,
               *scale_s = NULL, *limit_s = NULL, *threads_s = NULL, *rows_s = NULL, *kfile_s = NULL, *nfile_s = NULL,
               *dfile_s = NULL, *f0tr_s = NULL, *f0te_s = NULL, *f0p_s = NULL;
    int cov = 0, labels = 0, quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--model", 1, &model_s, NULL},     {"--x", 1, &x_s, NULL},
        {"--out", 1, &out_s, NULL},         {"--time", 1, &time_s, NULL},
        {"--var-out", 1, &var_s, NULL},     {"--y", 1, &y_s, NULL},
        {"--scale", 1, &scale_s, NULL},     {"--limit", 1, &limit_s, NULL},
        {"--threads", 1, &threads_s, NULL}, {"--cov", 0, NULL, &cov},
        {"--labels", 0, NULL, &labels},     {"--quiet", 0, NULL, &quiet},
        {"--rows", 1, &rows_s, NULL},       {"--kernel-file", 1, &kfile_s, NULL},
        {"--nngp-file", 1, &nfile_s, NULL}, {"--nngp-diag-file", 1, &dfile_s, NULL},
        {"--f0-train", 1, &f0tr_s, NULL},   {"--f0-test", 1, &f0te_s, NULL},
        {"--f0-params", 1, &f0p_s, NULL},
        {"--force", 0, NULL, &force}, {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) {
        fputs(PREDICT_HELP, stdout);
        return 0;
    }
    if (r) return r;
    if (!model_s) return cli_usage_error(cmd, "--model is required (see 'ntk predict --help')");
    if (!x_s && !kfile_s)
        return cli_usage_error(cmd, "--x (the points to predict) or --kernel-file (their kernel) is required");
    if ((nfile_s || dfile_s) && !kfile_s)
        return cli_usage_error(cmd, "%s goes with --kernel-file (without it, the model's --arch gives the kernels)",
                               nfile_s ? "--nngp-file" : "--nngp-diag-file");
    if (f0p_s && (f0tr_s || f0te_s))
        return cli_usage_error(cmd, "--f0-params computes what --f0-train and --f0-test give: use one or the other");
    if (f0p_s && !x_s)
        return cli_usage_error(cmd, "--f0-params needs --x (the points where the network's f0 is evaluated)");
    if (!f0tr_s != !f0te_s)
        return cli_usage_error(cmd, "--f0-train and --f0-test go together (one network's outputs at initialization on "
                                    "the training and on the predicted points)");
    if (!out_s) return cli_usage_error(cmd, "--out is required (where the predictions go)");
    if (labels && !y_s) return cli_usage_error(cmd, "--labels needs --y (the class labels of the points)");
    if (var_s) cov = 1;
    if (cov && (f0tr_s || f0p_s))
        return cli_usage_error(cmd, "--cov/--var-out: the variances are the infinite ensemble's; with --f0-train the "
                                    "prediction is one network's, which has none");
    if (f0p_s) f0tr_s = f0te_s = ""; /* one network's prediction: f0 from the network below */
    if (var_s && !strcmp(var_s, out_s)) return cli_usage_error(cmd, "--out and --var-out name the same file '%s'", out_s);
    double scale = NAN;
    if (scale_s && cli_parse_scale(cmd, scale_s, &scale)) return 2;
    long v;
    cli_rows rows;
    if (cli_parse_rows(cmd, "--rows", rows_s, limit_s, &rows)) return 2;
    int threads = 0;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        threads = (int)v;
        cli_set_threads(threads);
    }
    double *times = NULL;
    size_t nt = 0;
    if (parse_times(cmd, time_s ? time_s : "inf", &times, &nt)) return 2;
    if (cli_check_out(cmd, "--out", out_s, CLI_OUT_MATRIX) || (var_s && cli_check_out(cmd, "--var-out", var_s, CLI_OUT_MATRIX))) {
        free(times);
        return 1;
    }

    int rc = 1;
    ntk_outputs *outs = NULL;
    ntk_model *m = NULL;
    ntk_matrix x = {0}, y = {0}, kt = {0}, kn = {0}, kd = {0}, f0a = {0}, f0b = {0};
    double *mean = NULL, *var = NULL, *yk = NULL;
    ntk_error err;
    {
        /* a model's arrays are read straight from the file into their own
         * buffers (ntk_npz_read is lazy): about the file's size in memory */
        struct stat sb;
        if (stat(model_s, &sb) == 0 && S_ISREG(sb.st_mode)) {
            size_t need = (size_t)sb.st_size;
            char what[4200];
            snprintf(what, sizeof what, "reading the model %s", model_s);
            if (cli_check_memory(cmd, need, what, NULL, force)) goto done;
        }
    }
    if (ntk_model_load(model_s, &m, &err)) {
        cli_error(cmd, "--model: %s", err.msg);
        goto done;
    }
    ntk_model_set_threads(m, threads);
    if (!isnan(scale) && ntk_model_set_input_scale(m, scale, &err)) {
        cli_error(cmd, "--scale: %s", err.msg);
        goto done;
    }
    ntk_model_info in;
    ntk_model_get_info(m, &in);
    size_t k = in.n_outputs;
    /* what the model cannot do, before any kernel is computed */
    for (size_t i = 0; i < nt; i++) {
        if (isinf(times[i]) && !in.factor.cholesky_ok) {
            cli_error(cmd,
                      "--time inf: %s has no t = inf solution (the training kernel was singular to working "
                      "precision); refit with --ridge R or --jitter, or use finite times",
                      model_s);
            goto done;
        }
        if (isfinite(times[i]) && !in.has_eigen) {
            cli_error(cmd, "--time %g: %s was fit with --inf-only (no eigendecomposition): only --time inf", times[i],
                      model_s);
            goto done;
        }
        if (isfinite(times[i]) && in.opts.discrete && times[i] != floor(times[i])) {
            cli_error(cmd, "--time %g: %s models discrete gradient descent: times are whole steps", times[i], model_s);
            goto done;
        }
    }
    if (cov && !in.has_eigen) {
        cli_error(cmd, "--cov: %s was fit with --inf-only (no eigendecomposition): no variances", model_s);
        goto done;
    }
    const int ntk = in.opts.kernel == NTK_MODEL_NTK;
    if (!in.has_arch && !kfile_s) {
        cli_error(cmd, "--model %s was fit from a kernel file without --arch: its predictions need the test x train "
                  "kernel (--kernel-file)", model_s);
        goto done;
    }
    if (cov && !in.has_variances) {
        cli_error(cmd, "--cov: %s was fit from --kernel-file without --nngp-file (the train NNGP): no variances",
                  model_s);
        goto done;
    }
    if (nfile_s && !ntk) {
        cli_error(cmd, "--nngp-file: %s is an NNGP model, whose --kernel-file is the test NNGP already", model_s);
        goto done;
    }
    if (kfile_s && cov && (!dfile_s || (ntk && !nfile_s))) {
        cli_error(cmd, "--cov with --kernel-file needs %s", !dfile_s ? "--nngp-diag-file (the NNGP K(x,x) of each test "
                  "point: 'ntk kernel --diag --get nngp')" : "--nngp-file (the test x train NNGP of this NTK model)");
        goto done;
    }
    size_t N = in.n_train, M = 0;
    if (x_s) {
        if (cli_read_data(cmd, "--x", x_s, NULL, &rows, 1.0, quiet, &x)) goto done;
        if (x.cols != in.n_inputs) {
            cli_error(cmd, "--x %s has %zu column%s but the model in %s was fit on %zu", x_s, x.cols,
                      x.cols == 1 ? "" : "s", model_s, in.n_inputs);
            goto done;
        }
        M = x.rows;
    }
    if (kfile_s) {
        if (!x_s) { /* M from the kernel file */
            if (cli_read_matrix(cmd, "--kernel-file", kfile_s, NULL, quiet, &kt)) goto done;
            M = kt.rows;
            if (kt.cols != N) {
                cli_error(cmd, "--kernel-file %s is %zu x %zu, but a test x train kernel of this model has N = %zu "
                          "columns (its training points)", kfile_s, kt.rows, kt.cols, N);
                goto done;
            }
        } else if (cli_read_kernel(cmd, "--kernel-file", kfile_s, M, N, "the test x train kernel of the --x rows", quiet,
                                   &kt)) {
            goto done;
        }
        if (nfile_s && cli_read_kernel(cmd, "--nngp-file", nfile_s, M, N, "the test x train NNGP (as --kernel-file)", quiet, &kn))
            goto done;
        if (dfile_s && cli_read_kernel(cmd, "--nngp-diag-file", dfile_s, M, 1, "one value per test point", quiet, &kd))
            goto done;
    }
    if (f0p_s && f0_of_network(cmd, f0p_s, m, x_s, &x, isnan(scale) ? in.opts.input_scale : scale, &f0a, &f0b)) goto done;
    if (f0tr_s && !f0p_s && (cli_read_kernel(cmd, "--f0-train", f0tr_s, N, k, "f0 on the model's training points (N x k)", quiet, &f0a) ||
                   cli_read_kernel(cmd, "--f0-test", f0te_s, M, k, "f0 on the points predicted (M x k)", quiet, &f0b)))
        goto done;
    if (y_s) {
        if (cli_read_data(cmd, "--y", y_s, NULL, &rows, 1.0, quiet, &y)) goto done;
        if (y.rows != M) {
            char after[96] = "";
            if (rows.flag) snprintf(after, sizeof after, " (after %s %.60s)", rows.flag, rows.text);
            cli_error(cmd, "--y %s has %zu row%s but %s %s has %zu%s", y_s, y.rows, y.rows == 1 ? "" : "s",
                      x_s ? "--x" : "--kernel-file", x_s ? x_s : kfile_s, M, x_s ? after : "");
            goto done;
        }
        if (labels) {
            size_t nc;
            if (cli_labels(cmd, "--y", y_s, &y, &nc)) goto done;
            if (nc > k) {
                size_t i = 0;
                while (y.data[i] < (double)k) i++;
                cli_error(cmd, "--y %s: row %zu: label %g is not a class of the model (it has k = %zu outputs, classes "
                          "0 to %zu)", y_s, i + 1, y.data[i], k, k - 1);
                goto done;
            }
        } else if (y.cols != k) {
            cli_error(cmd, "--y %s has %zu column%s but the model has k = %zu output%s%s", y_s, y.cols,
                      y.cols == 1 ? "" : "s", k, k == 1 ? "" : "s", y.cols == 1 ? " (class labels? add --labels)" : "");
            goto done;
        }
    }
    if (nt * M / nt != M || (nt * M) > SIZE_MAX / sizeof(double) / k) {
        cli_error(cmd, "%zu x %zu predictions are too large", nt * M, k);
        goto done;
    }
    {
        /* before any work: working memory and outputs, the files on disk */
        size_t work = ntk_model_predict_bytes(m, M, nt, cov), outb = nt * M * (k + (cov ? 1 : 0)) * sizeof(double);
        size_t need = work > SIZE_MAX - outb ? SIZE_MAX : work + outb;
        char what[96];
        snprintf(what, sizeof what, "%zu point%s against N = %zu", M, M == 1 ? "" : "s", in.n_train);
        const char *flags[2] = {"--out", "--var-out"}, *paths[2] = {out_s, var_s};
        size_t bytes[2] = {cli_matrix_file_bytes(out_s, nt * M, k), var_s ? cli_matrix_file_bytes(var_s, nt, M) : 0};
        if (cli_check_memory(cmd, need, what, NULL, force) || cli_check_disk(cmd, flags, paths, bytes, 2, force))
            goto done;
    }
    if (!(mean = malloc(nt * M * k * sizeof *mean)) || (cov && !(var = malloc(nt * M * sizeof *var)))) {
        cli_error(cmd, "out of memory for %zu x %zu predictions", nt * M, k);
        goto done;
    }
    double t0 = cli_now();
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    ntk_model_predict_opts po = ntk_model_predict_opts_default();
    po.progress = cli_progress_cb(&pr);
    po.kxt = kt.data;
    po.nngp_xt = kn.data;
    po.nngp_tt = kd.data;
    po.f0_train = f0a.data;
    po.f0_test = f0b.data;
    ntk_status ps = ntk_model_predict_with(m, &po, x.data, M, x_s ? x.cols : in.n_inputs, times, nt, mean, var, &err);
    if (ps) {
        /* a message about a given array names the flag and file it came from */
        static const char *const what[5] = {"test x train kernel", "test x train NNGP", "test NNGP diagonal",
                                            "f0 at the training points", "f0 at the test points"};
        const char *flags[5] = {"--kernel-file", "--nngp-file", "--nngp-diag-file", "--f0-train", "--f0-test"};
        const char *files[5] = {kfile_s, nfile_s, dfile_s, f0p_s ? NULL : f0tr_s, f0p_s ? NULL : f0te_s};
        int w = -1;
        for (int i = 0; i < 5; i++)
            if (files[i] && !strncmp(err.msg, what[i], strlen(what[i]))) w = i;
        if (w >= 0) rc = cli_run_error(&pr, ps, "%s %s: %s", flags[w], files[w], err.msg);
        else rc = cli_run_error(&pr, ps, "%s", err.msg);
        goto done;
    }
    cli_progress_done(&pr);
    double t1 = cli_now();
    /* --out and --var-out are staged now, committed after the table: all
     * or nothing */
    if (ntk_outputs_create(&outs, &err) || ntk_outputs_write_matrix(outs, out_s, mean, nt * M, k, 2, &err) ||
        (var_s && (nt == 1 ? ntk_outputs_write_matrix(outs, var_s, var, M, 1, 1, &err)
                           : ntk_outputs_write_matrix(outs, var_s, var, nt, M, 2, &err)))) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }

    if (y_s || cov) {
        /* targets as an M × k matrix (one-hot for labels) */
        const double *yt = y.data;
        if (y_s && labels) {
            if (!(yk = calloc(M * k, sizeof *yk))) {
                cli_error(cmd, "out of memory");
                goto done;
            }
            for (size_t i = 0; i < M; i++) yk[i * k + (size_t)y.data[i]] = 1.0;
            yt = yk;
        }
        char line[256];
        size_t n = (size_t)snprintf(line, sizeof line, "%-10s", "time");
        if (y_s) n += (size_t)snprintf(line + n, sizeof line - n, "  %-14s  %-14s", "mse", "r2");
        if (labels) n += (size_t)snprintf(line + n, sizeof line - n, "  %-10s", "accuracy");
        if (cov) n += (size_t)snprintf(line + n, sizeof line - n, "  %-14s", "mean_var");
        put_line(line);
        double sst = 0;
        if (y_s)
            for (size_t a = 0; a < k; a++) {
                double mu = 0;
                for (size_t i = 0; i < M; i++) mu += yt[i * k + a];
                mu /= (double)M;
                for (size_t i = 0; i < M; i++) sst += (yt[i * k + a] - mu) * (yt[i * k + a] - mu);
            }
        for (size_t ti = 0; ti < nt; ti++) {
            const double *f = mean + ti * M * k;
            n = isinf(times[ti]) ? (size_t)snprintf(line, sizeof line, "%-10s", "inf")
                                 : (size_t)snprintf(line, sizeof line, "%-10.6g", times[ti]);
            if (y_s) {
                double sse = 0;
                for (size_t i = 0; i < M * k; i++) sse += (f[i] - yt[i]) * (f[i] - yt[i]);
                n += (size_t)snprintf(line + n, sizeof line - n, "  %-14.8g  %-14.8g", sse / (double)(M * k),
                                      sst > 0 ? 1.0 - sse / sst : NAN);
            }
            if (labels) {
                size_t correct = 0;
                for (size_t i = 0; i < M; i++) {
                    size_t best = 0;
                    for (size_t a = 1; a < k; a++)
                        if (f[i * k + a] > f[i * k + best]) best = a;
                    correct += (double)best == y.data[i];
                }
                n += (size_t)snprintf(line + n, sizeof line - n, "  %-10.6f", (double)correct / (double)M);
            }
            if (cov) {
                double mv = 0;
                for (size_t i = 0; i < M; i++) mv += var[ti * M + i];
                n += (size_t)snprintf(line + n, sizeof line - n, "  %-14.8g", mv / (double)M);
            }
            put_line(line);
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            cli_error(cmd, "cannot write to stdout");
            goto done;
        }
    }
    if (ntk_outputs_commit(outs, &err)) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "ntk predict: %zu point%s x %zu time%s (N = %zu training points, %s kernel%s%s) in %.3f s -> %s%s%s\n",
                M, M == 1 ? "" : "s", nt, nt == 1 ? "" : "s", in.n_train,
                in.opts.kernel == NTK_MODEL_NNGP ? "NNGP" : "NTK", kfile_s ? " from --kernel-file" : "",
                f0tr_s ? ", one network's f0" : "", t1 - t0, out_s, var_s ? ", " : "", var_s ? var_s : "");
    rc = 0;
done:
    ntk_outputs_free(outs); /* uncommitted: nothing is written */
    free(times);
    free(mean);
    free(var);
    free(yk);
    ntk_matrix_free(&x);
    ntk_matrix_free(&y);
    ntk_matrix_free(&kt);
    ntk_matrix_free(&kn);
    ntk_matrix_free(&kd);
    ntk_matrix_free(&f0a);
    ntk_matrix_free(&f0b);
    ntk_model_free(m);
    return rc;
}
