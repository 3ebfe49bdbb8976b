/* Nearest upsample x2 + "same" conv as one conv of the small input to 4*oc phase channels with
 * folded ke x ke kernels, then a depth-to-space interleave (Shi et al., CVPR 2016, sub-pixel
 * convolution). Weight (un)folding runs in a fixed order, so results do not depend on nt. */
#include <limits.h>
#include <string.h>

#include "nn/upconv2d.h"

/* floor(a / 2) for negative a too */
static int fdiv2(int a) { return a >= 0 ? a / 2 : -((1 - a) / 2); }

/* Output row 2a+py with tap ki reads upsampled row 2a+py+ki-pad, i.e. input row
 * a + floor((py+ki-pad)/2): the folded tap index is that offset plus the inner pad. */
static int tap_of(const struct cg_upconv2d *p, int phase, int ki) {
    return fdiv2(phase + ki - p->k / 2) + p->inner.pad;
}

enum cg_status cg_upconv2d_init(struct cg_upconv2d *p, int c, int h, int w, int oc, int ksize,
                                int nt) {
    if (!p) return CG_FAIL(CG_ERR_INVALID_ARG, "p=NULL must point to a descriptor");
    if (c <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d must be > 0", c);
    if (h <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d must be > 0", h);
    if (w <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "w=%d must be > 0", w);
    if (oc <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d must be > 0", oc);
    if (ksize <= 0 || ksize % 2 == 0)
        return CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d must be odd and > 0", ksize);
    if (nt <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d must be > 0", nt);
    if (oc > INT_MAX / 4) return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d: 4*oc overflows an int", oc);
    if (h > INT_MAX / 2 || w > INT_MAX / 2 ||
        (long long)(2 * h) * (2 * w) > INT_MAX / oc)
        return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d x %dx%d output overflows an int", oc, 2 * h,
                       2 * w);
    if ((long long)ksize * ksize > INT_MAX / c ||
        (long long)ksize * ksize * c > INT_MAX / oc)
        return CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d with c=%d, oc=%d overflows an int", ksize,
                       c, oc);
    /* k = 2m+1, pad m: offsets floor((py+ki-m)/2) span [-ceil(m/2), ceil(m/2)] for both
     * phases, so one symmetric ke x ke "same" conv serves all four */
    const int m = ksize / 2, r = (m + 1) / 2;
    struct cg_upconv2d d = {.c = c, .h = h, .w = w, .oc = oc, .k = ksize, .nt = nt,
                            .oh = 2 * h, .ow = 2 * w, .ke = 2 * r + 1};
    enum cg_status st = cg_conv2d_init(&d.inner, c, h, w, 4 * oc, d.ke, 1, r, nt);
    if (st != CG_OK) return st;
    size_t bytes;
    if (!cg_mul_ok((size_t)4 * oc, (size_t)d.inner.ck * sizeof(float), &bytes))
        return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d: folded weights overflow size_t", oc);
    d.wf_bytes = cg_align_up(bytes);
    *p = d;
    return CG_OK;
}

static size_t phase_bytes(const struct cg_upconv2d *p, int n) {
    return cg_align_up((size_t)n * 4 * p->oc * (size_t)p->h * p->w * sizeof(float));
}

size_t cg_upconv2d_ws_size(const struct cg_upconv2d *p, int n) {
    if (n < 1) return 0;
    return cg_align_up(cg_conv2d_ws_size(&p->inner, n)) + 2 * p->wf_bytes + phase_bytes(p, n);
}

struct carve { void *inner; float *wf, *dwf, *t; };

static struct carve carve(const struct cg_upconv2d *p, int n, void *ws) {
    unsigned char *b = ws;
    struct carve c;
    c.inner = b;
    b += cg_align_up(cg_conv2d_ws_size(&p->inner, n));
    c.wf = (float *)b;
    c.dwf = (float *)(b + p->wf_bytes);
    c.t = (float *)(b + 2 * p->wf_bytes);
    return c;
}

/* wf(ph*oc + o, ci, a, b) = sum of w(o, ci, ki, kj) over the taps that phase (py,px) folds
 * onto (a, b), added in (ki, kj) order. */
static void fold(const struct cg_upconv2d *p, const float *w, float *wf) {
    const int oc = p->oc, c = p->c, k = p->k, ke = p->ke, ck = p->inner.ck;
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (int o = 0; o < oc; o++)
        for (int ph = 0; ph < 4; ph++) {
            float *dst = wf + ((size_t)ph * oc + o) * ck;
            memset(dst, 0, sizeof(float) * (size_t)ck);
            for (int ci = 0; ci < c; ci++) {
                const float *src = w + ((size_t)o * c + ci) * k * k;
                float *dc = dst + (size_t)ci * ke * ke;
                for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++)
                        dc[tap_of(p, ph >> 1, ki) * ke + tap_of(p, ph & 1, kj)] +=
                            src[ki * k + kj];
            }
        }
}

/* The adjoint of fold: dw(o, ci, ki, kj) += sum over the 4 phases, in phase order. */
static void unfold(const struct cg_upconv2d *p, const float *dwf, float *dw) {
    const int oc = p->oc, c = p->c, k = p->k, ke = p->ke, ck = p->inner.ck;
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (int o = 0; o < oc; o++)
        for (int ci = 0; ci < c; ci++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    float acc = 0.0f;
                    for (int ph = 0; ph < 4; ph++)
                        acc += dwf[((size_t)ph * oc + o) * ck + (size_t)ci * ke * ke +
                                   tap_of(p, ph >> 1, ki) * ke + tap_of(p, ph & 1, kj)];
                    dw[(((size_t)o * c + ci) * k + ki) * k + kj] += acc;
                }
}

void cg_upconv2d_forward(const struct cg_upconv2d *p, int n, const float *x, const float *w,
                         const float *b, float *y, void *ws) {
    if (n <= 0) return;
    const struct carve cv = carve(p, n, ws);
    const int oc = p->oc, h = p->h, wd = p->w, ow = p->ow;
    const size_t hw = (size_t)h * wd;
    fold(p, w, cv.wf);
    cg_conv2d_forward(&p->inner, n, x, cv.wf, NULL, cv.t, cv.inner);
    /* depth to space: y(o, 2a+py, 2b+px) = t(ph*oc + o, a, b) + b(o) */
    const long long planes = (long long)n * oc;
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (long long pl = 0; pl < planes; pl++) {
        const long long i = pl / oc;
        const int o = (int)(pl % oc);
        const float bo = b ? b[o] : 0.0f;
        float *yp = y + (size_t)pl * hw * 4;
        for (int py = 0; py < 2; py++) {
            const float *t0 = cv.t + ((size_t)i * 4 * oc + (size_t)(2 * py) * oc + o) * hw;
            const float *t1 = t0 + (size_t)oc * hw;
            for (int a = 0; a < h; a++) {
                float *row = yp + (size_t)(2 * a + py) * ow;
                const float *r0 = t0 + (size_t)a * wd, *r1 = t1 + (size_t)a * wd;
                for (int j = 0; j < wd; j++) {
                    row[2 * j] = r0[j] + bo;
                    row[2 * j + 1] = r1[j] + bo;
                }
            }
        }
    }
}

void cg_upconv2d_backward(const struct cg_upconv2d *p, int n, const float *dy, const float *x,
                          const float *w, float *dx, float *dw, float *db, void *ws) {
    if (n <= 0) return;
    const int oc = p->oc, h = p->h, wd = p->w, ow = p->ow, nt = p->nt;
    const size_t hw = (size_t)h * wd;
    if (db) {
        /* per channel, images and pixels in order: independent of nt */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int o = 0; o < oc; o++) {
            double acc = 0.0;
            for (int i = 0; i < n; i++) {
                const float *r = dy + ((size_t)i * oc + o) * hw * 4;
                for (size_t j = 0; j < hw * 4; j++) acc += r[j];
            }
            db[o] += (float)acc;
        }
    }
    if (!dx && !dw) return;
    const struct carve cv = carve(p, n, ws);
    /* space to depth: t(ph*oc + o, a, b) = dy(o, 2a+py, 2b+px) */
    const long long planes = (long long)n * oc;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (long long pl = 0; pl < planes; pl++) {
        const long long i = pl / oc;
        const int o = (int)(pl % oc);
        const float *dp = dy + (size_t)pl * hw * 4;
        for (int py = 0; py < 2; py++) {
            float *t0 = cv.t + ((size_t)i * 4 * oc + (size_t)(2 * py) * oc + o) * hw;
            float *t1 = t0 + (size_t)oc * hw;
            for (int a = 0; a < h; a++) {
                const float *row = dp + (size_t)(2 * a + py) * ow;
                float *r0 = t0 + (size_t)a * wd, *r1 = t1 + (size_t)a * wd;
                for (int j = 0; j < wd; j++) {
                    r0[j] = row[2 * j];
                    r1[j] = row[2 * j + 1];
                }
            }
        }
    }
    if (dx) fold(p, w, cv.wf);
    if (dw) memset(cv.dwf, 0, p->wf_bytes);
    cg_conv2d_backward(&p->inner, n, cv.t, x, cv.wf, dx, dw ? cv.dwf : NULL, NULL, cv.inner);
    if (dw) unfold(p, cv.dwf, dw);
}
