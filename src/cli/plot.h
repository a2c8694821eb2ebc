/*
 * plot.h — figures of the equivalence experiment and of `ntk tune` (PLplot;
 * PNG and SVG). Each experiment function writes BASE.png and BASE.svg,
 * plot_tune the one file it is given; on failure they return -1 with a
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

/* `ntk tune`: the criterion against the ridge (log axis; ridges ≤ 0 are
 * left out), one line per (w_std, b_std): colour by w_std, line style by
 * b_std, the chosen point marked; the y range is cut at twice the upper
 * quartile's distance from the minimum (far worse ridges leave the frame). */
typedef struct {
    const char *title, *ylabel;
    size_t n_w, n_b, n_r;
    const double *w, *b;       /* n_w, n_b values; NULL: not swept (legend leaves them out) */
    const double *ridges;      /* n_r, ascending                                           */
    const double *crit;        /* n_w × n_b × n_r, (wi·n_b + bi)·n_r + ri; NaN: not available */
    size_t best;               /* index into crit of the chosen point                      */
    const char *note;          /* a line under the title (the chosen point), or NULL        */
} plot_tune_data;

/* Stages exactly `path` in the output set o: PNG or SVG by its extension
 * (.png / .svg). */
int plot_tune(ntk_outputs *o, const char *path, const plot_tune_data *d, char *err, size_t errn);

#endif
