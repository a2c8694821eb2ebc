/*
 * arch.c — the architecture spec language (neural-tangents `stax` naming).
 *
 *   spec  := layer { ',' layer }
 *   layer := NAME [ '(' [ arg { ',' arg } ] ')' ]
 *   arg   := [ NAME '=' ] ( NUMBER | NAME )
 *
 * Whitespace is ignored between tokens. Every layer has a table entry giving
 * its parameter names (positional order), defaults and which are required.
 * Errors are reported as "spec:LINE:COL: message", COL 1-based.
 */
#include "core/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ntk_arch {
    size_t n;
    ntk_layer *layers;
};

#define MAXP 4

/* One layer kind of the language. Parameters with a NaN default are
 * required; `kind`/`act` say what the layer becomes. */
typedef struct {
    const char *name;
    ntk_layer_kind kind;
    ntk_act_kind act;
    int np;
    const char *pnames[MAXP];
    double defaults[MAXP];
} layer_def;

#define REQ NAN
static const layer_def DEFS[] = {
    {"dense", NTK_LAYER_DENSE, 0, 4, {"width", "w_std", "b_std", "param"}, {REQ, 1.0, 0.0, -1}},
    {"relu", NTK_LAYER_ACT, NTK_ACT_ABRELU, 0, {0}, {0}},
    {"leaky_relu", NTK_LAYER_ACT, NTK_ACT_ABRELU, 1, {"alpha"}, {0.01}},
    {"abs", NTK_LAYER_ACT, NTK_ACT_ABRELU, 0, {0}, {0}},
    {"abrelu", NTK_LAYER_ACT, NTK_ACT_ABRELU, 2, {"a", "b"}, {REQ, REQ}},
    {"erf", NTK_LAYER_ACT, NTK_ACT_ERF, 3, {"a", "b", "c"}, {1.0, 1.0, 0.0}},
    {"sigmoid_like", NTK_LAYER_ACT, NTK_ACT_ERF, 0, {0}, {0}},
    {"sin", NTK_LAYER_ACT, NTK_ACT_SIN, 3, {"a", "b", "c"}, {1.0, 1.0, 0.0}},
    {"cos", NTK_LAYER_ACT, NTK_ACT_COS, 3, {"a", "b", "c"}, {1.0, 1.0, 0.0}},
    {"identity", NTK_LAYER_ACT, NTK_ACT_IDENTITY, 0, {0}, {0}},
    {"gelu", NTK_LAYER_ACT, NTK_ACT_GELU, 0, {0}, {0}},
    {"tanh", NTK_LAYER_ACT, NTK_ACT_TANH, 0, {0}, {0}},
    {"sigmoid", NTK_LAYER_ACT, NTK_ACT_SIGMOID, 0, {0}, {0}},
    {"softplus", NTK_LAYER_ACT, NTK_ACT_SOFTPLUS, 0, {0}, {0}},
    {"silu", NTK_LAYER_ACT, NTK_ACT_SILU, 0, {0}, {0}},
    {"elu", NTK_LAYER_ACT, NTK_ACT_ELU, 1, {"alpha"}, {1.0}},
};
#define NDEFS (sizeof DEFS / sizeof DEFS[0])

/* Names accepted for the whole-network or per-layer parameterization. */
static int parse_param_name(const char *s, size_t n)
{
    if (n == 3 && !strncmp(s, "ntk", 3)) return NTK_PARAM_NTK;
    if (n == 8 && !strncmp(s, "standard", 8)) return NTK_PARAM_STANDARD;
    return -1;
}

/* ------------------------------------------------------------- lexer */

typedef struct {
    const char *s;   /* whole spec */
    size_t i;        /* cursor */
    ntk_error *err;
} lexer;

/* Line and column of s[at], counted on from s[from] at line l, column c. */
static void pos_from(const char *s, size_t from, int l, int c, size_t at, int *line, int *col)
{
    for (size_t k = from; k < at && s[k]; k++) {
        if (s[k] == '\n') { l++; c = 1; } else c++;
    }
    *line = l;
    *col = c;
}

