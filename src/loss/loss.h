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

/* Data parallel (docs/mpi.md): with global = 1 the n rows are this rank's shard of a batch
 * spread over the ranks of src/dist. Every batch sum (H_i, p_ij, the log-space marginal, the
 * cross-entropy) is summed over the ranks before use, the means divide by the global count,
 * and g is the gradient of the global loss. Every rank must call with the same k and weights.
 * global = 0 is exactly the function above. */
void cg_loss_entropies_ex(const struct cg_softmax_kernels *kt, const float *z, int n, int k,
                          int global, float wc, float wm, double *hc, double *hm, float *g);
void cg_loss_xent_ex(const struct cg_softmax_kernels *kt, const float *z, const int *y, int n,
                     int k, int global, float w, double *ce, float *g);

/* cg_catgan_d_loss / cg_catgan_g_loss (catgan.h) with the global flag above. */
int cg_catgan_d_loss_ex(const float *logits_real, int n_real, const float *logits_fake,
                        int n_fake, const float *logits_lab, const int *labels, int n_lab, int k,
                        float lambda, int global, cg_catgan_terms *terms, float *grad_real,
                        float *grad_fake, float *grad_lab);
int cg_catgan_g_loss_ex(const float *logits_fake, int n_fake, int k, int global,
                        cg_catgan_terms *terms, float *grad_fake);

#endif
