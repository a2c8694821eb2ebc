/*
 * meta.c — the "key = value" text members (meta.txt) of ntk's .npz files
 * (saved networks, kernel models): one parser for both.
 */
#include "io/io_internal.h"

#include <string.h>

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

ntk_status ntk_meta_parse(char *text, size_t n, const char *path, const char *const *keys, int nkeys, char **val,
                          ntk_error *err)
{
    for (int i = 0; i < nkeys; i++) val[i] = NULL;
    if (strlen(text) != n) return ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt holds a NUL byte", path);
    int lineno = 0;
    for (char *line = text; line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        lineno++;
        /* values end up in messages, which stay one printable line: no
         * control characters but tabs and a CRLF line end */
        for (const unsigned char *c = (const unsigned char *)line; *c; c++)
            if ((*c < 0x20 && *c != '\t' && !(*c == '\r' && !c[1])) || *c == 0x7f)
                return ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt line %d: control character 0x%02x", path, lineno,
                                (unsigned)*c);
        char *t = trim(line);
        line = nl ? nl + 1 : NULL;
        if (!*t || *t == '#') continue;
        char *eq = strchr(t, '=');
        if (!eq) return ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt line %d: expected 'key = value'", path, lineno);
        *eq = '\0';
        char *key = trim(t), *v = trim(eq + 1);
        for (int i = 0; i < nkeys; i++) {
            if (strcmp(key, keys[i])) continue;
            if (val[i]) return ntk_fail(err, NTK_E_FORMAT, "%s: meta.txt line %d: '%s' given twice", path, lineno, key);
            val[i] = v;
        }
    }
    return NTK_OK;
}
