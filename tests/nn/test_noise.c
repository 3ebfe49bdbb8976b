/* Gaussian noise and dropout: values against the scalar Philox draws (cg_rng_*_at), the same
 * key giving the same values, 1 vs 2 threads bit-equal, keep rate and noise moments within
 * stated sigma bounds, and the backward against finite differences and the forward's mask. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "nn/noise.h"

static void init(void) { cr_assert_eq(cg_init(NULL), CG_OK); }
TestSuite(noise, .init = init);

#define N_BIG ((size_t)200003) /* many chunks and a tail; the moment bounds below use it */

static int64_t ord(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
}

Test(noise, gauss_values_moments_and_threads) {
    const uint64_t key = 0xDEADBEEFCAFEull, st = 3;
    float *x = t_alloc(N_BIG), *y1 = t_alloc(N_BIG), *y2 = t_alloc(N_BIG), *y3 = t_alloc(N_BIG);
    cg_gauss_noise_forward(N_BIG, 1.0f, key, st, x, y1, 1); /* x = 0, sigma = 1: raw N(0,1) */
    cg_gauss_noise_forward(N_BIG, 1.0f, key, st, x, y2, 2);
    cr_assert(memcmp(y1, y2, N_BIG * 4) == 0, "1 vs 2 threads differ");
    cg_gauss_noise_forward(N_BIG, 1.0f, key, st, x, y2, 1);
    cr_assert(memcmp(y1, y2, N_BIG * 4) == 0, "same key, different values");
    cg_gauss_noise_forward(N_BIG, 1.0f, key + 1, st, x, y3, 1);
    size_t same = 0;
    for (size_t i = 0; i < N_BIG; i++) same += y3[i] == y1[i];
    cr_assert_lt(same, 100, "another key repeats %zu of %zu values", same, N_BIG);
    /* the active ISA against the scalar definition: SLEEF's float log and sincospi (u35) and
     * the float roundings against double libm: 8 ulp (4 seen in 4M draws) */
    double s = 0, q = 0, inside = 0;
    for (size_t i = 0; i < N_BIG; i++) {
        float z = cg_rng_gauss_at(key, st, i);
        cr_assert_leq(llabs(ord(y1[i]) - ord(z)), 8, "i=%zu: %.9g vs %.9g", i, y1[i], z);
        s += y1[i];
        q += (double)y1[i] * y1[i];
        inside += fabsf(y1[i]) < 1.0f;
    }
    /* moments of N = 200003 draws, each bound 5 standard errors (false alarm ~1e-6):
     * mean: 1/sqrt(N); variance: sqrt(2/N); P(|z| < 1) = 0.682689: sqrt(p(1-p)/N) */
    double n = (double)N_BIG, mean = s / n, var = q / n - mean * mean;
    cr_assert_leq(fabs(mean), 5.0 / sqrt(n), "mean %g", mean);
    cr_assert_leq(fabs(var - 1.0), 5.0 * sqrt(2.0 / n), "variance %g", var);
    cr_assert_leq(fabs(inside / n - 0.682689), 5.0 * sqrt(0.682689 * 0.317311 / n),
                  "P(|z|<1) = %g", inside / n);
    /* four values share a Philox draw (e, e+16: cos and sin of one pair; e+32: the other
     * pair): their products must average 0 like independent normals (5 standard errors) */
    for (size_t d = 16; d <= 48; d += 16) {
        double c = 0;
        size_t m = 0;
        for (size_t b = 0; b + 64 <= N_BIG; b += 64)
            for (size_t l = 0; l < 64 - d; l++, m++) c += (double)y1[b + l] * y1[b + l + d];
        cr_assert_leq(fabs(c / (double)m), 5.0 / sqrt((double)m), "lag %zu: mean product %g", d,
                      c / (double)m);
    }
    /* y = x + sigma*z, also in place */
    t_fill(x, N_BIG, -1.0f, 1.0f, 4);
    cg_gauss_noise_forward(N_BIG, 0.3f, key, st, x, y2, 2);
    memcpy(y3, x, N_BIG * 4);
    cg_gauss_noise_forward(N_BIG, 0.3f, key, st, y3, y3, 2);
    cr_assert(memcmp(y2, y3, N_BIG * 4) == 0, "in place differs");
    for (size_t i = 0; i < N_BIG; i++) /* the same float ops on the same z: exact */
        cr_assert_eq(y2[i], x[i] + 0.3f * y1[i], "i=%zu", i);
    /* backward: dx += dy */
    memcpy(y3, y2, N_BIG * 4);
    cg_gauss_noise_backward(N_BIG, x, y3, 2);
    for (size_t i = 0; i < N_BIG; i++) cr_assert_eq(y3[i], y2[i] + x[i]);
    cg_free(x); cg_free(y1); cg_free(y2); cg_free(y3);
}

