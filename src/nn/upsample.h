/* Nearest-neighbour upsampling by an integer factor (PyTorch's Upsample(mode="nearest")):
 * y[.., oy, ox] = x[.., oy/scale, ox/scale]. Layout NCHW. */
#ifndef CG_NN_UPSAMPLE_H
#define CG_NN_UPSAMPLE_H

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_upsample { int c, h, w, scale, nt; };

/* Validates c, h, w, scale, nt > 0 and that the output of one image fits an int. */
enum cg_status cg_upsample_init(struct cg_upsample *p, int c, int h, int w, int scale, int nt);

/* x:(n,c,h,w) -> y:(n,c,h*scale,w*scale), written. */
void cg_upsample_forward(const struct cg_upsample *p, int n, const float *x, float *y);

/* Accumulates dx:(n,c,h,w) += the sum of dy over each scale x scale block. */
void cg_upsample_backward(const struct cg_upsample *p, int n, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif
#endif
