/* Batch norm: forward against a naive double implementation, running statistics against
 * PyTorch's formula, eval with the batch statistics against train, backward against central
 * finite differences (hw > 1 and hw = 1, n = 3), accumulation/NULL rules, thread
 * independence, a large-mean channel of 78400 elements, and the init error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "nn/batchnorm.h"

static void init(void) { cr_assert_eq(cg_init(NULL), CG_OK); }
TestSuite(bn, .init = init);

/* Naive double statistics of channel ch: mean and biased variance. */
static void naive_stats(int n, int c, int hw, const float *x, int ch, double *mu, double *var) {
    double s = 0, q = 0, cnt = (double)n * hw;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) s += x[((size_t)i * c + ch) * hw + j];
    *mu = s / cnt;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
            double d = x[((size_t)i * c + ch) * hw + j] - *mu;
            q += d * d;
        }
    *var = q / cnt;
}

static void check_forward(int n, int c, int hw, int nt) {
    struct cg_batchnorm p;
    const float eps = 1e-5f, mom = 0.1f;
    cr_assert_eq(cg_batchnorm_init(&p, c, hw, eps, mom, nt), CG_OK);
    size_t cnt = (size_t)n * c * hw;
    float *x = t_alloc(cnt), *y = t_alloc(cnt), *ye = t_alloc(cnt), *g = t_alloc((size_t)c);
    float *b = t_alloc((size_t)c), *mean = t_alloc((size_t)c), *rstd = t_alloc((size_t)c);
    float *rm = t_alloc((size_t)c), *rv = t_alloc((size_t)c), *rm0 = t_alloc((size_t)c);
    float *rv0 = t_alloc((size_t)c), *bm = t_alloc((size_t)c), *bv = t_alloc((size_t)c);
    t_fill(x, cnt, -1.0f, 2.0f, 1);
    t_fill(g, (size_t)c, 0.5f, 1.5f, 2);
    t_fill(b, (size_t)c, -0.5f, 0.5f, 3);
    t_fill(rm0, (size_t)c, -0.2f, 0.2f, 4);
    t_fill(rv0, (size_t)c, 0.5f, 1.5f, 5);
    memcpy(rm, rm0, (size_t)c * sizeof *rm);
    memcpy(rv, rv0, (size_t)c * sizeof *rv);
    cg_batchnorm_forward_train(&p, n, x, g, b, y, mean, rstd, rm, rv);
    double N = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        naive_stats(n, c, hw, x, ch, &mu, &var);
        double r = 1.0 / sqrt(var + eps);
        /* mean, rstd: double statistics rounded once to float (plus the E[x^2] - mu^2 form,
         * which loses nothing visible at |mu| ~ std): 2 float ulps */
        cr_assert_leq(fabs(mean[ch] - mu), 0x1p-22 * fmax(fabs(mu), 1e-3), "mean ch=%d", ch);
        cr_assert_leq(fabs(rstd[ch] - r), 0x1p-22 * r, "rstd ch=%d", ch);
        /* PyTorch: run = (1 - momentum) * run + momentum * stat, unbiased variance; the
         * float result may cancel, so the bound is 2 ulps of the terms' magnitude */
        double m1 = 1.0 - (double)mom, ub = var * N / (N - 1);
        double wm = m1 * rm0[ch] + mom * mu, wv = m1 * rv0[ch] + mom * ub;
        double mag = fabs(m1 * rm0[ch]) + fabs(mom * mu);
        cr_assert_leq(fabs(rm[ch] - wm), 0x1p-22 * mag, "run_mean ch=%d: %.9g vs %.9g", ch,
                      rm[ch], wm);
        cr_assert_leq(fabs(rv[ch] - wv), 0x1p-22 * wv, "run_var ch=%d: %.9g vs %.9g", ch, rv[ch],
                      wv);
        bm[ch] = (float)mu; /* the batch statistics as running stats, for eval below */
        bv[ch] = (float)var;
    }
    cg_batchnorm_forward_eval(&p, n, x, g, b, bm, bv, ye);
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        naive_stats(n, c, hw, x, ch, &mu, &var);
        double r = 1.0 / sqrt(var + eps), sc = g[ch] * r, sh = b[ch] - mu * sc;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t o = ((size_t)i * c + ch) * hw + j;
                double want = (x[o] - mu) * r * g[ch] + b[ch];
                /* x*scale + shift in float: scale, shift, product and sum round, and with
                 * n = 3 rstd can be large so that the two terms cancel: 2 ulps of their
                 * magnitude */
                double tol = 0x1p-22 * (fabs(x[o] * sc) + fabs(sh) + fabs(want));
                cr_assert_leq(fabs(y[o] - want), tol, "y n=%d c=%d hw=%d at %zu: %.9g vs %.9g",
                              n, c, hw, o, y[o], want);
                /* eval with the batch stats reproduces train; they were rounded to float
                 * first, which moves shift by up to ~2 ulps of mu*scale more */
                tol += 0x1p-22 * fabs(mu * sc);
                cr_assert_leq(fabs(ye[o] - want), tol, "eval at %zu: %.9g vs %.9g", o, ye[o],
                              want);
            }
    }
    /* in place (y aliases x) gives the same bits */
    float *xi = t_alloc(cnt);
    memcpy(xi, x, cnt * sizeof *xi);
    cg_batchnorm_forward_train(&p, n, xi, g, b, xi, NULL, NULL, NULL, NULL);
    cr_assert(memcmp(xi, y, cnt * sizeof *y) == 0, "in-place train differs");
    float *f[] = {x, y, ye, g, b, mean, rstd, rm, rv, rm0, rv0, bm, bv, xi};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) cg_free(f[i]);
}