static void pos_of(const lexer *lx, size_t at, int *line, int *col) { pos_from(lx->s, 0, 1, 1, at, line, col); }

static ntk_status NTK_PRINTF(3, 4) spec_fail(const lexer *lx, size_t at, const char *fmt, ...)
{
    char msg[NTK_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    pos_of(lx, at, &line, &col);
    return ntk_fail(lx->err, NTK_E_SPEC, "spec:%d:%d: %s", line, col, msg);
}

static void skip_ws(lexer *lx)
{
    while (lx->s[lx->i] && isspace((unsigned char)lx->s[lx->i])) lx->i++;
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }
static int is_ident_char(int c) { return isalnum(c) || c == '_'; }

/* A printable excerpt of the token at the cursor for messages. */
static void describe_at(const lexer *lx, char *buf, size_t n)
{
    const char *p = lx->s + lx->i;
    if (!*p) { snprintf(buf, n, "end of spec"); return; }
    size_t k = 0;
    if (is_ident_char((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+') {
        while (p[k] && (is_ident_char((unsigned char)p[k]) || p[k] == '.' || p[k] == '-' || p[k] == '+') && k < 20) k++;
    } else if ((unsigned char)*p < 0x20 || *p == 0x7f) {
        /* a control character as \xNN: a message stays one printable line */
        snprintf(buf, n, "'\\x%02x'", (unsigned)(unsigned char)*p);
        return;
    } else {
        /* one character: a UTF-8 lead byte with its continuation bytes */
        k = 1;
        while ((unsigned char)p[0] >= 0xC0 && ((unsigned char)p[k] & 0xC0) == 0x80 && k < 4) k++;
    }
    snprintf(buf, n, "'%.*s'", (int)k, p);
}

/* Levenshtein distance, for "did you mean". Names are short. */
static size_t edit_distance(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b);
    if (na > 31 || nb > 31) return 99;
    size_t d[32][32];
    for (size_t i = 0; i <= na; i++) d[i][0] = i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t sub = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            size_t m = sub < del ? sub : del;
            d[i][j] = m < ins ? m : ins;
        }
    return d[na][nb];
}

/* Closest of `names` to s[0..n) within distance 2 (or 1 for short names),
 * and closer than n: a one-letter name is 1 edit from every other one, and
 * 'd' is no hint of 'a'. */
static const char *suggest(const char *s, size_t n, const char *const *names, size_t count)
{
    const char *best = NULL;
    size_t bd = 99;
    for (size_t k = 0; k < count; k++) {
        if (!names[k]) continue;
        size_t dd = edit_distance(s, n, names[k]);
        if (dd < bd) { bd = dd; best = names[k]; }
    }
    size_t limit = n <= 3 ? 1 : 2;
    return bd <= limit && bd < n ? best : NULL;
}

/* ------------------------------------------------------------- parser */

typedef struct {
    size_t at;           /* position of the argument */
    const char *name;    /* NULL if positional */
    size_t name_len;
    int is_word;         /* value is a NAME (e.g. param=standard) */
    const char *word;
    size_t word_len;
    double value;
} arg;

static ntk_status parse_value(lexer *lx, arg *a, const char *lname)
{
    skip_ws(lx);
    const char *p = lx->s + lx->i;
    if (is_ident_start((unsigned char)*p) &&
        !(!strncmp(p, "inf", 3) || !strncmp(p, "nan", 3) || !strncmp(p, "Inf", 3) || !strncmp(p, "NaN", 3))) {
        size_t k = 0;
        while (is_ident_char((unsigned char)p[k])) k++;
        a->is_word = 1;
        a->word = p;
        a->word_len = k;
        lx->i += k;
        return NTK_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p) {
        char what[48];
        describe_at(lx, what, sizeof what);
        return spec_fail(lx, lx->i, "%s: expected a number, found %s", lname, what);
    }
    /* ERANGE with a tiny result is underflow (1e-400 reads as 0): accepted */
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1))
        return spec_fail(lx, lx->i, "%s: '%.*s' is not a finite number", lname, (int)(end - p), p);
    a->is_word = 0;
    a->value = v;
    lx->i += (size_t)(end - p);
    return NTK_OK;
}

