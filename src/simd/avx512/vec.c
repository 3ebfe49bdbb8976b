/* AVX-512 element-wise kernels (16 lanes, masked tails: XNNPACK style). Same operation order
 * as src/simd/ref/vec.c, mul then add rather than FMA, so the results carry the ref's bits;
 * exp/log/cos come from SLEEF's avx512f functions. Philox4x32-10: Salmon et al., SC'11. */
#include <immintrin.h>
#include <sleef.h>

#include "simd/vec.h"

static inline __mmask16 lanes(size_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}
static inline __m512 ld(const float *p, __mmask16 k) { return _mm512_maskz_loadu_ps(k, p); }
static inline void st(float *p, __mmask16 k, __m512 v) { _mm512_mask_storeu_ps(p, k, v); }
static inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }

/* s[0..16) += v in double (two halves of 8), only the lanes in k. */
static inline void acc_pd(double *s, __mmask16 k, __m512 v) {
    __mmask8 kl = (__mmask8)(k & 0xFF), kh = (__mmask8)(k >> 8);
    _mm512_mask_storeu_pd(s, kl, _mm512_add_pd(_mm512_maskz_loadu_pd(kl, s), lo_pd(v)));
    if (kh) _mm512_mask_storeu_pd(s + 8, kh, _mm512_add_pd(_mm512_maskz_loadu_pd(kh, s + 8),
                                                           hi_pd(v)));
}

void cg_f32_lrelu__avx512(size_t n, float slope, const float *x, float *y) {
    const __m512 vs = _mm512_set1_ps(slope), z = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 v = ld(x + i, k);
        __mmask16 pos = _mm512_cmp_ps_mask(v, z, _CMP_GT_OQ);
        st(y + i, k, _mm512_mask_blend_ps(pos, _mm512_mul_ps(vs, v), v));
    }
}

void cg_f32_lrelu_bwd__avx512(size_t n, float slope, const float *y, const float *dy,
                              float *dx) {
    const __m512 vs = _mm512_set1_ps(slope), z = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 g = ld(dy + i, k);
        __mmask16 pos = _mm512_cmp_ps_mask(ld(y + i, k), z, _CMP_GT_OQ);
        __m512 d = _mm512_mask_blend_ps(pos, _mm512_mul_ps(vs, g), g);
        st(dx + i, k, _mm512_add_ps(ld(dx + i, k), d));
    }
}

void cg_f32_sigmoid__avx512(size_t n, const float *x, float *y) {
    const __m512 one = _mm512_set1_ps(1.0f), sign = _mm512_set1_ps(-0.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 e = Sleef_expf16_u10avx512f(_mm512_xor_ps(ld(x + i, k), sign));
        st(y + i, k, _mm512_div_ps(one, _mm512_add_ps(one, e)));
    }
}

void cg_f32_sigmoid_bwd__avx512(size_t n, const float *y, const float *dy, float *dx) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 v = ld(y + i, k);
        __m512 d = _mm512_mul_ps(ld(dy + i, k), _mm512_mul_ps(_mm512_sub_ps(one, v), v));
        st(dx + i, k, _mm512_add_ps(ld(dx + i, k), d));
    }
}

void cg_f32_addc__avx512(size_t n, float b, float *y) {
    const __m512 vb = _mm512_set1_ps(b);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        st(y + i, k, _mm512_add_ps(ld(y + i, k), vb));
    }
}

void cg_f32_addv__avx512(size_t n, const float *b, float *y) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        st(y + i, k, _mm512_add_ps(ld(y + i, k), ld(b + i, k)));
    }
}

void cg_f32_sum__avx512(size_t n, const float *x, double *s) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 16) {
        __m512 v = ld(x + i, lanes(n - i)); /* masked-off lanes load as 0 */
        a0 = _mm512_add_pd(a0, lo_pd(v));
        a1 = _mm512_add_pd(a1, hi_pd(v));
    }
    *s += _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
}

void cg_f32_sumv__avx512(size_t n, const float *x, double *s) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        acc_pd(s + i, k, ld(x + i, k));
    }
}

/* The squares are exact in double, so FMA here equals the ref's multiply-then-add. */
void cg_f32_stats__avx512(size_t n, const float *x, double *s, double *ss) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    __m512d b0 = _mm512_setzero_pd(), b1 = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 16) {
        __m512 v = ld(x + i, lanes(n - i));
        __m512d l = lo_pd(v), h = hi_pd(v);
        a0 = _mm512_add_pd(a0, l);
        a1 = _mm512_add_pd(a1, h);
        b0 = _mm512_fmadd_pd(l, l, b0);
        b1 = _mm512_fmadd_pd(h, h, b1);
    }
    *s += _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    *ss += _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
}

