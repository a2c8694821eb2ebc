/*
 * cmd_fit.c — `ntk fit`: computes the training kernel of a network on a data
 * set, factorizes it once and saves a kernel model (ntk_model_fit /
 * ntk_model_save) that `ntk predict` applies to new points at the cost of
 * their kernel against the training points. With --kernel-file the
 * training kernel is read instead of computed (ntk_model_fit_kernel: kernel
 * reuse across ridge and time sweeps). Also the pieces both commands
 * share: class labels and the --scale value.
 */
#include "args.h"
#include "cli.h"
#include "predict/predict_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *FIT_HELP =
    "usage: ntk fit --arch SPEC --x FILE --y FILE --model MODEL.npz [options]\n"
    "       ntk fit [--arch SPEC] --kernel-file K.npy --x FILE --y FILE --model MODEL.npz [options]\n"
    "\n"
    "Fits a kernel model: the infinite-width kernel of the network on the N\n"
    "training points, factorized once (Cholesky for t = inf, eigendecomposition\n"
    "for finite times), saved with the training data in an .npz archive that\n"
    "'ntk predict' applies to new points: predicting M points then costs only\n"
    "their M x N kernel and a product. Predictions are the mean of the infinite\n"
    "ensemble of networks (f0 = 0) trained on MSE by gradient flow or descent\n"
    "(--kernel ntk), or the NNGP (Gaussian process) posterior (--kernel nngp).\n"
    "\n"
    "  --arch SPEC        the network (or @FILE); its last width does not matter:\n"
    "                     every column of the targets gets the same kernel\n"
    "  --x FILE           training inputs, N x d: .npy, .csv, or IDX (MNIST files such\n"
    "                     as train-images-idx3-ubyte.gz; N x 28 x 28 images become N x 784)\n"
    "  --y FILE           training targets, N x k (with --labels: one column of labels)\n"
    "  --model FILE.npz   where the model goes (written atomically)\n"
    "  --kernel K         ntk (default): networks trained by gradient descent; nngp:\n"
    "                     Bayesian inference with the NNGP (or training the last layer)\n"
    "  --lr ETA           learning rate > 0 of the gradient descent modelled (default 1);\n"
    "                     only finite times depend on it\n"
    "  --ridge R          ridge >= 0 added to the kernel's diagonal (default 0)\n"
    "  --ridge-mode M     relative (default): R·tr(K)/N is added; absolute: R\n"
    "  --discrete         times count gradient descent steps (default: gradient flow,\n"
    "                     time in units of steps)\n"
    "  --jitter           if the kernel is too singular for Cholesky, add the smallest\n"
    "                     jitter 10^j·eps·tr(K)/N that makes it work (reported)\n"
    "  --inf-only         t = inf only: a Cholesky factorization without the\n"
    "                     eigendecomposition (tens of times faster) and no N x N arrays\n"
    "                     in the file; 'ntk predict' then takes only --time inf, no --cov.\n"
    "                     For large N: 20000 points need 1 minute instead of about an hour\n"
    "  --param P          ntk (default) or standard parameterization\n"
    "  --labels           --y holds class labels 0..C-1 (one column of whole numbers):\n"
    "                     the targets are their one-hot encoding, k = C = max label + 1\n"
    "  --scale S          multiply the inputs by S (a number or a fraction like 1/255),\n"
    "                     recorded in the model: 'ntk predict' applies it too. For 8-bit\n"
    "                     images (IDX pixels 0..255) use 1/255. It multiplies --x only\n"
    "                     (never --y), as the same flag of every ntk command does\n"
    "  --limit N          use only the first N rows of --x and --y\n"
    "  --rows A:B         use only rows A to B-1 of --x and --y, counted from 0 as in\n"
    "                     Python's x[A:B] (A: to the end, :B from the start); a range\n"
    "                     past the end of a file is an error. IDX and .npy files are\n"
    "                     read from row A on, and only up to row B\n"
    "  --kernel-file K    the training kernel itself, N x N (.npy or .csv), instead of\n"
    "                     computing it: made once by 'ntk kernel' (see below), then reused\n"
    "                     by fits that differ in --ridge, --ridge-mode, --lr, --discrete\n"
    "                     or --jitter. It must be the --kernel kind, between the rows used\n"
    "                     (after --rows/--limit), of inputs scaled as --scale says. Checked:\n"
    "                     its shape, finite, a non-negative diagonal, symmetric to 1e-6 of\n"
    "                     sqrt(K_ii·K_jj), and with --arch its diagonal and first row\n"
    "                     against the architecture's (to 1e-5 of sqrt(K_ii·K_jj): rounding\n"
    "                     passes, another network, kernel, scale or row order does not).\n"
    "                     Without --arch it can be any kernel\n"
    "                     (an empirical NTK from 'ntk empirical'); the model then predicts\n"
    "                     only from test kernels ('ntk predict --kernel-file'). The model\n"
    "                     records the file name and a checksum of the kernel\n"
    "  --nngp-file F      with --kernel-file and --kernel ntk: the train NNGP, N x N, which\n"
    "                     'ntk predict --cov' needs; without it the model has no variances\n"
    "  --threads N        worker threads (default: all cores); the kernel does not\n"
    "                     depend on it, the factorization (LAPACK) only in the last bits\n"
    "  --quiet            no progress and no summary on stderr (errors still)\n"
    "  --force            start even when the memory or disk estimate says it will not fit\n"
    "\n"
    "Before the kernel is computed, the memory the fit needs at its peak (with the\n"
    "eigendecomposition ~5·N²·8 bytes for --kernel ntk, 4·N²·8 for nngp; --inf-only\n"
    "N²·8) is checked against the available memory, and the model's size against\n"
    "the free disk space: a fit that cannot finish is refused at once. Progress on\n"
    "stderr: the kernel, then the eigendecomposition (or with --inf-only the Cholesky\n"
    "factorization), counted in flops: LAPACK runs as one piece, so it shows its size\n"
    "and running time. Ctrl-C (SIGINT) or SIGTERM stops it: no model is written,\n"
    "exit status 130 or 143. --force starts a fit the estimate refuses, e.g.\n"
    "  ntk fit --arch @net.spec --x train.npy --y y.npy --model m.npz --inf-only --force\n"
    "\n"
    "The summary on stderr: N, d, k, the time of the kernel and of the\n"
    "factorization, the smallest and largest eigenvalue of the regularized\n"
    "kernel, clipped eigenvalues and any jitter. A kernel that is not positive\n"
    "semidefinite (an eigenvalue below -100·N·eps·max) is an error.\n"
    "\n"
    "example:\n"
    "  ntk fit --arch 'dense(512,w_std=1.5,b_std=0.05),relu,dense(10,w_std=1.5,b_std=0.05)' \\\n"
    "          --x train-images-idx3-ubyte.gz --y train-labels-idx1-ubyte.gz --labels \\\n"
    "          --scale 1/255 --limit 1000 --model fmnist.npz\n"
    "  ntk predict --model fmnist.npz --x t10k-images-idx3-ubyte.gz --out pred.npy \\\n"
    "              --y t10k-labels-idx1-ubyte.gz --labels\n"
    "\n"
    "kernel reuse (each kernel computed once; A = the --arch spec):\n"
    "  ntk kernel --arch \"$A\" --x1 train.gz --rows 0:5000 --scale 1/255 --get ntk,nngp \\\n"
    "             --out K.npy,KN.npy\n"
    "  ntk kernel --arch \"$A\" --x1 test.gz --x2 train.gz --rows2 0:5000 --scale 1/255 \\\n"
    "             --get ntk,nngp --out Kt.npy,KNt.npy\n"
    "  ntk kernel --arch \"$A\" --x1 test.gz --scale 1/255 --diag --get nngp --out KNtt.npy\n"
    "  for r in 1e-4 1e-3 1e-2; do\n"
    "    ntk fit --arch \"$A\" --kernel-file K.npy --nngp-file KN.npy --x train.gz --rows 0:5000 \\\n"
    "            --y labels.gz --labels --scale 1/255 --ridge $r --model m$r.npz\n"
    "    ntk predict --model m$r.npz --kernel-file Kt.npy --nngp-file KNt.npy \\\n"
    "                --nngp-diag-file KNtt.npy --time 10,100,inf --cov --out p$r.npy\n"
    "  done\n";

