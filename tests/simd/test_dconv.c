/* Direct-convolution kernels (src/simd/dconv.h): every variant, ref included, against a
 * double-precision sum on tail-probing shapes, with sentinels between and after the output
 * rows (a bad tail mask writes them) and accumulation into non-zero outputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "simd/dconv.h"

#define SRC_HALF 4096 /* src is read at offsets within +-SRC_HALF/2 of its centre */
#define SENTINEL 1234.5f

static struct cg_dconv_kernels table(enum cg_isa isa) {
    if (!cg_cpu_has(isa)) cr_skip_test("CPU lacks %s", cg_isa_name(isa));
    struct cg_dconv_kernels k;
    cg_dconv_kernels_select(&k, isa);
    cr_assert_eq(k.isa, isa, "select(%s) gave %s", cg_isa_name(isa), cg_isa_name(k.isa));
    return k;
}

/* Offsets spread over both signs, as the forward (positive) and adjoint (negative) use. */
static void offsets(ptrdiff_t *off, size_t ntaps, uint64_t seed) {
    float *u = t_alloc(ntaps);
    t_fill(u, ntaps, -1000.0f, 1000.0f, seed);
    for (size_t t = 0; t < ntaps; t++) off[t] = (ptrdiff_t)u[t];
    cg_free(u);
}

/* FMA and lane-wise partial sums change only the rounding: each sum may differ from the
 * exact one by a few ulps of the sum of |terms| per term added (Higham, eq. 3.5). */
static double bound(double abs_sum, size_t terms) {
    return 2.0 * (double)terms * 0x1p-24 * abs_sum + 1e-30;
}

static void check_taps(const struct cg_dconv_kernels *k, size_t rows, size_t n, size_t ntaps) {
    const size_t lds = 37, ldy = n + 3;
    float *srcbuf = t_alloc(2 * SRC_HALF), *w = t_alloc(ntaps);
    float *y = t_alloc(rows * ldy + 8), *y0 = t_alloc(rows * ldy + 8);
    ptrdiff_t off[64];
    t_fill(srcbuf, 2 * SRC_HALF, -1.0f, 1.0f, 11 + n);
    t_fill(w, ntaps, -1.0f, 1.0f, 12 + ntaps);
    offsets(off, ntaps, 13 + rows);
    const float *src = srcbuf + SRC_HALF - rows * lds / 2;
    for (size_t i = 0; i < rows * ldy + 8; i++) y0[i] = SENTINEL;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++) y0[r * ldy + j] = (float)(0.25 * (double)(r + j) - 1.0);
    memcpy(y, y0, (rows * ldy + 8) * sizeof(float));
    k->taps(rows, n, ntaps, w, off, src, lds, y, ldy);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < ldy; j++) {
            const size_t i = r * ldy + j;
            if (j >= n) {
                cr_assert_eq(y[i], SENTINEL, "%s rows=%zu n=%zu: wrote past the row at j=%zu",
                             cg_isa_name(k->isa), rows, n, j);
                continue;
            }
            double s = y0[i], a = fabs(y0[i]);
            for (size_t t = 0; t < ntaps; t++) {
                double v = (double)w[t] * src[r * lds + off[t] + j];
                s += v;
                a += fabs(v);
            }
            cr_assert(fabs(y[i] - s) <= bound(a, ntaps + 1), "%s taps rows=%zu n=%zu ntaps=%zu"
                      " (%zu,%zu): %.9g vs %.9g", cg_isa_name(k->isa), rows, n, ntaps, r, j,
                      y[i], s);
        }
    for (size_t i = rows * ldy; i < rows * ldy + 8; i++)
        cr_assert_eq(y[i], SENTINEL, "%s: wrote past the last row", cg_isa_name(k->isa));
    cg_free(srcbuf);
    cg_free(w);
    cg_free(y);
    cg_free(y0);
}

static void check_dots(const struct cg_dconv_kernels *k, size_t n, size_t ntaps) {
    float *xbuf = t_alloc(2 * SRC_HALF + n), *g = t_alloc(n), *out = t_alloc(ntaps + 8);
    float *out0 = t_alloc(ntaps + 8);
    ptrdiff_t off[64];
    t_fill(xbuf, 2 * SRC_HALF + n, -1.0f, 1.0f, 21 + n);
    t_fill(g, n, -1.0f, 1.0f, 22 + n);
    t_fill(out0, ntaps, -2.0f, 2.0f, 23 + ntaps);
    for (size_t i = ntaps; i < ntaps + 8; i++) out0[i] = SENTINEL;
    offsets(off, ntaps, 24 + n);
    const float *x = xbuf + SRC_HALF;
    memcpy(out, out0, (ntaps + 8) * sizeof(float));
    k->dots(n, ntaps, off, g, x, out);
    for (size_t t = 0; t < ntaps; t++) {
        double s = out0[t], a = fabs(out0[t]);
        for (size_t q = 0; q < n; q++) {
            double v = (double)g[q] * x[off[t] + (ptrdiff_t)q];
            s += v;
            a += fabs(v);
        }
        cr_assert(fabs(out[t] - s) <= bound(a, n + 1), "%s dots n=%zu ntaps=%zu t=%zu: %.9g vs "
                  "%.9g", cg_isa_name(k->isa), n, ntaps, t, out[t], s);
    }
    for (size_t i = ntaps; i < ntaps + 8; i++)
        cr_assert_eq(out[i], SENTINEL, "%s dots: wrote past out", cg_isa_name(k->isa));
    cg_free(xbuf);
    cg_free(g);
    cg_free(out);
    cg_free(out0);
}

