/* 2-D convolution (cross-correlation, like PyTorch) via im2col/col2im + GEMM over cache-sized
 * panels (Caffe's im2col; Chellapilla et al. 2006). Layout NCHW, weights (oc, c, kh, kw). */
#ifndef CG_NN_CONV2D_H
#define CG_NN_CONV2D_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Weight and bias gradients are summed per batch shard and the shards reduced in order; the
 * shard count depends only on n, so dw/db are bit-identical for any thread count. */
#define CG_CONV_SHARDS 8

struct cg_conv2d {
    int c, h, w, oc, kh, kw, stride, pad, oh, ow, nt;
    int ck;       /* c*kh*kw: the GEMM depth of forward */
    int ohw;      /* oh*ow */
    int direct;   /* 1x1, stride 1, pad 0: x already is the im2col matrix */
    int small;    /* few output channels: direct convolution loops, no im2col or GEMM */
    int shift;    /* stride 1, c >= SHIFT_MIN_C: forward as one GEMM per tap on shifted views */
    int group;    /* images per GEMM (> 1 only when oh*ow is small; then pw == ohw) */
    int pw;       /* output pixels per panel (im2col tile) when group == 1 */
    size_t col_bytes, tmp_bytes;   /* per-thread im2col panel and grouped output/dy panel */
    size_t pad_bytes;              /* per-thread zero-padded x and dx (stride-1 GEMM path) */
    size_t off_bytes;              /* per-thread tap offset tables (small, stride 1) */
    size_t thread_bytes;           /* their sum; each a 64-byte multiple */
};

/* Square kernel ksize x ksize. Validates c, h, w, oc, ksize, stride, nt > 0, pad >= 0, an
 * output of at least 1x1, and that every size fits (int for one image, size_t overall). */
enum cg_status cg_conv2d_init(struct cg_conv2d *p, int c, int h, int w, int oc, int ksize,
                              int stride, int pad, int nt);

/* Bytes of workspace for forward and backward on batches of up to n images with p->nt
 * threads (per-thread im2col panels plus the dw shard partials). 0 if n < 1. */
size_t cg_conv2d_ws_size(const struct cg_conv2d *p, int n);

/* x:(n,c,h,w) w:(oc,c,kh,kw) b:(oc) or NULL -> y:(n,oc,oh,ow), written. ws: at least
 * cg_conv2d_ws_size(p, n) bytes, any alignment (64 is best). y aliases nothing. */
void cg_conv2d_forward(const struct cg_conv2d *p, int n, const float *x, const float *w,
                       const float *b, float *y, void *ws);

/* dy:(n,oc,oh,ow). Accumulates dx:(n,c,h,w), dw:(oc,c,kh,kw), db:(oc) (+= dL/d.); a NULL
 * output is not computed. ws as for forward. Bit-identical for any nt. */
void cg_conv2d_backward(const struct cg_conv2d *p, int n, const float *dy, const float *x,
                        const float *w, float *dx, float *dw, float *db, void *ws);

#ifdef __cplusplus
}
#endif
#endif
