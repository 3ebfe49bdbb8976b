/* nearest upsample: forward against index arithmetic, backward against block sums and central
 * finite differences, accumulation, 1-3 threads bit-identical, _init errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/upsample.h"

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    cr_assert(p, "out of memory");
    return p;
}

static void check(int n, int c, int h, int w, int s, int nt) {
    struct cg_upsample p;
    cr_assert_eq(cg_upsample_init(&p, c, h, w, s, nt), CG_OK, "%s", cg_last_error());
    const int oh = h * s, ow = w * s;
    const size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * oh * ow;
    float *x = falloc(nx), *y = falloc(ny), *dy = falloc(ny), *dx = falloc(nx), *pre = falloc(nx);
    t_fill(x, nx, -1, 1, 1);
    t_fill(dy, ny, -1, 1, 2);
    t_fill(pre, nx, -1, 1, 3);
    memcpy(dx, pre, nx * sizeof(float));
    cg_upsample_forward(&p, n, x, y);
    cg_upsample_backward(&p, n, dy, dx);
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                cr_assert_eq(y[(pl * oh + oy) * ow + ox], x[(pl * h + oy / s) * w + ox / s],
                             "y plane %zu (%d,%d) s%d", pl, oy, ox, s);
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++) {
                double want = pre[(pl * h + iy) * w + ix];
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        if (oy / s == iy && ox / s == ix) want += dy[(pl * oh + oy) * ow + ox];
                const float got = dx[(pl * h + iy) * w + ix];
                /* s*s + 1 float additions of O(1) terms: within ~10 ulp of the double sum */
                cr_assert_leq(fabs(got - want) / fmax(1.0, fabs(want)), 1e-6,
                              "dx plane %zu (%d,%d) s%d", pl, iy, ix, s);
            }
    free(x), free(y), free(dy), free(dx), free(pre);
}

Test(upsample, matches_index_arithmetic) {
    check(2, 3, 7, 7, 2, 2);    /* the nets' x2 from 7x7 */
    check(3, 2, 5, 9, 2, 3);
    check(2, 3, 4, 3, 3, 1);
    check(2, 2, 3, 5, 1, 2);
}

struct fd_ctx { struct cg_upsample p; int n; float *x, *y, *r; size_t ny; };

static double fd_loss(void *vc) {
    struct fd_ctx *c = vc;
    cg_upsample_forward(&c->p, c->n, c->x, c->y);
    return t_dot(c->y, c->r, c->ny);
}

Test(upsample, finite_differences) {
    struct fd_ctx c = {.n = 2};
    const int ch = 3, h = 5, w = 7, s = 2;
    cr_assert_eq(cg_upsample_init(&c.p, ch, h, w, s, 2), CG_OK);
    const size_t nx = (size_t)c.n * ch * h * w;
    c.ny = nx * s * s;
    c.x = falloc(nx), c.y = falloc(c.ny), c.r = falloc(c.ny);
    float *dx = falloc(nx);
    t_fill(c.x, nx, -1, 1, 11);
    t_fill(c.r, c.ny, -1, 1, 12);
    cg_upsample_backward(&c.p, c.n, c.r, dx);
    /* y copies x, so the loss is linear in x and the difference exact up to rounding
     * (t_grad_check uses the step actually applied); 1e-4 still flags a lost block cell */
    const double e = t_grad_check(fd_loss, &c, c.x, dx, nx, 0.25f, 0);
    cr_assert_leq(e, 1e-4, "dx %g", e);
    free(c.x), free(c.y), free(c.r), free(dx);
}

Test(upsample, threads_bit_identical) {
    const int n = 5, ch = 7, h = 7, w = 7;
    const size_t nx = (size_t)n * ch * h * w, ny = nx * 4;
    float *x = falloc(nx), *dy = falloc(ny);
    t_fill(x, nx, -1, 1, 21);
    t_fill(dy, ny, -1, 1, 22);
    float *y[3], *dx[3];
    for (int t = 0; t < 3; t++) {
        struct cg_upsample p;
        cr_assert_eq(cg_upsample_init(&p, ch, h, w, 2, t + 1), CG_OK);
        y[t] = falloc(ny), dx[t] = falloc(nx);
        cg_upsample_forward(&p, n, x, y[t]);
        cg_upsample_backward(&p, n, dy, dx[t]);
    }
    for (int t = 1; t < 3; t++) {
        cr_assert(memcmp(y[t], y[0], ny * sizeof(float)) == 0, "y differs at nt=%d", t + 1);
        cr_assert(memcmp(dx[t], dx[0], nx * sizeof(float)) == 0, "dx differs at nt=%d", t + 1);
    }
    for (int t = 0; t < 3; t++) free(y[t]), free(dx[t]);
    free(x), free(dy);
}

static void expect_bad(enum cg_status st, const char *name) {
    cr_assert_eq(st, CG_ERR_INVALID_ARG, "expected INVALID_ARG naming %s", name);
    cr_assert(strstr(cg_last_error(), name), "message \"%s\" does not name %s", cg_last_error(),
              name);
}

Test(upsample, init_errors) {
    struct cg_upsample p;
    expect_bad(cg_upsample_init(NULL, 1, 2, 2, 2, 1), "p=");
    expect_bad(cg_upsample_init(&p, 0, 2, 2, 2, 1), "c=0");
    expect_bad(cg_upsample_init(&p, 1, -2, 2, 2, 1), "h=-2");
    expect_bad(cg_upsample_init(&p, 1, 2, 0, 2, 1), "w=0");
    expect_bad(cg_upsample_init(&p, 1, 2, 2, 0, 1), "scale=0");
    expect_bad(cg_upsample_init(&p, 1, 2, 2, 2, -1), "nt=-1");
    expect_bad(cg_upsample_init(&p, 64, 1000, 1000, 8, 1), "scale=8");  /* output > INT_MAX */
    expect_bad(cg_upsample_init(&p, 1, 1 << 30, 1, 4, 1), "scale=4");  /* h*scale > INT_MAX */
    cr_assert_eq(cg_upsample_init(&p, 96, 7, 7, 2, 2), CG_OK);
}
