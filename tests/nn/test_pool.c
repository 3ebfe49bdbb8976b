/* max-pool: forward and argmax against a direct window scan (ties included), backward against
 * scatter loops and central finite differences, 1-3 threads bit-identical, _init errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/pool.h"

static void *xalloc(size_t bytes) {
    void *p = calloc(bytes ? bytes : 1, 1);
    cr_assert(p, "out of memory");
    return p;
}

struct pshape { int n, c, h, w, k, s, pad; };

static void init_pool(struct cg_maxpool *p, struct pshape s, int nt) {
    cr_assert_eq(cg_maxpool_init(p, s.c, s.h, s.w, s.k, s.s, s.pad, nt), CG_OK, "%s",
                 cg_last_error());
}

/* Values on a coarse grid (steps of 0.25 in [-1,1]) so that windows hold ties: the first
 * maximum in row-major window order must win. */
static void fill_ties(float *x, size_t n, uint64_t seed) {
    t_fill(x, n, -1, 1, seed);
    for (size_t i = 0; i < n; i++) x[i] = floorf(x[i] * 4.0f) / 4.0f;
}

static void check_forward_backward(struct pshape s, int nt) {
    struct cg_maxpool p;
    init_pool(&p, s, nt);
    const int oh = (s.h + 2 * s.pad - s.k) / s.s + 1, ow = (s.w + 2 * s.pad - s.k) / s.s + 1;
    cr_assert(p.oh == oh && p.ow == ow, "output %dx%d, want %dx%d", p.oh, p.ow, oh, ow);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.c * oh * ow;
    float *x = xalloc(nx * 4), *y = xalloc(ny * 4), *dy = xalloc(ny * 4), *dx = xalloc(nx * 4);
    float *pre = xalloc(nx * 4);
    int32_t *am = xalloc(ny * 4);
    double *rdx = xalloc(nx * sizeof(double));
    fill_ties(x, nx, 1);
    t_fill(dy, ny, -1, 1, 2);
    t_fill(pre, nx, -1, 1, 3);
    memcpy(dx, pre, nx * 4);
    cg_maxpool_forward(&p, s.n, x, y, am);
    cg_maxpool_backward(&p, s.n, dy, am, dx);
    for (size_t pl = 0; pl < (size_t)s.n * s.c; pl++) {
        const float *xp = x + pl * s.h * s.w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float m = -INFINITY;
                int best = -1;
                for (int ki = 0; ki < s.k; ki++)
                    for (int kj = 0; kj < s.k; kj++) {
                        const int iy = oy * s.s - s.pad + ki, ix = ox * s.s - s.pad + kj;
                        if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                        if (xp[iy * s.w + ix] > m) m = xp[iy * s.w + ix], best = iy * s.w + ix;
                    }
                const size_t o = (pl * oh + oy) * ow + ox;
                cr_assert_eq(y[o], m, "y at plane %zu (%d,%d)", pl, oy, ox);
                cr_assert_eq(am[o], best, "argmax at plane %zu (%d,%d)", pl, oy, ox);
                rdx[pl * s.h * s.w + best] += dy[o];
            }
    }
    for (size_t i = 0; i < nx; i++) rdx[i] += pre[i];
    /* a cell wins at most k*k overlapping windows: float sums of <= 10 O(1) terms differ from
     * the double reference by a few ulp; 1e-6 (relative, floor 1) is ~10 ulp */
    for (size_t i = 0; i < nx; i++)
        cr_assert_leq(fabs(dx[i] - rdx[i]) / fmax(1.0, fabs(rdx[i])), 1e-6, "dx[%zu]", i);
    free(x), free(y), free(dy), free(dx), free(pre), free(am), free(rdx);
}

/* The nets' pooling (3x3 s2 p1, 28 -> 14 -> 7), 2x2 s2 on odd sizes (floor), and others. */
Test(maxpool, matches_direct_scan) {
    check_forward_backward((struct pshape){2, 3, 28, 28, 3, 2, 1}, 2);
    check_forward_backward((struct pshape){3, 2, 14, 14, 3, 2, 1}, 3);
    check_forward_backward((struct pshape){3, 5, 7, 9, 3, 2, 1}, 1);
    check_forward_backward((struct pshape){3, 5, 7, 9, 2, 2, 0}, 2);
    check_forward_backward((struct pshape){2, 3, 8, 6, 2, 2, 0}, 2);
    check_forward_backward((struct pshape){2, 3, 7, 9, 3, 1, 0}, 2);
    check_forward_backward((struct pshape){1, 1, 5, 4, 5, 3, 2}, 1);
    check_forward_backward((struct pshape){2, 2, 1, 1, 1, 1, 0}, 1);
    /* interior rows longer than one 16-lane block of the vectorised 3x3 s2 pool */
    check_forward_backward((struct pshape){1, 2, 9, 71, 3, 2, 1}, 2);
}

