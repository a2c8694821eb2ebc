/*
 * testutil.h — helpers shared by the cmocka test programs: paths to test
 * data, a seeded RNG for random inputs, relative-error measures.
 */
#ifndef NTK_TESTUTIL_H
#define NTK_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ntk.h"

/* $NTK_TEST_DIR/<rel> (the tests/ folder of the source tree). Static buffer
 * per call site is not needed: returns a malloc'd string the caller frees. */
char *tu_path(const char *rel);
/* A fresh path in $TMPDIR (or /tmp) ending in `suffix`; caller frees. */
char *tu_tmpfile(const char *suffix);

/* splitmix64-based deterministic generator. */
typedef struct { uint64_t s; } tu_rng;
double tu_uniform(tu_rng *r);          /* [0,1) */
double tu_normal(tu_rng *r);           /* N(0,1) */
void tu_fill_normal(tu_rng *r, double *a, size_t n, double scale);
/* The calling thread's OpenMP thread count, which OpenBLAS's OpenMP build
 * follows too (what the CLI's --threads sets). */
void tu_set_threads(int n);
/* A malloc'd array of n N(0, scale²) draws from seed. */
double *tu_random(size_t n, uint64_t seed, double scale);
/* ntk_arch_parse, failing the test on an error. */
ntk_arch *tu_parse(const char *spec);

/* max_i |a_i - b_i| / max(max_i |b_i|, tiny): normalised max error. */
double tu_max_rel(const double *a, const double *b, size_t n);
/* ‖a−b‖_F / ‖b‖_F. */
double tu_frob_rel(const double *a, const double *b, size_t n);

/* bound[i] (n × k) ≥ |f̂_i − f_i| for every float64 evaluation f̂ of the
 * network's outputs f(x) on the n rows of x, whatever the summation order
 * or blocking of its products (so any two evaluations — batch sizes, BLAS
 * kernels, CPUs — differ by at most 2·bound[i]); the derivation is in
 * testutil.c. Returns max_i bound[i]. */
double tu_forward_error_bound(const ntk_net *net, const double *x, size_t n, double *bound);
/* max_i |a_i − b_i| / bound_i: ≤ 1 when a and b agree within the bounds. */
double tu_max_over_bound(const double *a, const double *b, const double *bound, size_t n);

#endif
