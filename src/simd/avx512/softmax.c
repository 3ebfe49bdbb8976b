/* AVX-512 softmax/entropy row kernels (SLEEF Sleef_expf16_u10avx512f / logf16). Small k runs
 * class-major, 16 rows per vector (gathered), so no lane is wasted and no row needs a
 * horizontal reduction; large k runs row-wise with a masked tail. Spec: ../ref/softmax.c. */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "simd/softmax.h"

/* Up to this k the 16-row tiles (two of 16 x k floats and one of 16 x k doubles) stay in L1. */
#define COLS_KMAX 32

static inline __m512 vexp(__m512 x) { return Sleef_expf16_u10avx512f(x); }
static inline __m512 vlog(__m512 x) { return Sleef_logf16_u10avx512f(x); }

static inline __mmask16 tail_mask(size_t r) {
    return (__mmask16)(r >= 16 ? 0xFFFFu : (1u << r) - 1u);
}

/* Adds the 16 lanes of v (masked) to the 16 double lanes at d. */
static inline void acc_pd(double *d, __m512 v) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
    _mm512_store_pd(d, _mm512_add_pd(_mm512_load_pd(d), lo));
    _mm512_store_pd(d + 8, _mm512_add_pd(_mm512_load_pd(d + 8), hi));
}

/* Class-major tile: loads rows [0, r) of a 16-row tile into ut (column j at ut + 16 j) as
 * u = z - max, and e^u into et. Spare lanes read 0 (masked gather), so they stay finite.
 * Returns s; *vt = sum_j e u; *vmx = the row maxima. */
static inline __m512 tile_exp(size_t k, const float *z, __m512i idx, __mmask16 rm, float *ut,
                              float *et, __m512 *vt, __m512 *vmx) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (size_t j = 0; j < k; j++) {
        __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rm, idx, z + j, 4);
        _mm512_store_ps(ut + 16 * j, v);
        mx = _mm512_max_ps(mx, v);
    }
    __m512 s = _mm512_setzero_ps(), t = _mm512_setzero_ps();
    for (size_t j = 0; j < k; j++) {
        __m512 u = _mm512_sub_ps(_mm512_load_ps(ut + 16 * j), mx);
        __m512 e = vexp(u);
        _mm512_store_ps(ut + 16 * j, u);
        _mm512_store_ps(et + 16 * j, e);
        s = _mm512_add_ps(s, e);
        t = _mm512_fmadd_ps(e, u, t);
    }
    *vt = t;
    *vmx = mx;
    return s;
}

static void rowent_cols(size_t m, size_t k, const float *z, double *hsum, double *psum) {
    _Alignas(64) float ut[COLS_KMAX * 16], et[COLS_KMAX * 16];
    _Alignas(64) double dacc[COLS_KMAX * 16], hacc[16];
    for (size_t j = 0; j < 16 * k; j++) dacc[j] = 0.0;
    for (size_t j = 0; j < 16; j++) hacc[j] = 0.0;
    __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)k));
    for (size_t i0 = 0; i0 < m; i0 += 16) {
        __mmask16 rm = tail_mask(m - i0);
        __m512 t, mx;
        __m512 s = tile_exp(k, z + i0 * k, idx, rm, ut, et, &t, &mx);
        __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), s);
        /* H = log s + (-t)/s, both >= 0 (see ref) */
        __m512 h = _mm512_maskz_mov_ps(rm, _mm512_fnmadd_ps(t, inv, vlog(s)));
        acc_pd(hacc, h);
        for (size_t j = 0; j < k; j++)
            acc_pd(dacc + 16 * j, _mm512_maskz_mul_ps(rm, _mm512_load_ps(et + 16 * j), inv));
    }
    double h = 0.0;
    for (size_t l = 0; l < 16; l++) h += hacc[l];
    *hsum += h;
    for (size_t j = 0; j < k; j++) {
        double s = 0.0;
        for (size_t l = 0; l < 16; l++) s += dacc[16 * j + l];
        psum[j] += s;
    }
}

