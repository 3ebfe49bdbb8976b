/* AVX2 element-wise kernels (8 lanes; full vectors in the loop, one masked tail step). Same
 * operation order as src/simd/ref/vec.c, mul then add rather than FMA, so the results carry the
 * ref's bits; exp/log/cos come from SLEEF's avx2 functions. Philox: Salmon et al., SC'11. */
#include <immintrin.h>
#include <sleef.h>

#include "simd/avx2/lanes.h"
#include "simd/vec.h"

/* Each kernel is a step on 8 elements at i, instantiated twice: full (plain loads/stores) and
 * tail (maskload/maskstore, slow on AMD, so only for the last n % 8 elements). */
#define AI static inline __attribute__((always_inline))
#define LOOP8(n, STEP, ...)                                                                   \
    do {                                                                                      \
        size_t i_ = 0;                                                                        \
        for (; i_ + 8 <= (n); i_ += 8) STEP(i_, _mm256_set1_epi32(-1), 1, __VA_ARGS__);       \
        if (i_ < (n)) STEP(i_, tail_mask((n) - i_), 0, __VA_ARGS__);                          \
    } while (0)

AI __m256 ld(const float *p, __m256i k, int full) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k);
}
AI void st(float *p, __m256i k, int full, __m256 v) {
    if (full) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, k, v);
}
AI __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
AI __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
/* The 64-bit lane masks of doubles 0-3 (half 0) or 4-7 (half 1) of a 32-bit lane mask. */
AI __m256i mask_pd(__m256i k, int half) {
    return _mm256_cvtepi32_epi64(half ? _mm256_extracti128_si256(k, 1)
                                      : _mm256_castsi256_si128(k));
}
AI __m256d ldd(const double *p, __m256i k, int full, int half) {
    return full ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, mask_pd(k, half));
}
AI void std_(double *p, __m256i k, int full, int half, __m256d v) {
    if (full) _mm256_storeu_pd(p, v);
    else _mm256_maskstore_pd(p, mask_pd(k, half), v);
}
AI double hsum(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

AI void lrelu8(size_t i, __m256i k, int full, float slope, const float *x, float *y) {
    __m256 v = ld(x + i, k, full);
    __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
    st(y + i, k, full, _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(slope), v), v, pos));
}
void cg_f32_lrelu__avx2(size_t n, float slope, const float *x, float *y) {
    LOOP8(n, lrelu8, slope, x, y);
}

AI void lrelu_bwd8(size_t i, __m256i k, int full, float slope, const float *y, const float *dy,
                   float *dx) {
    __m256 g = ld(dy + i, k, full);
    __m256 pos = _mm256_cmp_ps(ld(y + i, k, full), _mm256_setzero_ps(), _CMP_GT_OQ);
    __m256 d = _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(slope), g), g, pos);
    st(dx + i, k, full, _mm256_add_ps(ld(dx + i, k, full), d));
}
void cg_f32_lrelu_bwd__avx2(size_t n, float slope, const float *y, const float *dy,
                            float *dx) {
    LOOP8(n, lrelu_bwd8, slope, y, dy, dx);
}

AI void sigmoid8(size_t i, __m256i k, int full, const float *x, float *y) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = Sleef_expf8_u10avx2(_mm256_xor_ps(ld(x + i, k, full), _mm256_set1_ps(-0.0f)));
    st(y + i, k, full, _mm256_div_ps(one, _mm256_add_ps(one, e)));
}
void cg_f32_sigmoid__avx2(size_t n, const float *x, float *y) { LOOP8(n, sigmoid8, x, y); }

AI void sigmoid_bwd8(size_t i, __m256i k, int full, const float *y, const float *dy,
                     float *dx) {
    __m256 v = ld(y + i, k, full);
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), v), v);
    st(dx + i, k, full, _mm256_add_ps(ld(dx + i, k, full), _mm256_mul_ps(ld(dy + i, k, full), t)));
}
void cg_f32_sigmoid_bwd__avx2(size_t n, const float *y, const float *dy, float *dx) {
    LOOP8(n, sigmoid_bwd8, y, dy, dx);
}

