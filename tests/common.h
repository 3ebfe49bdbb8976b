/* Shared test helpers: deterministic random data, comparisons and a central finite-difference
 * gradient checker (in double, on a float function). */
#ifndef CG_TESTS_COMMON_H
#define CG_TESTS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Fills x[0..n) with U(lo, hi) from a fixed-seed generator (same values every run). */
void t_fill(float *x, size_t n, float lo, float hi, uint64_t seed);
/* max_i |a_i - b_i| */
double t_max_abs_diff(const float *a, const float *b, size_t n);
/* max_i |a_i - b_i| / max(|b_i|, floor): relative error with an absolute floor */
double t_max_rel_diff(const float *a, const float *b, size_t n, double floor);
/* sum_i a_i * r_i in double: the scalar loss used by the backward checks (loss = sum(y*r)). */
double t_dot(const float *a, const float *r, size_t n);
/* Aligned, zeroed allocation that aborts the test on failure; free with cg_free. */
float *t_alloc(size_t count);

/* Central finite differences: for each of the n entries of x (float, perturbed in place and
 * restored), numeric[i] = (f(x+h e_i) - f(x-h e_i)) / 2h with f evaluated by fn(ctx).
 * Returns the largest |numeric - analytic| / max(1, |numeric|, |analytic|) over the entries.
 * When n is large only `max_probe` evenly spaced entries are checked (0: all). */
typedef double (*t_loss_fn)(void *ctx);
double t_grad_check(t_loss_fn fn, void *ctx, float *x, const float *analytic, size_t n,
                    float h, size_t max_probe);

/* Under AddressSanitizer, common.c runs LeakSanitizer as each test process exits and aborts on
 * a leak, so a leaking test fails its binary (nothing to call; a no-op without ASan). */

#endif
