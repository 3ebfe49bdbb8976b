/* conv2d: forward against a direct 7-loop convolution in double, backward against the direct
 * adjoint and central finite differences, on odd shapes, every ISA, 1-3 threads. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/conv2d.h"

struct shape { int n, c, h, w, oc, k, s, pad; };

/* Exact-size, zeroed buffers (no slack), so a sanitizer build sees any overrun. */
static void *xalloc(size_t bytes) {
    void *p = calloc(bytes ? bytes : 1, 1);
    cr_assert(p, "out of memory");
    return p;
}
static float *falloc(size_t n) { return xalloc(n * sizeof(float)); }
static double *dalloc(size_t n) { return xalloc(n * sizeof(double)); }

/* The direct convolution and its adjoint, in double. m* receive the sums of |terms|, the
 * scale of the float rounding error (Higham, Accuracy and Stability, eq. 3.5). */
static void ref_conv(const struct cg_conv2d *p, int n, const float *x, const float *w,
                     const float *b, const float *dy, double *y, double *my, double *dx,
                     double *mdx, double *dw, double *mdw, double *db, double *mdb) {
    const int c = p->c, h = p->h, wd = p->w, oc = p->oc, k = p->kh, oh = p->oh, ow = p->ow;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < oc; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    const size_t yi = (((size_t)i * oc + o) * oh + oy) * ow + ox;
                    double acc = b ? b[o] : 0.0, mag = b ? fabs(b[o]) : 0.0;
                    const double g = dy ? dy[yi] : 0.0;
                    for (int ci = 0; ci < c; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                const int iy = oy * p->stride - p->pad + ki;
                                const int ix = ox * p->stride - p->pad + kj;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                const size_t xi = (((size_t)i * c + ci) * h + iy) * wd + ix;
                                const size_t wi = (((size_t)o * c + ci) * k + ki) * k + kj;
                                acc += (double)x[xi] * w[wi];
                                mag += fabs((double)x[xi] * w[wi]);
                                if (dy) {
                                    dx[xi] += g * w[wi];
                                    mdx[xi] += fabs(g * w[wi]);
                                    dw[wi] += g * x[xi];
                                    mdw[wi] += fabs(g * x[xi]);
                                }
                            }
                    y[yi] = acc;
                    my[yi] = mag;
                    if (dy) {
                        db[o] += g;
                        mdb[o] += fabs(g);
                    }
                }
}

/* Largest |got - ref| / (gamma_terms * mag + 1e-30), a ratio that must stay <= 1. A float sum
 * of `terms` products errs by at most gamma = terms * 2^-24 * sum|products| (first order);
 * FLT_EPSILON = 2^-23 gives the bound a factor 2 of slack for the bias add and FMA. */
static double err_ratio(const float *got, const double *ref, const double *mag, size_t n,
                        int terms, const float *pre) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double base = pre ? pre[i] : 0.0;
        const double tol = (terms + 2) * FLT_EPSILON * (mag[i] + fabs(base)) + 1e-30;
        const double e = fabs((double)got[i] - (ref[i] + base)) / tol;
        if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

static void init_conv(struct cg_conv2d *p, struct shape s, int nt) {
    enum cg_status st = cg_conv2d_init(p, s.c, s.h, s.w, s.oc, s.k, s.s, s.pad, nt);
    cr_assert_eq(st, CG_OK, "init failed: %s", cg_last_error());
}

