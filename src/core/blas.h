/*
 * blas.h — matrix products whose results do not depend on the thread
 * count. OpenBLAS partitions a product among its threads, and its kernels
 * treat partition edges differently, so the same product can differ in the
 * last bit between 1 and 2 threads (e.g. row counts not a multiple of 8).
 * ntk_dgemm fixes the partition instead: the output is cut into blocks of
 * NTK_GEMM_BLOCK rows or columns (a rule of the shapes alone), the blocks are
 * spread over OpenMP threads, and each block is one single-threaded OpenBLAS
 * call (OpenBLAS's OpenMP build runs single-threaded inside a parallel
 * region), so every entry is computed the same way for any thread count.
 * Inside a parallel region the caller has spread the work already: ntk_dgemm
 * is then one single-threaded call (the caller must have set one BLAS
 * thread there, omp_set_num_threads(1)).
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

#endif
