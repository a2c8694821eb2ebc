/*
 * cmd_tune.c — `ntk tune`: picks the ridge and (w_std, b_std) of a network
 * on a grid by leave-one-out, k-fold cross-validation or the GP log
 * marginal likelihood of the kernel model (include/ntk.h, "model
 * selection"). Each (w_std, b_std) costs one kernel and one
 * eigendecomposition (ntk_select_create); every ridge then costs products
 * with the eigenvectors (ntk_select_eval). Reports a table on stdout, a CSV
 * of every grid point, a plot of the criterion against the ridge, and saves
 * the chosen model as `ntk fit` would: the three files in one output set
 * (all or nothing). Memory and disk are checked before the work; progress,
 * SIGINT and SIGTERM go through the shared reporter (progress.c).
 */
#include "args.h"
#include "cli.h"
#include "io/io_internal.h"
#include "plot.h"
#include "predict/predict_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *TUNE_HELP =
    "usage: ntk tune --arch SPEC --x FILE --y FILE [--w-std GRID] [--b-std GRID] [--ridge GRID] [options]\n"
    "\n"
    "Model selection for kernel regression with the network's infinite-width kernel\n"
    "(the t = inf model of 'ntk fit'): every grid point (w_std, b_std, ridge) is scored\n"
    "by leave-one-out error, k-fold cross-validation or the Gaussian-process log\n"
    "marginal likelihood, and the best one is reported (and saved with --model). Each\n"
    "(w_std, b_std) costs one kernel and one eigendecomposition; all ridges are then\n"
    "evaluated from it (leave-one-out: residual e_i = alpha_i / (G^-1)_ii, G = K + ridge).\n"
    "\n"
    "  --arch SPEC        the network (or @FILE)\n"
    "  --x FILE           training inputs, N x d (.npy, .csv, IDX)\n"
    "  --y FILE           training targets, N x k (with --labels: one column of labels)\n"
    "  --w-std GRID       w_std of EVERY dense layer (the readout too), values > 0;\n"
    "                     omitted: each layer keeps the w_std of the spec\n"
    "  --b-std GRID       b_std of every dense layer, values >= 0 (0: no bias);\n"
    "                     omitted: each layer keeps its bias from the spec\n"
    "  --ridge GRID       ridges >= 0 (default 1e-8:1:9log)\n"
    "  --ridge-mode M     relative (default): ridge·tr(K)/N is added; absolute: ridge\n"
    "  --criterion C      loo (default): leave-one-out MSE; cv: k-fold CV MSE;\n"
    "                     mll: log marginal likelihood with covariance K + ridge;\n"
    "                     mll-scaled: with covariance s·(K + ridge), s fitted in closed\n"
    "                     form (s = y'(K + ridge)^-1 y / (N·k)). Likelihoods are maximized,\n"
    "                     errors minimized\n"
    "  --folds F          folds of the cross-validation (default 10 with --criterion cv;\n"
    "                     given with another criterion, CV is reported too). Points are\n"
    "                     shuffled into folds by a seeded permutation (--seed), fold sizes\n"
    "                     differing by at most one; every refit keeps the absolute ridge.\n"
    "                     Cost: about N^3/F per ridge and (w_std, b_std) (leave-one-out:\n"
    "                     N^2), so with many ridges CV can outweigh the eigendecomposition\n"
    "  --seed S           seed of the fold assignment (default 0)\n"
    "  --kernel K         ntk (default) or nngp\n"
    "  --param P          ntk (default) or standard parameterization\n"
    "  --labels           --y holds class labels 0..C-1: one-hot targets, and the\n"
    "                     leave-one-out / CV accuracy (argmax of the held-out prediction)\n"
    "  --scale S          multiply the inputs by S (e.g. 1/255 for 8-bit pixels)\n"
    "  --limit N          use only the first N rows of --x and --y\n"
    "  --rows A:B         use only rows A to B-1 of --x and --y (counted from 0, as\n"
    "                     'ntk fit --rows')\n"
    "  --out FILE.csv     every grid point: [w_std,][b_std,]ridge,ridge_abs,cond,reliable,\n"
    "                     loo_mse,[loo_acc,][cv_mse,][cv_acc,]log_ml,log_ml_scaled,sigma2,\n"
    "                     objective (the minimized value: an MSE or minus a likelihood)\n"
    "  --plot FILE        the criterion against the ridge, one line per (w_std, b_std)\n"
    "                     (colour: w_std, line style: b_std; the chosen point marked);\n"
    "                     .png or .svg\n"
    "  --model FILE.npz   fit and save the chosen model: the file 'ntk fit' writes with\n"
    "                     the printed spec, --ridge, --ridge-mode, --kernel, --param,\n"
    "                     --scale, --rows/--limit\n"
    "  --threads N        worker threads\n"
    "  --quiet            no progress, notes or summary on stderr (errors still)\n"
    "  --force            start even when the memory or disk estimate says it will not fit\n"
    "\n"
    "Before any work, the memory of the peak (one grid point: the N x N kernel, its\n"
    "eigendecomposition ~3·N²·8 bytes, the criteria; or the --model fit, if larger)\n"
    "is checked against the available memory, and the outputs' sizes against the\n"
    "free disk space: a run that cannot finish is refused at once (--force runs it\n"
    "anyway). Progress on stderr names the grid point and its stage ('point 3/45:\n"
    "eigendecomposition'; points in the order of the CSV), with the time left for the\n"
    "whole grid and the best point so far. Ctrl-C (SIGINT) or SIGTERM stops the run: no\n"
    "file is written, exit status 130 or 143. The CSV, the plot and the model are\n"
    "written all or nothing.\n"
    "\n"
    "GRID: comma-separated items, each a number, a linear range A:B:N (N points from\n"
    "A to B inclusive) or a log range A:B:Nlog (N points, equal ratios, A, B > 0); e.g.\n"
    "0.5:2.5:9, 0,0.05,0.1, 1e-6:1:13log, 0,1e-8:1e-2:4log. Values are sorted, repeats dropped.\n"
    "\n"
    "Each ridge comes with kappa = cond(K + ridge) and kappa·N·eps, the relative accuracy of\n"
    "its criteria; where that exceeds 1e-2 (a ridge too small for the kernel) the point is\n"
    "marked unreliable (reliable = 0, criteria nan) and never chosen.\n"
    "\n"
    "stdout: one line per ridge when a single (w_std, b_std) is tried, otherwise the best\n"
    "ridge of each (w_std, b_std); the chosen point is marked '*', then 'chosen:',\n"
    "'criterion:' and 'spec:' lines (the spec with the chosen w_std, b_std).\n"
    "\n"
    "example:\n"
    "  ntk tune --arch 'dense(512),relu,dense(512),relu,dense(10)' \\\n"
    "           --x train-images-idx3-ubyte.gz --y train-labels-idx1-ubyte.gz --labels \\\n"
    "           --scale 1/255 --limit 1000 --w-std 0.5:2.5:9 --b-std 0,0.05,0.1 \\\n"
    "           --ridge 1e-6:1:13log --criterion loo --out tune.csv --plot tune.png --model best.npz\n"
    "  ntk tune --arch @net.spec --x x.npy --y y.npy --limit 30000 --ridge 1e-4,1e-2 --force\n";

