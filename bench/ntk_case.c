/*
 * ntk_case.c — the C side of bench/run: runs one libntk case on inputs
 * read from .npy files, R times after one warm-up, and times in the same
 * process the floor of that case (the bare OpenBLAS products it cannot do
 * without). Prints one JSON object on stdout; writes the outputs as .npy so
 * that bench/peers.py can compare them with neural-tangents and PyTorch.
 *
 *   ntk_case CASE --in DIR --out DIR [--reps R]
 *
 * DIR (in) holds spec.txt (the architecture), args.txt (key = value lines)
 * and the arrays the case needs. Cases:
 *   netinit    spec, d, seed            -> out/params.npz (ntk_net_save), untimed
 *   kernel     spec, x1 [, x2]          -> out/nngp.npy, out/ntk.npy
 *              floor: dsyrk X1·X1ᵀ (X2 omitted) or dgemm X1·X2ᵀ
 *   empirical  params.npz, x, full      -> out/ntk.npy (X2 = X1)
 *              floor: per dense layer the forward dgemm H·Wᵀ, the backward
 *              dgemm of the δ's (n·k rows, all but the first layer) and the
 *              Gram products (dsyrk) of the δ's and of the layer inputs
 *   train      params.npz, x, y, lr, steps -> out/theta.npy, out/f.npy
 *              floor: steps × the dgemms of one forward + backward pass
 *   predict    kxx, kxt, y, lr, times   -> out/pred.npy (n_times × M × k)
 *              floor: dsyevd of kxx + Vᵀ·y + per time V·W and kxt·(V·W)
 * The floors run on the case's own shapes (contents do not matter to BLAS).
 */
#include "ntk.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPS 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const ntk_error *err)
{
    fprintf(stderr, "ntk_case: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) die("out of memory", NULL);
    return p;
}

static const char *g_in, *g_out;

static char *path_in(const char *name)
{
    static char buf[4][4096];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_in, name);
    return buf[i];
}

static char *path_out(const char *name)
{
    static char buf[4][4096];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", g_out, name);
    return buf[i];
}

static ntk_matrix load(const char *name)
{
    ntk_matrix m = {0};
    ntk_error err;
    if (ntk_io_read(path_in(name), NULL, &m, &err)) die("reading input", &err);
    return m;
}

static void save(const char *name, const double *a, size_t rows, size_t cols, int ndim)
{
    ntk_error err;
    if (ntk_io_write(path_out(name), a, rows, cols, ndim, &err)) die("writing output", &err);
}

/* The whole of a small text file, NUL-terminated. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = xmalloc(1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    fclose(f);
    s[n] = 0;
    return s;
}

/* args.txt: "key = value" lines. */
static char *g_args;

static const char *arg(const char *key)
{
    if (!g_args) return NULL;
    size_t kl = strlen(key);
    for (char *p = g_args; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        while (*p == ' ') p++;
        if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == '=')) {
            const char *v = strchr(p, '=');
            if (!v) return NULL;
            v++;
            while (*v == ' ') v++;
            return v;
        }
    }
    return NULL;
}

static double arg_d(const char *key, double def)
{
    const char *v = arg(key);
    return v ? strtod(v, NULL) : def;
}

static ntk_arch *load_arch(void)
{
    char *spec = slurp(path_in("spec.txt"));
    if (!spec) die("cannot read spec.txt", NULL);
    spec[strcspn(spec, "\n")] = 0;
    ntk_arch *a;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) die("spec", &err);
    free(spec);
    return a;
}

static ntk_net *load_net(void)
{
    ntk_net *net;
    ntk_error err;
    if (ntk_net_load(path_in("params.npz"), &net, &err)) die("params.npz", &err);
    return net;
}

static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t m, size_t n, size_t kk, const double *A,
                 const double *B, double *C)
{
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)kk, 1.0, A, ta == CblasNoTrans ? (int)kk : (int)m, B,
                tb == CblasNoTrans ? (int)n : (int)kk, 0.0, C, (int)n);
}

static void syrk(size_t n, size_t kk, const double *A, double *C)
{
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)kk, 1.0, A, (int)kk, 0.0, C, (int)n);
}

/* ------------------------------------------------------------------ the cases
 * Each case has a setup (reads inputs), run (the timed libntk call), floor
 * (the timed BLAS products), finish (writes outputs). */

