/* AVX2+FMA direct-convolution kernels (see src/simd/dconv.h): 2 rows x 32 columns of sums in
 * 8 ymm registers across all taps (taps); four taps share each load of g (dots). Masked loads
 * (vmaskmovps) cover the tails without reading past them. */
#include <immintrin.h>

#include "simd/dconv.h"

#define INLINE static inline __attribute__((always_inline))

static const int32_t mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [at, n) of an 8-lane vector, as a vmaskmovps mask. */
static inline __m256i lanes(size_t n, size_t at) {
    size_t left = n > at ? n - at : 0;
    if (left > 8) left = 8;
    return _mm256_loadu_si256((const __m256i *)(mask_tab + 8 - left));
}

INLINE void taps_block(int R, int NV, size_t ntaps, const float *w, const ptrdiff_t *off,
                       const float *src, size_t lds, float *y, size_t ldy, const __m256i *k) {
    __m256 acc[2][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (size_t t = 0; t < ntaps; t++) {
        const __m256 wv = _mm256_broadcast_ss(w + t);
        const float *s = src + off[t];
        for (int r = 0; r < R; r++)
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(s + r * lds + 8 * v, k[v]),
                                            acc[r][v]);
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < NV; v++) {
            float *yv = y + r * ldy + 8 * v;
            _mm256_maskstore_ps(yv, k[v], _mm256_add_ps(_mm256_maskload_ps(yv, k[v]), acc[r][v]));
        }
}

#define TAPS_ROWS(NV)                                                                         \
    do {                                                                                      \
        for (; r + 2 <= rows; r += 2)                                                         \
            taps_block(2, NV, ntaps, w, off, src + r * lds, lds, y + r * ldy, ldy, k);        \
        for (; r < rows; r++)                                                                 \
            taps_block(1, NV, ntaps, w, off, src + r * lds, lds, y + r * ldy, ldy, k);        \
    } while (0)

void cg_f32_taps__avx2(size_t rows, size_t n, size_t ntaps, const float *w,
                       const ptrdiff_t *off, const float *src, size_t lds, float *y,
                       size_t ldy) {
    const __m256i k[4] = {lanes(n, 0), lanes(n, 8), lanes(n, 16), lanes(n, 24)};
    size_t r = 0;
    if (n > 24) TAPS_ROWS(4);
    else if (n > 16) TAPS_ROWS(3);
    else if (n > 8) TAPS_ROWS(2);
    else TAPS_ROWS(1);
}

INLINE void dots_block(int T, size_t n, const ptrdiff_t *off, const float *g, const float *x,
                       float *out) {
    __m256 acc[4][2];
    for (int i = 0; i < T; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (size_t q = 0; q < n; q += 16) {
        const __m256i k0 = lanes(n, q), k1 = lanes(n, q + 8);
        const __m256 g0 = _mm256_maskload_ps(g + q, k0), g1 = _mm256_maskload_ps(g + q + 8, k1);
        for (int i = 0; i < T; i++) {
            const float *xs = x + off[i] + q;
            acc[i][0] = _mm256_fmadd_ps(g0, _mm256_maskload_ps(xs, k0), acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(g1, _mm256_maskload_ps(xs + 8, k1), acc[i][1]);
        }
    }
    for (int i = 0; i < T; i++) {
        __m256 s = _mm256_add_ps(acc[i][0], acc[i][1]);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        out[i] += _mm_cvtss_f32(h);
    }
}

void cg_f32_dots__avx2(size_t n, size_t ntaps, const ptrdiff_t *off, const float *g,
                       const float *x, float *out) {
    size_t t = 0;
    for (; t + 4 <= ntaps; t += 4) dots_block(4, n, off + t, g, x, out + t);
    for (; t < ntaps; t++) dots_block(1, n, off + t, g, x, out + t);
}

/* One output row in 8-lane pieces: lanes inside [lpad, lpad+n) take src, the others zero
 * (masked loads read nothing outside the run). */
void cg_f32_padrows__avx2(size_t rows, size_t n, size_t lpad, size_t ld_out, const float *src,
                          size_t lds, float *dst) {
    for (size_t r = 0; r < rows; r++) {
        float *d = dst + r * ld_out;
        const float *s = src + r * lds - (ptrdiff_t)lpad;
        for (size_t j = 0; j < ld_out; j += 8) {
            const size_t lo = j < lpad ? lpad - j : 0, hi = lpad + n > j ? lpad + n - j : 0;
            const __m256i in = _mm256_andnot_si256(lanes(lo, 0), lanes(hi, 0));
            _mm256_maskstore_ps(d + j, lanes(ld_out, j), _mm256_maskload_ps(s + j, in));
        }
    }
}

/* No 8-lane deinterleave as cheap as AVX-512's two-source permute: the ref's scalar scan. */
void cg_f32_maxpool3s2__avx2(size_t n, const float *x, size_t w, int32_t idx0, float *y,
                             int32_t *am) {
    cg_f32_maxpool3s2__ref(n, x, w, idx0, y, am);
}