void cg_f32_statsv__avx512(size_t n, const float *x, double *s, double *ss) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 v = ld(x + i, k);
        __mmask8 kl = (__mmask8)(k & 0xFF), kh = (__mmask8)(k >> 8);
        __m512d l = lo_pd(v), h = hi_pd(v);
        _mm512_mask_storeu_pd(s + i, kl, _mm512_add_pd(_mm512_maskz_loadu_pd(kl, s + i), l));
        _mm512_mask_storeu_pd(ss + i, kl,
                              _mm512_fmadd_pd(l, l, _mm512_maskz_loadu_pd(kl, ss + i)));
        if (kh) {
            _mm512_mask_storeu_pd(s + i + 8, kh,
                                  _mm512_add_pd(_mm512_maskz_loadu_pd(kh, s + i + 8), h));
            _mm512_mask_storeu_pd(ss + i + 8, kh,
                                  _mm512_fmadd_pd(h, h, _mm512_maskz_loadu_pd(kh, ss + i + 8)));
        }
    }
}

void cg_f32_affine__avx512(size_t n, const float *x, float a, float b, float *y) {
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        st(y + i, k, _mm512_add_ps(_mm512_mul_ps(ld(x + i, k), va), vb));
    }
}

void cg_f32_affinev__avx512(size_t n, const float *x, const float *a, const float *b,
                            float *y) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        st(y + i, k, _mm512_add_ps(_mm512_mul_ps(ld(x + i, k), ld(a + i, k)), ld(b + i, k)));
    }
}

/* dy*(x - mean): the float difference is taken first, as in the ref; the double product of
 * two floats is exact, so FMA matches the ref's multiply-then-add. */
void cg_f32_bnred__avx512(size_t n, const float *dy, const float *x, float mean, double *sdy,
                          double *sdyx) {
    const __m512 vm = _mm512_set1_ps(mean);
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    __m512d b0 = _mm512_setzero_pd(), b1 = _mm512_setzero_pd();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 g = ld(dy + i, k), t = _mm512_sub_ps(ld(x + i, k), vm);
        __m512d gl = lo_pd(g), gh = hi_pd(g);
        a0 = _mm512_add_pd(a0, gl);
        a1 = _mm512_add_pd(a1, gh);
        b0 = _mm512_fmadd_pd(gl, lo_pd(t), b0);
        b1 = _mm512_fmadd_pd(gh, hi_pd(t), b1);
    }
    *sdy += _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    *sdyx += _mm512_reduce_add_pd(_mm512_add_pd(b0, b1));
}

void cg_f32_bnredv__avx512(size_t n, const float *dy, const float *x, const float *mean,
                           double *sdy, double *sdyx) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 g = ld(dy + i, k), t = _mm512_sub_ps(ld(x + i, k), ld(mean + i, k));
        for (int half = 0; half < 2; half++) {
            __mmask8 kk = (__mmask8)(half ? k >> 8 : k & 0xFF);
            size_t j = i + 8 * (size_t)half;
            __m512d gd = half ? hi_pd(g) : lo_pd(g), td = half ? hi_pd(t) : lo_pd(t);
            _mm512_mask_storeu_pd(sdy + j, kk, _mm512_add_pd(_mm512_maskz_loadu_pd(kk, sdy + j),
                                                             gd));
            _mm512_mask_storeu_pd(sdyx + j, kk,
                                  _mm512_fmadd_pd(gd, td, _mm512_maskz_loadu_pd(kk, sdyx + j)));
        }
    }
}

void cg_f32_bndx__avx512(size_t n, const float *dy, const float *x, float a, float b,
                         float mean, float c, float *dx) {
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    const __m512 vm = _mm512_set1_ps(mean), vc = _mm512_set1_ps(c);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 u = _mm512_mul_ps(va, ld(dy + i, k));
        u = _mm512_add_ps(u, _mm512_mul_ps(vb, _mm512_sub_ps(ld(x + i, k), vm)));
        u = _mm512_add_ps(u, vc);
        st(dx + i, k, _mm512_add_ps(ld(dx + i, k), u));
    }
}

void cg_f32_bndxv__avx512(size_t n, const float *dy, const float *x, const float *a,
                          const float *b, const float *mean, const float *c, float *dx) {
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 u = _mm512_mul_ps(ld(a + i, k), ld(dy + i, k));
        __m512 t = _mm512_sub_ps(ld(x + i, k), ld(mean + i, k));
        u = _mm512_add_ps(u, _mm512_mul_ps(ld(b + i, k), t));
        u = _mm512_add_ps(u, ld(c + i, k));
        st(dx + i, k, _mm512_add_ps(ld(dx + i, k), u));
    }
}

void cg_f32_adam__avx512(size_t n, const struct cg_adam_coef *c, float *w, const float *g,
                         float *m, float *v) {
    const __m512 b1 = _mm512_set1_ps(c->beta1), ob1 = _mm512_set1_ps(c->one_minus_beta1);
    const __m512 b2 = _mm512_set1_ps(c->beta2), ob2 = _mm512_set1_ps(c->one_minus_beta2);
    const __m512 ns = _mm512_set1_ps(c->neg_step), bc = _mm512_set1_ps(c->bc2_sqrt);
    const __m512 eps = _mm512_set1_ps(c->eps);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 gi = ld(g + i, k);
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(ld(m + i, k), b1), _mm512_mul_ps(ob1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(ld(v + i, k), b2),
                                  _mm512_mul_ps(_mm512_mul_ps(ob2, gi), gi));
        __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc), eps);
        st(m + i, k, mi);
        st(v + i, k, vi);
        st(w + i, k, _mm512_add_ps(ld(w + i, k), _mm512_div_ps(_mm512_mul_ps(ns, mi), den)));
    }
}