Test(bn, forward_conv_shape) { check_forward(3, 5, 7, 1); }
Test(bn, forward_conv_shape_2_threads) { check_forward(4, 9, 49, 2); }
Test(bn, forward_linear_shape) { check_forward(3, 70, 1, 1); }   /* two column blocks */
Test(bn, forward_linear_shape_2_threads) { check_forward(10, 130, 1, 2); }

struct bn_ctx {
    struct cg_batchnorm p;
    int n;
    size_t cnt;
    float *x, *g, *b, *y, *mean, *rstd, *r;
};
static double bn_loss(void *v) {
    struct bn_ctx *c = v;
    cg_batchnorm_forward_train(&c->p, c->n, c->x, c->g, c->b, c->y, c->mean, c->rstd, NULL,
                               NULL);
    return t_dot(c->y, c->r, c->cnt);
}

static void check_backward(int n, int c, int hw) {
    struct bn_ctx k = {.n = n, .cnt = (size_t)n * c * hw};
    cr_assert_eq(cg_batchnorm_init(&k.p, c, hw, 1e-5f, 0.1f, 1), CG_OK);
    size_t cc = (size_t)c;
    k.x = t_alloc(k.cnt); k.y = t_alloc(k.cnt); k.r = t_alloc(k.cnt);
    k.g = t_alloc(cc); k.b = t_alloc(cc); k.mean = t_alloc(cc); k.rstd = t_alloc(cc);
    float *dx = t_alloc(k.cnt), *dg = t_alloc(cc), *db = t_alloc(cc);
    float *dx0 = t_alloc(k.cnt), *dg0 = t_alloc(cc), *db0 = t_alloc(cc);
    t_fill(k.x, k.cnt, -2.0f, 3.0f, 11);
    t_fill(k.r, k.cnt, -1.0f, 1.0f, 12);
    t_fill(k.g, cc, 0.5f, 1.5f, 13);
    t_fill(k.b, cc, -0.5f, 0.5f, 14);
    t_fill(dx0, k.cnt, -1.0f, 1.0f, 15); /* backward accumulates onto these */
    t_fill(dg0, cc, -1.0f, 1.0f, 16);
    t_fill(db0, cc, -1.0f, 1.0f, 17);
    memcpy(dx, dx0, k.cnt * 4); memcpy(dg, dg0, cc * 4); memcpy(db, db0, cc * 4);
    bn_loss(&k);
    cg_batchnorm_backward(&k.p, n, k.r, k.x, k.g, k.mean, k.rstd, dx, dg, db);
    for (size_t i = 0; i < k.cnt; i++) dx[i] -= dx0[i];
    for (size_t i = 0; i < cc; i++) { dg[i] -= dg0[i]; db[i] -= db0[i]; }
    /* h = 1e-2: float noise of the N outputs ~sqrt(N)*1e-7/h is ~1e-4; truncation
     * ~h^2*|f'''| grows when a channel of only 3 values has a small variance (measured up
     * to 6e-4 at n = 3, hw = 1). 3e-3 leaves 5x; a wrong term gives > 0.1 (checked) */
    double ex = t_grad_check(bn_loss, &k, k.x, dx, k.cnt, 1e-2f, 0);
    double eg = t_grad_check(bn_loss, &k, k.g, dg, cc, 1e-2f, 0);
    double eb = t_grad_check(bn_loss, &k, k.b, db, cc, 1e-2f, 0);
    cr_assert_leq(ex, 3e-3, "dx n=%d c=%d hw=%d: %g", n, c, hw, ex);
    cr_assert_leq(eg, 3e-3, "dgamma n=%d c=%d hw=%d: %g", n, c, hw, eg);
    cr_assert_leq(eb, 3e-3, "dbeta n=%d c=%d hw=%d: %g", n, c, hw, eb);

    /* NULL outputs are skipped and the others do not change; 2 threads give the same bits */
    bn_loss(&k); /* mean and rstd of the unperturbed x again */
    float *dx1 = t_alloc(k.cnt), *dg1 = t_alloc(cc), *db1 = t_alloc(cc);
    memcpy(dx1, dx0, k.cnt * 4);
    struct cg_batchnorm p1 = k.p;
    p1.nt = 2;
    cg_batchnorm_backward(&p1, n, k.r, k.x, k.g, k.mean, k.rstd, dx1, NULL, NULL);
    for (size_t i = 0; i < k.cnt; i++) dx1[i] -= dx0[i];
    cr_assert(memcmp(dx1, dx, k.cnt * 4) == 0, "dx alone (2 threads) differs");
    cg_batchnorm_backward(&p1, n, k.r, k.x, k.g, k.mean, k.rstd, NULL, dg1, db1);
    for (size_t i = 0; i < cc; i++) {
        /* dg1, db1 started at 0; dg, db were (start + sum) - start, which rounds twice at
         * the scale of the start values (|start| <= 1): 2 ulps of that */
        cr_assert_leq(fabs(dg1[i] - dg[i]), 0x1p-22 * (fabs(dg0[i]) + fabs(dg1[i])), "dgamma");
        cr_assert_leq(fabs(db1[i] - db[i]), 0x1p-22 * (fabs(db0[i]) + fabs(db1[i])), "dbeta");
    }
    float *f[] = {k.x, k.y, k.r, k.g, k.b, k.mean, k.rstd, dx, dg, db, dx0, dg0, db0, dx1,
                  dg1, db1};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) cg_free(f[i]);
}