/* "X takes no arguments" / "X takes at most N arguments", at `at`. */
static ntk_status too_many_args(const lexer *lx, size_t at, const layer_def *def)
{
    if (def->np == 0) return spec_fail(lx, at, "%s takes no arguments", def->name);
    return spec_fail(lx, at, "%s takes at most %d argument%s", def->name, def->np, def->np == 1 ? "" : "s");
}

static ntk_status parse_args(lexer *lx, arg *args, int *nargs, int maxargs, const layer_def *def)
{
    const char *lname = def->name;
    /* cursor is just after '(' */
    *nargs = 0;
    skip_ws(lx);
    if (lx->s[lx->i] == ')') { lx->i++; return NTK_OK; }
    for (;;) {
        skip_ws(lx);
        /* maxargs > def->np: the first extra argument is where to point */
        if (*nargs >= maxargs) return too_many_args(lx, args[def->np].at, def);
        if (*nargs > 0 && (lx->s[lx->i] == ')' || lx->s[lx->i] == ',')) {
            char what[48];
            describe_at(lx, what, sizeof what);
            return spec_fail(lx, lx->i, "%s: expected an argument after ',', found %s", lname, what);
        }
        arg *a = &args[(*nargs)++];
        memset(a, 0, sizeof *a);
        a->at = lx->i;
        /* NAME '=' ? */
        const char *p = lx->s + lx->i;
        if (is_ident_start((unsigned char)*p)) {
            size_t k = 0;
            while (is_ident_char((unsigned char)p[k])) k++;
            size_t save = lx->i;
            lx->i += k;
            skip_ws(lx);
            if (lx->s[lx->i] == '=') {
                a->name = p;
                a->name_len = k;
                lx->i++;
            } else {
                lx->i = save;
            }
        }
        ntk_status s = parse_value(lx, a, lname);
        if (s) return s;
        skip_ws(lx);
        char c = lx->s[lx->i];
        if (c == ',') { lx->i++; continue; }
        if (c == ')') { lx->i++; return NTK_OK; }
        char what[48];
        describe_at(lx, what, sizeof what);
        return spec_fail(lx, lx->i, "expected ',' or ')' in the arguments of %s, found %s", lname, what);
    }
}