typedef struct {
    ntk_arch *arch;
    ntk_net *net, *work;
    ntk_matrix x1, x2, y, kxx, kxt;
    double *o1, *o2;      /* outputs */
    double *fa, *fb, *fc, *fd; /* floor buffers */
    size_t n1, n2, d, k, rows;
    int full;
    double lr;
    size_t steps;
    double times[64];
    size_t n_times;
} ctx;

static void kernel_setup(ctx *c)
{
    c->arch = load_arch();
    c->x1 = load("x1.npy");
    c->n1 = c->x1.rows;
    c->d = c->x1.cols;
    FILE *f = fopen(path_in("x2.npy"), "rb");
    if (f) {
        fclose(f);
        c->x2 = load("x2.npy");
        c->n2 = c->x2.rows;
    } else {
        c->n2 = c->n1;
    }
    c->o1 = xmalloc(c->n1 * c->n2 * sizeof(double));
    c->o2 = xmalloc(c->n1 * c->n2 * sizeof(double));
}

static void kernel_run(ctx *c)
{
    ntk_kernel_opts o = ntk_kernel_opts_default();
    ntk_error err;
    if (ntk_kernel(c->arch, &o, c->x1.data, c->n1, c->x2.data, c->n2, c->d, c->o1, c->o2, &err))
        die("ntk_kernel", &err);
}

static void kernel_floor(ctx *c)
{
    /* into o1: it is rewritten by the next run, and written out only after
     * a final run (see main) */
    if (c->x2.data)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->n1, (int)c->n2, (int)c->d, 1.0 / (double)c->d,
                    c->x1.data, (int)c->d, c->x2.data, (int)c->d, 0.0, c->o1, (int)c->n2);
    else
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)c->n1, (int)c->d, 1.0 / (double)c->d, c->x1.data,
                    (int)c->d, 0.0, c->o1, (int)c->n1);
}

static void kernel_finish(ctx *c)
{
    save("nngp.npy", c->o1, c->n1, c->n2, 2);
    save("ntk.npy", c->o2, c->n1, c->n2, 2);
}

static size_t max_width(const ntk_net *net)
{
    size_t m = ntk_net_n_inputs(net);
    for (size_t l = 0; l < ntk_net_n_dense(net); l++) {
        const ntk_dense_info *D = ntk_net_dense(net, l);
        if (D->n_out > m) m = D->n_out;
    }
    return m;
}

static void empirical_setup(ctx *c)
{
    c->net = load_net();
    c->x1 = load("x.npy");
    c->n1 = c->x1.rows;
    c->full = (int)arg_d("full", 0);
    c->k = ntk_net_n_outputs(c->net);
    c->rows = c->full ? c->n1 * c->k : c->n1;
    c->o1 = xmalloc(c->rows * c->rows * sizeof(double));
    size_t W = max_width(c->net);
    size_t big = c->n1 * c->k * W * (c->k > 1 && !c->full ? 1 : 1);
    c->fa = xmalloc(big * sizeof(double));
    c->fb = xmalloc(big * sizeof(double));
    c->fc = xmalloc(c->n1 * c->n1 * sizeof(double));
    c->fd = xmalloc(W * W * sizeof(double));
}

static void empirical_run(ctx *c)
{
    ntk_error err;
    if (ntk_empirical_ntk(c->net, c->x1.data, c->n1, NULL, 0, c->full, c->o1, &err)) die("ntk_empirical_ntk", &err);
}

static void empirical_floor(ctx *c)
{
    size_t N = c->n1, k = c->k, L = ntk_net_n_dense(c->net);
    for (size_t l = 0; l < L; l++) {
        const ntk_dense_info *D = ntk_net_dense(c->net, l);
        gemm(CblasNoTrans, CblasTrans, N, D->n_out, D->n_in, c->fa, c->fd, c->fb); /* Z = H Wᵀ */
    }
    for (size_t l = L; l-- > 0;) {
        const ntk_dense_info *D = ntk_net_dense(c->net, l);
        if (l > 0) gemm(CblasNoTrans, CblasNoTrans, N * k, D->n_in, D->n_out, c->fa, c->fd, c->fb); /* δ W */
        size_t inner = c->full ? D->n_out : k * D->n_out;
        syrk(c->rows, inner, c->fa, c->o1);  /* Gram of the δ's */
        syrk(N, D->n_in, c->fb, c->fc);      /* Gram of the layer inputs */
    }
}

static void empirical_finish(ctx *c)
{
    save("ntk.npy", c->o1, c->rows, c->rows, 2);
}