AI void addc8(size_t i, __m256i k, int full, float b, float *y) {
    st(y + i, k, full, _mm256_add_ps(ld(y + i, k, full), _mm256_set1_ps(b)));
}
void cg_f32_addc__avx2(size_t n, float b, float *y) { LOOP8(n, addc8, b, y); }

AI void addv8(size_t i, __m256i k, int full, const float *b, float *y) {
    st(y + i, k, full, _mm256_add_ps(ld(y + i, k, full), ld(b + i, k, full)));
}
void cg_f32_addv__avx2(size_t n, const float *b, float *y) { LOOP8(n, addv8, b, y); }

/* Reductions keep two double accumulators per sum (low and high half of each 8 floats);
 * masked-off lanes load as 0 and add nothing. */
AI void sum8(size_t i, __m256i k, int full, const float *x, __m256d *a) {
    __m256 v = ld(x + i, k, full);
    a[0] = _mm256_add_pd(a[0], lo_pd(v));
    a[1] = _mm256_add_pd(a[1], hi_pd(v));
}
void cg_f32_sum__avx2(size_t n, const float *x, double *s) {
    __m256d a[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    LOOP8(n, sum8, x, a);
    *s += hsum(_mm256_add_pd(a[0], a[1]));
}

AI void sumv8(size_t i, __m256i k, int full, const float *x, double *s) {
    __m256 v = ld(x + i, k, full);
    std_(s + i, k, full, 0, _mm256_add_pd(ldd(s + i, k, full, 0), lo_pd(v)));
    std_(s + i + 4, k, full, 1, _mm256_add_pd(ldd(s + i + 4, k, full, 1), hi_pd(v)));
}
void cg_f32_sumv__avx2(size_t n, const float *x, double *s) { LOOP8(n, sumv8, x, s); }

/* The squares are exact in double, so FMA here equals the ref's multiply-then-add. */
AI void stats8(size_t i, __m256i k, int full, const float *x, __m256d *a) {
    __m256 v = ld(x + i, k, full);
    __m256d l = lo_pd(v), h = hi_pd(v);
    a[0] = _mm256_add_pd(a[0], l);
    a[1] = _mm256_add_pd(a[1], h);
    a[2] = _mm256_fmadd_pd(l, l, a[2]);
    a[3] = _mm256_fmadd_pd(h, h, a[3]);
}
void cg_f32_stats__avx2(size_t n, const float *x, double *s, double *ss) {
    __m256d a[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                    _mm256_setzero_pd()};
    LOOP8(n, stats8, x, a);
    *s += hsum(_mm256_add_pd(a[0], a[1]));
    *ss += hsum(_mm256_add_pd(a[2], a[3]));
}

AI void statsv8(size_t i, __m256i k, int full, const float *x, double *s, double *ss) {
    __m256 v = ld(x + i, k, full);
    __m256d l = lo_pd(v), h = hi_pd(v);
    std_(s + i, k, full, 0, _mm256_add_pd(ldd(s + i, k, full, 0), l));
    std_(s + i + 4, k, full, 1, _mm256_add_pd(ldd(s + i + 4, k, full, 1), h));
    std_(ss + i, k, full, 0, _mm256_fmadd_pd(l, l, ldd(ss + i, k, full, 0)));
    std_(ss + i + 4, k, full, 1, _mm256_fmadd_pd(h, h, ldd(ss + i + 4, k, full, 1)));
}
void cg_f32_statsv__avx2(size_t n, const float *x, double *s, double *ss) {
    LOOP8(n, statsv8, x, s, ss);
}

AI void affine8(size_t i, __m256i k, int full, const float *x, float a, float b, float *y) {
    __m256 v = _mm256_mul_ps(ld(x + i, k, full), _mm256_set1_ps(a));
    st(y + i, k, full, _mm256_add_ps(v, _mm256_set1_ps(b)));
}
void cg_f32_affine__avx2(size_t n, const float *x, float a, float b, float *y) {
    LOOP8(n, affine8, x, a, b, y);
}

AI void affinev8(size_t i, __m256i k, int full, const float *x, const float *a, const float *b,
                 float *y) {
    __m256 v = _mm256_mul_ps(ld(x + i, k, full), ld(a + i, k, full));
    st(y + i, k, full, _mm256_add_ps(v, ld(b + i, k, full)));
}
void cg_f32_affinev__avx2(size_t n, const float *x, const float *a, const float *b, float *y) {
    LOOP8(n, affinev8, x, a, b, y);
}

/* dy*(x - mean): float difference first, as in the ref; the double product is exact. */
AI void bnred8(size_t i, __m256i k, int full, const float *dy, const float *x, float mean,
               __m256d *a) {
    __m256 g = ld(dy + i, k, full);
    __m256 t = _mm256_sub_ps(ld(x + i, k, full), _mm256_set1_ps(mean));
    __m256d gl = lo_pd(g), gh = hi_pd(g);
    a[0] = _mm256_add_pd(a[0], gl);
    a[1] = _mm256_add_pd(a[1], gh);
    a[2] = _mm256_fmadd_pd(gl, lo_pd(t), a[2]);
    a[3] = _mm256_fmadd_pd(gh, hi_pd(t), a[3]);
}
void cg_f32_bnred__avx2(size_t n, const float *dy, const float *x, float mean, double *sdy,
                        double *sdyx) {
    __m256d a[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                    _mm256_setzero_pd()};
    LOOP8(n, bnred8, dy, x, mean, a);
    *sdy += hsum(_mm256_add_pd(a[0], a[1]));
    *sdyx += hsum(_mm256_add_pd(a[2], a[3]));
}

AI void bnredv8(size_t i, __m256i k, int full, const float *dy, const float *x,
                const float *mean, double *sdy, double *sdyx) {
    __m256 g = ld(dy + i, k, full);
    __m256 t = _mm256_sub_ps(ld(x + i, k, full), ld(mean + i, k, full));
    __m256d gl = lo_pd(g), gh = hi_pd(g);
    std_(sdy + i, k, full, 0, _mm256_add_pd(ldd(sdy + i, k, full, 0), gl));
    std_(sdy + i + 4, k, full, 1, _mm256_add_pd(ldd(sdy + i + 4, k, full, 1), gh));
    std_(sdyx + i, k, full, 0, _mm256_fmadd_pd(gl, lo_pd(t), ldd(sdyx + i, k, full, 0)));
    std_(sdyx + i + 4, k, full, 1,
         _mm256_fmadd_pd(gh, hi_pd(t), ldd(sdyx + i + 4, k, full, 1)));
}
void cg_f32_bnredv__avx2(size_t n, const float *dy, const float *x, const float *mean,
                         double *sdy, double *sdyx) {
    LOOP8(n, bnredv8, dy, x, mean, sdy, sdyx);
}

AI void bndx8(size_t i, __m256i k, int full, const float *dy, const float *x, float a, float b,
              float mean, float c, float *dx) {
    __m256 u = _mm256_mul_ps(_mm256_set1_ps(a), ld(dy + i, k, full));
    __m256 t = _mm256_sub_ps(ld(x + i, k, full), _mm256_set1_ps(mean));
    u = _mm256_add_ps(u, _mm256_mul_ps(_mm256_set1_ps(b), t));
    u = _mm256_add_ps(u, _mm256_set1_ps(c));
    st(dx + i, k, full, _mm256_add_ps(ld(dx + i, k, full), u));
}
void cg_f32_bndx__avx2(size_t n, const float *dy, const float *x, float a, float b, float mean,
                       float c, float *dx) {
    LOOP8(n, bndx8, dy, x, a, b, mean, c, dx);
}

AI void bndxv8(size_t i, __m256i k, int full, const float *dy, const float *x, const float *a,
               const float *b, const float *mean, const float *c, float *dx) {
    __m256 u = _mm256_mul_ps(ld(a + i, k, full), ld(dy + i, k, full));
    __m256 t = _mm256_sub_ps(ld(x + i, k, full), ld(mean + i, k, full));
    u = _mm256_add_ps(u, _mm256_mul_ps(ld(b + i, k, full), t));
    u = _mm256_add_ps(u, ld(c + i, k, full));
    st(dx + i, k, full, _mm256_add_ps(ld(dx + i, k, full), u));
}
void cg_f32_bndxv__avx2(size_t n, const float *dy, const float *x, const float *a,
                        const float *b, const float *mean, const float *c, float *dx) {
    LOOP8(n, bndxv8, dy, x, a, b, mean, c, dx);
}

AI void adam8(size_t i, __m256i k, int full, const struct cg_adam_coef *c, float *w,
              const float *g, float *m, float *v) {
    __m256 gi = ld(g + i, k, full);
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(ld(m + i, k, full), _mm256_set1_ps(c->beta1)),
                              _mm256_mul_ps(_mm256_set1_ps(c->one_minus_beta1), gi));
    __m256 vi = _mm256_add_ps(
        _mm256_mul_ps(ld(v + i, k, full), _mm256_set1_ps(c->beta2)),
        _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(c->one_minus_beta2), gi), gi));
    __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), _mm256_set1_ps(c->bc2_sqrt)),
                               _mm256_set1_ps(c->eps));
    __m256 upd = _mm256_div_ps(_mm256_mul_ps(_mm256_set1_ps(c->neg_step), mi), den);
    st(m + i, k, full, mi);
    st(v + i, k, full, vi);
    st(w + i, k, full, _mm256_add_ps(ld(w + i, k, full), upd));
}
void cg_f32_adam__avx2(size_t n, const struct cg_adam_coef *c, float *w, const float *g,
                       float *m, float *v) {
    LOOP8(n, adam8, c, w, g, m, v);
}

