/* Tests of the CatGAN losses (src/loss, src/simd/.../softmax.c): hand values, PyTorch golden
 * values (tests/fixtures/gen_loss.py), a naive double-precision reference, central finite
 * differences of that reference, SIMD against scalar, extreme logits, thread independence,
 * the sign of the supervised term, and every bad argument. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catgan.h"
#include "common.h"
#include "fixtures/loss_golden.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static const enum cg_isa all_isas[] = {CG_ISA_REF, CG_ISA_AVX2, CG_ISA_AVX512};
#define N_ISAS 3

/* Selects isa (ignoring CG_ISA); false when the CPU lacks it. */
static bool use_isa(enum cg_isa isa) {
    if (!cg_cpu_has(isa)) return false;
    struct cg_init_opts o = {(int)isa, 1};
    cr_assert_eq(cg_init(&o), CG_OK, "%s", cg_last_error());
    return true;
}

static int *alloc_labels(int n, int k, uint64_t seed) {
    int *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
    cr_assert(y);
    float *u = t_alloc((size_t)(n > 0 ? n : 1));
    t_fill(u, (size_t)n, 0.0f, (float)k, seed);
    for (int i = 0; i < n; i++) y[i] = (int)u[i] < k ? (int)u[i] : k - 1;
    cg_free(u);
    return y;
}

/* Naive reference in double, straight from the definitions (log space throughout). */
static void dref_ent(const float *z, int n, int k, double *hc, double *hm) {
    double *lp = malloc((size_t)n * (size_t)k * sizeof *lp);
    cr_assert(lp);
    double c = 0.0;
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * k;
        double mx = r[0], s = 0.0;
        for (int j = 1; j < k; j++) mx = fmax(mx, r[j]);
        for (int j = 0; j < k; j++) s += exp(r[j] - mx);
        for (int j = 0; j < k; j++) {
            double l = r[j] - mx - log(s);
            lp[(size_t)i * k + j] = l;
            c -= exp(l) * l;
        }
    }
    *hc = c / n;
    double m = 0.0;
    for (int j = 0; j < k; j++) {
        double mx = -INFINITY, s = 0.0;
        for (int i = 0; i < n; i++) mx = fmax(mx, lp[(size_t)i * k + j]);
        for (int i = 0; i < n; i++) s += exp(lp[(size_t)i * k + j] - mx);
        double lm = mx + log(s) - log((double)n);
        m -= exp(lm) * lm;
    }
    *hm = m;
    free(lp);
}

static double dref_ce(const float *z, const int *y, int n, int k) {
    double c = 0.0;
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * k;
        double mx = r[0], s = 0.0;
        for (int j = 1; j < k; j++) mx = fmax(mx, r[j]);
        for (int j = 0; j < k; j++) s += exp(r[j] - mx);
        c += mx + log(s) - r[y[i]];
    }
    return n ? c / n : 0.0;
}

enum { T_HX, T_HREAL, T_HFAKE, T_HG, T_CE, T_DLOSS, T_GLOSS };

struct batch {
    float *real, *fake, *lab;
    int *y;
    int nr, nf, nl, k;
    float lambda;
};

static void dref_terms(const struct batch *b, double t[7]) {
    dref_ent(b->real, b->nr, b->k, &t[T_HREAL], &t[T_HX]);
    dref_ent(b->fake, b->nf, b->k, &t[T_HFAKE], &t[T_HG]);
    t[T_CE] = dref_ce(b->lab, b->y, b->nl, b->k);
    t[T_DLOSS] = -t[T_HX] + t[T_HREAL] - t[T_HFAKE] + (double)b->lambda * t[T_CE];
    t[T_GLOSS] = -t[T_HG] + t[T_HFAKE];
}

static void terms_array(const cg_catgan_terms *t, double out[7]) {
    out[T_HX] = t->h_x;
    out[T_HREAL] = t->h_real;
    out[T_HFAKE] = t->h_fake;
    out[T_HG] = t->h_g;
    out[T_CE] = t->ce;
    out[T_DLOSS] = t->d_loss;
    out[T_GLOSS] = t->g_loss;
}

