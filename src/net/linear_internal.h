/*
 * linear_internal.h — the linearized network's internals and the batch
 * workspace of its forward-mode JVP, shared by linear.c and train.c.
 *
 * f_lin(x; θ) = f(x; θ0) + J0(x)·(θ − θ0)   (docs/math.md, "Linearization").
 * The JVP pushes (h, ḣ) through the layers of the network at θ0:
 *   dense:       z = w_mult·W0 h + b_mult·b0,   ż = w_mult·(Ẇ h + W0 ḣ) + b_mult·ḃ
 *   activation:  h' = φ(z),                     ḣ' = φ'(z)·ż
 * with (Ẇ, ḃ) = θ − θ0. The gradient of a loss of f_lin is the VJP at θ0,
 * i.e. the ordinary backward pass of the network at θ0 with G = ∂L/∂f_lin.
 * No Jacobian is stored: memory is that of one forward pass plus two
 * tangent buffers and one copy of θ − θ0.
 */
#ifndef NTK_LINEAR_INTERNAL_H
#define NTK_LINEAR_INTERNAL_H

#include "net/net_internal.h"

struct ntk_linear {
    ntk_net *base;   /* the network at θ0 (owned clone)                   */
    double *theta;   /* θ, n_params                                       */
};

/* Workspace for batches of up to max_batch rows. Holds the base network's
 * forward state for the last batch (for the VJP) and the JVP scratch. */
typedef struct {
    size_t max_batch;
    ntk_net_work *nw;    /* forward state of the network at θ0            */
    double *dtheta;      /* θ − θ0, n_params                              */
    double *t0, *t1;     /* tangents ḣ, max_batch × max_width             */
} lin_work;

ntk_status lin_work_create(const ntk_linear *lin, size_t max_batch, lin_work **out, ntk_error *err);
void lin_work_free(lin_work *w);

/* f_lin on n ≤ max_batch rows (x: n × d_in, must stay valid until the
 * matching lin_backward); out (n × k) may be NULL. same_batch != 0 promises
 * that x holds the same rows as in the previous lin_forward on this
 * workspace: the forward pass at θ0 (which does not depend on θ) is then
 * reused and only the JVP is computed. */
ntk_status lin_forward(const ntk_linear *lin, lin_work *w, const double *x, size_t n, int same_batch,
                       double *out, ntk_error *err);

/* ∂L/∂θ of L(f_lin) for the batch last forwarded, given G = ∂L/∂f_lin
 * (n × k): the VJP at θ0, J0ᵀ G. grad (n_params) is overwritten. */
ntk_status lin_backward(const ntk_linear *lin, lin_work *w, const double *G, double *grad, ntk_error *err);

/* The shape checks of ntk_train / ntk_train_linear for callers that know
 * the shapes of X and Y separately (the public calls take one row count
 * and imply d_in and k columns): X must be rows × d_in, Y x_rows × k.
 * Messages: "y has 3 columns but the network has 1 output", ... */
ntk_status net_train_check_shapes(const ntk_net *net, size_t x_rows, size_t x_cols, size_t y_rows,
                                  size_t y_cols, ntk_error *err);

#endif
