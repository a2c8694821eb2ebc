/*
 * cli.h — shared pieces of the `ntk` command: error printing, option value
 * parsing, reading input matrices with their checks, the sub-commands.
 */
#ifndef NTK_CLI_H
#define NTK_CLI_H

#include "ntk.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

/* Prints "ntk CMD: message" on stderr. Returns 1 (exit status for errors
 * in the input), or 2 for usage errors via cli_usage_error. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a non-negative/positive integer flag value; 0 on success. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, long min, long max, long *out);
/* Reads a matrix file and rejects NaN/Inf, naming the file. A CSV header
 * found by auto-detection gets a note on stderr ("first row taken as a
 * header"), unless quiet (the command's --quiet) or the column selection
 * names header columns. */
int cli_read_matrix(const char *cmd, const char *flag, const char *path, const ntk_read_opts *ro, int quiet,
                    ntk_matrix *m);
/* The --arch value: a spec, or @FILE to read it from a file. Returns a
 * malloc'd spec string or NULL after printing an error. */
char *cli_arch_text(const char *cmd, const char *arg);
/* Suggests the closest long option for an unknown one (or NULL). */
const char *cli_suggest_option(const char *given, const char *const *names);
/* Monotonic seconds. */
double cli_now(void);
/* Limits OpenBLAS to n threads too, so --threads bounds the whole run. */
void cli_set_blas_threads(int n);

/* --threads for the whole run: OpenBLAS and OpenMP. */
void cli_set_threads(int n);

/* Option values. Each returns 0, or 2 after printing a usage error naming
 * the flag and the value. cli_parse_double takes values in the interval
 * lo..hi, each end open (excluded) or closed; hi may be INFINITY. */
int cli_parse_param(const char *cmd, const char *s, ntk_param *out);
int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out);
int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, int lo_open, double hi, int hi_open,
                     double *out);

/* Checks, before any work, that an output can be written where it is to
 * go: a known extension, not a directory, an existing writable folder.
 * Returns 0, or 1 after an error naming flag and path. */
typedef enum { CLI_OUT_MATRIX, CLI_OUT_CSV, CLI_OUT_NPZ } cli_out_kind;
int cli_check_out(const char *cmd, const char *flag, const char *path, cli_out_kind kind);

/* --get ntk|nngp|ntk,nngp and --out FILE[,FILE]: the file for each kernel
 * (NULL when not wanted); buf holds the split --out value. 0 or 2. */
int cli_get_outputs(const char *cmd, const char *get_s, const char *out_s, char *buf, size_t bufsize,
                    const char **out_ntk, const char **out_nngp);

/* Writes a 2-D matrix (ntk_io_write: atomic); 0, or 1 after an error. */
int cli_write_matrix(const char *cmd, const char *path, const double *data, size_t rows, size_t cols);
/* Writes every matrix whose path is not NULL, all or nothing (an output
 * set: if one cannot be written, none is created or replaced); 0, or 1
 * after an error. */
typedef struct {
    const char *path;
    const double *data;
    size_t rows, cols;
    int ndim;
} cli_matrix_out;
int cli_write_all(const char *cmd, const cli_matrix_out *outs, size_t n);

/* --arch (a spec or @FILE) parsed; 0, or 1 after an error. */
int cli_parse_arch(const char *cmd, const char *arch_s, ntk_arch **arch);

/* Where a command's network comes from: --arch with --seed (default 0) and
 * --param, or --params (a saved file; --arch and --param, if given, must
 * agree with it). */
typedef struct {
    const char *arch, *params;
    uint64_t seed;
    int has_seed, has_param;
    ntk_param param;
} cli_net_src;
/* Checks the combination and parses --seed and --param: 0 or 2. */
int cli_net_usage(const char *cmd, const char *arch_s, const char *params_s, const char *seed_s, const char *param_s,
                  cli_net_src *src);
/* Builds (and seeds) or loads the network for inputs of d_in columns
 * (xflag/xpath name them in messages). With lin != NULL a saved linearized
 * model is accepted and returned in *lin (*net NULL); otherwise it is an
 * error. Returns 0, or 1 after an error. */
int cli_net_get(const char *cmd, const cli_net_src *src, size_t d_in, const char *xflag, const char *xpath,
                ntk_net **net, ntk_linear **lin);

/* A comma list of positive integers (≤ 1e8) into out (at most max);
 * returns the count, or -1 after a usage error naming the flag. */
int cli_parse_size_list(const char *cmd, const char *flag, const char *s, size_t *out, int max);

/* ---- progress, interruption and checks before the work (progress.c) */

/* One command's progress reporter: a bar on a terminal, plain lines
 * otherwise (every NTK_PROGRESS_INTERVAL seconds, default 10), nothing
 * with quiet or for runs under ~2 s. cli_progress_init also makes SIGINT
 * and SIGTERM cancel the work through the callback. */
typedef struct {
    const char *cmd;
    int quiet, tty, drawn, printed, sig;
    double t0, delay, interval, last_draw, stage_t0, done, total;
    char stage[128], note[96];
    /* the ticker thread that keeps the display going between callbacks */
    pthread_t ticker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ticking, stop, stopping;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *cmd, int quiet);