Test(noise, dropout_mask_rate_and_threads) {
    const uint64_t key = 99, st = 7;
    const float p = 0.3f, scale = 1.0f / (1.0f - p);
    float *x = t_alloc(N_BIG), *y1 = t_alloc(N_BIG), *y2 = t_alloc(N_BIG), *dx = t_alloc(N_BIG);
    t_fill(x, N_BIG, 0.5f, 1.5f, 5); /* nonzero, so y == 0 exactly marks a dropped element */
    cg_dropout_forward(N_BIG, p, key, st, x, y1, 1);
    cg_dropout_forward(N_BIG, p, key, st, x, y2, 2);
    cr_assert(memcmp(y1, y2, N_BIG * 4) == 0, "1 vs 2 threads differ");
    size_t kept = 0;
    for (size_t i = 0; i < N_BIG; i++) {
        int keep = cg_rng_uniform_at(key, st, i) >= p;
        kept += (size_t)keep;
        cr_assert_eq(y1[i], keep ? x[i] * scale : 0.0f, "i=%zu", i);
    }
    /* keep rate 1 - p, bound 5 standard errors sqrt(p(1-p)/N) */
    double rate = (double)kept / N_BIG;
    cr_assert_leq(fabs(rate - 0.7), 5.0 * sqrt(0.21 / N_BIG), "keep rate %g", rate);
    /* backward recomputes the same mask from (key, stream) and accumulates */
    for (int nt = 1; nt <= 2; nt++) {
        for (size_t i = 0; i < N_BIG; i++) dx[i] = 0.25f;
        cg_dropout_backward(N_BIG, p, key, st, x, dx, nt);
        for (size_t i = 0; i < N_BIG; i++)
            cr_assert_eq(dx[i], y1[i] != 0.0f ? 0.25f + x[i] * scale : 0.25f, "nt=%d i=%zu", nt,
                         i);
    }
    /* another stream gives another mask */
    cg_dropout_forward(N_BIG, p, key, st + 1, x, y2, 2);
    size_t agree = 0;
    for (size_t i = 0; i < N_BIG; i++) agree += (y1[i] != 0) == (y2[i] != 0);
    /* independent masks agree with probability 0.7^2 + 0.3^2 = 0.58 */
    cr_assert_leq(fabs((double)agree / N_BIG - 0.58), 0.01, "masks agree %zu", agree);
    /* p = 0 keeps everything unchanged; p = 1 drops everything */
    cg_dropout_forward(N_BIG, 0.0f, key, st, x, y2, 2);
    cr_assert(memcmp(y2, x, N_BIG * 4) == 0, "p = 0 changed x");
    cg_dropout_forward(N_BIG, 1.0f, key, st, x, y2, 2);
    for (size_t i = 0; i < N_BIG; i++) cr_assert_eq(y2[i], 0.0f, "p = 1 kept i=%zu", i);
    cg_free(x); cg_free(y1); cg_free(y2); cg_free(dx);
}

struct dctx { size_t n; float *x, *y; const float *r; };
static double dloss(void *v) {
    struct dctx *c = v;
    cg_dropout_forward(c->n, 0.4f, 5, 6, c->x, c->y, 1);
    return t_dot(c->y, c->r, c->n);
}

Test(noise, dropout_backward_finite_differences) {
    const size_t n = 203;
    float *x = t_alloc(n), *y = t_alloc(n), *r = t_alloc(n), *dx = t_alloc(n);
    t_fill(x, n, -1.0f, 1.0f, 8);
    t_fill(r, n, -1.0f, 1.0f, 9);
    cg_dropout_backward(n, 0.4f, 5, 6, r, dx, 1);
    struct dctx c = {n, x, y, r};
    /* the layer is linear in x: only float rounding of one y element over h = 1e-2 remains */
    double err = t_grad_check(dloss, &c, x, dx, n, 1e-2f, 0);
    cr_assert_leq(err, 1e-4, "dropout backward vs finite differences: %g", err);
    cg_free(x); cg_free(y); cg_free(r); cg_free(dx);
}
