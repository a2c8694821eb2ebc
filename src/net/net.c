/*
 * net.c — finite fully-connected networks built from an ntk spec:
 * parameters in one block, seeded initialisation, batched forward and
 * backward passes on BLAS (docs/math.md, "Finite networks").
 *
 * Dense layer, n rows at once: Z = w_mult·H·Wᵀ + b_mult·1bᵀ  (dgemm);
 * backward: ∂W = w_mult·Δᵀ H, ∂b = b_mult·Σ_rows Δ, ∂H = w_mult·Δ W.
 * Activations elementwise with φ and φ' of src/kernel/act.c.
 */
#include "core/internal.h"
#include "net/net_internal.h"

#include "core/blas.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9E3779B97F4A7C15ull

uint64_t net_seed_key(uint64_t seed) { return splitmix_mix(seed + GOLDEN); }

double net_normal(uint64_t key, uint64_t i)
{
    uint64_t a = splitmix_mix(key + (2 * i + 1) * GOLDEN);
    uint64_t b = splitmix_mix(key + (2 * i + 2) * GOLDEN);
    double u0 = (double)(a >> 11) * 0x1.0p-53; /* [0,1) */
    double u1 = (double)(b >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log1p(-u0)) * cos(2 * M_PI * u1);
}

ntk_status ntk_net_create(const ntk_arch *arch, size_t d_in, ntk_param param, ntk_net **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    if (!arch || ntk_arch_n_layers(arch) == 0) return ntk_fail(err, NTK_E_INVAL, "no architecture");
    if (d_in == 0) return ntk_fail(err, NTK_E_SHAPE, "the inputs have no columns");
    if (param != NTK_PARAM_NTK && param != NTK_PARAM_STANDARD)
        return ntk_fail(err, NTK_E_INVAL, "unknown parameterization %d", (int)param);
    size_t nl = ntk_arch_n_layers(arch);
    ntk_net *net = calloc(1, sizeof *net);
    if (!net) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    char *canon = NULL;
    size_t len = ntk_arch_format(arch, NULL, 0);
    canon = malloc(len + 1);
    net->layers = calloc(nl, sizeof *net->layers);
    net->dense = calloc(nl, sizeof *net->dense);
    ntk_status s;
    if (!canon || !net->layers || !net->dense) { s = ntk_fail(err, NTK_E_NOMEM, "out of memory"); goto fail; }
    ntk_arch_format(arch, canon, len + 1);
    if ((s = ntk_arch_parse(canon, &net->arch, err))) goto fail;
    free(canon);
    canon = NULL;
    net->param = param;
    net->d_in = d_in;
    net->n_layers = nl;
    size_t width = d_in, off = 0, maxw = d_in;
    int have_dense = 0;
    for (size_t i = 0; i < nl; i++) {
        const ntk_layer *L = ntk_arch_layer(net->arch, i);
        net_layer *N = &net->layers[i];
        N->n_in = width;
        if (L->kind == NTK_LAYER_DENSE) {
            ntk_dense_info *D = &net->dense[net->n_dense];
            N->is_dense = 1;
            N->dense_index = net->n_dense++;
            N->n_out = L->width;
            D->n_in = width;
            D->n_out = L->width;
            D->layer = i;
            D->param = L->param >= 0 ? (ntk_param)L->param : param;
            D->has_bias = L->has_bias;
            if (D->param == NTK_PARAM_NTK) {
                D->w_mult = L->w_std / sqrt((double)width);
                D->b_mult = L->b_std;
            } else {
                D->w_mult = 1.0;
                D->b_mult = 1.0;
            }
            size_t wsz;
            if (ntk_mul_size(L->width, width, 1, &wsz) || off + wsz + L->width < off) {
                s = ntk_fail(err, NTK_E_NOMEM, "layer %zu: too many parameters", i + 1);
                goto fail;
            }
            D->w_offset = off;
            off += wsz;
            if (L->has_bias) {
                D->b_offset = off;
                off += L->width;
            }
            width = L->width;
            have_dense = 1;
        } else {
            N->act = L;
            N->n_out = width;
        }
        if (width > maxw) maxw = width;
    }
    if (!have_dense) { s = ntk_fail(err, NTK_E_SPEC, "the network has no dense layer"); goto fail; }
    net->k = width;
    net->n_params = off;
    net->max_width = maxw;
    size_t bytes;
    if (ntk_mul_size(off, 1, sizeof(double), &bytes) || !(net->theta = calloc(off ? off : 1, sizeof(double)))) {
        s = ntk_fail(err, NTK_E_NOMEM, "out of memory for %zu parameters", off);
        goto fail;
    }
    *out = net;
    return NTK_OK;
fail:
    free(canon);
    ntk_net_free(net);
    return s;
}