Test(maxpool, nan_never_wins) {
    struct cg_maxpool p;
    init_pool(&p, (struct pshape){1, 1, 2, 2, 2, 2, 0}, 1);
    float x[4] = {NAN, 1.0f, NAN, -3.0f}, y[1];
    int32_t am[1];
    cg_maxpool_forward(&p, 1, x, y, am);
    cr_assert_eq(y[0], 1.0f);
    cr_assert_eq(am[0], 1);
}

/* NaNs and ties in interior (unrolled 3x3, generic 2x2) and border windows, including an
 * all-NaN window: the first maximum in row-major order wins, a NaN only when all are NaN
 * (then the window's first cell). Reference: that rule written out directly. */
static void check_nan_rule(struct pshape s) {
    struct cg_maxpool p;
    init_pool(&p, s, 2);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.c * p.oh * p.ow;
    float *x = xalloc(nx * 4), *y = xalloc(ny * 4);
    int32_t *am = xalloc(ny * 4);
    fill_ties(x, nx, 41);
    float *u = xalloc(nx * 4);
    t_fill(u, nx, 0, 1, 42);
    for (size_t i = 0; i < nx; i++)
        if (u[i] < 0.3f) x[i] = NAN;
    /* an all-NaN 3x3 block in the first plane's interior */
    for (int iy = 2; iy < 7 && iy < s.h; iy++)
        for (int ix = 2; ix < 7 && ix < s.w; ix++) x[iy * s.w + ix] = NAN;
    cg_maxpool_forward(&p, s.n, x, y, am);
    for (size_t pl = 0; pl < (size_t)s.n * s.c; pl++) {
        const float *xp = x + pl * s.h * s.w;
        for (int oy = 0; oy < p.oh; oy++)
            for (int ox = 0; ox < p.ow; ox++) {
                float m = 0;
                int best = -1;
                for (int ki = 0; ki < s.k; ki++)
                    for (int kj = 0; kj < s.k; kj++) {
                        const int iy = oy * s.s - s.pad + ki, ix = ox * s.s - s.pad + kj;
                        if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                        const float v = xp[iy * s.w + ix];
                        if (best < 0 || v > m || (isnan(m) && !isnan(v)))
                            m = v, best = iy * s.w + ix;
                    }
                const size_t o = (pl * p.oh + oy) * p.ow + ox;
                cr_assert_eq(am[o], best, "argmax plane %zu (%d,%d) k%d s%d", pl, oy, ox, s.k,
                             s.s);
                cr_assert(isnan(m) ? isnan(y[o]) : y[o] == m, "y plane %zu (%d,%d)", pl, oy,
                          ox);
            }
    }
    free(x), free(y), free(am), free(u);
}

Test(maxpool, nan_rule_interior_and_border) {
    check_nan_rule((struct pshape){2, 3, 13, 11, 3, 2, 1});
    check_nan_rule((struct pshape){2, 3, 9, 10, 3, 1, 1});
    check_nan_rule((struct pshape){2, 3, 9, 11, 2, 2, 0});
}

/* ---- central finite differences on loss = sum(y * r) ------------------------------------- */
struct fd_ctx { struct cg_maxpool p; int n; float *x, *y, *r; int32_t *am; size_t ny; };

static double fd_loss(void *vc) {
    struct fd_ctx *c = vc;
    cg_maxpool_forward(&c->p, c->n, c->x, c->y, c->am);
    return t_dot(c->y, c->r, c->ny);
}

static void check_fd(struct pshape s) {
    struct fd_ctx c = {.n = s.n};
    init_pool(&c.p, s, 2);
    const size_t nx = (size_t)s.n * s.c * s.h * s.w;
    c.ny = (size_t)s.n * s.c * c.p.oh * c.p.ow;
    c.x = xalloc(nx * 4), c.y = xalloc(c.ny * 4), c.r = xalloc(c.ny * 4);
    c.am = xalloc(c.ny * 4);
    float *dx = xalloc(nx * 4);
    /* distinct values 0.01 apart (a shuffled ramp), so a +-h step below 0.005 never changes a
     * window's argmax and the loss is linear across the stencil */
    for (size_t i = 0; i < nx; i++) c.x[i] = (float)i * 0.01f - 1.0f;
    struct cg_rng rng;
    cg_rng_seed(&rng, 7, 0);
    for (size_t i = nx - 1; i > 0; i--) {
        size_t j = cg_rng_below(&rng, (uint32_t)(i + 1));
        float t = c.x[i];
        c.x[i] = c.x[j], c.x[j] = t;
    }
    t_fill(c.r, c.ny, -1, 1, 5);
    fd_loss(&c);
    cg_maxpool_backward(&c.p, s.n, c.r, c.am, dx);
    /* piecewise linear and no kink inside the stencil: exact up to float rounding of x +- h
     * (accounted for by t_grad_check), so 1e-4 is loose; a misrouted gradient is O(0.1-1) */
    const double e = t_grad_check(fd_loss, &c, c.x, dx, nx, 2e-3f, 0);
    cr_assert_leq(e, 1e-4, "dx %g (k%d s%d p%d)", e, s.k, s.s, s.pad);
    free(c.x), free(c.y), free(c.r), free(c.am), free(dx);
}

