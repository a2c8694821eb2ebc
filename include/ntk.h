/*
 * ntk.h — the public API of libntk: Neural Tangent Kernels in C.
 *
 * Infinite-width fully-connected networks are kernels: the NNGP K(x,x') and
 * the NTK Θ(x,x'). libntk computes them exactly (closed forms where they
 * exist, a polar Gauss–Legendre quadrature otherwise), with neural-tangents'
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
 *
 * Threads. A function with a `threads` (an argument or an options field)
 * runs at most that many threads, OpenMP's and OpenBLAS's together (libntk
 * uses OpenBLAS's OpenMP build, whose threads are OpenMP's). threads = 0
 * means the calling thread's OpenMP setting, omp_get_max_threads() at the
 * time of the call (OMP_NUM_THREADS, or omp_set_num_threads; by default one
 * per core); functions without a `threads` use that setting too. A
 * negative count is refused (NTK_E_INVAL). The count is set for the
 * calling thread only and restored before the function returns.
 * Results: for the same inputs and options, on the same CPU type and
 * OpenBLAS build, every result is the same to the last bit for any thread
 * count, with one exception: the factorizations of ntk_predictor_create,
 * ntk_model_fit and ntk_select_create run LAPACK on all the call's threads (on one thread
 * dsyevd took 1.6–1.7x as long at N = 4000 on an idle 2-core machine), and
 * LAPACK's last bits depend on its thread count. Such a
 * factorization is the same bits for the same thread count, and differs
 * between thread counts by rounding only — predictions by ≲ 16·N·ε·κ
 * relative (tests/test_threads.c derives the bound); everything computed
 * from one predictor or model afterwards is again the same bits for any
 * thread count. Shapes are another matter: OpenBLAS picks its kernels by
 * CPU and by shape, so results can change in the last bits with the CPU
 * type, or when the same rows are computed in a different batch (the first
 * rows of K(X, X) are not bitwise K(X[0:3], X)).
 */
#ifndef NTK_H
#define NTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libntk.so exports exactly what this header declares: the library is
 * compiled with -fvisibility=hidden, and every declaration from here to the
 * matching pop at the end of the header has default visibility (so a
 * function added anywhere in this header is exported without more ado;
 * tests/cli/install.sh checks both directions). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define NTK_VERSION_MAJOR 0
#define NTK_VERSION_MINOR 1
#define NTK_VERSION_PATCH 0
#define NTK_VERSION_STRING "0.1.0"

/* The version of the library actually loaded ("0.1.0"), which may differ
 * from the NTK_VERSION_STRING of the header a program was compiled with. */
const char *ntk_version(void);

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
    NTK_E_INTERNAL = -8, /* a bug: an internal invariant failed         */
    NTK_E_CANCELED = -9  /* a progress callback asked to stop           */
} ntk_status;

#define NTK_ERRMSG_MAX 512

/* The message of the last failure of a call that was handed this struct. */
typedef struct {
    ntk_status status;
    char msg[NTK_ERRMSG_MAX];
} ntk_error;

/* A short constant name for a status ("ok", "invalid argument", ...). */
const char *ntk_status_string(ntk_status s);

/* ---------------------------------------------------------------- progress
 *
 * Long computations (kernels, factorizations, training, empirical kernels,
 * model selection, the experiment) report progress through an optional
 * callback in their options: fn(ctx, stage, done, total), where stage is a
 * short name ("kernel", "eigendecomposition", "training", "width 256 (2/4):
 * training", ...; valid during the call only, copy it to keep it), and
 * done of total are work units of that stage (total 0: unknown). Each
 * option struct says what its units are (entries, steps, estimated flops,
 * points). Within a stage done never decreases and never exceeds total; a
 * stage is reported first with done = 0 and, when it completes, last with
 * done = total; total is fixed for the stage except where documented (a
 * Cholesky factorization that retries with jitter adds the retry's work). Reporting
 * never changes a result: outputs are bitwise the same with and without a
 * callback, for any thread count.
 *
 * It is called only from the thread that called the library function
 * (never from a worker thread), between pieces of work (a LAPACK call is
 * one piece), and may be called often — thousands of times a second: the
 * callback decides how often to show anything. Returning non-zero
 * cancels: the function stops at the next piece, frees what it allocated,
 * and returns NTK_E_CANCELED ("canceled by the progress callback (stage:
 * S)"); outputs the caller passed in may hold partial values, and files
 * are never written by a computation. fn == NULL (the default of every
 * options struct) means no reporting and costs nothing.
 */
typedef int (*ntk_progress_fn)(void *ctx, const char *stage, double done, double total);
typedef struct {
    ntk_progress_fn fn;
    void *ctx;
} ntk_progress;

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
    int csv_header;       /* -1 auto: the first row is a header when none of
                             its fields looks like a number (a number, or
                             text starting like one: "2 3", "1st") and one
                             is not empty; a row with any number is data,
                             never dropped. 0 none, 1 present              */
    const char *columns;  /* NULL = all; else a comma list of 1-based
                             indices, ranges "3-7", or CSV header names
                             (applies to .npy too, indices only)          */
    size_t max_rows;      /* 0 = all; else at most max_rows rows, from
                             first_row on (fewer when the file ends
                             first)                                      */
    size_t first_row;     /* the first data row to read, counted from 0 (a
                             CSV header is not a row); a file with no row
                             there is NTK_E_SHAPE "<path>: has R rows, ...".
                             IDX and C-order .npy seek past the rows before
                             it and stop after the last one, .csv parses no
                             numbers outside the range and stops after it;
                             Fortran-order .npy is read whole and cut      */
} ntk_read_opts;

ntk_read_opts ntk_read_opts_default(void);

/* Reads a matrix; the format is chosen by extension: ".npy" (NumPy format
 * 1.0/2.0/3.0; <f8 <f4 >f8 >f4 and integer dtypes i1..i8 u1..u8 either
 * endianness; C or Fortran order; 1-D or 2-D) or ".csv" (comma separated,
 * numeric). Errors name the file, and the row/column for CSV. The result
 * is not checked for NaN/Inf (see ntk_check_finite). */
ntk_status ntk_io_read(const char *path, const ntk_read_opts *opts,
                       ntk_matrix *out, ntk_error *err);

/* What a read decided besides the matrix, for notes to the user: whether a
 * CSV header row was skipped (given or detected) and what it held. */
typedef struct {
    int csv_header;        /* 1: the first row was a header and is not data */
    int csv_header_auto;   /* 1: ... decided by csv_header = -1 (auto)      */
    char csv_names[256];   /* its fields, comma separated, cut with "..."   */
} ntk_read_info;

/* ntk_io_read, and fills *info (zeroed first; may be NULL). */
ntk_status ntk_io_read_info(const char *path, const ntk_read_opts *opts, ntk_matrix *out,
                            ntk_read_info *info, ntk_error *err);

/* IDX files (MNIST, Fashion-MNIST) are read by ntk_io_read too, chosen by
 * name: "*.idx", "*-idx<N>-ubyte" or "*.idx<N>-ubyte", each optionally
 * gzip'd ("train-images-idx3-ubyte.gz"). Format: magic 00 00 <type> <ndim>,
 * ndim big-endian u32 dimensions, then the elements big-endian; types 0x08
 * u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64. The first dimension
 * is the rows, the others are flattened: N×28×28 images → N × 784, a 1-D
 * labels file → N × 1 (ndim 1). Values are not scaled (pixels stay 0..255).
 * A truncated, corrupt or mis-sized file (bad gzip data, wrong magic, data
 * shorter or longer than the dimensions say) is NTK_E_FORMAT with the path.
 * opts->columns selects columns by index as for .npy. IDX is read-only. */

/* Writes a matrix by extension (".npy" as <f8 version 1.0, C order; ".csv"
 * with %.17g). ndim == 1 writes a 1-D array (CSV: one value per line).
 * Written atomically, as a set of one file (ntk_outputs below): `path`
 * holds its old content or the complete new one, never a partial file, and
 * a killed writer leaves no temporary file behind. */