void ntk_net_free(ntk_net *net)
{
    if (!net) return;
    ntk_arch_free(net->arch);
    free(net->layers);
    free(net->dense);
    free(net->theta);
    free(net);
}

ntk_status ntk_net_clone(const ntk_net *net, ntk_net **out, ntk_error *err)
{
    ntk_status s = ntk_net_create(net->arch, net->d_in, net->param, out, err);
    if (s) return s;
    memcpy((*out)->theta, net->theta, net->n_params * sizeof(double));
    return NTK_OK;
}

size_t ntk_net_n_params(const ntk_net *net) { return net->n_params; }
size_t ntk_net_n_inputs(const ntk_net *net) { return net->d_in; }
size_t ntk_net_n_outputs(const ntk_net *net) { return net->k; }
size_t ntk_net_n_dense(const ntk_net *net) { return net->n_dense; }
ntk_param ntk_net_param(const ntk_net *net) { return net->param; }
const ntk_arch *ntk_net_arch(const ntk_net *net) { return net->arch; }
const ntk_dense_info *ntk_net_dense(const ntk_net *net, size_t l) { return l < net->n_dense ? &net->dense[l] : NULL; }
double *ntk_net_params(ntk_net *net) { return net->theta; }
const double *ntk_net_params_const(const ntk_net *net) { return net->theta; }

ntk_status ntk_net_init(ntk_net *net, uint64_t seed, ntk_error *err)
{
    ntk_error_clear(err);
    uint64_t key = net_seed_key(seed);
    for (size_t l = 0; l < net->n_dense; l++) {
        const ntk_dense_info *D = &net->dense[l];
        const ntk_layer *L = ntk_arch_layer(net->arch, D->layer);
        double sw = D->param == NTK_PARAM_NTK ? 1.0 : L->w_std / sqrt((double)D->n_in);
        double sb = D->param == NTK_PARAM_NTK ? 1.0 : L->b_std;
        size_t nw = D->n_in * D->n_out;
        /* counter-based: each entry depends only on (seed, index), so the
         * loop can be split among threads without changing θ0 */
#pragma omp parallel for schedule(static) if (nw > 65536)
        for (size_t i = 0; i < nw; i++) net->theta[D->w_offset + i] = sw * net_normal(key, D->w_offset + i);
        if (D->has_bias)
            for (size_t i = 0; i < D->n_out; i++) net->theta[D->b_offset + i] = sb * net_normal(key, D->b_offset + i);
    }
    return NTK_OK;
}

/* ------------------------------------------------------------ activations over arrays */

void net_act_eval_array(const ntk_layer *L, size_t n, const double *restrict z, double *restrict out)
{
    if (L->act == NTK_ACT_ABRELU) {
        const double a = L->a, b = L->b;
        for (size_t e = 0; e < n; e++) out[e] = z[e] > 0 ? b * z[e] : a * z[e];
    } else { /* libm per entry: worth the threads */
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t e = 0; e < n; e++) out[e] = ntk_act_eval(L, z[e]);
    }
}

void net_act_deriv_mul_array(const ntk_layer *L, size_t n, const double *restrict z, double *restrict g)
{
    if (L->act == NTK_ACT_IDENTITY) return;
    if (L->act == NTK_ACT_ABRELU) {
        const double a = L->a, b = L->b, m = 0.5 * (a + b);
        for (size_t e = 0; e < n; e++) g[e] *= z[e] > 0 ? b : z[e] < 0 ? a : m;
    } else {
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t e = 0; e < n; e++) g[e] *= ntk_act_deriv(L, z[e]);
    }
}

/* ------------------------------------------------------------ workspace */

