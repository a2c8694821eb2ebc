/*
 * ntk.h — the public API of libntk: Neural Tangent Kernels in C.
 *
 * Infinite-width fully-connected networks are kernels: the NNGP K(x,x') and
 * the NTK Θ(x,x'). libntk computes them exactly (closed forms where they
 * exist, Gauss–Hermite / polar quadrature otherwise), with neural-tangents'
 * `stax` conventions, in float64. The formulas are in docs/math.md.
 *
 * Example: the NTK of a 2-hidden-layer ReLU network on the rows of a file.
 *
 *     ntk_error err;
 *     ntk_matrix x = {0};
 *     ntk_arch *arch = NULL;
 *     if (ntk_io_read("x.npy", NULL, &x, &err) ||
 *         ntk_arch_parse("dense(512,w_std=1.5,b_std=0.05),relu,"
 *                        "dense(512,w_std=1.5,b_std=0.05),relu,dense(1)",
 *                        &arch, &err)) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 1;
 *     }
 *     ntk_kernel_opts o = ntk_kernel_opts_default();
 *     double *theta = malloc(x.rows * x.rows * sizeof *theta);
 *     ntk_status s = ntk_kernel(arch, &o, x.data, x.rows, NULL, 0, x.cols,
 *                               NULL, theta, &err);      // X2 = X1
 *     ...  theta[i*N + j] = Θ(x_i, x_j), row-major
 *     free(theta); ntk_matrix_free(&x); ntk_arch_free(arch);
 *
 * Conventions: every fallible function returns an ntk_status (0 = NTK_OK,
 * negative = error) and, when `err` is not NULL, fills err->msg with one line
 * saying what went wrong and where (file, row, column, spec position, layer).
 * The library never prints and never exits. Matrices are row-major doubles.
 * Results do not depend on the thread count.
 */
#ifndef NTK_H
#define NTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NTK_VERSION_MAJOR 0
#define NTK_VERSION_MINOR 1
#define NTK_VERSION_PATCH 0
#define NTK_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- status */

/* Status codes. Grow only at the end. */
typedef enum {
    NTK_OK = 0,
    NTK_E_INVAL = -1,   /* bad argument or option                       */
    NTK_E_NOMEM = -2,   /* allocation failed                            */
    NTK_E_IO = -3,      /* file cannot be opened, read or written       */
    NTK_E_FORMAT = -4,  /* malformed file contents                      */
    NTK_E_SPEC = -5,    /* architecture spec: syntax or semantic error  */
    NTK_E_SHAPE = -6,   /* incompatible shapes                          */
    NTK_E_NUMERIC = -7, /* NaN/Inf in input, or a numerical failure     */
    NTK_E_INTERNAL = -8 /* a bug: an internal invariant failed          */
} ntk_status;

#define NTK_ERRMSG_MAX 512

/* The message of the last failure of a call that was handed this struct. */
typedef struct {
    ntk_status status;
    char msg[NTK_ERRMSG_MAX];
} ntk_error;

/* A short constant name for a status ("ok", "invalid argument", ...). */
const char *ntk_status_string(ntk_status s);

/* ---------------------------------------------------------------- matrices */

/* An owned dense row-major matrix. ndim records whether it came from (or is
 * to be written as) a 1-D array (rows = length, cols = 1) or a 2-D one. */
typedef struct {
    double *data;
    size_t rows, cols;
    int ndim; /* 1 or 2 */
} ntk_matrix;

/* Allocates rows*cols doubles (zeroed). ndim = 2. */
ntk_status ntk_matrix_alloc(ntk_matrix *m, size_t rows, size_t cols, ntk_error *err);
void ntk_matrix_free(ntk_matrix *m);

/* Returns the first non-finite entry as NTK_E_NUMERIC with the message
 * "<what>: row R, column C: <value> is not finite" (1-based), else NTK_OK. */
ntk_status ntk_check_finite(const double *a, size_t rows, size_t cols,
                            const char *what, ntk_error *err);

/* ---------------------------------------------------------------- data I/O */

/* Options for reading. Start from ntk_read_opts_default() (or pass NULL):
 * CSV header detected automatically, all columns. */
typedef struct {
    int csv_header;       /* -1 auto (a first row with a non-numeric field
                             is a header), 0 none, 1 present               */
    const char *columns;  /* NULL = all; else a comma list of 1-based
                             indices, ranges "3-7", or CSV header names
                             (applies to .npy too, indices only)          */
} ntk_read_opts;

ntk_read_opts ntk_read_opts_default(void);

/* Reads a matrix; the format is chosen by extension: ".npy" (NumPy format
 * 1.0/2.0/3.0; <f8 <f4 >f8 >f4 and integer dtypes i1..i8 u1..u8 either
 * endianness; C or Fortran order; 1-D or 2-D) or ".csv" (comma separated,
 * numeric). Errors name the file, and the row/column for CSV. The result
 * is not checked for NaN/Inf (see ntk_check_finite). */
ntk_status ntk_io_read(const char *path, const ntk_read_opts *opts,
                       ntk_matrix *out, ntk_error *err);

/* Writes a matrix by extension (".npy" as <f8 version 1.0, C order; ".csv"
 * with %.17g). ndim == 1 writes a 1-D array (CSV: one value per line).
 * Written to a temporary file in the same directory, then renamed: a failure
 * never leaves a partial file at `path`. */
