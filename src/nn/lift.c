/* Radial feature lift (lift.h): one batch-normalised |x|^2 channel after the inputs; the
 * normalisation and its backward follow batchnorm.c (Ioffe & Szegedy 2015, eqs. in sec. 3). */
#include <assert.h>
#include <math.h>

#include "nn/batchnorm.h"
#include "nn/lift.h"

enum cg_status cg_radial_lift_init(struct cg_radial_lift *p, int d, float scale) {
    if (d < 1 || d > 4096) return CG_FAIL(CG_ERR_INVALID_ARG, "d=%d must be in 1..4096", d);
    if (!(scale > 0.0f) || !isfinite(scale))
        return CG_FAIL(CG_ERR_INVALID_ARG, "scale=%g must be > 0 and finite", (double)scale);
    *p = (struct cg_radial_lift){.d = d, .scale = scale, .eps = 1e-5f, .momentum = 0.1f};
    return CG_OK;
}

static double sqnorm(const float *x, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)x[i] * x[i];
    return s;
}

/* Copies x and writes the radial channel (s - mean) * rstd * scale, example by example. */
static void emit(const struct cg_radial_lift *p, int n, const float *x, float mean, float rstd,
                 float *y) {
    const int d = p->d;
    for (int e = 0; e < n; e++) {
        const float *xe = x + (size_t)e * d;
        float *ye = y + (size_t)e * (d + 1);
        for (int i = 0; i < d; i++) ye[i] = xe[i];
        ye[d] = (float)((sqnorm(xe, d) - mean) * rstd) * p->scale;
    }
}

void cg_radial_lift_sums(const struct cg_radial_lift *p, int n, const float *x, double s[2]) {
    /* serial, in example order: the same bits for any thread count */
    s[0] = s[1] = 0;
    for (int e = 0; e < n; e++) {
        double q = sqnorm(x + (size_t)e * p->d, p->d);
        s[0] += q;
        s[1] += q * q;
    }
}

void cg_radial_lift_forward_sums(const struct cg_radial_lift *p, int n, size_t cnt,
                                 const double s[2], const float *x, float *y, float *mean,
                                 float *rstd, float *run_mean, float *run_var) {
    assert(cnt >= 1);
    double m, r;
    const int upd = run_mean && run_var;
    cg_bn_moments(cnt, s[0], s[1], p->eps, p->momentum, &m, &r, upd ? run_mean : NULL,
                  upd ? run_var : NULL);
    float fm = (float)m, fr = (float)r;
    emit(p, n, x, fm, fr, y);
    if (mean) *mean = fm;
    if (rstd) *rstd = fr;
}

void cg_radial_lift_forward_train(const struct cg_radial_lift *p, int n, const float *x,
                                  float *y, float *mean, float *rstd, float *run_mean,
                                  float *run_var) {
    double s[2];
    cg_radial_lift_sums(p, n, x, s);
    cg_radial_lift_forward_sums(p, n, (size_t)n, s, x, y, mean, rstd, run_mean, run_var);
}

void cg_radial_lift_forward_eval(const struct cg_radial_lift *p, int n, const float *x,
                                 const float *run_mean, const float *run_var, float *y) {
    emit(p, n, x, *run_mean, (float)(1.0 / sqrt((double)*run_var + p->eps)), y);
}

void cg_radial_lift_backward_sums(const struct cg_radial_lift *p, int n, const float *dy,
                                  const float *x, const float *mean, const float *rstd,
                                  double g[2]) {
    const int d = p->d;
    g[0] = g[1] = 0;
    for (int e = 0; e < n; e++) {
        double gr = (double)dy[(size_t)e * (d + 1) + d] * p->scale;
        double shat = (sqnorm(x + (size_t)e * d, d) - *mean) * *rstd;
        g[0] += gr;
        g[1] += gr * shat;
    }
}

void cg_radial_lift_backward_dx(const struct cg_radial_lift *p, int n, size_t cnt,
                                const double g[2], const float *dy, const float *x,
                                const float *mean, const float *rstd, float *dx) {
    const int d = p->d;
    const double gm = g[0] / (double)cnt, gsm = g[1] / (double)cnt;
    for (int e = 0; e < n; e++) {
        const float *xe = x + (size_t)e * d, *dye = dy + (size_t)e * (d + 1);
        float *dxe = dx + (size_t)e * d;
        /* BN backward on the one channel: ds = rstd (g - mean g - shat mean(g shat)), with
         * g = dL/dshat = scale * dy_r; then d|x|^2/dx_i = 2 x_i */
        double shat = (sqnorm(xe, d) - *mean) * *rstd;
        double ds = *rstd * ((double)dye[d] * p->scale - gm - shat * gsm);
        for (int i = 0; i < d; i++) dxe[i] += (float)((double)dye[i] + 2.0 * ds * xe[i]);
    }
}

void cg_radial_lift_backward(const struct cg_radial_lift *p, int n, const float *dy,
                             const float *x, const float *mean, const float *rstd, float *dx) {
    double g[2];
    cg_radial_lift_backward_sums(p, n, dy, x, mean, rstd, g);
    cg_radial_lift_backward_dx(p, n, (size_t)n, g, dy, x, mean, rstd, dx);
}
