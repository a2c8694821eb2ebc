/*
 * blas.h — matrix products whose results do not depend on the thread
 * count, and the thread budget of a library call.
 *
 * OpenBLAS partitions a product among its threads, and its kernels treat
 * partition edges differently, so the same product can differ in the last
 * bit between 1 and 2 threads (e.g. row counts not a multiple of 8); its
 * ddot above 10000 terms adds per-thread partial sums. The products here
 * fix the partition instead: the output is cut into blocks of
 * NTK_GEMM_BLOCK rows or columns (a rule of the shapes alone), the blocks
 * are spread over OpenMP threads, and each block is one single-threaded
 * OpenBLAS call (OpenBLAS's OpenMP build runs single-threaded inside a
 * parallel region; each region also sets its threads' count to 1), so
 * every entry is computed the same way for any thread count. Inside a
 * parallel region the caller has spread the work already: ntk_dgemm is then
 * one single-threaded call (the caller must have set one BLAS thread
 * there, omp_set_num_threads(1)).
 */
#ifndef NTK_BLAS_H
#define NTK_BLAS_H

#include <cblas.h>

#define NTK_GEMM_BLOCK 128

/* C = alpha·op(A)·op(B) + beta·C, row-major, like cblas_dgemm. */
void ntk_dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double *a, int lda,
               const double *b, int ldb, double beta, double *c, int ldc);

/* Upper triangle (and diagonal) of C = alpha·A·Aᵀ + beta·C, A m×k
 * row-major; the strict lower triangle is left untouched. */
void ntk_dsyrk_upper(int m, int k, double alpha, const double *a, int lda, double beta, double *c, int ldc);

/* x·y over n contiguous entries, in an order fixed by n alone: not by the
 * thread count (OpenBLAS's ddot adds per-thread partial sums above 10000
 * entries), nor by the arrays' addresses (its SSE kernels, e.g. Prescott's,
 * sum an unaligned head apart, so the same row at two addresses could get
 * two sums — and a point shared by X1 and X2 must get one). */
double ntk_ddot(int n, const double *x, const double *y);

/* B ← alpha·B·op(A)⁻¹, row-major B (m×n), A (n×n) triangular, like
 * cblas_dtrsm with CblasRight: every row of B is solved on its own, so B
 * is cut into blocks of NTK_GEMM_BLOCK rows. */
void ntk_dtrsm_right(CBLAS_UPLO uplo, CBLAS_TRANSPOSE ta, CBLAS_DIAG diag, int m, int n, double alpha,
                     const double *a, int lda, double *b, int ldb);

/* The thread budget of a call that takes a `threads` (include/ntk.h,
 * "Threads"): threads > 0 sets the calling thread's OpenMP thread count
 * (its nthreads-var, which every parallel region of the call and OpenBLAS's
 * OpenMP build follow) until ntk_threads_end; threads ≤ 0 keeps the
 * caller's. Returns what ntk_threads_end needs to restore it. */
int ntk_threads_begin(int threads);
void ntk_threads_end(int saved);

#endif
