/* AVX2+FMA GEMM micro-kernel (6x16 register tile, maskload column tails) and the B^T packer
 * (8x8 in-register transposes). Contract in gemm.h; BLIS micro-kernel design (Van Zee &
 * van de Geijn, TOMS 2015). */
#include <assert.h>
#include <stdbool.h>

#include <immintrin.h>

#include "simd/avx2/lanes.h"
#include "simd/gemm.h"

#define MR 6
#define NR 16

/* alpha*acc + beta*c[0, 8) (lanes km when masked) with one rounding for alpha*acc +
 * (beta*c), the same in every tile shape and in the GEMVs, whose bits are the tile's;
 * beta == 0 gives alpha*acc without reading c. */
static inline __attribute__((always_inline)) __m256
out_value(const float *c, __m256 acc, __m256 va, __m256 vb, bool beta0, bool masked,
          __m256i km) {
    if (beta0) return _mm256_mul_ps(va, acc);
    const __m256 c0 = masked ? _mm256_maskload_ps(c, km) : _mm256_loadu_ps(c);
    return _mm256_fmadd_ps(va, acc, _mm256_mul_ps(vb, c0));
}

static inline __attribute__((always_inline)) void
out_store(float *c, __m256 v, bool masked, __m256i km) {
    if (masked)
        _mm256_maskstore_ps(c, km, v);
    else
        _mm256_storeu_ps(c, v);
}

/* R live rows and NV live 8-column vectors as compile-time constants (see avx512/gemm.c). */
static inline __attribute__((always_inline)) void
tile(const size_t R, const size_t NV, const bool masked, const bool ua, size_t nr, size_t kc,
     const float *restrict a, size_t lda, const float *restrict b, size_t ldb,
     float *restrict c, size_t ldc, float alpha, float beta, struct cg_gemm_pf *pf) {
    __m256 acc[MR][2];
    const __m256i k0 = tail_mask((int)nr), k1 = tail_mask((int)nr - 8);
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++) {
        acc[r][0] = _mm256_setzero_ps();
        acc[r][1] = _mm256_setzero_ps();
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
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
        __m256 b0, b1 = _mm256_setzero_ps();
        if (p == pnext && pleft) {
            _mm_prefetch(pq + po, _MM_HINT_T1);
            po += 64;
            if (po >= pspan) po = 0, pq += pld;
            pleft--;
            pnext += pstep;
        }
        if (!masked) {
            b0 = _mm256_loadu_ps(b);
            if (NV > 1) b1 = _mm256_loadu_ps(b + 8);
        } else {
            b0 = _mm256_maskload_ps(b, k0);
            if (NV > 1) b1 = _mm256_maskload_ps(b + 8, k1);
        }
#pragma GCC unroll 8
        for (size_t r = 0; r < R; r++) {
            const __m256 ar = _mm256_broadcast_ss(ua ? a + r * lda : a + r);
            acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
            if (NV > 1) acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
        }
        a += ua ? 1 : MR;
        b += ldb;
    }
    if (pf) pf->p = pq, pf->off = po, pf->n -= pn;
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 8
    for (size_t r = 0; r < R; r++) {
        /* both loads of the row before its stores */
        float *cr = c + r * ldc;
        const __m256 v0 = out_value(cr, acc[r][0], va, vb, beta == 0.0f, masked, k0);
        __m256 v1 = v0;
        if (NV > 1) v1 = out_value(cr + 8, acc[r][1], va, vb, beta == 0.0f, masked, k1);
        out_store(cr, v0, masked, k0);
        if (NV > 1) out_store(cr + 8, v1, masked, k1);
    }
}

#define ROWS_CASES(NV, MASKED, UA)                                                           \
    switch (mr) {                                                                            \
    case 1: tile(1, NV, MASKED, UA, nr, kc, a, lda, b, ldb, c, ldc, alpha, beta, pf); break; \
    case 2: tile(2, NV, MASKED, UA, nr, kc, a, lda, b, ldb, c, ldc, alpha, beta, pf); break; \
    case 3: tile(3, NV, MASKED, UA, nr, kc, a, lda, b, ldb, c, ldc, alpha, beta, pf); break; \
    case 4: tile(4, NV, MASKED, UA, nr, kc, a, lda, b, ldb, c, ldc, alpha, beta, pf); break; \
    case 5: tile(5, NV, MASKED, UA, nr, kc, a, lda, b, ldb, c, ldc, alpha, beta, pf); break; \
    default: tile(6, NV, MASKED, UA, nr, kc, a, lda, b, ldb, c, ldc, alpha, beta, pf); break; \
    }