/* ---- Philox4x32-10 on 8 counters idx .. idx+7 (same words as cg_philox4x32) ------------- */
AI __m256i mulhi_u32(__m256i a, __m256i m) {
    __m256i even = _mm256_mul_epu32(a, m); /* 64-bit products of lanes 0, 2, ... */
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

AI void philox8(uint64_t key, uint64_t stream, uint64_t idx, __m256i o[4]) {
    const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53u);
    const __m256i m1 = _mm256_set1_epi32((int)0xCD9E8D57u);
    const __m256i sgn = _mm256_set1_epi32(INT32_MIN);
    __m256i base = _mm256_set1_epi32((int)(uint32_t)idx);
    __m256i c0 = _mm256_add_epi32(base, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    /* the 64-bit counter: carry (-1) where the low word wrapped, i.e. c0 < base unsigned */
    __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(base, sgn), _mm256_xor_si256(c0, sgn));
    __m256i c1 = _mm256_sub_epi32(_mm256_set1_epi32((int)(uint32_t)(idx >> 32)), carry);
    __m256i c2 = _mm256_set1_epi32((int)(uint32_t)stream);
    __m256i c3 = _mm256_set1_epi32((int)(uint32_t)(stream >> 32));
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        __m256i hi0 = mulhi_u32(c0, m0), lo0 = _mm256_mullo_epi32(c0, m0);
        __m256i hi1 = mulhi_u32(c2, m1), lo1 = _mm256_mullo_epi32(c2, m1);
        c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
        c1 = lo1;
        c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    o[0] = c0;
    o[1] = c1;
    o[2] = c2;
    o[3] = c3;
}