ntk_status ntk_net_work_create(const ntk_net *net, size_t max_batch, ntk_net_work **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    if (max_batch == 0) return ntk_fail(err, NTK_E_INVAL, "batch size must be positive");
    ntk_net_work *w = calloc(1, sizeof *w);
    if (!w) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    w->max_batch = max_batch;
    w->n_layers = net->n_layers;
    w->out = calloc(net->n_layers, sizeof *w->out);
    size_t sz;
    int bad = !w->out || ntk_mul_size(max_batch, net->max_width, sizeof(double), &sz);
    for (size_t i = 0; !bad && i < net->n_layers; i++) {
        if (ntk_mul_size(max_batch, net->layers[i].n_out, sizeof(double), &sz) || !(w->out[i] = malloc(sz)))
            bad = 1;
    }
    if (!bad) {
        ntk_mul_size(max_batch, net->max_width, sizeof(double), &sz);
        w->g0 = malloc(sz);
        w->g1 = malloc(sz);
        bad = !w->g0 || !w->g1;
    }
    if (bad) {
        ntk_net_work_free(w);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for a workspace of %zu rows", max_batch);
    }
    *out = w;
    return NTK_OK;
}

void ntk_net_work_free(ntk_net_work *w)
{
    if (!w) return;
    if (w->out) {
        for (size_t i = 0; i < w->n_layers; i++) free(w->out[i]);
        free(w->out);
    }
    free(w->g0);
    free(w->g1);
    free(w);
}

/* ------------------------------------------------------------ forward */

ntk_status ntk_net_forward(const ntk_net *net, ntk_net_work *w, const double *x, size_t n, double *out,
                           ntk_error *err)
{
    ntk_error_clear(err);
    if (n == 0 || n > w->max_batch)
        return ntk_fail(err, NTK_E_SHAPE, "batch of %zu rows (workspace holds %zu)", n, w->max_batch);
    w->x = x;
    w->n = n;
    const double *h = x;
    for (size_t i = 0; i < net->n_layers; i++) {
        const net_layer *N = &net->layers[i];
        double *z = w->out[i];
        if (N->is_dense) {
            const ntk_dense_info *D = &net->dense[N->dense_index];
            const double *W = net->theta + D->w_offset;
            if (D->has_bias) {
                const double *b = net->theta + D->b_offset;
                for (size_t r = 0; r < n; r++)
                    for (size_t c = 0; c < D->n_out; c++) z[r * D->n_out + c] = D->b_mult * b[c];
            }
            ntk_dgemm(CblasNoTrans, CblasTrans, (int)n, (int)D->n_out, (int)D->n_in, D->w_mult, h,
                        (int)D->n_in, W, (int)D->n_in, D->has_bias ? 1.0 : 0.0, z, (int)D->n_out);
        } else {
            net_act_eval_array(N->act, n * N->n_out, h, z);
        }
        h = z;
    }
    if (out) memcpy(out, h, n * net->k * sizeof(double));
    return NTK_OK;
}

/* Chunks of 4096 rows (a rule of n alone, so the thread count changes
 * nothing), each forwarded with `threads` threads (ntk.h, "Threads"). */
ntk_status ntk_net_apply(const ntk_net *net, const double *x, size_t n, double *out, int threads, ntk_error *err)
{
    ntk_error_clear(err);
    if (threads < 0) return ntk_fail(err, NTK_E_INVAL, "threads must be >= 0, got %d", threads);
    if (n == 0) return ntk_fail(err, NTK_E_SHAPE, "no rows to apply the network to");
    ntk_status s = ntk_check_finite(x, n, net->d_in, "X", err);
    if (s) return s;
    size_t chunk = n < 4096 ? n : 4096;
    ntk_net_work *w;
    if ((s = ntk_net_work_create(net, chunk, &w, err))) return s;
    int saved = ntk_threads_begin(threads);
    for (size_t r = 0; r < n && !s; r += chunk) {
        size_t m = n - r < chunk ? n - r : chunk;
        s = ntk_net_forward(net, w, x + r * net->d_in, m, out + r * net->k, err);
    }
    ntk_threads_end(saved);
    ntk_net_work_free(w);
    return s;
}

/* ------------------------------------------------------------ backward */