#define MAX_CLASSES 65536

int cli_parse_scale(const char *cmd, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int ok = end != s;
    if (ok && *end == '/') { /* a fraction: numerator / denominator */
        const char *q = end + 1;
        double w = strtod(q, &end);
        ok = end != q && w != 0;
        v /= w;
    }
    if (!ok || *end || errno == ERANGE || !isfinite(v) || !(v > 0))
        return cli_usage_error(cmd, "--scale: expected a number > 0 or a fraction like 1/255, got '%s'", s);
    *out = v;
    return 0;
}

int cli_labels(const char *cmd, const char *flag, const char *path, const ntk_matrix *y, size_t *n_classes)
{
    if (y->cols != 1)
        return cli_error(cmd, "%s %s: --labels needs one column of class labels, the file has %zu columns", flag,
                         path, y->cols);
    size_t c = 0;
    for (size_t i = 0; i < y->rows; i++) {
        double v = y->data[i];
        if (v != floor(v)) return cli_error(cmd, "%s %s: row %zu: label %.17g is not a whole number", flag, path, i + 1, v);
        if (v < 0) return cli_error(cmd, "%s %s: row %zu: label %g is negative (labels are 0, 1, ...)", flag, path, i + 1, v);
        if (v >= MAX_CLASSES)
            return cli_error(cmd, "%s %s: row %zu: label %g is too large (at most %d classes)", flag, path, i + 1, v,
                             MAX_CLASSES);
        if ((size_t)v + 1 > c) c = (size_t)v + 1;
    }
    *n_classes = c;
    return 0;
}

