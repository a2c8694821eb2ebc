/*
 * cli.h — shared pieces of the `ntk` command: error printing, option value
 * parsing, reading input matrices with their checks, the sub-commands.
 */
#ifndef NTK_CLI_H
#define NTK_CLI_H

#include "ntk.h"

#include <stdio.h>

/* Prints "ntk CMD: message" on stderr. Returns 1 (exit status for errors
 * in the input), or 2 for usage errors via cli_usage_error. */
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a non-negative/positive integer flag value; 0 on success. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, long min, long max, long *out);
/* Reads a matrix file and rejects NaN/Inf, naming the file. */
int cli_read_matrix(const char *cmd, const char *flag, const char *path, const ntk_read_opts *ro,
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

int cmd_kernel(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
