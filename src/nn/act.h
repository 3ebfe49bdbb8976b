/* Element-wise activations (leaky ReLU, Maas et al. 2013; sigmoid) and the per-channel bias
 * helpers used by conv2d and linear. NCHW; a fully connected layer is hw = 1, y:(n, c). */
#ifndef CG_NN_ACT_H
#define CG_NN_ACT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y = x > 0 ? x : slope*x over count floats. y may alias x. */
void cg_lrelu_forward(size_t count, float slope, const float *x, float *y, int nt);
/* dx += (y > 0 ? 1 : slope) * dy. Uses y, not x (sign(y) == sign(x) for slope > 0), so the
 * forward may run in place. dx must not alias y or dy. */
void cg_lrelu_backward(size_t count, float slope, const float *y, const float *dy, float *dx,
                       int nt);
/* y = 1 / (1 + exp(-x)). y may alias x. */
void cg_sigmoid_forward(size_t count, const float *x, float *y, int nt);
/* dx += dy * y * (1 - y). */
void cg_sigmoid_backward(size_t count, const float *y, const float *dy, float *dx, int nt);

/* y[i][ch][j] += b[ch] for y:(n, c, hw). */
void cg_bias_add(int n, int c, int hw, const float *b, float *y, int nt);
/* db[ch] += sum over i, j of dy[i][ch][j] (summed in double, one rounding into db). db NULL:
 * nothing is done. Parallel over channels, so the result does not depend on nt. */
void cg_bias_backward(int n, int c, int hw, const float *dy, float *db, int nt);

#ifdef __cplusplus
}
#endif
#endif
