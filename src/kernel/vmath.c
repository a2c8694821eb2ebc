/*
 * vmath.c — the elementary functions of the closed-form duals (atan2, exp,
 * acos)
 * over arrays, for the tiled kernel (tile.c). With SLEEF (NTK_HAVE_SLEEF):
 * the u10 functions, error ≤ 1.0 ulp (SLEEF's documented bound; measured
 * by tests/test_kernel_fast.c against long-double libm), chosen at run time
 * by the CPU: 8 lanes with AVX-512F (vmath_avx512.c), 4 with AVX2+FMA
 * (vmath_avx2.c), else 2 through SLEEF's own dispatcher (SSE2/SSE4.1/
 * AVX2-128). Without
 * SLEEF: plain libm loops. Every element goes through a full vector lane
 * (n must be a multiple of NTK_VM_PAD), and each lane is computed alone, so
 * a value never depends on its position in the array: the same input gives
 * the same bits wherever it sits, which the kernel's exact self-pairs rely on.
 */
#include "kernel/kernel_internal.h"

#include <math.h>
#include <stddef.h>

#ifdef NTK_HAVE_SLEEF
#include <emmintrin.h>
#include <sleef.h>

void ntk_vm_atan2_sse2(size_t n, const double *y, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 2)
        _mm_storeu_pd(out + i, Sleef_atan2d2_u10(_mm_loadu_pd(y + i), _mm_loadu_pd(x + i)));
}

void ntk_vm_exp_sse2(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 2) _mm_storeu_pd(out + i, Sleef_expd2_u10(_mm_loadu_pd(x + i)));
}

void ntk_vm_acos_sse2(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i += 2) _mm_storeu_pd(out + i, Sleef_acosd2_u10(_mm_loadu_pd(x + i)));
}

/* 2: AVX-512F, 1: AVX2+FMA, 0: neither. libgcc fills the CPU model before
 * main; each query is a load, so nothing is cached here (no mutable
 * globals). Called once per tile of 256 entries. */
static int isa(void)
{
    return __builtin_cpu_supports("avx512f")                                     ? 2
           : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                              : 0;
}

void ntk_vm_atan2(size_t n, const double *y, const double *x, double *out)
{
    switch (isa()) {
    case 2: ntk_vm_atan2_avx512(n, y, x, out); break;
    case 1: ntk_vm_atan2_avx2(n, y, x, out); break;
    default: ntk_vm_atan2_sse2(n, y, x, out);
    }
}

void ntk_vm_exp(size_t n, const double *x, double *out)
{
    switch (isa()) {
    case 2: ntk_vm_exp_avx512(n, x, out); break;
    case 1: ntk_vm_exp_avx2(n, x, out); break;
    default: ntk_vm_exp_sse2(n, x, out);
    }
}

void ntk_vm_acos(size_t n, const double *x, double *out)
{
    switch (isa()) {
    case 2: ntk_vm_acos_avx512(n, x, out); break;
    case 1: ntk_vm_acos_avx2(n, x, out); break;
    default: ntk_vm_acos_sse2(n, x, out);
    }
}

const char *ntk_vm_isa(void)
{
    static const char *name[] = {"SLEEF u10, 2 lanes (SLEEF's SSE2/SSE4.1/AVX2 dispatcher)",
                                 "SLEEF u10, AVX2+FMA (4 lanes)", "SLEEF u10, AVX-512F (8 lanes)"};
    return name[isa()];
}

#else

void ntk_vm_atan2(size_t n, const double *y, const double *x, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = atan2(y[i], x[i]);
}

void ntk_vm_exp(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = exp(x[i]);
}

void ntk_vm_acos(size_t n, const double *x, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = acos(x[i]);
}

/* without SLEEF the per-ISA entry points are libm too */
void ntk_vm_atan2_sse2(size_t n, const double *y, const double *x, double *out) { ntk_vm_atan2(n, y, x, out); }
void ntk_vm_exp_sse2(size_t n, const double *x, double *out) { ntk_vm_exp(n, x, out); }
void ntk_vm_atan2_avx2(size_t n, const double *y, const double *x, double *out) { ntk_vm_atan2(n, y, x, out); }
void ntk_vm_exp_avx2(size_t n, const double *x, double *out) { ntk_vm_exp(n, x, out); }
void ntk_vm_atan2_avx512(size_t n, const double *y, const double *x, double *out) { ntk_vm_atan2(n, y, x, out); }
void ntk_vm_exp_avx512(size_t n, const double *x, double *out) { ntk_vm_exp(n, x, out); }
void ntk_vm_acos_sse2(size_t n, const double *x, double *out) { ntk_vm_acos(n, x, out); }
void ntk_vm_acos_avx2(size_t n, const double *x, double *out) { ntk_vm_acos(n, x, out); }
void ntk_vm_acos_avx512(size_t n, const double *x, double *out) { ntk_vm_acos(n, x, out); }

const char *ntk_vm_isa(void) { return "libm (scalar; built without SLEEF)"; }

#endif
