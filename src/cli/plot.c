/*
 * plot.c — the equivalence experiment's figures with PLplot (cairo PNG and
 * SVG drivers): (a) the test-set function of each width against the
 * infinite-width NTK mean ± 2σ, (b) gaps and kernel drift against width on
 * log–log axes with fitted slopes, (c) training-loss curves.
 * Each figure is drawn once per format into a file staged in the run's
 * output set (outputs.c), so that the run's files appear all together.
 */
#include "plot.h"

#include "io/io_internal.h" /* ntk_outputs_path */

#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* palette: 0 background, 1 axes/text, 2.. series */
static const int PAL[][3] = {{255, 255, 255}, {0, 0, 0},    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},
                             {214, 39, 40},   {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                             {188, 189, 34},  {23, 190, 207},  {200, 200, 200}};
#define NPAL ((int)(sizeof PAL / sizeof PAL[0]))

static int begin(const char *dev, const char *file)
{
    plsdev(dev);
    plsfnam(file);
    plspage(0, 0, 960, 640, 0, 0);
    plscmap0n(NPAL);
    for (int i = 0; i < NPAL; i++) plscol0(i, PAL[i][0], PAL[i][1], PAL[i][2]);
    plinit();
    plfontld(1);
    plschr(0, 0.9);
    return 0;
}

static int series_color(size_t i) { return 2 + (int)(i % 9); }

typedef void (*draw_fn)(const void *ctx);

/* Draws into `final` with the PLplot device dev, staged in the output set
 * o: PLplot writes to the path the set gives (the anonymous temporary file
 * through /proc/self/fd, or a temporary name). Returns 0 or -1. */
static int render_file(ntk_outputs *o, const char *final, const char *dev, draw_fn draw, const void *ctx, char *err,
                       size_t errn)
{
    char wpath[4200];
    ntk_error e;
    if (ntk_outputs_path(o, final, wpath, sizeof wpath, &e)) {
        snprintf(err, errn, "%s", e.msg);
        return -1;
    }
    begin(dev, wpath);
    draw(ctx);
    plend();
    struct stat sb; /* PLplot reports no errors: an empty file is its failure */
    if (stat(wpath, &sb) != 0 || sb.st_size <= 0) {
        ntk_outputs_fail(o);
        snprintf(err, errn, "%s: the plot could not be written (PLplot %s driver)", final, dev);
        return -1;
    }
    return 0;
}

/* Draws into BASE.png and BASE.svg, staged in the output set o. Returns 0
 * or -1. */
static int render(ntk_outputs *o, const char *base, draw_fn draw, const void *ctx, char *err, size_t errn)
{
    static const char *devs[2] = {"pngcairo", "svgcairo"};
    static const char *exts[2] = {"png", "svg"};
    for (int f = 0; f < 2; f++) {
        char final[4096];
        snprintf(final, sizeof final, "%s.%s", base, exts[f]);
        if (render_file(o, final, devs[f], draw, ctx, err, errn)) return -1;
    }
    return 0;
}

static void minmax(const double *a, size_t n, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) continue;
        if (a[i] < *lo) *lo = a[i];
        if (a[i] > *hi) *hi = a[i];
    }
}

/* ---------------------------------------------------------------- (a) */