static const char *term_name[7] = {"h_x", "h_real", "h_fake", "h_g", "ce", "d_loss", "g_loss"};

static void expect_terms(const cg_catgan_terms *got, const double want[7], double rtol,
                         double atol, const char *what) {
    double g[7];
    terms_array(got, g);
    for (int i = 0; i < 7; i++)
        cr_expect(fabs(g[i] - want[i]) <= atol + rtol * fabs(want[i]),
                  "%s: %s = %.9g, want %.9g", what, term_name[i], g[i], want[i]);
}

/* max |a - b| / max(max |b|, floor): the error relative to the gradient's scale. floor keeps
 * a gradient that vanishes identically (n = 1: -H_X + H[p] == 0) from dividing by round-off;
 * callers pass 1e-2 / n, well below the 1/n scale of each term's gradient. */
static double scaled_err(const float *a, const double *b, size_t n, double floor) {
    double m = floor, e = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(b[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e)) e = d;
    }
    return e / m;
}

static double *to_double(const float *a, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof *d);
    cr_assert(d);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

static struct batch make_batch(int nr, int nf, int nl, int k, float lo, float hi, uint64_t seed) {
    struct batch b = {t_alloc((size_t)nr * k), t_alloc((size_t)nf * k),
                      t_alloc((size_t)(nl ? nl : 1) * k), alloc_labels(nl, k, seed + 3),
                      nr, nf, nl, k, 0.7f};
    t_fill(b.real, (size_t)nr * k, lo, hi, seed);
    t_fill(b.fake, (size_t)nf * k, lo, hi, seed + 1);
    t_fill(b.lab, (size_t)nl * k, lo, hi, seed + 2);
    return b;
}

static void free_batch(struct batch *b) {
    cg_free(b->real);
    cg_free(b->fake);
    cg_free(b->lab);
    free(b->y);
}

struct grads {
    float *real, *fake, *lab, *gfake;
};

static struct grads alloc_grads(const struct batch *b) {
    struct grads g = {t_alloc((size_t)b->nr * b->k), t_alloc((size_t)b->nf * b->k),
                      t_alloc((size_t)(b->nl ? b->nl : 1) * b->k),
                      t_alloc((size_t)b->nf * b->k)};
    return g;
}

static void free_grads(struct grads *g) {
    cg_free(g->real);
    cg_free(g->fake);
    cg_free(g->lab);
    cg_free(g->gfake);
}

/* Runs both losses; the g_loss terms are checked to agree with those of d_loss. */
static void run_losses(const struct batch *b, cg_catgan_terms *t, struct grads *g) {
    cr_assert_eq(cg_catgan_d_loss(b->real, b->nr, b->fake, b->nf, b->lab, b->y, b->nl, b->k,
                                  b->lambda, t, g ? g->real : NULL, g ? g->fake : NULL,
                                  g ? g->lab : NULL),
                 CG_OK, "%s", cg_last_error());
    cg_catgan_terms tg;
    memset(&tg, 0, sizeof tg);
    cr_assert_eq(cg_catgan_g_loss(b->fake, b->nf, b->k, &tg, g ? g->gfake : NULL), CG_OK, "%s",
                 cg_last_error());
    /* same code, same inputs: bit-identical */
    cr_expect_eq(tg.h_g, t->h_g);
    cr_expect_eq(tg.h_fake, t->h_fake);
    cr_expect_eq(tg.g_loss, t->g_loss);
}

/* ---- hand-computed values ----------------------------------------------------------------- */