/* Exact: a copy with zeros around it; sentinels after the last row catch overlong stores. */
static void check_padrows(const struct cg_dconv_kernels *k, size_t rows, size_t n, size_t lpad,
                          size_t rpad) {
    const size_t lds = n + 5, ld = lpad + n + rpad;
    float *src = t_alloc(rows * lds), *dst = t_alloc(rows * ld + 8);
    t_fill(src, rows * lds, 1.0f, 2.0f, 31 + n);
    for (size_t i = 0; i < rows * ld + 8; i++) dst[i] = SENTINEL;
    k->padrows(rows, n, lpad, ld, src, lds, dst);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < ld; j++) {
            float want = j >= lpad && j < lpad + n ? src[r * lds + j - lpad] : 0.0f;
            cr_assert_eq(dst[r * ld + j], want, "%s padrows rows=%zu n=%zu pad %zu+%zu at "
                         "(%zu,%zu)", cg_isa_name(k->isa), rows, n, lpad, rpad, r, j);
        }
    for (size_t i = rows * ld; i < rows * ld + 8; i++)
        cr_assert_eq(dst[i], SENTINEL, "%s padrows: wrote past the end", cg_isa_name(k->isa));
    cg_free(src);
    cg_free(dst);
}

/* Against the ref bit for bit (values and argmax), and the ref against a plain scan, on data
 * with ties (values on a coarse grid), NaNs and signed zeros. */
static void check_maxpool(const struct cg_dconv_kernels *k, size_t n, uint64_t seed) {
    const size_t w = 2 * n + 3, len = 3 * w;
    float *x = t_alloc(len), *y1 = t_alloc(n + 8), *y2 = t_alloc(n + 8);
    int32_t a1[48], a2[48];
    t_fill(x, len, -3.0f, 3.0f, seed);
    for (size_t i = 0; i < len; i++) {
        x[i] = floorf(x[i]);   /* ties are common: the first maximum must win */
        if (i % 7 == 3) x[i] = NAN;
        if (i % 11 == 5) x[i] = -0.0f;
    }
    for (size_t i = 0; i < 3; i++) x[i * w] = x[i * w + 1] = x[i * w + 2] = NAN; /* all-NaN */
    for (size_t i = 0; i < n + 8; i++) y1[i] = y2[i] = SENTINEL;
    struct cg_dconv_kernels r;
    cg_dconv_kernels_select(&r, CG_ISA_REF);
    r.maxpool3s2(n, x, w, 100, y1, a1);
    k->maxpool3s2(n, x, w, 100, y2, a2);
    for (size_t i = 0; i < n; i++) {
        float m = NAN;
        int32_t b = -1;
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
                float v = x[ki * w + 2 * i + kj];
                if (!isnan(v) && (isnan(m) || v > m)) { m = v; b = (int32_t)(ki * w + kj); }
            }
        if (b < 0) b = 0;   /* all NaN: the window's first cell */
        cr_assert_eq(a1[i], 100 + (int32_t)(2 * i) + b, "ref argmax n=%zu i=%zu", n, i);
        cr_assert(memcmp(&y1[i], &y2[i], sizeof(float)) == 0 && a1[i] == a2[i],
                  "%s maxpool3s2 n=%zu i=%zu: %g@%d vs ref %g@%d", cg_isa_name(k->isa), n, i,
                  y2[i], a2[i], y1[i], a1[i]);
    }
    for (size_t i = n; i < n + 8; i++)
        cr_assert_eq(y2[i], SENTINEL, "%s maxpool3s2: wrote past y", cg_isa_name(k->isa));
    cg_free(x);
    cg_free(y1);
    cg_free(y2);
}

static void check_all(enum cg_isa isa) {
    struct cg_dconv_kernels k = table(isa);
    static const size_t rows[] = {1, 2, 3, 4, 5, 7, 9};
    static const size_t ns[] = {1, 7, 8, 9, 15, 16, 17, 24, 25, 28, 31, 32};
    static const size_t taps[] = {1, 3, 4, 5, 25, 63};
    for (size_t a = 0; a < sizeof rows / sizeof rows[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof taps / sizeof taps[0]; c++)
                check_taps(&k, rows[a], ns[b], taps[c]);
    static const size_t dn[] = {1, 7, 15, 16, 17, 31, 32, 33, 63, 892};
    static const size_t dt[] = {1, 3, 4, 5, 9, 63};
    for (size_t a = 0; a < sizeof dn / sizeof dn[0]; a++)
        for (size_t b = 0; b < sizeof dt / sizeof dt[0]; b++) check_dots(&k, dn[a], dt[b]);
    static const size_t pn[] = {1, 7, 14, 16, 17, 28, 33}, pp[] = {0, 1, 2, 9, 17};
    for (size_t a = 0; a < sizeof pn / sizeof pn[0]; a++)
        for (size_t b = 0; b < sizeof pp / sizeof pp[0]; b++)
            for (size_t c = 0; c < sizeof pp / sizeof pp[0]; c++)
                check_padrows(&k, 3, pn[a], pp[b], pp[c]);
    static const size_t mn[] = {1, 2, 7, 13, 15, 16, 17, 31, 33, 40};
    for (size_t a = 0; a < sizeof mn / sizeof mn[0]; a++)
        for (uint64_t sd = 1; sd <= 3; sd++) check_maxpool(&k, mn[a], sd);
}

Test(dconv, ref_against_double) { check_all(CG_ISA_REF); }
Test(dconv, avx2_against_double) { check_all(CG_ISA_AVX2); }
Test(dconv, avx512_against_double) { check_all(CG_ISA_AVX512); }