#define MAX_GRID 10000
#define MAX_ERR 1e-2 /* ntk_select_opts.max_err: the largest κ·N·ε accepted */

typedef enum { CRIT_LOO, CRIT_CV, CRIT_MLL, CRIT_MLL_SCALED } criterion;

/* ------------------------------------------------------------ grids */

typedef struct {
    double *v;
    size_t n;
} grid;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The shortest "%.{p}g" that reads back as v. */
static void fmt_exact(char *buf, size_t n, double v)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* One GRID item at s (len characters of the whole value `all`): a number,
 * A:B:N or A:B:Nlog, appended to g. Returns 0 or 2 after a usage error. */
static int grid_item(const char *cmd, const char *flag, const char *all, const char *s, size_t len, int positive,
                     grid *g)
{
    char item[128];
    if (len == 0 || len >= sizeof item)
        return cli_usage_error(cmd, "%s: '%s': %s item", flag, all, len ? "too long an" : "an empty");
    memcpy(item, s, len);
    item[len] = '\0';
    const char *want = positive ? "> 0" : ">= 0";
    char *end;
    errno = 0;
    double a = strtod(item, &end), b = a;
    size_t n = 1;
    int is_log = 0;
    if (end == item || errno == ERANGE) goto bad;
    if (*end == ':') {
        const char *q = end + 1;
        b = strtod(q, &end);
        if (end == q || *end != ':' || errno == ERANGE) goto bad;
        q = end + 1;
        if (*q < '0' || *q > '9') goto bad;
        unsigned long long c = strtoull(q, &end, 10);
        if (errno == ERANGE) goto bad;
        if (!strcmp(end, "log")) is_log = 1;
        else if (*end) goto bad;
        if (c < 2 || c > MAX_GRID)
            return cli_usage_error(cmd, "%s: '%s': a range needs 2 to %d points", flag, item, MAX_GRID);
        n = (size_t)c;
        if (is_log && !(a > 0 && b > 0))
            return cli_usage_error(cmd, "%s: '%s': a log range needs both ends > 0", flag, item);
    } else if (*end) {
        goto bad;
    }
    if (!isfinite(a) || !isfinite(b) || (positive ? !(a > 0 && b > 0) : !(a >= 0 && b >= 0)))
        return cli_usage_error(cmd, "%s: '%s': values must be finite and %s", flag, item, want);
    if (g->n + n > MAX_GRID) return cli_usage_error(cmd, "%s: more than %d values", flag, MAX_GRID);
    double *v = realloc(g->v, (g->n + n) * sizeof *v);
    if (!v) return cli_usage_error(cmd, "%s: out of memory", flag);
    g->v = v;
    /* weighted means of the ends (of their log10 for log ranges), so that
     * 1e-6:1:13log hits every decade exactly (pow(10, -2) = 0.01) */
    double la = is_log ? log10(a) : a, lb = is_log ? log10(b) : b, m = n > 1 ? (double)(n - 1) : 1.0;
    for (size_t i = 0; i < n; i++) {
        double e = n == 1 ? la : (la * (double)(n - 1 - i) + lb * (double)i) / m;
        v[g->n + i] = i == 0 ? a : i == n - 1 ? b : is_log ? pow(10.0, e) : e;
    }
    g->n += n;
    return 0;
bad:
    return cli_usage_error(cmd, "%s: '%s': expected a number, a range A:B:N or a log range A:B:Nlog", flag, item);
}

/* GRID → sorted values without repeats. 0 or 2. */
static int parse_grid(const char *cmd, const char *flag, const char *s, int positive, grid *g)
{
    g->v = NULL;
    g->n = 0;
    for (const char *p = s;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (grid_item(cmd, flag, s, p, len, positive, g)) {
            free(g->v);
            g->v = NULL;
            return 2;
        }
        if (!c) break;
        p = c + 1;
    }
    qsort(g->v, g->n, sizeof *g->v, cmp_double);
    size_t m = 0;
    for (size_t i = 0; i < g->n; i++)
        if (m == 0 || g->v[i] != g->v[m - 1]) g->v[m++] = g->v[i];
    g->n = m;
    return 0;
}

/* ------------------------------------------------------------ progress
 *
 * The shared reporter (progress.c) with each library stage named by where
 * the sweep is: "point 3/45: kernel", then "...: eigendecomposition",
 * "...: leave-one-out", "...: cross-validation", "...: likelihood"; the
 * chosen model's fit as "chosen model: kernel" and so on (short: a bar
 * must fit a terminal line). The note carries what no single stage knows:
 * the time left for the whole grid (the mean time of the points done,
 * times the points left, less the time into this one) and the best point
 * so far with its values. */

typedef struct {
    cli_progress *pr;
    ntk_progress fwd;   /* the reporter's own callback                 */
    char prefix[64];    /* "point 3/45" or "chosen model"               */
    size_t done, total; /* grid points finished, of                      */
    double t0, t_point; /* start of the sweep, of this point             */
    char best[160];     /* "best MSE 0.0123 at w_std 1.5, ridge 0.001"  */
    size_t best_i;      /* its entry in the table (SIZE_MAX: none yet)  */
} tune_progress;