/* The callback for the library's options. */
ntk_progress cli_progress_cb(cli_progress *p);
/* Extra text after the figures ("loss 0.0123"). */
void cli_progress_note(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stops the ticker and clears the bar before anything else is printed
 * (idempotent; call it on every path once the work is over). */
void cli_progress_done(cli_progress *p);
/* After a failed library call with status s: for an interruption (s ==
 * NTK_E_CANCELED after a signal) "ntk CMD: interrupted by SIGINT during
 * STAGE (45% done); nothing written", returning 128 + the signal; else
 * "ntk CMD: <fmt...>", returning 1. Clears the bar first. */
int cli_run_error(cli_progress *p, ntk_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The signal received (SIGINT, SIGTERM) or 0. */
int cli_interrupted(void);

/* Bytes of memory available to this process (NTK_MEM_AVAILABLE, if set,
 * replaces the measurement) and free on the disk where `path` would be
 * written (NTK_DISK_AVAILABLE likewise); SIZE_MAX when unknown. */
size_t cli_mem_available(void);
size_t cli_disk_available(const char *path);
/* Refuses, with one line naming the numbers, work that needs more memory
 * than is available: "ntk CMD: needs ~12.8 GB of memory for WHAT, 9.1 GB
 * available; HINT (--force to try anyway)". 0 (go on, also with force) or 1. */
int cli_check_memory(const char *cmd, size_t need, const char *what, const char *hint, int force);
/* The same for the n outputs paths[i] (NULL: none) of bytes[i] each, summed
 * per file system; flags[i] names them. 0 or 1. */
int cli_check_disk(const char *cmd, const char *const *flags, const char *const *paths, const size_t *bytes, size_t n,
                   int force);
/* "12.8 GB", "350 MB", "12 kB" (powers of 1000, three digits). */
void cli_bytes_text(char *buf, size_t n, size_t bytes);
/* The size of a rows × cols matrix written to path (.npy exact, .csv at
 * most); SIZE_MAX on overflow. */
size_t cli_matrix_file_bytes(const char *path, size_t rows, size_t cols);

int cmd_kernel(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_compare(int argc, char **argv);
/* Runs ntk_compare and reports it (table on stdout unless quiet, CSV and
 * plots in out_dir). plot_x: M abscissae for the function plot;
 * plot_train_x: N abscissae of the training points, or NULL. 0 or 1. */
int cli_compare_report(const char *cmd, const ntk_arch *arch, const ntk_compare_opts *co, const double *x, size_t N,
                       size_t d, const double *y, size_t k, const double *xt, size_t M, const double *yt,
                       const double *plot_x, const double *plot_train_x, const char *xlabel, const char *out_dir,
                       int quiet);
int cmd_fit(int argc, char **argv);
int cmd_predict(int argc, char **argv);
/* --scale S: a number > 0 or a fraction "A/B" (1/255). 0, or 2 after a
 * usage error. */
int cli_parse_scale(const char *cmd, const char *s, double *out);
/* Class labels: y must be one column of whole numbers 0 .. 65535; sets the
 * number of classes (max label + 1). 0, or 1 after an error naming the
 * flag, file and row. */
int cli_labels(const char *cmd, const char *flag, const char *path, const ntk_matrix *y, size_t *n_classes);
/* --rows START:STOP or --limit N: the data rows a command reads. */
typedef struct {
    size_t first, count;     /* first row (from 0), how many (0: to the end)  */
    int strict;              /* --rows with a STOP: the file must reach it    */
    const char *flag, *text; /* "--rows" and its value, for messages           */
} cli_rows;
/* Parses rows_s (the value of rows_flag: START:STOP, rows START to STOP−1
 * counted from 0 as in Python, either side optional) or limit_s (--limit
 * N: rows 0:N, fewer if the file is shorter); both given is a usage error.
 * Neither: every row. 0, or 2 after a usage error. */
int cli_parse_rows(const char *cmd, const char *rows_flag, const char *rows_s, const char *limit_s, cli_rows *out);
/* cli_read_matrix for data: only the rows of `rows` (NULL: all) are read,
 * and every value is multiplied by scale (--scale; 1: unchanged). A range
 * outside the file is an error naming the flag, the file and its row
 * count. 0, or -1 after an error. */
int cli_read_data(const char *cmd, const char *flag, const char *path, const ntk_read_opts *ro, const cli_rows *rows,
                  double scale, int quiet, ntk_matrix *m);
/* Reads a given kernel file (--kernel-file, --nngp-file, ...) that must be
 * rows x cols (`what` says of what, in the message); NaN/Inf refused. 0, or
 * 1 after an error. */
int cli_read_kernel(const char *cmd, const char *flag, const char *path, size_t rows, size_t cols, const char *what,
                    int quiet, ntk_matrix *m);
/* --rows (of --x1), --rows2 (of --x2, which has_x2 says is given) and
 * --scale (NULL: 1) of the commands with two input sets. 0 or 2. */
int cli_parse_x1x2(const char *cmd, const char *rows_s, const char *rows2_s, int has_x2, const char *scale_s,
                   cli_rows *rows1, cli_rows *rows2, double *scale);
int cmd_train(int argc, char **argv);
int cmd_empirical(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#endif