ntk_status ntk_io_write(const char *path, const double *data, size_t rows,
                        size_t cols, int ndim, ntk_error *err);

/* ---------------------------------------------------------------- specs */

typedef enum { NTK_PARAM_NTK = 0, NTK_PARAM_STANDARD = 1 } ntk_param;

typedef enum {
    NTK_ACT_IDENTITY = 0,
    NTK_ACT_ABRELU,      /* a·min(z,0) + b·max(z,0); relu, leaky_relu, abs */
    NTK_ACT_ERF,         /* a·erf(b z) + c; erf, sigmoid_like              */
    NTK_ACT_SIN,         /* a·sin(b z + c)                                  */
    NTK_ACT_COS,         /* a·cos(b z + c) = a·sin(b z + c + π/2)           */
    NTK_ACT_GELU,        /* z·Φ(z)                                          */
    NTK_ACT_TANH,
    NTK_ACT_SIGMOID,     /* 1/(1+e^-z)                                      */
    NTK_ACT_SOFTPLUS,    /* log(1+e^z)                                      */
    NTK_ACT_SILU,        /* z/(1+e^-z)                                      */
    NTK_ACT_ELU,         /* z if z>0 else a·(e^z-1)                         */
    NTK_ACT_COUNT
} ntk_act_kind;

typedef enum { NTK_LAYER_DENSE = 0, NTK_LAYER_ACT = 1 } ntk_layer_kind;

typedef struct {
    ntk_layer_kind kind;
    /* dense */
    size_t width;
    double w_std, b_std; /* b_std = 0 when has_bias = 0 */
    int has_bias;
    int param;           /* -1 = the network's, else an ntk_param */
    /* activation */
    ntk_act_kind act;
    double a, b, c;      /* activation parameters (see ntk_act_kind) */
    /* where it came from, for messages */
    int pos;             /* 1-based column of the layer in the spec */
    char name[24];       /* the name as written ("relu", "dense", ...) */
} ntk_layer;

typedef struct ntk_arch ntk_arch;

/* Parses a spec like
 *   "dense(512,w_std=1.5,b_std=0.05),relu,dense(1,w_std=1.5)".
 * Layers: dense(width[,w_std=][,b_std=][,param=ntk|standard]); activations
 * relu, leaky_relu(alpha), abs, abrelu(a,b), erf, erf(a,b,c), sigmoid_like,
 * sin(a,b,c), cos(a,b,c), identity, gelu, tanh, sigmoid, softplus, silu,
 * elu(alpha). Positional or named arguments. Whitespace ignored. Messages
 * look like "spec:1:23: unknown activation 'rleu' (did you mean 'relu'?)". */
ntk_status ntk_arch_parse(const char *spec, ntk_arch **out, ntk_error *err);
void ntk_arch_free(ntk_arch *arch);
size_t ntk_arch_n_layers(const ntk_arch *arch);
const ntk_layer *ntk_arch_layer(const ntk_arch *arch, size_t i);
/* The canonical spec string (every argument explicit). Returns the length
 * it needs (like snprintf). */
size_t ntk_arch_format(const ntk_arch *arch, char *buf, size_t n);

/* ---------------------------------------------------------------- kernels */

typedef enum {
    NTK_QUAD_AUTO = 0,    /* closed form where one exists, else quadrature */
    NTK_QUAD_NUMERIC = 1  /* quadrature for every activation (for tests)  */
} ntk_quad_mode;

typedef struct {
    ntk_param param;      /* default parameterization for dense layers    */
    ntk_quad_mode quad;   /* closed forms or quadrature                   */
    int quad_degree;      /* 0 = default; else Gauss–Hermite degree       */
    int threads;          /* 0 = OpenMP default; else that many           */
    int diag;             /* 1: only K(x_i,x_i); outputs have N1 entries  */
} ntk_kernel_opts;

ntk_kernel_opts ntk_kernel_opts_default(void);

/* The infinite-width NNGP and NTK of the network `arch` between the rows of
 * X1 (n1×d) and X2 (n2×d), row-major. X2 == NULL means X2 = X1 (one
 * triangle is computed and mirrored; n2 ignored). Either output may be NULL
 * (not wanted); each is n1×n2 row-major, or n1 entries with opts->diag.
 * NaN/Inf inputs are rejected with their row and column. The kernel is that
 * of the network's output (the last layer); for a network ending with an
 * activation, of that activation's output (NTK = Θ before the next dense). */
ntk_status ntk_kernel(const ntk_arch *arch, const ntk_kernel_opts *opts,
                      const double *x1, size_t n1, const double *x2, size_t n2,
                      size_t d, double *nngp, double *ntk, ntk_error *err);

/* One activation's dual kernel at a single point:
 *   T  = E[φ(u)φ(v)],  Tdot = E[φ'(u)φ'(v)],
 *   (u,v) ~ N(0, [[q11,q12],[q12,q22]]).
 * With quad = NTK_QUAD_NUMERIC the quadrature is used even when a closed
 * form exists (degree 0 = default). Either output may be NULL. */
ntk_status ntk_act_dual(const ntk_layer *act, double q11, double q12, double q22,
                        ntk_quad_mode quad, int degree, double *T, double *Tdot,
                        ntk_error *err);

/* φ(z) and φ'(z) of an activation layer. */
double ntk_act_eval(const ntk_layer *act, double z);
double ntk_act_deriv(const ntk_layer *act, double z);

#ifdef __cplusplus
}
#endif
#endif /* NTK_H */
