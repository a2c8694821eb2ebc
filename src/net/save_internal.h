/*
 * save_internal.h — saving and loading a network or a linearized model as
 * an .npz archive (save.c). ntk_net_save / ntk_net_load are the public
 * pair for networks; these internal calls add what the `ntk` command
 * needs: the seed in meta.txt, and linearized models (`ntk train
 * --linearized`, read back by `ntk apply`).
 *
 * A linearized model f_lin(x; θ) = f(x; θ0) + ϕ0(x)·(θ − θ0) is saved as
 * the archive of a network holding its trained θ ("dense<l>.W/.b"), plus
 * θ0 as "theta0.dense<l>.W/.b" and "linearized = 1" in meta.txt.
 * ntk_net_load refuses such a file: its θ alone is not the model.
 */
#ifndef NTK_SAVE_INTERNAL_H
#define NTK_SAVE_INTERNAL_H

#include "ntk.h"

/* What meta.txt records besides the shapes. */
typedef struct {
    int has_seed;   /* 1: write "seed = <seed>" (θ0 came from ntk_net_init) */
    uint64_t seed;
} net_save_info;

/* Saves a network (lin == NULL) or a linearized model (net ignored, may
 * be NULL). info may be NULL. Written atomically (ntk_npz_write). */
ntk_status net_save_model(const ntk_net *net, const ntk_linear *lin, const net_save_info *info,
                          const char *path, ntk_error *err);
/* The same, staged in an output set (committed with the set's other files). */
ntk_status net_save_model_to(ntk_outputs *o, const ntk_net *net, const ntk_linear *lin,
                             const net_save_info *info, const char *path, ntk_error *err);

/* Loads either kind: on success exactly one of *net, *lin is set (the
 * other NULL). lin may be NULL, and then a linearized file is an error
 * (NTK_E_FORMAT), as in ntk_net_load. */
ntk_status net_load_model(const char *path, ntk_net **net, ntk_linear **lin, ntk_error *err);

#endif
