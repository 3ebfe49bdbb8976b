/* AVX2 softmax/entropy row kernels (SLEEF Sleef_expf8_u10avx2 / logf8). Small k runs
 * class-major, 8 rows per vector (gathered; AVX2 has no scatter, so gradients go out through a
 * transposed tile); large k runs row-wise with a masked tail. Spec: ../ref/softmax.c. */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "simd/avx2/lanes.h"
#include "simd/softmax.h"

/* Up to this k the 8-row tiles stay small and in L1. */
#define COLS_KMAX 32

static inline __m256 vexp(__m256 x) { return Sleef_expf8_u10avx2(x); }
static inline __m256 vlog(__m256 x) { return Sleef_logf8_u10avx2(x); }

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* e[j] = exp(z_j - max) for j < k and 0 up to the next multiple of 8; returns sum e. */
static inline float row_exp(size_t k, const float *z, float *e, float *t, float *mx) {
    size_t kv = k & ~(size_t)7;
    __m256i tm = tail_mask(k & 7);
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vm = ninf;
    for (size_t j = 0; j < kv; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(z + j));
    if (k & 7)
        vm = _mm256_max_ps(vm, _mm256_blendv_ps(ninf, _mm256_maskload_ps(z + kv, tm),
                                                _mm256_castsi256_ps(tm)));
    float m = hmax8(vm);
    vm = _mm256_set1_ps(m);
    __m256 s = _mm256_setzero_ps(), tt = _mm256_setzero_ps();
    for (size_t j = 0; j < kv; j += 8) {
        __m256 u = _mm256_sub_ps(_mm256_loadu_ps(z + j), vm);
        __m256 ev = vexp(u);
        _mm256_store_ps(e + j, ev);
        s = _mm256_add_ps(s, ev);
        tt = _mm256_fmadd_ps(ev, u, tt);
    }
    if (k & 7) {
        __m256 u = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(z + kv, tm), vm),
                                 _mm256_castsi256_ps(tm));
        __m256 ev = _mm256_and_ps(vexp(u), _mm256_castsi256_ps(tm));
        _mm256_store_ps(e + kv, ev);
        s = _mm256_add_ps(s, ev);
        tt = _mm256_fmadd_ps(ev, u, tt);
    }
    *t = hsum8(tt);
    *mx = m;
    return hsum8(s);
}


/* Class-major tile of r <= 8 rows: ut[8 j + l] = u = z - max, et = e^u (column j of the tile
 * at 8 j). Spare lanes gather nothing and read 0, so they stay finite. Returns s. */
static inline __m256 tile_exp(size_t k, const float *z, __m256i idx, __m256i rm, float *ut,
                              float *et, __m256 *vt) {
    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (size_t j = 0; j < k; j++) {
        __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), z + j, idx,
                                            _mm256_castsi256_ps(rm), 4);
        _mm256_store_ps(ut + 8 * j, v);
        mx = _mm256_max_ps(mx, v);
    }
    __m256 s = _mm256_setzero_ps(), t = _mm256_setzero_ps();
    for (size_t j = 0; j < k; j++) {
        __m256 u = _mm256_sub_ps(_mm256_load_ps(ut + 8 * j), mx);
        __m256 e = vexp(u);
        _mm256_store_ps(ut + 8 * j, u);
        _mm256_store_ps(et + 8 * j, e);
        s = _mm256_add_ps(s, e);
        t = _mm256_fmadd_ps(e, u, t);
    }
    *vt = t;
    return s;
}

static inline void acc_pd(double *d, __m256 v) {
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    _mm256_store_pd(d, _mm256_add_pd(_mm256_load_pd(d), lo));
    _mm256_store_pd(d + 4, _mm256_add_pd(_mm256_load_pd(d + 4), hi));
}

