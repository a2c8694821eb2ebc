/*
 * linear.c — the linearized network f_lin(x; θ) = f(x; θ0) + J0(x)·(θ − θ0)
 * (docs/math.md, "Finite networks and the empirical NTK": Linearization).
 *
 * Forward-mode JVP at θ0, n rows at once (row-major, as in net.c):
 *   dense:       Ż = w_mult·(H Ẇᵀ + Ḣ W0ᵀ) + b_mult·1ḃᵀ      (two dgemms)
 *   activation:  Ḣ' = φ'(Z) ⊙ Ż
 * where H, Z are the base network's activations at θ0 (its forward pass,
 * kept in an ntk_net_work) and (Ẇ, ḃ) = θ − θ0. The input carries no
 * tangent, so the first dense layer needs one dgemm. f_lin = f0 + Ḟ.
 * The gradient (VJP at θ0) is ntk_net_backward of the base network.
 */
#include "core/internal.h"
#include "net/linear_internal.h"

#include "core/blas.h"
#include <stdlib.h>
#include <string.h>

ntk_status ntk_linear_create(const ntk_net *net, ntk_linear **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    if (!net) return ntk_fail(err, NTK_E_INVAL, "no network to linearize");
    ntk_linear *lin = calloc(1, sizeof *lin);
    if (!lin) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    ntk_status s = ntk_net_clone(net, &lin->base, err);
    if (s) {
        free(lin);
        return s;
    }
    size_t P = net->n_params;
    lin->theta = malloc((P ? P : 1) * sizeof(double));
    if (!lin->theta) {
        ntk_linear_free(lin);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for %zu parameters", P);
    }
    memcpy(lin->theta, net->theta, P * sizeof(double));
    *out = lin;
    return NTK_OK;
}

void ntk_linear_free(ntk_linear *lin)
{
    if (!lin) return;
    ntk_net_free(lin->base);
    free(lin->theta);
    free(lin);
}

double *ntk_linear_params(ntk_linear *lin) { return lin->theta; }
const ntk_net *ntk_linear_base(const ntk_linear *lin) { return lin->base; }

/* ------------------------------------------------------------ workspace */

ntk_status lin_work_create(const ntk_linear *lin, size_t max_batch, lin_work **out, ntk_error *err)
{
    ntk_error_clear(err);
    *out = NULL;
    const ntk_net *net = lin->base;
    lin_work *w = calloc(1, sizeof *w);
    if (!w) return ntk_fail(err, NTK_E_NOMEM, "out of memory");
    ntk_status s = ntk_net_work_create(net, max_batch, &w->nw, err);
    if (s) {
        free(w);
        return s;
    }
    w->max_batch = max_batch;
    size_t sz;
    int bad = ntk_mul_size(max_batch, net->max_width, sizeof(double), &sz);
    if (!bad) {
        w->t0 = malloc(sz);
        w->t1 = malloc(sz);
        w->dtheta = malloc((net->n_params ? net->n_params : 1) * sizeof(double));
        bad = !w->t0 || !w->t1 || !w->dtheta;
    }
    if (bad) {
        lin_work_free(w);
        return ntk_fail(err, NTK_E_NOMEM, "out of memory for a linearization workspace of %zu rows", max_batch);
    }
    *out = w;
    return NTK_OK;
}

void lin_work_free(lin_work *w)
{
    if (!w) return;
    ntk_net_work_free(w->nw);
    free(w->dtheta);
    free(w->t0);
    free(w->t1);
    free(w);
}

/* ------------------------------------------------------------ JVP */

ntk_status lin_forward(const ntk_linear *lin, lin_work *w, const double *x, size_t n, int same_batch,
                       double *out, ntk_error *err)
{
    ntk_error_clear(err);
    const ntk_net *net = lin->base;
    ntk_net_work *nw = w->nw;
    ntk_status s;
    if (!(same_batch && nw->x == x && nw->n == n) && (s = ntk_net_forward(net, nw, x, n, NULL, err))) return s;

    size_t P = net->n_params;
    const double *theta0 = net->theta;
#pragma omp parallel for schedule(static) if (P > 65536)
    for (size_t i = 0; i < P; i++) w->dtheta[i] = lin->theta[i] - theta0[i];

    /* th: tangent of the current layer's input; NULL while it is zero. */
    const double *th = NULL;
    double *buf[2] = {w->t0, w->t1};
    int cur = 0;
    for (size_t i = 0; i < net->n_layers; i++) {
        const net_layer *N = &net->layers[i];
        const double *h = net_layer_input(net, nw, i);
        if (!N->is_dense) {
            if (!th) continue; /* φ'(z)·0 = 0 */
            double *t = (double *)th; /* always one of buf[] */
            net_act_deriv_mul_array(N->act, n * N->n_out, h, t);
            continue;
        }
        const ntk_dense_info *D = &net->dense[N->dense_index];
        double *zt = buf[cur];
        double beta = 0.0;
        if (D->has_bias) {
            const double *db = w->dtheta + D->b_offset;
            for (size_t r = 0; r < n; r++)
                for (size_t c = 0; c < D->n_out; c++) zt[r * D->n_out + c] = D->b_mult * db[c];
            beta = 1.0;
        }
        /* Ż += w_mult·H Ẇᵀ  (n × n_out) */
        ntk_dgemm(CblasNoTrans, CblasTrans, (int)n, (int)D->n_out, (int)D->n_in, D->w_mult, h,
                    (int)D->n_in, w->dtheta + D->w_offset, (int)D->n_in, beta, zt, (int)D->n_out);
        /* Ż += w_mult·Ḣ W0ᵀ */
        if (th)
            ntk_dgemm(CblasNoTrans, CblasTrans, (int)n, (int)D->n_out, (int)D->n_in, D->w_mult, th,
                        (int)D->n_in, theta0 + D->w_offset, (int)D->n_in, 1.0, zt, (int)D->n_out);
        th = zt;
        cur ^= 1;
    }
    if (out) {
        const double *f0 = nw->out[net->n_layers - 1];
        size_t m = n * net->k;
        for (size_t e = 0; e < m; e++) out[e] = th ? f0[e] + th[e] : f0[e];
    }
    return NTK_OK;
}

ntk_status lin_backward(const ntk_linear *lin, lin_work *w, const double *G, double *grad, ntk_error *err)
{
    return ntk_net_backward(lin->base, w->nw, G, grad, err);
}

ntk_status ntk_linear_apply(const ntk_linear *lin, const double *x, size_t n, double *out, ntk_error *err)
{
    ntk_error_clear(err);
    if (!lin) return ntk_fail(err, NTK_E_INVAL, "no linearized network");
    if (n == 0) return ntk_fail(err, NTK_E_SHAPE, "no rows to apply the linearized network to");
    const ntk_net *net = lin->base;
    ntk_status s = ntk_check_finite(x, n, net->d_in, "X", err);
    if (s) return s;
    size_t chunk = n < 4096 ? n : 4096;
    lin_work *w;
    if ((s = lin_work_create(lin, chunk, &w, err))) return s;
    for (size_t r = 0; r < n && !s; r += chunk) {
        size_t m = n - r < chunk ? n - r : chunk;
        s = lin_forward(lin, w, x + r * net->d_in, m, 0, out + r * net->k, err);
    }
    lin_work_free(w);
    return s;
}
