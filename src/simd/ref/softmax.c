/* Scalar specification of the softmax/entropy row kernels (libm expf/logf); every SIMD
 * variant is tested against these. Log-softmax form as in Springenberg, ICLR 2016, eqs. (3)-(5). */
#include <math.h>

#include "simd/softmax.h"

/* e[j] = exp(z_j - max z); returns s = sum e, *t = sum e_j u_j, *mx = max z. */
static float row_exp(size_t k, const float *restrict z, float *restrict e, float *t, float *mx) {
    float m = z[0];
    for (size_t j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
    float s = 0.0f, tt = 0.0f;
    for (size_t j = 0; j < k; j++) {
        float u = z[j] - m;
        e[j] = expf(u);
        s += e[j];
        tt += e[j] * u;
    }
    *t = tt;
    *mx = m;
    return s;
}

void cg_f32_rowent__ref(size_t m, size_t k, const float *restrict z, double *restrict hsum,
                        double *restrict psum) {
    float e[CG_SOFTMAX_KMAX];
    double h = 0.0;
    for (size_t i = 0; i < m; i++, z += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        float inv = 1.0f / s;
        /* H = log s + (-t)/s: both terms are >= 0 (u <= 0), so a near one-hot row keeps its
         * relative accuracy instead of cancelling. */
        h += (double)(logf(s) - t * inv);
        for (size_t j = 0; j < k; j++) psum[j] += (double)(e[j] * inv);
    }
    *hsum += h;
}

void cg_f32_rowent_grad__ref(size_t m, size_t k, const float *restrict z,
                             const float *restrict lm, float a, float b, float *restrict g) {
    float e[CG_SOFTMAX_KMAX];
    int use_m = lm != NULL && b != 0.0f;
    for (size_t i = 0; i < m; i++, z += k, g += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        float inv = 1.0f / s, ls = logf(s);
        float h = ls - t * inv;
        float dot = 0.0f;
        if (use_m)
            for (size_t j = 0; j < k; j++) dot += e[j] * inv * lm[j];
        for (size_t j = 0; j < k; j++) {
            float p = e[j] * inv;
            float lp = (z[j] - mx) - ls;
            float c = a * (lp + h);
            if (use_m) c += b * (lm[j] - dot);
            g[j] = p * c;
        }
    }
}

double cg_f32_xent__ref(size_t m, size_t k, const float *restrict z, const int *restrict y,
                        float scale, float *restrict g) {
    float e[CG_SOFTMAX_KMAX];
    double sum = 0.0;
    for (size_t i = 0; i < m; i++, z += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        /* -log p_y = log s - (z_y - max): never the log of a rounded probability */
        sum += (double)(logf(s) - (z[y[i]] - mx));
        if (g) {
            float inv = 1.0f / s;
            for (size_t j = 0; j < k; j++) g[j] = scale * (e[j] * inv);
            g[y[i]] -= scale;
            g += k;
        }
    }
    return sum;
}