#define COLS_CASES(UA)               \
    if (nr == NR) {                  \
        ROWS_CASES(2, false, UA)     \
    } else if (nr > 8) {             \
        ROWS_CASES(2, true, UA)      \
    } else {                         \
        ROWS_CASES(1, true, UA)      \
    }

void cg_f32_gemm_6x16__avx2(size_t mr, size_t nr, size_t kc, const float *restrict a,
                            const float *restrict b, size_t ldb, float *restrict c, size_t ldc,
                            float alpha, float beta, struct cg_gemm_pf *pf) {
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR && kc >= 1);
    const size_t lda = MR; /* unused by the packed form */
    COLS_CASES(false)
}

void cg_f32_gemm_6x16_ua__avx2(size_t mr, size_t nr, size_t kc, const float *restrict a,
                               size_t lda, const float *restrict b, size_t ldb,
                               float *restrict c, size_t ldc, float alpha, float beta,
                               struct cg_gemm_pf *pf) {
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR && kc >= 1);
    COLS_CASES(true)
}

/* In-register 8x8 transpose: r[i] holds row i on entry, column i on exit. */
static inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t[8], s[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) {
        s[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* 128-bit lane L of s[4i+q] holds column 4L+q of rows 4i..4i+3 */
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(s[q], s[4 + q], 0x20);
        r[4 + q] = _mm256_permute2f128_ps(s[q], s[4 + q], 0x31);
    }
}

/* Stores the first w <= 8 floats of v; last: nothing past dst + w may be written. Within a
 * panel an 8-float store whose tail the next row's store overwrites is cheaper than a
 * masked store (vmaskmovps stores are slow on AMD cores). */
static inline __attribute__((always_inline)) void
store_w(float *restrict dst, size_t w, bool last, __m256 v) {
    if (w == 8 || !last) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    __m128 lo = _mm256_castps256_ps128(v);
    if (w >= 4) {
        _mm_storeu_ps(dst, lo);
        dst += 4, w -= 4, lo = _mm256_extractf128_ps(v, 1);
    }
    if (w >= 2) {
        _mm_storel_pi((__m64 *)dst, lo);
        dst += 2, w -= 2, lo = _mm_movehl_ps(lo, lo);
    }
    if (w) _mm_store_ss(dst, lo);
}

/* kc steps of nr <= width rows of src (ld apart, k contiguous) into dst[p*width + j], zeros
 * in columns nr..width-1: op(B) columns read from B^T and op(A) rows read from A are both
 * this (8x8 in-register transposes). */
static inline __attribute__((always_inline)) void
pack_rows_t(const size_t width, size_t nr, size_t kc, const float *restrict src, size_t ld,
            float *restrict dst) {
    for (size_t p0 = 0; p0 < kc; p0 += 8) {
        size_t pw = kc - p0 < 8 ? kc - p0 : 8;
        const __m256i km = tail_mask((int)pw);
        for (size_t h = 0; h < width; h += 8) {
            const size_t w = width - h < 8 ? width - h : 8;
            __m256 r[8];
#pragma GCC unroll 8
            for (size_t jj = 0; jj < 8; jj++) {
                size_t j = h + jj;
                r[jj] = j < nr ? _mm256_maskload_ps(src + j * ld + p0, km) : _mm256_setzero_ps();
            }
            transpose8(r);
            for (size_t q = 0; q < pw; q++)
                store_w(dst + (p0 + q) * width + h, w, p0 + q + 1 == kc, r[q]);
        }
    }
}

void cg_f32_gemm_packbt_16__avx2(size_t nr, size_t kc, const float *restrict b, size_t ldb,
                                 float *restrict dst) {
    assert(nr >= 1 && nr <= NR);
    pack_rows_t(NR, nr, kc, b, ldb, dst);
}

