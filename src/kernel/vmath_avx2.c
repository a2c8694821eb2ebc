/*
 * vmath_avx2.c — the AVX2+FMA (4-lane) array wrappers of vmath.c; this file
 * alone is compiled with -mavx2 -mfma (CMakeLists.txt) and is only called
 * after vmath.c has checked that the CPU has both.
 */
#include "kernel/kernel_internal.h"

#if defined(NTK_HAVE_SLEEF)
#include <immintrin.h>
#include <sleef.h>

void ntk_vm_atan2_avx2(size_t n, const double *y, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 4)
        _mm256_storeu_pd(out + i, Sleef_atan2d4_u10avx2(_mm256_loadu_pd(y + i), _mm256_loadu_pd(x + i)));
}

void ntk_vm_exp_avx2(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 4) _mm256_storeu_pd(out + i, Sleef_expd4_u10avx2(_mm256_loadu_pd(x + i)));
}

void ntk_vm_acos_avx2(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 4) _mm256_storeu_pd(out + i, Sleef_acosd4_u10avx2(_mm256_loadu_pd(x + i)));
}
#else
typedef int ntk_vmath_avx2_unused; /* ISO C: no empty translation unit */
#endif
