/* util.c — helpers shared by the ntk sub-commands (see cli.h). */
#include "cli.h"

#include "net/save_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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

/* Whether a column selection names a header column (then the header was
 * meant, and needs no note). */
static int selects_by_name(const ntk_read_opts *ro)
{
    if (!ro || !ro->columns) return 0;
    return ro->columns[strspn(ro->columns, "0123456789-, \t")] != '\0';
}

/* The commands that take --header auto|yes|no (the note on a detected
 * header names it only where it exists). */
static int cli_has_header_flag(const char *cmd)
{
    static const char *const with[] = {"kernel", NULL};
    for (size_t i = 0; with[i]; i++)
        if (!strcmp(cmd, with[i])) return 1;
    return 0;
}

int cli_read_matrix(const char *cmd, const char *flag, const char *path, const ntk_read_opts *ro, int quiet,
                    ntk_matrix *m)
{
    return cli_read_data(cmd, flag, path, ro, NULL, 1.0, quiet, m);
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

/* ------------------------------------------------------------ shared by the network commands */

void cli_set_threads(int n)
{
    cli_set_blas_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

int cli_parse_param(const char *cmd, const char *s, ntk_param *out)
{
    if (!strcmp(s, "ntk")) *out = NTK_PARAM_NTK;
    else if (!strcmp(s, "standard")) *out = NTK_PARAM_STANDARD;
    else return cli_usage_error(cmd, "--param: expected 'ntk' or 'standard', got '%s'", s);
    return 0;
}

int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
    if (!(*s >= '0' && *s <= '9') || *end || errno == ERANGE || v > UINT64_MAX)
        return cli_usage_error(cmd, "%s: expected an integer in [0, %" PRIu64 "], got '%s'", flag, UINT64_MAX, s);
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *cmd, const char *flag, const char *s, double lo, int lo_open, double hi, int hi_open,
                     double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int bad = end == s || *end || errno == ERANGE || !isfinite(v) || (lo_open ? !(v > lo) : !(v >= lo)) ||
              (hi_open ? !(v < hi) : !(v <= hi));
    if (bad) {
        if (isinf(hi) && lo == 0 && lo_open)
            return cli_usage_error(cmd, "%s: expected a positive number, got '%s'", flag, s);
        if (isinf(hi))
            return cli_usage_error(cmd, "%s: expected a number %s %g, got '%s'", flag, lo_open ? ">" : ">=", lo, s);
        return cli_usage_error(cmd, "%s: expected a number in %c%g, %g%c, got '%s'", flag, lo_open ? '(' : '[', lo, hi,
                               hi_open ? ')' : ']', s);
    }
    *out = v;
    return 0;
}

int cli_check_out(const char *cmd, const char *flag, const char *path, cli_out_kind kind)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    int ok = dot && dot != base;
    if (ok && kind == CLI_OUT_MATRIX) ok = !strcasecmp(dot, ".npy") || !strcasecmp(dot, ".csv");
    if (ok && kind == CLI_OUT_CSV) ok = !strcasecmp(dot, ".csv");
    if (ok && kind == CLI_OUT_NPZ) ok = !strcasecmp(dot, ".npz");
    if (!ok)
        return cli_error(cmd, "%s %s: unknown file format (use %s)", flag, path,
                         kind == CLI_OUT_MATRIX ? ".npy or .csv" : kind == CLI_OUT_CSV ? ".csv" : ".npz");
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error(cmd, "%s %s: cannot write: %s", flag, path, strerror(EISDIR));
    if (!slash) return 0;
    char *dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (!dir) return cli_error(cmd, "out of memory");
    int rc = 0;
    if (stat(dir, &sb) != 0)
        rc = cli_error(cmd, "%s %s: cannot write into '%s': %s", flag, path, dir, strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        rc = cli_error(cmd, "%s %s: cannot write into '%s': %s", flag, path, dir, strerror(ENOTDIR));
    else if (access(dir, W_OK) != 0)
        rc = cli_error(cmd, "%s %s: cannot write into '%s': %s", flag, path, dir, strerror(errno));
    free(dir);
    return rc;
}

int cli_net_usage(const char *cmd, const char *arch_s, const char *params_s, const char *seed_s, const char *param_s,
                  cli_net_src *src)
{
    memset(src, 0, sizeof *src);
    src->arch = arch_s;
    src->params = params_s;
    if (params_s && seed_s)
        return cli_usage_error(cmd, "--params and --seed exclude each other (a saved network has its parameters; "
                                    "--seed initialises a new one)");
    if (!arch_s && !params_s)
        return cli_usage_error(cmd, "--arch (with --seed) or --params is required (see 'ntk %s --help')", cmd);
    if (seed_s && cli_parse_u64(cmd, "--seed", seed_s, &src->seed)) return 2;
    src->has_seed = seed_s != NULL;
    if (param_s) {
        if (cli_parse_param(cmd, param_s, &src->param)) return 2;
        src->has_param = 1;
    }
    return 0;
}

int cli_parse_arch(const char *cmd, const char *arch_s, ntk_arch **arch)
{
    char *spec = cli_arch_text(cmd, arch_s);
    if (!spec) return 1;
    ntk_error err;
    ntk_status s = ntk_arch_parse(spec, arch, &err);
    free(spec);
    if (s) return cli_error(cmd, "--arch: %s", err.msg);
    return 0;
}

/* The canonical spec of an architecture, malloc'd (NULL when out of memory). */
static char *canon_spec(const ntk_arch *arch)
{
    size_t n = ntk_arch_format(arch, NULL, 0);
    char *s = malloc(n + 1);
    if (s) ntk_arch_format(arch, s, n + 1);
    return s;
}

int cli_net_get(const char *cmd, const cli_net_src *src, size_t d_in, const char *xflag, const char *xpath,
                ntk_net **net, ntk_linear **lin)
{
    ntk_error err;
    *net = NULL;
    if (lin) *lin = NULL;
    ntk_arch *arch = NULL;
    if (src->arch && cli_parse_arch(cmd, src->arch, &arch)) return 1;
    int rc = 1;
    if (!src->params) {
        ntk_param p = src->has_param ? src->param : NTK_PARAM_NTK;
        if (ntk_net_create(arch, d_in, p, net, &err) || ntk_net_init(*net, src->seed, &err)) {
            cli_error(cmd, "--arch: %s", err.msg);
            goto done;
        }
        rc = 0;
        goto done;
    }
    ntk_linear *l = NULL;
    if (net_load_model(src->params, net, lin ? &l : NULL, &err)) {
        cli_error(cmd, "--params: %s", err.msg);
        goto done;
    }
    if (l) *lin = l;
    const ntk_net *nn = l ? ntk_linear_base(l) : *net;
    if (arch) {
        char *given = canon_spec(arch), *saved = canon_spec(ntk_net_arch(nn));
        int same = given && saved && !strcmp(given, saved);
        if (!same)
            cli_error(cmd, "--arch %s differs from the architecture saved in %s: %s (drop --arch to use the saved one)",
                      given ? given : "?", src->params, saved ? saved : "?");
        free(given);
        free(saved);
        if (!same) goto fail;
    }
    if (src->has_param && src->param != ntk_net_param(nn)) {
        cli_error(cmd, "--param %s differs from the parameterization saved in %s (%s)",
                  src->param == NTK_PARAM_STANDARD ? "standard" : "ntk", src->params,
                  ntk_net_param(nn) == NTK_PARAM_STANDARD ? "standard" : "ntk");
        goto fail;
    }
    if (ntk_net_n_inputs(nn) != d_in) {
        cli_error(cmd, "%s %s has %zu column%s but the network in %s takes %zu input%s", xflag, xpath, d_in,
                  d_in == 1 ? "" : "s", src->params, ntk_net_n_inputs(nn), ntk_net_n_inputs(nn) == 1 ? "" : "s");
        goto fail;
    }
    rc = 0;
    goto done;
fail:
    ntk_net_free(*net);
    *net = NULL;
    if (lin) {
        ntk_linear_free(*lin);
        *lin = NULL;
    }
done:
    ntk_arch_free(arch);
    return rc;
}

/* Splits a comma list into at most `max` items (in place); -1 if more. */
static int split_list(char *s, char **items, int max)
{
    int n = 0;
    char *p = s;
    for (;;) {
        if (n == max) return -1;
        items[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

int cli_get_outputs(const char *cmd, const char *get_s, const char *out_s, char *buf, size_t bufsize,
                    const char **out_ntk, const char **out_nngp)
{
    *out_ntk = *out_nngp = NULL;
    char getbuf[64];
    snprintf(getbuf, sizeof getbuf, "%s", get_s ? get_s : "ntk");
    if (strlen(out_s) >= bufsize) return cli_usage_error(cmd, "--out: value too long");
    snprintf(buf, bufsize, "%s", out_s);
    char *gets[3], *outs[3];
    int ng = split_list(getbuf, gets, 2), no = split_list(buf, outs, 2);
    if (ng < 0 || (get_s && strlen(get_s) >= sizeof getbuf))
        return cli_usage_error(cmd, "--get: expected ntk, nngp or ntk,nngp, got '%s'", get_s);
    for (int k = 0; k < ng; k++)
        if (strcmp(gets[k], "ntk") && strcmp(gets[k], "nngp"))
            return cli_usage_error(cmd, "--get: expected ntk, nngp or ntk,nngp, got '%s'", get_s);
    if (no != ng)
        return cli_usage_error(cmd, "--out: %d file%s for %d kernel%s in --get (give one file per kernel, comma separated)",
                               no < 0 ? 3 : no, no == 1 ? "" : "s", ng, ng == 1 ? "" : "s");
    for (int k = 0; k < ng; k++) {
        if (!*outs[k]) return cli_usage_error(cmd, "--out: empty file name");
        if (!strcmp(gets[k], "ntk") && !*out_ntk) *out_ntk = outs[k];
        else if (!strcmp(gets[k], "nngp") && !*out_nngp) *out_nngp = outs[k];
        else return cli_usage_error(cmd, "--get: expected ntk, nngp or ntk,nngp, got '%s'", get_s);
    }
    if (*out_ntk && *out_nngp && !strcmp(*out_ntk, *out_nngp))
        return cli_usage_error(cmd, "--out: the NTK and NNGP files must differ");
    return 0;
}

int cli_write_matrix(const char *cmd, const char *path, const double *data, size_t rows, size_t cols)
{
    ntk_error err;
    if (ntk_io_write(path, data, rows, cols, 2, &err)) return cli_error(cmd, "%s", err.msg);
    return 0;
}

int cli_write_all(const char *cmd, const cli_matrix_out *outs, size_t n)
{
    ntk_error err;
    ntk_outputs *o = NULL;
    ntk_status s = ntk_outputs_create(&o, &err);
    for (size_t i = 0; i < n && !s; i++)
        if (outs[i].path)
            s = ntk_outputs_write_matrix(o, outs[i].path, outs[i].data, outs[i].rows, outs[i].cols, outs[i].ndim,
                                         &err);
    if (!s) s = ntk_outputs_commit(o, &err);
    ntk_outputs_free(o);
    return s ? cli_error(cmd, "%s", err.msg) : 0;
}

/* Parses a comma list of positive integers. Returns the count or -1. */
int cli_parse_size_list(const char *cmd, const char *flag, const char *s, size_t *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno || v == 0 || v > 100000000ull || (*end && *end != ',') || n >= max || *p == '-') {
            cli_usage_error(cmd, "%s: expected a comma list of positive integers, got '%s'", flag, s);
            return -1;
        }
        out[n++] = (size_t)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) {
            cli_usage_error(cmd, "%s: expected a comma list of positive integers, got '%s'", flag, s);
            return -1;
        }
    }
    return n;
}


/* ------------------------------------------------------------ row ranges and input scale */

/* A row number: digits only, no sign; 0 or -1. */
static int parse_row(const char *s, const char *e, size_t *out)
{
    if (s == e) return -1;
    size_t v = 0;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9') return -1;
        size_t d = (size_t)(*s - '0');
        if (v > (SIZE_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int cli_parse_rows(const char *cmd, const char *rows_flag, const char *rows_s, const char *limit_s, cli_rows *out)
{
    memset(out, 0, sizeof *out);
    if (rows_s && limit_s)
        return cli_usage_error(cmd, "%s and --limit exclude each other (--limit N is %s 0:N)", rows_flag, rows_flag);
    if (limit_s) {
        long v;
        if (cli_parse_int(cmd, "--limit", limit_s, 1, LONG_MAX, &v)) return 2;
        out->count = (size_t)v;
        out->flag = "--limit";
        out->text = limit_s;
        return 0;
    }
    if (!rows_s) return 0;
    const char *colon = strchr(rows_s, ':');
    const char *end = rows_s + strlen(rows_s);
    size_t a = 0, b = 0;
    int has_b = colon && colon + 1 < end;
    if (!colon || (colon > rows_s && parse_row(rows_s, colon, &a)) || (has_b && parse_row(colon + 1, end, &b)))
        return cli_usage_error(cmd,
                               "%s: expected START:STOP (rows START to STOP-1, counted from 0 as in Python; either "
                               "side may be left out, e.g. 50000:60000, :1000, 50000:), got '%s'",
                               rows_flag, rows_s);
    if (has_b && b <= a)
        return cli_usage_error(cmd, "%s %s: an empty range (STOP must be greater than START; STOP is excluded)",
                               rows_flag, rows_s);
    out->first = a;
    out->count = has_b ? b - a : 0;
    out->strict = has_b;
    out->flag = rows_flag;
    out->text = rows_s;
    return 0;
}

int cli_read_data(const char *cmd, const char *flag, const char *path, const ntk_read_opts *ro, const cli_rows *rows,
                  double scale, int quiet, ntk_matrix *m)
{
    ntk_read_opts o = ro ? *ro : ntk_read_opts_default();
    if (rows) {
        o.first_row = rows->first;
        o.max_rows = rows->count;
    }
    ntk_error err;
    ntk_read_info info;
    ntk_status s = ntk_io_read_info(path, &o, m, &info, &err);
    if (s) {
        if (s == NTK_E_SHAPE && rows && rows->first) /* the range starts past the end of the file */
            cli_error(cmd, "%s %s: %s %s", rows->flag, rows->text, flag, err.msg);
        else
            cli_error(cmd, "%s", err.msg);
        return -1;
    }
    /* a detected header is a row the user may have meant as data: say so */
    if (info.csv_header_auto && !quiet && !selects_by_name(ro))
        fprintf(stderr, "ntk %s: note: %s %s: first row taken as a header (%s): none of its fields is a number%s\n",
                cmd, flag, path, info.csv_names, cli_has_header_flag(cmd) ? "; --header no reads it as data" : "");
    if (rows && rows->strict && m->rows < rows->count) {
        cli_error(cmd, "%s %s: %s %s has %zu rows (rows are counted from 0; STOP is excluded)", rows->flag, rows->text,
                  flag, path, rows->first + m->rows);
        ntk_matrix_free(m);
        return -1;
    }
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            if (!isfinite(m->data[i * m->cols + j])) {
                cli_error(cmd, "%s: data row %zu, column %zu: %g is not finite (NaN/Inf inputs are not allowed)", path,
                          (rows ? rows->first : 0) + i + 1, j + 1, m->data[i * m->cols + j]);
                ntk_matrix_free(m);
                return -1;
            }
    if (scale != 1.0)
        for (size_t i = 0; i < m->rows * m->cols; i++) m->data[i] *= scale;
    return 0;
}

int cli_parse_x1x2(const char *cmd, const char *rows_s, const char *rows2_s, int has_x2, const char *scale_s,
                   cli_rows *rows1, cli_rows *rows2, double *scale)
{
    *scale = 1.0;
    if (rows2_s && !has_x2) return cli_usage_error(cmd, "--rows2 selects rows of --x2, which is not given");
    if (cli_parse_rows(cmd, "--rows", rows_s, NULL, rows1) || cli_parse_rows(cmd, "--rows2", rows2_s, NULL, rows2) ||
        (scale_s && cli_parse_scale(cmd, scale_s, scale)))
        return 2;
    return 0;
}
