/* Max pooling with argmax, as in Caffe's MaxPoolingLayer: padded cells are skipped rather
 * than read as zeros (PyTorch semantics). OpenMP over (image, channel) planes. */
#include <limits.h>

#include "nn/pool.h"

enum cg_status cg_maxpool_init(struct cg_maxpool *p, int c, int h, int w, int k, int stride,
                               int pad, int nt) {
    if (!p) return CG_FAIL(CG_ERR_INVALID_ARG, "p=NULL must point to a descriptor");
    if (c <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d must be > 0", c);
    if (h <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d must be > 0", h);
    if (w <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "w=%d must be > 0", w);
    if (k <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "k=%d must be > 0", k);
    if (stride <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "stride=%d must be > 0", stride);
    if (pad < 0) return CG_FAIL(CG_ERR_INVALID_ARG, "pad=%d must be >= 0", pad);
    if (pad > k / 2) return CG_FAIL(CG_ERR_INVALID_ARG, "pad=%d must be <= k/2 = %d", pad, k / 2);
    if (nt <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d must be > 0", nt);
    /* long long: h + 2*pad may overflow an int */
    long long eh = (long long)h + 2LL * pad - k, ew = (long long)w + 2LL * pad - k;
    if (eh < 0) return CG_FAIL(CG_ERR_INVALID_ARG, "k=%d exceeds h + 2*pad = %lld", k, eh + k);
    if (ew < 0) return CG_FAIL(CG_ERR_INVALID_ARG, "k=%d exceeds w + 2*pad = %lld", k, ew + k);
    long long oh = eh / stride + 1, ow = ew / stride + 1;
    if ((long long)h * w > INT_MAX || (long long)c * h * w > INT_MAX || oh * ow * c > INT_MAX)
        return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d x h=%d x w=%d overflows an int per image", c, h,
                       w);
    *p = (struct cg_maxpool){.c = c, .h = h, .w = w, .k = k, .stride = stride, .pad = pad,
                             .oh = (int)oh, .ow = (int)ow, .nt = nt};
    return CG_OK;
}

void cg_maxpool_forward(const struct cg_maxpool *p, int n, const float *x, float *y,
                        int32_t *argmax) {
    const int h = p->h, w = p->w, k = p->k, s = p->stride, pad = p->pad, oh = p->oh,
              ow = p->ow;
    const long long planes = (long long)n * p->c;
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (long long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * h * w;
        float *yp = y + (size_t)pl * oh * ow;
        int32_t *ap = argmax + (size_t)pl * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            /* pad <= k/2 guarantees each clipped window is non-empty */
            const int y0 = oy * s - pad, ylo = y0 < 0 ? 0 : y0, yhi = y0 + k < h ? y0 + k : h;
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = ox * s - pad, xlo = x0 < 0 ? 0 : x0,
                          xhi = x0 + k < w ? x0 + k : w;
                int best = ylo * w + xlo;
                float m = xp[best];
                for (int iy = ylo; iy < yhi; iy++) {
                    for (int ix = xlo; ix < xhi; ix++) {
                        const float v = xp[iy * w + ix];
                        /* strict > keeps the first maximum; a NaN start loses to any number */
                        if (v > m || (m != m && v == v)) {
                            m = v;
                            best = iy * w + ix;
                        }
                    }
                }
                yp[oy * ow + ox] = m;
                ap[oy * ow + ox] = best;
            }
        }
    }
}

void cg_maxpool_backward(const struct cg_maxpool *p, int n, const float *dy,
                         const int32_t *argmax, float *dx) {
    const int hw = p->h * p->w, ohw = p->oh * p->ow;
    const long long planes = (long long)n * p->c;
    /* one thread per plane: overlapping windows add into the same dx cell in a fixed order */
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (long long pl = 0; pl < planes; pl++) {
        const float *dyp = dy + (size_t)pl * ohw;
        const int32_t *ap = argmax + (size_t)pl * ohw;
        float *dxp = dx + (size_t)pl * hw;
        for (int o = 0; o < ohw; o++) dxp[ap[o]] += dyp[o];
    }
}