ntk_status ntk_io_write(const char *path, const double *data, size_t rows,
                        size_t cols, int ndim, ntk_error *err);

/* ---------------------------------------------------------------- output sets
 *
 * Several output files written all or nothing: each is written in full to
 * a temporary file beside its target as it is added, and only the commit
 * puts them all in place; a failed write, a failed commit or a free without
 * a commit leaves every target as it was (absent, or its old content).
 *
 *     ntk_outputs *o = NULL;
 *     if (ntk_outputs_create(&o, &err) ||
 *         ntk_outputs_write_matrix(o, "ntk.npy", K, n, n, 2, &err) ||
 *         ntk_outputs_write_matrix(o, "nngp.npy", Q, n, n, 2, &err) ||
 *         ntk_outputs_commit(o, &err))
 *         fprintf(stderr, "%s\n", err.msg);   // neither file was written
 *     ntk_outputs_free(o);
 *
 * How: on Linux each file is an anonymous O_TMPFILE in the target's
 * directory (a killed process leaves nothing behind); elsewhere a file
 * named "<name>.ntk-tmp.<pid>.<host>.<random>" that the next write of the
 * same target removes once its writer is dead. Each file is fsync()ed
 * before it gets a name, and each directory after the renames. The commit
 * renames the files one by one, restoring the earlier targets if a later
 * rename fails; only a crash during those renames (microseconds) can leave
 * a set half replaced. A replaced file keeps its mode; a new one gets 0666
 * less the umask.
 */
typedef struct ntk_outputs ntk_outputs;

ntk_status ntk_outputs_create(ntk_outputs **out, ntk_error *err);
/* ntk_io_write's matrix, staged in the set. NTK_E_INVAL for a path already
 * in the set. Any failure dooms the set: it can then only be freed. */
ntk_status ntk_outputs_write_matrix(ntk_outputs *o, const char *path, const double *data,
                                    size_t rows, size_t cols, int ndim, ntk_error *err);
/* Puts every staged file in place (see above). The set is empty after it,
 * whether it succeeded or not. */
ntk_status ntk_outputs_commit(ntk_outputs *o, ntk_error *err);
/* Discards whatever was not committed. NULL is allowed. */
void ntk_outputs_free(ntk_outputs *o);

/* ---------------------------------------------------------------- .npz archives
 *
 * An .npz is a zip archive of named members: "<name>.npy" for each array
 * (what np.savez / np.savez_compressed write and np.load reads) and, here,
 * raw members such as "arch.txt" that hold the architecture spec beside a
 * network's parameters. An ntk_npz is such an archive: built in memory, or
 * read from a file, whose large members stay in the file until asked for.
 *
 *     ntk_error err;
 *     ntk_npz *z = NULL;
 *     if (ntk_npz_create(&z, &err) ||
 *         ntk_npz_add_array(z, "dense0.W", W, d, n, 2, &err) ||
 *         ntk_npz_add_bytes(z, "arch.txt", spec, strlen(spec), &err) ||
 *         ntk_npz_write(z, "params.npz", &err))
 *         fprintf(stderr, "%s\n", err.msg);
 *     ntk_npz_free(z);
 *
 *     ntk_matrix W = {0};
 *     if (ntk_npz_read("params.npz", &z, &err) ||
 *         ntk_npz_get_array(z, "dense0.W", &W, &err)) ...
 *
 * In Python: np.load("params.npz")["dense0.W"] is the array and
 * np.load("params.npz")["arch.txt"] the spec as bytes.
 */
typedef struct ntk_npz ntk_npz;

/* An empty archive. *out is NULL on failure. */
ntk_status ntk_npz_create(ntk_npz **out, ntk_error *err);

/* Adds the float64 array `data` (rows x cols, row-major; ndim 1 means a 1-D
 * array of `rows` elements and cols == 1) as the member "<name>.npy",
 * encoded exactly as np.save would (.npy 1.0, '<f8', C order). The data is
 * copied. NTK_E_INVAL for an empty name, a bad ndim/cols, or a member of
 * that name already in the archive. */
ntk_status ntk_npz_add_array(ntk_npz *z, const char *name, const double *data, size_t rows,
                             size_t cols, int ndim, ntk_error *err);

/* ntk_npz_add_array without the copy: the archive keeps the pointer, and
 * ntk_npz_write streams the array from it (for arrays of gigabytes: a
 * model's N × N eigenvectors). `data` must stay alive and unchanged until
 * the archive is written or freed. Same bytes in the file, same errors. */
ntk_status ntk_npz_add_array_ref(ntk_npz *z, const char *name, const double *data, size_t rows,
                                 size_t cols, int ndim, ntk_error *err);

/* Adds the member `member` (the full name, e.g. "arch.txt") holding the n
 * bytes at `data`, copied and stored as they are. Same errors as above. */
ntk_status ntk_npz_add_bytes(ntk_npz *z, const char *member, const void *data, size_t n,
                             ntk_error *err);

/* Writes the archive to `path` as np.savez does (zip, members stored
 * uncompressed in the order they were added, each with its CRC-32; the
 * bytes are np.savez's own for the same arrays, at any size). Members and
 * archives past 2 GiB, and more than 65535 members, get zip64 records
 * exactly where Python's zipfile puts them (np.load reads them); there is
 * no size limit. Written atomically, like ntk_io_write: a failure never
 * leaves a partial file at `path`. An archive that was read can be written
 * (with members added, say): its members left in the file are copied from
 * it, checked against their CRC-32 on the way. */
ntk_status ntk_npz_write(const ntk_npz *z, const char *path, ntk_error *err);
/* The same, staged in an output set (see "output sets" above). */
ntk_status ntk_outputs_write_npz(ntk_outputs *o, const ntk_npz *z, const char *path, ntk_error *err);

/* Opens an archive: members stored or deflate-compressed (np.savez and
 * np.savez_compressed), zip64 fields accepted. Member names are only names:
 * never used as paths. Its structure is checked here: the central directory
 * and every member's local header, names, sizes and offsets; a malformed
 * archive is NTK_E_FORMAT, with the path (and member) in the message; an
 * unreadable file NTK_E_IO. *out is NULL on failure.
 *
 * Reading is lazy past 1 MiB: members of up to 1 MiB (up to 64 MiB of them
 * in all, in archive order) are read here, inflated and checked against
 * their CRC-32; larger ones stay in the file and are read, and checked,
 * each time ntk_npz_get_array or ntk_npz_get_bytes asks for them, so that
 * damage there (a CRC-32 mismatch, bad deflate data) is reported then, as
 * NTK_E_FORMAT naming the file and the member. A stored float64 array in
 * C order (what np.savez and ntk write) is read straight into the matrix
 * ntk_npz_get_array returns, the CRC-32 computed on the way: loading a
 * model's N × N arrays takes their size in memory, not twice that.
 *
 * While such members remain, the archive holds the file open (one
 * descriptor, until ntk_npz_free) and reads only from it, with pread: the
 * gets of one archive may run in several threads. A file renamed over the
 * path after the open (the way ntk writes every output) is not seen: the
 * archive keeps reading the file it opened. A file rewritten in place is:
 * a later get of a member left in it fails with NTK_E_IO "the file changed
 * after the archive was opened" when the file's size or modification time
 * differs, and the member's CRC-32 catches a change of its bytes. */
ntk_status ntk_npz_read(const char *path, ntk_npz **out, ntk_error *err);

/* The number of members, and the full name of member i (archive order;
 * NULL when i is out of range). */
size_t ntk_npz_count(const ntk_npz *z);
const char *ntk_npz_member_name(const ntk_npz *z, size_t i);

