/* upconv2d (nearest upsample x2 fused into a "same" conv): forward and backward against an
 * explicit upsample + direct convolution in double, central finite differences, accumulation,
 * NULL outputs, 1-3 threads bit-identical, _init errors; on odd shapes and every ISA. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/upconv2d.h"

struct shape { int n, c, h, w, oc, k; };

static void *xalloc(size_t bytes) {
    void *p = calloc(bytes ? bytes : 1, 1);
    cr_assert(p, "out of memory");
    return p;
}
static float *falloc(size_t n) { return xalloc(n * sizeof(float)); }
static double *dalloc(size_t n) { return xalloc(n * sizeof(double)); }

static size_t nx_of(struct shape s) { return (size_t)s.n * s.c * s.h * s.w; }
static size_t nw_of(struct shape s) { return (size_t)s.oc * s.c * s.k * s.k; }
static size_t ny_of(struct shape s) { return (size_t)s.n * s.oc * 4 * s.h * s.w; }

/* The unfused definition in double: u = upsample_x2(x) (index arithmetic), y = conv(u) with
 * pad k/2, and its adjoint routed back through u's source pixel. m* collect sum |terms|, the
 * scale of the float rounding error (Higham, eq. 3.5). */
static void ref_upconv(struct shape s, const float *x, const float *w, const float *b,
                       const float *dy, double *y, double *my, double *dx, double *mdx,
                       double *dw, double *mdw, double *db, double *mdb) {
    const int H = 2 * s.h, W = 2 * s.w, k = s.k, pad = k / 2;
    for (int i = 0; i < s.n; i++)
        for (int o = 0; o < s.oc; o++)
            for (int oy = 0; oy < H; oy++)
                for (int ox = 0; ox < W; ox++) {
                    const size_t yi = (((size_t)i * s.oc + o) * H + oy) * W + ox;
                    double acc = b ? b[o] : 0.0, mag = b ? fabs(b[o]) : 0.0;
                    const double g = dy ? dy[yi] : 0.0;
                    for (int ci = 0; ci < s.c; ci++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                const int uy = oy - pad + ki, ux = ox - pad + kj;
                                if (uy < 0 || uy >= H || ux < 0 || ux >= W) continue;
                                const size_t xi =
                                    (((size_t)i * s.c + ci) * s.h + uy / 2) * s.w + ux / 2;
                                const size_t wi = (((size_t)o * s.c + ci) * k + ki) * k + kj;
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

/* Largest |got - (ref + pre)| / tol, which must stay <= 1. A float sum of `terms` products errs
 * by at most terms * 2^-24 * sum|products| (first order); FLT_EPSILON = 2^-23 doubles that
 * for the folded weights (each is itself a float sum of up to 9 taps, whose rounding is
 * bounded by the same |products| scale) and the bias add. */
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

static void init_up(struct cg_upconv2d *p, struct shape s, int nt) {
    enum cg_status st = cg_upconv2d_init(p, s.c, s.h, s.w, s.oc, s.k, nt);
    cr_assert_eq(st, CG_OK, "init failed: %s", cg_last_error());
    cr_assert_eq(p->oh, 2 * s.h);
    cr_assert_eq(p->ow, 2 * s.w);
}

static void check_against_ref(struct shape s, int nt) {
    struct cg_upconv2d p;
    init_up(&p, s, nt);
    const size_t nx = nx_of(s), nw = nw_of(s), ny = ny_of(s);
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(s.oc), *y = falloc(ny), *dy = falloc(ny);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(s.oc);
    float *px = falloc(nx), *pw = falloc(nw), *pb = falloc(s.oc);
    double *ry = dalloc(ny), *my = dalloc(ny), *rdx = dalloc(nx), *mdx = dalloc(nx);
    double *rdw = dalloc(nw), *mdw = dalloc(nw), *rdb = dalloc(s.oc), *mdb = dalloc(s.oc);
    void *ws = t_alloc(cg_upconv2d_ws_size(&p, s.n) / sizeof(float) + 1);
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
    ref_upconv(s, x, w, b, dy, ry, my, rdx, mdx, rdw, mdw, rdb, mdb);
    cg_upconv2d_forward(&p, s.n, x, w, b, y, ws);
    cg_upconv2d_backward(&p, s.n, dy, x, w, dx, dw, db, ws);
    const int kk = s.k * s.k, npix = s.n * 4 * s.h * s.w;
    const char *fmt = "n%d c%d %dx%d oc%d k%d nt%d isa %s";
#define SHAPE_ARGS s.n, s.c, s.h, s.w, s.oc, s.k, nt, cg_isa_name(cg_isa_active())
    double e = err_ratio(y, ry, my, ny, s.c * kk, NULL);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "y error ratio %g", e);
    /* each x pixel feeds 4 upsampled pixels, each of which meets oc*k*k outputs */
    e = err_ratio(dx, rdx, mdx, nx, 4 * s.oc * kk + 1, px);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "dx error ratio %g", e);
    e = err_ratio(dw, rdw, mdw, nw, npix + 4, pw);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "dw error ratio %g", e);
    e = err_ratio(db, rdb, mdb, s.oc, npix + 1, pb);
    if (e > 1.0) cr_log_error(fmt, SHAPE_ARGS);
    cr_assert_leq(e, 1.0, "db error ratio %g", e);
#undef SHAPE_ARGS
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    free(px), free(pw), free(pb), free(ry), free(my), free(rdx), free(mdx), free(rdw);
    free(mdw), free(rdb), free(mdb), cg_free(ws);
}