static const char *stage_name(const char *stage)
{
    static const char *const map[][2] = {{"loo", "leave-one-out"}, {"cv", "cross-validation"}, {"mll", "likelihood"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(stage, map[i][0])) return map[i][1];
    return stage;
}

/* "45s", "12m", "3.2h". */
static void eta_text(char *b, size_t n, double s)
{
    if (s < 90) snprintf(b, n, "%.0fs", s);
    else if (s < 5400) snprintf(b, n, "%.0fm", s / 60);
    else snprintf(b, n, "%.1fh", s / 3600);
}

static int tune_report(void *ctx, const char *stage, double done, double total)
{
    tune_progress *t = ctx;
    char name[160]; /* the reporter keeps 127 characters */
    snprintf(name, sizeof name, "%s: %s", t->prefix, stage_name(stage));
    int stop = t->fwd.fn(t->fwd.ctx, name, done, total);
    char eta[32] = "";
    if (t->done > 0 && t->done < t->total) {
        double now = cli_now(), per = (t->t_point - t->t0) / (double)t->done;
        double left = per * (double)(t->total - t->done) - (now - t->t_point);
        eta_text(eta, sizeof eta, left > 0 ? left : 0);
    }
    /* after the call: a new stage starts with an empty note */
    cli_progress_note(t->pr, "%s%s%s%s", *eta ? "grid ETA " : "", eta, *eta && *t->best ? ", " : "", t->best);
    return stop;
}

/* ------------------------------------------------------------ results */

typedef struct {
    const grid *w, *b, *r;    /* r: the ridges; w, b: NULL values when not swept */
    int set_w, set_b;
    ntk_select_result *res;   /* P × R, P = n_w·n_b, point-major               */
    double *loo_acc, *cv_acc; /* P × R (labels only)                           */
    int labels, cv;
    criterion crit;
    size_t best;              /* index into res                                 */
} tune_table;

static double objective(const tune_table *t, size_t i)
{
    const ntk_select_result *R = &t->res[i];
    if (!R->reliable) return NAN;
    switch (t->crit) {
    case CRIT_LOO: return R->loo_mse;
    case CRIT_CV: return R->cv_mse;
    case CRIT_MLL: return -R->log_ml;
    default: return -R->log_ml_scaled;
    }
}

/* The entry of the smallest objective among i0 .. i0 + n − 1 (the first
 * on ties), or i0 + n when none is finite. */
static size_t argmin_objective(const tune_table *t, size_t i0, size_t n)
{
    size_t best = i0 + n;
    double bo = INFINITY;
    for (size_t i = i0; i < i0 + n; i++) {
        double o = objective(t, i);
        if (isfinite(o) && o < bo) {
            bo = o;
            best = i;
        }
    }
    return best;
}

static const char *crit_name(criterion c)
{
    return c == CRIT_LOO ? "leave-one-out MSE" : c == CRIT_CV ? "cross-validation MSE"
                                           : c == CRIT_MLL  ? "log marginal likelihood"
                                                            : "log marginal likelihood (scale fitted)";
}

/* Fraction of points whose held-out prediction Y_i − e_i has its largest
 * entry at the label (ties: the first); NaN when the residuals are NaN. */
static double accuracy(const double *e, const double *Y, const double *labels, size_t N, size_t k)
{
    size_t ok = 0;
    for (size_t i = 0; i < N; i++) {
        size_t best = 0;
        double bv = Y[i * k] - e[i * k];
        if (isnan(bv)) return NAN;
        for (size_t a = 1; a < k; a++) {
            double v = Y[i * k + a] - e[i * k + a];
            if (v > bv) {
                bv = v;
                best = a;
            }
        }
        ok += (double)best == labels[i];
    }
    return (double)ok / (double)N;
}

static void put_num(char *line, size_t cap, size_t *n, double v)
{
    if (isnan(v)) *n += (size_t)snprintf(line + *n, cap - *n, "  %-13s", "-");
    else *n += (size_t)snprintf(line + *n, cap - *n, "  %-13.6g", v);
}

/* One table line (point p, ridge r); header when p == SIZE_MAX. */
static void table_line(const tune_table *t, size_t p, size_t r)
{
    char line[512];
    size_t n = 0, R = t->r->n, nb = t->b->n;
    const int head = p == SIZE_MAX;
    n += (size_t)snprintf(line, sizeof line, "%s", head ? " " : p * R + r == t->best ? "*" : " ");
    if (t->set_w) {
        if (head) n += (size_t)snprintf(line + n, sizeof line - n, " %-8s", "w_std");
        else n += (size_t)snprintf(line + n, sizeof line - n, " %-8.4g", t->w->v[p / nb]);
    }
    if (t->set_b) {
        if (head) n += (size_t)snprintf(line + n, sizeof line - n, " %-8s", "b_std");
        else n += (size_t)snprintf(line + n, sizeof line - n, " %-8.4g", t->b->v[p % nb]);
    }
    if (head) {
        const char *cols[] = {"ridge", "loo_mse", "loo_acc", "cv_mse", "cv_acc", "log_ml", "log_ml_scaled", "cond"};
        for (int c = 0; c < 8; c++) {
            if ((c == 2 || c == 4) && !t->labels) continue;
            if ((c == 3 || c == 4) && !t->cv) continue;
            n += (size_t)snprintf(line + n, sizeof line - n, "  %-13s", cols[c]);
        }
    } else {
        const ntk_select_result *S = &t->res[p * R + r];
        put_num(line, sizeof line, &n, S->ridge);
        put_num(line, sizeof line, &n, S->loo_mse);
        if (t->labels) put_num(line, sizeof line, &n, t->loo_acc[p * R + r]);
        if (t->cv) put_num(line, sizeof line, &n, S->cv_mse);
        if (t->cv && t->labels) put_num(line, sizeof line, &n, t->cv_acc[p * R + r]);
        put_num(line, sizeof line, &n, S->log_ml);
        put_num(line, sizeof line, &n, S->log_ml_scaled);
        put_num(line, sizeof line, &n, S->cond);
        if (!S->reliable) n += (size_t)snprintf(line + n, sizeof line - n, "  (unreliable)");
    }
    while (n && line[n - 1] == ' ') line[--n] = '\0';
    puts(line);
}

typedef struct {
    const tune_table *t;
} csv_ctx;

static void csv_num(FILE *f, double v, int last)
{
    char b[40];
    if (isnan(v)) snprintf(b, sizeof b, "nan");
    else if (isinf(v)) snprintf(b, sizeof b, v > 0 ? "inf" : "-inf");
    else fmt_exact(b, sizeof b, v);
    fputs(b, f);
    fputc(last ? '\n' : ',', f);
}

static ntk_status emit_csv(FILE *f, const char *path, const void *vctx, ntk_error *err)
{
    const tune_table *t = ((const csv_ctx *)vctx)->t;
    size_t R = t->r->n, P = t->w->n * t->b->n, nb = t->b->n;
    fprintf(f, "%s%sridge,ridge_abs,cond,reliable,loo_mse,%s%s%slog_ml,log_ml_scaled,sigma2,objective\n",
            t->set_w ? "w_std," : "", t->set_b ? "b_std," : "", t->labels ? "loo_acc," : "", t->cv ? "cv_mse," : "",
            t->cv && t->labels ? "cv_acc," : "");
    for (size_t p = 0; p < P; p++)
        for (size_t r = 0; r < R; r++) {
            const ntk_select_result *S = &t->res[p * R + r];
            if (t->set_w) csv_num(f, t->w->v[p / nb], 0);
            if (t->set_b) csv_num(f, t->b->v[p % nb], 0);
            csv_num(f, S->ridge, 0);
            csv_num(f, S->ridge_abs, 0);
            csv_num(f, S->cond, 0);
            fprintf(f, "%d,", S->reliable);
            csv_num(f, S->loo_mse, 0);
            if (t->labels) csv_num(f, t->loo_acc[p * R + r], 0);
            if (t->cv) csv_num(f, S->cv_mse, 0);
            if (t->cv && t->labels) csv_num(f, t->cv_acc[p * R + r], 0);
            csv_num(f, S->log_ml, 0);
            csv_num(f, S->log_ml_scaled, 0);
            csv_num(f, S->sigma2, 0);
            csv_num(f, objective(t, p * R + r), 1);
        }
    if (ferror(f)) return ntk_io_errno(err, path, "cannot write", errno);
    return NTK_OK;
}

/* --plot FILE: a .png or .svg in a writable folder. 0 or 1. */
static int check_plot_path(const char *cmd, const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (!dot || dot == base || (strcasecmp(dot, ".png") && strcasecmp(dot, ".svg")))
        return cli_error(cmd, "--plot %s: unknown plot format (use .png or .svg)", path);
    if (strcmp(dot, ".png") && strcmp(dot, ".svg"))
        return cli_error(cmd, "--plot %s: write the extension in lower case (.png or .svg)", path);
    /* the folder checks of cli_check_out, on a name it accepts */
    char probe[4200];
    snprintf(probe, sizeof probe, "%.*s.csv", (int)(dot - path), path);
    return cli_check_out(cmd, "--plot", probe, CLI_OUT_CSV);
}

/* ------------------------------------------------------------ the command */

typedef struct {
    const char *arch, *x, *y, *w, *b, *ridge, *rmode, *crit, *folds, *seed, *kernel, *param, *scale, *limit, *rows,
        *out, *plot, *model, *threads;
    int labels, quiet, force;
} tune_args;

/* Flags into settings; 0 or 2. */
static int tune_settings(const char *cmd, const tune_args *A, grid *gw, grid *gb, grid *gr, ntk_model_opts *mo,
                         ntk_select_opts *so, criterion *crit, cli_rows *rows)
{
    if (!A->arch) return cli_usage_error(cmd, "--arch is required (see 'ntk tune --help')");
    if (!A->x) return cli_usage_error(cmd, "--x is required (the training inputs)");
    if (!A->y) return cli_usage_error(cmd, "--y is required (the training targets)");
    if (A->w && parse_grid(cmd, "--w-std", A->w, 1, gw)) return 2;
    if (A->b && parse_grid(cmd, "--b-std", A->b, 0, gb)) return 2;
    if (parse_grid(cmd, "--ridge", A->ridge ? A->ridge : "1e-8:1:9log", 0, gr)) return 2;
    *crit = CRIT_LOO;
    if (A->crit) {
        if (!strcmp(A->crit, "loo")) *crit = CRIT_LOO;
        else if (!strcmp(A->crit, "cv")) *crit = CRIT_CV;
        else if (!strcmp(A->crit, "mll")) *crit = CRIT_MLL;
        else if (!strcmp(A->crit, "mll-scaled")) *crit = CRIT_MLL_SCALED;
        else return cli_usage_error(cmd, "--criterion: expected loo, cv, mll or mll-scaled, got '%s'", A->crit);
    }
    long v;
    if (A->folds) {
        if (cli_parse_int(cmd, "--folds", A->folds, 2, 1000000, &v)) return 2;
        so->folds = (size_t)v;
    } else if (*crit == CRIT_CV) {
        so->folds = 10;
    }
    if (A->seed && cli_parse_u64(cmd, "--seed", A->seed, &so->seed)) return 2;
    if (A->seed && !so->folds)
        return cli_usage_error(cmd, "--seed orders the cross-validation folds: give --folds or --criterion cv");
    if (A->rmode) {
        if (!strcmp(A->rmode, "relative")) mo->ridge_mode = NTK_RIDGE_RELATIVE;
        else if (!strcmp(A->rmode, "absolute")) mo->ridge_mode = NTK_RIDGE_ABSOLUTE;
        else return cli_usage_error(cmd, "--ridge-mode: expected 'relative' or 'absolute', got '%s'", A->rmode);
    }
    so->ridge_mode = mo->ridge_mode;
    if (A->kernel) {
        if (!strcmp(A->kernel, "ntk")) mo->kernel = NTK_MODEL_NTK;
        else if (!strcmp(A->kernel, "nngp")) mo->kernel = NTK_MODEL_NNGP;
        else return cli_usage_error(cmd, "--kernel: expected 'ntk' or 'nngp', got '%s'", A->kernel);
    }
    if (A->param && cli_parse_param(cmd, A->param, &mo->param)) return 2;
    if (A->scale && cli_parse_scale(cmd, A->scale, &mo->input_scale)) return 2;
    if (cli_parse_rows(cmd, "--rows", A->rows, A->limit, rows)) return 2;
    if (A->threads) {
        if (cli_parse_int(cmd, "--threads", A->threads, 1, 4096, &v)) return 2;
        mo->threads = (int)v;
        cli_set_threads(mo->threads);
    }
    so->loo = 1;
    so->mll = 1;
    so->max_err = MAX_ERR;
    return 0;
}

/* Everything one run holds. */
typedef struct {
    tune_args A;
    grid gw, gb, gr;            /* the grids given                             */
    double keep_w, keep_b;      /* NaN: "as in the spec" when not swept        */
    grid w1, b1;
    ntk_model_opts mo;
    ntk_select_opts so;
    criterion crit;
    cli_rows rows;
    ntk_arch *arch;
    ntk_matrix x, y;            /* y: the targets, or the labels               */
    double *onehot;
    const double *Y;            /* N × k targets (one-hot for labels)          */
    size_t N, d, k, P, R;       /* P = (w_std, b_std) pairs, R = ridges        */
    size_t need;                /* bytes at the peak                           */
    double t_start;             /* start of the sweep                          */
    tune_table T;
    ntk_arch *best_arch;        /* the chosen point's network                  */
    char *spec;                 /* and its spec                                */
    cli_progress pr;
    tune_progress tp;
} tune_run;

static void run_free(tune_run *u)
{
    ntk_arch_free(u->arch);
    ntk_arch_free(u->best_arch);
    ntk_matrix_free(&u->x);
    ntk_matrix_free(&u->y);
    free(u->onehot);
    free(u->T.res);
    free(u->T.loo_acc);
    free(u->T.cv_acc);
    free(u->gw.v);
    free(u->gb.v);
    free(u->gr.v);
    free(u->spec);
}

/* Output paths, the spec, the data (and labels) and sizes. 0 or 1. */
static int run_load(const char *cmd, tune_run *u)
{
    const tune_args *A = &u->A;
    if ((A->out && cli_check_out(cmd, "--out", A->out, CLI_OUT_CSV)) || (A->plot && check_plot_path(cmd, A->plot)) ||
        (A->model && cli_check_out(cmd, "--model", A->model, CLI_OUT_NPZ)) || cli_parse_arch(cmd, A->arch, &u->arch))
        return 1;
    tune_table *T = &u->T;
    u->keep_w = u->keep_b = NAN;
    u->w1 = (grid){&u->keep_w, 1};
    u->b1 = (grid){&u->keep_b, 1};
    T->w = A->w ? &u->gw : &u->w1;
    T->b = A->b ? &u->gb : &u->b1;
    T->r = &u->gr;
    T->set_w = A->w != NULL;
    T->set_b = A->b != NULL;
    T->labels = A->labels;
    T->cv = u->so.folds >= 2;
    T->crit = u->crit;
    if (cli_read_data(cmd, "--x", A->x, NULL, &u->rows, 1.0, A->quiet, &u->x) ||
        cli_read_data(cmd, "--y", A->y, NULL, &u->rows, 1.0, A->quiet, &u->y))
        return 1;
    if (u->y.rows != u->x.rows) {
        char after[96] = "";
        if (u->rows.flag) snprintf(after, sizeof after, " (after %s %.60s)", u->rows.flag, u->rows.text);
        return cli_error(cmd, "--y %s has %zu row%s but --x %s has %zu%s", A->y, u->y.rows, u->y.rows == 1 ? "" : "s",
                         A->x, u->x.rows, after);
    }
    u->N = u->x.rows;
    u->d = u->x.cols;
    u->k = u->y.cols;
    u->R = u->gr.n;
    u->P = T->w->n * T->b->n;
    u->Y = u->y.data;
    if (A->labels && cli_labels(cmd, "--y", A->y, &u->y, &u->k)) return 1;
    if (u->so.folds > u->N)
        return cli_error(cmd, "--folds %zu: more folds than the %zu training points%s", u->so.folds, u->N,
                         A->folds ? "" : " (the default for --criterion cv is 10; give --folds)");
    return 0;
}

/* The memory of the run at its peak, in bytes (SIZE_MAX on overflow), and
 * in *what what it is for. The data and the result table are held
 * throughout; then either one grid point (the scaled inputs, the kernel,
 * the residuals of every ridge for accuracies, and ntk_select's
 * eigendecomposition and criteria) or the fit of the chosen model
 * (ntk_model_fit_bytes), whichever is larger. */
static size_t run_bytes(const tune_run *u, char *what, size_t n)
{
    const double N = (double)u->N, d = (double)u->d, k = (double)u->k, R = (double)u->R, PR = (double)u->P * R;
    const double base = N * d + N * (double)u->y.cols + (u->A.labels ? N * k : 0) +
                        PR * ((double)sizeof(ntk_select_result) / 8 + 2);
    const double point = N * d + N * N + (u->A.labels ? (1.0 + u->T.cv) * R * N * k : 0);
    const double grid_b = 8 * (base + point) + (double)ntk_select_bytes(u->N, u->k, u->R, &u->so);
    const double fit_b = 8 * base + (u->A.model ? (double)ntk_model_fit_bytes(&u->mo, u->N, u->d, u->k) : 0);
    const int fit = fit_b > grid_b;
    snprintf(what, n, "%s of N = %zu (%s)", fit ? "the chosen model" : "one grid point", u->N,
             fit ? (u->mo.kernel == NTK_MODEL_NTK ? "kernel, eigenvectors, NNGP" : "kernel, eigenvectors")
                 : "kernel, eigendecomposition, criteria");
    const double b = fit ? fit_b : grid_b;
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

/* An upper bound of the plot file: a PNG holds at most its 960 × 640
 * pixels (plot.c) uncompressed, 4 bytes each; an SVG grows by ~330 bytes a
 * grid point (3.4 MB measured for 10 000) on ~100 kB of axes and text. */
static size_t plot_bytes(const char *path, size_t points)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcmp(dot, ".png")) return 960 * 640 * 4 + 65536;
    const double b = 262144.0 + 512.0 * (double)points;
    return b >= 18446744073709549568.0 ? SIZE_MAX : (size_t)b;
}