/* Parses the member "<name>.npy" (or `name` itself when it ends in ".npy")
 * with the .npy reader of ntk_io_read: every dtype, version and order it
 * takes. Absent: NTK_E_FORMAT "<path>: no array 'name' in the archive
 * (arrays: ...)". A member left in the file (see ntk_npz_read) is read
 * now, with its errors. out->data is NULL on failure; free with
 * ntk_matrix_free. Members are found by a hash of their names: looking up
 * each of 66 000 members takes milliseconds, as does adding them. */
ntk_status ntk_npz_get_array(const ntk_npz *z, const char *name, ntk_matrix *out,
                             ntk_error *err);

/* A malloc'd copy of the bytes of member `member` (full name), with a NUL
 * after the last byte for convenience; *n is the byte count (without the
 * NUL). The caller frees *data. Absent: NTK_E_FORMAT. A member left in the
 * file is read (and checked) now. */
ntk_status ntk_npz_get_bytes(const ntk_npz *z, const char *member, char **data, size_t *n,
                             ntk_error *err);

/* Frees the archive and closes its file, if it holds one. */
void ntk_npz_free(ntk_npz *z);

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
/* A copy in which every dense layer but the last has the given width (the
 * hidden widths of a width sweep; the output width k is kept). */
ntk_status ntk_arch_set_hidden_width(const ntk_arch *arch, size_t width, ntk_arch **out, ntk_error *err);
/* A copy in which every dense layer (the readout too) has the given w_std
 * and b_std, both finite and >= 0; b_std = 0 means no bias (the spec
 * written by ntk_arch_format then has no b_std, as one that omits it). NaN
 * keeps each layer's own value (w_std; or bias and b_std). NTK_E_INVAL for
 * a bad value. E.g. the grid of `ntk tune --w-std --b-std`. */
ntk_status ntk_arch_set_std(const ntk_arch *arch, double w_std, double b_std, ntk_arch **out, ntk_error *err);

/* ---------------------------------------------------------------- kernels */

typedef enum {
    NTK_QUAD_AUTO = 0,    /* closed form where one exists, else quadrature */
    NTK_QUAD_NUMERIC = 1  /* quadrature for every activation (for tests)  */
} ntk_quad_mode;

