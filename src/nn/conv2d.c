/* 2-D convolution via im2col/col2im (Caffe, Jia et al. 2014) and GEMM on cache-sized panels:
 * OpenMP over the batch, one single-threaded cg_sgemm per panel, dw summed per fixed batch
 * shard and reduced in shard order, so every output is bit-identical for any thread count. */
#include <limits.h>
#include <string.h>

#include <omp.h>

#include "nn/conv2d.h"
#include "simd/gemm.h"
#include "simd/kernels.h"

/* About 1 MiB of im2col per thread (one Zen 4 L2): the panel is written and then streamed
 * into the GEMM's packing while it is still in cache. */
#define PANEL_FLOATS (256 * 1024)
/* Below this many output pixels per image, several images share one GEMM, so the N side of
 * the micro-kernel tiles (16 or 32 wide) is mostly full (7x7 = 49 alone would waste a lot)
 * and the weights are packed once per group: 14x14 layers pair images (2-7% faster forward
 * than one image per GEMM, CPU time, 1 thread). */
#define GROUP_COLS 392
#define GROUP_MAX 8
/* Up to this many output channels a GEMM has m = oc rows, so most of each register tile is
 * idle and the time goes into writing im2col (G's 64->1 5x5 output conv ran at ~2 GFLOP/s):
 * direct loops that stream input rows against each weight are several times faster. */
#define SMALL_OC 4
/* From this many input channels, a stride-1 forward runs one GEMM per kernel tap, each
 * reading a shifted view of the zero-padded image in place (no im2col; K = c per tap keeps the
 * accumulator reloads cheap). Below it, K per tap is too short. */
#define SHIFT_MIN_C 16
/* Extra floats between its padded channel planes: the GEMM walks k down the channels, and a
 * pitch of a multiple of 1 KiB (16x16, 32x32 planes) puts every row in the same few L1 sets. */
#define SHIFT_SKEW 16
/* Row chunk of the direct dw loop's vector accumulator (on the stack). */
#define DW_ROW 64

/* Padded input planes the direct forward reads per pass over the rows: 24 KiB, half an L1. */
#define L1_PLANES_FLOATS 6144

/* Slack after the shifted-view path's padded planes: the last tap's view runs past them. */
#define QB 32

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Floats per output channel of the margin-padded dy of padded_backward: kh-1 rows and kw-1
 * zeros in front, then the (oh, W2) rows and kh-1 rows behind within H2*W2 (the dconv
 * kernels mask their tails, so nothing past that is read). */
static size_t dy_plane(int k, size_t H2, size_t W2) {
    return (size_t)(k - 1) * W2 + (size_t)(k - 1) + H2 * W2;
}
static int n_shards(int n) { return n < CG_CONV_SHARDS ? n : CG_CONV_SHARDS; }

