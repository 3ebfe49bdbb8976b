/* AVX2 softmax/entropy row kernels (SLEEF Sleef_expf8_u10avx2): row-wise, 8 classes per
 * vector, masked tail (_mm256_maskload_ps). Spec: ../ref/softmax.c. */
#include <immintrin.h>
#include <math.h>
#include <sleef.h>

#include "simd/softmax.h"

static inline __m256 vexp(__m256 x) { return Sleef_expf8_u10avx2(x); }

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

/* Lane mask for the r < 8 tail elements. */
static inline __m256i tail_mask(size_t r) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
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

void cg_f32_rowent__avx2(size_t m, size_t k, const float *z, double *hsum, double *psum) {
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

void cg_f32_rowent_grad__avx2(size_t m, size_t k, const float *z, const float *lm, float a,
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
