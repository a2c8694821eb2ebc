/*
 * net_internal.h — the finite network's internals, shared by the files of
 * src/net/ (forward/backward, empirical kernels, training, linearization).
 */
#ifndef NTK_NET_INTERNAL_H
#define NTK_NET_INTERNAL_H

#include "ntk.h"

/* One layer of the architecture as the finite network sees it. */
typedef struct {
    int is_dense;
    size_t n_in, n_out;     /* activation: n_in = n_out = the width       */
    size_t dense_index;     /* dense: index among dense layers            */
    const ntk_layer *act;   /* activation layer                           */
} net_layer;

struct ntk_net {
    ntk_arch *arch;         /* owned copy                                  */
    ntk_param param;
    size_t d_in, k, n_params, n_layers, n_dense, max_width;
    net_layer *layers;
    ntk_dense_info *dense;  /* n_dense entries                             */
    double *theta;          /* n_params                                    */
};

struct ntk_net_work {
    size_t max_batch, n, n_layers;
    const double *x;        /* input of the last forward batch (not owned) */
    double **out;           /* out[i]: output of layer i, n × n_out(i)      */
    double *g0, *g1;        /* backprop scratch, max_batch × max_width      */
};

/* The input of layer i for the last forward batch (x for i = 0). */
static inline const double *net_layer_input(const ntk_net *net, const ntk_net_work *w, size_t i)
{
    (void)net;
    return i == 0 ? w->x : w->out[i - 1];
}

/* Backward pass with hooks: for each dense layer l (visited from the last
 * to the first), `on_dense(ctx, l, delta, h)` receives δ_l = ∂(Σ G·f)/∂z_l
 * (n × n_out) and the layer input h (n × n_in). grad may be NULL. */
typedef void (*net_dense_hook)(void *ctx, size_t l, const double *delta, const double *h, size_t n);
ntk_status net_backward_hook(const ntk_net *net, ntk_net_work *w, const double *G, double *grad,
                             net_dense_hook on_dense, void *ctx, ntk_error *err);

/* The δ's of every output at once for the last forward batch (n rows):
 * for each dense layer l, dst[l] (n·k × n_out(l)) gets row i·k + a =
 * δ_l^a(x_i) = ∂f_a(x_i)/∂z_l: one backward pass on n·k rows, seeded with
 * e_a, the masks φ'(z) of point i applied to its k rows. seed (n·k × k) is
 * scratch for a network that ends in an activation, drow (max_width) for
 * the masks. */
void net_backward_seeds(const ntk_net *net, const ntk_net_work *w, double *const *dst, double *seed, double *drow);

/* Activations over arrays (net.c): out[e] = φ(z[e]) and
 * g[e] *= φ'(z[e]), the same values as ntk_act_eval/ntk_act_deriv entry by
 * entry; the kind is dispatched once per array, so (Ab)ReLU and identity run
 * as plain vectorized loops. */
void net_act_eval_array(const ntk_layer *L, size_t n, const double *z, double *out);
void net_act_deriv_mul_array(const ntk_layer *L, size_t n, const double *z, double *g);

/* The seeded standard normal of parameter i (see ntk_net_init). */
double net_normal(uint64_t key, uint64_t i);
uint64_t net_seed_key(uint64_t seed);

#endif
