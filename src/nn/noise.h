/* Training-only noise layers: additive Gaussian noise (the CatGAN paper's D regulariser) and
 * inverted dropout (Srivastava et al. 2014). Element i's draw is a pure function of
 * (key, stream, i) (Philox, src/core/rng.c), so backward recomputes the mask from the key and
 * nothing else is stored; results do not depend on the thread count. */
#ifndef CG_NN_NOISE_H
#define CG_NN_NOISE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y = x + sigma * cg_rng_normal_at(key, stream, i). y may alias x. Backward: dx += dy
 * (cg_gauss_noise_backward). The SIMD variants may differ from cg_rng_normal_at by 1 float
 * ulp in rare elements (SLEEF's double log/cos vs libm's); a given ISA is deterministic. */
void cg_gauss_noise_forward(size_t count, float sigma, uint64_t key, uint64_t stream,
                            const float *x, float *y, int nt);
/* dx += dy. */
void cg_gauss_noise_backward(size_t count, const float *dy, float *dx, int nt);

/* Inverted dropout, p in [0, 1]: keep_i = (cg_rng_uniform_at(key, stream, i) >= p), kept with
 * probability 1 - p; y = keep_i ? x / (1 - p) : 0 (the scale rounded to float once). y may
 * alias x. */
void cg_dropout_forward(size_t count, float p, uint64_t key, uint64_t stream, const float *x,
                        float *y, int nt);
/* dx += keep_i ? dy / (1 - p) : 0, with the same keep_i as the forward of (key, stream). */
void cg_dropout_backward(size_t count, float p, uint64_t key, uint64_t stream, const float *dy,
                         float *dx, int nt);

#ifdef __cplusplus
}
#endif
#endif