Test(bn, backward_conv_shape) { check_backward(3, 5, 7); }
Test(bn, backward_linear_shape) { check_backward(3, 70, 1); }
Test(bn, backward_linear_small) { check_backward(4, 3, 1); }

Test(bn, threads_bit_equal) {
    for (int hw = 1; hw <= 196; hw += 195) {
        const int n = 6, c = hw == 1 ? 200 : 16;
        size_t cnt = (size_t)n * c * hw;
        float *x = t_alloc(cnt), *dy = t_alloc(cnt), *y1 = t_alloc(cnt), *y2 = t_alloc(cnt);
        float *m = t_alloc((size_t)c), *r = t_alloc((size_t)c), *d1 = t_alloc(cnt);
        float *d2 = t_alloc(cnt);
        t_fill(x, cnt, -1.0f, 1.0f, 21);
        t_fill(dy, cnt, -1.0f, 1.0f, 22);
        struct cg_batchnorm p1, p2;
        cr_assert_eq(cg_batchnorm_init(&p1, c, hw, 1e-5f, 0.1f, 1), CG_OK);
        cr_assert_eq(cg_batchnorm_init(&p2, c, hw, 1e-5f, 0.1f, 2), CG_OK);
        cg_batchnorm_forward_train(&p1, n, x, NULL, NULL, y1, m, r, NULL, NULL);
        cg_batchnorm_forward_train(&p2, n, x, NULL, NULL, y2, m, r, NULL, NULL);
        cr_assert(memcmp(y1, y2, cnt * 4) == 0, "forward hw=%d: 1 vs 2 threads", hw);
        cg_batchnorm_backward(&p1, n, dy, x, NULL, m, r, d1, NULL, NULL);
        cg_batchnorm_backward(&p2, n, dy, x, NULL, m, r, d2, NULL, NULL);
        cr_assert(memcmp(d1, d2, cnt * 4) == 0, "backward hw=%d: 1 vs 2 threads", hw);
        float *f[] = {x, dy, y1, y2, m, r, d1, d2};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) cg_free(f[i]);
    }
}