/* Reads a given kernel (--kernel-file, --nngp-file) that must be rows ×
 * cols (the points used). 0, or 1 after an error. */
int cli_read_kernel(const char *cmd, const char *flag, const char *path, size_t rows, size_t cols, const char *what,
                    int quiet, ntk_matrix *m)
{
    if (cli_read_matrix(cmd, flag, path, NULL, quiet, m)) return 1;
    if (m->rows != rows || m->cols != cols) {
        cli_error(cmd, "%s %s is %zu x %zu, but %s is %zu x %zu", flag, path, m->rows, m->cols, what, rows, cols);
        ntk_matrix_free(m);
        return 1;
    }
    return 0;
}

int cmd_fit(int argc, char **argv)
{
    const char *cmd = "fit";
    const char *arch_s = NULL, *x_s = NULL, *y_s = NULL, *model_s = NULL, *kernel_s = NULL, *lr_s = NULL,
               *ridge_s = NULL, *rmode_s = NULL, *param_s = NULL, *scale_s = NULL, *limit_s = NULL, *threads_s = NULL,
               *rows_s = NULL, *kfile_s = NULL, *nfile_s = NULL;
    int discrete = 0, jitter = 0, inf_only = 0, labels = 0, quiet = 0, force = 0;
    const cli_opt opts[] = {
        {"--arch", 1, &arch_s, NULL},         {"--x", 1, &x_s, NULL},
        {"--y", 1, &y_s, NULL},               {"--model", 1, &model_s, NULL},
        {"--kernel", 1, &kernel_s, NULL},     {"--lr", 1, &lr_s, NULL},
        {"--ridge", 1, &ridge_s, NULL},       {"--ridge-mode", 1, &rmode_s, NULL},
        {"--param", 1, &param_s, NULL},       {"--scale", 1, &scale_s, NULL},
        {"--limit", 1, &limit_s, NULL},       {"--threads", 1, &threads_s, NULL},
        {"--discrete", 0, NULL, &discrete},   {"--jitter", 0, NULL, &jitter},
        {"--inf-only", 0, NULL, &inf_only},   {"--labels", 0, NULL, &labels},
        {"--quiet", 0, NULL, &quiet},         {"--rows", 1, &rows_s, NULL},
        {"--kernel-file", 1, &kfile_s, NULL}, {"--nngp-file", 1, &nfile_s, NULL},
        {"--force", 0, NULL, &force},
        {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) {
        fputs(FIT_HELP, stdout);
        return 0;
    }
    if (r) return r;
    if (!arch_s && !kfile_s)
        return cli_usage_error(cmd, "--arch (or --kernel-file, the training kernel) is required (see 'ntk fit --help')");
    if (!x_s) return cli_usage_error(cmd, "--x is required (the training inputs)");
    if (!y_s) return cli_usage_error(cmd, "--y is required (the training targets)");
    if (!model_s) return cli_usage_error(cmd, "--model is required (where the model goes)");

    ntk_model_opts mo = ntk_model_opts_default();
    if (kernel_s) {
        if (!strcmp(kernel_s, "ntk")) mo.kernel = NTK_MODEL_NTK;
        else if (!strcmp(kernel_s, "nngp")) mo.kernel = NTK_MODEL_NNGP;
        else return cli_usage_error(cmd, "--kernel: expected 'ntk' or 'nngp', got '%s'", kernel_s);
    }
    if (lr_s && cli_parse_double(cmd, "--lr", lr_s, 0, 1, INFINITY, 0, &mo.lr)) return 2;
    if (ridge_s && cli_parse_double(cmd, "--ridge", ridge_s, 0, 0, INFINITY, 0, &mo.ridge)) return 2;
    if (rmode_s) {
        if (!strcmp(rmode_s, "relative")) mo.ridge_mode = NTK_RIDGE_RELATIVE;
        else if (!strcmp(rmode_s, "absolute")) mo.ridge_mode = NTK_RIDGE_ABSOLUTE;
        else return cli_usage_error(cmd, "--ridge-mode: expected 'relative' or 'absolute', got '%s'", rmode_s);
    }
    if (param_s && cli_parse_param(cmd, param_s, &mo.param)) return 2;
    if (scale_s && cli_parse_scale(cmd, scale_s, &mo.input_scale)) return 2;
    if (nfile_s && !kfile_s)
        return cli_usage_error(cmd, "--nngp-file goes with --kernel-file (without it, --arch gives the NNGP)");
    if (nfile_s && mo.kernel == NTK_MODEL_NNGP)
        return cli_usage_error(cmd, "--nngp-file is for an NTK model: the kernel of --kernel nngp is the NNGP itself "
                                    "(--kernel-file)");
    if (nfile_s && inf_only)
        return cli_usage_error(cmd, "--nngp-file is for variances, and an --inf-only model has none");
    if (nfile_s && !strcmp(nfile_s, kfile_s))
        return cli_usage_error(cmd, "--kernel-file and --nngp-file name the same file '%s'", kfile_s);
    long v;
    cli_rows rows;
    if (cli_parse_rows(cmd, "--rows", rows_s, limit_s, &rows)) return 2;
    if (threads_s) {
        if (cli_parse_int(cmd, "--threads", threads_s, 1, 4096, &v)) return 2;
        mo.threads = (int)v;
        cli_set_threads(mo.threads);
    }
    mo.discrete = discrete;
    mo.auto_jitter = jitter;
    mo.inf_only = inf_only;
    if (cli_check_out(cmd, "--model", model_s, CLI_OUT_NPZ)) return 1;

    ntk_arch *arch = NULL;
    if (arch_s && cli_parse_arch(cmd, arch_s, &arch)) return 1;
    int rc = 1;
    ntk_matrix x = {0}, y = {0}, kf = {0}, nf = {0};
    double *onehot = NULL;
    ntk_model *model = NULL;
    ntk_error err;
    if (cli_read_data(cmd, "--x", x_s, NULL, &rows, 1.0, quiet, &x) ||
        cli_read_data(cmd, "--y", y_s, NULL, &rows, 1.0, quiet, &y))
        goto done;
    if (y.rows != x.rows) {
        char after[96] = "";
        if (rows.flag) snprintf(after, sizeof after, " (after %s %.60s)", rows.flag, rows.text);
        cli_error(cmd, "--y %s has %zu row%s but --x %s has %zu%s", y_s, y.rows, y.rows == 1 ? "" : "s", x_s, x.rows,
                  after);
        goto done;
    }
    if (kfile_s && (cli_read_kernel(cmd, "--kernel-file", kfile_s, x.rows, x.rows, "the training kernel of the --x rows",
                                    quiet, &kf) ||
                    (nfile_s && cli_read_kernel(cmd, "--nngp-file", nfile_s, x.rows, x.rows,
                                                "the train NNGP of the --x rows", quiet, &nf))))
        goto done;
    size_t N = x.rows, k = y.cols;
    const double *targets = y.data;
    if (labels && cli_labels(cmd, "--y", y_s, &y, &k)) goto done;
    {
        /* before any work: the fit's peak memory and the model file */
        size_t need = ntk_model_fit_bytes(&mo, N, x.cols, k);
        if (labels && need != SIZE_MAX) need += N * k * sizeof(double); /* the one-hot targets */
        char what[160], hint[96] = "";
        snprintf(what, sizeof what, "N = %zu (%s)", N,
                 inf_only ? "kernel" : mo.kernel == NTK_MODEL_NTK ? "kernel, eigenvectors, NNGP" : "kernel, eigenvectors");
        if (!inf_only) {
            ntk_model_opts io = mo;
            io.inf_only = 1;
            size_t ineed = ntk_model_fit_bytes(&io, N, x.cols, k);
            char ib[48];
            cli_bytes_text(ib, sizeof ib, ineed);
            snprintf(hint, sizeof hint, "--inf-only needs %s", ib);
        }
        const char *flags[1] = {"--model"}, *paths[1] = {model_s};
        size_t bytes[1] = {ntk_model_file_bytes(&mo, N, x.cols, k)};
        if (cli_check_memory(cmd, need, what, hint, force) || cli_check_disk(cmd, flags, paths, bytes, 1, force))
            goto done;
    }
    if (labels) {
        if (!(onehot = calloc(N * k, sizeof *onehot))) {
            cli_error(cmd, "out of memory for %zu x %zu one-hot targets", N, k);
            goto done;
        }
        for (size_t i = 0; i < N; i++) onehot[i * k + (size_t)y.data[i]] = 1.0;
        targets = onehot;
    }
    if (!quiet)
        fprintf(stderr, "ntk fit: N = %zu point%s, d = %zu, k = %zu output%s%s; %s kernel (param %s)%s\n", N,
                N == 1 ? "" : "s", x.cols, k, k == 1 ? "" : "s", labels ? " (one-hot labels)" : "",
                mo.kernel == NTK_MODEL_NNGP ? "NNGP" : "NTK", mo.param == NTK_PARAM_STANDARD ? "standard" : "ntk",
                mo.input_scale != 1.0 ? ", inputs scaled" : "");
    cli_progress pr;
    cli_progress_init(&pr, cmd, quiet);
    mo.progress = cli_progress_cb(&pr);
    ntk_status s;
    if (kfile_s) { /* the call takes the kernels over */
        s = ntk_model_fit_kernel_owned(arch, &mo, x.data, N, x.cols, targets, k, kf.data, nf.data, kfile_s, nfile_s,
                                       &model, &err);
        kf.data = nf.data = NULL;
    } else {
        s = ntk_model_fit(arch, &mo, x.data, N, x.cols, targets, k, &model, &err);
    }
    if (s) {
        if (s == NTK_E_NUMERIC && strstr(err.msg, "positive"))
            rc = cli_run_error(&pr, s, "%s (refit with --ridge R, or --jitter)", err.msg);
        else rc = cli_run_error(&pr, s, "%s", err.msg);
        goto done;
    }
    cli_progress_done(&pr);
    if (ntk_model_save(model, model_s, &err)) {
        cli_error(cmd, "--model: %s", err.msg);
        goto done;
    }
    if (!quiet) {
        ntk_model_info in;
        ntk_model_get_info(model, &in);
        const ntk_predict_info *f = &in.factor;
        if (kfile_s)
            fprintf(stderr, "ntk fit: kernel %zu x %zu from %s (checksum %016" PRIx64 "%s); %s in %.3f s\n", N, N,
                    kfile_s, in.kernel_checksum, in.has_arch ? ", checked against --arch" : ", no --arch",
                    inf_only ? "Cholesky factorization" : "Cholesky and eigendecomposition", in.factor_seconds);
        else
            fprintf(stderr, "ntk fit: kernel %zu x %zu in %.3f s; %s in %.3f s\n", N, N, in.kernel_seconds,
                    inf_only ? "Cholesky factorization" : "Cholesky and eigendecomposition", in.factor_seconds);
        if (in.has_eigen && !in.has_variances)
            fprintf(stderr, "ntk fit: note: no --nngp-file: the model has no variances ('ntk predict --cov')\n");
        if (in.has_eigen) {
            fprintf(stderr,
                    "ntk fit: eigenvalues of the regularized kernel: min %.6g, max %.6g (condition number %.3g); "
                    "ridge added %.6g\n",
                    f->lambda_min, f->lambda_max, f->lambda_min > 0 ? f->lambda_max / f->lambda_min : INFINITY,
                    f->ridge_added);
            if (f->n_clipped)
                fprintf(stderr, "ntk fit: note: %zu tiny negative eigenvalue%s (rounding) clipped to 0\n", f->n_clipped,
                        f->n_clipped == 1 ? "" : "s");
        } else {
            fprintf(stderr, "ntk fit: eigenvalues not computed (--inf-only); ridge added %.6g\n", f->ridge_added);
        }
        if (f->jitter_added > 0)
            fprintf(stderr, "ntk fit: note: jitter %.6g added to the diagonal for the Cholesky factorization\n",
                    f->jitter_added);
        if (!f->cholesky_ok)
            fprintf(stderr,
                    "ntk fit: warning: t = inf is unavailable: the kernel is singular to working precision (its "
                    "Cholesky factorization failed); refit with --ridge R or --jitter for --time inf\n");
        struct stat sb;
        double mb = stat(model_s, &sb) == 0 ? (double)sb.st_size / 1e6 : NAN;
        fprintf(stderr, "ntk fit: model -> %s (%.1f MB)\n", model_s, mb);
    }
    rc = 0;
done:
    ntk_model_free(model);
    free(onehot);
    ntk_matrix_free(&x);
    ntk_matrix_free(&y);
    ntk_matrix_free(&kf);
    ntk_matrix_free(&nf);
    ntk_arch_free(arch);
    return rc;
}