void cg_f32_gemm_packa_6__avx2(size_t mr, size_t kc, const float *restrict a, size_t lda,
                               float *restrict dst) {
    assert(mr >= 1 && mr <= MR);
    pack_rows_t(MR, mr, kc, a, lda, dst);
}

void cg_f32_gemm_packat_6__avx2(size_t mr, size_t kc, const float *restrict a, size_t lda,
                                float *restrict dst) {
    assert(mr >= 1 && mr <= MR);
    const __m256i km = tail_mask((int)mr);
    for (size_t p = 0; p < kc; p++)
        store_w(dst + p * MR, MR, p + 1 == kc, _mm256_maskload_ps(a + p * lda, km));
}

/* c[0, w) = alpha * acc + beta * c, as the tile's epilogue does it (w <= 8: masked). */
static inline __attribute__((always_inline)) void
gemv_out(float *restrict c, size_t w, __m256 acc, float alpha, float beta) {
    const __m256i km = tail_mask((int)w);
    out_store(c,
              out_value(c, acc, _mm256_set1_ps(alpha), _mm256_set1_ps(beta), beta == 0.0f,
                        w < 8, km),
              w < 8, km);
}

#ifndef GEMV_ROWS
#define GEMV_ROWS 4
#endif
/* acc[0, w) += a[i*inca] * b[i*ldb + j] for rows i = 0..R-1 in turn (R <= 8). */
static inline __attribute__((always_inline)) void
gemv_n_rows(const size_t R, const float *restrict a, size_t inca, const float *restrict b,
            size_t ldb, size_t w, float *restrict acc) {
    __m256 ap[8];
    for (size_t i = 0; i < R; i++) ap[i] = _mm256_broadcast_ss(a + i * inca);
    const size_t wv = w / 8 * 8;
    const __m256i km = tail_mask((int)(w - wv));
    size_t j = 0;
    for (; j < wv; j += 8) {
        __m256 v = _mm256_loadu_ps(acc + j);
        for (size_t i = 0; i < R; i++)
            v = _mm256_fmadd_ps(ap[i], _mm256_loadu_ps(b + i * ldb + j), v);
        _mm256_storeu_ps(acc + j, v);
    }
    if (j < w) {
        __m256 v = _mm256_loadu_ps(acc + j);
        for (size_t i = 0; i < R; i++)
            v = _mm256_fmadd_ps(ap[i], _mm256_maskload_ps(b + i * ldb + j, km), v);
        _mm256_storeu_ps(acc + j, v);
    }
}

void cg_f32_gemv_n__avx2(size_t n, size_t k, size_t kc, float alpha, const float *restrict a,
                         size_t inca, const float *restrict b, size_t ldb, float beta,
                         float *restrict c, float *restrict acc) {
    for (size_t j0 = 0; j0 < n; j0 += CG_GEMV_COLS) {
        const size_t w = n - j0 < CG_GEMV_COLS ? n - j0 : CG_GEMV_COLS;
        for (size_t pc = 0; pc < k; pc += kc) {
            const size_t pe = k - pc < kc ? k : pc + kc;
            for (size_t j = 0; j < w; j += 8) _mm256_storeu_ps(acc + j, _mm256_setzero_ps());
            /* four rows of B per sweep of acc: four DRAM streams at once, and a quarter of
             * the acc traffic; each element still takes its products in p order */
            size_t p = pc;
            for (; p + GEMV_ROWS <= pe; p += GEMV_ROWS)
                gemv_n_rows(GEMV_ROWS, a + p * inca, inca, b + p * ldb + j0, ldb, w, acc);
            for (; p < pe; p++) gemv_n_rows(1, a + p * inca, inca, b + p * ldb + j0, ldb, w, acc);
            const float be = pc == 0 ? beta : 1.0f;
            for (size_t j = 0; j < w; j += 8)
                gemv_out(c + j0 + j, w - j < 8 ? w - j : 8, _mm256_loadu_ps(acc + j), alpha, be);
        }
    }
}