static void rowent_cols(size_t m, size_t k, const float *z, double *hsum, double *psum) {
    _Alignas(32) float ut[COLS_KMAX * 8], et[COLS_KMAX * 8];
    _Alignas(32) double dacc[COLS_KMAX * 8], hacc[8];
    for (size_t j = 0; j < 8 * k; j++) dacc[j] = 0.0;
    for (size_t j = 0; j < 8; j++) hacc[j] = 0.0;
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                     _mm256_set1_epi32((int)k));
    for (size_t i0 = 0; i0 < m; i0 += 8) {
        __m256i rmi = tail_mask(m - i0 < 8 ? m - i0 : 8);
        __m256 rm = _mm256_castsi256_ps(rmi), t;
        __m256 s = tile_exp(k, z + i0 * k, idx, rmi, ut, et, &t);
        __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), s);
        /* H = log s + (-t)/s, both >= 0 (see ref) */
        acc_pd(hacc, _mm256_and_ps(rm, _mm256_fnmadd_ps(t, inv, vlog(s))));
        for (size_t j = 0; j < k; j++)
            acc_pd(dacc + 8 * j, _mm256_and_ps(rm, _mm256_mul_ps(_mm256_load_ps(et + 8 * j), inv)));
    }
    double h = 0.0;
    for (size_t l = 0; l < 8; l++) h += hacc[l];
    *hsum += h;
    for (size_t j = 0; j < k; j++) {
        double s = 0.0;
        for (size_t l = 0; l < 8; l++) s += dacc[8 * j + l];
        psum[j] += s;
    }
}

static void rowent_grad_cols(size_t m, size_t k, const float *z, const float *lm, float a,
                             float b, float *g) {
    _Alignas(32) float ut[COLS_KMAX * 8], et[COLS_KMAX * 8];
    int use_m = lm != NULL && b != 0.0f;
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                     _mm256_set1_epi32((int)k));
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    for (size_t i0 = 0; i0 < m; i0 += 8) {
        size_t r = m - i0 < 8 ? m - i0 : 8;
        __m256 t;
        __m256 s = tile_exp(k, z + i0 * k, idx, tail_mask(r), ut, et, &t);
        __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), s);
        __m256 ls = vlog(s);
        /* H - ls: the per-row part of log p + H = u + (H - ls) */
        __m256 hl = _mm256_sub_ps(_mm256_fnmadd_ps(t, inv, ls), ls);
        __m256 dot = _mm256_setzero_ps();
        if (use_m)
            for (size_t j = 0; j < k; j++)
                dot = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_load_ps(et + 8 * j), inv),
                                      _mm256_set1_ps(lm[j]), dot);
        for (size_t j = 0; j < k; j++) {
            __m256 p = _mm256_mul_ps(_mm256_load_ps(et + 8 * j), inv);
            __m256 c = _mm256_mul_ps(va, _mm256_add_ps(_mm256_load_ps(ut + 8 * j), hl));
            if (use_m) c = _mm256_fmadd_ps(vb, _mm256_sub_ps(_mm256_set1_ps(lm[j]), dot), c);
            _mm256_store_ps(et + 8 * j, _mm256_mul_ps(p, c));
        }
        /* transpose the tile out: AVX2 has no scatter */
        float *gb = g + i0 * k;
        for (size_t l = 0; l < r; l++)
            for (size_t j = 0; j < k; j++) gb[l * k + j] = et[8 * j + l];
    }
}

static void rowent_rows(size_t m, size_t k, const float *z, double *hsum, double *psum) {
    _Alignas(32) float e[CG_SOFTMAX_KMAX];
    size_t kv = k & ~(size_t)3;
    double h = 0.0;
    for (size_t i = 0; i < m; i++, z += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        float inv = 1.0f / s;
        /* H = log s + (-t)/s, both >= 0 (see ref) */
        h += (double)(logf(s) - t * inv);
        __m128 vinv = _mm_set1_ps(inv);
        size_t j = 0;
        for (; j < kv; j += 4) {
            __m256d p = _mm256_cvtps_pd(_mm_mul_ps(_mm_load_ps(e + j), vinv));
            _mm256_storeu_pd(psum + j, _mm256_add_pd(_mm256_loadu_pd(psum + j), p));
        }
        for (; j < k; j++) psum[j] += (double)(e[j] * inv);
    }
    *hsum += h;
}

