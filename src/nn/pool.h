/* Max pooling over k x k windows (stride, zero-free padding: padded cells never win), with the
 * argmax kept for backward, as in Caffe's MaxPoolingLayer. Layout NCHW. */
#ifndef CG_NN_POOL_H
#define CG_NN_POOL_H

#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_maxpool { int c, h, w, k, stride, pad, oh, ow, nt; };

/* Validates c, h, w, k, stride, nt > 0, 0 <= pad <= k/2 (so every window holds a real
 * pixel), an output of at least 1x1, and sizes that fit an int per image. */
enum cg_status cg_maxpool_init(struct cg_maxpool *p, int c, int h, int w, int k, int stride,
                               int pad, int nt);

/* x:(n,c,h,w) -> y:(n,c,oh,ow) and argmax:(n,c,oh,ow), both written; argmax is the index
 * iy*w+ix of the first maximum in its (h,w) plane. NaNs never win a window. */
void cg_maxpool_forward(const struct cg_maxpool *p, int n, const float *x, float *y,
                        int32_t *argmax);

/* Accumulates dx:(n,c,h,w) += dy routed to each window's argmax. */
void cg_maxpool_backward(const struct cg_maxpool *p, int n, const float *dy,
                         const int32_t *argmax, float *dx);

#ifdef __cplusplus
}
#endif
#endif
