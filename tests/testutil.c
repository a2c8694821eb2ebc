/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_path(const char *rel)
{
    const char *dir = getenv("NTK_TEST_DIR");
    if (!dir) dir = ".";
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

char *tu_tmpfile(const char *suffix)
{
    static const char *fallback = "/tmp";
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = fallback;
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/ntk-test-XXXXXX", dir);
    int fd = mkstemp(tmpl);
    if (fd >= 0) { close(fd); unlink(tmpl); }
    size_t n = strlen(tmpl) + strlen(suffix) + 1;
    char *p = malloc(n);
    snprintf(p, n, "%s%s", tmpl, suffix);
    return p;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tu_uniform(tu_rng *r) { return (double)(splitmix(&r->s) >> 11) * 0x1.0p-53; }

double tu_normal(tu_rng *r)
{
    double u1 = tu_uniform(r), u2 = tu_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void tu_fill_normal(tu_rng *r, double *a, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) a[i] = scale * tu_normal(r);
}

double tu_max_rel(const double *a, const double *b, size_t n)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= m)) m = e; /* NaN propagates */
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    return m / (s > 1e-300 ? s : 1e-300);
}

double tu_frob_rel(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num) / sqrt(den > 1e-300 ? den : 1e-300);
}