Test(loss, hand_values) {
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        /* real: two confident rows of different classes -> H[p(y|x)] = 0, H_X = log 2;
         * fake: one row of equal logits -> H = H_G = log 2 */
        float real[] = {1e4f, -1e4f, -1e4f, 1e4f}, fake[] = {3.0f, 3.0f};
        /* p = (1/4, 3/4): CE(label 0) = log 4, CE(label 1) = log 4/3 */
        float lab[] = {0.0f, logf(3.0f), 0.0f, logf(3.0f)};
        int y[] = {0, 1};
        float gr[4], gf[2], gl[4];
        cg_catgan_terms t;
        cr_assert_eq(cg_catgan_d_loss(real, 2, fake, 1, lab, y, 2, 2, 2.0f, &t, gr, gf, gl), 0);
        double ce = (log(4.0) + log(4.0 / 3.0)) / 2;
        double want[7] = {log(2.0), 0.0, log(2.0), log(2.0), ce, -log(2.0) + 0 - log(2.0) + 2 * ce,
                          -log(2.0) + log(2.0)};
        /* float logf(3) and float sums: a few ulps of values around 1 */
        expect_terms(&t, want, 1e-6, 1e-6, cg_isa_name(all_isas[a]));
        /* d(lambda CE)/dz = lambda (p - onehot) / n: lambda = 2, n = 2 */
        double wl[4] = {0.25 - 1, 0.75, 0.25, 0.75 - 1};
        cr_expect(scaled_err(gl, wl, 4, 1e-12) < 1e-6, "grad_lab");
        /* a uniform row is a stationary point of H[p] (and a confident row of everything) */
        cr_expect(fabsf(gf[0]) < 1e-7f && fabsf(gf[1]) < 1e-7f, "grad_fake %g %g", gf[0], gf[1]);
        for (int i = 0; i < 4; i++) cr_expect(fabsf(gr[i]) < 1e-7f, "grad_real[%d]=%g", i, gr[i]);
    }
}

Test(loss, single_row_marginal_equals_conditional) {
    /* with n = 1 the batch mean is the row itself: H_X = H[p(y|x)] */
    float z[7];
    t_fill(z, 7, -3.0f, 3.0f, 5);
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        cg_catgan_terms t;
        float g[7];
        cr_assert_eq(cg_catgan_g_loss(z, 1, 7, &t, g), 0);
        /* two float evaluations of the same entropy */
        cr_expect(fabsf(t.h_g - t.h_fake) < 1e-6f, "%g vs %g", t.h_g, t.h_fake);
        cr_expect(fabsf(t.g_loss) < 1e-6f);
        /* -H_G + H vanishes identically in z for n = 1, so does its gradient */
        for (int j = 0; j < 7; j++) cr_expect(fabsf(g[j]) < 1e-6f, "g[%d]=%g", j, g[j]);
    }
}

/* ---- PyTorch golden values ---------------------------------------------------------------- */

Test(loss, golden_pytorch) {
    size_t nc = sizeof loss_golden / sizeof loss_golden[0];
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        for (size_t c = 0; c < nc; c++) {
            const struct loss_golden *G = &loss_golden[c];
            size_t sr = (size_t)G->n_real * G->k, sf = (size_t)G->n_fake * G->k;
            size_t sl = (size_t)G->n_lab * G->k;
            float *gr = t_alloc(sr), *gf = t_alloc(sf), *gl = t_alloc(sl + 1),
                  *gg = t_alloc(sf);
            cg_catgan_terms t;
            cr_assert_eq(cg_catgan_d_loss(G->real, G->n_real, G->fake, G->n_fake, G->lab,
                                          G->labels, G->n_lab, G->k, G->lambda, &t, gr, gf,
                                          G->n_lab ? gl : NULL),
                         0, "%s", cg_last_error());
            cr_assert_eq(cg_catgan_g_loss(G->fake, G->n_fake, G->k, NULL, gg), 0);
            char what[64];
            snprintf(what, sizeof what, "%s case %zu", cg_isa_name(all_isas[a]), c);
            /* float kernels vs float64: relative ~1e-6 per row; the extreme case has a CE of
             * 5000 whose float has ulp 5e-4, hence the relative part */
            expect_terms(&t, G->terms, 2e-6, 2e-6, what);
            /* gradients: float p and log p, relative to the gradient's own scale */
            double fr = 1e-2 / G->n_real, ff = 1e-2 / G->n_fake;
            cr_expect(scaled_err(gr, G->g_real, sr, fr) < 1e-5, "%s grad_real %g", what,
                      scaled_err(gr, G->g_real, sr, fr));
            cr_expect(scaled_err(gf, G->g_fake, sf, ff) < 1e-5, "%s grad_fake", what);
            cr_expect(scaled_err(gg, G->g_gfake, sf, ff) < 1e-5, "%s g_loss grad", what);
            if (G->n_lab)
                cr_expect(scaled_err(gl, G->g_lab, sl, 1e-2 / G->n_lab) < 1e-5, "%s grad_lab",
                          what);
            cg_free(gr);
            cg_free(gf);
            cg_free(gl);
            cg_free(gg);
        }
    }
}