/* Before any work: the memory of the peak and the outputs on disk (both
 * refused unless --force), then the result table. 0 or 1. */
static int run_check(const char *cmd, tune_run *u)
{
    const tune_args *A = &u->A;
    tune_table *T = &u->T;
    char what[128];
    u->need = run_bytes(u, what, sizeof what);
    size_t PR = u->P * u->R;
    const char *flags[3] = {"--out", "--plot", "--model"}, *paths[3] = {A->out, A->plot, A->model};
    size_t bytes[3] = {A->out ? cli_matrix_file_bytes(A->out, PR + 1, 14) : 0, A->plot ? plot_bytes(A->plot, PR) : 0,
                       A->model ? ntk_model_file_bytes(&u->mo, u->N, u->d, u->k) : 0};
    if (cli_check_memory(cmd, u->need, what, "use fewer points (--limit or --rows)", A->force) ||
        cli_check_disk(cmd, flags, paths, bytes, 3, A->force))
        return 1;
    size_t N = u->N;
    if (A->labels) {
        if (!(u->onehot = calloc(N * u->k, sizeof *u->onehot)))
            return cli_error(cmd, "out of memory for %zu x %zu one-hot targets", N, u->k);
        for (size_t i = 0; i < N; i++) u->onehot[i * u->k + (size_t)u->y.data[i]] = 1.0;
        u->Y = u->onehot;
    }
    T->res = calloc(PR, sizeof *T->res);
    if (A->labels) {
        T->loo_acc = malloc(PR * sizeof *T->loo_acc);
        T->cv_acc = malloc(PR * sizeof *T->cv_acc);
    }
    if (!T->res || (A->labels && (!T->loo_acc || !T->cv_acc)))
        return cli_error(cmd, "out of memory for %zu grid points", PR);
    return 0;
}

