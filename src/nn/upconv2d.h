/* Nearest upsample x2 fused with the "same" ksize x ksize convolution after it: each of the 4
 * output phases is a small conv of the original input with folded weights (sub-pixel
 * convolution, Shi et al. CVPR 2016; Odena et al., Distill 2016). Layout NCHW. */
#ifndef CG_NN_UPCONV2D_H
#define CG_NN_UPCONV2D_H

#include <stddef.h>

#include "core/core.h"
#include "nn/conv2d.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = conv_{ksize, stride 1, pad ksize/2}(upsample_x2(x)) + b, computed without the upsampled
 * tensor. Output pixel (2a+py, 2b+px) only meets input rows a+d, d in [-ke/2, ke/2], so the
 * four phases (py,px) are one conv of x to 4*oc channels with ke x ke folded kernels
 * (ke = 3 for ksize 5: 2.8x fewer FLOPs than conv on the upsampled input). */
struct cg_upconv2d {
    int c, h, w, oc, k, nt;   /* input (c,h,w), weights (oc,c,k,k) */
    int oh, ow;               /* 2h, 2w */
    int ke;                   /* folded kernel size */
    struct cg_conv2d inner;   /* x (c,h,w) -> phases (4*oc, h, w), ke x ke, same padding */
    size_t wf_bytes;          /* folded weights (4*oc, c, ke, ke), also their gradient */
};

/* Upsample x2 then conv ksize x ksize, stride 1, pad ksize/2 (so the output is 2h x 2w).
 * Validates c, h, w, oc, nt > 0, ksize > 0 and odd, and that every size fits an int per image
 * (CG_ERR_INVALID_ARG naming the argument). Reserves GEMM buffers for nt threads. */
enum cg_status cg_upconv2d_init(struct cg_upconv2d *p, int c, int h, int w, int oc, int ksize,
                                int nt);

/* Bytes of workspace for forward and backward on batches of up to n images: the inner conv's
 * workspace, the folded weights and their gradient, and the (n, 4*oc, h, w) phase tensor.
 * 0 if n < 1. */
size_t cg_upconv2d_ws_size(const struct cg_upconv2d *p, int n);

/* x:(n,c,h,w) w:(oc,c,k,k) b:(oc) or NULL -> y:(n,oc,2h,2w), written. ws: at least
 * cg_upconv2d_ws_size(p, n) bytes, 64-byte aligned. y aliases nothing. Bit-identical for any
 * nt; equal to upsample + conv2d to float rounding (the folded weights sum taps first). */
void cg_upconv2d_forward(const struct cg_upconv2d *p, int n, const float *x, const float *w,
                         const float *b, float *y, void *ws);

/* dy:(n,oc,2h,2w). Accumulates dx:(n,c,h,w), dw:(oc,c,k,k), db:(oc) (+= dL/d.); a NULL output
 * is not computed. ws as for forward (its content need not survive from forward).
 * Bit-identical for any nt. */
void cg_upconv2d_backward(const struct cg_upconv2d *p, int n, const float *dy, const float *x,
                          const float *w, float *dx, float *dw, float *db, void *ws);

#ifdef __cplusplus
}
#endif
#endif