/* ---- against the double reference, odd shapes, every ISA ---------------------------------- */

static const int shapes[][2] = {{1, 2},   {1, 1000}, {15, 3},  {16, 10},  {17, 16}, {33, 17},
                                {31, 31}, {7, 32},   {5, 33},  {47, 100}, {3, 999}, {1500, 10},
                                {2, 1000}, {20, 47}};

Test(loss, terms_vs_double_reference) {
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int n = shapes[s][0], k = shapes[s][1];
        struct batch b = make_batch(n, n + 2, n > 3 ? n - 3 : 1, k, -6.0f, 6.0f, 100 + s);
        double want[7];
        dref_terms(&b, want);
        for (int a = 0; a < N_ISAS; a++) {
            if (!use_isa(all_isas[a])) continue;
            cg_catgan_terms t;
            run_losses(&b, &t, NULL);
            char what[64];
            snprintf(what, sizeof what, "%s n=%d k=%d", cg_isa_name(all_isas[a]), n, k);
            /* per-row float evaluation (expf/logf ~1 ulp, k-term float sums): ~k ulps of
             * values of order log k */
            expect_terms(&t, want, 1e-5, 1e-5, what);
        }
        free_batch(&b);
    }
}

/* ---- gradients against central finite differences of the double reference ---------------- */

struct fd_ctx {
    struct batch *b;
    int which;   /* T_DLOSS or T_GLOSS */
};

static double fd_loss(void *p) {
    struct fd_ctx *c = p;
    double t[7];
    dref_terms(c->b, t);
    return t[c->which];
}

static double fd_err(struct fd_ctx *c, float *x, const float *ana, size_t n, int rows) {
    double *num = malloc(n * sizeof *num);
    cr_assert(num);
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        /* h = 1e-3: truncation error h^2 f''' ~ 1e-6 relative, far above double round-off */
        float h = 1e-3f * fmaxf(1.0f, fabsf(keep));
        x[i] = keep + h;
        double fp = fd_loss(c);
        x[i] = keep - h;
        double fm = fd_loss(c);
        x[i] = keep;
        num[i] = (fp - fm) / (((double)(keep + h) - keep) + (keep - (double)(keep - h)));
    }
    double e = scaled_err(ana, num, n, 1e-2 / rows);
    free(num);
    return e;
}

Test(loss, gradients_vs_finite_differences) {
    static const int fd_shapes[][2] = {{1, 3}, {5, 3}, {17, 10}, {4, 17}, {3, 33}, {2, 40}};
    for (size_t s = 0; s < sizeof fd_shapes / sizeof fd_shapes[0]; s++) {
        int n = fd_shapes[s][0], k = fd_shapes[s][1];
        struct batch b = make_batch(n, n + 1, n + 2, k, -4.0f, 4.0f, 300 + s);
        for (int a = 0; a < N_ISAS; a++) {
            if (!use_isa(all_isas[a])) continue;
            struct grads g = alloc_grads(&b);
            cg_catgan_terms t;
            run_losses(&b, &t, &g);
            struct fd_ctx cd = {&b, T_DLOSS}, cgl = {&b, T_GLOSS};
            double e[4] = {fd_err(&cd, b.real, g.real, (size_t)n * k, n),
                           fd_err(&cd, b.fake, g.fake, (size_t)(n + 1) * k, n + 1),
                           fd_err(&cd, b.lab, g.lab, (size_t)(n + 2) * k, n + 2),
                           fd_err(&cgl, b.fake, g.gfake, (size_t)(n + 1) * k, n + 1)};
            static const char *nm[4] = {"grad_real", "grad_fake", "grad_lab", "g_loss grad"};
            for (int i = 0; i < 4; i++)
                /* float analytic (~1e-6) + FD truncation (~1e-6): 1e-4 leaves margin, while
                 * any wrong sign or missing term is an O(1) error */
                cr_expect(e[i] < 1e-4, "%s n=%d k=%d %s: scaled error %g",
                          cg_isa_name(all_isas[a]), n, k, nm[i], e[i]);
            free_grads(&g);
        }
        free_batch(&b);
    }
}