/* "w_std 1.5, b_std 0.05" of pair p (empty when nothing is swept). */
static void pair_name(const tune_table *T, size_t p, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    if (T->set_w) o += (size_t)snprintf(buf, n, "w_std %g", T->w->v[p / T->b->n]);
    if (T->set_b) snprintf(buf + o, n - o, "%sb_std %g", o ? ", " : "", T->b->v[p % T->b->n]);
}

/* The network of pair p: every dense layer with the pair's w_std and b_std
 * (the NaN of a grid not swept keeps the spec's own). */
static ntk_status pair_arch(const tune_run *u, size_t p, ntk_arch **out, ntk_error *err)
{
    const tune_table *T = &u->T;
    return ntk_arch_set_std(u->arch, T->w->v[p / T->b->n], T->b->v[p % T->b->n], out, err);
}

/* After grid point p: the progress note's "best MSE 0.0123 at w_std 1.5,
 * ridge 0.001", kept unless p has a smaller objective (the first on ties,
 * as the final choice). */
static void note_best(tune_run *u, size_t p)
{
    const tune_table *T = &u->T;
    size_t R = u->R, i = argmin_objective(T, p * R, R);
    if (i == (p + 1) * R || (u->tp.best_i != SIZE_MAX && !(objective(T, i) < objective(T, u->tp.best_i)))) return;
    u->tp.best_i = i;
    char what[96];
    pair_name(T, i / R, what, sizeof what);
    int mse = u->crit == CRIT_LOO || u->crit == CRIT_CV;
    double o = objective(T, i);
    snprintf(u->tp.best, sizeof u->tp.best, "best %s %.4g at %s%sridge %g", mse ? "MSE" : "log p", mse ? o : -o, what,
             *what ? ", " : "", T->res[i].ridge);
}

