/* Radial lift: forward against a naive double implementation (inputs copied, the normalised
 * |x|^2 channel, running statistics), eval with the running statistics, the rank-split path
 * against the one-shot one, backward through the batch statistics against central finite
 * differences (d = 2 and 3, odd n), accumulation, and the init error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "nn/lift.h"

static void init(void) { cr_assert_eq(cg_init(NULL), CG_OK); }
TestSuite(lift, .init = init);

/* mean and biased variance of |x_e|^2 in double */
static void naive_stats(int n, int d, const float *x, double *mu, double *var) {
    double s = 0, q = 0;
    for (int e = 0; e < n; e++) {
        double r = 0;
        for (int i = 0; i < d; i++) r += (double)x[e * d + i] * x[e * d + i];
        s += r;
        q += r * r;
    }
    *mu = s / n;
    *var = q / n - *mu * *mu;
}

Test(lift, forward_train_matches_naive) {
    const int n = 7, d = 3;
    const float scale = 0.7f;
    struct cg_radial_lift p;
    cr_assert_eq(cg_radial_lift_init(&p, d, scale), CG_OK);
    float *x = t_alloc(n * d), *y = t_alloc(n * (d + 1));
    t_fill(x, n * d, -1.5f, 2.0f, 11);
    float mean, rstd, rm = 0.3f, rv = 2.0f;
    cg_radial_lift_forward_train(&p, n, x, y, &mean, &rstd, &rm, &rv);
    double mu, var;
    naive_stats(n, d, x, &mu, &var);
    double r = 1.0 / sqrt(var + 1e-5);
    /* statistics summed in double and rounded once to float: a few float ulps */
    cr_assert_leq(fabs(mean - mu), 4 * 0x1p-24 * fabs(mu), "mean %.9g vs %.9g", mean, mu);
    cr_assert_leq(fabs(rstd - r), 4 * 0x1p-24 * r, "rstd %.9g vs %.9g", rstd, r);
    for (int e = 0; e < n; e++) {
        double q = 0;
        for (int i = 0; i < d; i++) {
            cr_assert_eq(y[e * (d + 1) + i], x[e * d + i], "input %d,%d not copied", e, i);
            q += (double)x[e * d + i] * x[e * d + i];
        }
        double want = (q - mu) * r * scale;
        /* float mean/rstd and a float product: |want| <= ~3 here, so 1e-5 absolute is ~10
         * ulps of the largest value */
        cr_assert_leq(fabs(y[e * (d + 1) + d] - want), 1e-5, "radial %d: %.9g vs %.9g", e,
                      y[e * (d + 1) + d], want);
    }
    /* PyTorch's running update with the unbiased variance */
    double wm = 0.9 * 0.3 + 0.1 * mu, wv = 0.9 * 2.0 + 0.1 * var * n / (n - 1);
    cr_assert_leq(fabs(rm - wm), 1e-6 * fabs(wm) + 1e-7, "run_mean %.9g vs %.9g", rm, wm);
    cr_assert_leq(fabs(rv - wv), 1e-6 * fabs(wv), "run_var %.9g vs %.9g", rv, wv);
    cg_free(x);
    cg_free(y);
}

Test(lift, eval_uses_running_statistics) {
    const int n = 5, d = 2;
    struct cg_radial_lift p;
    cr_assert_eq(cg_radial_lift_init(&p, d, 1.5f), CG_OK);
    float *x = t_alloc(n * d), *y = t_alloc(n * (d + 1));
    t_fill(x, n * d, -2.0f, 2.0f, 12);
    const float rm = 1.7f, rv = 0.6f;
    cg_radial_lift_forward_eval(&p, n, x, &rm, &rv, y);
    for (int e = 0; e < n; e++) {
        double q = (double)x[2 * e] * x[2 * e] + (double)x[2 * e + 1] * x[2 * e + 1];
        double want = (q - rm) / sqrt(rv + 1e-5) * 1.5;
        /* float arithmetic on values of magnitude <= ~15: 1e-5 relative */
        cr_assert_leq(fabs(y[3 * e + 2] - want), 1e-5 * fmax(1.0, fabs(want)), "example %d", e);
        cr_assert_eq(y[3 * e], x[2 * e]);
        cr_assert_eq(y[3 * e + 1], x[2 * e + 1]);
    }
    cg_free(x);
    cg_free(y);
}

/* The data-parallel split: sums of two halves added (what the ranks' sum does) give the same
 * statistics, outputs and gradients as the whole batch in one call. */
