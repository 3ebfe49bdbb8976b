/* Portable element-wise kernels: the specification every SIMD variant is tested against.
 * Operation order is spelled out (ISO C11 does not contract a*b+c) so that the SIMD variants
 * can repeat it and give the same bits. Adam follows PyTorch 1.13's _single_tensor_adam. */
#include <math.h>

#include "simd/vec.h"

void cg_f32_lrelu__ref(size_t n, float slope, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

/* Uses y, not x: for slope > 0 they have the same sign, so the layer can run in place. */
void cg_f32_lrelu_bwd__ref(size_t n, float slope, const float *y, const float *dy, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : slope * dy[i];
}

void cg_f32_sigmoid__ref(size_t n, const float *x, float *y) {
    /* exp(-x) overflows to inf for x < -88.7 and the quotient becomes an exact 0: no NaN */
    for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void cg_f32_sigmoid_bwd__ref(size_t n, const float *y, const float *dy, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * ((1.0f - y[i]) * y[i]);
}

void cg_f32_addc__ref(size_t n, float b, float *y) {
    for (size_t i = 0; i < n; i++) y[i] += b;
}

void cg_f32_addv__ref(size_t n, const float *b, float *y) {
    for (size_t i = 0; i < n; i++) y[i] += b[i];
}

/* Double accumulation: a float running sum over 78400 elements would lose ~1e-4 relative. */
void cg_f32_sum__ref(size_t n, const float *x, double *s) {
    double a = 0.0;
    for (size_t i = 0; i < n; i++) a += (double)x[i];
    *s += a;
}

void cg_f32_sumv__ref(size_t n, const float *x, double *s) {
    for (size_t i = 0; i < n; i++) s[i] += (double)x[i];
}

/* x*x of a float is exact in double (48 significant bits), so only the sums round. */
void cg_f32_stats__ref(size_t n, const float *x, double *s, double *ss) {
    double a = 0.0, b = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i];
        a += v;
        b += v * v;
    }
    *s += a;
    *ss += b;
}

void cg_f32_statsv__ref(size_t n, const float *x, double *s, double *ss) {
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i];
        s[i] += v;
        ss[i] += v * v;
    }
}

void cg_f32_affine__ref(size_t n, const float *x, float a, float b, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

void cg_f32_affinev__ref(size_t n, const float *x, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * a[i] + b[i];
}

/* dy*(x - mean) in double: the centred product keeps sum(dy*xhat) accurate for large means. */
void cg_f32_bnred__ref(size_t n, const float *dy, const float *x, float mean, double *sdy,
                       double *sdyx) {
    double a = 0.0, b = 0.0;
    for (size_t i = 0; i < n; i++) {
        a += (double)dy[i];
        b += (double)dy[i] * (double)(x[i] - mean);
    }
    *sdy += a;
    *sdyx += b;
}

void cg_f32_bnredv__ref(size_t n, const float *dy, const float *x, const float *mean,
                        double *sdy, double *sdyx) {
    for (size_t i = 0; i < n; i++) {
        sdy[i] += (double)dy[i];
        sdyx[i] += (double)dy[i] * (double)(x[i] - mean[i]);
    }
}

void cg_f32_bndx__ref(size_t n, const float *dy, const float *x, float a, float b, float mean,
                      float c, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] += a * dy[i] + b * (x[i] - mean) + c;
}

void cg_f32_bndxv__ref(size_t n, const float *dy, const float *x, const float *a,
                       const float *b, const float *mean, const float *c, float *dx) {
    for (size_t i = 0; i < n; i++) dx[i] += a[i] * dy[i] + b[i] * (x[i] - mean[i]) + c[i];
}

/* exp_avg.mul_(b1).add_(g, alpha=1-b1); exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2);
 * denom = sqrt(exp_avg_sq) / sqrt(bc2) + eps; param.addcdiv_(exp_avg, denom, -lr/bc1). */
void cg_f32_adam__ref(size_t n, const struct cg_adam_coef *k, float *w, const float *g,
                      float *m, float *v) {
    for (size_t i = 0; i < n; i++) {
        float mi = m[i] * k->beta1 + k->one_minus_beta1 * g[i];
        float vi = v[i] * k->beta2 + k->one_minus_beta2 * g[i] * g[i];
        float den = sqrtf(vi) / k->bc2_sqrt + k->eps;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] + k->neg_step * mi / den;
    }
}

void cg_f32_gauss__ref(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float sigma,
                       const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] + sigma * cg_rng_gauss_at(key, stream, idx0 + i);
}

/* keep_i = (u_i >= p): probability 1 - p; p >= 1 keeps nothing (u < 1), so x/0 never shows. */
void cg_f32_dropout__ref(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float p,
                         const float *x, float *y) {
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        y[i] = cg_rng_uniform_at(key, stream, idx0 + i) >= p ? x[i] * scale : 0.0f;
}

void cg_f32_dropout_bwd__ref(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float p,
                             const float *dy, float *dx) {
    float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        if (cg_rng_uniform_at(key, stream, idx0 + i) >= p) dx[i] += dy[i] * scale;
}
