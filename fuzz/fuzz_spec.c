/*
 * fuzz_spec.c — the architecture spec language (ntk_arch_parse).
 *
 * The input, cut at its first NUL, is a spec. Beyond "no crash, no leak,
 * no UB", checked on every input:
 *   - a refusal is NTK_E_SPEC with a one-line "spec:LINE:COL: ..." message;
 *   - an accepted spec formats (ntk_arch_format) to a canonical spec that
 *     parses again, to the same layers, and formats identically;
 *   - ntk_arch_format into a short buffer writes a NUL-terminated prefix of
 *     the full text and returns the full length (snprintf's contract);
 *   - ntk_arch_set_hidden_width gives a spec that round-trips as well.
 */
#include "fuzz_common.h"

#include <string.h>

static char *format(const ntk_arch *a)
{
    size_t need = ntk_arch_format(a, NULL, 0);
    char *s = malloc(need + 1);
    if (!s) abort();
    size_t got = ntk_arch_format(a, s, need + 1);
    FZ_CHECK(got == need && strlen(s) == need, "format: %zu then %zu, strlen %zu", need, got, strlen(s));
    return s;
}

/* Every field that the spec defines (not pos: the canonical text places
 * layers elsewhere). */
static int same_layer(const ntk_layer *x, const ntk_layer *y)
{
    if (x->kind != y->kind || strcmp(x->name, y->name)) return 0;
    if (x->kind == NTK_LAYER_DENSE)
        return x->width == y->width && !memcmp(&x->w_std, &y->w_std, sizeof(double)) &&
               !memcmp(&x->b_std, &y->b_std, sizeof(double)) && x->has_bias == y->has_bias &&
               x->param == y->param;
    return x->act == y->act && !memcmp(&x->a, &y->a, sizeof(double)) && !memcmp(&x->b, &y->b, sizeof(double)) &&
           !memcmp(&x->c, &y->c, sizeof(double));
}

/* format(a) parses to the same layers and formats to the same text. */
static void check_round_trip(const ntk_arch *a, const char *from)
{
    char *f1 = format(a);
    ntk_arch *b = NULL;
    ntk_error err;
    ntk_status st = ntk_arch_parse(f1, &b, &err);
    FZ_CHECK(st == NTK_OK, "'%s' formats to '%s', which does not parse: %s", from, f1, err.msg);
    FZ_CHECK(ntk_arch_n_layers(a) == ntk_arch_n_layers(b), "'%s': %zu layers, then %zu", f1, ntk_arch_n_layers(a),
             ntk_arch_n_layers(b));
    for (size_t i = 0; i < ntk_arch_n_layers(a); i++)
        FZ_CHECK(same_layer(ntk_arch_layer(a, i), ntk_arch_layer(b, i)), "'%s' -> '%s': layer %zu differs", from, f1,
                 i + 1);
    char *f2 = format(b);
    FZ_CHECK(!strcmp(f1, f2), "'%s' formats to '%s', then to '%s'", from, f1, f2);

    /* short buffers: a NUL-terminated prefix, and the full length */
    size_t need = strlen(f1);
    size_t cuts[4] = {1, 2, need / 2 + 1, need};
    char *buf = malloc(need + 1);
    if (!buf) abort();
    for (int k = 0; k < 4; k++) {
        size_t n = cuts[k];
        if (n > need) continue;
        memset(buf, 'X', need + 1);
        size_t got = ntk_arch_format(a, buf, n);
        FZ_CHECK(got == need, "format into %zu bytes returned %zu, not %zu", n, got, need);
        FZ_CHECK(buf[n - 1] == '\0' && !strncmp(buf, f1, n - 1) && strlen(buf) == n - 1,
                 "format into %zu bytes of '%s' gave '%.*s'", n, f1, (int)n, buf);
    }
    free(buf);
    ntk_arch_free(b);
    free(f2);
    free(f1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    ntk_arch *a = NULL;
    ntk_error err;
    ntk_status st = ntk_arch_parse(s, &a, &err);
    if (st != NTK_OK) {
        FZ_CHECK(a == NULL, "a failed parse returned an architecture");
        FZ_CHECK(st == NTK_E_SPEC, "status %d: %s", (int)st, err.msg);
        FZ_CHECK(!strncmp(err.msg, "spec:", 5) && fz_one_line(err.msg), "message '%s'", err.msg);
        free(s);
        return 0;
    }
    size_t n = ntk_arch_n_layers(a);
    FZ_CHECK(n >= 1 && ntk_arch_layer(a, 0)->kind == NTK_LAYER_DENSE, "'%s': %zu layers, first not dense", s, n);
    check_round_trip(a, s);

    ntk_arch *w = NULL;
    size_t width = 1 + fz_hash(data, size) % 1000;
    FZ_CHECK(ntk_arch_set_hidden_width(a, width, &w, &err) == NTK_OK, "set_hidden_width(%zu): %s", width, err.msg);
    check_round_trip(w, s);
    ntk_arch_free(w);
    ntk_arch_free(a);
    free(s);
    return 0;
}
