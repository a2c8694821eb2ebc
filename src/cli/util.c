/* util.c — helpers shared by the ntk sub-commands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void vreport(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "ntk%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return 2;
}

int cli_parse_int(const char *cmd, const char *flag, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < min || v > max) {
        if (max == LONG_MAX)
            cli_usage_error(cmd, "%s: expected an integer >= %ld, got '%s'", flag, min, s);
        else
            cli_usage_error(cmd, "%s: expected an integer in [%ld, %ld], got '%s'", flag, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_read_matrix(const char *cmd, const char *flag, const char *path, const ntk_read_opts *ro,
                    ntk_matrix *m)
{
    ntk_error err;
    if (ntk_io_read(path, ro, m, &err)) {
        cli_error(cmd, "%s", err.msg);
        return -1;
    }
    /* Rows are counted in the data (a CSV header row is not counted). */
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            if (!isfinite(m->data[i * m->cols + j])) {
                cli_error(cmd, "%s: data row %zu, column %zu: %g is not finite (NaN/Inf inputs are not allowed)",
                          path, i + 1, j + 1, m->data[i * m->cols + j]);
                ntk_matrix_free(m);
                return -1;
            }
    (void)flag;
    return 0;
}

char *cli_arch_text(const char *cmd, const char *arg)
{
    if (arg[0] != '@') {
        char *s = strdup(arg);
        if (!s) cli_error(cmd, "out of memory");
        return s;
    }
    FILE *f = fopen(arg + 1, "rb");
    if (!f) {
        cli_error(cmd, "--arch %s: cannot open: %s", arg + 1, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int c;
    while (buf && (c = fgetc(f)) != EOF) {
        if (n + 1 >= cap) {
            char *nb = cap < (1u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        buf[n++] = (char)c;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        free(buf);
        cli_error(cmd, "--arch %s: cannot read the spec file (too large or unreadable)", arg + 1);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static size_t lev(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 40 || nb > 40) return 99;
    size_t d[41][41];
    for (size_t i = 0; i <= na; i++) d[i][0] = i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t m = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < m) m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
            d[i][j] = m;
        }
    return d[na][nb];
}

const char *cli_suggest_option(const char *given, const char *const *names)
{
    const char *best = NULL;
    size_t bd = 3;
    for (size_t i = 0; names[i]; i++) {
        size_t d = lev(given, names[i]);
        if (d < bd) { bd = d; best = names[i]; }
    }
    return best;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#include <cblas.h>

void cli_set_blas_threads(int n) { openblas_set_num_threads(n); }
