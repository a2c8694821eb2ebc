/* blas.c — thread-count-independent BLAS products and the thread budget
 * of a call; see blas.h. */
#include "core/blas.h"

#include <stddef.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* In a parallel region, this thread's OpenBLAS calls run on one thread,
 * also when the team has one thread (an inactive region, where OpenBLAS
 * would otherwise follow the inherited thread count). */
static void one_blas_thread(void)
{
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
}

void ntk_dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double *a, int lda,
               const double *b, int ldb, double beta, double *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
#ifdef _OPENMP
    /* Called inside a parallel region (active or not: omp_get_level counts
     * a team of one too), whose caller spreads the work and runs BLAS on one
     * thread: one call, no pieces (each piece would pack the other operand
     * again), and the same partition whatever the thread count. */
    if (omp_get_level() > 0) {
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#endif
    /* Small products: OpenBLAS computes m·n·k ≤ 4·65536 on one thread
     * whatever the thread count (GEMM_MULTITHREAD_THRESHOLD), so call it
     * directly and spare the parallel region. */
    if ((double)m * (double)n * (double)k <= 262144.0) {
        cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const int B = NTK_GEMM_BLOCK;
    int by_rows = m >= n; /* cut the longer side of C */
    int nb = by_rows ? (m + B - 1) / B : (n + B - 1) / B;
#pragma omp parallel
    {
        one_blas_thread();
#pragma omp for schedule(static)
        for (int blk = 0; blk < nb; blk++) {
            int o = blk * B;
            if (by_rows) {
                int mb = m - o < B ? m - o : B;
                const double *ab = ta == CblasNoTrans ? a + (size_t)o * lda : a + o;
                cblas_dgemm(CblasRowMajor, ta, tb, mb, n, k, alpha, ab, lda, b, ldb, beta, c + (size_t)o * ldc, ldc);
            } else {
                int nbk = n - o < B ? n - o : B;
                const double *bb = tb == CblasNoTrans ? b + o : b + (size_t)o * ldb;
                cblas_dgemm(CblasRowMajor, ta, tb, m, nbk, k, alpha, a, lda, bb, ldb, beta, c + o, ldc);
            }
        }
    }
}

void ntk_dsyrk_upper(int m, int k, double alpha, const double *a, int lda, double beta, double *c, int ldc)
{
    if (m <= 0) return;
    const int B = NTK_GEMM_BLOCK;
    int nb = (m + B - 1) / B;
    int npairs = nb * (nb + 1) / 2;
#pragma omp parallel
    {
        one_blas_thread();
#pragma omp for schedule(dynamic)
        for (int p = 0; p < npairs; p++) {
            /* p → (bi, bj), bi ≤ bj, row-major over the upper block triangle */
            int bi = 0, rem = p;
            while (rem >= nb - bi) { rem -= nb - bi; bi++; }
            int bj = bi + rem;
            int i0 = bi * B, j0 = bj * B;
            int mi = m - i0 < B ? m - i0 : B, mj = m - j0 < B ? m - j0 : B;
            double *cb = c + (size_t)i0 * ldc + j0;
            if (bi == bj) {
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, mi, k, alpha, a + (size_t)i0 * lda, lda, beta, cb,
                            ldc);
            } else {
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mi, mj, k, alpha, a + (size_t)i0 * lda, lda,
                            a + (size_t)j0 * lda, lda, beta, cb, ldc);
            }
        }
    }
}

double ntk_ddot(int n, const double *x, const double *y)
{
    /* eight partial sums by index mod 8, added pairwise: an order that
     * depends on n alone */
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += x[i + j] * y[i + j];
    for (int j = 0; i < n; i++, j++) s[j] += x[i] * y[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

void ntk_dtrsm_right(CBLAS_UPLO uplo, CBLAS_TRANSPOSE ta, CBLAS_DIAG diag, int m, int n, double alpha,
                     const double *a, int lda, double *b, int ldb)
{
    if (m <= 0 || n <= 0) return;
    const int B = NTK_GEMM_BLOCK;
    int nb = (m + B - 1) / B;
    /* one block even at one thread: the same calls for every thread count */
#pragma omp parallel if (nb > 1)
    {
        one_blas_thread();
#pragma omp for schedule(static)
        for (int blk = 0; blk < nb; blk++) {
            int o = blk * B, mb = m - o < B ? m - o : B;
            cblas_dtrsm(CblasRowMajor, CblasRight, uplo, ta, diag, mb, n, alpha, a, lda, b + (size_t)o * ldb, ldb);
        }
    }
}

int ntk_threads_begin(int threads)
{
#ifdef _OPENMP
    if (threads <= 0) return 0;
    int saved = omp_get_max_threads();
    if (saved != threads) omp_set_num_threads(threads);
    return saved;
#else
    (void)threads;
    return 0;
#endif
}

void ntk_threads_end(int saved)
{
#ifdef _OPENMP
    if (saved > 0 && omp_get_max_threads() != saved) omp_set_num_threads(saved);
#else
    (void)saved;
#endif
}