static void draw_functions(const void *vctx)
{
    const plot_functions_data *c = vctx;
    size_t M = c->M;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    minmax(c->xs, M, &xlo, &xhi);
    double *lo = malloc(M * sizeof *lo), *hi = malloc(M * sizeof *hi);
    for (size_t i = 0; i < M; i++) {
        lo[i] = c->inf_mean[i] - 2 * c->inf_std[i];
        hi[i] = c->inf_mean[i] + 2 * c->inf_std[i];
    }
    minmax(lo, M, &ylo, &yhi);
    minmax(hi, M, &ylo, &yhi);
    for (size_t w = 0; w < c->n_widths; w++) minmax(c->f + w * M, M, &ylo, &yhi);
    if (c->yt) minmax(c->yt, M, &ylo, &yhi);
    if (c->train_y) minmax(c->train_y, c->n_train, &ylo, &yhi);
    double pad = 0.05 * (yhi - ylo + 1e-12);
    plcol0(1);
    plenv(xlo, xhi, ylo - pad, yhi + 0.25 * (yhi - ylo + 1e-12), 0, 0);
    pllab(c->xlabel, "f(x)", c->title);
    /* ±2σ band as a filled polygon */
    double *px = malloc(2 * M * sizeof *px), *py = malloc(2 * M * sizeof *py);
    for (size_t i = 0; i < M; i++) {
        px[i] = c->xs[i];
        py[i] = hi[i];
        px[2 * M - 1 - i] = c->xs[i];
        py[2 * M - 1 - i] = lo[i];
    }
    plcol0(12);
    plfill((PLINT)(2 * M), px, py);
    plcol0(1);
    plwidth(2.5);
    plline((PLINT)M, c->xs, c->inf_mean);
    plwidth(1.5);
    for (size_t w = 0; w < c->n_widths; w++) {
        plcol0(series_color(w));
        plline((PLINT)M, c->xs, c->f + w * M);
    }
    if (c->yt) {
        plcol0(9);
        pllsty(2);
        plline((PLINT)M, c->xs, c->yt);
        pllsty(1);
    }
    if (c->train_x && c->train_y) {
        plcol0(1);
        plpoin((PLINT)c->n_train, (PLFLT *)c->train_x, (PLFLT *)c->train_y, 17);
    }
    /* legend: one text line per series in the upper margin */
    char buf[96];
    double ytext = yhi + 0.2 * (yhi - ylo + 1e-12), dx = (xhi - xlo) / 6.0;
    plschr(0, 0.7);
    plcol0(1);
    plptex(xlo + 0.02 * (xhi - xlo), ytext, 1, 0, 0, "NTK mean, +-2 sd");
    for (size_t w = 0; w < c->n_widths && w < 5; w++) {
        plcol0(series_color(w));
        snprintf(buf, sizeof buf, "width %zu", c->widths[w]);
        plptex(xlo + dx * (double)(w + 1) + 0.05 * (xhi - xlo), ytext, 1, 0, 0, buf);
    }
    plschr(0, 0.9);
    free(px);
    free(py);
    free(lo);
    free(hi);
}

int plot_functions(ntk_outputs *o, const char *base, const plot_functions_data *d, char *err, size_t errn)
{
    return render(o, base, draw_functions, d, err, errn);
}

/* ---------------------------------------------------------------- (b) */

static void draw_gaps(const void *vctx)
{
    const plot_gaps_data *c = vctx;
    size_t W = c->n_widths;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    double lx[64];
    for (size_t i = 0; i < W && i < 64; i++) lx[i] = log10((double)c->widths[i]);
    minmax(lx, W, &xlo, &xhi);
    double ly[5][64];
    for (int q = 0; q < 5; q++)
        for (size_t i = 0; i < W && i < 64; i++) {
            ly[q][i] = c->q[q][i] > 0 ? log10(c->q[q][i]) : NAN;
            if (isfinite(ly[q][i])) minmax(&ly[q][i], 1, &ylo, &yhi);
        }
    if (!(yhi > ylo)) { ylo -= 1; yhi += 1; }
    double padx = 0.1 * (xhi - xlo + 1e-9), pady = 0.1 * (yhi - ylo);
    plcol0(1);
    plenv(xlo - padx, xhi + padx, ylo - pady, yhi + 0.5 * (yhi - ylo), 0, 30);
    pllab("hidden width", "relative / RMS gap", c->title);
    for (int q = 0; q < 5; q++) {
        plcol0(2 + q);
        plline((PLINT)W, lx, ly[q]);
        plpoin((PLINT)W, lx, ly[q], 9);
        /* fitted line through the mean point */
        if (isfinite(c->slope[q])) {
            double mx = 0, my = 0;
            size_t n = 0;
            for (size_t i = 0; i < W; i++)
                if (isfinite(ly[q][i])) { mx += lx[i]; my += ly[q][i]; n++; }
            if (n) {
                mx /= (double)n;
                my /= (double)n;
                double fx[2] = {xlo, xhi}, fy[2] = {my + c->slope[q] * (xlo - mx), my + c->slope[q] * (xhi - mx)};
                pllsty(2);
                plline(2, fx, fy);
                pllsty(1);
            }
        }
    }
    char buf[128];
    plschr(0, 0.7);
    for (int q = 0; q < 5; q++) {
        plcol0(2 + q);
        snprintf(buf, sizeof buf, "%s (slope %.2f)", c->names[q], c->slope[q]);
        plptex(xlo + (q % 2) * 0.5 * (xhi - xlo), yhi + (0.45 - 0.1 * (q / 2)) * (yhi - ylo), 1, 0, 0, buf);
    }
    plschr(0, 0.9);
}

