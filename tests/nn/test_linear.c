/* linear: forward and backward against double loops on odd shapes and every ISA, central
 * finite differences, accumulation, NULL outputs, 1-3 threads bit-identical, _init errors. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/linear.h"

/* Exact-size, zeroed buffers (no slack), so a sanitizer build sees any overrun. */
static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    cr_assert(p, "out of memory");
    return p;
}
static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    cr_assert(p, "out of memory");
    return p;
}

/* |got - (pre + ref)| <= (terms + 2) * FLT_EPSILON * (mag + |pre|) for every entry: the first
 * order bound of a float sum of `terms` products (Higham eq. 3.5, gamma = terms * 2^-24),
 * with a factor 2 of slack for the bias add and FMA contraction. Returns the worst ratio. */
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

static void check_ref(int n, int in, int out, int nt, int with_bias) {
    struct cg_linear p;
    cr_assert_eq(cg_linear_init(&p, in, out, nt), CG_OK, "%s", cg_last_error());
    const size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(out), *y = falloc(ny), *dy = falloc(ny);
    float *dx = falloc(nx), *dw = falloc(nw), *db = falloc(out);
    float *px = falloc(nx), *pw = falloc(nw), *pb = falloc(out);
    double *ry = dalloc(ny), *my = dalloc(ny), *rdx = dalloc(nx), *mdx = dalloc(nx);
    double *rdw = dalloc(nw), *mdw = dalloc(nw), *rdb = dalloc(out), *mdb = dalloc(out);
    t_fill(x, nx, -1, 1, 1);
    t_fill(w, nw, -1, 1, 2);
    t_fill(b, out, -1, 1, 3);
    t_fill(dy, ny, -1, 1, 4);
    t_fill(px, nx, -1, 1, 5);
    t_fill(pw, nw, -1, 1, 6);
    t_fill(pb, out, -1, 1, 7);
    memcpy(dx, px, nx * sizeof(float));
    memcpy(dw, pw, nw * sizeof(float));
    memcpy(db, pb, out * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            const double g = dy[(size_t)i * out + o];
            double acc = with_bias ? b[o] : 0.0, mag = fabs(acc);
            for (int k = 0; k < in; k++) {
                const double xv = x[(size_t)i * in + k], wv = w[(size_t)o * in + k];
                acc += xv * wv;
                mag += fabs(xv * wv);
                rdx[(size_t)i * in + k] += g * wv;
                mdx[(size_t)i * in + k] += fabs(g * wv);
                rdw[(size_t)o * in + k] += g * xv;
                mdw[(size_t)o * in + k] += fabs(g * xv);
            }
            ry[(size_t)i * out + o] = acc;
            my[(size_t)i * out + o] = mag;
            rdb[o] += g;
            mdb[o] += fabs(g);
        }
    cg_linear_forward(&p, n, x, w, with_bias ? b : NULL, y);
    cg_linear_backward(&p, n, dy, x, w, dx, dw, db);
    const char *isa = cg_isa_name(cg_isa_active());
    double e = err_ratio(y, ry, my, ny, in, NULL);
    cr_assert_leq(e, 1.0, "y ratio %g (n%d in%d out%d %s)", e, n, in, out, isa);
    /* the pre-filled gradient is one more term of every sum */
    e = err_ratio(dx, rdx, mdx, nx, out + 1, px);
    cr_assert_leq(e, 1.0, "dx ratio %g (n%d in%d out%d %s)", e, n, in, out, isa);
    e = err_ratio(dw, rdw, mdw, nw, n + 1, pw);
    cr_assert_leq(e, 1.0, "dw ratio %g (n%d in%d out%d %s)", e, n, in, out, isa);
    e = err_ratio(db, rdb, mdb, out, n + 1, pb);
    cr_assert_leq(e, 1.0, "db ratio %g (n%d in%d out%d %s)", e, n, in, out, isa);
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db), free(px);
    free(pw), free(pb), free(ry), free(my), free(rdx), free(mdx), free(rdw), free(mdw);
    free(rdb), free(mdb);
}

Test(linear, matches_double_loops_on_every_isa) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        if (!cg_cpu_has((enum cg_isa)isa)) continue;
        struct cg_init_opts o = {.isa_cap = isa, .ignore_env = 1};
        cr_assert_eq(cg_init(&o), CG_OK, "%s", cg_last_error());
        check_ref(1, 1, 1, 1, 1);
        check_ref(7, 13, 11, 2, 1);
        check_ref(7, 13, 11, 2, 0);
        check_ref(37, 67, 45, 3, 1);
        check_ref(100, 130, 10, 2, 1);   /* a fc2-like shape: wide k, narrow n */
    }
    cr_assert_eq(cg_init(NULL), CG_OK);
}

/* ---- central finite differences on loss = sum(y * r) ------------------------------------- */
struct fd_ctx { struct cg_linear p; int n; float *x, *w, *b, *y, *r; size_t ny; };

static double fd_loss(void *vc) {
    struct fd_ctx *c = vc;
    cg_linear_forward(&c->p, c->n, c->x, c->w, c->b, c->y);
    return t_dot(c->y, c->r, c->ny);
}

