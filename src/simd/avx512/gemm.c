/* AVX-512 GEMM micro-kernel (MR x 32 register tile, masked column tails) and the B^T packer
 * (16x16 in-register transposes). Contract in gemm.h; BLIS micro-kernel design (Van Zee &
 * van de Geijn, TOMS 2015), masked tails as in XNNPACK. */
#include <assert.h>
#include <stdbool.h>

#include <immintrin.h>

#include "simd/gemm.h"

/* 12 rows: 24 accumulators, 24 FMAs per 2 B loads + 12 broadcasts. On a core with two
 * 512-bit FMA pipes (measured 208 GFLOP/s here) 8 rows reached 79% of peak at 512^3 and
 * 12 rows 87% (14 rows: no better; 16 would spill). */
#define MR 12
#define NR 32

/* R live rows and NV live 16-column vectors as compile-time constants, so each variant keeps
 * only R*NV accumulators and issues no FMA for rows or columns that do not exist. */
static inline __attribute__((always_inline)) void
tile(const size_t R, const size_t NV, const bool masked, size_t nr, size_t kc,
     const float *restrict a, const float *restrict b, size_t ldb, float *restrict c,
     size_t ldc, float alpha, float beta, struct cg_gemm_pf *pf) {
    __m512 acc[MR][2];
    const __mmask16 k0 = !masked || nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 k1 = !masked ? 0xFFFF
                         : nr <= 16 ? 0
                                    : (__mmask16)((1u << (nr - 16)) - 1);
#pragma GCC unroll 16
    for (size_t r = 0; r < R; r++) {
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_T0);
    }
    const char *pq = NULL;
    size_t po = 0, pspan = 0, pld = 0, pn = 0;
    if (pf) {
        pq = pf->p, po = pf->off, pspan = pf->span, pld = pf->ld;
        pn = pf->n < kc ? pf->n : kc;
    }
    /* the caller's lines, spread over the whole k loop: issued in a burst they filled the
     * miss buffers and stalled the FMAs (gemm.h: struct cg_gemm_pf) */
    size_t pleft = pn, pstep = pn ? kc / pn : 1, pnext = 0;
    for (size_t p = 0; p < kc; p++) {
        __m512 b0, b1 = _mm512_setzero_ps();
        if (p == pnext && pleft) {
            _mm_prefetch(pq + po, _MM_HINT_T1);
            po += 64;
            if (po >= pspan) po = 0, pq += pld;
            pleft--;
            pnext += pstep;
        }
        if (!masked) {
            b0 = _mm512_loadu_ps(b);
            if (NV > 1) b1 = _mm512_loadu_ps(b + 16);
        } else {
            b0 = _mm512_maskz_loadu_ps(k0, b);
            if (NV > 1) b1 = _mm512_maskz_loadu_ps(k1, b + 16);
        }
#pragma GCC unroll 16
        for (size_t r = 0; r < R; r++) {
            const __m512 ar = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += MR;
        b += ldb;
    }
    if (pf) pf->p = pq, pf->off = po, pf->n -= pn;
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (size_t r = 0; r < R; r++) {
        float *cr = c + r * ldc;
        __m512 v0, v1 = _mm512_setzero_ps();
        if (beta == 0.0f) {
            v0 = _mm512_mul_ps(va, acc[r][0]);
            if (NV > 1) v1 = _mm512_mul_ps(va, acc[r][1]);
        } else {
            /* one rounding for alpha*acc + (beta*c), the same in every tile shape */
            v0 = _mm512_fmadd_ps(va, acc[r][0], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(k0, cr)));
            if (NV > 1)
                v1 = _mm512_fmadd_ps(va, acc[r][1],
                                     _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(k1, cr + 16)));
        }
        if (!masked) {
            _mm512_storeu_ps(cr, v0);
            if (NV > 1) _mm512_storeu_ps(cr + 16, v1);
        } else {
            _mm512_mask_storeu_ps(cr, k0, v0);
            if (NV > 1) _mm512_mask_storeu_ps(cr + 16, k1, v1);
        }
    }
}