int plot_gaps(ntk_outputs *o, const char *base, const plot_gaps_data *d, char *err, size_t errn)
{
    return render(o, base, draw_gaps, d, err, errn);
}

/* ---------------------------------------------------------------- (c) */

static void draw_losses(const void *vctx)
{
    const plot_losses_data *c = vctx;
    size_t T = c->steps, W = c->n_widths;
    double *lx = malloc(T * sizeof *lx), *ly = malloc(T * sizeof *ly);
    double ylo = INFINITY, yhi = -INFINITY;
    for (size_t t = 1; t <= T; t++) lx[t - 1] = log10((double)t);
    for (size_t w = 0; w <= W; w++) {
        const double *L = w < W ? c->loss_net + w * (T + 1) : c->loss_inf;
        for (size_t t = 1; t <= T; t++)
            if (L[t] > 0) minmax((double[]){log10(L[t])}, 1, &ylo, &yhi);
    }
    if (!(yhi > ylo)) { ylo -= 1; yhi += 1; }
    plcol0(1);
    plenv(0, log10((double)T), ylo - 0.05 * (yhi - ylo), yhi + 0.3 * (yhi - ylo), 0, 30);
    pllab("gradient-descent step", "training loss", c->title);
    for (size_t w = 0; w <= W; w++) {
        const double *L = w < W ? c->loss_net + w * (T + 1) : c->loss_inf;
        for (size_t t = 1; t <= T; t++) ly[t - 1] = L[t] > 0 ? log10(L[t]) : NAN;
        plcol0(w < W ? series_color(w) : 1);
        if (w == W) pllsty(2);
        plline((PLINT)T, lx, ly);
        pllsty(1);
    }
    char buf[96];
    plschr(0, 0.7);
    double ytext = yhi + 0.2 * (yhi - ylo), X = log10((double)T);
    for (size_t w = 0; w <= W && w < 6; w++) {
        plcol0(w < W ? series_color(w) : 1);
        if (w < W) snprintf(buf, sizeof buf, "width %zu", c->widths[w]);
        else snprintf(buf, sizeof buf, "infinite width");
        plptex(0.02 * X + X * (double)w / 6.0, ytext, 1, 0, 0, buf);
    }
    plschr(0, 0.9);
    free(lx);
    free(ly);
}

int plot_losses(ntk_outputs *o, const char *base, const plot_losses_data *d, char *err, size_t errn)
{
    return render(o, base, draw_losses, d, err, errn);
}