/* acc(8 rows of B) += the next pw <= 8 steps from src (rows ld apart), in p order. */
static inline __attribute__((always_inline)) __m256
gemv_t_step(const float *restrict a, size_t inca, const float *restrict src, size_t ld,
            size_t rows, size_t pw, __m256 acc) {
    __m256 r[8];
    const __m256i km = tail_mask((int)pw);
#pragma GCC unroll 8
    for (size_t i = 0; i < 8; i++) {
        if (i >= rows)
            r[i] = _mm256_setzero_ps();
        else
            r[i] = pw == 8 ? _mm256_loadu_ps(src + i * ld) : _mm256_maskload_ps(src + i * ld, km);
    }
    transpose8(r);
    if (pw == 8) {
#pragma GCC unroll 8
        for (size_t q = 0; q < 8; q++)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + q * inca), r[q], acc);
    } else {
        for (size_t q = 0; q < pw; q++)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + q * inca), r[q], acc);
    }
    return acc;
}

void cg_f32_gemv_t__avx2(size_t n, size_t k, size_t kc, float alpha, const float *restrict a,
                         size_t inca, const float *restrict b, size_t ldb, float beta,
                         float *restrict c, float *restrict acc) {
    (void)acc;
    /* 16 rows of B at a time: two independent FMA chains, one per 8 rows */
    for (size_t j0 = 0; j0 < n; j0 += 16) {
        const size_t rows = n - j0 < 16 ? n - j0 : 16;
        const size_t r0 = rows < 8 ? rows : 8, r1 = rows - r0;
        const float *b0 = b + j0 * ldb, *b1 = b0 + 8 * ldb;
        for (size_t pc = 0; pc < k; pc += kc) {
            const size_t pe = k - pc < kc ? k : pc + kc;
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            size_t p = pc;
            for (; p + 8 <= pe; p += 8) {
                acc0 = gemv_t_step(a + p * inca, inca, b0 + p, ldb, r0, 8, acc0);
                if (r1) acc1 = gemv_t_step(a + p * inca, inca, b1 + p, ldb, r1, 8, acc1);
            }
            if (p < pe) {
                acc0 = gemv_t_step(a + p * inca, inca, b0 + p, ldb, r0, pe - p, acc0);
                if (r1) acc1 = gemv_t_step(a + p * inca, inca, b1 + p, ldb, r1, pe - p, acc1);
            }
            const float be = pc == 0 ? beta : 1.0f;
            gemv_out(c + j0, r0, acc0, alpha, be);
            if (r1) gemv_out(c + j0 + 8, r1, acc1, alpha, be);
        }
    }
}

double cg_f32_peak__avx2(size_t iters, float *sink) {
    /* 12 chains cover 2 FMA ports x 4-5 cycles latency; 16 ymm leave room for x and y */
    enum { CHAINS = 12 };
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps(1.0f + 0.01f * (float)i);
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(0.001f);
    for (size_t it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    *sink = out[0] + out[7];
    return 2.0 * 8 * CHAINS * (double)iters;
}

void cg_f32_gemm_packb_16__avx2(size_t nb, size_t kc, const float *restrict b, size_t ldb,
                                float *restrict dst) {
    const size_t full = nb / NR * NR;
    const int t = (int)(nb - full);
    const __m256i k0 = tail_mask(t), k1 = tail_mask(t - 8);
    /* PB rows at a time, panel by panel (see the AVX-512 packer: one row across all panels
     * writes 64 bytes every 16 KiB, into the same L1 sets) */
    enum { PB = 16 };
    for (size_t p0 = 0; p0 < kc; p0 += PB) {
        const size_t pe = kc - p0 < PB ? kc : p0 + PB;
        float *dj = dst + p0 * NR;
        for (size_t j = 0; j < full; j += NR, dj += NR * kc)
            for (size_t p = p0; p < pe; p++) {
                const float *src = b + p * ldb + j;
                float *d = dj + (p - p0) * NR;
                _mm256_storeu_ps(d, _mm256_loadu_ps(src));
                _mm256_storeu_ps(d + 8, _mm256_loadu_ps(src + 8));
            }
        if (t)
            for (size_t p = p0; p < pe; p++) {
                /* zero-filled tail columns keep the kernel's unmasked loads harmless */
                const float *src = b + p * ldb + full;
                float *d = dj + (p - p0) * NR;
                _mm256_storeu_ps(d, _mm256_maskload_ps(src, k0));
                _mm256_storeu_ps(d + 8, _mm256_maskload_ps(src + 8, k1));
            }
    }
}