#define ROWS_CASES(NV, MASKED)                                                          \
    switch (mr) {                                                                       \
    case 1: tile(1, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 2: tile(2, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 3: tile(3, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 4: tile(4, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 5: tile(5, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 6: tile(6, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 7: tile(7, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 8: tile(8, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 9: tile(9, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;     \
    case 10: tile(10, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;   \
    case 11: tile(11, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;   \
    default: tile(12, NV, MASKED, nr, kc, a, b, ldb, c, ldc, alpha, beta, pf); break;   \
    }

void cg_f32_gemm_12x32__avx512(size_t mr, size_t nr, size_t kc, const float *restrict a,
                               const float *restrict b, size_t ldb, float *restrict c,
                               size_t ldc, float alpha, float beta, struct cg_gemm_pf *pf) {
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR && kc >= 1);
    if (nr == NR) {
        ROWS_CASES(2, false)
    } else if (nr > 16) {
        ROWS_CASES(2, true)
    } else {
        ROWS_CASES(1, true)
    }
}

/* In-register 16x16 transpose: r[i] holds row i on entry, column i on exit. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* each 128-bit lane L of r[4i+q] now holds column 4L+q of rows 4i..4i+3 */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        t[q] = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88);
        t[4 + q] = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xDD);
        t[8 + q] = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88);
        t[12 + q] = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xDD);
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0x88);
        r[8 + q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0xDD);
        r[4 + q] = _mm512_shuffle_f32x4(t[4 + q], t[12 + q], 0x88);
        r[12 + q] = _mm512_shuffle_f32x4(t[4 + q], t[12 + q], 0xDD);
    }
}

/* Rows [0, nr) of a row-major matrix (row j: kc floats from src + j*ld) into a panel of
 * `width` columns, dst[p*width + j], zeros in columns nr..width-1: op(B) columns read from
 * B^T, and op(A) rows read from A, are both this (16x16 in-register transposes). */
static inline __attribute__((always_inline)) void
pack_rows_t(const size_t width, size_t nr, size_t kc, const float *restrict src, size_t ld,
            float *restrict dst) {
    for (size_t p0 = 0; p0 < kc; p0 += 16) {
        size_t pw = kc - p0 < 16 ? kc - p0 : 16;
        const __mmask16 km = (__mmask16)((1u << pw) - 1);
        for (size_t h = 0; h < width; h += 16) {
            const size_t w = width - h < 16 ? width - h : 16;
            const __mmask16 ks = (__mmask16)((1u << w) - 1);
            __m512 r[16];
#pragma GCC unroll 16
            for (size_t jj = 0; jj < 16; jj++) {
                size_t j = h + jj;
                r[jj] = j < nr ? _mm512_maskz_loadu_ps(km, src + j * ld + p0)
                               : _mm512_setzero_ps();
            }
            transpose16(r);
            for (size_t q = 0; q < pw; q++)
                _mm512_mask_storeu_ps(dst + (p0 + q) * width + h, ks, r[q]);
        }
    }
}

void cg_f32_gemm_packbt_32__avx512(size_t nr, size_t kc, const float *restrict b, size_t ldb,
                                   float *restrict dst) {
    assert(nr >= 1 && nr <= NR);
    pack_rows_t(NR, nr, kc, b, ldb, dst);
}

void cg_f32_gemm_packa_12__avx512(size_t mr, size_t kc, const float *restrict a, size_t lda,
                                  float *restrict dst) {
    assert(mr >= 1 && mr <= MR);
    pack_rows_t(MR, mr, kc, a, lda, dst);
}

void cg_f32_gemm_packat_12__avx512(size_t mr, size_t kc, const float *restrict a, size_t lda,
                                   float *restrict dst) {
    assert(mr >= 1 && mr <= MR);
    /* a libc memcpy per 48-byte row cost more than the copy */
    const __mmask16 km = (__mmask16)((1u << mr) - 1), ks = (__mmask16)((1u << MR) - 1);
    for (size_t p = 0; p < kc; p++)
        _mm512_mask_storeu_ps(dst + p * MR, ks, _mm512_maskz_loadu_ps(km, a + p * lda));
}

double cg_f32_peak__avx512(size_t iters, float *sink) {
    /* 24 chains: more than 2 FMA ports x 4 cycles latency on any current core */
    enum { CHAINS = 24 };
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(1.0f + 0.01f * (float)i);
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.001f);
    for (size_t it = 0; it < iters; it++) {
#pragma GCC unroll 24
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    *sink = _mm512_reduce_add_ps(s);
    return 2.0 * 16 * CHAINS * (double)iters;
}

void cg_f32_gemm_packb_32__avx512(size_t nb, size_t kc, const float *restrict b, size_t ldb,
                                  float *restrict dst) {
    const size_t full = nb / NR * NR;
    const size_t t = nb - full;
    const __mmask16 k0 = t >= 16 ? 0xFFFF : (__mmask16)((1u << t) - 1);
    const __mmask16 k1 = t <= 16 ? 0 : (__mmask16)((1u << (t - 16)) - 1);
    /* PB rows of B at a time, panel by panel: each panel gets PB*128 contiguous bytes and
     * PB source rows stream side by side. One row across all panels wrote 128 bytes every
     * NR*kc*4 = 32 KiB, all into the same L1 sets: packing was a third of 64x19600x576. */
    enum { PB = 16 };
    for (size_t p0 = 0; p0 < kc; p0 += PB) {
        const size_t pe = kc - p0 < PB ? kc : p0 + PB;
        float *dj = dst + p0 * NR;
        for (size_t j = 0; j < full; j += NR, dj += NR * kc)
            for (size_t p = p0; p < pe; p++) {
                const float *src = b + p * ldb + j;
                float *d = dj + (p - p0) * NR;
                _mm512_storeu_ps(d, _mm512_loadu_ps(src));
                _mm512_storeu_ps(d + 16, _mm512_loadu_ps(src + 16));
            }
        if (t)
            for (size_t p = p0; p < pe; p++) {
                /* zero-filled tail columns keep the kernel's unmasked loads harmless */
                const float *src = b + p * ldb + full;
                float *d = dj + (p - p0) * NR;
                _mm512_storeu_ps(d, _mm512_maskz_loadu_ps(k0, src));
                _mm512_storeu_ps(d + 16, _mm512_maskz_loadu_ps(k1, src + 16));
            }
    }
}