static void train_setup(ctx *c)
{
    c->net = load_net();
    c->x1 = load("x.npy");
    c->y = load("y.npy");
    c->n1 = c->x1.rows;
    c->k = ntk_net_n_outputs(c->net);
    c->lr = arg_d("lr", 0.1);
    c->steps = (size_t)arg_d("steps", 100);
    size_t W = max_width(c->net), big = (W > c->n1 ? W : c->n1) * W;
    c->fa = xmalloc(big * sizeof(double));
    c->fb = xmalloc(big * sizeof(double));
    c->fc = xmalloc(big * sizeof(double));
    c->o1 = xmalloc(c->n1 * c->k * sizeof(double));
}

static void train_steps(ctx *c, size_t steps)
{
    ntk_error err;
    ntk_net_free(c->work);
    if (ntk_net_clone(c->net, &c->work, &err)) die("clone", &err);
    ntk_train_opts o = ntk_train_opts_default();
    o.lr = c->lr;
    o.steps = steps;
    double loss;
    if (ntk_train(c->work, &o, c->x1.data, c->y.data, c->n1, &loss, &err)) die("ntk_train", &err);
}

static void train_run(ctx *c)
{
    train_steps(c, c->steps);
}

static void train_floor(ctx *c)
{
    size_t N = c->n1, L = ntk_net_n_dense(c->net);
    for (size_t s = 0; s < c->steps; s++) {
        for (size_t l = 0; l < L; l++) {
            const ntk_dense_info *D = ntk_net_dense(c->net, l);
            gemm(CblasNoTrans, CblasTrans, N, D->n_out, D->n_in, c->fa, c->fb, c->fc); /* H Wᵀ */
        }
        for (size_t l = L; l-- > 0;) {
            const ntk_dense_info *D = ntk_net_dense(c->net, l);
            gemm(CblasTrans, CblasNoTrans, D->n_out, D->n_in, N, c->fa, c->fb, c->fc); /* ∂W = Δᵀ H */
            if (l > 0) gemm(CblasNoTrans, CblasNoTrans, N, D->n_in, D->n_out, c->fa, c->fb, c->fc); /* ∂H = Δ W */
        }
    }
}

static void train_finish(ctx *c)
{
    ntk_error err;
    save("theta.npy", ntk_net_params_const(c->work), ntk_net_n_params(c->work), 1, 1);
    if (ntk_net_apply(c->work, c->x1.data, c->n1, c->o1, 0, &err)) die("ntk_net_apply", &err);
    save("f.npy", c->o1, c->n1, c->k, 2);
}

static void predict_setup(ctx *c)
{
    c->kxx = load("kxx.npy");
    c->kxt = load("kxt.npy");
    c->y = load("y.npy");
    c->n1 = c->kxx.rows;   /* N train */
    c->n2 = c->kxt.rows;   /* M test  */
    c->k = c->y.cols;
    c->lr = arg_d("lr", 1.0);
    const char *t = arg("times");
    if (!t) die("args.txt: no times", NULL);
    char *end;
    while (c->n_times < 64) {
        double v = strtod(t, &end);
        if (end == t) break;
        c->times[c->n_times++] = v;
        t = end;
        while (*t == ',' || *t == ' ') t++;
    }
    c->o1 = xmalloc(c->n_times * c->n2 * c->k * sizeof(double));
    size_t N = c->n1, M = c->n2;
    c->fa = xmalloc(N * N * sizeof(double));
    c->fb = xmalloc(N * sizeof(double));
    c->fc = xmalloc((N + M) * c->k * sizeof(double));
    c->fd = xmalloc(N * c->k * sizeof(double));
}

static void predict_run(ctx *c)
{
    ntk_predict_opts o = ntk_predict_opts_default();
    o.lr = c->lr;
    ntk_predictor *p;
    ntk_error err;
    if (ntk_predictor_create(c->kxx.data, c->n1, c->y.data, c->k, NULL, &o, &p, &err))
        die("ntk_predictor_create", &err);
    if (ntk_predict(p, c->kxt.data, c->n2, NULL, c->times, c->n_times, c->o1, &err)) die("ntk_predict", &err);
    ntk_predictor_free(p);
}

