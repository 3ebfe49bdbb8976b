/* Batch normalisation (Ioffe & Szegedy 2015) over (n, c, hw), PyTorch's BatchNorm1d/2d
 * semantics: biased variance to normalise, unbiased variance in the running estimate. */
#ifndef CG_NN_BATCHNORM_H
#define CG_NN_BATCHNORM_H

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x, y: (n, c, hw) NCHW; hw = 1 for fully connected layers, x:(n, c). */
struct cg_batchnorm { int c, hw; float eps, momentum; int nt; };

/* c, hw > 0; eps > 0 (PyTorch: 1e-5); momentum in [0, 1] (PyTorch: 0.1); nt >= 1. */
enum cg_status cg_batchnorm_init(struct cg_batchnorm *p, int c, int hw, float eps,
                                 float momentum, int nt);

/* Mean and 1/sqrt(var + eps) of cnt values from their sum s and sum of squares ss (biased
 * variance, clamped at 0), and the running statistics' momentum update (unbiased variance)
 * when run_mean / run_var are not NULL. Shared by batch norm and the radial lift. */
void cg_bn_moments(size_t cnt, double s, double ss, float eps, float momentum, double *mu,
                   double *r, float *run_mean, float *run_var);

/* Normalises with the batch statistics: y = (x - mean) * rstd * gamma + beta, computed as
 * x*scale + shift with the statistics summed in double. Writes mean and rstd = 1/sqrt(var +
 * eps) (c each) for the backward. Running stats: run = (1 - momentum)*run + momentum*stat with
 * the unbiased variance (var * N/(N-1), N = n*hw; N == 1 uses the biased one, 0, where PyTorch
 * refuses). gamma/beta NULL mean 1/0; mean, rstd, run_mean, run_var may be NULL (skipped).
 * y may alias x. */
void cg_batchnorm_forward_train(const struct cg_batchnorm *p, int n, const float *x,
                                const float *gamma, const float *beta, float *y, float *mean,
                                float *rstd, float *run_mean, float *run_var);

/* y = (x - run_mean) / sqrt(run_var + eps) * gamma + beta. y may alias x. */
void cg_batchnorm_forward_eval(const struct cg_batchnorm *p, int n, const float *x,
                               const float *gamma, const float *beta, const float *run_mean,
                               const float *run_var, float *y);

/* From the mean/rstd saved by forward_train: dx += dL/dx, dgamma += sum dy*xhat,
 * dbeta += sum dy. NULL outputs are skipped. dx must not alias dy or x. */
void cg_batchnorm_backward(const struct cg_batchnorm *p, int n, const float *dy,
                           const float *x, const float *gamma, const float *mean,
                           const float *rstd, float *dx, float *dgamma, float *dbeta);

/* Data parallel (docs/mpi.md): forward_train and backward split where the statistics are
 * complete, so the caller can sum them over ranks in between. cnt is the global count
 * (every rank's n) * hw; s, ss, s1, s2 hold c doubles each.
 * forward: cg_batchnorm_sums writes s = sum x, ss = sum x^2 over this rank's n examples; after
 * the caller's sum, cg_batchnorm_forward_sums is forward_train with those statistics.
 * backward: cg_batchnorm_backward_sums writes s1 = sum dy, s2 = sum dy*(x - mean) and adds
 * this rank's share to dgamma/dbeta (NULL skipped), so summing gradients over ranks gives the
 * global ones; after the caller's sum of s1, s2, cg_batchnorm_backward_dx adds dx. */
void cg_batchnorm_sums(const struct cg_batchnorm *p, int n, const float *x, double *s,
                       double *ss);
void cg_batchnorm_forward_sums(const struct cg_batchnorm *p, int n, size_t cnt,
                               const double *s, const double *ss, const float *x,
                               const float *gamma, const float *beta, float *y, float *mean,
                               float *rstd, float *run_mean, float *run_var);
void cg_batchnorm_backward_sums(const struct cg_batchnorm *p, int n, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                double *s1, double *s2, float *dgamma, float *dbeta);
void cg_batchnorm_backward_dx(const struct cg_batchnorm *p, int n, size_t cnt,
                              const double *s1, const double *s2, const float *dy,
                              const float *x, const float *gamma, const float *mean,
                              const float *rstd, float *dx);

#ifdef __cplusplus
}
#endif
#endif
