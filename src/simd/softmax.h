/* Row kernels for the CatGAN losses: per-row log-softmax, conditional entropy, the batch sum
 * of probabilities (for the marginal entropy) and cross-entropy, all from logits.
 * exp/log through libm (ref) or SLEEF's ISA-suffixed functions (avx2, avx512); see STACK.md 2. */
#ifndef CG_SIMD_SOFTMAX_H
#define CG_SIMD_SOFTMAX_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of classes k the kernels accept: they keep one row of exp() values (and the
 * caller one row of per-class partial sums) in fixed-size stack buffers. */
#define CG_SOFTMAX_KMAX 1024

/* All kernels take m rows of logits z (row-major, row stride k, 2 <= k <= CG_SOFTMAX_KMAX),
 * are single-threaded, never allocate, and process rows in a fixed order (so a caller's fixed
 * blocking gives the same bits for any thread count). With u = z_i - max(z_i),
 * s = sum_j e^u_j: log p_ij = u_j - log s and H_i = log s - sum_j e^u_j u_j / s.
 *
 * rowent: *hsum += sum_i H_i and psum[j] += sum_i p_ij for j < k (both accumulated, in double:
 * the batch sums of CatGAN's entropies must not lose precision over 1e5 rows). */
typedef void (*cg_f32_rowent_fn)(size_t m, size_t k, const float *z, double *hsum,
                                 double *psum);
/* rowent_grad: WRITES g (m, k), g_ij = a p_ij (log p_ij + H_i) + b p_ij (lm_j - sum_l p_il lm_l).
 * With a = -w/n this is w * dHc/dz for Hc = mean_i H_i; with b = -w/n and lm_j = log of the
 * batch-mean probability of class j it is w * dHm/dz for the marginal entropy Hm.
 * lm may be NULL when b == 0. g must not alias z. */
typedef void (*cg_f32_rowent_grad_fn)(size_t m, size_t k, const float *z, const float *lm,
                                      float a, float b, float *g);
/* xent: returns sum_i (logsumexp(z_i) - z_{i,y_i}) (labels y_i in [0, k), not checked here);
 * when g != NULL also WRITES g_ij = scale (p_ij - [j == y_i]). */
typedef double (*cg_f32_xent_fn)(size_t m, size_t k, const float *z, const int *y, float scale,
                                 float *g);

/* Registry, best first: CG_SOFTMAX_UKERNEL(isa, suffix). */
#define CG_SOFTMAX_UKERNELS(X) X(AVX512, avx512) X(AVX2, avx2) X(REF, ref)

#define CG_SOFTMAX_DECLARE(isa, sfx)                                                          \
    void cg_f32_rowent__##sfx(size_t m, size_t k, const float *z, double *hsum,             \
                              double *psum);                                                \
    void cg_f32_rowent_grad__##sfx(size_t m, size_t k, const float *z, const float *lm,     \
                                   float a, float b, float *g);                             \
    double cg_f32_xent__##sfx(size_t m, size_t k, const float *z, const int *y, float scale, \
                              float *g);
CG_SOFTMAX_UKERNELS(CG_SOFTMAX_DECLARE)
#undef CG_SOFTMAX_DECLARE

struct cg_softmax_kernels {
    enum cg_isa isa;
    cg_f32_rowent_fn rowent;
    cg_f32_rowent_grad_fn rowent_grad;
    cg_f32_xent_fn xent;
};
/* Fills k with the best kernels at or below isa that this build has. */
void cg_softmax_kernels_select(struct cg_softmax_kernels *k, enum cg_isa isa);

#ifdef __cplusplus
}
#endif
#endif
