/* Radial feature lift of low-dimensional points: [x, scale * BN(|x|^2)], the squared norm batch-
 * normalised per pass (Ioffe & Szegedy 2015 on one channel), x passed through unchanged.
 * Why a CatGAN on concentric circles needs it: docs/toy.md ("Session 3, part 2"). */
#ifndef CG_NN_LIFT_H
#define CG_NN_LIFT_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x: (n, d) -> y: (n, d + 1). Statistics as cg_batchnorm (eps 1e-5, momentum 0.1, biased
 * variance to normalise, unbiased in the running estimate). */
struct cg_radial_lift { int d; float scale, eps, momentum; };

/* d in 1..4096; scale > 0 and finite (the standardised radial channel is multiplied by it). */
enum cg_status cg_radial_lift_init(struct cg_radial_lift *p, int d, float scale);

/* Training mode: s = |x_e|^2 normalised with this batch's mean and variance. Writes mean and
 * rstd = 1/sqrt(var + eps) (one float each) for the backward; run_mean/run_var (one float
 * each, NULL: not updated) move towards the batch statistics. y must not alias x. */
void cg_radial_lift_forward_train(const struct cg_radial_lift *p, int n, const float *x,
                                  float *y, float *mean, float *rstd, float *run_mean,
                                  float *run_var);

/* Evaluation mode: the running statistics instead of the batch's. y must not alias x. */
void cg_radial_lift_forward_eval(const struct cg_radial_lift *p, int n, const float *x,
                                 const float *run_mean, const float *run_var, float *y);

/* dx (n, d) += dL/dx from dy (n, d + 1), through the batch statistics of forward_train (its
 * x, mean, rstd). dx must not alias dy or x. */
void cg_radial_lift_backward(const struct cg_radial_lift *p, int n, const float *dy,
                             const float *x, const float *mean, const float *rstd, float *dx);

/* Data parallel (docs/mpi.md), as cg_batchnorm's split: cnt is the global number of examples.
 * cg_radial_lift_sums writes s[0] = sum |x|^2, s[1] = sum |x|^4 over this rank's n; after the
 * caller sums them over ranks, cg_radial_lift_forward_sums is forward_train with them.
 * cg_radial_lift_backward_sums writes g[0] = sum dy_r, g[1] = sum dy_r * shat (dy_r: the
 * gradient of the radial channel, shat the normalised |x|^2); after the caller's sum,
 * cg_radial_lift_backward_dx adds dx. */
void cg_radial_lift_sums(const struct cg_radial_lift *p, int n, const float *x, double s[2]);
void cg_radial_lift_forward_sums(const struct cg_radial_lift *p, int n, size_t cnt,
                                 const double s[2], const float *x, float *y, float *mean,
                                 float *rstd, float *run_mean, float *run_var);
void cg_radial_lift_backward_sums(const struct cg_radial_lift *p, int n, const float *dy,
                                  const float *x, const float *mean, const float *rstd,
                                  double g[2]);
void cg_radial_lift_backward_dx(const struct cg_radial_lift *p, int n, size_t cnt,
                                const double g[2], const float *dy, const float *x,
                                const float *mean, const float *rstd, float *dx);

#ifdef __cplusplus
}
#endif
#endif