static void predict_floor(ctx *c)
{
    size_t N = c->n1, M = c->n2, k = c->k;
    memcpy(c->fa, c->kxx.data, N * N * sizeof(double));
    /* column-major: the fastest way to call it (LAPACKE's row-major wrapper
     * transposes in and out); the matrix is symmetric */
    if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)N, c->fa, (lapack_int)N, c->fb))
        die("dsyevd failed", NULL);
    gemm(CblasTrans, CblasNoTrans, N, k, N, c->fa, c->y.data, c->fd); /* c = Vᵀ·y */
    for (size_t q = 0; q < c->n_times; q++) {                         /* per time */
        gemm(CblasNoTrans, CblasNoTrans, N, k, N, c->fa, c->fd, c->fc);             /* V·W     */
        gemm(CblasNoTrans, CblasNoTrans, M, k, N, c->kxt.data, c->fc, c->fc + N * k); /* kxt·u */
    }
}

static void predict_finish(ctx *c)
{
    save("pred.npy", c->o1, c->n_times * c->n2, c->k, 2);
}

static void netinit(void)
{
    ntk_arch *a = load_arch();
    ntk_net *net;
    ntk_error err;
    size_t d = (size_t)arg_d("d", 0);
    uint64_t seed = (uint64_t)arg_d("seed", 1);
    if (ntk_net_create(a, d, NTK_PARAM_NTK, &net, &err) || ntk_net_init(net, seed, &err) ||
        ntk_net_save(net, path_out("params.npz"), &err))
        die("netinit", &err);
    printf("{\"case\": \"netinit\", \"n_params\": %zu}\n", ntk_net_n_params(net));
    ntk_net_free(net);
    ntk_arch_free(a);
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ntk_case CASE --in DIR --out DIR [--reps R] [--no-floor]\n");
        return 2;
    }
    const char *name = argv[1];
    int reps = 5, do_floor = 1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--in") && i + 1 < argc) g_in = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) g_out = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-floor")) do_floor = 0;
        else {
            fprintf(stderr, "ntk_case: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!g_in || !g_out || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "ntk_case: need --in DIR --out DIR and 1 <= R <= %d\n", MAX_REPS);
        return 2;
    }
    g_args = slurp(path_in("args.txt"));
    if (!strcmp(name, "netinit")) {
        netinit();
        return 0;
    }
    void (*setup)(ctx *), (*run)(ctx *), (*floor_fn)(ctx *), (*finish)(ctx *);
    const char *floor_what;
    if (!strcmp(name, "kernel")) {
        setup = kernel_setup; run = kernel_run; floor_fn = kernel_floor; finish = kernel_finish;
        floor_what = NULL;
    } else if (!strcmp(name, "empirical")) {
        setup = empirical_setup; run = empirical_run; floor_fn = empirical_floor; finish = empirical_finish;
        floor_what = "per-layer dgemm (forward, backward of the deltas) + dsyrk Grams";
    } else if (!strcmp(name, "train")) {
        setup = train_setup; run = train_run; floor_fn = train_floor; finish = train_finish;
        floor_what = "steps x dgemms of one forward+backward";
    } else if (!strcmp(name, "predict")) {
        setup = predict_setup; run = predict_run; floor_fn = predict_floor; finish = predict_finish;
        floor_what = "dsyevd + V^T*y + per time V*W, kxt*(V*W)";
    } else {
        fprintf(stderr, "ntk_case: unknown case '%s' (netinit, kernel, empirical, train, predict)\n", name);
        return 2;
    }
    ctx c;
    memset(&c, 0, sizeof c);
    setup(&c);
    if (!floor_what) floor_what = c.x2.data ? "dgemm X1*X2^T" : "dsyrk X1*X1^T";

    /* warm-up: training warms up with one step, everything else with a run */
    double t0 = now();
    if (run == train_run) train_steps(&c, 1); else run(&c);
    double warm = now() - t0;
    if (do_floor) floor_fn(&c);
    double t[MAX_REPS], f[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        if (do_floor) {
            t0 = now();
            floor_fn(&c);
            f[r] = now() - t0;
        }
        t0 = now();
        run(&c);
        t[r] = now() - t0;
    }
    finish(&c);
    printf("{\"case\": \"%s\", \"warmup\": %.6f, \"times\": [", name, warm);
    for (int r = 0; r < reps; r++) printf("%s%.6f", r ? ", " : "", t[r]);
    printf("], \"floor\": [");
    for (int r = 0; do_floor && r < reps; r++) printf("%s%.6f", r ? ", " : "", f[r]);
    qsort(t, (size_t)reps, sizeof *t, cmpd);
    printf("], \"median\": %.6f, \"floor_what\": \"%s\"}\n", t[reps / 2], floor_what);
    return 0;
}