/* ---------------------------------------------------------------- ntk tune */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void draw_tune(const void *vctx)
{
    const plot_tune_data *c = vctx;
    size_t nr = c->n_r, ns = c->n_w * c->n_b;
    double *lx = malloc(nr * sizeof *lx), *ly = malloc(nr * sizeof *ly);
    if (!lx || !ly) {
        free(lx);
        free(ly);
        return;
    }
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t r = 0; r < nr; r++) lx[r] = c->ridges[r] > 0 ? log10(c->ridges[r]) : NAN;
    minmax(lx, nr, &xlo, &xhi);
    /* y from the smallest value to the largest, but at most twice as far
     * above it as the upper quartile: the minimum and the landscape around
     * it stay visible when a few ridges are far worse (lines above are
     * clipped at the frame) */
    double *v = malloc(ns * nr * sizeof *v);
    size_t nv = 0;
    for (size_t i = 0; v && i < ns * nr; i++)
        if (isfinite(c->crit[i]) && isfinite(lx[i % nr])) v[nv++] = c->crit[i];
    if (nv) {
        qsort(v, nv, sizeof *v, cmp_double);
        ylo = v[0];
        yhi = v[nv - 1];
        double q3 = v[(3 * (nv - 1)) / 4];
        if (q3 > ylo && ylo + 2 * (q3 - ylo) < yhi) yhi = ylo + 2 * (q3 - ylo);
    }
    free(v);
    if (!(xhi > xlo)) { xlo -= 1; xhi += 1; }
    if (!(yhi >= ylo)) { ylo = 0; yhi = 1; }
    if (!(yhi > ylo)) { ylo -= 0.5 * fabs(ylo) + 0.5; yhi += 0.5 * fabs(yhi) + 0.5; }
    double pady = 0.05 * (yhi - ylo), padx = 0.03 * (xhi - xlo);
    int legend = c->w || c->b;
    plcol0(1);
    pladv(0);
    plvpor(0.12, legend ? 0.8 : 0.95, 0.12, 0.9); /* room on the right for the legend */
    plwind(xlo - padx, xhi + padx, ylo - pady, yhi + pady);
    plbox("bclnst", 0, 0, "bcnstv", 0, 0);
    pllab("ridge", c->ylabel, c->title);
    if (c->note) {
        plschr(0, 0.7);
        plmtex("t", 0.8, 0.5, 0.5, c->note);
        plschr(0, 0.9);
    }
    plwidth(1.5);
    for (size_t s = 0; s < ns; s++) {
        size_t wi = s / c->n_b, bi = s % c->n_b;
        plcol0(series_color(wi));
        pllsty((PLINT)(1 + bi % 8));
        for (size_t r = 0; r < nr; r++) ly[r] = c->crit[s * nr + r];
        /* one polyline per run of plottable points (unreliable ridges break it) */
        for (size_t r0 = 0; r0 < nr;) {
            while (r0 < nr && !(isfinite(lx[r0]) && isfinite(ly[r0]))) r0++;
            size_t r1 = r0;
            while (r1 < nr && isfinite(lx[r1]) && isfinite(ly[r1])) r1++;
            if (r1 - r0 == 1) plpoin(1, lx + r0, ly + r0, 1);
            else if (r1 > r0) plline((PLINT)(r1 - r0), lx + r0, ly + r0);
            r0 = r1;
        }
    }
    pllsty(1);
    size_t br = c->best % nr;
    double bv = c->crit[c->best];
    double px = lx[br], py = bv;
    if (isfinite(px) && isfinite(py)) {
        plcol0(1);
        plssym(0, 2.5);
        plpoin(1, &px, &py, 18);
        plssym(0, 1.0);
    }
    /* legend: colours name w_std, line styles b_std */
    enum { MAXL = 24 };
    int nl = 0, opt[MAXL], tcol[MAXL], lcol[MAXL], lsty[MAXL];
    double lwid[MAXL];
    char txt[MAXL][48];
    const char *tp[MAXL];
    for (size_t i = 0; c->w && i < c->n_w && nl < MAXL / 2; i++, nl++) {
        snprintf(txt[nl], sizeof txt[nl], "w_std %g", c->w[i]);
        lcol[nl] = tcol[nl] = series_color(i);
        lsty[nl] = 1;
    }
    for (size_t i = 0; c->b && i < c->n_b && nl < MAXL; i++, nl++) {
        snprintf(txt[nl], sizeof txt[nl], "b_std %g", c->b[i]);
        lcol[nl] = c->w ? 1 : series_color(0);
        tcol[nl] = 1;
        lsty[nl] = (int)(1 + i % 8);
    }
    if (nl) {
        for (int i = 0; i < nl; i++) {
            opt[i] = PL_LEGEND_LINE;
            lwid[i] = 1.5;
            tp[i] = txt[i];
        }
        PLFLT lw, lh;
        plschr(0, 0.7);
        pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE,
                 0.01, 0.0, 0.06, 0, 1, 1, nl, 1, nl, opt, 0.8, 0.8, 1.8, 0.0, tcol, tp, NULL, NULL, NULL, NULL,
                 lcol, lsty, lwid, NULL, NULL, NULL, NULL);
        plschr(0, 0.9);
    }
    free(lx);
    free(ly);
}

int plot_tune(ntk_outputs *o, const char *path, const plot_tune_data *d, char *err, size_t errn)
{
    const char *dot = strrchr(path, '.');
    const char *dev = dot && !strcmp(dot, ".png") ? "pngcairo" : dot && !strcmp(dot, ".svg") ? "svgcairo" : NULL;
    if (!dev) {
        ntk_outputs_fail(o);
        snprintf(err, errn, "%s: unknown plot format (use .png or .svg)", path);
        return -1;
    }
    return render_file(o, path, dev, draw_tune, d, err, errn);
}