/* Applies parsed arguments to a layer according to its definition. */
static ntk_status bind_args(lexer *lx, const layer_def *def, size_t lpos, const arg *args,
                            int nargs, ntk_layer *L)
{
    double val[MAXP];
    int given[MAXP] = {0};
    size_t argpos[MAXP] = {0}; /* where each given parameter was written */
    int param = -1;
    for (int k = 0; k < def->np; k++) val[k] = def->defaults[k];
    int next_pos = 0;
    int seen_named = 0;
    for (int k = 0; k < nargs; k++) {
        const arg *a = &args[k];
        int idx = -1;
        if (a->name) {
            seen_named = 1;
            for (int q = 0; q < def->np; q++)
                if (strlen(def->pnames[q]) == a->name_len && !strncmp(def->pnames[q], a->name, a->name_len))
                    idx = q;
            if (idx < 0) {
                if (def->np == 0)
                    return spec_fail(lx, a->at, "%s takes no arguments", def->name);
                const char *sug = suggest(a->name, a->name_len, def->pnames, (size_t)def->np);
                char list[128] = "";
                for (int q = 0; q < def->np; q++) {
                    strncat(list, def->pnames[q], sizeof list - strlen(list) - 1);
                    if (q + 1 < def->np) strncat(list, ", ", sizeof list - strlen(list) - 1);
                }
                if (sug)
                    return spec_fail(lx, a->at, "%s: unknown parameter '%.*s' (did you mean '%s'?)",
                                     def->name, (int)a->name_len, a->name, sug);
                return spec_fail(lx, a->at, "%s: unknown parameter '%.*s' (parameters: %s)",
                                 def->name, (int)a->name_len, a->name, list);
            }
        } else {
            if (seen_named)
                return spec_fail(lx, a->at, "%s: positional argument after a named one", def->name);
            if (next_pos >= def->np) return too_many_args(lx, a->at, def);
            idx = next_pos++;
        }
        if (given[idx])
            return spec_fail(lx, a->at, "%s: '%s' given twice", def->name, def->pnames[idx]);
        given[idx] = 1;
        argpos[idx] = a->at;
        int is_param = !strcmp(def->pnames[idx], "param");
        if (is_param) {
            int pv = a->is_word ? parse_param_name(a->word, a->word_len) : -1;
            if (pv < 0)
                return spec_fail(lx, a->at, "%s: param must be 'ntk' or 'standard'", def->name);
            param = pv;
            continue;
        }
        if (a->is_word)
            return spec_fail(lx, a->at, "%s: '%s' must be a number, found '%.*s'", def->name,
                             def->pnames[idx], (int)a->word_len, a->word);
        val[idx] = a->value;
    }
    for (int k = 0; k < def->np; k++)
        if (isnan(val[k]) && strcmp(def->pnames[k], "param"))
            return spec_fail(lx, lpos, "%s: missing required argument '%s'", def->name, def->pnames[k]);

    L->pos = 0;
    if (def->kind == NTK_LAYER_DENSE) {
        double w = val[0];
        if (!(w >= 1) || w != floor(w))
            return spec_fail(lx, argpos[0], "dense: width must be a positive integer, got %g", w);
        if (w > 1e9)
            return spec_fail(lx, argpos[0], "dense: width must be at most 1000000000, got %g", w);
        if (val[1] < 0)
            return spec_fail(lx, argpos[1], "dense: w_std must be >= 0, got %g", val[1]);
        if (val[2] < 0)
            return spec_fail(lx, argpos[2], "dense: b_std must be >= 0, got %g", val[2]);
        L->width = (size_t)w;
        L->w_std = val[1];
        L->has_bias = given[2];
        L->b_std = given[2] ? val[2] : 0.0;
        L->param = param;
        return NTK_OK;
    }
    /* activations */
    L->a = L->b = L->c = 0;
    const char *n = def->name;
    if (!strcmp(n, "relu")) { L->a = 0; L->b = 1; }
    else if (!strcmp(n, "abs")) { L->a = -1; L->b = 1; }
    else if (!strcmp(n, "leaky_relu")) { L->a = val[0]; L->b = 1; }
    else if (!strcmp(n, "sigmoid_like")) { L->a = 0.5; L->b = 1 / 2.4020563531719796; L->c = 0.5; }
    else if (!strcmp(n, "elu")) {
        L->a = val[0];
    } else {
        if (def->np > 0) L->a = val[0];
        if (def->np > 1) L->b = val[1];
        if (def->np > 2) L->c = val[2];
    }
    return NTK_OK;
}

static const layer_def *find_def(const char *s, size_t n)
{
    for (size_t k = 0; k < NDEFS; k++)
        if (strlen(DEFS[k].name) == n && !strncmp(DEFS[k].name, s, n)) return &DEFS[k];
    return NULL;
}

