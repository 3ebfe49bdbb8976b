/* Element-wise kernels the layers are built from: activations, bias, batch-norm statistics
 * and apply, batch-norm backward reductions, Adam (Kingma & Ba 2015, PyTorch's form) and
 * Philox-driven noise. Registry: src/simd/vec.inc; exact semantics: src/simd/ref/vec.c. */
#ifndef CG_SIMD_VEC_H
#define CG_SIMD_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-step Adam constants (computed in double by cg_adam_step, rounded once to float). */
struct cg_adam_coef {
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float neg_step;   /* -lr / (1 - beta1^t) */
    float bc2_sqrt;   /* sqrt(1 - beta2^t) */
    float eps;
};

/* All kernels are single-threaded over n contiguous floats; n may be 0.
 *  lrelu        y = x > 0 ? x : slope*x                                  (y may alias x)
 *  lrelu_bwd    dx += y > 0 ? dy : slope*dy
 *  sigmoid      y = 1 / (1 + exp(-x))                                    (y may alias x)
 *  sigmoid_bwd  dx += dy * ((1 - y) * y)
 *  addc / addv  y += b  /  y[i] += b[i]
 *  sum  / sumv  *s += sum_i x[i]  /  s[i] += x[i]                      (double sums)
 *  stats/statsv *s += sum x, *ss += sum x^2  /  s[i] += x[i], ss[i] += x[i]^2  (double)
 *  affine(v)    y = x*a + b, a and b scalars or per element             (y may alias x)
 *  bnred(v)     *sdy += sum dy, *sdyx += sum dy*(x - mean)              (double)
 *  bndx(v)      dx += a*dy + b*(x - mean) + c
 *  adam         PyTorch 1.13 torch.optim.Adam on one block (see ref/vec.c)
 *  gauss        y = x + sigma * cg_rng_gauss_at(key, stream, idx0 + i)   (y may alias x)
 *  dropout      y = u_i >= p ? x / (1 - p) : 0, u_i = cg_rng_uniform_at(key, stream, idx0+i)
 *  dropout_bwd  dx += u_i >= p ? dy / (1 - p) : 0
 * Element-wise results are bit-identical across ISAs (same operation order, no FMA contraction)
 * except sigmoid (SLEEF expf, 1 ulp) and gauss (SLEEF float log and sincospi, u35, against
 * the ref's double libm: <= 8 ulp); the double reductions differ only in summation order. */
#define CG_VEC_KERNEL(op, params) void cg_f32_##op##__ref params;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL
#define CG_VEC_KERNEL(op, params) void cg_f32_##op##__avx2 params;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL
#define CG_VEC_KERNEL(op, params) void cg_f32_##op##__avx512 params;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL

struct cg_vec_kernels {
    enum cg_isa isa;
#define CG_VEC_KERNEL(op, params) void(*op) params;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL
};

/* Fills k with the best variant at or below isa (the caller checked the CPU has isa). */
void cg_vec_kernels_select(struct cg_vec_kernels *k, enum cg_isa isa);

#ifdef __cplusplus
}
#endif
#endif
