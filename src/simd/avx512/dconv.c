/* AVX-512 direct-convolution kernels (see src/simd/dconv.h): a 4-row x 32-column block of
 * sums in 8 zmm registers across all taps, one broadcast per tap (taps); four taps share
 * each load of g (dots). Masked loads cover the tails without reading past them. */
#include <immintrin.h>

#include "simd/dconv.h"

#define INLINE static inline __attribute__((always_inline))

static inline __mmask16 lanes(size_t n, size_t at) {
    if (n <= at) return 0;
    return n - at >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - at)) - 1u);
}

/* R rows x NV vectors; R and NV are constants at every call, so acc stays in registers. */
INLINE void taps_block(int R, int NV, size_t ntaps, const float *w, const ptrdiff_t *off,
                       const float *src, size_t lds, float *y, size_t ldy, __mmask16 k0,
                       __mmask16 k1) {
    __m512 acc[4][2];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (size_t t = 0; t < ntaps; t++) {
        const __m512 wv = _mm512_set1_ps(w[t]);
        const float *s = src + off[t];
        for (int r = 0; r < R; r++) {
            acc[r][0] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k0, s + r * lds), acc[r][0]);
            if (NV > 1)
                acc[r][1] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k1, s + r * lds + 16),
                                            acc[r][1]);
        }
    }
    for (int r = 0; r < R; r++) {
        float *yr = y + r * ldy;
        _mm512_mask_storeu_ps(yr, k0, _mm512_add_ps(_mm512_maskz_loadu_ps(k0, yr), acc[r][0]));
        if (NV > 1)
            _mm512_mask_storeu_ps(yr + 16, k1, _mm512_add_ps(_mm512_maskz_loadu_ps(k1, yr + 16),
                                                             acc[r][1]));
    }
}

void cg_f32_taps__avx512(size_t rows, size_t n, size_t ntaps, const float *w,
                         const ptrdiff_t *off, const float *src, size_t lds, float *y,
                         size_t ldy) {
    const __mmask16 k0 = lanes(n, 0), k1 = lanes(n, 16);
    size_t r = 0;
    if (n > 16) {
        for (; r + 4 <= rows; r += 4)
            taps_block(4, 2, ntaps, w, off, src + r * lds, lds, y + r * ldy, ldy, k0, k1);
        for (; r < rows; r++)
            taps_block(1, 2, ntaps, w, off, src + r * lds, lds, y + r * ldy, ldy, k0, k1);
    } else {
        for (; r + 4 <= rows; r += 4)
            taps_block(4, 1, ntaps, w, off, src + r * lds, lds, y + r * ldy, ldy, k0, k1);
        for (; r < rows; r++)
            taps_block(1, 1, ntaps, w, off, src + r * lds, lds, y + r * ldy, ldy, k0, k1);
    }
}

/* T taps at once: each 32-float step of g is loaded once for all of them. */
INLINE void dots_block(int T, size_t n, const ptrdiff_t *off, const float *g, const float *x,
                       float *out) {
    __m512 acc[4][2];
    for (int i = 0; i < T; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (size_t q = 0; q < n; q += 32) {
        const __mmask16 k0 = lanes(n, q), k1 = lanes(n, q + 16);
        const __m512 g0 = _mm512_maskz_loadu_ps(k0, g + q), g1 = _mm512_maskz_loadu_ps(k1, g + q + 16);
        for (int i = 0; i < T; i++) {
            const float *xs = x + off[i] + q;
            acc[i][0] = _mm512_fmadd_ps(g0, _mm512_maskz_loadu_ps(k0, xs), acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(g1, _mm512_maskz_loadu_ps(k1, xs + 16), acc[i][1]);
        }
    }
    for (int i = 0; i < T; i++)
        out[i] += _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1]));
}

void cg_f32_dots__avx512(size_t n, size_t ntaps, const ptrdiff_t *off, const float *g,
                         const float *x, float *out) {
    size_t t = 0;
    for (; t + 4 <= ntaps; t += 4) dots_block(4, n, off + t, g, x, out + t);
    for (; t < ntaps; t++) dots_block(1, n, off + t, g, x, out + t);
}

/* One output row in 16-lane pieces: a piece's lanes take src where they fall inside
 * [lpad, lpad+n), zeros elsewhere (maskz loads: nothing outside the run is read). */
void cg_f32_padrows__avx512(size_t rows, size_t n, size_t lpad, size_t ld_out,
                            const float *src, size_t lds, float *dst) {
    for (size_t r = 0; r < rows; r++) {
        float *d = dst + r * ld_out;
        const float *s = src + r * lds - (ptrdiff_t)lpad;
        for (size_t j = 0; j < ld_out; j += 16) {
            const size_t lo = j < lpad ? lpad - j : 0;      /* first lane inside the run */
            const size_t hi = lpad + n > j ? lpad + n - j : 0; /* one past the last */
            __mmask16 in = lanes(hi, 0) & (__mmask16)~lanes(lo, 0);
            _mm512_mask_storeu_ps(d + j, lanes(ld_out, j), _mm512_maskz_loadu_ps(in, s + j));
        }
    }
}