/* Forward and backward (onto pre-filled gradients) against the double reference. */
static void check_against_ref(struct shape s, int nt) {
    struct cg_conv2d p;
    init_conv(&p, s, nt);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * s.k * s.k;
    const size_t ny = (size_t)s.n * s.oc * p.oh * p.ow;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(s.oc), *y = falloc(ny), *dy = falloc(ny);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(s.oc);
    float *px = falloc(nx), *pw = falloc(nw), *pb = falloc(s.oc);
    double *ry = dalloc(ny), *my = dalloc(ny), *rdx = dalloc(nx), *mdx = dalloc(nx);
    double *rdw = dalloc(nw), *mdw = dalloc(nw), *rdb = dalloc(s.oc), *mdb = dalloc(s.oc);
    void *ws = xalloc(cg_conv2d_ws_size(&p, s.n));
    t_fill(x, nx, -1, 1, 1);
    t_fill(w, nw, -1, 1, 2);
    t_fill(b, s.oc, -1, 1, 3);
    t_fill(dy, ny, -1, 1, 4);
    t_fill(px, nx, -1, 1, 5);
    t_fill(pw, nw, -1, 1, 6);
    t_fill(pb, s.oc, -1, 1, 7);
    memcpy(dx, px, nx * sizeof(float));
    memcpy(dw, pw, nw * sizeof(float));
    memcpy(db, pb, s.oc * sizeof(float));
    ref_conv(&p, s.n, x, w, b, dy, ry, my, rdx, mdx, rdw, mdw, rdb, mdb);
    cg_conv2d_forward(&p, s.n, x, w, b, y, ws);
    cg_conv2d_backward(&p, s.n, dy, x, w, dx, dw, db, ws);
    const int ck = s.c * s.k * s.k, npix = s.n * p.oh * p.ow;
    const char *fmt = "n%d c%d %dx%d oc%d k%d s%d p%d nt%d isa %s";
#define SHAPE_ARGS s.n, s.c, s.h, s.w, s.oc, s.k, s.s, s.pad, nt, cg_isa_name(cg_isa_active())
    double e = err_ratio(y, ry, my, ny, ck, NULL);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "y error ratio %g", e);
    /* the pre-filled gradient is one more term of every sum */
    e = err_ratio(dx, rdx, mdx, nx, s.oc * s.k * s.k + 1, px);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "dx error ratio %g", e);
    e = err_ratio(dw, rdw, mdw, nw, npix + 1, pw);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "dw error ratio %g", e);
    e = err_ratio(db, rdb, mdb, s.oc, npix + 1, pb);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "db error ratio %g", e);
#undef SHAPE_ARGS
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    free(px), free(pw), free(pb), free(ry), free(my), free(rdx), free(mdx), free(rdw);
    free(mdw), free(rdb), free(mdb), free(ws);
}

static void use_isa(enum cg_isa isa) {
    struct cg_init_opts o = {.isa_cap = (int)isa, .ignore_env = 1};
    cr_assert_eq(cg_init(&o), CG_OK, "%s", cg_last_error());
}

/* c=3 on 7x9, every k in {1,3,5}, stride {1,2}, pad {0,1,2}, on every ISA present; oc=5
 * takes the GEMM path, oc=1 the direct loops. n=5 makes a partial image group (7x9 outputs
 * are grouped several per GEMM). */
Test(conv2d, matches_direct_convolution) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        if (!cg_cpu_has((enum cg_isa)isa)) continue;
        use_isa((enum cg_isa)isa);
        for (int k = 1; k <= 5; k += 2)
            for (int s = 1; s <= 2; s++)
                for (int pad = 0; pad <= 2; pad++) {
                    check_against_ref((struct shape){5, 3, 7, 9, 5, k, s, pad}, 2);
                    if (isa == CG_ISA_REF)   /* the direct loops use no kernel table */
                        check_against_ref((struct shape){5, 3, 7, 9, 1, k, s, pad}, 2);
                }
    }
    use_isa(cg_cpu_best());
}

/* Big enough that one image's im2col is split into panels that end mid-row (ck = 675,
 * 400 output pixels), plus a 1x1 stride-1 (no im2col) and a 7x7 grouped case. */
Test(conv2d, panels_direct_and_groups) {
    check_against_ref((struct shape){2, 27, 20, 20, 4, 5, 1, 2}, 2);
    check_against_ref((struct shape){3, 27, 21, 19, 3, 5, 1, 1}, 1);
    /* rows wider than the direct kernels' 32-column chunk (37 = 32 + 5; 70 = 2 x 32 + 6) */
    check_against_ref((struct shape){2, 3, 5, 37, 2, 3, 1, 1}, 2);
    check_against_ref((struct shape){1, 2, 4, 70, 1, 5, 1, 2}, 1);
    /* the same with oc > 4, so they take the GEMM path: panels ending mid-row, in order */
    check_against_ref((struct shape){2, 27, 20, 20, 6, 5, 1, 2}, 2);
    check_against_ref((struct shape){3, 27, 21, 19, 5, 5, 1, 1}, 1);
    check_against_ref((struct shape){2, 27, 21, 19, 5, 5, 2, 2}, 2);
    check_against_ref((struct shape){3, 9, 7, 7, 10, 1, 1, 0}, 2);
    check_against_ref((struct shape){11, 6, 7, 7, 8, 3, 1, 1}, 3);
    /* direct loops: rows longer than their DW_ROW chunk, 3 channels, stride 3 */
    check_against_ref((struct shape){2, 4, 9, 70, 1, 5, 1, 2}, 2);
    check_against_ref((struct shape){3, 5, 11, 13, 3, 3, 3, 1}, 2);
}