/* ---- SIMD against the scalar path --------------------------------------------------------- */

Test(loss, simd_matches_ref) {
    static const int sh[][2] = {{1, 2},    {15, 10},  {16, 10}, {17, 10}, {33, 31},
                                {34, 32},  {35, 33},  {9, 100}, {3, 1000}, {5000, 10},
                                {4097, 3}, {129, 47}};
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int n = sh[s][0], k = sh[s][1];
        struct batch b = make_batch(n, n, n, k, -8.0f, 8.0f, 500 + s);
        struct grads gref = alloc_grads(&b);
        cg_catgan_terms tref;
        use_isa(CG_ISA_REF);
        run_losses(&b, &tref, &gref);
        double want[7];
        terms_array(&tref, want);
        for (int a = 1; a < N_ISAS; a++) {
            if (!use_isa(all_isas[a])) continue;
            struct grads g = alloc_grads(&b);
            cg_catgan_terms t;
            run_losses(&b, &t, &g);
            char what[64];
            snprintf(what, sizeof what, "%s n=%d k=%d", cg_isa_name(all_isas[a]), n, k);
            /* SLEEF u10 vs libm (both <= 1 ulp) and another summation order */
            expect_terms(&t, want, 1e-5, 1e-6, what);
            size_t sz = (size_t)n * k;
            float *pairs[4][2] = {{g.real, gref.real}, {g.fake, gref.fake}, {g.lab, gref.lab},
                                  {g.gfake, gref.gfake}};
            for (int i = 0; i < 4; i++) {
                double *d = to_double(pairs[i][1], sz);
                /* same float formulas, exp/log differ by an ulp */
                cr_expect(scaled_err(pairs[i][0], d, sz, 1e-2 / n) < 1e-5, "%s grad %d", what, i);
                free(d);
            }
            free_grads(&g);
        }
        free_grads(&gref);
        free_batch(&b);
    }
}

/* ---- extreme logits ----------------------------------------------------------------------- */

static bool all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

Test(loss, extreme_logits_finite_and_exact) {
    static const int sh[][2] = {{1, 2}, {7, 10}, {40, 17}, {5, 100}, {3, 1000}, {2000, 10}};
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int n = sh[s][0], k = sh[s][1];
        struct batch b = make_batch(n, n, n, k, -1e4f, 1e4f, 700 + s);
        /* a row of equal huge logits, and a class no row gives any probability */
        for (int j = 0; j < k; j++) b.fake[j] = 1e4f;
        for (int i = 0; i < n; i++) b.real[(size_t)i * k + (k - 1)] = -1e4f;
        double want[7];
        dref_terms(&b, want);
        for (int a = 0; a < N_ISAS; a++) {
            if (!use_isa(all_isas[a])) continue;
            struct grads g = alloc_grads(&b);
            cg_catgan_terms t;
            run_losses(&b, &t, &g);
            double tv[7];
            terms_array(&t, tv);
            size_t sz = (size_t)n * k;
            for (int i = 0; i < 7; i++) cr_expect(isfinite(tv[i]), "%s not finite", term_name[i]);
            cr_expect(all_finite(g.real, sz) && all_finite(g.fake, sz) &&
                      all_finite(g.lab, sz) && all_finite(g.gfake, sz), "non-finite gradient");
            char what[64];
            snprintf(what, sizeof what, "%s extreme n=%d k=%d", cg_isa_name(all_isas[a]), n,
                     k);
            /* CE is ~1e4 (ulp ~1e-3) and log p carries the rounding of z - max at 1e4 */
            expect_terms(&t, want, 1e-5, 1e-5, what);
            free_grads(&g);
        }
        free_batch(&b);
    }
}

