/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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

void tu_set_threads(int n)
{
    openblas_set_num_threads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

double *tu_random(size_t n, uint64_t seed, double scale)
{
    tu_rng r = {seed};
    double *a = malloc((n ? n : 1) * sizeof *a);
    if (!a) fail_msg("out of memory for %zu doubles", n);
    tu_fill_normal(&r, a, n, scale);
    return a;
}

ntk_arch *tu_parse(const char *spec)
{
    ntk_arch *a = NULL;
    ntk_error err;
    if (ntk_arch_parse(spec, &a, &err)) fail_msg("%s: %s", spec, err.msg);
    return a;
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

/* Forward-error bound of a network (see testutil.h).
 *
 * Dense layer, z = w_mult·(W h) + b_mult·b, in any summation order or
 * blocking, with or without FMA: the inner product of n_in terms, the
 * scaling by w_mult, the bias product and the addition are n_in + 3
 * roundings, so (Higham, "Accuracy and Stability of Numerical Algorithms",
 * §3.1, γ_m = m·u/(1 − m·u), u = ε/2)
 *     |ẑ − z| ≤ γ_{n_in+3}·(|w_mult|·|W|·|h| + |b_mult·b|) + |w_mult|·|W|·|ĥ − h|.
 * Activation φ with Lipschitz constant L and |φ(z)| ≤ m0 + L·|z|, evaluated
 * (libm/SLEEF, ≤ 4 ulp, plus the few roundings around it — a·erf(b·z) + c
 * is 5 in all) to within 8u·(m0 + L·|z|):
 *     |φ̂(ẑ) − φ(z)| ≤ L·|ẑ − z| + 8u·(m0 + L·|z|).
 * The magnitudes s: s_0 = |x|, s' = |w_mult|·|W|·s + |b_mult·b| after a dense
 * layer, s' = m0 + L·s after an activation; then |h| ≤ s at every layer and,
 * by induction, |ĥ − h| ≤ G·s with G growing by γ_{n_in+3} per dense layer
 * and by 8u per activation. So |f̂ − f| ≤ G·s_out per output, to first
 * order in u (the factor 1.01 covers the O(u²) terms). */
static void act_lip(const ntk_layer *L, double *lip, double *m0)
{
    *m0 = 0;
    switch (L->act) {
    case NTK_ACT_IDENTITY: *lip = 1; break;
    case NTK_ACT_ABRELU: *lip = fmax(fabs(L->a), fabs(L->b)); break;
    case NTK_ACT_ERF: *lip = fabs(L->a * L->b) * M_2_SQRTPI; *m0 = fabs(L->c); break;
    case NTK_ACT_SIN:
    case NTK_ACT_COS: /* |φ| ≤ |a|; the rounding of b·z + c adds u·|a|·|c| */
        *lip = fabs(L->a * L->b);
        *m0 = fabs(L->a) * (1 + fabs(L->c));
        break;
    case NTK_ACT_GELU: *lip = 1.13; break;  /* max (Φ(z) + z·ϕ(z)) = 1.1289 */
    case NTK_ACT_TANH: *lip = 1; break;
    case NTK_ACT_SIGMOID: *lip = 0.25; *m0 = 0.5; break;
    case NTK_ACT_SOFTPLUS: *lip = 1; *m0 = M_LN2; break;
    case NTK_ACT_SILU: *lip = 1.1; break;   /* max d/dz z·σ(z) = 1.0998 */
    case NTK_ACT_ELU: *lip = fmax(1, fabs(L->a)); break;
    default: *lip = NAN; break;
    }
}

double tu_forward_error_bound(const ntk_net *net, const double *x, size_t n, double *bound)
{
    const ntk_arch *arch = ntk_net_arch(net);
    const double *th = ntk_net_params_const(net);
    const double u = 0x1p-53;
    size_t d = ntk_net_n_inputs(net), k = ntk_net_n_outputs(net), wmax = d;
    for (size_t l = 0; l < ntk_net_n_dense(net); l++)
        if (ntk_net_dense(net, l)->n_out > wmax) wmax = ntk_net_dense(net, l)->n_out;
    double *s = malloc(wmax * sizeof *s), *t = malloc(wmax * sizeof *t), G = 0, worst = 0;
    for (size_t r = 0; r < n; r++) {
        size_t width = d, dl = 0;
        G = 0;
        for (size_t c = 0; c < d; c++) s[c] = fabs(x[r * d + c]);
        for (size_t i = 0; i < ntk_arch_n_layers(arch); i++) {
            const ntk_layer *L = ntk_arch_layer(arch, i);
            if (L->kind == NTK_LAYER_DENSE) {
                const ntk_dense_info *D = ntk_net_dense(net, dl++);
                for (size_t o = 0; o < D->n_out; o++) {
                    double a = 0;
                    for (size_t c = 0; c < D->n_in; c++) a += fabs(th[D->w_offset + o * D->n_in + c]) * s[c];
                    t[o] = fabs(D->w_mult) * a + (D->has_bias ? fabs(D->b_mult * th[D->b_offset + o]) : 0.0);
                }
                double m = (double)(D->n_in + 3) * u;
                G += m / (1 - m);
                width = D->n_out;
            } else {
                double lip, m0;
                act_lip(L, &lip, &m0);
                for (size_t o = 0; o < width; o++) t[o] = m0 + lip * s[o];
                G += 8 * u;
            }
            memcpy(s, t, width * sizeof *s);
        }
        for (size_t a = 0; a < k; a++) {
            bound[r * k + a] = 1.01 * G * s[a];
            if (bound[r * k + a] > worst) worst = bound[r * k + a];
        }
    }
    free(s);
    free(t);
    return worst;
}

double tu_max_over_bound(const double *a, const double *b, const double *bound, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double q = fabs(a[i] - b[i]) / (bound[i] > 0 ? bound[i] : 1e-300);
        if (!(q <= m)) m = q; /* NaN propagates */
    }
    return m;
}
