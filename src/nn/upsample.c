/* Nearest-neighbour upsampling by an integer scale (PyTorch Upsample(mode="nearest")) and its
 * adjoint, the block sum. OpenMP over (image, channel) planes. */
#include <limits.h>
#include <string.h>

#include "nn/upsample.h"

enum cg_status cg_upsample_init(struct cg_upsample *p, int c, int h, int w, int scale, int nt) {
    if (!p) return CG_FAIL(CG_ERR_INVALID_ARG, "p=NULL must point to a descriptor");
    if (c <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d must be > 0", c);
    if (h <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d must be > 0", h);
    if (w <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "w=%d must be > 0", w);
    if (scale <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "scale=%d must be > 0", scale);
    if (nt <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d must be > 0", nt);
    /* the output of one image, c x (h*scale) x (w*scale), must fit an int */
    if ((long long)h * scale > INT_MAX || (long long)w * scale > INT_MAX ||
        (long long)h * scale * ((long long)w * scale) > INT_MAX / c)
        return CG_FAIL(CG_ERR_INVALID_ARG, "scale=%d makes c=%d x %dx%d overflow an int", scale,
                       c, h, w);
    *p = (struct cg_upsample){.c = c, .h = h, .w = w, .scale = scale, .nt = nt};
    return CG_OK;
}

void cg_upsample_forward(const struct cg_upsample *p, int n, const float *x, float *y) {
    const int h = p->h, w = p->w, s = p->scale, ow = w * s;
    const long long planes = (long long)n * p->c;
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (long long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * h * w;
        float *yp = y + (size_t)pl * h * s * ow;
        for (int iy = 0; iy < h; iy++) {
            float *row = yp + (size_t)iy * s * ow;
            const float *xr = xp + (size_t)iy * w;
            for (int ix = 0; ix < w; ix++)
                for (int a = 0; a < s; a++) row[ix * s + a] = xr[ix];
            /* the other s-1 output rows repeat the first */
            for (int a = 1; a < s; a++) memcpy(row + (size_t)a * ow, row, sizeof(float) * ow);
        }
    }
}

void cg_upsample_backward(const struct cg_upsample *p, int n, const float *dy, float *dx) {
    const int h = p->h, w = p->w, s = p->scale, ow = w * s;
    const long long planes = (long long)n * p->c;
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (long long pl = 0; pl < planes; pl++) {
        const float *dyp = dy + (size_t)pl * h * s * ow;
        float *dxp = dx + (size_t)pl * h * w;
        for (int iy = 0; iy < h; iy++) {
            for (int ix = 0; ix < w; ix++) {
                const float *blk = dyp + (size_t)iy * s * ow + (size_t)ix * s;
                float acc = 0.0f;
                for (int a = 0; a < s; a++)
                    for (int b = 0; b < s; b++) acc += blk[(size_t)a * ow + b];
                dxp[(size_t)iy * w + ix] += acc;
            }
        }
    }
}