Test(loss, one_hot_and_all_equal) {
    /* all-equal rows: H = H_X = log k exactly in theory, gradients zero; one-hot rows of
     * distinct classes: H = 0, H_X = log n */
    int k = 20, n = 20;
    float *eq = t_alloc((size_t)n * k), *oh = t_alloc((size_t)n * k);
    for (int i = 0; i < n * k; i++) eq[i] = -7.5f;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) oh[i * k + j] = i == j ? 1e4f : -1e4f;
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        float *g = t_alloc((size_t)n * k);
        cg_catgan_terms t;
        cr_assert_eq(cg_catgan_g_loss(eq, n, k, &t, g), 0);
        /* log 20 in float, after k-term float sums */
        cr_expect(fabs(t.h_fake - log(k)) < 2e-6 && fabs(t.h_g - log(k)) < 2e-6, "%g %g",
                  t.h_fake, t.h_g);
        for (int i = 0; i < n * k; i++) cr_expect(fabsf(g[i]) < 1e-7f, "g[%d]=%g", i, g[i]);
        cr_assert_eq(cg_catgan_g_loss(oh, n, k, &t, g), 0);
        cr_expect(t.h_fake == 0.0f, "h_fake %g", t.h_fake);
        cr_expect(fabs(t.h_g - log(n)) < 2e-6, "h_g %g", t.h_g);
        cr_expect(all_finite(g, (size_t)n * k));
        cg_free(g);
    }
    cg_free(eq);
    cg_free(oh);
}

/* ---- large batches: accuracy and thread independence -------------------------------------- */

Test(loss, large_batch_accuracy) {
    int n = 100000, k = 10;
    float *z = t_alloc((size_t)n * k);
    t_fill(z, (size_t)n * k, -5.0f, 5.0f, 901);
    double hc, hm;
    dref_ent(z, n, k, &hc, &hm);
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        cg_catgan_terms t;
        cr_assert_eq(cg_catgan_g_loss(z, n, k, &t, NULL), 0);
        /* double batch sums: only the final rounding to float (and per-row float errors that
         * average out) remain; a plain float sum over 1e5 rows is off by ~1e-4 */
        cr_expect(fabs(t.h_g - hm) <= 4 * 2.4e-7 * hm, "%s h_g %.9g vs %.9g",
                  cg_isa_name(all_isas[a]), t.h_g, hm);
        cr_expect(fabs(t.h_fake - hc) <= 4 * 2.4e-7 * hc, "%s h_fake %.9g vs %.9g",
                  cg_isa_name(all_isas[a]), t.h_fake, hc);
    }
    cg_free(z);
}

Test(loss, bit_identical_for_any_thread_count) {
    static const int sh[][2] = {{10000, 10}, {9000, 100}, {4096, 2}};
    for (size_t s = 0; s < 3; s++) {
        int n = sh[s][0], k = sh[s][1];
        struct batch b = make_batch(n, n, n, k, -6.0f, 6.0f, 1000 + s);
        for (int a = 0; a < N_ISAS; a++) {
            if (!use_isa(all_isas[a])) continue;
            struct grads g1 = alloc_grads(&b), g2 = alloc_grads(&b);
            cg_catgan_terms t1, t2;
            omp_set_num_threads(1);
            run_losses(&b, &t1, &g1);
            omp_set_num_threads(2);
            run_losses(&b, &t2, &g2);
            size_t sz = (size_t)n * k * sizeof(float);
            cr_expect(memcmp(&t1, &t2, sizeof t1) == 0, "%s n=%d k=%d: terms differ",
                      cg_isa_name(all_isas[a]), n, k);
            cr_expect(memcmp(g1.real, g2.real, sz) == 0 && memcmp(g1.fake, g2.fake, sz) == 0 &&
                      memcmp(g1.lab, g2.lab, sz) == 0 && memcmp(g1.gfake, g2.gfake, sz) == 0,
                      "%s n=%d k=%d: gradients differ", cg_isa_name(all_isas[a]), n, k);
            free_grads(&g1);
            free_grads(&g2);
        }
        free_batch(&b);
    }
}