ntk_status ntk_arch_parse(const char *spec, ntk_arch **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    if (!spec) return ntk_fail(err, NTK_E_INVAL, "spec: no architecture given");
    lexer lx = {spec, 0, err};
    ntk_arch *A = calloc(1, sizeof *A);
    size_t cap = 8;
    if (A) A->layers = calloc(cap, sizeof *A->layers);
    if (!A || !A->layers) {
        ntk_arch_free(A);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory parsing the spec");
    }
    ntk_status s = NTK_OK;
    /* where the last layer started, and its line: each layer's position is
     * counted on from there, not from the start (linear, not quadratic, in
     * the number of layers) */
    size_t last_at = 0;
    int last_line = 1, last_col = 1;
    skip_ws(&lx);
    if (!spec[lx.i]) { s = spec_fail(&lx, lx.i, "empty architecture"); goto fail; }
    for (;;) {
        skip_ws(&lx);
        size_t at = lx.i;
        const char *p = spec + at;
        if (!is_ident_start((unsigned char)*p)) {
            char what[48];
            describe_at(&lx, what, sizeof what);
            s = spec_fail(&lx, at, "expected a layer name, found %s", what);
            goto fail;
        }
        size_t k = 0;
        while (is_ident_char((unsigned char)p[k])) k++;
        const layer_def *def = find_def(p, k);
        if (!def) {
            const char *names[NDEFS];
            for (size_t q = 0; q < NDEFS; q++) names[q] = DEFS[q].name;
            const char *sug = suggest(p, k, names, NDEFS);
            if (sug)
                s = spec_fail(&lx, at, "unknown %s '%.*s' (did you mean '%s'?)",
                              strcmp(sug, "dense") ? "activation" : "layer", (int)k, p, sug);
            else
                s = spec_fail(&lx, at, "unknown layer '%.*s' (layers: dense; activations: relu, "
                              "leaky_relu, abs, abrelu, erf, sigmoid_like, sin, cos, identity, gelu, "
                              "tanh, sigmoid, softplus, silu, elu)", (int)k, p);
            goto fail;
        }
        lx.i += k;
        skip_ws(&lx);
        arg args[MAXP + 1];
        int nargs = 0;
        if (spec[lx.i] == '(') {
            lx.i++;
            s = parse_args(&lx, args, &nargs, MAXP + 1, def);
            if (s) goto fail;
        }
        if (A->n == cap) {
            ntk_layer *nl = realloc(A->layers, 2 * cap * sizeof *nl);
            if (!nl) { s = ntk_fail(err, NTK_E_NOMEM, "out of memory parsing the spec"); goto fail; }
            A->layers = nl;
            cap *= 2;
        }
        ntk_layer *L = &A->layers[A->n];
        memset(L, 0, sizeof *L);
        L->kind = def->kind;
        L->act = def->act;
        L->param = -1;
        s = bind_args(&lx, def, at, args, nargs, L);
        if (s) goto fail;
        pos_from(spec, last_at, last_line, last_col, at, &last_line, &last_col);
        last_at = at;
        L->pos = last_col;
        snprintf(L->name, sizeof L->name, "%s", def->name);
        if (A->n == 0 && L->kind != NTK_LAYER_DENSE) {
            s = spec_fail(&lx, at, "the network starts with the activation '%s'; the first layer must be dense",
                          def->name);
            goto fail;
        }
        A->n++;
        skip_ws(&lx);
        if (!spec[lx.i]) break;
        if (spec[lx.i] == ',') {
            lx.i++;
            skip_ws(&lx);
            if (!spec[lx.i]) { s = spec_fail(&lx, lx.i, "expected a layer after ','"); goto fail; }
            continue;
        }
        char what[48];
        describe_at(&lx, what, sizeof what);
        s = spec_fail(&lx, lx.i, "expected ',' or end of spec, found %s", what);
        goto fail;
    }
    *out = A;
    return NTK_OK;
fail:
    ntk_arch_free(A);
    return s;
}

void ntk_arch_free(ntk_arch *arch)
{
    if (!arch) return;
    free(arch->layers);
    free(arch);
}

size_t ntk_arch_n_layers(const ntk_arch *arch) { return arch ? arch->n : 0; }

const ntk_layer *ntk_arch_layer(const ntk_arch *arch, size_t i)
{
    return arch && i < arch->n ? &arch->layers[i] : NULL;
}

