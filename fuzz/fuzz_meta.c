/*
 * fuzz_meta.c — the "key = value" parser of the meta.txt members
 * (ntk_meta_parse, src/io/meta.c), which saved networks and kernel models
 * share.
 *
 * The input is the text. Checked on every input:
 *   - a text holding a NUL is refused; a refusal is NTK_E_FORMAT with a
 *     one-line message naming the file;
 *   - on success every value found lies inside the text, holds no newline,
 *     and has no surrounding blanks; every key given is found again when
 *     the line it came from is scanned by hand.
 */
#include "fuzz_common.h"
#include "io/io_internal.h"

#include <string.h>

static const char *const KEYS[] = {"format", "d_in", "k", "n_params", "seed", "a b", "x=y"};
#define NKEYS ((int)(sizeof KEYS / sizeof *KEYS))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *val[NKEYS];
    ntk_error err;
    ntk_status st = ntk_meta_parse(text, size, "meta.txt", KEYS, NKEYS, val, &err);
    if (memchr(data, '\0', size)) FZ_CHECK(st == NTK_E_FORMAT, "a NUL byte was accepted");
    if (st != NTK_OK) {
        FZ_CHECK(st == NTK_E_FORMAT, "status %d", (int)st);
        FZ_CHECK(!strncmp(err.msg, "meta.txt: ", 10) && fz_one_line(err.msg), "message '%s'", err.msg);
        free(text);
        return 0;
    }
    for (int i = 0; i < NKEYS; i++) {
        const char *v = val[i];
        if (!v) continue;
        size_t n = strlen(v);
        FZ_CHECK(v >= text && v + n <= text + size, "value of '%s' outside the text", KEYS[i]);
        FZ_CHECK(!strchr(v, '\n'), "value of '%s' holds a newline", KEYS[i]);
        FZ_CHECK(!n || (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t' && v[n - 1] != '\r'),
                 "value of '%s' is '%s'", KEYS[i], v);
        /* the original line: "<blanks>KEY<blanks>=" before the value */
        size_t off = (size_t)(v - text);
        const uint8_t *line = data + off;
        while (line > data && line[-1] != '\n') line--;
        const uint8_t *p = line;
        while (*p == ' ' || *p == '\t') p++;
        size_t kl = strlen(KEYS[i]);
        FZ_CHECK(!memcmp(p, KEYS[i], kl), "value of '%s' does not follow its key", KEYS[i]);
        p += kl;
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        FZ_CHECK(*p == '=', "value of '%s' does not follow '='", KEYS[i]);
    }
    free(text);
    return 0;
}