/* A channel of 100 x 784 = 78400 values with mean 1000 and std ~0.3: float sums would lose
 * the variance entirely; double sums keep rstd to float precision. */
Test(bn, large_mean_channel_is_accurate) {
    const int n = 100, c = 2, hw = 784;
    size_t cnt = (size_t)n * c * hw;
    float *x = t_alloc(cnt), *y = t_alloc(cnt), *m = t_alloc(2), *r = t_alloc(2);
    t_fill(x, cnt, 999.5f, 1000.5f, 31);
    struct cg_batchnorm p;
    cr_assert_eq(cg_batchnorm_init(&p, c, hw, 1e-5f, 0.1f, 2), CG_OK);
    cg_batchnorm_forward_train(&p, n, x, NULL, NULL, y, m, r, NULL, NULL);
    for (int ch = 0; ch < c; ch++) {
        double mu, var;
        naive_stats(n, c, hw, x, ch, &mu, &var);
        /* E[x^2] - mu^2 in double cancels 7 of 16 digits: 1e-6 relative is still ample */
        cr_assert_leq(fabs(r[ch] * sqrt(var + 1e-5) - 1.0), 1e-6, "rstd ch=%d", ch);
        cr_assert_leq(fabs(m[ch] - mu), 1e-4, "mean ch=%d", ch);
    }
    cg_free(x); cg_free(y); cg_free(m); cg_free(r);
}

Test(bn, init_rejects_bad_arguments) {
    struct cg_batchnorm p;
    cr_assert_eq(cg_batchnorm_init(&p, 0, 1, 1e-5f, 0.1f, 1), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "c=0"), "message: %s", cg_last_error());
    cr_assert_eq(cg_batchnorm_init(&p, 4, -1, 1e-5f, 0.1f, 1), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "hw=-1"), "message: %s", cg_last_error());
    cr_assert_eq(cg_batchnorm_init(&p, 4, 1, 0.0f, 0.1f, 1), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "eps="), "message: %s", cg_last_error());
    cr_assert_eq(cg_batchnorm_init(&p, 4, 1, 1e-5f, 1.5f, 1), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "momentum="), "message: %s", cg_last_error());
    cr_assert_eq(cg_batchnorm_init(&p, 4, 1, 1e-5f, NAN, 1), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_batchnorm_init(&p, 4, 1, 1e-5f, 0.1f, 0), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "nt=0"), "message: %s", cg_last_error());
    cr_assert_eq(cg_batchnorm_init(NULL, 4, 1, 1e-5f, 0.1f, 1), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_batchnorm_init(&p, 4, 3, 1e-5f, 0.1f, 2), CG_OK);
    cr_assert(p.c == 4 && p.hw == 3 && p.nt == 2 && p.eps == 1e-5f && p.momentum == 0.1f);
}