Test(lift, split_sums_equal_one_shot) {
    const int n = 9, h = 4, d = 2;
    struct cg_radial_lift p;
    cr_assert_eq(cg_radial_lift_init(&p, d, 0.7f), CG_OK);
    float *x = t_alloc(n * d), *y = t_alloc(n * (d + 1)), *y2 = t_alloc(n * (d + 1));
    float *dy = t_alloc(n * (d + 1)), *dx = t_alloc(n * d), *dx2 = t_alloc(n * d);
    t_fill(x, n * d, -1.0f, 1.5f, 13);
    t_fill(dy, n * (d + 1), -1.0f, 1.0f, 14);
    float mean, rstd, mean2, rstd2;
    cg_radial_lift_forward_train(&p, n, x, y, &mean, &rstd, NULL, NULL);
    cg_radial_lift_backward(&p, n, dy, x, &mean, &rstd, dx);
    double a[2], b[2];
    cg_radial_lift_sums(&p, h, x, a);
    cg_radial_lift_sums(&p, n - h, x + h * d, b);
    double s[2] = {a[0] + b[0], a[1] + b[1]};
    cg_radial_lift_forward_sums(&p, h, n, s, x, y2, &mean2, &rstd2, NULL, NULL);
    cg_radial_lift_forward_sums(&p, n - h, n, s, x + h * d, y2 + h * (d + 1), &mean2, &rstd2,
                                NULL, NULL);
    /* the two sums are added in another order than the one-shot loop: a float ulp or two */
    cr_assert_leq(fabs(mean2 - mean), 1e-6 * fabs(mean));
    cr_assert_leq(t_max_abs_diff(y2, y, n * (d + 1)), 1e-5);
    cg_radial_lift_backward_sums(&p, h, dy, x, &mean, &rstd, a);
    cg_radial_lift_backward_sums(&p, n - h, dy + h * (d + 1), x + h * d, &mean, &rstd, b);
    double g[2] = {a[0] + b[0], a[1] + b[1]};
    cg_radial_lift_backward_dx(&p, h, n, g, dy, x, &mean, &rstd, dx2);
    cg_radial_lift_backward_dx(&p, n - h, n, g, dy + h * (d + 1), x + h * d, &mean, &rstd,
                               dx2 + h * d);
    cr_assert_leq(t_max_abs_diff(dx2, dx, n * d), 1e-5);
    cg_free(x); cg_free(y); cg_free(y2); cg_free(dy); cg_free(dx); cg_free(dx2);
}

struct fd_ctx { struct cg_radial_lift p; int n; float *x, *y, *r; };

/* loss = sum(y * r) with the batch statistics recomputed: the gradient must include their
 * dependence on every example */
static double lift_loss(void *u) {
    struct fd_ctx *c = u;
    float mean, rstd;
    cg_radial_lift_forward_train(&c->p, c->n, c->x, c->y, &mean, &rstd, NULL, NULL);
    return t_dot(c->y, c->r, (size_t)c->n * (c->p.d + 1));
}

static void check_backward(int n, int d, float scale) {
    struct fd_ctx c = {.n = n};
    cr_assert_eq(cg_radial_lift_init(&c.p, d, scale), CG_OK);
    size_t nx = (size_t)n * d, ny = (size_t)n * (d + 1);
    c.x = t_alloc(nx); c.y = t_alloc(ny); c.r = t_alloc(ny);
    float *dx = t_alloc(nx);
    t_fill(c.x, nx, -1.5f, 1.5f, 20 + (uint64_t)d);
    t_fill(c.r, ny, -1.0f, 1.0f, 30 + (uint64_t)d);
    float mean, rstd;
    cg_radial_lift_forward_train(&c.p, n, c.x, c.y, &mean, &rstd, NULL, NULL);
    for (size_t i = 0; i < nx; i++) dx[i] = 0.25f;   /* backward accumulates onto this */
    cg_radial_lift_backward(&c.p, n, c.r, c.x, &mean, &rstd, dx);
    for (size_t i = 0; i < nx; i++) dx[i] -= 0.25f;
    /* float forward with h = 1e-2 on O(1) values: truncation ~h^2 times the third
     * derivative of a normalised quartic, rounding ~1e-7/h; measured ~1e-4, bound 3e-3 as
     * for batchnorm */
    double err = t_grad_check(lift_loss, &c, c.x, dx, nx, 1e-2f, 0);
    cr_assert_leq(err, 3e-3, "n=%d d=%d: %g", n, d, err);
    cg_free(c.x); cg_free(c.y); cg_free(c.r); cg_free(dx);
}

Test(lift, backward_matches_finite_differences) {
    check_backward(5, 2, 0.7f);
    check_backward(7, 3, 1.3f);
    check_backward(3, 1, 1.0f);
}

Test(lift, init_rejects_bad_arguments) {
    struct cg_radial_lift p;
    cr_assert_eq(cg_radial_lift_init(&p, 0, 1.0f), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "d=0") != NULL, "%s", cg_last_error());
    cr_assert_eq(cg_radial_lift_init(&p, 5000, 1.0f), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_radial_lift_init(&p, 2, 0.0f), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "scale=") != NULL, "%s", cg_last_error());
    cr_assert_eq(cg_radial_lift_init(&p, 2, NAN), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_radial_lift_init(&p, 2, 1.0f), CG_OK);
}