/* Shortest "%.*g" that reads back as the same double. */
static void fmt_num(char *buf, size_t n, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

size_t ntk_arch_format(const ntk_arch *arch, char *buf, size_t n)
{
    size_t len = 0;
    char tmp[320], a[32], b[32], c[32];
    if (n) buf[0] = '\0';
    for (size_t i = 0; arch && i < arch->n; i++) {
        const ntk_layer *L = &arch->layers[i];
        int k;
        fmt_num(a, sizeof a, L->kind == NTK_LAYER_DENSE ? L->w_std : L->a);
        fmt_num(b, sizeof b, L->kind == NTK_LAYER_DENSE ? L->b_std : L->b);
        fmt_num(c, sizeof c, L->c);
        if (L->kind == NTK_LAYER_DENSE) {
            k = snprintf(tmp, sizeof tmp, "dense(%zu,w_std=%s", L->width, a);
            if (L->has_bias) k += snprintf(tmp + k, sizeof tmp - (size_t)k, ",b_std=%s", b);
            if (L->param >= 0)
                k += snprintf(tmp + k, sizeof tmp - (size_t)k, ",param=%s",
                              L->param == NTK_PARAM_STANDARD ? "standard" : "ntk");
            k += snprintf(tmp + k, sizeof tmp - (size_t)k, ")");
        } else if (!strcmp(L->name, "leaky_relu") || !strcmp(L->name, "elu")) {
            k = snprintf(tmp, sizeof tmp, "%s(%s)", L->name, a);
        } else if (!strcmp(L->name, "abrelu")) {
            k = snprintf(tmp, sizeof tmp, "abrelu(%s,%s)", a, b);
        } else if (!strcmp(L->name, "erf") || !strcmp(L->name, "sin") || !strcmp(L->name, "cos")) {
            k = snprintf(tmp, sizeof tmp, "%s(%s,%s,%s)", L->name, a, b, c);
        } else {
            k = snprintf(tmp, sizeof tmp, "%s", L->name);
        }
        if (i > 0) {
            if (len + 1 < n) { buf[len] = ','; buf[len + 1] = '\0'; }
            len++;
        }
        if (len < n) snprintf(buf + len, n - len, "%s", tmp);
        len += (size_t)k;
    }
    return len;
}

/* A copy of arch's layers, or NULL when out of memory. */
static ntk_arch *arch_copy(const ntk_arch *arch)
{
    ntk_arch *A = calloc(1, sizeof *A);
    if (A) A->layers = malloc(arch->n * sizeof *A->layers);
    if (!A || !A->layers) {
        ntk_arch_free(A);
        return NULL;
    }
    memcpy(A->layers, arch->layers, arch->n * sizeof *A->layers);
    A->n = arch->n;
    return A;
}

ntk_status ntk_arch_set_hidden_width(const ntk_arch *arch, size_t width, ntk_arch **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    if (!arch || arch->n == 0) return ntk_fail(err, NTK_E_INVAL, "no architecture");
    if (width == 0 || width > 1000000000) return ntk_fail(err, NTK_E_INVAL, "width must be in [1, 1e9], got %zu", width);
    ntk_arch *A = arch_copy(arch);
    if (!A) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    size_t last = arch->n;
    for (size_t i = 0; i < arch->n; i++)
        if (arch->layers[i].kind == NTK_LAYER_DENSE) last = i;
    for (size_t i = 0; i < arch->n; i++)
        if (A->layers[i].kind == NTK_LAYER_DENSE && i != last) A->layers[i].width = width;
    *out = A;
    return NTK_OK;
}

/* The parser's rules for the values (w_std, b_std >= 0), and finite: a
 * spec cannot write an infinity, so the copy always formats into a spec
 * that parses back to it. */
ntk_status ntk_arch_set_std(const ntk_arch *arch, double w_std, double b_std, ntk_arch **out, ntk_error *err)
{
    ntk_error_clear(err);
    if (!out) return ntk_fail(err, NTK_E_INVAL, "ntk_arch_set_std: out must not be NULL");
    *out = NULL;
    if (!arch || arch->n == 0) return ntk_fail(err, NTK_E_INVAL, "no architecture");
    if (!isnan(w_std) && !(w_std >= 0 && isfinite(w_std)))
        return ntk_fail(err, NTK_E_INVAL, "w_std must be a finite number >= 0 (or NaN to keep), got %g", w_std);
    if (!isnan(b_std) && !(b_std >= 0 && isfinite(b_std)))
        return ntk_fail(err, NTK_E_INVAL, "b_std must be a finite number >= 0 (or NaN to keep), got %g", b_std);
    ntk_arch *A = arch_copy(arch);
    if (!A) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < A->n; i++) {
        ntk_layer *L = &A->layers[i];
        if (L->kind != NTK_LAYER_DENSE) continue;
        if (!isnan(w_std)) L->w_std = w_std;
        if (!isnan(b_std)) { /* 0: no bias, as a spec without b_std */
            L->has_bias = b_std > 0;
            L->b_std = b_std;
        }
    }
    *out = A;
    return NTK_OK;
}