AI __m256 uniform8(uint64_t key, uint64_t stream, uint64_t idx) {
    __m256i o[4];
    philox8(key, stream, idx, o);
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(o[0], 8)),
                         _mm256_set1_ps(1.0f / 16777216.0f));
}

/* The 64 normals of block b (cg_rng_gauss_at): lanes 0-7 and 8-15 of its 16 counters in two
 * Philox calls, each word pair through float log and sincospi. */
AI void gauss_block(uint64_t key, uint64_t stream, uint64_t b, float z[64]) {
    for (int g = 0; g < 2; g++) {
        __m256i o[4];
        philox8(key, stream, b * 16u + 8u * (unsigned)g, o);
        for (int h = 0; h < 2; h++) {
            __m256i a = _mm256_add_epi32(_mm256_srli_epi32(o[2 * h], 8), _mm256_set1_epi32(1));
            __m256 u1 = _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_set1_ps(0x1p-24f));
            __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(o[2 * h + 1], 8)),
                                     _mm256_set1_ps(0x1p-23f));
            __m256 r = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f),
                                                    Sleef_logf8_u35avx2(u1)));
            Sleef___m256_2 sc = Sleef_sincospif8_u35avx2(t); /* x: sin, y: cos */
            _mm256_storeu_ps(z + 32 * h + 8 * g, _mm256_mul_ps(r, sc.y));
            _mm256_storeu_ps(z + 32 * h + 16 + 8 * g, _mm256_mul_ps(r, sc.x));
        }
    }
}