/* Work buffers of the sweep. */
typedef struct {
    double *xs, *K, *loo_e, *cv_e; /* scaled inputs, the kernel, residuals R × N × k */
    ntk_kernel_opts ko;
} sweep_bufs;

/* One (w_std, b_std): its kernel, one eigendecomposition, every ridge.
 * 0, or the exit status after an error (1; 130/143 when interrupted). */
static int sweep_point(tune_run *u, sweep_bufs *b, size_t p)
{
    tune_table *T = &u->T;
    size_t N = u->N, k = u->k, R = u->R;
    char what[96];
    pair_name(T, p, what, sizeof what);
    snprintf(u->tp.prefix, sizeof u->tp.prefix, "point %zu/%zu", p + 1, u->P);
    u->tp.t_point = cli_now();
    ntk_arch *pa = NULL;
    ntk_select *sel = NULL;
    ntk_error err;
    ntk_status s = pair_arch(u, p, &pa, &err);
    int nngp = u->mo.kernel == NTK_MODEL_NNGP;
    if (!s) s = ntk_kernel(pa, &b->ko, b->xs, N, NULL, 0, u->d, nngp ? b->K : NULL, nngp ? NULL : b->K, &err);
    ntk_arch_free(pa);
    if (!s) s = ntk_select_create(b->K, N, u->Y, k, &u->so, &sel, &err);
    if (!s) s = ntk_select_eval(sel, u->gr.v, R, &u->so, T->res + p * R, b->loo_e, b->cv_e, &err);
    ntk_select_free(sel);
    if (s) return cli_run_error(&u->pr, s, "%s%s%s", what, *what ? ": " : "", err.msg);
    for (size_t q = 0; u->A.labels && q < R; q++) {
        T->loo_acc[p * R + q] = accuracy(b->loo_e + q * N * k, u->Y, u->y.data, N, k);
        T->cv_acc[p * R + q] = T->cv ? accuracy(b->cv_e + q * N * k, u->Y, u->y.data, N, k) : NAN;
    }
    u->tp.done = p + 1;
    note_best(u, p);
    return 0;
}

