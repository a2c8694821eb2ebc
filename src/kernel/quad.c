/*
 * quad.c — Gauss–Legendre rules and the polar quadrature rule used for dual
 * activations without a closed form (see kernel_internal.h for the layout).
 * Nodes by Newton's method on the three-term recurrence of P_n, started at
 * Tricomi's approximation; converged to machine precision for n ≤ 96.
 */
#include "core/internal.h"
#include "kernel/kernel_internal.h"

#include <math.h>

#define PI 3.14159265358979323846

void ntk_gauss_legendre(int n, double *x, double *w)
{
    for (int i = 0; i < (n + 1) / 2; i++) {
        double z = cos(PI * (i + 0.75) / (n + 0.5)), dp = 1;
        for (int it = 0; it < 100; it++) {
            double p0 = 1, p1 = z;
            for (int k = 2; k <= n; k++) {
                double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            if (n == 1) { p1 = z; p0 = 1; }
            dp = n * (z * p1 - p0) / (z * z - 1);
            double dz = p1 / dp;
            z -= dz;
            if (fabs(dz) < 1e-16) break;
        }
        /* recompute P_n' at the converged node for the weight */
        double p0 = 1, p1 = z;
        for (int k = 2; k <= n; k++) {
            double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
            p0 = p1;
            p1 = p2;
        }
        dp = n * (z * p1 - p0) / (z * z - 1);
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = w[n - 1 - i] = 2 / ((1 - z * z) * dp * dp);
    }
    if (n % 2) x[n / 2] = 0.0;
}

/* Radial panels: fine near 0, where a large-variance smooth φ (tanh at
 * q = 50) changes fastest, coarser in the Gaussian tail. */
static const double RADIAL_EDGES[NTK_QUAD_RADIAL_PANELS + 1] = {0, 0.35, 1.0, 2.0, 3.4, 5.2, 7.6, 11.0};

ntk_status ntk_quad_init(ntk_quad *q, int m, ntk_error *err)
{
    if (m == 0) m = NTK_QUAD_DEFAULT_DEGREE;
    if (m < 2 || m > NTK_QUAD_MAX_DEGREE)
        return ntk_fail(err, NTK_E_INVAL, "quadrature degree %d is out of range [2, %d]", m,
                        NTK_QUAD_MAX_DEGREE);
    q->m = m;
    ntk_gauss_legendre(m, q->gx, q->gw);
    int nr = m / 2 > NTK_QUAD_RADIAL_NODES ? m / 2 : NTK_QUAD_RADIAL_NODES;
    if (nr > NTK_QUAD_RADIAL_NODES_MAX) nr = NTK_QUAD_RADIAL_NODES_MAX;
    double rx[NTK_QUAD_RADIAL_NODES_MAX], rwt[NTK_QUAD_RADIAL_NODES_MAX];
    ntk_gauss_legendre(nr, rx, rwt);
    int j = 0;
    for (int p = 0; p < NTK_QUAD_RADIAL_PANELS; p++) {
        double a = RADIAL_EDGES[p], b = RADIAL_EDGES[p + 1];
        double h = 0.5 * (b - a), c = 0.5 * (a + b);
        for (int k = 0; k < nr; k++, j++) {
            double r = c + h * rx[k];
            q->r[j] = r;
            q->rw[j] = h * rwt[k] * r * exp(-0.5 * r * r) / (2 * PI);
        }
    }
    q->nr = j;
    return NTK_OK;
}
