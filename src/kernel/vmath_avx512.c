/*
 * vmath_avx512.c — the AVX-512F (8-lane) array wrappers of vmath.c; this
 * file alone is compiled with -mavx512f (CMakeLists.txt) and is only called
 * after vmath.c has checked that the CPU has it.
 */
#include "kernel/kernel_internal.h"

#if defined(NTK_HAVE_SLEEF)
#include <immintrin.h>
#include <sleef.h>

void ntk_vm_atan2_avx512(size_t n, const double *y, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 8)
        _mm512_storeu_pd(out + i, Sleef_atan2d8_u10avx512f(_mm512_loadu_pd(y + i), _mm512_loadu_pd(x + i)));
}

void ntk_vm_exp_avx512(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 8) _mm512_storeu_pd(out + i, Sleef_expd8_u10avx512f(_mm512_loadu_pd(x + i)));
}

void ntk_vm_acos_avx512(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 8) _mm512_storeu_pd(out + i, Sleef_acosd8_u10avx512f(_mm512_loadu_pd(x + i)));
}
#else
typedef int ntk_vmath_avx512_unused; /* ISO C: no empty translation unit */
#endif