/* Every grid point, reporting through u->pr. 0 or the exit status. */
static int run_sweep(const char *cmd, tune_run *u)
{
    size_t N = u->N, k = u->k, R = u->R;
    sweep_bufs b;
    memset(&b, 0, sizeof b);
    b.xs = malloc(N * u->d * sizeof *b.xs);
    b.K = malloc(N * N * sizeof *b.K);
    if (u->A.labels) {
        b.loo_e = malloc(R * N * k * sizeof *b.loo_e);
        b.cv_e = u->T.cv ? malloc(R * N * k * sizeof *b.cv_e) : NULL;
    }
    int rc = 1;
    if (!b.xs || !b.K || (u->A.labels && (!b.loo_e || (u->T.cv && !b.cv_e)))) {
        cli_error(cmd, "out of memory for a %zu x %zu kernel", N, N);
        goto done;
    }
    for (size_t i = 0; i < N * u->d; i++) b.xs[i] = u->x.data[i] * u->mo.input_scale;
    if (!u->A.quiet) {
        char need[48];
        cli_bytes_text(need, sizeof need, u->need);
        fprintf(stderr,
                "ntk tune: N = %zu point%s, d = %zu, k = %zu%s; %s kernel; %zu (w_std, b_std) x %zu ridge%s; "
                "criterion %s%s; about %s of memory\n",
                N, N == 1 ? "" : "s", u->d, k, u->A.labels ? " (one-hot labels)" : "",
                u->mo.kernel == NTK_MODEL_NNGP ? "NNGP" : "NTK", u->P, R, R == 1 ? "" : "s", crit_name(u->crit),
                u->T.cv ? ", with cross-validation" : "", need);
    }
    cli_progress_init(&u->pr, cmd, u->A.quiet);
    u->t_start = cli_now();
    u->tp = (tune_progress){&u->pr, cli_progress_cb(&u->pr), "", 0, u->P, u->t_start, u->t_start, "", SIZE_MAX};
    const ntk_progress cb = {tune_report, &u->tp};
    u->so.progress = cb;
    b.ko = ntk_kernel_opts_default();
    b.ko.param = u->mo.param;
    b.ko.threads = u->mo.threads;
    b.ko.progress = cb;
    for (size_t p = 0; p < u->P; p++)
        if ((rc = sweep_point(u, &b, p))) goto done;
    rc = 0;
done:
    free(b.xs);
    free(b.K);
    free(b.loo_e);
    free(b.cv_e);
    return rc;
}

/* The best grid point (the smallest objective, the first on ties), its
 * network and spec. 0, or 1 when no point is reliable. */
static int run_choose(const char *cmd, tune_run *u)
{
    tune_table *T = &u->T;
    size_t PR = u->P * u->R;
    T->best = argmin_objective(T, 0, PR);
    if (T->best == PR) {
        double e = INFINITY, er = 0;
        for (size_t i = 0; i < PR; i++)
            if (T->res[i].err_est < e) {
                e = T->res[i].err_est;
                er = T->res[i].ridge;
            }
        cli_progress_done(&u->pr);
        return cli_error(cmd,
                         "no grid point has a reliable criterion: every ridge is too small for the conditioning of "
                         "its kernel (the best, ridge %g, has cond·N·eps = %.3g > %g); try larger ridges, e.g. "
                         "--ridge 1e-6:1:7log",
                         er, e, MAX_ERR);
    }
    ntk_error err;
    ntk_status s = pair_arch(u, T->best / u->R, &u->best_arch, &err);
    size_t n = s ? 0 : ntk_arch_format(u->best_arch, NULL, 0);
    if (s || !(u->spec = malloc(n + 1))) return cli_run_error(&u->pr, s ? s : NTK_E_NOMEM, "out of memory");
    ntk_arch_format(u->best_arch, u->spec, n + 1);
    return 0;
}

/* stdout: the table, then the chosen point. */
static void print_report(const tune_run *u)
{
    const tune_table *T = &u->T;
    size_t P = u->P, R = u->R, bp = T->best / R;
    /* every ridge of a single (w_std, b_std); else the best ridge of each */
    table_line(T, SIZE_MAX, 0);
    for (size_t p = 0; p < P; p++) {
        if (P == 1) {
            for (size_t q = 0; q < R; q++) table_line(T, p, q);
            continue;
        }
        size_t bq = argmin_objective(T, p * R, R) - p * R;
        table_line(T, p, bq < R ? bq : 0);
    }
    const ntk_select_result *S = &T->res[T->best];
    char num[32];
    printf("chosen:");
    if (T->set_w) {
        fmt_exact(num, sizeof num, T->w->v[bp / T->b->n]);
        printf(" w_std = %s,", num);
    }
    if (T->set_b) {
        fmt_exact(num, sizeof num, T->b->v[bp % T->b->n]);
        printf(" b_std = %s,", num);
    }
    fmt_exact(num, sizeof num, S->ridge);
    printf(" ridge = %s (%s; %.6g added to the diagonal)\n", num,
           u->mo.ridge_mode == NTK_RIDGE_RELATIVE ? "relative" : "absolute", S->ridge_abs);
    criterion c = u->crit;
    double v = c == CRIT_LOO ? S->loo_mse : c == CRIT_CV ? S->cv_mse : c == CRIT_MLL ? S->log_ml : S->log_ml_scaled;
    printf("criterion: %s = %.10g", crit_name(c), v);
    if (u->A.labels && (c == CRIT_LOO || c == CRIT_CV))
        printf(" (accuracy %.6g)", c == CRIT_CV ? T->cv_acc[T->best] : T->loo_acc[T->best]);
    if (c == CRIT_MLL_SCALED) printf(" (fitted scale %.6g)", S->sigma2);
    printf("; condition number %.3g\n", S->cond);
    printf("spec: %s\n", u->spec);
}

/* --plot, staged in o: the minimized criterion per target entry (MSEs, or
 * −log p/(N·k)). */