static void rowent_grad_cols(size_t m, size_t k, const float *z, const float *lm, float a,
                             float b, float *g) {
    _Alignas(64) float ut[COLS_KMAX * 16], et[COLS_KMAX * 16];
    int use_m = lm != NULL && b != 0.0f;
    __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)k));
    __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (size_t i0 = 0; i0 < m; i0 += 16) {
        __mmask16 rm = tail_mask(m - i0);
        __m512 t, mx;
        __m512 s = tile_exp(k, z + i0 * k, idx, rm, ut, et, &t, &mx);
        __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), s);
        __m512 ls = vlog(s);
        __m512 h = _mm512_fnmadd_ps(t, inv, ls);
        __m512 dot = _mm512_setzero_ps();
        if (use_m)
            for (size_t j = 0; j < k; j++)
                dot = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_load_ps(et + 16 * j), inv),
                                      _mm512_set1_ps(lm[j]), dot);
        /* h - ls: the per-row part of a (log p + H) = a (u - ls + H) */
        __m512 hl = _mm512_sub_ps(h, ls);
        float *gb = g + i0 * k;
        for (size_t j = 0; j < k; j++) {
            __m512 p = _mm512_mul_ps(_mm512_load_ps(et + 16 * j), inv);
            __m512 c = _mm512_mul_ps(va, _mm512_add_ps(_mm512_load_ps(ut + 16 * j), hl));
            if (use_m) c = _mm512_fmadd_ps(vb, _mm512_sub_ps(_mm512_set1_ps(lm[j]), dot), c);
            _mm512_mask_i32scatter_ps(gb + j, rm, idx, _mm512_mul_ps(p, c), 4);
        }
    }
}

/* Row-wise: one row at a time, 16 classes per vector, masked tail. e holds the row's e^u. */
static inline float row_exp(size_t k, const float *z, float *e, float *t, float *mx) {
    size_t kv = k & ~(size_t)15;
    __mmask16 tm = (__mmask16)((1u << (k & 15)) - 1u);
    __m512 vm = _mm512_set1_ps(-INFINITY);
    for (size_t j = 0; j < kv; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(z + j));
    if (tm) vm = _mm512_mask_max_ps(vm, tm, vm, _mm512_maskz_loadu_ps(tm, z + kv));
    float m = _mm512_reduce_max_ps(vm);
    vm = _mm512_set1_ps(m);
    __m512 s = _mm512_setzero_ps(), tt = _mm512_setzero_ps();
    for (size_t j = 0; j < kv; j += 16) {
        __m512 u = _mm512_sub_ps(_mm512_loadu_ps(z + j), vm);
        __m512 ev = vexp(u);
        _mm512_store_ps(e + j, ev);
        s = _mm512_add_ps(s, ev);
        tt = _mm512_fmadd_ps(ev, u, tt);
    }
    if (tm) {
        __m512 u = _mm512_maskz_sub_ps(tm, _mm512_maskz_loadu_ps(tm, z + kv), vm);
        __m512 ev = _mm512_maskz_mov_ps(tm, vexp(u));
        _mm512_store_ps(e + kv, ev);
        s = _mm512_add_ps(s, ev);
        tt = _mm512_fmadd_ps(ev, u, tt);
    }
    *t = _mm512_reduce_add_ps(tt);
    *mx = m;
    return _mm512_reduce_add_ps(s);
}

static void rowent_rows(size_t m, size_t k, const float *z, double *hsum, double *psum) {
    _Alignas(64) float e[CG_SOFTMAX_KMAX];
    size_t kv = k & ~(size_t)15;
    __mmask16 tm = (__mmask16)((1u << (k & 15)) - 1u);
    double h = 0.0;
    for (size_t i = 0; i < m; i++, z += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        float inv = 1.0f / s;
        h += (double)(logf(s) - t * inv);
        __m512 vinv = _mm512_set1_ps(inv);
        for (size_t j = 0; j < kv; j += 16) {
            __m512 p = _mm512_mul_ps(_mm512_load_ps(e + j), vinv);
            __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(p));
            __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(p, 1));
            _mm512_storeu_pd(psum + j, _mm512_add_pd(_mm512_loadu_pd(psum + j), lo));
            _mm512_storeu_pd(psum + j + 8, _mm512_add_pd(_mm512_loadu_pd(psum + j + 8), hi));
        }
        if (tm) {
            __m512 p = _mm512_mul_ps(_mm512_load_ps(e + kv), vinv);
            __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(p));
            __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(p, 1));
            __mmask8 ml = (__mmask8)(tm & 0xFF), mh = (__mmask8)(tm >> 8);
            _mm512_mask_storeu_pd(psum + kv, ml,
                                  _mm512_add_pd(_mm512_maskz_loadu_pd(ml, psum + kv), lo));
            _mm512_mask_storeu_pd(psum + kv + 8, mh,
                                  _mm512_add_pd(_mm512_maskz_loadu_pd(mh, psum + kv + 8), hi));
        }
    }
    *hsum += h;
}