/* ---- Philox4x32-10 on 16 counters idx0+i .. idx0+i+15 (same words as cg_philox4x32) ---- */
static inline __m512i mulhi_u32(__m512i a, __m512i m) {
    __m512i even = _mm512_mul_epu32(a, m); /* 64-bit products of lanes 0, 2, ... */
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

static inline void philox16(uint64_t key, uint64_t stream, uint64_t idx, __m512i o[4]) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u);
    const __m512i m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    __m512i base = _mm512_set1_epi32((int)(uint32_t)idx);
    __m512i hi = _mm512_set1_epi32((int)(uint32_t)(idx >> 32));
    __m512i c0 = _mm512_add_epi32(base, iota);
    /* the 64-bit counter: carry into the high word in lanes where the low word wrapped */
    __mmask16 carry = _mm512_cmplt_epu32_mask(c0, base);
    __m512i c1 = _mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1));
    __m512i c2 = _mm512_set1_epi32((int)(uint32_t)stream);
    __m512i c3 = _mm512_set1_epi32((int)(uint32_t)(stream >> 32));
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        __m512i hi0 = mulhi_u32(c0, m0), lo0 = _mm512_mullo_epi32(c0, m0);
        __m512i hi1 = mulhi_u32(c2, m1), lo1 = _mm512_mullo_epi32(c2, m1);
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)k0));
        c1 = lo1;
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)k1));
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    o[0] = c0;
    o[1] = c1;
    o[2] = c2;
    o[3] = c3;
}

/* u24 of the ref: the top 24 bits, exactly representable, times 2^-24. */
static inline __m512 uniform16(uint64_t key, uint64_t stream, uint64_t idx) {
    __m512i o[4];
    philox16(key, stream, idx, o);
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(o[0], 8)),
                         _mm512_set1_ps(1.0f / 16777216.0f));
}

/* The 64 normals of block b (cg_rng_gauss_at): one Philox call, two float log/sincospi. */
static inline void gauss_block(uint64_t key, uint64_t stream, uint64_t b, float z[64]) {
    __m512i o[4];
    philox16(key, stream, b * 16u, o);
    for (int h = 0; h < 2; h++) {
        __m512i a = _mm512_add_epi32(_mm512_srli_epi32(o[2 * h], 8), _mm512_set1_epi32(1));
        __m512 u1 = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(0x1p-24f));
        __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(o[2 * h + 1], 8)),
                                 _mm512_set1_ps(0x1p-23f));
        __m512 r = _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f),
                                                Sleef_logf16_u35avx512f(u1)));
        Sleef___m512_2 sc = Sleef_sincospif16_u35avx512f(t); /* x: sin, y: cos */
        _mm512_storeu_ps(z + 32 * h, _mm512_mul_ps(r, sc.y));
        _mm512_storeu_ps(z + 32 * h + 16, _mm512_mul_ps(r, sc.x));
    }
}

void cg_f32_gauss__avx512(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float sigma,
                          const float *x, float *y) {
    const __m512 vs = _mm512_set1_ps(sigma);
    float z[64];
    for (size_t i = 0; i < n;) {
        uint64_t e = idx0 + i;
        size_t off = (size_t)(e & 63u), len = 64 - off < n - i ? 64 - off : n - i;
        gauss_block(key, stream, e >> 6, z);
        for (size_t j = 0; j < len; j += 16) {
            __mmask16 k = lanes(len - j);
            __m512 v = _mm512_mul_ps(vs, ld(z + off + j, k));
            st(y + i + j, k, _mm512_add_ps(ld(x + i + j, k), v));
        }
        i += len;
    }
}

void cg_f32_dropout__avx512(size_t n, uint64_t key, uint64_t stream, uint64_t idx0, float p,
                            const float *x, float *y) {
    const __m512 vp = _mm512_set1_ps(p), vs = _mm512_set1_ps(1.0f / (1.0f - p));
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __mmask16 keep = _mm512_cmp_ps_mask(uniform16(key, stream, idx0 + i), vp, _CMP_GE_OQ);
        st(y + i, k, _mm512_maskz_mul_ps(keep, ld(x + i, k), vs));
    }
}

void cg_f32_dropout_bwd__avx512(size_t n, uint64_t key, uint64_t stream, uint64_t idx0,
                                float p, const float *dy, float *dx) {
    const __m512 vp = _mm512_set1_ps(p), vs = _mm512_set1_ps(1.0f / (1.0f - p));
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __mmask16 keep = k & _mm512_cmp_ps_mask(uniform16(key, stream, idx0 + i), vp,
                                                _CMP_GE_OQ);
        st(dx + i, keep, _mm512_add_ps(ld(dx + i, keep), _mm512_mul_ps(ld(dy + i, keep), vs)));
    }
}
