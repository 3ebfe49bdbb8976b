/* Max pooling with argmax, as in Caffe's MaxPoolingLayer: padded cells are skipped rather
 * than read as zeros (PyTorch semantics). OpenMP over (image, channel) planes. */
#include <limits.h>

#include "nn/pool.h"
#include "simd/kernels.h"

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

/* Take v when v > m, or when m is NaN and v is not: !(v <= m) is v > m or either NaN. Branch
 * free, so the interior loop runs as selects over several outputs at once (and random data
 * does not mispredict). */
#define TAKE(v, off)                                   \
    do {                                               \
        const float v_ = (v);                          \
        const int t_ = !(v_ <= m) & (v_ == v_);        \
        m = t_ ? v_ : m;                               \
        b = t_ ? (off) : b;                            \
    } while (0)

/* The window scan of one output: first maximum in row-major order; a NaN never wins unless
 * the whole window is NaN. Clipped to the plane, so it serves the border windows. */
static void window_scan(const struct cg_maxpool *p, const float *xp, int oy, int ox, float *y,
                        int32_t *am) {
    const int h = p->h, w = p->w, k = p->k, s = p->stride, pad = p->pad;
    /* pad <= k/2 guarantees each clipped window is non-empty */
    const int y0 = oy * s - pad, ylo = y0 < 0 ? 0 : y0, yhi = y0 + k < h ? y0 + k : h;
    const int x0 = ox * s - pad, xlo = x0 < 0 ? 0 : x0, xhi = x0 + k < w ? x0 + k : w;
    int b = ylo * w + xlo;
    float m = xp[b];
    /* strict > keeps the first maximum; a NaN start loses to any number */
    for (int iy = ylo; iy < yhi; iy++)
        for (int ix = xlo; ix < xhi; ix++) TAKE(xp[iy * w + ix], iy * w + ix);
    *y = m;
    *am = b;
}

/* Interior outputs [ox0, ox1) of row oy: windows fully inside, so no clipping and, for the
 * nets' 3x3, a fully unrolled scan in the same row-major order. */
static void interior_row(const struct cg_maxpool *p, const float *xp, int oy, int ox0, int ox1,
                         float *restrict yr, int32_t *restrict ar) {
    const int w = p->w, k = p->k, s = p->stride, pad = p->pad, y0 = oy * s - pad;
    const float *row = xp + (size_t)y0 * w;
    if (k == 3 && s == 2) {
        /* the nets' pools: vectorised, same rule and order (src/simd/dconv.h) */
        const int j0 = ox0 * s - pad;
        cg_kernels()->dconv.maxpool3s2((size_t)(ox1 - ox0), row + j0, (size_t)w, y0 * w + j0,
                                       yr + ox0, ar + ox0);
        return;
    }
    if (k == 3) {
        const int w2 = 2 * w;
        for (int ox = ox0; ox < ox1; ox++) {
            const int j = ox * s - pad;
            const float *q = row + j;
            float m = q[0];
            int b = 0;
            TAKE(q[1], 1);
            TAKE(q[2], 2);
            TAKE(q[w], w);
            TAKE(q[w + 1], w + 1);
            TAKE(q[w + 2], w + 2);
            TAKE(q[w2], w2);
            TAKE(q[w2 + 1], w2 + 1);
            TAKE(q[w2 + 2], w2 + 2);
            yr[ox] = m;
            ar[ox] = y0 * w + j + b;
        }
        return;
    }
    for (int ox = ox0; ox < ox1; ox++) {
        const int j = ox * s - pad;
        const float *q = row + j;
        float m = q[0];
        int b = 0;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) TAKE(q[(size_t)ki * w + kj], ki * w + kj);
        yr[ox] = m;
        ar[ox] = y0 * w + j + b;
    }
}
#undef TAKE

/* First and one-past-last output index whose window [o*s - pad, o*s - pad + k) lies inside
 * [0, n). */
static void interior(int n, int k, int s, int pad, int no, int *lo, int *hi) {
    *lo = (pad + s - 1) / s;
    *hi = n - k + pad >= 0 ? (n - k + pad) / s + 1 : 0;
    if (*hi > no) *hi = no;
    if (*lo > *hi) *lo = *hi;
}

void cg_maxpool_forward(const struct cg_maxpool *p, int n, const float *x, float *y,
                        int32_t *argmax) {
    const int h = p->h, w = p->w, oh = p->oh, ow = p->ow;
    const long long planes = (long long)n * p->c;
    int ylo, yhi, xlo, xhi;
    interior(h, p->k, p->stride, p->pad, oh, &ylo, &yhi);
    interior(w, p->k, p->stride, p->pad, ow, &xlo, &xhi);
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (long long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * h * w;
        float *yp = y + (size_t)pl * oh * ow;
        int32_t *ap = argmax + (size_t)pl * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            float *yr = yp + (size_t)oy * ow;
            int32_t *ar = ap + (size_t)oy * ow;
            if (oy < ylo || oy >= yhi) {
                for (int ox = 0; ox < ow; ox++) window_scan(p, xp, oy, ox, yr + ox, ar + ox);
                continue;
            }
            for (int ox = 0; ox < xlo; ox++) window_scan(p, xp, oy, ox, yr + ox, ar + ox);
            interior_row(p, xp, oy, xlo, xhi, yr, ar);
            for (int ox = xhi; ox < ow; ox++) window_scan(p, xp, oy, ox, yr + ox, ar + ox);
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