static int write_plot(const char *cmd, const tune_run *u, ntk_outputs *o)
{
    const tune_table *T = &u->T;
    size_t PR = u->P * u->R, bp = T->best / u->R;
    int mse = u->crit == CRIT_LOO || u->crit == CRIT_CV;
    double *c = malloc(PR * sizeof *c), nk = (double)u->N * (double)u->k;
    if (!c) return cli_error(cmd, "out of memory");
    for (size_t i = 0; i < PR; i++) c[i] = mse ? objective(T, i) : objective(T, i) / nk;
    char title[160], note[160], perr[512], what[96];
    snprintf(title, sizeof title, "%s, N = %zu (%s ridge)", crit_name(u->crit), u->N,
             u->mo.ridge_mode == NTK_RIDGE_RELATIVE ? "relative" : "absolute");
    pair_name(T, bp, what, sizeof what);
    snprintf(note, sizeof note, "chosen (*): %s%sridge %g%s", what, *what ? ", " : "", T->res[T->best].ridge,
             T->res[T->best].ridge > 0 ? "" : " (not on the log axis)");
    plot_tune_data pd = {title,
                         u->crit == CRIT_LOO ? "leave-one-out MSE" : u->crit == CRIT_CV ? "cross-validation MSE"
                                                                                        : "-log p / (N k)",
                         T->w->n,
                         T->b->n,
                         u->R,
                         T->set_w ? T->w->v : NULL,
                         T->set_b ? T->b->v : NULL,
                         u->gr.v,
                         c,
                         T->best,
                         note};
    int rc = plot_tune(o, u->A.plot, &pd, perr, sizeof perr) ? cli_error(cmd, "--plot: %s", perr) : 0;
    free(c);
    return rc;
}

/* The chosen model is fitted first (nothing is written if that fails or
 * is interrupted); then the model, the CSV and the plot are staged in one
 * output set, committed only when all are written: all the files of the
 * run appear, or none. A signal once the writing has begun lets it finish,
 * as in every command. Then stdout. 0 or the exit status. */
static int run_outputs(const char *cmd, tune_run *u)
{
    const tune_args *A = &u->A;
    ntk_model *model = NULL;
    ntk_outputs *o = NULL;
    ntk_error err;
    int rc = 1;
    if (A->model) {
        u->mo.ridge = u->T.res[u->T.best].ridge;
        snprintf(u->tp.prefix, sizeof u->tp.prefix, "chosen model");
        u->mo.progress = (ntk_progress){tune_report, &u->tp};
        ntk_status s = ntk_model_fit(u->best_arch, &u->mo, u->x.data, u->N, u->d, u->Y, u->k, &model, &err);
        if (s) {
            rc = cli_run_error(&u->pr, s, "--model: %s", err.msg);
            goto done;
        }
    }
    cli_progress_done(&u->pr);
    if (ntk_outputs_create(&o, &err)) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    /* the model first, freed once staged (its N x N arrays are the largest) */
    if (model && ntk_model_save_to(o, model, A->model, &err)) {
        cli_error(cmd, "--model: %s", err.msg);
        goto done;
    }
    ntk_model_free(model);
    model = NULL;
    csv_ctx cc = {&u->T};
    if (A->out && ntk_outputs_write(o, A->out, emit_csv, &cc, &err)) {
        cli_error(cmd, "--out: %s", err.msg);
        goto done;
    }
    if (A->plot && write_plot(cmd, u, o)) goto done;
    if (ntk_outputs_commit(o, &err)) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    print_report(u);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error(cmd, "cannot write to stdout");
        goto done;
    }
    if (!A->quiet) {
        fprintf(stderr, "ntk tune: %zu grid point%s in %.1f s", u->P * u->R, u->P * u->R == 1 ? "" : "s",
                cli_now() - u->t_start);
        if (A->out) fprintf(stderr, "; table -> %s", A->out);
        if (A->plot) fprintf(stderr, "; plot -> %s", A->plot);
        if (A->model) fprintf(stderr, "; model -> %s", A->model);
        fputc('\n', stderr);
    }
    rc = 0;
done:
    ntk_outputs_free(o); /* uncommitted after a failure: no file of the run appears */
    ntk_model_free(model);
    return rc;
}

int cmd_tune(int argc, char **argv)
{
    const char *cmd = "tune";
    tune_run u;
    memset(&u, 0, sizeof u);
    tune_args *A = &u.A;
    const cli_opt opts[] = {
        {"--arch", 1, &A->arch, NULL},        {"--x", 1, &A->x, NULL},
        {"--y", 1, &A->y, NULL},              {"--w-std", 1, &A->w, NULL},
        {"--b-std", 1, &A->b, NULL},          {"--ridge", 1, &A->ridge, NULL},
        {"--ridge-mode", 1, &A->rmode, NULL}, {"--criterion", 1, &A->crit, NULL},
        {"--folds", 1, &A->folds, NULL},      {"--seed", 1, &A->seed, NULL},
        {"--kernel", 1, &A->kernel, NULL},    {"--param", 1, &A->param, NULL},
        {"--scale", 1, &A->scale, NULL},      {"--limit", 1, &A->limit, NULL},
        {"--rows", 1, &A->rows, NULL},
        {"--out", 1, &A->out, NULL},          {"--plot", 1, &A->plot, NULL},
        {"--model", 1, &A->model, NULL},      {"--threads", 1, &A->threads, NULL},
        {"--labels", 0, NULL, &A->labels},    {"--quiet", 0, NULL, &A->quiet},
        {"--force", 0, NULL, &A->force},      {NULL, 0, NULL, NULL},
    };
    int r = cli_parse_args(cmd, argc, argv, opts);
    if (r == 1) {
        fputs(TUNE_HELP, stdout);
        return 0;
    }
    if (r) return r;
    u.mo = ntk_model_opts_default();
    u.so = ntk_select_opts_default();
    r = tune_settings(cmd, A, &u.gw, &u.gb, &u.gr, &u.mo, &u.so, &u.crit, &u.rows);
    if (!r) r = run_load(cmd, &u);
    if (!r) r = run_check(cmd, &u);
    if (!r) { /* the reporter runs from the sweep to the model's fit */
        r = run_sweep(cmd, &u);
        if (!r) r = run_choose(cmd, &u);
        if (!r) r = run_outputs(cmd, &u);
        cli_progress_done(&u.pr);
    }
    run_free(&u);
    return r;
}