static void rowent_grad_rows(size_t m, size_t k, const float *z, const float *lm, float a,
                             float b, float *g) {
    _Alignas(32) float e[CG_SOFTMAX_KMAX];
    size_t kv = k & ~(size_t)7;
    __m256i tm = tail_mask(k & 7);
    int use_m = lm != NULL && b != 0.0f;
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    for (size_t i = 0; i < m; i++, z += k, g += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        float inv = 1.0f / s, ls = logf(s);
        float h = ls - t * inv;
        __m256 vinv = _mm256_set1_ps(inv);
        float dot = 0.0f;
        if (use_m) {
            __m256 d = _mm256_setzero_ps();
            for (size_t j = 0; j < kv; j += 8)
                d = _mm256_fmadd_ps(_mm256_load_ps(e + j), _mm256_loadu_ps(lm + j), d);
            if (k & 7)
                d = _mm256_fmadd_ps(_mm256_load_ps(e + kv), _mm256_maskload_ps(lm + kv, tm), d);
            dot = hsum8(d) * inv;
        }
        /* log p + H = (z - mx) + (H - ls), kept apart so large logits do not swamp H - ls */
        __m256 vmx = _mm256_set1_ps(mx), hl = _mm256_set1_ps(h - ls);
        __m256 vdot = _mm256_set1_ps(dot);
        for (size_t j = 0; j < k; j += 8) {
            int full = j < kv;
            __m256 zj = full ? _mm256_loadu_ps(z + j) : _mm256_maskload_ps(z + j, tm);
            __m256 p = _mm256_mul_ps(_mm256_load_ps(e + j), vinv);
            __m256 c = _mm256_mul_ps(va, _mm256_add_ps(_mm256_sub_ps(zj, vmx), hl));
            if (use_m) {
                __m256 l = full ? _mm256_loadu_ps(lm + j) : _mm256_maskload_ps(lm + j, tm);
                c = _mm256_fmadd_ps(vb, _mm256_sub_ps(l, vdot), c);
            }
            __m256 r = _mm256_mul_ps(p, c);
            if (full) _mm256_storeu_ps(g + j, r);
            else _mm256_maskstore_ps(g + j, tm, r);
        }
    }
}

void cg_f32_rowent__avx2(size_t m, size_t k, const float *z, double *hsum, double *psum) {
    if (k <= COLS_KMAX) rowent_cols(m, k, z, hsum, psum);
    else rowent_rows(m, k, z, hsum, psum);
}

void cg_f32_rowent_grad__avx2(size_t m, size_t k, const float *z, const float *lm, float a,
                              float b, float *g) {
    if (k <= COLS_KMAX) rowent_grad_cols(m, k, z, lm, a, b, g);
    else rowent_grad_rows(m, k, z, lm, a, b, g);
}

double cg_f32_xent__avx2(size_t m, size_t k, const float *z, const int *y, float scale,
                         float *g) {
    _Alignas(32) float e[CG_SOFTMAX_KMAX];
    size_t kv = k & ~(size_t)7;
    __m256i tm = tail_mask(k & 7);
    double sum = 0.0;
    for (size_t i = 0; i < m; i++, z += k) {
        float t, mx;
        float s = row_exp(k, z, e, &t, &mx);
        sum += (double)(logf(s) - (z[y[i]] - mx));
        if (g) {
            __m256 vs = _mm256_set1_ps(scale / s);
            for (size_t j = 0; j < kv; j += 8)
                _mm256_storeu_ps(g + j, _mm256_mul_ps(_mm256_load_ps(e + j), vs));
            if (k & 7) _mm256_maskstore_ps(g + kv, tm, _mm256_mul_ps(_mm256_load_ps(e + kv), vs));
            g[y[i]] -= scale;
            g += k;
        }
    }
    return sum;
}
