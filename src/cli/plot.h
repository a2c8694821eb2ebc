/*
 * plot.h — figures of the equivalence experiment (PLplot; PNG and SVG).
 * Each function writes BASE.png and BASE.svg; on failure returns -1 with a
 * one-line message in err.
 */
#ifndef NTK_CLI_PLOT_H
#define NTK_CLI_PLOT_H

#include <stddef.h>

#include "ntk.h"

typedef struct {
    const char *title, *xlabel;
    size_t M, n_widths, n_train;
    const double *xs;              /* M plot abscissae (sorted)              */
    const double *f;               /* n_widths × M network outputs           */
    const size_t *widths;
    const double *inf_mean, *inf_std; /* M each                              */
    const double *yt;              /* M true test values, or NULL            */
    const double *train_x, *train_y; /* n_train training points, or NULL      */
} plot_functions_data;

typedef struct {
    const char *title;
    size_t n_widths;
    const size_t *widths;
    const double *q[5];            /* the five quantities per width          */
    const char *names[5];
    double slope[5];
} plot_gaps_data;

typedef struct {
    const char *title;
    size_t n_widths, steps;
    const size_t *widths;
    const double *loss_net;        /* n_widths × (steps+1)                   */
    const double *loss_inf;        /* steps+1                                */
} plot_losses_data;

/* Each stages BASE.png and BASE.svg in the output set o (committed, or
 * discarded, by the caller with the run's other files). */
int plot_functions(ntk_outputs *o, const char *base, const plot_functions_data *d, char *err, size_t errn);
int plot_gaps(ntk_outputs *o, const char *base, const plot_gaps_data *d, char *err, size_t errn);
int plot_losses(ntk_outputs *o, const char *base, const plot_losses_data *d, char *err, size_t errn);

#endif
