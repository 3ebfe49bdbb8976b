/* Activation and bias layers: forward against naive loops, backward against central finite
 * differences (loss = sum(y*r)), accumulation and NULL rules, in-place use, and bit-equal
 * results for 1 and 2 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "nn/act.h"

#define SLOPE 0.1f

static void init(void) { cr_assert_eq(cg_init(NULL), CG_OK); }
TestSuite(act, .init = init);

/* Keeps x away from the kink at 0, where the finite difference straddles two slopes. */
static void away_from_zero(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) < 0.05f) x[i] = x[i] < 0 ? -0.05f - x[i] : 0.05f + x[i];
}

struct ew_ctx { size_t n; const float *x, *r; float *y; int sig; };
static double ew_loss(void *p) {
    struct ew_ctx *c = p;
    if (c->sig) cg_sigmoid_forward(c->n, c->x, c->y, 1);
    else cg_lrelu_forward(c->n, SLOPE, c->x, c->y, 1);
    return t_dot(c->y, c->r, c->n);
}

static void check_elementwise(int sig) {
    const size_t n = 301;
    float *x = t_alloc(n), *y = t_alloc(n), *r = t_alloc(n), *dx = t_alloc(n);
    float *acc = t_alloc(n);
    t_fill(x, n, -4.0f, 4.0f, 1);
    t_fill(r, n, -1.0f, 1.0f, 2);
    t_fill(acc, n, -1.0f, 1.0f, 3);
    away_from_zero(x, n);
    struct ew_ctx c = {n, x, r, y, sig};
    ew_loss(&c);
    for (size_t i = 0; i < n; i++) { /* forward against plain double math */
        double want = sig ? 1.0 / (1.0 + exp(-(double)x[i])) : (x[i] > 0 ? x[i] : SLOPE * x[i]);
        /* sigmoid: a few float roundings (expf, add, divide) of values <= 1 */
        cr_assert_leq(fabs(y[i] - want), sig ? 4e-7 : 0.0, "forward i=%zu: %g vs %g", i, y[i],
                      want);
    }
    memcpy(dx, acc, n * sizeof *dx);
    if (sig) cg_sigmoid_backward(n, y, r, dx, 1);
    else cg_lrelu_backward(n, SLOPE, y, r, dx, 1);
    for (size_t i = 0; i < n; i++) dx[i] -= acc[i]; /* backward accumulates: remove the start */
    /* h = 1e-2 on smooth pieces: truncation ~h^2/6*|f'''| < 2e-5, float rounding of one y
     * element ~6e-8/h; 1e-3 is 50x that and far below a wrong factor or sign */
    double err = t_grad_check(ew_loss, &c, x, dx, n, 1e-2f, 0);
    cr_assert_leq(err, 1e-3, "%s backward vs finite differences: %g", sig ? "sigmoid" : "lrelu",
                  err);
    cg_free(x); cg_free(y); cg_free(r); cg_free(dx); cg_free(acc);
}

Test(act, lrelu_forward_backward) { check_elementwise(0); }
Test(act, sigmoid_forward_backward) { check_elementwise(1); }

Test(act, in_place_and_threads_bit_equal) {
    const size_t n = 100003; /* several OpenMP chunks plus a tail */
    float *x = t_alloc(n), *y1 = t_alloc(n), *y2 = t_alloc(n), *d1 = t_alloc(n);
    float *d2 = t_alloc(n), *r = t_alloc(n);
    t_fill(x, n, -3.0f, 3.0f, 4);
    t_fill(r, n, -1.0f, 1.0f, 5);
    for (int sig = 0; sig < 2; sig++) {
        if (sig) cg_sigmoid_forward(n, x, y1, 1);
        else cg_lrelu_forward(n, SLOPE, x, y1, 1);
        memcpy(y2, x, n * sizeof *y2); /* in place, 2 threads */
        if (sig) cg_sigmoid_forward(n, y2, y2, 2);
        else cg_lrelu_forward(n, SLOPE, y2, y2, 2);
        cr_assert(memcmp(y1, y2, n * sizeof *y1) == 0, "forward sig=%d: 1 vs 2 threads", sig);
        memset(d1, 0, n * sizeof *d1);
        memset(d2, 0, n * sizeof *d2);
        for (int t = 1; t <= 2; t++) {
            float *d = t == 1 ? d1 : d2;
            if (sig) cg_sigmoid_backward(n, y1, r, d, t);
            else cg_lrelu_backward(n, SLOPE, y1, r, d, t);
        }
        cr_assert(memcmp(d1, d2, n * sizeof *d1) == 0, "backward sig=%d: 1 vs 2 threads", sig);
    }
    cg_free(x); cg_free(y1); cg_free(y2); cg_free(d1); cg_free(d2); cg_free(r);
}

