/*
 * args.h — a small table-driven parser for "--flag VALUE", "--flag=VALUE"
 * and boolean "--flag" options, with "did you mean" for unknown flags.
 */
#ifndef NTK_CLI_ARGS_H
#define NTK_CLI_ARGS_H

typedef struct {
    const char *name;    /* "--x1" */
    int takes_value;
    const char **value;  /* where a value goes (takes_value) */
    int *flag;           /* set to 1 (boolean options) */
} cli_opt;

/* Returns 0, 1 if --help was given (help printed by the caller), or 2 after
 * printing a usage error. Positional arguments are errors. */
int cli_parse_args(const char *cmd, int argc, char **argv, const cli_opt *opts);

#endif