void cg_f32_gauss__avx2(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float sigma,
                        const float *x, float *y) {
    const __m256 vs = _mm256_set1_ps(sigma);
    float z[64];
    for (size_t i = 0; i < n;) {
        uint64_t e = idx0 + i;
        size_t off = (size_t)(e & 63u), len = 64 - off < n - i ? 64 - off : n - i;
        gauss_block(key, stream, e >> 6, z);
        for (size_t j = 0; j < len; j += 8) {
            int full = len - j >= 8;
            __m256i k = full ? _mm256_set1_epi32(-1) : tail_mask(len - j);
            __m256 v = _mm256_mul_ps(vs, ld(z + off + j, k, full));
            st(y + i + j, k, full, _mm256_add_ps(ld(x + i + j, k, full), v));
        }
        i += len;
    }
}

AI void dropout8(size_t i, __m256i k, int full, uint64_t key, uint64_t stream, uint64_t idx0,
                 float p, float scale, const float *x, float *y) {
    __m256 keep = _mm256_cmp_ps(uniform8(key, stream, idx0 + i), _mm256_set1_ps(p), _CMP_GE_OQ);
    __m256 v = _mm256_mul_ps(ld(x + i, k, full), _mm256_set1_ps(scale));
    st(y + i, k, full, _mm256_and_ps(v, keep)); /* dropped lanes: +0.0f, as in the ref */
}
void cg_f32_dropout__avx2(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float p,
                          const float *x, float *y) {
    float scale = 1.0f / (1.0f - p);
    LOOP8(n, dropout8, key, stream, idx0, p, scale, x, y);
}

AI void dropout_bwd8(size_t i, __m256i k, int full, uint64_t key, uint64_t stream,
                     uint64_t idx0, float p, float scale, const float *dy, float *dx) {
    __m256 keep = _mm256_cmp_ps(uniform8(key, stream, idx0 + i), _mm256_set1_ps(p), _CMP_GE_OQ);
    __m256 d = _mm256_mul_ps(ld(dy + i, k, full), _mm256_set1_ps(scale));
    __m256 old = ld(dx + i, k, full);
    /* dropped lanes keep dx untouched (not dx + 0, which would turn -0 into +0) */
    st(dx + i, k, full, _mm256_blendv_ps(old, _mm256_add_ps(old, d), keep));
}
void cg_f32_dropout_bwd__avx2(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float p,
                              const float *dy, float *dx) {
    float scale = 1.0f / (1.0f - p);
    LOOP8(n, dropout_bwd8, key, stream, idx0, p, scale, dy, dx);
}