static void check_bias(int n, int c, int hw, int nt) {
    size_t cnt = (size_t)n * c * hw;
    float *b = t_alloc((size_t)c), *y = t_alloc(cnt), *y0 = t_alloc(cnt), *db = t_alloc((size_t)c);
    t_fill(b, (size_t)c, -1.0f, 1.0f, 6);
    t_fill(y0, cnt, -1.0f, 1.0f, 7);
    t_fill(db, (size_t)c, -1.0f, 1.0f, 8);
    memcpy(y, y0, cnt * sizeof *y);
    cg_bias_add(n, c, hw, b, y, nt);
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < hw; j++) {
                size_t o = ((size_t)i * c + ch) * hw + j;
                cr_assert_eq(y[o], y0[o] + b[ch], "bias_add n=%d c=%d hw=%d at %zu", n, c, hw, o);
            }
    float *db0 = t_alloc((size_t)c);
    memcpy(db0, db, (size_t)c * sizeof *db);
    cg_bias_backward(n, c, hw, y0, db, nt);
    for (int ch = 0; ch < c; ch++) {
        double s = db0[ch]; /* naive double sum, then one rounding: the same as documented */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) s += y0[((size_t)i * c + ch) * hw + j];
        /* only the summation order differs from the naive loop: far below one float ulp
         * except when the float rounding of s is a near tie; allow 1 ulp */
        cr_assert_leq(fabs(db[ch] - s), fabs(s) * 0x1p-23 + 1e-30, "bias_backward ch=%d: %g vs %g",
                      ch, db[ch], s);
    }
    cg_bias_backward(n, c, hw, y0, NULL, nt); /* NULL db: nothing to do, must not crash */
    cg_free(b); cg_free(y); cg_free(y0); cg_free(db); cg_free(db0);
}

Test(act, bias_conv_and_linear_shapes) {
    check_bias(3, 5, 7, 1);      /* conv, odd shapes */
    check_bias(3, 5, 7, 2);
    check_bias(2, 3, 3000, 2);   /* large enough for the parallel branch */
    check_bias(7, 1003, 1, 1);   /* linear: hw = 1, several column blocks and a tail */
    check_bias(37, 1003, 1, 2);
}

Test(act, bias_backward_threads_bit_equal) {
    const int n = 9, c = 300;
    for (int h = 1; h <= 49; h += 48) { /* the linear (column-block) and the conv path */
        size_t cnt = (size_t)n * c * h;
        float *dy = t_alloc(cnt), *d1 = t_alloc((size_t)c), *d2 = t_alloc((size_t)c);
        t_fill(dy, cnt, -1.0f, 1.0f, 9);
        cg_bias_backward(n, c, h, dy, d1, 1);
        cg_bias_backward(n, c, h, dy, d2, 2);
        cr_assert(memcmp(d1, d2, (size_t)c * sizeof *d1) == 0, "hw=%d: 1 vs 2 threads", h);
        cg_free(dy); cg_free(d1); cg_free(d2);
    }
}

struct bias_ctx { int n, c, hw; const float *y0, *r; float *b, *y; };
static double bias_loss(void *v) {
    struct bias_ctx *k = v;
    size_t cnt = (size_t)k->n * k->c * k->hw;
    memcpy(k->y, k->y0, cnt * sizeof *k->y);
    cg_bias_add(k->n, k->c, k->hw, k->b, k->y, 1);
    return t_dot(k->y, k->r, cnt);
}

Test(act, bias_backward_finite_differences) {
    for (int hw = 1; hw <= 9; hw += 8) {
        struct bias_ctx k = {.n = 3, .c = 5, .hw = hw};
        size_t cnt = (size_t)k.n * k.c * hw;
        float *y0 = t_alloc(cnt), *r = t_alloc(cnt), *db = t_alloc(5);
        k.b = t_alloc(5);
        k.y = t_alloc(cnt);
        t_fill(y0, cnt, -1.0f, 1.0f, 31);
        t_fill(r, cnt, -1.0f, 1.0f, 32);
        t_fill(k.b, 5, -1.0f, 1.0f, 33);
        k.y0 = y0;
        k.r = r;
        cg_bias_backward(k.n, k.c, hw, r, db, 1); /* dL/dy = r */
        /* linear in b: only float rounding of the n*hw outputs per channel over h = 1e-2 */
        double err = t_grad_check(bias_loss, &k, k.b, db, 5, 1e-2f, 0);
        cr_assert_leq(err, 1e-4, "bias hw=%d: %g", hw, err);
        cg_free(y0); cg_free(r); cg_free(db); cg_free(k.b); cg_free(k.y);
    }
}