Test(maxpool, finite_differences) {
    check_fd((struct pshape){2, 2, 7, 9, 3, 2, 1});
    check_fd((struct pshape){2, 2, 7, 9, 2, 2, 0});
    check_fd((struct pshape){1, 3, 6, 6, 3, 1, 1});
}

Test(maxpool, threads_bit_identical) {
    struct pshape s = {7, 5, 14, 14, 3, 2, 1};
    const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.c * 7 * 7;
    float *x = xalloc(nx * 4), *dy = xalloc(ny * 4);
    t_fill(x, nx, -1, 1, 41);
    t_fill(dy, ny, -1, 1, 42);
    float *y[3], *dx[3];
    int32_t *am[3];
    for (int t = 0; t < 3; t++) {
        struct cg_maxpool p;
        init_pool(&p, s, t + 1);
        y[t] = xalloc(ny * 4), dx[t] = xalloc(nx * 4), am[t] = xalloc(ny * 4);
        cg_maxpool_forward(&p, s.n, x, y[t], am[t]);
        cg_maxpool_backward(&p, s.n, dy, am[t], dx[t]);
    }
    for (int t = 1; t < 3; t++) {
        cr_assert(memcmp(y[t], y[0], ny * 4) == 0, "y differs at nt=%d", t + 1);
        cr_assert(memcmp(am[t], am[0], ny * 4) == 0, "argmax differs at nt=%d", t + 1);
        cr_assert(memcmp(dx[t], dx[0], nx * 4) == 0, "dx differs at nt=%d", t + 1);
    }
    for (int t = 0; t < 3; t++) free(y[t]), free(dx[t]), free(am[t]);
    free(x), free(dy);
}

static void expect_bad(enum cg_status st, const char *name) {
    cr_assert_eq(st, CG_ERR_INVALID_ARG, "expected INVALID_ARG naming %s", name);
    cr_assert(strstr(cg_last_error(), name), "message \"%s\" does not name %s", cg_last_error(),
              name);
}

Test(maxpool, init_errors) {
    struct cg_maxpool p;
    expect_bad(cg_maxpool_init(NULL, 1, 4, 4, 2, 2, 0, 1), "p=");
    expect_bad(cg_maxpool_init(&p, 0, 4, 4, 2, 2, 0, 1), "c=0");
    expect_bad(cg_maxpool_init(&p, 1, 0, 4, 2, 2, 0, 1), "h=0");
    expect_bad(cg_maxpool_init(&p, 1, 4, -4, 2, 2, 0, 1), "w=-4");
    expect_bad(cg_maxpool_init(&p, 1, 4, 4, 0, 2, 0, 1), "k=0");
    expect_bad(cg_maxpool_init(&p, 1, 4, 4, 2, 0, 0, 1), "stride=0");
    expect_bad(cg_maxpool_init(&p, 1, 4, 4, 2, 2, -1, 1), "pad=-1");
    expect_bad(cg_maxpool_init(&p, 1, 4, 4, 3, 2, 2, 1), "pad=2");   /* > k/2 */
    expect_bad(cg_maxpool_init(&p, 1, 4, 4, 2, 2, 0, 0), "nt=0");
    expect_bad(cg_maxpool_init(&p, 1, 2, 9, 5, 1, 1, 1), "k=5");     /* output < 1 row */
    expect_bad(cg_maxpool_init(&p, 1, 9, 2, 5, 1, 1, 1), "k=5");     /* output < 1 col */
    expect_bad(cg_maxpool_init(&p, 1000, 2000, 2000, 2, 2, 0, 1), "c=1000");
    cr_assert_eq(cg_maxpool_init(&p, 32, 28, 28, 3, 2, 1, 2), CG_OK);
    cr_assert(p.oh == 14 && p.ow == 14);
}