static void use_isa(enum cg_isa isa) {
    struct cg_init_opts o = {.isa_cap = (int)isa, .ignore_env = 1};
    cr_assert_eq(cg_init(&o), CG_OK, "%s", cg_last_error());
}

/* Every odd k up to 7 (k=3 and 7 fold unevenly: some phase taps stay zero), odd sizes, the
 * grouped (7x7) and panel paths of the inner conv, oc=1 (4 phase channels: direct loops). */
Test(upconv2d, matches_upsample_then_conv) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        if (!cg_cpu_has((enum cg_isa)isa)) continue;
        use_isa((enum cg_isa)isa);
        for (int k = 1; k <= 7; k += 2) {
            check_against_ref((struct shape){3, 3, 5, 7, 5, k}, 2);
            check_against_ref((struct shape){2, 2, 4, 3, 1, k}, 1);
        }
        check_against_ref((struct shape){5, 6, 7, 7, 8, 5}, 3);
    }
    use_isa(cg_cpu_best());
    /* G's shapes at small n: 96->64 from 7x7, 64->64 from 14x14 (panel path) */
    check_against_ref((struct shape){2, 96, 7, 7, 64, 5}, 2);
    check_against_ref((struct shape){1, 64, 14, 14, 64, 5}, 2);
}

/* ---- central finite differences on loss = sum(y * r) ------------------------------------- */
struct fd_ctx { struct cg_upconv2d p; int n; float *x, *w, *b, *y, *r; void *ws; size_t ny; };

static double fd_loss(void *vc) {
    struct fd_ctx *c = vc;
    cg_upconv2d_forward(&c->p, c->n, c->x, c->w, c->b, c->y, c->ws);
    return t_dot(c->y, c->r, c->ny);
}