/* ---- the sign convention: descending L_D fits the labels, descending L_G spreads G -------- */

/* A linear D, logits = x W (x: d features, W: d x k), shared by the three batches. */
static void linear(const float *x, int n, int d, const float *w, int k, float *z) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            float s = 0.0f;
            for (int l = 0; l < d; l++) s += x[i * d + l] * w[l * k + j];
            z[i * k + j] = s;
        }
}

static void linear_back(const float *x, int n, int d, const float *dz, int k, float *dw) {
    for (int i = 0; i < n; i++)
        for (int l = 0; l < d; l++)
            for (int j = 0; j < k; j++) dw[l * k + j] += x[i * d + l] * dz[i * k + j];
}

Test(loss, d_step_with_labels_decreases_cross_entropy) {
    enum { D = 4, K = 3, NR = 12, NF = 10, NL = 6 };
    float xr[NR * D], xf[NF * D], xl[NL * D], w[D * K], zr[NR * K], zf[NF * K], zl[NL * K];
    float gr[NR * K], gf[NF * K], gl[NL * K], dw[D * K];
    int y[NL] = {0, 1, 2, 0, 1, 2};
    t_fill(xr, NR * D, -1.0f, 1.0f, 11);
    t_fill(xf, NF * D, -1.0f, 1.0f, 12);
    t_fill(xl, NL * D, -1.0f, 1.0f, 13);
    t_fill(w, D * K, -0.5f, 0.5f, 14);
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        float wk[D * K];
        memcpy(wk, w, sizeof w);
        cg_catgan_terms t0, t1;
        linear(xr, NR, D, wk, K, zr);
        linear(xf, NF, D, wk, K, zf);
        linear(xl, NL, D, wk, K, zl);
        cr_assert_eq(cg_catgan_d_loss(zr, NR, zf, NF, zl, y, NL, K, 1.0f, &t0, gr, gf, gl), 0);
        /* the supervised term enters the minimised loss with +lambda */
        cr_expect_float_eq(t0.d_loss, -t0.h_x + t0.h_real - t0.h_fake + t0.ce, 1e-6f);
        memset(dw, 0, sizeof dw);
        linear_back(xr, NR, D, gr, K, dw);
        linear_back(xf, NF, D, gf, K, dw);
        linear_back(xl, NL, D, gl, K, dw);
        for (int i = 0; i < D * K; i++) wk[i] -= 0.05f * dw[i];
        linear(xr, NR, D, wk, K, zr);
        linear(xf, NF, D, wk, K, zf);
        linear(xl, NL, D, wk, K, zl);
        cr_assert_eq(cg_catgan_d_loss(zr, NR, zf, NF, zl, y, NL, K, 1.0f, &t1, NULL, NULL, NULL),
                     0);
        cr_expect(t1.d_loss < t0.d_loss, "%s: d_loss %g -> %g", cg_isa_name(all_isas[a]),
                  t0.d_loss, t1.d_loss);
        cr_expect(t1.ce < t0.ce, "%s: ce %g -> %g", cg_isa_name(all_isas[a]), t0.ce, t1.ce);
        /* the logits themselves: one step along -grad_lab lowers the labelled CE alone */
        for (int i = 0; i < NL * K; i++) zl[i] -= 1.0f * gl[i];
        cg_catgan_terms t2;
        linear(xl, NL, D, w, K, zl);
        for (int i = 0; i < NL * K; i++) zl[i] -= 1.0f * gl[i];
        cr_assert_eq(cg_catgan_d_loss(zr, NR, zf, NF, zl, y, NL, K, 1.0f, &t2, NULL, NULL, NULL),
                     0);
        cr_expect(t2.ce < t0.ce, "ce %g -> %g after a step on the logits", t0.ce, t2.ce);
    }
}