typedef struct {
    ntk_param param;      /* default parameterization for dense layers    */
    ntk_quad_mode quad;   /* closed forms or quadrature                   */
    int quad_degree;      /* 0 = default (32); else angular nodes per
                             piece of the quadrature, 2..96              */
    int threads;          /* 0 = the caller's OpenMP setting (see Threads) */
    int diag;             /* 1: only K(x_i,x_i); outputs have N1 entries  */
    ntk_progress progress; /* stage "kernel": done/total = entries computed
                              (X2 omitted: n1(n1+1)/2, the upper triangle) */
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

/* ---------------------------------------------------------------- finite networks
 *
 * The same spec builds a finite network: every dense(width) is real, the
 * last dense layer's width is the number of outputs k. Parameters live in
 * one block θ: for each dense layer in order, W (n_out × n_in, row-major)
 * then b (n_out) if the layer has a bias. Forward, per dense layer:
 *   'ntk':      z = (w_std/√n_in)·W h + b_std·b,  W, b ~ N(0,1)
 *   'standard': z = W h + b,  W ~ N(0, w_std²/n_in), b ~ N(0, b_std²)
 * (neural-tangents' stax.Dense). Gradients are with respect to θ as stored.
 */
typedef struct ntk_net ntk_net;

/* A dense layer's place in θ and its multipliers: z = w_mult·W h + b_mult·b. */
typedef struct {
    size_t n_in, n_out;
    size_t w_offset;   /* offset of W in θ                          */
    size_t b_offset;   /* offset of b in θ; valid only if has_bias  */
    int has_bias;
    double w_mult, b_mult;
    ntk_param param;
    size_t layer;      /* index of the layer in the architecture    */
} ntk_dense_info;

/* Builds a network for inputs of dimension d_in; θ is zero until
 * ntk_net_init or ntk_net_set_params. The arch is copied. */
ntk_status ntk_net_create(const ntk_arch *arch, size_t d_in, ntk_param param, ntk_net **out,
                          ntk_error *err);
void ntk_net_free(ntk_net *net);
/* A copy with the same architecture and parameters. */
ntk_status ntk_net_clone(const ntk_net *net, ntk_net **out, ntk_error *err);

size_t ntk_net_n_params(const ntk_net *net);
size_t ntk_net_n_inputs(const ntk_net *net);   /* d_in */
size_t ntk_net_n_outputs(const ntk_net *net);  /* k    */
size_t ntk_net_n_dense(const ntk_net *net);
ntk_param ntk_net_param(const ntk_net *net);
const ntk_arch *ntk_net_arch(const ntk_net *net);
const ntk_dense_info *ntk_net_dense(const ntk_net *net, size_t l);
double *ntk_net_params(ntk_net *net);              /* θ, n_params doubles */
const double *ntk_net_params_const(const ntk_net *net);

/* θ0 from a seed, the same on every machine and for every thread count:
 * parameter i of the block gets σ_i·z_i, σ_i = 1 ('ntk') or the layer's
 * w_std/√n_in, b_std ('standard'), with z_i a standard normal made by
 * Box–Muller from two 53-bit uniforms u = (SplitMix64(key + (2i+j+1)·φ) >> 11)
 * (j = 0, 1; φ = 0x9E3779B97F4A7C15; key = SplitMix64 of the seed):
 * z_i = √(−2 ln(1 − u0))·cos(2π u1). */
ntk_status ntk_net_init(ntk_net *net, uint64_t seed, ntk_error *err);

/* Outputs f(X) for the n rows of x (n × d_in): out is n × k. threads: at
 * most that many (0 = the caller's OpenMP setting; see Threads above). */
ntk_status ntk_net_apply(const ntk_net *net, const double *x, size_t n, double *out, int threads,
                         ntk_error *err);

/* A batch workspace: the activations of the last forward pass, kept for the
 * backward pass; allocated once for batches of up to max_batch rows. */
typedef struct ntk_net_work ntk_net_work;
ntk_status ntk_net_work_create(const ntk_net *net, size_t max_batch, ntk_net_work **out, ntk_error *err);
void ntk_net_work_free(ntk_net_work *w);

/* Forward pass of n ≤ max_batch rows (x is n × d_in and must stay valid
 * until the matching backward pass); the outputs (n × k) are copied to out
 * unless it is NULL. Inputs are not checked for NaN (ntk_net_apply does). */
ntk_status ntk_net_forward(const ntk_net *net, ntk_net_work *w, const double *x, size_t n, double *out,
                           ntk_error *err);
/* Backward pass for the batch last forwarded: given G = ∂L/∂f (n × k),
 * writes ∂L/∂θ = Σ_rows G·∂f/∂θ into grad (n_params, overwritten). */
ntk_status ntk_net_backward(const ntk_net *net, ntk_net_work *w, const double *G, double *grad,
                            ntk_error *err);

/* ---------------------------------------------------------------- feature map and empirical kernels
 *
 * ϕ(x) = ∂f(x)/∂θ, one row per (point, output): the Jacobian J is
 * (n·k) × n_params, row i·k + a = ∂f_a(x_i)/∂θ. Empirical NTK
 * Θ̂(x,x') = ϕ(x)·ϕ(x'): "full" is (n1·k) × (n2·k) with entry
 * [(i,a),(j,b)] = ∂f_a(x_i)·∂f_b(x'_j); "traced" is n1 × n2,
 * (1/k)·Σ_a Θ̂_aa (neural-tangents' default trace_axes). Empirical NNGP:
 * f(x)·f(x')/k (n1 × n2). x2 == NULL means X2 = X1.
 */

/* The Jacobian; refuses (NTK_E_NOMEM, with the size in the message) when
 * it would exceed max_bytes (0 = no limit). */
ntk_status ntk_net_jacobian(const ntk_net *net, const double *x, size_t n, double *J, size_t max_bytes,
                            ntk_error *err);
/* Bytes the Jacobian of n points needs (SIZE_MAX on overflow). */
size_t ntk_net_jacobian_bytes(const ntk_net *net, size_t n);

/* Empirical NTK by the structured form (docs/math.md, "The structured
 * empirical NTK": per-layer Gram products of backpropagated δ's and layer
 * inputs; never forms J);
 * memory O(n1·n2·k² + n·Σ widths). out: n1×n2 (traced) or n1k×n2k (full). */
ntk_status ntk_empirical_ntk(const ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2,
                             int full, double *out, ntk_error *err);
/* The plain reference twin: forms J1, J2 and multiplies. */
ntk_status ntk_empirical_ntk_ref(const ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2,
                                 int full, double *out, ntk_error *err);
/* Empirical NNGP f(x)·f(x')/k, n1 × n2. */
ntk_status ntk_empirical_nngp(const ntk_net *net, const double *x1, size_t n1, const double *x2, size_t n2,
                              double *out, ntk_error *err);
/* Monte Carlo kernels: the average of the empirical NTK / NNGP over
 * `samples` networks initialised with seeds seed, seed+1, ...; either
 * output may be NULL. */
ntk_status ntk_mc_kernels(const ntk_arch *arch, ntk_param param, size_t d, uint64_t seed, size_t samples,
                          const double *x1, size_t n1, const double *x2, size_t n2, int full, double *nngp,
                          double *ntk, ntk_error *err);

/* The same with options (progress among them): the calls above are these
 * with the default options (and their arguments put into them). */
typedef struct {
    int full;              /* NTK: 1 = per output pair, (n1·k) × (n2·k); 0 = traced (default) */
    ntk_param param;       /* ntk_mc_kernels_ex: parameterization of the networks built */
    uint64_t seed;         /* ntk_mc_kernels_ex: the networks' seeds are seed, seed+1, ... */
    size_t samples;        /* ntk_mc_kernels_ex: networks averaged (default 1)  */
    ntk_progress progress; /* stage "empirical NTK", "empirical NNGP" or "Monte Carlo kernels":
                              done/total = estimated flops (forward/backward passes and Gram
                              blocks); "Jacobian": rows of J                         */
} ntk_empirical_opts;

ntk_empirical_opts ntk_empirical_opts_default(void);
ntk_status ntk_empirical_ntk_ex(const ntk_net *net, const ntk_empirical_opts *opts, const double *x1, size_t n1,
                                const double *x2, size_t n2, double *out, ntk_error *err);
ntk_status ntk_empirical_nngp_ex(const ntk_net *net, const ntk_empirical_opts *opts, const double *x1, size_t n1,
                                 const double *x2, size_t n2, double *out, ntk_error *err);
ntk_status ntk_mc_kernels_ex(const ntk_arch *arch, size_t d, const ntk_empirical_opts *opts, const double *x1,
                             size_t n1, const double *x2, size_t n2, double *nngp, double *ntk, ntk_error *err);
ntk_status ntk_net_jacobian_ex(const ntk_net *net, const ntk_empirical_opts *opts, const double *x, size_t n,
                               double *J, size_t max_bytes, ntk_error *err);
/* Bytes the empirical kernels allocate while they run, besides their
 * outputs, for n1 and n2 points (n2 = 0: X2 = X1): the δ's and layer
 * inputs of every point (want_ntk), the outputs (want_nngp), per-thread
 * workspaces (at the current OpenMP thread count) and, for opts->samples > 1,
 * the Monte Carlo sums; ntk_mc_kernels_ex with both kernels is one call.
 * SIZE_MAX when it overflows. */
size_t ntk_empirical_bytes(const ntk_net *net, const ntk_empirical_opts *opts, size_t n1, size_t n2, int want_ntk,
                           int want_nngp);

/* ---------------------------------------------------------------- linearized networks
 *
 * f_lin(x; θ) = f(x; θ0) + ϕ0(x)·(θ − θ0), computed with a forward-mode JVP
 * at θ0 (no Jacobian stored); its gradient is the VJP at θ0.
 */
typedef struct ntk_linear ntk_linear;
/* Linearizes `net` at its current parameters θ0 (copied); θ starts at θ0. */
ntk_status ntk_linear_create(const ntk_net *net, ntk_linear **out, ntk_error *err);
void ntk_linear_free(ntk_linear *lin);
double *ntk_linear_params(ntk_linear *lin);            /* θ (n_params) */
const ntk_net *ntk_linear_base(const ntk_linear *lin); /* the network at θ0 */
/* f_lin on n rows: out n × k. */
ntk_status ntk_linear_apply(const ntk_linear *lin, const double *x, size_t n, double *out, ntk_error *err);

/* ---------------------------------------------------------------- training
 *
 * Loss L = (1/2n)·Σ (f − y)², n = number of target entries (rows·k) of the
 * (mini)batch. Full-batch gradient descent (batch = 0 or ≥ rows) or
 * minibatch SGD (rows shuffled each epoch by a seeded permutation), with
 * optional heavy-ball momentum: v ← μ·v + ∇L, θ ← θ − η·v.
 */
typedef struct {
    double lr;              /* η > 0                                        */
    size_t steps;           /* number of updates                             */
    size_t batch;           /* 0 = full batch                                */
    double momentum;        /* μ in [0, 1)                                   */
    uint64_t seed;          /* minibatch order                               */
    int threads;            /* 0 = the caller's OpenMP setting (Threads)     */
    /* Called after step s (s = 0 before the first update, then every
     * `log_every` steps and after the last) with the full-training-set
     * loss; return non-zero to stop. May be NULL. */
    int (*on_log)(void *ctx, size_t step, double loss);
    void *log_ctx;
    size_t log_every;       /* 0 = only the first and last step              */
    ntk_progress progress;  /* stage "training": done/total = steps          */
} ntk_train_opts;

ntk_train_opts ntk_train_opts_default(void);

/* Trains the network (θ updated in place) on x (n × d_in), y (n × k).
 * A NaN/Inf loss stops with NTK_E_NUMERIC, naming the step and suggesting a
 * smaller learning rate. *final_loss (if not NULL) gets the last loss. */
ntk_status ntk_train(ntk_net *net, const ntk_train_opts *opts, const double *x, const double *y, size_t n,
                     double *final_loss, ntk_error *err);
/* The same for the linearized model. */
ntk_status ntk_train_linear(ntk_linear *lin, const ntk_train_opts *opts, const double *x, const double *y,
                            size_t n, double *final_loss, ntk_error *err);
/* Bytes ntk_train (linearized = 0) or ntk_linear_create + ntk_train_linear
 * (1) allocate for n training rows: the batch workspace, gradient and
 * velocity, the minibatch copies; SIZE_MAX on overflow. A canceled run
 * (NTK_E_CANCELED from opts->progress) keeps the updates made. */
size_t ntk_train_bytes(const ntk_net *net, const ntk_train_opts *opts, size_t n, int linearized);

/* ---------------------------------------------------------------- saving parameters
 *
 * A .npz archive NumPy reads: "arch.txt" (the canonical spec), "meta.txt"
 * (key = value lines: format, ntk version, parameterization, d_in, k,
 * n_params, seed if known), and per dense layer l "dense<l>.W" (n_out × n_in)
 * and "dense<l>.b" (n_out) as float64 arrays. Written atomically.
 */
ntk_status ntk_net_save(const ntk_net *net, const char *path, ntk_error *err);
ntk_status ntk_net_load(const char *path, ntk_net **out, ntk_error *err);

/* ---------------------------------------------------------------- predictions
 *
 * Gradient descent on MSE (L = (1/2n)·Σ(f − y)², n = N·k) with a fixed
 * kernel Θ (docs/math.md, "Training dynamics"), in neural-tangents'
 * `predict.gradient_descent_mse` conventions. With Θ = V·diag(λ)·Vᵀ (one
 * eigendecomposition, cached) and r = y − f0(X):
 *   training points: u(t) = f0 + V·diag(1 − e(λ))·Vᵀ·r
 *   test points:     f_t(x*) = f0(x*) + Θ(x*,X)·V·diag((1 − e(λ))/λ)·Vᵀ·r
 * with e(λ) = exp(−η·t·λ/n) (gradient flow, t in units of steps; expm1 for
 * small λt) or (1 − η·λ/n)^t (t discrete steps). t = ∞: kernel regression
 * Θ(x*,X)·Θ⁻¹·r, by the eigendecomposition when κ(Θ) < 1/(20·N^2.5·ε)
 * (Cholesky is then certain to succeed), else by Cholesky, which decides
 * whether t = ∞ is available. Ridge: Θ + r·(tr Θ/N)·I (relative) or + r·I.
 */
typedef enum { NTK_RIDGE_RELATIVE = 0, NTK_RIDGE_ABSOLUTE = 1 } ntk_ridge_mode;

typedef struct {
    double lr;                 /* η > 0 (default 1)                               */
    double ridge;              /* ≥ 0 (default 0)                                 */
    ntk_ridge_mode ridge_mode; /* default relative                                */
    int discrete;              /* 1: t counts GD steps; 0: gradient flow (default) */
    int auto_jitter;           /* 1: if Θ is not positive definite enough for a
                                  Cholesky factorization, add the smallest jitter
                                  10^j·ε·tr(Θ)/N (reported in the info)            */
} ntk_predict_opts;

ntk_predict_opts ntk_predict_opts_default(void);

/* What the factorization found, for notices and warnings. */
typedef struct {
    double lambda_min, lambda_max;  /* of the regularized kernel, before clipping   */
    size_t n_clipped;               /* tiny negative eigenvalues set to 0           */
    double ridge_added;             /* absolute ridge actually added (incl. jitter) */
    double jitter_added;            /* automatic jitter (0 if none)                 */
    int cholesky_ok;                /* t = ∞ available                              */
} ntk_predict_info;

typedef struct ntk_predictor ntk_predictor;

/* Factorizes the training kernel kxx (N × N, symmetric: the upper triangle
 * is read) for targets y (N × k) and initial outputs f0 (N × k; NULL = 0),
 * on the caller's OpenMP thread count: the factorization's last bits depend
 * on that count (Threads, at the top); ntk_predict and ntk_predict_cov on
 * one predictor do not.
 * A kernel with an eigenvalue below −N·ε·λ_max·100 is refused as not PSD
 * (NTK_E_NUMERIC, with the eigenvalue); tinier negative ones are clipped
 * to 0 and counted. Everything is copied. */
ntk_status ntk_predictor_create(const double *kxx, size_t N, const double *y, size_t k, const double *f0,
                                const ntk_predict_opts *opts, ntk_predictor **out, ntk_error *err);
void ntk_predictor_free(ntk_predictor *p);
void ntk_predictor_info(const ntk_predictor *p, ntk_predict_info *info);
size_t ntk_predictor_n_train(const ntk_predictor *p);
size_t ntk_predictor_n_outputs(const ntk_predictor *p);

/* Predictions at n_times times (INFINITY allowed; t ≥ 0). kxt: the
 * test × train kernel (M × N, same kind as kxx, no ridge), or NULL for the
 * training points themselves (then M must be N, else NTK_E_SHAPE). f0t:
 * M × k initial outputs (NULL = 0; ignored for the training points, which
 * use the f0 given at creation).
 * out: n_times × M × k. The product Θ(x*,X)·V is formed once per call, so
 * each further time costs O(M·N·k). */
ntk_status ntk_predict(const ntk_predictor *p, const double *kxt, size_t M, const double *f0t,
                       const double *times, size_t n_times, double *out, ntk_error *err);

/* Infinite-ensemble covariance at time t of networks whose outputs at
 * initialization are GP(0, K) (K = the NNGP) and that train with the
 * predictor's kernel (Θ for NTK training, K itself for NNGP / last-layer
 * training): with T = kxt·V·diag((1 − e(λ))/λ)·Vᵀ,
 *   cov = K** − T·K(X,x*) − K(x*,X)·Tᵀ + T·K(X,X)·Tᵀ,
 * K(X,X) regularized like the predictor's kernel. nngp_xx: N × N,
 * nngp_xt: M × N, nngp_tt: M × M, or M values with diag_only (then cov has
 * M entries, the predictive variances). t = INFINITY: the GP posterior. */
ntk_status ntk_predict_cov(const ntk_predictor *p, const double *kxt, size_t M, const double *nngp_xx,
                           const double *nngp_xt, const double *nngp_tt, int diag_only, double t, double *cov,
                           ntk_error *err);

/* ---------------------------------------------------------------- kernel models (fit once, predict many)
 *
 * A model holds what predictions at new points need, so that predicting
 * costs only the test × train kernel and a product: the training data X
 * (N × d, after the input scale) and Y (N × k), the factorization of the
 * regularized training kernel K_reg = K + ridge (eigenvalues λ, eigenvectors
 * V, c = Vᵀ·Y) and α = K_reg⁻¹·Y (t = ∞; as for predictors above), and for variances of
 * an NTK model the train NNGP K(X,X). Predictions are the infinite-ensemble
 * mean (f0 = 0) of the formulas under "predictions" above:
 *   f_t(x*) = K(x*,X)·V·diag(g_t(λ))·c,  g_t(λ) = (1 − e_t(λ))/λ;
 *   f_∞(x*) = K(x*,X)·α;
 * and, with variances, the diagonal of ntk_predict_cov's covariance (for an
 * NNGP model at t = ∞: the GP posterior variance). The kernel is the NTK
 * (the ensemble of networks trained by gradient descent / flow) or the
 * NNGP (Bayesian inference, or training only the last layer).
 *
 *     ntk_model_opts o = ntk_model_opts_default();    // NTK, η = 1, no ridge
 *     ntk_model *m = NULL;
 *     double t = INFINITY;
 *     if (ntk_model_fit(arch, &o, x, N, d, y, k, &m, &err) ||
 *         ntk_model_save(m, "model.npz", &err)) ...
 *     ...
 *     if (ntk_model_load("model.npz", &m, &err) ||
 *         ntk_model_predict(m, xt, M, d, &t, 1, mean, NULL, &err)) ...
 *     ntk_model_free(m);
 *
 * The file is an .npz archive NumPy reads: "arch.txt" (canonical spec),
 * "meta.txt" (key = value lines: format = ntk-model 1, ntk_version, kernel,
 * param, lr, ridge, ridge_mode, discrete, auto_jitter, input_scale, d, N, k,
 * eigen, cholesky, jitter, ridge_added, lambda_min, lambda_max, n_clipped,
 * checksum, fit_checksum) and the float64 arrays "x" (N, d), "y" (N, k),
 * "eigenvalues" (N,), "eigenvectors" (N, N; column j is eigenvector j),
 * "c" (N, k), "alpha" (N, k) when the Cholesky factorization succeeded, and
 * "nngp_xx" (N, N) for an NTK model with its eigendecomposition. checksum
 * is FNV-1a 64 (hex) over the little-endian bytes of x then y; fit_checksum
 * covers the other arrays and the meta values. Loading recomputes both and
 * refuses a file whose data or fit was changed.
 */
typedef enum { NTK_MODEL_NTK = 0, NTK_MODEL_NNGP = 1 } ntk_model_kernel;

typedef struct {
    ntk_model_kernel kernel;   /* NTK (default) or NNGP                          */
    ntk_param param;           /* default parameterization of dense layers       */
    double lr;                 /* η > 0 (default 1): the time scale of g_t        */
    double ridge;              /* ≥ 0 (default 0)                                 */
    ntk_ridge_mode ridge_mode; /* relative (default): + ridge·tr(K)/N; absolute   */
    int discrete;              /* 1: t counts GD steps; 0: gradient flow          */
    int auto_jitter;           /* 1: add the smallest jitter that makes the
                                  Cholesky factorization succeed (as
                                  ntk_predict_opts.auto_jitter)                   */
    int inf_only;              /* 1: Cholesky only, no eigendecomposition (N³/3
                                  instead of ~4N³ flops, no N×N arrays stored):
                                  only t = ∞ means; no finite times, no variances */
    double input_scale;        /* > 0 (default 1): every input (training and
                                  test) is multiplied by it before the kernel,
                                  e.g. 1/255 for 8-bit pixels                     */
    int threads;               /* threads of the fit, kernel and factorization
                                  (0 = the caller's OpenMP setting; not saved).
                                  The factorization is the same bits for the
                                  same count and may differ in the last bits
                                  between counts (Threads, at the top);
                                  predictions from a given model do not depend
                                  on any thread count                           */
    ntk_progress progress;     /* ntk_model_fit: stage "kernel" (entries, as
                                  ntk_kernel), then "eigendecomposition" (~4N³
                                  estimated flops) or, with inf_only, "Cholesky"
                                  (N³/3 flops an attempt; a jitter retry adds one).
                                  Not kept in the model: predictions take
                                  ntk_model_predict_opts.progress             */
} ntk_model_opts;

ntk_model_opts ntk_model_opts_default(void);

typedef struct ntk_model ntk_model;

typedef struct {
    size_t n_train, n_inputs, n_outputs; /* N, d, k                                     */
    ntk_model_opts opts;                 /* as fitted (threads: the current setting)    */
    int has_eigen;                       /* finite times and variances available       */
    ntk_predict_info factor;             /* λ_min/λ_max (NaN without the eigen-
                                            decomposition), clipped, ridge, jitter,
                                            cholesky_ok (t = ∞ available)               */
    double kernel_seconds;               /* time to compute the training kernel(s) and */
    double factor_seconds;               /* to factorize (both 0 for a loaded model)   */
    uint64_t checksum;                   /* FNV-1a 64 of x and y                       */
    int has_variances;                   /* variances available: the eigendecomposition
                                            and, for an NTK model, the train NNGP       */
    int kernel_given;                    /* fit by ntk_model_fit_kernel                */
    int has_arch;                        /* test kernels can be computed from x*; else
                                            predictions need them given (kxt)          */
    uint64_t kernel_checksum;            /* kernel_given: FNV-1a 64 of the given K     */
    uint64_t nngp_checksum;              /* and of the given train NNGP (0: none)      */
} ntk_model_info;

/* Computes the training kernel of `arch` on x (N × d, before input_scale)
 * and factorizes it for targets y (N × k). x and y are checked for NaN/Inf
 * ("training inputs" / "targets" with row and column). A kernel with an
 * eigenvalue below −100·N·ε·λ_max is refused as not positive semidefinite
 * (NTK_E_NUMERIC naming the smallest eigenvalue); with inf_only, a
 * failed Cholesky factorization is refused too (add a ridge or jitter).
 * Without inf_only a failed Cholesky only makes t = ∞ unavailable
 * (info.factor.cholesky_ok = 0). Everything is copied. */
ntk_status ntk_model_fit(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N, size_t d,
                         const double *y, size_t k, ntk_model **out, ntk_error *err);
/* Writes the .npz described above, atomically (ntk_npz_write). */
ntk_status ntk_model_save(const ntk_model *m, const char *path, ntk_error *err);
/* Reads and checks a model: format, meta values, spec, every array's
 * shape, and both checksums ("<path>: the training data does not match its
 * checksum (the file was modified)"). NTK_E_FORMAT for a bad file, NTK_E_IO
 * for an unreadable one. */
ntk_status ntk_model_load(const char *path, ntk_model **out, ntk_error *err);
void ntk_model_free(ntk_model *m);
void ntk_model_get_info(const ntk_model *m, ntk_model_info *info);
const ntk_arch *ntk_model_arch(const ntk_model *m);
/* Threads of later predictions (0 = the caller's OpenMP setting); the
 * predictions are the same bits for any count. */
void ntk_model_set_threads(ntk_model *m, int threads);
/* Size estimates, to check before the work (SIZE_MAX on overflow):
 * the peak memory of ntk_model_fit and of ntk_model_save of its model, for
 * N points of d inputs and k targets, besides the caller's x and y: with
 * the eigendecomposition about 5·N²·8 bytes for an NTK model (kernel, train
 * NNGP, a copy for Cholesky, dsyevd's 2N² workspace), 4·N²·8 for an NNGP
 * model, N²·8 with inf_only; */
size_t ntk_model_fit_bytes(const ntk_model_opts *opts, size_t N, size_t d, size_t k);
/* the size of the saved file (an upper bound); */
size_t ntk_model_file_bytes(const ntk_model_opts *opts, size_t N, size_t d, size_t k);
/* the working memory of ntk_model_predict for M points and n_times times
 * (var: variances wanted), besides the model and the outputs. */
size_t ntk_model_predict_bytes(const ntk_model *m, size_t M, size_t n_times, int var);
/* Replaces the input scale applied to test points (> 0; the training
 * points keep the one they were fitted with). */
ntk_status ntk_model_set_input_scale(ntk_model *m, double scale, ntk_error *err);

/* The infinite-ensemble mean at n_times times (t ≥ 0; INFINITY needs the
 * Cholesky factorization, finite times the eigendecomposition; discrete
 * models need whole steps) for the M test points xt (M × d, d must be the
 * model's; before input_scale). mean: n_times × M × k, time-major (entry
 * (ti·M + i)·k + a). var (NULL = not wanted): n_times × M predictive
 * variances (the diagonal of ntk_predict_cov with K(x*,x*), K(x*,X) and the
 * stored K(X,X)); needs the eigendecomposition. Test points are processed
 * in blocks, so memory stays O(block·N) whatever M is. */
ntk_status ntk_model_predict(const ntk_model *m, const double *xt, size_t M, size_t d, const double *times,
                             size_t n_times, double *mean, double *var, ntk_error *err);

/* ---------------------------------------------------------------- kernel models from given kernels; one network's predictions
 *
 * Kernel reuse: a model can be fit from its training kernel itself (made
 * once by ntk_kernel / `ntk kernel`, an empirical NTK, or read from a file)
 * and predict from test kernels given the same way, so that sweeps over the
 * ridge, the learning rate or the times never recompute a kernel. The
 * factorization and the predictions run the code of ntk_model_fit and
 * ntk_model_predict: from the kernels those compute (the same ntk_kernel
 * calls: X2 = NULL for K(X,X); the test rows against the training rows for
 * K(x*,X)), the model and its predictions are the same to the last bit.
 *
 * A given kernel is checked before it is used: finite, a non-negative
 * diagonal, and symmetric to |K_ij − K_ji| ≤ 1e-6·max(√(K_ii·K_jj),
 * ε·max K_ii) (rounding leaves a float64 kernel symmetric to ~1e-13, a
 * float32 one to ~1e-7; a matrix that is not a kernel, or a test × train
 * block, is off by O(1)); the upper triangle is used. With an
 * architecture, the given kernel must be its infinite-width kernel: its
 * diagonal and first row are compared with ntk_kernel's on the scaled
 * inputs, to 1e-5·√(K_ii·K_jj) (kernels computed in blocks of other shapes
 * differ by rounding, amplified near duplicate points where arccos is
 * steep: up to 2.3e-8 measured at d = 784 and 8 layers; another network,
 * kernel kind, parameterization, input scale or row order differs by
 * O(1)). For any other kernel (an empirical NTK) pass arch = NULL: the
 * model then predicts only from given test kernels. meta.txt records the
 * source ("format = ntk-model 2",
 * kernel_source = given, kernel_name, kernel_checksum (FNV-1a 64 of the
 * given N × N doubles, as the data checksum), nngp_name, nngp_checksum
 * (or none), arch = 1 or 0); without the train NNGP an NTK model has no
 * variances (finite times and t = ∞ means work).
 */
typedef struct {
    const double *kxx;      /* N × N: the model's kernel (opts->kernel: NTK or
                               NNGP) between the training points; required  */
    const double *nngp_xx;  /* N × N train NNGP, for variances of an NTK model
                               (NULL: none; ignored for an NNGP model)       */
    const char *kxx_name;   /* where they came from (file names), for messages */
    const char *nngp_name;  /* and meta.txt; NULL: "training kernel", "train NNGP" */
} ntk_model_kernels;

/* ntk_model_fit from a given kernel: x (N × d, before input_scale) and y
 * (N × k) as there; arch may be NULL (see above). The kernels are copied. */
ntk_status ntk_model_fit_kernel(const ntk_arch *arch, const ntk_model_opts *opts, const double *x, size_t N,
                                size_t d, const double *y, size_t k, const ntk_model_kernels *kernels,
                                ntk_model **out, ntk_error *err);

/* Predictions of one particular finite network (neural-tangents'
 * gradient_descent_mse with fx_train_0 / fx_test_0): with f0 its outputs
 * at initialization,
 *   f_t(x*) = f0(x*) + K(x*,X)·V·diag(g_t(λ))·Vᵀ·(Y − f0(X)),
 *   f_∞(x*) = f0(x*) + K(x*,X)·(α − V·diag(1/λ)·Vᵀ·f0(X)),
 * α = K_reg⁻¹·Y the model's own (by Cholesky or the eigendecomposition, as
 * fitted). f0(X) at t = ∞ thus needs the eigendecomposition (not inf_only)
 * and every λ > 0. With the network's own empirical NTK as the kernel
 * (NULL arch, discrete times, its learning rate), this is the linearized
 * network trained by gradient descent: the wide network itself to
 * O(width^-1/2). Variances are those of the infinite ensemble and are
 * refused with f0. */
typedef struct {
    /* test kernels computed elsewhere (NULL: from the model's arch on xt) */
    const double *kxt;      /* M × N: the model's kernel, test × train       */
    const double *nngp_xt;  /* M × N test × train NNGP: variances, NTK model */
    const double *nngp_tt;  /* M: the NNGP K(x*,x*) of each test point: variances */
    /* one network's initial outputs (NULL = 0: the ensemble mean) */
    const double *f0_train; /* N × k, at the model's training points         */
    const double *f0_test;  /* M × k                                          */
    ntk_progress progress;  /* stage "prediction": done/total = test rows    */
} ntk_model_predict_opts;

ntk_model_predict_opts ntk_model_predict_opts_default(void);

/* ntk_model_predict with the options above (NULL: the defaults, which make
 * it ntk_model_predict). xt may be NULL when kxt is given (then d is not
 * checked); when both are given and the model has an arch, the first row
 * of each given test kernel is checked against ntk_kernel's as in the fit.
 * Given test kernels must all be there for what is asked: kxt for means;
 * with var, nngp_tt and (NTK model) nngp_xt; a missing one is NTK_E_INVAL
 * naming it. */
ntk_status ntk_model_predict_with(const ntk_model *m, const ntk_model_predict_opts *opts, const double *xt,
                                  size_t M, size_t d, const double *times, size_t n_times, double *mean,
                                  double *var, ntk_error *err);
/* The model's training inputs (N × d, after input_scale): where f0(X) is
 * to be evaluated. */
const double *ntk_model_train_inputs(const ntk_model *m);

/* ---------------------------------------------------------------- model selection (ridge, kernel hyperparameters)
 *
 * Kernel ridge regression with G = K + ρ·I (K the N × N training kernel,
 * NTK or NNGP; ρ the absolute ridge) predicts f(x*) = K(x*,X)·α with
 * α = G⁻¹·Y (Y: N × k targets; the t = ∞ model of ntk_model_fit). From ONE
 * eigendecomposition K = V·diag(λ)·Vᵀ (λ clipped as ntk_predictor_create
 * does) every ridge costs only products with V, G⁻¹ = V·diag(1/(λ+ρ))·Vᵀ:
 *
 *   leave-one-out: the residual of point i under the model fitted on the
 *     other N − 1 points (same ρ) is e_i = α_i / (G⁻¹)_ii (one row of α per
 *     output column), O(N²) per ridge (plus N²·k for α);
 *   k-fold CV: with the points split into folds B, the residuals of fold B
 *     under the model fitted on the others are e_B = ((G⁻¹)_BB)⁻¹·α_B,
 *     O(N²·|B|) per fold and ridge. Folds: ntk_select_folds (a seeded
 *     shuffle) or any assignment of your own;
 *   MSE = Σ e² / (N·k) over all points and output columns;
 *   GP log marginal likelihood of Y under f ~ GP(0, K) with noise
 *     variance ρ, each output column independent:
 *       log p(Y|X) = Σ_a [−½·y_aᵀG⁻¹y_a − ½·log|G| − (N/2)·log 2π],
 *     O(N·k) per ridge; and with the kernel's scale fitted: the covariance
 *     σ²·G (K and ρ scaled together, so ρ/σ² stays the relative noise),
 *     whose maximum-likelihood σ² is closed form,
 *       σ̂² = Σ_a y_aᵀG⁻¹y_a / (N·k),
 *       log p̂ = −(N·k/2)·(log(2π·σ̂²) + 1) − (k/2)·log|G|.
 *
 * Held-out refits keep the absolute ridge ρ of the whole set (a relative
 * ridge r means ρ = r·tr(K)/N with the full K, as in ntk_predict_opts).
 * Accuracy: the eigendecomposition is backward stable (K + E, ‖E‖ of order
 * N·ε·‖K‖), so every quantity above is computed to a relative accuracy of
 * order κ₂(G)·N·ε, κ₂(G) = (λ_max + ρ)/(λ_min + ρ) (for held-out residuals
 * the worst case has a further factor up to √κ₂, not seen in practice:
 * tests/test_select.c). That estimate is
 * reported for each ridge; where it exceeds max_err (default 1e-2: a ridge
 * too small for the kernel's conditioning, e.g. ρ = 0 with a singular K)
 * the ridge is marked unreliable and its criteria are NaN, never a
 * meaningless number. Products are thread-count independent; the
 * eigendecomposition (and CV's Cholesky factors of (G⁻¹)_BB) run in LAPACK
 * and may change in the last bits with OpenBLAS's thread count.
 *
 *     ntk_select_opts so = ntk_select_opts_default();   // LOO + likelihood
 *     ntk_select *sel = NULL;
 *     double ridges[3] = {1e-4, 1e-2, 1};               // relative
 *     ntk_select_result res[3];
 *     if (ntk_select_create(K, N, Y, k, &so, &sel, &err) ||
 *         ntk_select_eval(sel, ridges, 3, &so, res, NULL, NULL, &err)) ...
 *     ntk_select_free(sel);
 */
typedef struct {
    ntk_ridge_mode ridge_mode; /* relative (default): ρ = r·tr(K)/N; absolute: ρ = r */
    int loo;                   /* 1 (default): leave-one-out residuals and MSE     */
    int mll;                   /* 1 (default): log marginal likelihoods            */
    size_t folds;              /* ≥ 2: k-fold CV with that many folds; 0 (default): none */
    const size_t *fold_of;     /* N fold indices in [0, folds), every fold non-
                                  empty; NULL: ntk_select_folds(N, folds, seed)  */
    uint64_t seed;             /* of the shuffled folds (default 0)                */
    double max_err;            /* > 0: the largest κ₂(G)·N·ε accepted (default 1e-2) */
    ntk_progress progress;     /* stages "eigendecomposition", "loo", "cv", "mll"  */
} ntk_select_opts;

ntk_select_opts ntk_select_opts_default(void);

/* Per ridge value. The criteria not asked for, and all of them on an
 * unreliable ridge, are NaN; so is cv_mse when a fold's (G⁻¹)_BB is not
 * positive definite to working precision (its Cholesky factorization
 * fails, which err_est ≤ max_err makes all but impossible). */
typedef struct {
    double ridge;         /* as given                                           */
    double ridge_abs;     /* ρ added to K's diagonal                            */
    double cond;          /* κ₂(G) = (λ_max + ρ)/(λ_min + ρ) (λ clipped; inf when G is singular) */
    double err_est;       /* κ₂(G)·N·ε: the relative accuracy of the criteria   */
    int reliable;         /* err_est ≤ max_err                                  */
    double loo_mse;       /* leave-one-out MSE                                  */
    double cv_mse;        /* k-fold CV MSE                                      */
    double log_ml;        /* log p(Y|X) with covariance G                       */
    double log_ml_scaled; /* log p(Y|X) with covariance σ̂²·G                   */
    double sigma2;        /* σ̂²                                                */
} ntk_select_result;

typedef struct ntk_select ntk_select;

/* Eigendecomposes the training kernel K (N × N, symmetric: the upper
 * triangle is read; copied) for targets Y (N × k, copied). NaN/Inf are
 * refused ("training kernel" / "targets", row and column); a kernel with an
 * eigenvalue below −100·N·ε·λ_max is refused as not PSD (NTK_E_NUMERIC),
 * tinier negative ones are clipped to 0. Of opts (NULL = defaults) only
 * the progress callback is used here. */
ntk_status ntk_select_create(const double *K, size_t N, const double *Y, size_t k, const ntk_select_opts *opts,
                             ntk_select **out, ntk_error *err);
void ntk_select_free(ntk_select *s);
/* What the eigendecomposition found: λ_min, λ_max (before clipping), the
 * number clipped; the other fields are 0. */
void ntk_select_info(const ntk_select *s, ntk_predict_info *info);

/* Evaluates the criteria asked for in opts at n ridge values (each ≥ 0 and
 * finite) into res[0 .. n−1]. loo_resid, cv_resid (NULL = not wanted;
 * filled when opts asks for LOO / CV): n × N × k residuals e (ridge-major,
 * entry (r·N + i)·k + a; NaN where the MSE is NaN); the held-out
 * prediction of point i is Y_i − e_i.
 * NTK_E_INVAL for a bad ridge, fold count or fold assignment (naming it);
 * NTK_E_CANCELED when the progress callback asks to stop. */
ntk_status ntk_select_eval(const ntk_select *s, const double *ridges, size_t n, const ntk_select_opts *opts,
                           ntk_select_result *res, double *loo_resid, double *cv_resid, ntk_error *err);

/* The peak memory of ntk_select_create followed by ntk_select_eval of
 * n_ridges ridges with opts (NULL = defaults), besides the caller's kernel,
 * targets, results and residuals: about 3·N²·8 bytes (the eigenvectors and
 * dsyevd's 2·N² workspace) for large N. SIZE_MAX on overflow. */
size_t ntk_select_bytes(size_t N, size_t k, size_t n_ridges, const ntk_select_opts *opts);

/* The shuffled folds of ntk_select_opts: a Fisher–Yates permutation of
 * 0 .. N−1 (for i = N−1 down to 1, swap positions i and ⌊u·(i+1)/2^64⌋,
 * u the next output of SplitMix64 seeded with `seed`: the same on every
 * machine); the point at permuted position p goes to fold p mod folds, so
 * fold sizes differ by at most one. Needs 2 ≤ folds ≤ N (NTK_E_INVAL
 * otherwise). */
ntk_status ntk_select_folds(size_t N, size_t folds, uint64_t seed, size_t *fold_of, ntk_error *err);

/* ---------------------------------------------------------------- the equivalence experiment
 *
 * For each hidden width w: a finite network at θ0 (seeded) is trained by
 * full-batch gradient descent (η, T steps); its linearization at θ0 is
 * trained the same way; the kernel prediction with the network's own Θ̂0
 * and f0 (discrete GD closed form) and the infinite-width prediction
 * (analytic NTK, ensemble mean f0 = 0, ± 2σ from the NNGP ensemble
 * covariance) are computed at the same checkpoints. Theory: the gaps
 * network–linearization, network–kernel prediction and the kernel drift
 * ‖Θ̂_t − Θ̂_0‖/‖Θ̂_0‖ shrink like w^(−1/2) (and ‖Θ̂_0 − Θ‖/‖Θ‖ too).
 */
typedef struct {
    const size_t *widths;       /* hidden widths (default 64, 256, 1024, 4096) */
    size_t n_widths;
    double lr;                  /* η; 0 = n/λ_max(Θ), half the largest stable  */
    size_t steps;               /* T (default 1000)                            */
    const size_t *checkpoints;  /* steps to report (default T/100, T/10, T)    */
    size_t n_checkpoints;
    uint64_t seed;
    ntk_param param;
    int threads;                /* 0 = the caller's OpenMP setting. The results
                                   are the same bits for any count: the
                                   factorizations (of Θ, for the learning rate
                                   and the predictions) run on one thread      */
    ntk_progress progress;      /* stages "infinite width: kernels" (entries),
                                   "infinite width: predictions" (parts), per
                                   width "width W (i/n): kernels" (parts) and
                                   "width W (i/n): training" (2T steps: network
                                   and linearization)                          */
} ntk_compare_opts;

ntk_compare_opts ntk_compare_opts_default(void);

/* One (width, checkpoint) row. Losses are L = (1/2n)Σ(f − y)²; gaps are
 * RMS differences over the test points (NaN where not available). */
typedef struct {
    size_t width, step;
    double train_net, train_lin, train_kernel, train_inf;
    double test_net, test_lin, test_kernel, test_inf;     /* NaN without test targets */
    double gap_lin, gap_kernel, gap_inf;                  /* network vs linearization, vs Θ̂0 prediction, vs ∞ mean */
    double gap_ntk;     /* network vs the analytic-NTK prediction from the network's own f0 */
    double drift;                                         /* ‖Θ̂_t − Θ̂_0‖_F/‖Θ̂_0‖_F on the training points */
    double dist0;                                         /* ‖Θ̂_0 − Θ‖_F/‖Θ‖_F on the training points */
} ntk_compare_row;

typedef struct {
    size_t n_widths, n_checkpoints, steps, M, k;
    size_t *widths, *checkpoints;
    double lr;                   /* η used */
    double lr_max;               /* 2n/λ_max(Θ) */
    ntk_compare_row *rows;       /* n_widths × n_checkpoints, width-major */
    /* fitted log–log slopes against width at the last checkpoint:
     * gap_lin, gap_kernel, gap_inf, drift, dist0, gap_ntk */
    double slope[6];
    double *f_net, *f_lin;       /* n_widths × M × k: test outputs at T */
    double *inf_mean, *inf_std;  /* M × k and M: infinite-width mean and σ at T */
    double *loss_net;            /* n_widths × (T+1): training loss per step */
    double *loss_inf;            /* T+1: infinite-width mean's training loss */
} ntk_compare_result;

ntk_status ntk_compare(const ntk_arch *arch, const ntk_compare_opts *opts, const double *x, size_t N, size_t d,
                       const double *y, size_t k, const double *xt, size_t M, const double *yt,
                       ntk_compare_result **out, ntk_error *err);
/* An estimate of ntk_compare's peak memory in bytes (dominated by the full
 * empirical NTK of the training set, (N·k)² doubles, and its
 * factorization); SIZE_MAX on overflow. */
size_t ntk_compare_bytes(const ntk_arch *arch, const ntk_compare_opts *opts, size_t N, size_t d, size_t k, size_t M);
void ntk_compare_free(ntk_compare_result *r);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* NTK_H */