static void check_fd(struct shape s) {
    struct fd_ctx c = {.n = s.n};
    init_up(&c.p, s, 2);
    const size_t nx = nx_of(s), nw = nw_of(s);
    c.ny = ny_of(s);
    c.x = falloc(nx), c.w = falloc(nw), c.b = falloc(s.oc), c.y = falloc(c.ny);
    c.r = falloc(c.ny);
    c.ws = t_alloc(cg_upconv2d_ws_size(&c.p, s.n) / sizeof(float) + 1);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(s.oc);
    t_fill(c.x, nx, -1, 1, 11);
    t_fill(c.w, nw, -1, 1, 12);
    t_fill(c.b, s.oc, -1, 1, 13);
    t_fill(c.r, c.ny, -1, 1, 14);
    cg_upconv2d_backward(&c.p, s.n, c.r, c.x, c.w, dx, dw, db, c.ws);
    /* y is linear in each of x, w, b: a large step is exact but for float rounding of the y it
     * changes (~1e-6 relative); 1e-3 still flags any wrong tap or phase (O(1) errors). */
    const float hstep = 0.25f;
    const double tol = 1e-3;
    double e = t_grad_check(fd_loss, &c, c.x, dx, nx, hstep, 0);
    cr_assert_leq(e, tol, "dx: %g (k%d)", e, s.k);
    e = t_grad_check(fd_loss, &c, c.w, dw, nw, hstep, 0);
    cr_assert_leq(e, tol, "dw: %g (k%d)", e, s.k);
    e = t_grad_check(fd_loss, &c, c.b, db, s.oc, hstep, 0);
    cr_assert_leq(e, tol, "db: %g (k%d)", e, s.k);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), cg_free(c.ws);
    free(dx), free(dw), free(db);
}

Test(upconv2d, finite_differences) {
    check_fd((struct shape){2, 3, 4, 5, 6, 5});
    check_fd((struct shape){2, 2, 3, 4, 5, 3});
    check_fd((struct shape){1, 2, 5, 3, 1, 5});
}

/* ---- accumulation, NULL outputs, thread-count independence ------------------------------- */
struct run { float *y, *dx, *dw, *db; };

static struct run run_up(struct shape s, int nt, const float *x, const float *w, const float *b,
                         const float *dy, int want_dx, int want_dw, int want_db) {
    struct cg_upconv2d p;
    init_up(&p, s, nt);
    struct run r = {falloc(ny_of(s)), falloc(nx_of(s)), falloc(nw_of(s)), falloc(s.oc)};
    void *ws = t_alloc(cg_upconv2d_ws_size(&p, s.n) / sizeof(float) + 1);
    cg_upconv2d_forward(&p, s.n, x, w, b, r.y, ws);
    cg_upconv2d_backward(&p, s.n, dy, x, w, want_dx ? r.dx : NULL, want_dw ? r.dw : NULL,
                         want_db ? r.db : NULL, ws);
    cg_free(ws);
    return r;
}

static void free_run(struct run r) { free(r.y), free(r.dx), free(r.dw), free(r.db); }

