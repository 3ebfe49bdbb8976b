/* Portable direct-convolution kernels: the specification of src/simd/dconv.h. */
#include "simd/dconv.h"

void cg_f32_taps__ref(size_t rows, size_t n, size_t ntaps, const float *w,
                      const ptrdiff_t *off, const float *src, size_t lds, float *y,
                      size_t ldy) {
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * lds;
        for (size_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (size_t t = 0; t < ntaps; t++) acc += w[t] * s[off[t] + (ptrdiff_t)j];
            y[r * ldy + j] += acc;
        }
    }
}

void cg_f32_dots__ref(size_t n, size_t ntaps, const ptrdiff_t *off, const float *g,
                      const float *x, float *out) {
    for (size_t t = 0; t < ntaps; t++) {
        const float *xs = x + off[t];
        float acc = 0.0f;
        for (size_t q = 0; q < n; q++) acc += g[q] * xs[q];
        out[t] += acc;
    }
}

void cg_f32_padrows__ref(size_t rows, size_t n, size_t lpad, size_t ld_out, const float *src,
                         size_t lds, float *dst) {
    for (size_t r = 0; r < rows; r++) {
        float *d = dst + r * ld_out;
        const float *s = src + r * lds;
        for (size_t j = 0; j < lpad; j++) d[j] = 0.0f;
        for (size_t j = 0; j < n; j++) d[lpad + j] = s[j];
        for (size_t j = lpad + n; j < ld_out; j++) d[j] = 0.0f;
    }
}

void cg_f32_maxpool3s2__ref(size_t n, const float *x, size_t w, int32_t idx0, float *y,
                            int32_t *am) {
    for (size_t i = 0; i < n; i++) {
        const float *q = x + 2 * i;
        float m = q[0];
        int32_t b = 0;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
                const float v = q[(size_t)ki * w + kj];
                const int take = !(v <= m) & (v == v);
                m = take ? v : m;
                b = take ? (int32_t)((size_t)ki * w + kj) : b;
            }
        y[i] = m;
        am[i] = idx0 + (int32_t)(2 * i) + b;
    }
}