static void rowent_grad_rows(size_t m, size_t k, const float *z, const float *lm, float a,
                             float b, float *g) {
    _Alignas(64) float e[CG_SOFTMAX_KMAX];
    size_t kv = k & ~(size_t)15;
    __mmask16 tm = (__mmask16)((1u << (k & 15)) - 1u);
    int use_m = lm != NULL && b != 0.0f;
    __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (size_t i = 0; i < m; i++, z += k, g += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        float inv = 1.0f / s, ls = logf(s);
        float h = ls - t * inv;
        __m512 vinv = _mm512_set1_ps(inv);
        float dot = 0.0f;
        if (use_m) {
            __m512 d = _mm512_setzero_ps();
            for (size_t j = 0; j < kv; j += 16)
                d = _mm512_fmadd_ps(_mm512_load_ps(e + j), _mm512_loadu_ps(lm + j), d);
            if (tm)
                d = _mm512_fmadd_ps(_mm512_load_ps(e + kv), _mm512_maskz_loadu_ps(tm, lm + kv),
                                    d);
            dot = _mm512_reduce_add_ps(d) * inv;
        }
        /* log p + H = (z - mx) + (H - ls); folding mx into the constant would lose H - ls
         * to the rounding of mx when the logits are large */
        __m512 vmx = _mm512_set1_ps(mx), hl = _mm512_set1_ps(h - ls);
        __m512 vdot = _mm512_set1_ps(dot);
        for (size_t j = 0; j <= kv; j += 16) {
            __mmask16 mk = j < kv ? (__mmask16)0xFFFF : tm;
            if (!mk) break;
            __m512 p = _mm512_mul_ps(_mm512_load_ps(e + j), vinv);
            __m512 u = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, z + j), vmx);
            __m512 c = _mm512_mul_ps(va, _mm512_add_ps(u, hl));
            if (use_m)
                c = _mm512_fmadd_ps(vb, _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, lm + j), vdot), c);
            _mm512_mask_storeu_ps(g + j, mk, _mm512_mul_ps(p, c));
        }
    }
}

void cg_f32_rowent__avx512(size_t m, size_t k, const float *z, double *hsum, double *psum) {
    if (k <= COLS_KMAX) rowent_cols(m, k, z, hsum, psum);
    else rowent_rows(m, k, z, hsum, psum);
}

void cg_f32_rowent_grad__avx512(size_t m, size_t k, const float *z, const float *lm, float a,
                                float b, float *g) {
    if (k <= COLS_KMAX) rowent_grad_cols(m, k, z, lm, a, b, g);
    else rowent_grad_rows(m, k, z, lm, a, b, g);
}

double cg_f32_xent__avx512(size_t m, size_t k, const float *z, const int *y, float scale,
                           float *g) {
    _Alignas(64) float e[CG_SOFTMAX_KMAX];
    double sum = 0.0;
    for (size_t i = 0; i < m; i++, z += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        sum += (double)(logf(s) - (z[y[i]] - mx));
        if (g) {
            __m512 vs = _mm512_set1_ps(scale / s);
            for (size_t j = 0; j < k; j += 16) {
                __mmask16 mk = tail_mask(k - j);
                _mm512_mask_storeu_ps(g + j, mk, _mm512_mul_ps(_mm512_load_ps(e + j), vs));
            }
            g[y[i]] -= scale;
            g += k;
        }
    }
    return sum;
}
