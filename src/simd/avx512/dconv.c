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

/* 16 outputs at a time: each window row is two masked 16-float loads deinterleaved into the
 * even (kj = 0), odd (kj = 1) and next-even (kj = 2) columns; the nine candidates are then
 * taken in row-major order with the ref's rule, as lane-wise blends. */
void cg_f32_maxpool3s2__avx512(size_t n, const float *x, size_t w, int32_t idx0, float *y,
                               int32_t *am) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                               11, 12, 13, 14, 15), 1);
    for (size_t i = 0; i < n; i += 16) {
        const size_t left = n - i, cols = 2 * (left < 16 ? left : 16) + 1; /* floats read */
        const __mmask16 ka = lanes(cols, 0), kb = lanes(cols, 16), kc = lanes(cols - 2, 0),
                        kd = lanes(cols - 2, 16);
        __m512 m = _mm512_setzero_ps();
        __m512i b = _mm512_setzero_si512();
        for (int ki = 0; ki < 3; ki++) {
            const float *q = x + (size_t)ki * w + 2 * i;
            const __m512 a0 = _mm512_maskz_loadu_ps(ka, q), a1 = _mm512_maskz_loadu_ps(kb, q + 16);
            const __m512 c0 = _mm512_maskz_loadu_ps(kc, q + 2);
            const __m512 c1 = _mm512_maskz_loadu_ps(kd, q + 18);
            const __m512 v3[3] = {_mm512_permutex2var_ps(a0, ev, a1),
                                  _mm512_permutex2var_ps(a0, od, a1),
                                  _mm512_permutex2var_ps(c0, ev, c1)};
            for (int kj = 0; kj < 3; kj++) {
                const __m512 v = v3[kj];
                const int32_t off = (int32_t)((size_t)ki * w + (size_t)kj);
                if (ki == 0 && kj == 0) {
                    m = v;
                    continue;
                }
                const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_NLE_UQ) &
                                       _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
                m = _mm512_mask_blend_ps(take, m, v);
                b = _mm512_mask_blend_epi32(take, b, _mm512_set1_epi32(off));
            }
        }
        const __mmask16 ko = lanes(left, 0);
        _mm512_mask_storeu_ps(y + i, ko, m);
        const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(idx0 + (int32_t)(2 * i)),
                                             _mm512_add_epi32(lane2, b));
        _mm512_mask_storeu_epi32(am + i, ko, idx);
    }
}
