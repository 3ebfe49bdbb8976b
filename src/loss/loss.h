/* Internal batch-level entropy and cross-entropy drivers behind the CatGAN losses
 * (Springenberg, ICLR 2016, eqs. (3)-(5)); src/loss/catgan_loss.c combines them. */
#ifndef CG_LOSS_LOSS_H
#define CG_LOSS_LOSS_H

#include "simd/softmax.h"

/* Rows per partial sum. Fixed, so sums (and results) do not depend on the thread count. */
#define CG_LOSS_CHUNK 1024
/* Batches of at least this many rows are split over OpenMP threads (by chunks). */
#define CG_LOSS_PAR_MIN 4096

/* For logits z (n, k), 1 <= n, 2 <= k <= CG_SOFTMAX_KMAX, p_i = softmax(z_i):
 * *hc = mean_i H[p_i] (conditional), *hm = H[mean_i p_i] (marginal), in double. When g != NULL
 * WRITES g = wc * d(hc)/dz + wm * d(hm)/dz. Exact in log space: log mean_i p_ij is a
 * log-sum-exp over the batch whenever the plain sum of p_ij would underflow. */
void cg_loss_entropies(const struct cg_softmax_kernels *kt, const float *z, int n, int k,
                       float wc, float wm, double *hc, double *hm, float *g);

/* *ce = mean_i -log p_{i,y_i}; when g != NULL WRITES g = w * d(ce)/dz. Labels not checked. */
void cg_loss_xent(const struct cg_softmax_kernels *kt, const float *z, const int *y, int n,
                  int k, float w, double *ce, float *g);

#endif