static void check_threads(struct shape s) {
    const size_t nx = nx_of(s), nw = nw_of(s), ny = ny_of(s);
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(s.oc), *dy = falloc(ny);
    t_fill(x, nx, -1, 1, 21);
    t_fill(w, nw, -1, 1, 22);
    t_fill(b, s.oc, -1, 1, 23);
    t_fill(dy, ny, -1, 1, 24);
    struct run r1 = run_up(s, 1, x, w, b, dy, 1, 1, 1);
    for (int nt = 2; nt <= 3; nt++) {
        struct run r = run_up(s, nt, x, w, b, dy, 1, 1, 1);
        cr_assert(memcmp(r.y, r1.y, ny * sizeof(float)) == 0, "y differs at nt=%d", nt);
        cr_assert(memcmp(r.dx, r1.dx, nx * sizeof(float)) == 0, "dx differs at nt=%d", nt);
        cr_assert(memcmp(r.dw, r1.dw, nw * sizeof(float)) == 0, "dw differs at nt=%d", nt);
        cr_assert(memcmp(r.db, r1.db, s.oc * sizeof(float)) == 0, "db differs at nt=%d", nt);
        free_run(r);
    }
    struct run ox = run_up(s, 2, x, w, b, dy, 1, 0, 0), ow = run_up(s, 3, x, w, b, dy, 0, 1, 0);
    struct run ob = run_up(s, 2, x, w, b, dy, 0, 0, 1);
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

/* n = 13: uneven dw shards; 7x7 grouped, 12x11 panel, oc=1 direct inner paths */
Test(upconv2d, threads_bit_identical_and_null_outputs) {
    check_threads((struct shape){13, 5, 7, 7, 6, 5});
    check_threads((struct shape){3, 4, 12, 11, 5, 5});
    check_threads((struct shape){13, 3, 5, 6, 1, 5});
}

/* Pre-filled gradients are covered in check_against_ref; the same backward twice adds twice. */
Test(upconv2d, backward_accumulates) {
    struct shape s = {3, 3, 5, 6, 4, 5};
    struct cg_upconv2d p;
    init_up(&p, s, 2);
    const size_t nx = nx_of(s), nw = nw_of(s), ny = ny_of(s);
    float *x = falloc(nx), *w = falloc(nw), *dy = falloc(ny);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(s.oc);
    float *dx2 = falloc(nx), *dw2 = falloc(nw), *db2 = falloc(s.oc);
    void *ws = t_alloc(cg_upconv2d_ws_size(&p, s.n) / sizeof(float) + 1);
    t_fill(x, nx, -1, 1, 31);
    t_fill(w, nw, -1, 1, 32);
    t_fill(dy, ny, -1, 1, 33);
    cg_upconv2d_backward(&p, s.n, dy, x, w, dx, dw, db, ws);
    cg_upconv2d_backward(&p, s.n, dy, x, w, dx2, dw2, db2, ws);
    cg_upconv2d_backward(&p, s.n, dy, x, w, dx2, dw2, db2, ws);
    /* g + g is exact in float: dw and db are summed apart, then added once */
    for (size_t i = 0; i < nw; i++) cr_assert_eq(dw2[i], 2.0f * dw[i], "dw[%zu]", i);
    for (int i = 0; i < s.oc; i++) cr_assert_eq(db2[i], 2.0f * db[i], "db[%d]", i);
    /* dx adds its terms straight onto the existing value, so the second pass rounds in a
     * different order: ~oc*ke*ke O(1) terms, relative 1e-5 is far below a missing term */
    for (size_t i = 0; i < nx; i++) dx[i] *= 2.0f;
    cr_assert_leq(t_max_rel_diff(dx2, dx, nx, 1.0), 1e-5);
    free(x), free(w), free(dy), free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
    cg_free(ws);
}

static void expect_bad(enum cg_status st, const char *name) {
    cr_assert_eq(st, CG_ERR_INVALID_ARG, "expected INVALID_ARG naming %s", name);
    cr_assert(strstr(cg_last_error(), name), "message \"%s\" does not name %s", cg_last_error(),
              name);
}

Test(upconv2d, init_errors) {
    struct cg_upconv2d p;
    expect_bad(cg_upconv2d_init(NULL, 1, 5, 5, 1, 5, 1), "p=");
    expect_bad(cg_upconv2d_init(&p, 0, 5, 5, 1, 5, 1), "c=0");
    expect_bad(cg_upconv2d_init(&p, 1, -1, 5, 1, 5, 1), "h=-1");
    expect_bad(cg_upconv2d_init(&p, 1, 5, 0, 1, 5, 1), "w=0");
    expect_bad(cg_upconv2d_init(&p, 1, 5, 5, 0, 5, 1), "oc=0");
    expect_bad(cg_upconv2d_init(&p, 1, 5, 5, 1, 0, 1), "ksize=0");
    expect_bad(cg_upconv2d_init(&p, 1, 5, 5, 1, 4, 1), "ksize=4");
    expect_bad(cg_upconv2d_init(&p, 1, 5, 5, 1, 5, 0), "nt=0");
    expect_bad(cg_upconv2d_init(&p, 1, 5, 5, 1 << 30, 5, 1), "oc=1073741824");
    expect_bad(cg_upconv2d_init(&p, 4, 30000, 30000, 1, 1, 1), "oc=1");
    cr_assert_eq(cg_upconv2d_init(&p, 1, 1, 1, 1, 5, 1), CG_OK);   /* 1x1 -> 2x2 is fine */
    cr_assert_eq(p.ke, 3);
    cr_assert_eq(cg_upconv2d_ws_size(&p, 0), 0);
}