ntk_status net_backward_hook(const ntk_net *net, ntk_net_work *w, const double *G, double *grad,
                             net_dense_hook on_dense, void *ctx, ntk_error *err)
{
    ntk_error_clear(err);
    size_t n = w->n;
    if (n == 0) return ntk_fail(err, NTK_E_INVAL, "backward pass without a forward pass");
    double *g = w->g0, *gn = w->g1;
    memcpy(g, G, n * net->k * sizeof(double));
    for (size_t ii = net->n_layers; ii-- > 0;) {
        const net_layer *N = &net->layers[ii];
        const double *h = net_layer_input(net, w, ii);
        if (!N->is_dense) {
            net_act_deriv_mul_array(N->act, n * N->n_out, h, g);
            continue;
        }
        const ntk_dense_info *D = &net->dense[N->dense_index];
        if (on_dense) on_dense(ctx, N->dense_index, g, h, n);
        if (grad) {
            /* ∂W (n_out × n_in) = w_mult·gᵀ h */
            ntk_dgemm(CblasTrans, CblasNoTrans, (int)D->n_out, (int)D->n_in, (int)n, D->w_mult, g,
                        (int)D->n_out, h, (int)D->n_in, 0.0, grad + D->w_offset, (int)D->n_in);
            if (D->has_bias) {
                double *gb = grad + D->b_offset;
                for (size_t c = 0; c < D->n_out; c++) gb[c] = 0;
                for (size_t r = 0; r < n; r++)
                    for (size_t c = 0; c < D->n_out; c++) gb[c] += g[r * D->n_out + c];
                for (size_t c = 0; c < D->n_out; c++) gb[c] *= D->b_mult;
            }
        }
        if (ii > 0) {
            /* ∂h (n × n_in) = w_mult·g W */
            ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)n, (int)D->n_in, (int)D->n_out, D->w_mult, g,
                        (int)D->n_out, net->theta + D->w_offset, (int)D->n_in, 0.0, gn, (int)D->n_in);
            double *t = g;
            g = gn;
            gn = t;
        }
    }
    return NTK_OK;
}

void net_backward_seeds(const ntk_net *net, const ntk_net_work *w, double *const *dst, double *seed, double *drow)
{
    const size_t n = w->n, k = net->k;
    const size_t last = net->layers[net->n_layers - 1].is_dense ? net->layers[net->n_layers - 1].dense_index : SIZE_MAX;
    /* the seeds e_a, straight into the last dense layer's rows if f is its output */
    double *g = last != SIZE_MAX ? dst[last] : seed;
    memset(g, 0, n * k * k * sizeof *g);
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < k; a++) g[(i * k + a) * k + a] = 1.0;
    size_t width = k;
    for (size_t ii = net->n_layers; ii-- > 0;) {
        const net_layer *N = &net->layers[ii];
        const double *h = net_layer_input(net, w, ii);
        if (!N->is_dense) {
            /* rows (i, a): δ ⊙ φ'(z_i), φ' formed once per point */
            for (size_t i = 0; i < n; i++) {
                for (size_t e = 0; e < width; e++) drow[e] = 1.0;
                net_act_deriv_mul_array(N->act, width, h + i * width, drow);
                for (size_t a = 0; a < k; a++) {
                    double *gr = g + (i * k + a) * width;
                    for (size_t e = 0; e < width; e++) gr[e] *= drow[e];
                }
            }
            continue;
        }
        const size_t l = N->dense_index;
        const ntk_dense_info *D = &net->dense[l];
        if (g != dst[l]) memcpy(dst[l], g, n * k * width * sizeof *g);
        if (l == 0) break; /* no dense layer below: nothing more to store */
        /* rows (i, a) of ∂h = w_mult·δ W, into the next dense layer's store */
        ntk_dgemm(CblasNoTrans, CblasNoTrans, (int)(n * k), (int)D->n_in, (int)D->n_out, D->w_mult, dst[l],
                  (int)D->n_out, net->theta + D->w_offset, (int)D->n_in, 0.0, dst[l - 1], (int)D->n_in);
        g = dst[l - 1];
        width = D->n_in;
    }
}

ntk_status ntk_net_backward(const ntk_net *net, ntk_net_work *w, const double *G, double *grad, ntk_error *err)
{
    return net_backward_hook(net, w, G, grad, NULL, NULL, err);
}