/* ---- central finite differences on loss = sum(y * r) ------------------------------------- */
struct fd_ctx { struct cg_conv2d p; int n; float *x, *w, *b, *y, *r; void *ws; size_t ny; };

static double fd_loss(void *vc) {
    struct fd_ctx *c = vc;
    cg_conv2d_forward(&c->p, c->n, c->x, c->w, c->b, c->y, c->ws);
    return t_dot(c->y, c->r, c->ny);
}

static void check_fd(struct shape s) {
    struct fd_ctx c = {.n = s.n};
    init_conv(&c.p, s, 2);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * s.k * s.k;
    c.ny = (size_t)s.n * s.oc * c.p.oh * c.p.ow;
    c.x = falloc(nx), c.w = falloc(nw), c.b = falloc(s.oc), c.y = falloc(c.ny);
    c.r = falloc(c.ny);
    c.ws = xalloc(cg_conv2d_ws_size(&c.p, s.n));
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(s.oc);
    t_fill(c.x, nx, -1, 1, 11);
    t_fill(c.w, nw, -1, 1, 12);
    t_fill(c.b, s.oc, -1, 1, 13);
    t_fill(c.r, c.ny, -1, 1, 14);
    cg_conv2d_backward(&c.p, s.n, c.r, c.x, c.w, dx, dw, db, c.ws);
    /* y is linear in each of x, w, b, so a large step is exact but for the float rounding of
     * the few y it changes (~1e-6 relative); 1e-3 still flags any wrong tap (O(1) errors). */
    const float hstep = 0.25f;
    const double tol = 1e-3;
    double e = t_grad_check(fd_loss, &c, c.x, dx, nx, hstep, 0);
    cr_assert_leq(e, tol, "dx: %g (k%d s%d p%d)", e, s.k, s.s, s.pad);
    e = t_grad_check(fd_loss, &c, c.w, dw, nw, hstep, 0);
    cr_assert_leq(e, tol, "dw: %g (k%d s%d p%d)", e, s.k, s.s, s.pad);
    e = t_grad_check(fd_loss, &c, c.b, db, s.oc, hstep, 0);
    cr_assert_leq(e, tol, "db: %g (k%d s%d p%d)", e, s.k, s.s, s.pad);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(c.ws);
    free(dx), free(dw), free(db);
}

Test(conv2d, finite_differences) {
    check_fd((struct shape){2, 3, 7, 9, 5, 3, 1, 1});
    check_fd((struct shape){2, 3, 7, 9, 5, 3, 2, 1});
    check_fd((struct shape){2, 3, 7, 9, 5, 5, 2, 2});
    check_fd((struct shape){3, 3, 7, 9, 5, 1, 1, 0});
    check_fd((struct shape){2, 2, 6, 5, 8, 5, 1, 0});
    /* direct loops (oc <= 4) */
    check_fd((struct shape){2, 3, 7, 9, 1, 5, 1, 2});
    check_fd((struct shape){2, 3, 7, 9, 2, 3, 2, 1});
}

/* ---- accumulation, NULL outputs, thread-count independence ------------------------------- */
struct run { float *y, *dx, *dw, *db; };

static struct run run_conv(struct shape s, int nt, const float *x, const float *w,
                           const float *b, const float *dy, int want_dx, int want_dw,
                           int want_db) {
    struct cg_conv2d p;
    init_conv(&p, s, nt);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * s.k * s.k;
    struct run r = {falloc((size_t)s.n * s.oc * p.oh * p.ow), falloc(nx), falloc(nw),
                    falloc(s.oc)};
    void *ws = xalloc(cg_conv2d_ws_size(&p, s.n));
    cg_conv2d_forward(&p, s.n, x, w, b, r.y, ws);
    cg_conv2d_backward(&p, s.n, dy, x, w, want_dx ? r.dx : NULL, want_dw ? r.dw : NULL,
                       want_db ? r.db : NULL, ws);
    free(ws);
    return r;
}

static void free_run(struct run r) { free(r.y), free(r.dx), free(r.dw), free(r.db); }