Test(loss, g_step_raises_marginal_entropy) {
    /* fake logits all leaning to class 0: G's descent must spread them (H_G up) */
    enum { N = 16, K = 5 };
    float z[N * K], g[N * K];
    t_fill(z, N * K, -1.0f, 1.0f, 21);
    for (int i = 0; i < N; i++) z[i * K] += 3.0f;
    for (int a = 0; a < N_ISAS; a++) {
        if (!use_isa(all_isas[a])) continue;
        float zk[N * K];
        memcpy(zk, z, sizeof z);
        cg_catgan_terms t0, t1;
        cr_assert_eq(cg_catgan_g_loss(zk, N, K, &t0, g), 0);
        for (int i = 0; i < N * K; i++) zk[i] -= 2.0f * g[i];
        cr_assert_eq(cg_catgan_g_loss(zk, N, K, &t1, NULL), 0);
        cr_expect(t1.g_loss < t0.g_loss, "g_loss %g -> %g", t0.g_loss, t1.g_loss);
        cr_expect(t1.h_g > t0.h_g, "h_g %g -> %g", t0.h_g, t1.h_g);
    }
}

/* ---- bad arguments -------------------------------------------------------------------------- */

static void expect_invalid(int st, const char *needle) {
    cr_expect_eq(st, CG_ERR_INVALID_ARG, "status %d for %s", st, needle);
    cr_expect(strstr(cg_last_error(), needle) != NULL, "message '%s' lacks '%s'",
              cg_last_error(), needle);
}

Test(loss, bad_arguments) {
    float z[8] = {0}, g[8];
    int y[2] = {0, 1}, ybad[2] = {0, 2}, yneg[2] = {-1, 0};
    cg_catgan_terms t;
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, y, 2, 1, 1.0f, &t, g, g, g), "k=1");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, y, 2, 1025, 1.0f, &t, g, g, g), "k=1025");
    expect_invalid(cg_catgan_d_loss(z, 0, z, 2, z, y, 2, 2, 1.0f, &t, g, g, g), "n_real=0");
    expect_invalid(cg_catgan_d_loss(z, 2, z, -1, z, y, 2, 2, 1.0f, &t, g, g, g), "n_fake=-1");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, y, -1, 2, 1.0f, &t, g, g, g), "n_lab=-1");
    expect_invalid(cg_catgan_d_loss(NULL, 2, z, 2, z, y, 2, 2, 1.0f, &t, g, g, g),
                   "logits_real");
    expect_invalid(cg_catgan_d_loss(z, 2, NULL, 2, z, y, 2, 2, 1.0f, &t, g, g, g),
                   "logits_fake");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, NULL, y, 2, 2, 1.0f, &t, g, g, g), "logits_lab");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, NULL, 2, 2, 1.0f, &t, g, g, g), "labels");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, ybad, 2, 2, 1.0f, &t, g, g, g),
                   "labels[1]=2");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, yneg, 2, 2, 1.0f, &t, g, g, g),
                   "labels[0]=-1");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, y, 2, 2, -1.0f, &t, g, g, g), "lambda");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, y, 2, 2, NAN, &t, g, g, g), "lambda");
    expect_invalid(cg_catgan_d_loss(z, 2, z, 2, z, y, 2, 2, INFINITY, &t, g, g, g), "lambda");
    expect_invalid(cg_catgan_g_loss(z, 2, 0, &t, g), "k=0");
    expect_invalid(cg_catgan_g_loss(z, 0, 2, &t, g), "n_fake=0");
    expect_invalid(cg_catgan_g_loss(NULL, 2, 2, &t, g), "logits_fake");
    /* n_lab = 0: no labelled data needed, ce = 0; NULL terms and gradients are allowed */
    cr_expect_eq(cg_catgan_d_loss(z, 2, z, 2, NULL, NULL, 0, 2, 1.0f, &t, NULL, NULL, NULL), 0);
    cr_expect_eq(t.ce, 0.0f);
    cr_expect_eq(cg_catgan_d_loss(z, 2, z, 2, NULL, NULL, 0, 2, 1.0f, NULL, g, NULL, NULL), 0);
}