Test(linear, finite_differences) {
    struct fd_ctx c = {.n = 3};
    const int in = 7, out = 5;
    cr_assert_eq(cg_linear_init(&c.p, in, out, 2), CG_OK);
    c.ny = (size_t)c.n * out;
    c.x = falloc((size_t)c.n * in), c.w = falloc((size_t)out * in), c.b = falloc(out);
    c.y = falloc(c.ny), c.r = falloc(c.ny);
    float *dx = falloc((size_t)c.n * in), *dw = falloc((size_t)out * in), *db = falloc(out);
    t_fill(c.x, (size_t)c.n * in, -1, 1, 11);
    t_fill(c.w, (size_t)out * in, -1, 1, 12);
    t_fill(c.b, out, -1, 1, 13);
    t_fill(c.r, c.ny, -1, 1, 14);
    cg_linear_backward(&c.p, c.n, c.r, c.x, c.w, dx, dw, db);
    /* y is linear in each entry, so the step size only scales float rounding (~1e-6
     * relative); 1e-3 is loose for that yet far below a wrong or missing term (O(0.1-1)) */
    const double tol = 1e-3;
    double e = t_grad_check(fd_loss, &c, c.x, dx, (size_t)c.n * in, 0.25f, 0);
    cr_assert_leq(e, tol, "dx %g", e);
    e = t_grad_check(fd_loss, &c, c.w, dw, (size_t)out * in, 0.25f, 0);
    cr_assert_leq(e, tol, "dw %g", e);
    e = t_grad_check(fd_loss, &c, c.b, db, out, 0.25f, 0);
    cr_assert_leq(e, tol, "db %g", e);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
}

/* ---- threads and NULL outputs ------------------------------------------------------------ */
struct run { float *y, *dx, *dw, *db; };

static struct run run_lin(int nt, int n, int in, int out, const float *x, const float *w,
                          const float *b, const float *dy, int mask) {
    struct cg_linear p;
    cr_assert_eq(cg_linear_init(&p, in, out, nt), CG_OK);
    struct run r = {falloc((size_t)n * out), falloc((size_t)n * in), falloc((size_t)out * in),
                    falloc(out)};
    cg_linear_forward(&p, n, x, w, b, r.y);
    cg_linear_backward(&p, n, dy, x, w, mask & 1 ? r.dx : NULL, mask & 2 ? r.dw : NULL,
                       mask & 4 ? r.db : NULL);
    return r;
}

Test(linear, threads_bit_identical_and_null_outputs) {
    const int n = 53, in = 97, out = 71;
    const size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    float *x = falloc(nx), *w = falloc(nw), *b = falloc(out), *dy = falloc(ny);
    t_fill(x, nx, -1, 1, 21);
    t_fill(w, nw, -1, 1, 22);
    t_fill(b, out, -1, 1, 23);
    t_fill(dy, ny, -1, 1, 24);
    struct run r1 = run_lin(1, n, in, out, x, w, b, dy, 7);
    for (int nt = 2; nt <= 3; nt++) {
        struct run r = run_lin(nt, n, in, out, x, w, b, dy, 7);
        cr_assert(memcmp(r.y, r1.y, ny * sizeof(float)) == 0, "y differs at nt=%d", nt);
        cr_assert(memcmp(r.dx, r1.dx, nx * sizeof(float)) == 0, "dx differs at nt=%d", nt);
        cr_assert(memcmp(r.dw, r1.dw, nw * sizeof(float)) == 0, "dw differs at nt=%d", nt);
        cr_assert(memcmp(r.db, r1.db, out * sizeof(float)) == 0, "db differs at nt=%d", nt);
        free(r.y), free(r.dx), free(r.dw), free(r.db);
    }
    for (int mask = 1; mask <= 4; mask *= 2) {
        struct run r = run_lin(2, n, in, out, x, w, b, dy, mask);
        const float *got[3] = {r.dx, r.dw, r.db}, *want[3] = {r1.dx, r1.dw, r1.db};
        const size_t len[3] = {nx, nw, (size_t)out};
        for (int k = 0; k < 3; k++) {
            if (mask == 1 << k) {
                cr_assert(memcmp(got[k], want[k], len[k] * sizeof(float)) == 0, "output %d", k);
            } else {
                for (size_t i = 0; i < len[k]; i++)
                    cr_assert_eq(got[k][i], 0.0f, "NULL output %d was written", k);
            }
        }
        free(r.y), free(r.dx), free(r.dw), free(r.db);
    }
    free(r1.y), free(r1.dx), free(r1.dw), free(r1.db), free(x), free(w), free(b), free(dy);
}

static void expect_bad(enum cg_status st, const char *name) {
    cr_assert_eq(st, CG_ERR_INVALID_ARG, "expected INVALID_ARG naming %s", name);
    cr_assert(strstr(cg_last_error(), name), "message \"%s\" does not name %s", cg_last_error(),
              name);
}

Test(linear, init_errors) {
    struct cg_linear p;
    expect_bad(cg_linear_init(NULL, 3, 4, 1), "p=");
    expect_bad(cg_linear_init(&p, 0, 4, 1), "in=0");
    expect_bad(cg_linear_init(&p, 3, -2, 1), "out=-2");
    expect_bad(cg_linear_init(&p, 3, 4, 0), "nt=0");
    cr_assert_eq(cg_linear_init(&p, 3, 4, 2), CG_OK);
    cr_assert(p.in == 3 && p.out == 4 && p.nt == 2);
}