static void check_threads(struct shape s) {
    struct cg_conv2d p;
    init_conv(&p, s, 1);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * s.k * s.k;
    const size_t ny = (size_t)s.n * s.oc * p.oh * p.ow;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(s.oc), *dy = falloc(ny);
    t_fill(x, nx, -1, 1, 21);
    t_fill(w, nw, -1, 1, 22);
    t_fill(b, s.oc, -1, 1, 23);
    t_fill(dy, ny, -1, 1, 24);
    struct run r1 = run_conv(s, 1, x, w, b, dy, 1, 1, 1);
    for (int nt = 2; nt <= 3; nt++) {
        struct run r = run_conv(s, nt, x, w, b, dy, 1, 1, 1);
        cr_assert(memcmp(r.y, r1.y, ny * sizeof(float)) == 0, "y differs at nt=%d", nt);
        cr_assert(memcmp(r.dx, r1.dx, nx * sizeof(float)) == 0, "dx differs at nt=%d", nt);
        cr_assert(memcmp(r.dw, r1.dw, nw * sizeof(float)) == 0, "dw differs at nt=%d", nt);
        cr_assert(memcmp(r.db, r1.db, s.oc * sizeof(float)) == 0, "db differs at nt=%d", nt);
        free_run(r);
    }
    /* each output alone is the same computation as all three together */
    struct run ox = run_conv(s, 2, x, w, b, dy, 1, 0, 0), ow = run_conv(s, 3, x, w, b, dy, 0, 1, 0);
    struct run ob = run_conv(s, 2, x, w, b, dy, 0, 0, 1);
    cr_assert(memcmp(ox.dx, r1.dx, nx * sizeof(float)) == 0, "dx alone differs");
    cr_assert(memcmp(ow.dw, r1.dw, nw * sizeof(float)) == 0, "dw alone differs");
    cr_assert(memcmp(ob.db, r1.db, s.oc * sizeof(float)) == 0, "db alone differs");
    /* the skipped outputs stay untouched (zero-filled by falloc) */
    for (size_t i = 0; i < nw; i++) cr_assert_eq(ox.dw[i], 0.0f);
    for (size_t i = 0; i < nx; i++) cr_assert_eq(ow.dx[i], 0.0f);
    for (int i = 0; i < s.oc; i++) cr_assert_eq(ow.db[i], 0.0f);
    free_run(r1), free_run(ox), free_run(ow), free_run(ob);
    free(x), free(w), free(b), free(dy);
}

/* n = 13: uneven shards (8 of 1-2 images), grouped 7x7 GEMMs, panels, and 1x1 direct. */
Test(conv2d, threads_bit_identical_and_null_outputs) {
    check_threads((struct shape){13, 3, 7, 9, 5, 3, 1, 1});
    check_threads((struct shape){13, 4, 7, 7, 6, 3, 2, 1});
    check_threads((struct shape){5, 27, 20, 20, 3, 5, 1, 2});
    check_threads((struct shape){5, 27, 20, 20, 6, 5, 1, 2});
    check_threads((struct shape){13, 8, 7, 7, 5, 1, 1, 0});
    check_threads((struct shape){13, 4, 9, 8, 1, 5, 1, 2});
}

/* Accumulation into pre-filled gradients is covered in check_against_ref (every output is
 * compared with pre + reference); here the same backward twice must add twice. */
Test(conv2d, backward_accumulates) {
    struct shape s = {4, 3, 7, 9, 5, 3, 2, 1};
    struct cg_conv2d p;
    init_conv(&p, s, 2);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, nw = (size_t)s.oc * s.c * s.k * s.k;
    const size_t ny = (size_t)s.n * s.oc * p.oh * p.ow;
    float *x = falloc(nx), *w = falloc(nw), *dy = falloc(ny);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(s.oc);
    float *dx2 = falloc(nx), *dw2 = falloc(nw), *db2 = falloc(s.oc);
    void *ws = xalloc(cg_conv2d_ws_size(&p, s.n));
    t_fill(x, nx, -1, 1, 31);
    t_fill(w, nw, -1, 1, 32);
    t_fill(dy, ny, -1, 1, 33);
    cg_conv2d_backward(&p, s.n, dy, x, w, dx, dw, db, ws);
    cg_conv2d_backward(&p, s.n, dy, x, w, dx2, dw2, db2, ws);
    cg_conv2d_backward(&p, s.n, dy, x, w, dx2, dw2, db2, ws);
    /* g + g is exact in float: only the sum order inside dx's col2im differs (<= 9 terms of
     * O(1), relative 1e-5 is ~100 ulp of headroom but far below any missing term) */
    for (size_t i = 0; i < nw; i++) cr_assert_eq(dw2[i], 2.0f * dw[i], "dw[%zu]", i);
    for (int i = 0; i < s.oc; i++) cr_assert_eq(db2[i], 2.0f * db[i], "db[%d]", i);
    for (size_t i = 0; i < nx; i++) dx[i] *= 2.0f;
    cr_assert_leq(t_max_rel_diff(dx2, dx, nx, 1.0), 1e-5);
    free(x), free(w), free(dy), free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
    free(ws);
}

