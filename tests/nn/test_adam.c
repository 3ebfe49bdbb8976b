/* Adam: a two-step example worked by hand, a double-precision reference loop over several
 * steps on an odd-sized block, thread independence and the init error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "nn/adam.h"

static void init(void) { cr_assert_eq(cg_init(NULL), CG_OK); }
TestSuite(adam, .init = init);

/* lr 0.1, betas (0.5, 0.75) (exact in float, so m and v are exact), eps 1e-8, w = 1,
 * gradients 0.5 then -0.5:
 * t=1: m = 0.25, v = 0.25*0.25 = 0.0625, m^ = 0.25/0.5 = 0.5, v^ = 0.0625/0.25 = 0.25,
 *      w = 1 - 0.1*0.5/(0.5 + 1e-8) = 0.900000002
 * t=2: m = 0.125 - 0.25 = -0.125, v = 0.046875 + 0.0625 = 0.109375,
 *      m^ = -0.125/0.75 = -1/6, v^ = 0.109375/0.4375 = 0.25,
 *      w = 0.900000002 + 0.1*(1/6)/(0.5 + 1e-8) = 0.9333333347 */
Test(adam, two_steps_by_hand) {
    struct cg_adam o;
    cr_assert_eq(cg_adam_init(&o, 0.1f, 0.5f, 0.75f, 1e-8f), CG_OK);
    float w = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    cg_adam_step(&o, 1, &w, &g, &m, &v, 1);
    cr_assert_eq(o.t, 1);
    cr_assert_eq(m, 0.25f);
    cr_assert_eq(v, 0.0625f);
    /* lr = 0.1f is 0.1 + 1.5e-9 and w rounds once more: 4 ulps of 1 */
    cr_assert_float_eq(w, 0.900000002f, 4.8e-7f);
    g = -0.5f;
    cg_adam_step(&o, 1, &w, &g, &m, &v, 1);
    cr_assert_eq(o.t, 2);
    cr_assert_eq(m, -0.125f);
    cr_assert_eq(v, 0.109375f);
    cr_assert_float_eq(w, 0.9333333347f, 4.8e-7f);
}

Test(adam, matches_double_reference) {
    const size_t n = 1037;
    const float lr = 2e-4f, b1 = 0.5f, b2 = 0.999f, eps = 1e-8f; /* the CONTRACT's defaults */
    float *w = t_alloc(n), *g = t_alloc(n), *m = t_alloc(n), *v = t_alloc(n);
    double *wd = (double *)t_alloc(2 * n), *md = (double *)t_alloc(2 * n);
    double *vd = (double *)t_alloc(2 * n);
    t_fill(w, n, -1.0f, 1.0f, 1);
    for (size_t i = 0; i < n; i++) wd[i] = w[i];
    struct cg_adam o;
    cr_assert_eq(cg_adam_init(&o, lr, b1, b2, eps), CG_OK);
    for (int t = 1; t <= 5; t++) {
        t_fill(g, n, -2.0f, 2.0f, 10 + (uint64_t)t);
        if (t == 3) g[5] = 0.0f; /* a zero gradient with v > 0 */
        cg_adam_step(&o, n, w, g, m, v, 1);
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        for (size_t i = 0; i < n; i++) {
            md[i] = b1 * md[i] + (1 - (double)b1) * g[i];
            vd[i] = b2 * vd[i] + (1 - (double)b2) * g[i] * g[i];
            double step = lr * (md[i] / bc1) / (sqrt(vd[i] / bc2) + eps);
            wd[i] -= step;
            /* m can cancel (b1*m vs (1-b1)*g), so its bound is absolute: 8 ulps of the
             * largest |g| (2). v only adds positive terms: 8 ulps relative. w: its own
             * rounding each step (|w| <= ~1) plus a step (<= ~lr) off by the error of m
             * through m/sqrt(v): 2^-16 of lr, far below a wrong bias correction (>= 1%) */
            cr_assert_leq(fabs(m[i] - md[i]), 0x1p-20 * 2.0, "m t=%d i=%zu", t, i);
            cr_assert_leq(fabs(v[i] - vd[i]), 0x1p-20 * vd[i] + 1e-30, "v t=%d i=%zu", t, i);
            cr_assert_leq(fabs(w[i] - wd[i]), 0x1p-23 * t + 0x1p-16 * lr, "w t=%d i=%zu", t, i);
        }
    }
    cg_free(w); cg_free(g); cg_free(m); cg_free(v); cg_free(wd); cg_free(md); cg_free(vd);
}

Test(adam, threads_bit_equal) {
    const size_t n = 70001; /* several chunks and a tail */
    float *w1 = t_alloc(n), *w2 = t_alloc(n), *g = t_alloc(n), *m1 = t_alloc(n);
    float *m2 = t_alloc(n), *v1 = t_alloc(n), *v2 = t_alloc(n);
    t_fill(w1, n, -1.0f, 1.0f, 3);
    memcpy(w2, w1, n * sizeof *w1);
    struct cg_adam a, b;
    cr_assert_eq(cg_adam_init(&a, 1e-3f, 0.9f, 0.999f, 1e-8f), CG_OK);
    b = a;
    for (int t = 0; t < 3; t++) {
        t_fill(g, n, -1.0f, 1.0f, 20 + (uint64_t)t);
        cg_adam_step(&a, n, w1, g, m1, v1, 1);
        cg_adam_step(&b, n, w2, g, m2, v2, 2);
    }
    cr_assert(memcmp(w1, w2, n * 4) == 0 && memcmp(m1, m2, n * 4) == 0 &&
              memcmp(v1, v2, n * 4) == 0, "1 vs 2 threads differ");
    float *f[] = {w1, w2, g, m1, m2, v1, v2};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) cg_free(f[i]);
}

Test(adam, init_rejects_bad_arguments) {
    struct cg_adam o;
    cr_assert_eq(cg_adam_init(&o, -1e-3f, 0.9f, 0.999f, 1e-8f), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "lr="), "message: %s", cg_last_error());
    cr_assert_eq(cg_adam_init(&o, 1e-3f, 1.0f, 0.999f, 1e-8f), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "beta1="), "message: %s", cg_last_error());
    cr_assert_eq(cg_adam_init(&o, 1e-3f, 0.9f, -0.1f, 1e-8f), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "beta2="), "message: %s", cg_last_error());
    cr_assert_eq(cg_adam_init(&o, 1e-3f, 0.9f, 0.999f, -1.0f), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "eps="), "message: %s", cg_last_error());
    cr_assert_eq(cg_adam_init(&o, NAN, 0.9f, 0.999f, 1e-8f), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_adam_init(NULL, 1e-3f, 0.9f, 0.999f, 1e-8f), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_adam_init(&o, 1e-3f, 0.0f, 0.0f, 0.0f), CG_OK);
    cr_assert_eq(o.t, 0);
}