enum cg_status cg_conv2d_init(struct cg_conv2d *p, int c, int h, int w, int oc, int ksize,
                              int stride, int pad, int nt) {
    if (!p) return CG_FAIL(CG_ERR_INVALID_ARG, "p=NULL must point to a descriptor");
    if (c <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d must be > 0", c);
    if (h <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d must be > 0", h);
    if (w <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "w=%d must be > 0", w);
    if (oc <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d must be > 0", oc);
    if (ksize <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d must be > 0", ksize);
    if (stride <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "stride=%d must be > 0", stride);
    if (pad < 0) return CG_FAIL(CG_ERR_INVALID_ARG, "pad=%d must be >= 0", pad);
    if (nt <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d must be > 0", nt);
    /* long long: h + 2*pad and the products below may overflow an int */
    const long long eh = (long long)h + 2LL * pad - ksize, ew = (long long)w + 2LL * pad - ksize;
    if (eh < 0)
        return CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d exceeds h + 2*pad = %lld", ksize, eh + ksize);
    if (ew < 0)
        return CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d exceeds w + 2*pad = %lld", ksize, ew + ksize);
    const long long oh = eh / stride + 1, ow = ew / stride + 1;
    const long long kk = (long long)ksize * ksize;
    if (kk > INT_MAX || kk * c > INT_MAX)
        return CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d with c=%d overflows the GEMM depth", ksize,
                       c);
    const long long ck = kk * c;
    if ((long long)h * w > INT_MAX / c)
        return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d x h=%d x w=%d overflows an int", c, h, w);
    if (oh > INT_MAX || ow > INT_MAX || oh * ow > INT_MAX / oc)
        return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d x %lldx%lld output overflows an int", oc, oh,
                       ow);
    if (ck > INT_MAX / oc)
        return CG_FAIL(CG_ERR_INVALID_ARG, "oc=%d x c*ksize^2=%lld weights overflow an int", oc,
                       ck);

    struct cg_conv2d d = {.c = c, .h = h, .w = w, .oc = oc, .kh = ksize, .kw = ksize,
                          .stride = stride, .pad = pad, .oh = (int)oh, .ow = (int)ow, .nt = nt,
                          .ck = (int)ck, .ohw = (int)(oh * ow)};
    d.direct = ksize == 1 && stride == 1 && pad == 0;
    d.small = !d.direct && oc <= SMALL_OC;
    d.group = 1;
    d.pw = d.ohw;
    size_t col_floats = 0, tmp_floats = 0, pad_floats = 0;
    /* (Few output channels stay on the direct loops: G's 64->1 5x5 conv as m = 1 GEMMs on
     * the views, read in place, measured no faster.) */
    d.shift = !d.direct && !d.small && stride == 1 && c >= SHIFT_MIN_C && ksize > 1;
    if (!d.direct && !d.small && stride == 1) {
        /* zero-padded x (read by im2col) and dx (gathered by col2im), per thread */
        const size_t H2 = (size_t)h + 2 * (size_t)pad, W2 = (size_t)w + 2 * (size_t)pad;
        if (!cg_mul_ok(H2, W2, &pad_floats) || !cg_mul_ok(pad_floats, 2 * (size_t)c, &pad_floats))
            return CG_FAIL(CG_ERR_INVALID_ARG, "pad=%d: padded planes overflow size_t", pad);
        /* the last tap's view runs ksize-1 floats past the padded x (dropped columns) */
        pad_floats += (size_t)ksize + QB + (size_t)c * SHIFT_SKEW;
    }
    if (d.small && stride == 1) {
        /* zero-padded x (col) and dy with zero margins (tmp) */
        const size_t H2 = (size_t)h + 2 * (size_t)pad, W2 = (size_t)w + 2 * (size_t)pad;
        col_floats = (size_t)c * H2 * W2;
        tmp_floats = (size_t)oc * dy_plane(ksize, H2, W2);
    } else if (d.small) {
        /* strided: the row loops work in place */
    } else if (!d.direct && d.ohw >= GROUP_COLS) {
        /* split one image's pixels into equal panels of about PANEL_FLOATS, multiples of 16 */
        int cap = (int)(PANEL_FLOATS / ck) / 16 * 16;
        if (cap < 64) cap = 64;
        const int nch = (d.ohw + cap - 1) / cap;
        const int pw = ((d.ohw + nch - 1) / nch + 15) / 16 * 16;
        d.pw = imin(pw, d.ohw);
        col_floats = (size_t)ck * (size_t)d.pw;
    } else if (!d.direct) {
        int g = imin(GROUP_MAX, (GROUP_COLS + d.ohw - 1) / d.ohw);
        const long long fit = PANEL_FLOATS / (ck * d.ohw);
        if (g > fit) g = fit < 1 ? 1 : (int)fit;
        d.group = g;
        if (!cg_mul_ok((size_t)ck * (size_t)d.ohw, (size_t)g, &col_floats))
            return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d: im2col panel overflows size_t", c);
        if (g > 1) tmp_floats = (size_t)oc * (size_t)d.ohw * (size_t)g;
    }
    if (d.shift) {
        /* the per-tap GEMMs' output: oc rows of oh padded-width rows */
        const size_t wide = (size_t)oc * (size_t)d.oh * ((size_t)w + 2 * (size_t)pad);
        if (wide > tmp_floats) tmp_floats = wide;
    }
    size_t bytes;
    if (!cg_mul_ok(col_floats, sizeof(float), &bytes) || bytes > SIZE_MAX / 4)
        return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d: im2col panel overflows size_t", c);
    d.col_bytes = cg_align_up(bytes);
    d.tmp_bytes = cg_align_up(tmp_floats * sizeof(float));
    d.pad_bytes = cg_align_up(pad_floats * sizeof(float));
    /* the small path's tap tables (tap_tables) */
    d.off_bytes = d.small && stride == 1
                      ? cg_align_up(((size_t)ck + (size_t)oc * kk) * sizeof(ptrdiff_t)) : 0;
    d.thread_bytes = d.col_bytes + d.tmp_bytes + d.pad_bytes + d.off_bytes;
    size_t all;
    if (!cg_mul_ok(d.thread_bytes, (size_t)nt, &all) ||
        !cg_mul_ok((size_t)oc * (size_t)ck * sizeof(float) + CG_ALIGN, CG_CONV_SHARDS + 1,
                   &bytes) ||
        all > SIZE_MAX - bytes)
        return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d: workspace overflows size_t", nt);
    /* each of the nt threads packs its GEMM operands into its own reserved buffer */
    enum cg_status st = cg_gemm_reserve(nt);
    if (st != CG_OK) return st;
    *p = d;
    return CG_OK;
}

static size_t part_bytes(const struct cg_conv2d *p) {
    return cg_align_up((size_t)p->oc * (size_t)p->ck * sizeof(float));
}

/* The GEMM-packed weights: w (oc, ck) for forward, w^T (ck, oc) for dx. */
static size_t packed_w_bytes(const struct cg_conv2d *p) {
    const size_t a = cg_gemm_packed_a_floats(p->oc, p->ck);
    const size_t b = cg_gemm_packed_a_floats(p->ck, p->oc);
    return cg_align_up((a > b ? a : b) * sizeof(float));
}

size_t cg_conv2d_ws_size(const struct cg_conv2d *p, int n) {
    if (n < 1) return 0;
    /* thread panels, the packed weights, then the dw shard partials */
    return p->thread_bytes * (size_t)p->nt + packed_w_bytes(p) +
           part_bytes(p) * (size_t)n_shards(n);
}

/* Packed once per call, the weights serve every image's GEMM (the per-GEMM scalar pack was
 * ~10% of conv time); placed after the thread panels. */
static float *packed_w_buf(const struct cg_conv2d *p, void *ws) {
    return (float *)((unsigned char *)ws + p->thread_bytes * (size_t)p->nt);
}

/* Row copies of 7-28 floats. gcc -O3 turns this loop into a memmove call; compiling it inline
 * (SSE, as nn/ has no ISA flags) measured no faster than libc's AVX-512 memmove. */
static inline void copy_f(float *restrict d, const float *restrict s, int n) {
    for (int j = 0; j < n; j++) d[j] = s[j];
}

static inline void add_f(float *restrict d, const float *restrict s, int n) {
    for (int j = 0; j < n; j++) d[j] += s[j];
}

/* Stride 1 on the padded image xp (c, H2, W2): tap (ci,ki,kj) at output (oy,ox) reads
 * xp(ci, oy+ki, ox+kj), so each panel row is a run of whole output-row copies without any
 * bounds test. The padded planes live in the thread workspace after col and tmp. */
static float *pad_x_buf(const struct cg_conv2d *p, unsigned char *tws) {
    return (float *)(tws + p->col_bytes + p->tmp_bytes);
}
static float *pad_dx_buf(const struct cg_conv2d *p, unsigned char *tws) {
    return pad_x_buf(p, tws) + (size_t)p->c * (p->h + 2 * p->pad) * (p->w + 2 * p->pad) +
           (size_t)p->kw + QB;
}

/* Channel planes of xp are `pitch` floats apart (>= H2*W2). */
static void pad_into(const struct cg_conv2d *p, const float *x, float *xp, size_t pitch) {
    const int pad = p->pad, W2 = p->w + 2 * pad;
    for (int ci = 0; ci < p->c; ci++) {
        float *pc = xp + (size_t)ci * pitch;
        /* only the frame needs zeros; the interior is overwritten row by row */
        memset(pc, 0, sizeof(float) * (size_t)pad * W2);
        memset(pc + (size_t)(pad + p->h) * W2, 0, sizeof(float) * (size_t)pad * W2);
        for (int iy = 0; iy < p->h; iy++) {
            float *r = pc + (size_t)(iy + pad) * W2;
            for (int j = 0; j < pad; j++) r[j] = 0.0f, r[pad + p->w + j] = 0.0f;
            copy_f(r + pad, x + ((size_t)ci * p->h + iy) * p->w, p->w);
        }
    }
}

/* Calls back f(dst, src, len) for every (panel row segment, padded-image run) pair of panel
 * [p0, p0+np): the shared walk of im2col_s1 and col2im_s1. */
#define S1_WALK(p, xp, p0, np, col, ldc, OP)                                                   \
    do {                                                                                      \
        const int W2_ = (p)->w + 2 * (p)->pad, H2_ = (p)->h + 2 * (p)->pad, ow_ = (p)->ow;    \
        const int oy0_ = (p0) / ow_, ox0_ = (p0) % ow_, end_ = (p0) + (np);                   \
        for (int ci_ = 0; ci_ < (p)->c; ci_++)                                                \
            for (int ki_ = 0; ki_ < (p)->kh; ki_++)                                           \
                for (int kj_ = 0; kj_ < (p)->kw; kj_++) {                                     \
                    float *row_ = (col) +                                                     \
                        (size_t)((ci_ * (p)->kh + ki_) * (p)->kw + kj_) * (ldc);              \
                    float *img_ = (xp) + ((size_t)ci_ * H2_ + ki_) * W2_ + kj_;               \
                    int q_ = (p0), oy_ = oy0_, ox_ = ox0_;                                    \
                    while (q_ < end_) {                                                       \
                        const int len_ = imin(ow_ - ox_, end_ - q_);                          \
                        OP(row_, img_ + (size_t)oy_ * W2_ + ox_, len_);                       \
                        row_ += len_, q_ += len_, oy_++, ox_ = 0;                             \
                    }                                                                         \
                }                                                                             \
    } while (0)

#define S1_GATHER(row, img, len) copy_f(row, img, len)
#define S1_SCATTER(row, img, len) add_f(img, row, len)

/* Column q of the panel is output pixel p0+q; row r = (ci*kh + ki)*kw + kj holds the input
 * value that kernel tap (ci,ki,kj) meets there, 0 in the padding. col is (ck, ldc). Panels
 * of one image come in order, p0 == 0 first (the padded copy is made then). */
static void im2col(const struct cg_conv2d *p, const float *x, int p0, int np, float *col,
                   int ldc, unsigned char *tws) {
    if (p->stride == 1) {
        float *xp = pad_x_buf(p, tws);
        if (p0 == 0)
            pad_into(p, x, xp, (size_t)(p->h + 2 * p->pad) * (p->w + 2 * p->pad));
        S1_WALK(p, xp, p0, np, col, ldc, S1_GATHER);
        return;
    }
    const int h = p->h, w = p->w, ow = p->ow, s = p->stride, pad = p->pad;
    for (int ci = 0; ci < p->c; ci++) {
        const float *xc = x + (size_t)ci * h * w;
        for (int ki = 0; ki < p->kh; ki++) {
            for (int kj = 0; kj < p->kw; kj++) {
                float *dst = col + (size_t)((ci * p->kh + ki) * p->kw + kj) * ldc;
                /* ox range whose ix = ox*s - pad + kj falls inside [0, w) */
                const int lo_all = pad - kj > 0 ? (pad - kj + s - 1) / s : 0;
                const int hi_all = w - 1 + pad - kj >= 0 ? (w - 1 + pad - kj) / s + 1 : 0;
                for (int q = p0, end = p0 + np; q < end;) {
                    const int oy = q / ow, ox0 = q % ow, ox1 = imin(ow, ox0 + (end - q));
                    const int iy = oy * s - pad + ki;
                    if (iy < 0 || iy >= h) {
                        memset(dst, 0, sizeof(float) * (size_t)(ox1 - ox0));
                    } else {
                        const float *xr = xc + (size_t)iy * w;
                        const int lo = imin(ox1, lo_all > ox0 ? lo_all : ox0);
                        const int hi = hi_all < lo ? lo : imin(ox1, hi_all);
                        int ox = ox0;
                        for (; ox < lo; ox++) dst[ox - ox0] = 0.0f;
                        if (s == 1 && hi > lo) {
                            memcpy(dst + (lo - ox0), xr + (lo - pad + kj),
                                   sizeof(float) * (size_t)(hi - lo));
                            ox = hi;
                        } else {
                            for (; ox < hi; ox++) dst[ox - ox0] = xr[ox * s - pad + kj];
                        }
                        for (; ox < ox1; ox++) dst[ox - ox0] = 0.0f;
                    }
                    dst += ox1 - ox0;
                    q += ox1 - ox0;
                }
            }
        }
    }
}

/* The adjoint of im2col: dx(c,h,w) += every panel entry at the input cell it was read from.
 * Stride 1 gathers the image's panels (in order) in a zeroed padded plane, then adds its
 * interior to dx after the last one. */
static void col2im(const struct cg_conv2d *p, const float *col, int ldc, int p0, int np,
                   float *dx, unsigned char *tws) {
    if (p->stride == 1) {
        const int pad = p->pad, W2 = p->w + 2 * pad, H2 = p->h + 2 * pad;
        float *dxp = pad_dx_buf(p, tws);
        if (p0 == 0) memset(dxp, 0, sizeof(float) * (size_t)p->c * H2 * W2);
        S1_WALK(p, dxp, p0, np, (float *)col, ldc, S1_SCATTER);
        if (p0 + np == p->ohw)
            for (int ci = 0; ci < p->c; ci++)
                for (int iy = 0; iy < p->h; iy++)
                    add_f(dx + ((size_t)ci * p->h + iy) * p->w,
                          dxp + ((size_t)ci * H2 + iy + pad) * W2 + pad, p->w);
        return;
    }
    const int h = p->h, w = p->w, ow = p->ow, s = p->stride, pad = p->pad;
    for (int ci = 0; ci < p->c; ci++) {
        float *dc = dx + (size_t)ci * h * w;
        for (int ki = 0; ki < p->kh; ki++) {
            for (int kj = 0; kj < p->kw; kj++) {
                const float *src = col + (size_t)((ci * p->kh + ki) * p->kw + kj) * ldc;
                const int lo_all = pad - kj > 0 ? (pad - kj + s - 1) / s : 0;
                const int hi_all = w - 1 + pad - kj >= 0 ? (w - 1 + pad - kj) / s + 1 : 0;
                for (int q = p0, end = p0 + np; q < end;) {
                    const int oy = q / ow, ox0 = q % ow, ox1 = imin(ow, ox0 + (end - q));
                    const int iy = oy * s - pad + ki;
                    if (iy >= 0 && iy < h) {
                        float *dr = dc + (size_t)iy * w;
                        const int lo = imin(ox1, lo_all > ox0 ? lo_all : ox0);
                        const int hi = hi_all < lo ? lo : imin(ox1, hi_all);
                        for (int ox = lo; ox < hi; ox++) dr[ox * s - pad + kj] += src[ox - ox0];
                    }
                    src += ox1 - ox0;
                    q += ox1 - ox0;
                }
            }
        }
    }
}

static void add_bias_rows(int rows, int cols, int ld, const float *b, float *y) {
    for (int o = 0; o < rows; o++) {
        float *r = y + (size_t)o * ld;
        for (int j = 0; j < cols; j++) r[j] += b[o];
    }
}

static unsigned char *thread_ws(const struct cg_conv2d *p, void *ws) {
    return (unsigned char *)ws + p->thread_bytes * (size_t)omp_get_thread_num();
}

/* Output columns [*lo, *hi) whose input column ox*s - pad + kj lies inside [0, w). */
static void valid_cols(const struct cg_conv2d *p, int kj, int *lo, int *hi) {
    const int s = p->stride, pad = p->pad, w = p->w;
    *lo = imin(p->ow, pad - kj > 0 ? (pad - kj + s - 1) / s : 0);
    *hi = w - 1 + pad - kj >= 0 ? imin(p->ow, (w - 1 + pad - kj) / s + 1) : 0;
    if (*hi < *lo) *hi = *lo;
}

/* Direct convolution of one image: y(oc, ohw) = b + sum over taps of w * shifted input rows.
 * The tap loop is outermost so the inner loop is a unit-stride axpy over an output row. */
static void small_forward(const struct cg_conv2d *p, const float *x, const float *w,
                          const float *b, float *y) {
    const int c = p->c, h = p->h, wd = p->w, kh = p->kh, kw = p->kw, s = p->stride;
    const int pad = p->pad, oh = p->oh, ow = p->ow;
    for (int o = 0; o < p->oc; o++) {
        float *yo = y + (size_t)o * p->ohw;
        memset(yo, 0, sizeof(float) * p->ohw);
        for (int ci = 0; ci < c; ci++)
            for (int ki = 0; ki < kh; ki++)
                for (int kj = 0; kj < kw; kj++) {
                    const float wv = w[(((size_t)o * c + ci) * kh + ki) * kw + kj];
                    int lo, hi;
                    valid_cols(p, kj, &lo, &hi);
                    if (lo >= hi) continue;
                    /* rows start at column lo, so every pointer stays inside x */
                    const size_t off = (size_t)(lo * s + kj - pad);
                    for (int oy = 0; oy < oh; oy++) {
                        const int iy = oy * s - pad + ki;
                        if (iy < 0 || iy >= h) continue;
                        const float *xr = x + ((size_t)ci * h + iy) * wd + off;
                        float *yr = yo + (size_t)oy * ow;
                        if (s == 1)
                            for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox - lo];
                        else
                            for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[(ox - lo) * s];
                    }
                }
        if (b)
            for (int j = 0; j < p->ohw; j++) yo[j] += b[o];
    }
}

/* dx(c,h,w) += the adjoint of small_forward for one image: each tap scatters w * dy rows. */
static void small_dx(const struct cg_conv2d *p, const float *dy, const float *w, float *dx) {
    const int c = p->c, h = p->h, wd = p->w, kh = p->kh, kw = p->kw, s = p->stride;
    const int pad = p->pad, oh = p->oh, ow = p->ow;
    for (int o = 0; o < p->oc; o++) {
        const float *dyo = dy + (size_t)o * p->ohw;
        for (int ci = 0; ci < c; ci++)
            for (int ki = 0; ki < kh; ki++)
                for (int kj = 0; kj < kw; kj++) {
                    const float wv = w[(((size_t)o * c + ci) * kh + ki) * kw + kj];
                    int lo, hi;
                    valid_cols(p, kj, &lo, &hi);
                    if (lo >= hi) continue;
                    /* rows start at column lo, so every pointer stays inside x */
                    const size_t off = (size_t)(lo * s + kj - pad);
                    for (int oy = 0; oy < oh; oy++) {
                        const int iy = oy * s - pad + ki;
                        if (iy < 0 || iy >= h) continue;
                        float *dr = dx + ((size_t)ci * h + iy) * wd + off;
                        const float *gr = dyo + (size_t)oy * ow;
                        if (s == 1)
                            for (int ox = lo; ox < hi; ox++) dr[ox - lo] += wv * gr[ox];
                        else
                            for (int ox = lo; ox < hi; ox++) dr[(ox - lo) * s] += wv * gr[ox];
                    }
                }
    }
}

/* part(oc, ck) += dy(oc, ohw) . shifted input, for one image. Each tap's dot product runs as
 * DW_ROW element-wise partial sums over the output rows (vectorisable without reassociation),
 * then one sum of the row accumulator. */
static void small_dw(const struct cg_conv2d *p, const float *dy, const float *x, float *part) {
    const int c = p->c, h = p->h, wd = p->w, kh = p->kh, kw = p->kw, s = p->stride;
    const int pad = p->pad, oh = p->oh, ow = p->ow;
    float acc[DW_ROW];
    for (int o = 0; o < p->oc; o++) {
        const float *dyo = dy + (size_t)o * p->ohw;
        for (int ci = 0; ci < c; ci++)
            for (int ki = 0; ki < kh; ki++)
                for (int kj = 0; kj < kw; kj++) {
                    int lo, hi;
                    valid_cols(p, kj, &lo, &hi);
                    if (lo >= hi) continue;
                    /* rows start at column lo, so every pointer stays inside x */
                    const size_t off = (size_t)(lo * s + kj - pad);
                    float sum = 0.0f;
                    for (int c0 = lo; c0 < hi; c0 += DW_ROW) {
                        const int c1 = imin(hi, c0 + DW_ROW);
                        for (int j = 0; j < c1 - c0; j++) acc[j] = 0.0f;
                        for (int oy = 0; oy < oh; oy++) {
                            const int iy = oy * s - pad + ki;
                            if (iy < 0 || iy >= h) continue;
                            const float *xr = x + ((size_t)ci * h + iy) * wd + off;
                            const float *gr = dyo + (size_t)oy * ow;
                            if (s == 1)
                                for (int ox = c0; ox < c1; ox++)
                                    acc[ox - c0] += gr[ox] * xr[ox - lo];
                            else
                                for (int ox = c0; ox < c1; ox++)
                                    acc[ox - c0] += gr[ox] * xr[(ox - lo) * s];
                        }
                        for (int j = 0; j < c1 - c0; j++) sum += acc[j];
                    }
                    part[(((size_t)o * c + ci) * kh + ki) * kw + kj] += sum;
                }
    }
}

/* Stride 1, padded layout: with x zero-padded to (H2, W2), output pixel (oy, ox) of tap
 * (ci,ki,kj) reads xp[tap + oy*W2 + ox], tap = (ci*H2 + ki)*W2 + kj, with no bounds test, so
 * one table of tap offsets serves every output row: the dconv kernels keep a block of row
 * chunks' sums in registers over all c*k*k taps (one load and one FMA per tap and vector). */
static void pad_image(const struct cg_conv2d *p, const float *x, float *xp) {
    const struct cg_dconv_kernels *K = &cg_kernels()->dconv;
    const int pad = p->pad, W2 = p->w + 2 * pad, H2 = p->h + 2 * pad;
    for (int ci = 0; ci < p->c; ci++) {
        float *pl = xp + (size_t)ci * H2 * W2;
        memset(pl, 0, sizeof(float) * (size_t)pad * W2);
        K->padrows((size_t)p->h, (size_t)p->w, (size_t)pad, (size_t)W2,
                   x + (size_t)ci * p->h * p->w, (size_t)p->w, pl + (size_t)pad * W2);
        memset(pl + (size_t)(pad + p->h) * W2, 0, sizeof(float) * (size_t)pad * W2);
    }
}

/* The thread's tap tables: forward offsets into the padded x in (ci, ki, kj) order (the
 * weights' order; dw reads x with them too), then the adjoint's offsets into the
 * margin-padded dy in (o, ki, kj) order: o*L - (ki*W2 + kj). */
static ptrdiff_t *tap_tables(const struct cg_conv2d *p, unsigned char *tws) {
    ptrdiff_t *off = (ptrdiff_t *)(tws + p->col_bytes + p->tmp_bytes + p->pad_bytes);
    const int k = p->kh, W2 = p->w + 2 * p->pad, H2 = p->h + 2 * p->pad;
    const ptrdiff_t L = (ptrdiff_t)dy_plane(k, (size_t)H2, (size_t)W2);
    ptrdiff_t *o1 = off, *o2 = off + p->ck;
    for (int ci = 0; ci < p->c; ci++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < p->kw; kj++) *o1++ = ((ptrdiff_t)ci * H2 + ki) * W2 + kj;
    for (int o = 0; o < p->oc; o++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < p->kw; kj++) *o2++ = o * L - ((ptrdiff_t)ki * W2 + kj);
    return off;
}

static void padded_forward(const struct cg_conv2d *p, const float *x, const float *w,
                           const float *b, float *y, unsigned char *tws) {
    const struct cg_dconv_kernels *K = &cg_kernels()->dconv;
    const int W2 = p->w + 2 * p->pad, H2 = p->h + 2 * p->pad, ow = p->ow, kk = p->kh * p->kw;
    const int tc = imax(1, L1_PLANES_FLOATS / (H2 * W2));
    float *xp = (float *)tws;
    const ptrdiff_t *off = tap_tables(p, tws);
    pad_image(p, x, xp);
    for (int o = 0; o < p->oc; o++) {
        float *yo = y + (size_t)o * p->ohw;
        const float bo = b ? b[o] : 0.0f;
        for (int i = 0; i < p->ohw; i++) yo[i] = bo;
        /* channel groups: each group's planes stay in L1 while every row block reads them
         * (all 64 planes of G's output conv are 256 KiB, re-read per block from L2) */
        for (int c0 = 0; c0 < p->c; c0 += tc) {
            const size_t t0 = (size_t)c0 * kk, nt = (size_t)imin(tc, p->c - c0) * kk;
            for (int ox = 0; ox < ow; ox += CG_TAPS_MAX_N)
                K->taps((size_t)p->oh, (size_t)imin(CG_TAPS_MAX_N, ow - ox), nt,
                        w + (size_t)o * p->ck + t0, off + t0, xp + ox, (size_t)W2, yo + ox,
                        (size_t)ow);
        }
    }
}

/* dx and dw of padded_forward for one image. dy is laid out W2 wide with zero margins
 * (dy_plane), so dx(ci, iy, ix) = sum over (o, ki, kj) of w * dy at padded pixel
 * (iy+pad-ki, ix+pad-kj) reads zeros wherever that pixel is outside dy: the forward's row
 * kernel again, over the adjoint's taps and wt = w regrouped per input channel as (c, oc, k,
 * k). Each dw tap is one dot product of dy with a shifted view of the padded x. */
static void padded_backward(const struct cg_conv2d *p, const float *dy, const float *x,
                            const float *wt, float *dx, float *part, unsigned char *tws) {
    const struct cg_dconv_kernels *K = &cg_kernels()->dconv;
    const int k = p->kh, pad = p->pad, W2 = p->w + 2 * pad, H2 = p->h + 2 * pad;
    const int nq = (p->oh - 1) * W2 + p->ow, oc = p->oc, kk = k * p->kw;
    const size_t front = (size_t)(k - 1) * W2 + (size_t)(k - 1), L = dy_plane(k, H2, W2);
    float *xp = (float *)tws, *dyp = (float *)(tws + p->col_bytes);
    const ptrdiff_t *off = tap_tables(p, tws);
    memset(dyp, 0, sizeof(float) * (size_t)oc * L);
    for (int o = 0; o < oc; o++)
        for (int oy = 0; oy < p->oh; oy++)
            memcpy(dyp + o * L + front + (size_t)oy * W2, dy + ((size_t)o * p->oh + oy) * p->ow,
                   sizeof(float) * p->ow);
    if (dx) {
        const float *base = dyp + front + (size_t)pad * W2 + pad;
        for (int ci = 0; ci < p->c; ci++)
            for (int ix = 0; ix < p->w; ix += CG_TAPS_MAX_N)
                K->taps((size_t)p->h, (size_t)imin(CG_TAPS_MAX_N, p->w - ix),
                        (size_t)oc * kk, wt + (size_t)ci * oc * kk, off + p->ck, base + ix,
                        (size_t)W2, dx + (size_t)ci * p->h * p->w + ix, (size_t)p->w);
    }
    if (!part) return;
    pad_image(p, x, xp);
    for (int o = 0; o < oc; o++)
        K->dots((size_t)nq, (size_t)p->ck, off, dyp + o * L + front, xp,
                part + (size_t)o * p->ck);
}

/* y for images [i0, i0+gi) (one GEMM group). */
static void forward_group(const struct cg_conv2d *p, int i0, int gi, const float *x,
                          const float *w, const float *wp, const float *b, float *y,
                          unsigned char *tws) {
    const int oc = p->oc, ck = p->ck, ohw = p->ohw;
    const size_t xs = (size_t)p->c * p->h * p->w, ys = (size_t)oc * ohw;
    float *col = (float *)tws, *tmp = (float *)(tws + p->col_bytes);
    if (p->small && p->stride == 1) {
        padded_forward(p, x + i0 * xs, w, b, y + i0 * ys, tws);
    } else if (p->small) {
        small_forward(p, x + i0 * xs, w, b, y + i0 * ys);
    } else if (p->direct) {
        /* y_i(oc, hw) = w(oc, c) x_i(c, hw) */
        cg_sgemm_pa(oc, ohw, ck, 1.0f, wp, CG_NO_TRANS, x + i0 * xs, ohw, 0.0f, y + i0 * ys,
                    ohw);
        if (b) add_bias_rows(oc, ohw, ohw, b, y + i0 * ys);
    } else if (p->shift) {
        /* Over the padded-width grid (oh rows of W2), tap (ki, kj) of every output is
         * xp(ci, oy + ki, ox + kj) = the plain (c, oh*W2) matrix at xp + ki*W2 + kj with row
         * pitch H2*W2: y(oc, oh*W2) = sum over taps of w_tap(oc, c) times that view, and the
         * W2 - ow spare columns of each row are dropped. */
        const int W2 = p->w + 2 * p->pad, H2 = p->h + 2 * p->pad, nq = p->oh * W2;
        const int taps = p->kh * p->kw, pitch = H2 * W2 + SHIFT_SKEW;
        const size_t tap_a = cg_gemm_packed_a_floats(oc, p->c);
        float *xp = pad_x_buf(p, tws);
        for (int g = 0; g < gi; g++) {
            pad_into(p, x + (i0 + g) * xs, xp, (size_t)pitch);
            for (int t = 0; t < taps; t++) {
                const float *view = xp + (size_t)(t / p->kw) * W2 + (size_t)(t % p->kw);
                cg_sgemm_pa(oc, nq, p->c, 1.0f, wp + (size_t)t * tap_a, CG_NO_TRANS, view,
                            pitch, t == 0 ? 0.0f : 1.0f, tmp, nq);
            }
            float *yi = y + (i0 + g) * ys;
            for (int o = 0; o < oc; o++) {
                const float bo = b ? b[o] : 0.0f;
                for (int oy = 0; oy < p->oh; oy++) {
                    const float *src = tmp + (size_t)o * nq + (size_t)oy * W2;
                    float *dst = yi + ((size_t)o * p->oh + oy) * p->ow;
                    for (int j = 0; j < p->ow; j++) dst[j] = src[j] + bo;
                }
            }
        }
    } else if (p->group == 1) {
        const float *xi = x + i0 * xs;
        float *yi = y + i0 * ys;
        for (int p0 = 0; p0 < ohw; p0 += p->pw) {
            const int np = imin(p->pw, ohw - p0);
            im2col(p, xi, p0, np, col, np, tws);
            cg_sgemm_pa(oc, np, ck, 1.0f, wp, CG_NO_TRANS, col, np, 0.0f, yi + p0, ohw);
            if (b) add_bias_rows(oc, np, ohw, b, yi + p0);
        }
    } else {
        /* gi images side by side in one panel: tmp(oc, gi*ohw), then scattered to NCHW */
        const int ld = gi * ohw;
        for (int g = 0; g < gi; g++)
            im2col(p, x + (i0 + g) * xs, 0, ohw, col + g * ohw, ld, tws);
        cg_sgemm_pa(oc, ld, ck, 1.0f, wp, CG_NO_TRANS, col, ld, 0.0f, tmp, ld);
        for (int g = 0; g < gi; g++) {
            float *yi = y + (i0 + g) * ys;
            for (int o = 0; o < oc; o++)
                memcpy(yi + (size_t)o * ohw, tmp + (size_t)o * ld + g * ohw,
                       sizeof(float) * ohw);
            if (b) add_bias_rows(oc, ohw, ohw, b, yi);
        }
    }
}

void cg_conv2d_forward(const struct cg_conv2d *p, int n, const float *x, const float *w,
                       const float *b, float *y, void *ws) {
    if (n <= 0) return;
    const int G = p->group, ngroups = (n + G - 1) / G;
    float *wp = packed_w_buf(p, ws);
    if (p->shift) {
        /* w_tap(oc, c) = w(o, ci, tap), gathered per tap in the (unused) dw partials, then
         * packed tap after tap */
        const int taps = p->kh * p->kw, c = p->c;
        const size_t tap_a = cg_gemm_packed_a_floats(p->oc, c);
        float *wtap = (float *)((unsigned char *)wp + packed_w_bytes(p));
        for (int t = 0; t < taps; t++) {
            for (int o = 0; o < p->oc; o++)
                for (int ci = 0; ci < c; ci++)
                    wtap[(size_t)o * c + ci] = w[((size_t)o * c + ci) * taps + t];
            cg_gemm_pack_a(CG_NO_TRANS, p->oc, c, wtap, c, wp + (size_t)t * tap_a);
        }
    } else if (!p->small) {
        cg_gemm_pack_a(CG_NO_TRANS, p->oc, p->ck, w, p->ck, wp);
    }
#pragma omp parallel for schedule(static) num_threads(p->nt)
    for (int g = 0; g < ngroups; g++)
        forward_group(p, g * G, imin(G, n - g * G), x, w, wp, b, y, thread_ws(p, ws));
}

/* Backward over images [i0, i1): dx += per image; part (oc, ck) = sum of dw over the range
 * when part != NULL, written by the first GEMM (beta 0) and accumulated after. wt is w^T
 * (ck, oc) packed for cg_sgemm_pa (same bits as cg_sgemm reading w^T). */
static void backward_range(const struct cg_conv2d *p, int i0, int i1, const float *dy,
                           const float *x, const float *w, const float *wt, float *dx,
                           float *part, unsigned char *tws) {
    const int oc = p->oc, ck = p->ck, ohw = p->ohw, G = p->group;
    const size_t xs = (size_t)p->c * p->h * p->w, ys = (size_t)oc * ohw;
    float *col = (float *)tws, *tmp = (float *)(tws + p->col_bytes);
    float beta = 0.0f;
    for (int i = i0; i < i1; i += G) {
        const int gi = imin(G, i1 - i);
        if (p->small) {
            if (part && beta == 0.0f) memset(part, 0, sizeof(float) * (size_t)oc * ck);
            beta = 1.0f;
            if (p->stride == 1) {
                padded_backward(p, dy + i * ys, x + i * xs, wt, dx ? dx + i * xs : NULL, part,
                                tws);
                continue;
            }
            if (part) small_dw(p, dy + i * ys, x + i * xs, part);
            if (dx) small_dx(p, dy + i * ys, w, dx + i * xs);
        } else if (p->direct) {
            const float *dyi = dy + i * ys, *xi = x + i * xs;
            /* dw(oc, c) += dy_i(oc, hw) x_i(c, hw)^T; dx_i(c, hw) += w^T(c, oc) dy_i */
            if (part)
                cg_sgemm(CG_NO_TRANS, CG_TRANS, oc, ck, ohw, 1.0f, dyi, ohw, xi, ohw, beta, part,
                         ck);
            if (dx)
                cg_sgemm_pa(ck, ohw, oc, 1.0f, wt, CG_NO_TRANS, dyi, ohw, 1.0f, dx + i * xs,
                            ohw);
            beta = 1.0f;
        } else if (G == 1) {
            const float *dyi = dy + i * ys, *xi = x + i * xs;
            for (int p0 = 0; p0 < ohw; p0 += p->pw) {
                const int np = imin(p->pw, ohw - p0);
                if (part) {
                    im2col(p, xi, p0, np, col, np, tws);
                    cg_sgemm(CG_NO_TRANS, CG_TRANS, oc, ck, np, 1.0f, dyi + p0, ohw, col, np,
                             beta, part, ck);
                    beta = 1.0f;
                }
                if (dx) {
                    /* dcol(ck, np) = w^T(ck, oc) dy_i(oc, np), reusing the panel */
                    cg_sgemm_pa(ck, np, oc, 1.0f, wt, CG_NO_TRANS, dyi + p0, ohw, 0.0f, col, np);
                    col2im(p, col, np, p0, np, dx + i * xs, tws);
                }
            }
        } else {
            const int ld = gi * ohw;
            for (int g = 0; g < gi; g++)
                for (int o = 0; o < oc; o++)
                    memcpy(tmp + (size_t)o * ld + g * ohw, dy + (i + g) * ys + (size_t)o * ohw,
                           sizeof(float) * ohw);
            if (part) {
                for (int g = 0; g < gi; g++)
                    im2col(p, x + (i + g) * xs, 0, ohw, col + g * ohw, ld, tws);
                cg_sgemm(CG_NO_TRANS, CG_TRANS, oc, ck, ld, 1.0f, tmp, ld, col, ld, beta, part,
                         ck);
                beta = 1.0f;
            }
            if (dx) {
                cg_sgemm_pa(ck, ld, oc, 1.0f, wt, CG_NO_TRANS, tmp, ld, 0.0f, col, ld);
                for (int g = 0; g < gi; g++)
                    col2im(p, col + g * ohw, ld, 0, ohw, dx + (i + g) * xs, tws);
            }
        }
    }
}

/* w (oc, c, k, k) -> (c, oc, k, k): the adjoint's taps for one input channel, contiguous. */
static void regroup_per_channel(const struct cg_conv2d *p, const float *w, float *wt) {
    const size_t kk = (size_t)p->kh * p->kw;
    for (int ci = 0; ci < p->c; ci++)
        for (int o = 0; o < p->oc; o++)
            memcpy(wt + ((size_t)ci * p->oc + o) * kk, w + ((size_t)o * p->c + ci) * kk,
                   kk * sizeof(float));
}

void cg_conv2d_backward(const struct cg_conv2d *p, int n, const float *dy, const float *x,
                        const float *w, float *dx, float *dw, float *db, void *ws) {
    const int oc = p->oc, ohw = p->ohw, nt = p->nt;
    if (n <= 0) return;
    if (db) {
        /* per channel, images and pixels in order: independent of nt */
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)oc * n * ohw >= CG_PAR_MIN)
        for (int o = 0; o < oc; o++) {
            double acc = 0.0;
            for (int i = 0; i < n; i++) {
                const float *r = dy + ((size_t)i * oc + o) * ohw;
                for (int j = 0; j < ohw; j++) acc += r[j];
            }
            db[o] += (float)acc;
        }
    }
    if (!dx && !dw) return;
    float *wt = packed_w_buf(p, ws);
    if (dx && !p->small) cg_gemm_pack_a(CG_TRANS, p->ck, oc, w, p->ck, wt);
    if (dx && p->small && p->stride == 1) regroup_per_channel(p, w, wt);
    if (dw) {
        const int S = n_shards(n);
        const size_t pstride = part_bytes(p) / sizeof(float), nw = (size_t)oc * p->ck;
        float *parts = (float *)((unsigned char *)wt + packed_w_bytes(p));
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int s = 0; s < S; s++) {
            const int i0 = (int)((long long)s * n / S), i1 = (int)((long long)(s + 1) * n / S);
            backward_range(p, i0, i1, dy, x, w, wt, dx, parts + s * pstride, thread_ws(p, ws));
        }
        /* shard partials in shard order, so the bits do not depend on which thread ran what */
#pragma omp parallel for schedule(static) num_threads(nt) if (nw * (size_t)S >= CG_PAR_MIN)
        for (size_t j = 0; j < nw; j++) {
            float acc = parts[j];
            for (int s = 1; s < S; s++) acc += parts[s * pstride + j];
            dw[j] += acc;
        }
    } else {
        const int G = p->group, ngroups = (n + G - 1) / G;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int g = 0; g < ngroups; g++)
            backward_range(p, g * G, imin(n, g * G + G), dy, x, w, wt, dx, NULL,
                           thread_ws(p, ws));
    }
}