/* ---- _init error paths ------------------------------------------------------------------- */
static void expect_bad(enum cg_status st, const char *name) {
    cr_assert_eq(st, CG_ERR_INVALID_ARG, "expected INVALID_ARG naming %s", name);
    cr_assert(strstr(cg_last_error(), name), "message \"%s\" does not name %s", cg_last_error(),
              name);
}

Test(conv2d, init_errors) {
    struct cg_conv2d p;
    expect_bad(cg_conv2d_init(NULL, 1, 5, 5, 1, 3, 1, 1, 1), "p=");
    expect_bad(cg_conv2d_init(&p, 0, 5, 5, 1, 3, 1, 1, 1), "c=0");
    expect_bad(cg_conv2d_init(&p, 1, -1, 5, 1, 3, 1, 1, 1), "h=-1");
    expect_bad(cg_conv2d_init(&p, 1, 5, 0, 1, 3, 1, 1, 1), "w=0");
    expect_bad(cg_conv2d_init(&p, 1, 5, 5, 0, 3, 1, 1, 1), "oc=0");
    expect_bad(cg_conv2d_init(&p, 1, 5, 5, 1, 0, 1, 1, 1), "ksize=0");
    expect_bad(cg_conv2d_init(&p, 1, 5, 5, 1, 3, 0, 1, 1), "stride=0");
    expect_bad(cg_conv2d_init(&p, 1, 5, 5, 1, 3, 1, -1, 1), "pad=-1");
    expect_bad(cg_conv2d_init(&p, 1, 5, 5, 1, 3, 1, 1, 0), "nt=0");
    expect_bad(cg_conv2d_init(&p, 1, 3, 9, 1, 5, 1, 0, 1), "ksize=5");   /* output < 1 row */
    expect_bad(cg_conv2d_init(&p, 1, 9, 2, 1, 5, 1, 1, 1), "ksize=5");   /* output < 1 col */
    expect_bad(cg_conv2d_init(&p, 1 << 30, 5, 5, 1, 3, 1, 1, 1), "ksize=3");  /* c*k*k */
    expect_bad(cg_conv2d_init(&p, 1000, 2000, 2000, 1, 1, 1, 0, 1), "c=1000"); /* c*h*w */
    expect_bad(cg_conv2d_init(&p, 1, 40000, 40000, 4, 1, 1, 0, 1), "oc=4");    /* output */
    expect_bad(cg_conv2d_init(&p, 100000, 3, 3, 100000, 1, 1, 0, 1), "oc=100000"); /* w */
    cr_assert_eq(cg_conv2d_init(&p, 1, 5, 5, 1, 5, 1, 0, 1), CG_OK);   /* 1x1 output is fine */
    cr_assert_eq(p.oh, 1);
    cr_assert_eq(cg_conv2d_ws_size(&p, 0), 0);
}

/* The shifted-view forward (stride 1, c >= 16: one GEMM per tap on the zero-padded image):
 * against the double reference with odd sizes, "same" and non-"same" padding, an even kernel,
 * 7x7 with 9-wide padded rows, oc past one register tile, and 1-3 threads bit-identical. */
Test(conv2d, shifted_view_forward) {
    check_against_ref((struct shape){3, 17, 7, 7, 9, 3, 1, 1}, 2);
    check_against_ref((struct shape){2, 16, 9, 13, 33, 3, 1, 0}, 3);
    check_against_ref((struct shape){2, 19, 6, 11, 5, 2, 1, 1}, 1);
    check_against_ref((struct shape){3, 20, 5, 8, 7, 5, 1, 2}, 2);
    check_against_ref((struct shape){2, 16, 14, 14, 64, 3, 1, 1}, 2);
    check_threads((struct shape){7, 17, 9, 7, 10, 3, 1, 1});
    check_fd((struct shape){2, 16, 5, 6, 5, 3, 1, 1});
    /* oc = 5, one row of a register tile and more */
    check_against_ref((struct shape){3, 21, 8, 7, 5, 3, 1, 0}, 3);
}
