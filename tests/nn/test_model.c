/* The model: network wiring (backward of whole nets against finite differences), the
 * architectures' shapes, initialisation that spreads D's logits, a training step's
 * determinism, learning on an easy set, and checkpoints (round trip, corruption). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "nn/model.h"

/* ---- whole-net gradients ------------------------------------------------------------------ */

struct net_ctx {
    struct cg_net *net;
    struct cg_pass pass;
    float *w, *state, *r, *x;
    void *ws;
    int n;
};

/* loss = sum(y * r) for a training-mode forward with fixed noise (same key and stream) */
static double net_loss(void *vctx) {
    struct net_ctx *c = vctx;
    memcpy(c->pass.act[0], c->x, (size_t)c->n * c->net->in_size * sizeof(float));
    cg_net_forward(c->net, c->n, &c->pass, c->w, c->state, 1, 0, 77, 5, c->ws);
    return t_dot(c->pass.act[c->net->nlayers], c->r, (size_t)c->n * c->net->out_size);
}

static void check_net_grads(struct cg_net *net, int n, double tol) {
    struct net_ctx c = {.net = net, .n = n};
    unsigned char *mem = cg_malloc(cg_net_pass_bytes(net, n));
    cg_net_pass_bind(net, n, &c.pass, mem);
    c.w = t_alloc(net->nparams);
    c.state = t_alloc(net->nstate + 1);
    c.r = t_alloc((size_t)n * net->out_size);
    c.x = t_alloc((size_t)n * net->in_size);
    c.ws = cg_malloc(cg_net_ws_bytes(net, n) + 64);
    cg_net_init_params(net, c.w, c.state, 3);
    t_fill(c.r, (size_t)n * net->out_size, -1, 1, 11);
    t_fill(c.x, (size_t)n * net->in_size, -1, 1, 12);
    float *dw = t_alloc(net->nparams), *dx = t_alloc((size_t)n * net->in_size);
    float *dout = t_alloc((size_t)n * net->out_size);
    float *g[2] = {t_alloc((size_t)n * net->max_size), t_alloc((size_t)n * net->max_size)};
    net_loss(&c);
    memcpy(dout, c.r, (size_t)n * net->out_size * sizeof(float));
    cg_net_backward(net, n, &c.pass, c.w, dout, dw, dx, g, c.ws);
    /* float forward, double loss: at h = 1e-3 the float rounding of the forward costs ~3e-4
     * relative; a larger h crosses leaky-ReLU kinks and max-pool switches (8% at 1e-2) */
    double ew = t_grad_check(net_loss, &c, c.w, dw, net->nparams, 1e-3f, 300);
    double ex = t_grad_check(net_loss, &c, c.x, dx, (size_t)n * net->in_size, 1e-3f, 200);
    cr_expect_lt(ew, tol, "weights: worst relative error %g", ew);
    cr_expect_lt(ex, tol, "input: worst relative error %g", ex);
    cg_free(mem); cg_free(c.w); cg_free(c.state); cg_free(c.r); cg_free(c.x); cg_free(c.ws);
    cg_free(dw); cg_free(dx); cg_free(dout); cg_free(g[0]); cg_free(g[1]);
}

Test(net, mlp_with_bn_noise_lrelu_sigmoid_backward) {
    struct cg_net net;
    cg_net_begin(&net, 3, 1, 2, 1);
    cr_assert_eq(cg_net_noise(&net, 0.3f), CG_OK);
    cr_assert_eq(cg_net_linear(&net, 7), CG_OK);
    cr_assert_eq(cg_net_bn(&net), CG_OK);
    cr_assert_eq(cg_net_lrelu(&net, 0.1f), CG_OK);
    cr_assert_eq(cg_net_linear(&net, 5), CG_OK);
    cr_assert_eq(cg_net_sigmoid(&net), CG_OK);
    /* 1%: 30x the rounding floor, far below what a wiring error gives (O(1)) */
    check_net_grads(&net, 4, 1e-2);
}

/* Without an input gradient the backward skips the dx of layers with no weights below them
 * (pi-mnist D's first dense layer, above its noise layer); every weight gradient must come out
 * bit-identical to a backward that computes every dx. */
Test(net, backward_without_input_gradient_gives_the_same_weight_gradients) {
    struct cg_net net;
    cg_net_begin(&net, 6, 1, 1, 1);
    cr_assert_eq(cg_net_noise(&net, 0.3f), CG_OK);
    cr_assert_eq(cg_net_lrelu(&net, 0.1f), CG_OK);
    cr_assert_eq(cg_net_linear(&net, 7), CG_OK);
    cr_assert_eq(cg_net_bn(&net), CG_OK);
    cr_assert_eq(cg_net_noise(&net, 0.3f), CG_OK);
    cr_assert_eq(cg_net_linear(&net, 5), CG_OK);
    const int n = 9;
    struct cg_pass pass;
    unsigned char *mem = cg_malloc(cg_net_pass_bytes(&net, n));
    cg_net_pass_bind(&net, n, &pass, mem);
    float *w = t_alloc(net.nparams), *state = t_alloc(net.nstate + 1);
    void *ws = cg_malloc(cg_net_ws_bytes(&net, n) + 64);
    cg_net_init_params(&net, w, state, 3);
    t_fill(pass.act[0], (size_t)n * net.in_size, -1, 1, 12);
    cg_net_forward(&net, n, &pass, w, state, 1, 0, 77, 5, ws);
    float *g[2] = {t_alloc((size_t)n * net.max_size), t_alloc((size_t)n * net.max_size)};
    float *dout = t_alloc((size_t)n * net.out_size), *dx = t_alloc((size_t)n * net.in_size);
    float *dw1 = t_alloc(net.nparams), *dw2 = t_alloc(net.nparams);
    t_fill(dout, (size_t)n * net.out_size, -1, 1, 13);
    cg_net_backward(&net, n, &pass, w, dout, dw1, dx, g, ws);
    t_fill(dout, (size_t)n * net.out_size, -1, 1, 13);
    cg_net_backward(&net, n, &pass, w, dout, dw2, NULL, g, ws);
    cr_assert_eq(memcmp(dw1, dw2, net.nparams * sizeof(float)), 0, "weight gradients differ");
    cr_assert_gt(t_dot(dw1, dw1, net.nparams), 0.0, "no gradient at all");
    cg_free(mem); cg_free(w); cg_free(state); cg_free(ws); cg_free(g[0]); cg_free(g[1]);
    cg_free(dout); cg_free(dx); cg_free(dw1); cg_free(dw2);
}

Test(net, conv_pool_upsample_backward) {
    struct cg_net net;
    cg_net_begin(&net, 2, 6, 6, 2);
    cr_assert_eq(cg_net_conv(&net, 3, 3, 1, 1), CG_OK);
    cr_assert_eq(cg_net_lrelu(&net, 0.1f), CG_OK);
    cr_assert_eq(cg_net_maxpool(&net, 3, 2, 1), CG_OK);
    cr_assert_eq(cg_net_upsample(&net, 2), CG_OK);
    cr_assert_eq(cg_net_conv(&net, 2, 5, 1, 2), CG_OK);
    cr_assert_eq(cg_net_upconv(&net, 2, 5), CG_OK);
    cr_assert_eq(cg_net_bn(&net), CG_OK);
    cr_assert_eq(cg_net_linear(&net, 3), CG_OK);
    cr_assert_eq(net.L[3].oh, 6);
    /* 1%, as above */
    check_net_grads(&net, 3, 1e-2);
}

/* ---- architectures ------------------------------------------------------------------------ */

Test(model, conv_shapes_follow_contract) {
    struct cg_net g, d;
    cr_assert_eq(cg_model_build_nets("conv", 1, 28, 28, 10, 0.0f, 1, &g, &d), CG_OK);
    /* D: conv5 32 + lrelu, pool, conv3 64 + lrelu x2, pool, conv3 128, conv1 10, fc 128, fc K */
    cr_assert_eq(d.nlayers, 15);
    cr_assert_eq(d.L[2].kind, CG_LAYER_MAXPOOL);
    cr_assert_eq(d.L[2].oh, 14);
    cr_assert_eq(d.L[7].oh, 7);
    cr_assert_eq(d.L[12].in_size, 490u);
    cr_assert_eq(d.out_size, 10u);
    cr_assert_eq(g.L[0].out_size, 96u * 7 * 7);
    cr_assert_eq(g.out_size, 784u);
    cr_assert_eq(g.L[g.nlayers - 1].kind, CG_LAYER_SIGMOID);
    cr_assert_eq(cg_model_build_nets("conv", 1, 256, 256, 2, 0.0f, 1, &g, &d), CG_OK);
    cr_assert_eq(g.out_size, 65536u);
    cr_assert_eq(d.L[d.nlayers - 3].in_size, 10u * 8 * 8, "D ends at 8x8 for 256x256");
}

Test(model, pi_mnist_sizes) {
    struct cg_net g, d;
    cr_assert_eq(cg_model_build_nets("pi-mnist", 1, 28, 28, 10, 0.0f, 1, &g, &d), CG_OK);
    size_t dp = 784 * 1000 + 1000 + 1000 * 500 + 500 + 500 * 250 + 250 + 250 * 250 + 250 +
                250 * 250 + 250 + 250 * 10 + 10 + 2 * (1000 + 500 + 250 * 3);
    cr_assert_eq(d.nparams, dp);
    cr_assert_eq(g.out_size, 784u);
    cr_assert_eq(cg_model_build_nets("resnet", 1, 28, 28, 10, 0.0f, 1, &g, &d), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "arch=resnet") != NULL);
}

static struct cg_model_config small_cfg(const char *arch, int labelled) {
    struct cg_model_config c;
    cg_model_config_defaults(&c);
    snprintf(c.arch, sizeof c.arch, "%s", arch);
    if (strcmp(arch, "mlp2d") == 0) {
        c.c = 2; c.h = 1; c.w = 1; c.k = 2;
    }
    c.batch = 16;
    c.labelled = labelled;
    return c;
}

Test(model, create_rejects_bad_config) {
    cg_model *m = NULL;
    struct cg_model_config c = small_cfg("conv", 0);
    c.k = 1;
    cr_assert_eq(cg_model_create(&c, &m), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "classes=1") != NULL);
    c = small_cfg("conv", 0);
    c.batch = 0;
    cr_assert_eq(cg_model_create(&c, &m), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "batch=0") != NULL);
    c = small_cfg("conv", 0);
    c.lr = -1;
    cr_assert_eq(cg_model_create(&c, &m), CG_ERR_INVALID_ARG);
    c = small_cfg("conv", 0);
    c.ema = 1.0f;
    cr_assert_eq(cg_model_create(&c, &m), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "ema=1") != NULL, "%s", cg_last_error());
    c.ema = -0.5f;
    cr_assert_eq(cg_model_create(&c, &m), CG_ERR_INVALID_ARG);
    c = small_cfg("conv", 0);
    c.batch = 2000000000;
    cr_assert_eq(cg_model_create(&c, &m), CG_ERR_OUT_OF_MEMORY);
    cr_assert(strstr(cg_last_error(), "bytes") != NULL, "%s", cg_last_error());
    cr_assert_null(m);
}

/* lr_g = 0 picks lr times the architecture's ratio (docs/results.md, docs/toy.md); a given
 * lr_g is kept as it is. */
static float default_lr_g(const char *arch, float lr, float lr_g) {
    struct cg_model_config c = small_cfg(arch, 0);
    c.lr = lr;
    c.lr_g = lr_g;
    cg_model *m = NULL;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK, "%s: %s", arch, cg_last_error());
    float got = cg_model_config_of(m)->lr_g;
    cg_model_destroy(m);
    return got;
}

Test(model, g_step_size_defaults_per_arch) {
    cr_assert_float_eq(default_lr_g("pi-mnist", 2e-4f, 0), 5e-4f, 1e-10f);
    cr_assert_float_eq(default_lr_g("conv", 2e-4f, 0), 2e-4f, 1e-10f);
    cr_assert_float_eq(default_lr_g("mlp2d", 1e-3f, 0), 5e-5f, 1e-11f);
    cr_assert_float_eq(default_lr_g("pi-mnist", 2e-4f, 3e-4f), 3e-4f, 1e-10f);
}

/* cg_model_calibrate, against the definition: pi-mnist D's first batch norm (after noise and
 * the 784->1000 layer) must hold the mean and unbiased variance over all N examples (a tail
 * short of a batch included) of the clean pre-activations, computed here in double from the
 * weights (noise left on moves the mean by ~0.1). Then every batch norm, deeper ones included,
 * must normalise exactly what evaluation feeds it: in evaluation mode over the same N
 * examples its output has mean beta = 0 and biased variance (N-1)/N, to float rounding (a
 * biased variance or the statistics of training-mode passes miss by >= 1/N). */
Test(model, calibrate_gives_each_batch_norm_the_statistics_of_its_eval_input) {
    enum { B = 16, N = 3 * B + 5 };
    struct cg_model_config c = small_cfg("pi-mnist", 0);
    cg_model *m;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK);
    const struct cg_layer *lin = &m->d.L[1], *bn = &m->d.L[2];
    cr_assert_eq(lin->kind, CG_LAYER_LINEAR);
    cr_assert_eq(bn->kind, CG_LAYER_BN);
    float *x = t_alloc((size_t)N * 784);
    t_fill(x, (size_t)N * 784, 0, 1, 21);
    for (size_t i = 0; i < m->d.nstate; i++) m->state_d[i] = NAN;
    cr_assert_eq(cg_model_calibrate(m, x, N), CG_OK, "%s", cg_last_error());
    const float *w = m->pd.w + lin->w_off, *b = m->pd.w + lin->b_off;
    const float *rm = m->state_d + bn->st_off, *rv = rm + bn->oc;
    double worst_m = 0, worst_v = 0;
    for (int o = 0; o < lin->oc; o++) {
        double h[N], s = 0, ss = 0;
        for (int i = 0; i < N; i++) {
            h[i] = b[o];
            for (int q = 0; q < 784; q++)
                h[i] += (double)w[(size_t)o * 784 + q] * x[(size_t)i * 784 + q];
            s += h[i];
        }
        for (int i = 0; i < N; i++) ss += (h[i] - s / N) * (h[i] - s / N);
        worst_m = fmax(worst_m, fabs(rm[o] - s / N));
        worst_v = fmax(worst_v, fabs(rv[o] - ss / (N - 1)) / (ss / (N - 1)));
    }
    cr_assert_lt(worst_m, 1e-3, "first BN: running mean off by %g", worst_m);
    cr_assert_lt(worst_v, 1e-3, "first BN: running variance off by %g (relative)", worst_v);
    int nbn = 0;
    for (int i = 0; i < m->d.nlayers; i++) {
        if (m->d.L[i].kind != CG_LAYER_BN) continue;
        const int oc = m->d.L[i].oc;
        double *s = calloc(2 * (size_t)oc, sizeof(double));
        for (int s0 = 0; s0 < N; s0 += B) {
            const int nb = N - s0 < B ? N - s0 : B;
            memcpy(m->pass_real.act[0], x + (size_t)s0 * 784, (size_t)nb * 784 * sizeof(float));
            cg_net_forward_to(&m->d, nb, &m->pass_real, m->pd.w, m->state_d, 0, 0, m->key, 0,
                              m->ws, i + 1);
            for (int e = 0; e < nb; e++)
                for (int ch = 0; ch < oc; ch++) {
                    double v = m->pass_real.act[i + 1][(size_t)e * oc + ch];
                    s[ch] += v;
                    s[oc + ch] += v * v;
                }
        }
        double wm = 0, wv = 0;
        for (int ch = 0; ch < oc; ch++) {
            double mu = s[ch] / N, var = s[oc + ch] / N - mu * mu;
            wm = fmax(wm, fabs(mu));
            wv = fmax(wv, fabs(var - (double)(N - 1) / N));
        }
        free(s);
        /* eps 1e-5 against unit-scale variances: ~1e-5 */
        cr_assert_lt(wm, 1e-3, "BN layer %d: eval output mean %g", i, wm);
        cr_assert_lt(wv, 1e-3, "BN layer %d: eval output variance off by %g", i, wv);
        nbn++;
    }
    cr_assert_eq(nbn, 5, "pi-mnist D has 5 batch norms");
    cr_assert_eq(cg_model_calibrate(m, x, 0), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_model_calibrate(m, NULL, N), CG_ERR_INVALID_ARG);
    cg_free(x);
    cg_model_destroy(m);
}

/* The statistics are those of the whole set, not of batch-sized chunks: a model of batch 6
 * (as a rank of a 2-process run has half the batch) computes the same bits. */
Test(model, calibrate_does_not_depend_on_the_batch) {
    enum { N = 40 };
    struct cg_model_config c = small_cfg("pi-mnist", 0);
    cg_model *a, *b;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    c.batch = 6;
    cr_assert_eq(cg_model_create(&c, &b), CG_OK);
    cr_assert_eq(memcmp(a->pd.w, b->pd.w, a->pd.n * sizeof(float)), 0, "same seed, same D");
    float *x = t_alloc((size_t)N * 784);
    t_fill(x, (size_t)N * 784, 0, 1, 22);
    cr_assert_eq(cg_model_calibrate(a, x, N), CG_OK);
    cr_assert_eq(cg_model_calibrate(b, x, N), CG_OK);
    cr_assert_eq(memcmp(a->state_d, b->state_d, a->d.nstate * sizeof(float)), 0);
    cg_free(x);
    cg_model_destroy(a);
    cg_model_destroy(b);
}

/* Training uses batch statistics, so a calibration between steps changes no weight. */
Test(model, calibrate_leaves_training_unchanged) {
    struct cg_model_config c = small_cfg("pi-mnist", 0);
    cg_model *a, *b;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    cr_assert_eq(cg_model_create(&c, &b), CG_OK);
    float *x = t_alloc(16 * 784), *cal = t_alloc(40 * 784);
    t_fill(x, 16 * 784, 0, 1, 31);
    t_fill(cal, 40 * 784, 0, 1, 32);
    for (int it = 0; it < 3; it++) {
        cr_assert_eq(cg_model_step(a, x, NULL, NULL, NULL), CG_OK, "%s", cg_last_error());
        cr_assert_eq(cg_model_calibrate(a, cal, 40), CG_OK);
        cr_assert_eq(cg_model_step(b, x, NULL, NULL, NULL), CG_OK);
    }
    cr_assert_eq(memcmp(a->pd.w, b->pd.w, a->pd.n * sizeof(float)), 0, "D differs");
    cr_assert_eq(memcmp(a->pg.w, b->pg.w, a->pg.n * sizeof(float)), 0, "G differs");
    cr_assert_eq(memcmp(a->state_g, b->state_g, a->g.nstate * sizeof(float)), 0, "G's BN");
    cg_free(x);
    cg_free(cal);
    cg_model_destroy(a);
    cg_model_destroy(b);
}

/* NOTES.md: with a poor init D's logits are identical across inputs and CatGAN never moves. */
Test(model, init_spreads_d_logits) {
    struct cg_model_config c = small_cfg("conv", 0);
    cg_model *m;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK);
    float *x = t_alloc(16 * 784), *p = t_alloc(16 * 10);
    t_fill(x, 16 * 784, 0, 1, 5);
    cr_assert_eq(cg_model_classify(m, x, 16, p, NULL), CG_OK);
    double spread = 0;
    for (int j = 0; j < 10; j++) {
        double lo = 1, hi = 0;
        for (int i = 0; i < 16; i++) {
            lo = fmin(lo, p[i * 10 + j]);
            hi = fmax(hi, p[i * 10 + j]);
        }
        spread = fmax(spread, hi - lo);
    }
    /* PyTorch's default init gives ~1e-4 here (NOTES.md); He init gives a few percent */
    cr_assert_gt(spread, 1e-2, "probabilities vary by only %g across inputs", spread);
    cg_free(x);
    cg_free(p);
    cg_model_destroy(m);
}

/* ---- training ------------------------------------------------------------------------------ */

static void two_blobs(float *x, int32_t *y, int n, uint64_t seed) {
    struct cg_rng r;
    cg_rng_seed(&r, seed, 3);
    for (int i = 0; i < n; i++) {
        y[i] = i % 2;
        x[2 * i] = (y[i] ? 2.0f : -2.0f) + 0.4f * cg_rng_normal(&r);
        x[2 * i + 1] = 0.4f * cg_rng_normal(&r);
    }
}

Test(model, step_is_deterministic_and_moves_both_nets) {
    struct cg_model_config c = small_cfg("mlp2d", 0);
    cg_model *a, *b;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    c.threads = 2;
    cr_assert_eq(cg_model_create(&c, &b), CG_OK);
    float x[32];
    int32_t y[16];
    two_blobs(x, y, 16, 1);
    float *g0 = t_alloc(a->pg.n), *d0 = t_alloc(a->pd.n);
    memcpy(g0, a->pg.w, a->pg.n * sizeof(float));
    memcpy(d0, a->pd.w, a->pd.n * sizeof(float));
    cg_catgan_terms ta, tb;
    for (int it = 0; it < 3; it++) {
        cr_assert_eq(cg_model_step(a, x, NULL, NULL, &ta), CG_OK, "%s", cg_last_error());
        cr_assert_eq(cg_model_step(b, x, NULL, NULL, &tb), CG_OK);
    }
    cr_assert_eq(cg_model_iteration(a), 3);
    cr_assert_eq(memcmp(a->pd.w, b->pd.w, a->pd.n * sizeof(float)), 0, "1 vs 2 threads: D");
    cr_assert_eq(memcmp(a->pg.w, b->pg.w, a->pg.n * sizeof(float)), 0, "1 vs 2 threads: G");
    cr_assert_gt(t_max_abs_diff(g0, a->pg.w, a->pg.n), 0);
    cr_assert_gt(t_max_abs_diff(d0, a->pd.w, a->pd.n), 0);
    /* the identity of the reported terms */
    cr_assert_float_eq(ta.d_loss, -ta.h_x + ta.h_real - ta.h_fake, 1e-5);
    cr_assert_float_eq(ta.g_loss, -ta.h_g + ta.h_fake, 1.0, "g_loss is in the right range");
    cg_free(g0);
    cg_free(d0);
    cg_model_destroy(a);
    cg_model_destroy(b);
}

/* A zero scale freezes both nets (G and D); a restored scale moves them again; a negative or
 * NaN scale is refused. */
Test(model, lr_scale_zero_freezes_and_one_restores) {
    struct cg_model_config c = small_cfg("mlp2d", 0);
    cg_model *m;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK);
    float x[32];
    int32_t y[16];
    two_blobs(x, y, 16, 3);
    cr_assert_eq(cg_model_set_lr_scale(m, -1.0f), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_model_set_lr_scale(m, NAN), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_model_set_lr_scale(m, 0.0f), CG_OK);
    float *g0 = t_alloc(m->pg.n), *d0 = t_alloc(m->pd.n);
    memcpy(g0, m->pg.w, m->pg.n * sizeof(float));
    memcpy(d0, m->pd.w, m->pd.n * sizeof(float));
    cr_assert_eq(cg_model_step(m, x, NULL, NULL, NULL), CG_OK);
    cr_assert_eq(memcmp(g0, m->pg.w, m->pg.n * sizeof(float)), 0, "G moved at scale 0");
    cr_assert_eq(memcmp(d0, m->pd.w, m->pd.n * sizeof(float)), 0, "D moved at scale 0");
    cr_assert_eq(cg_model_set_lr_scale(m, 1.0f), CG_OK);
    cr_assert_eq(cg_model_step(m, x, NULL, NULL, NULL), CG_OK);
    cr_assert_gt(t_max_abs_diff(g0, m->pg.w, m->pg.n), 0);
    cr_assert_gt(t_max_abs_diff(d0, m->pd.w, m->pd.n), 0);
    cg_free(g0);
    cg_free(d0);
    cg_model_destroy(m);
}

/* Semi-supervised on two separable blobs: the supervised term's sign is right when D learns
 * the labels quickly (NOTES.md: 100% within 50 iterations). */
Test(model, labelled_training_learns_two_blobs) {
    struct cg_model_config c = small_cfg("mlp2d", 1);
    c.batch = 32;
    c.lr = 2e-3f;
    cg_model *m;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK);
    enum { N = 256 };
    float *x = t_alloc(2 * N);
    int32_t y[N], pred[N];
    two_blobs(x, y, N, 4);
    for (int it = 0; it < 60; it++) {
        const float *xb = x + 2 * (size_t)((it * 32) % N);
        const int32_t *yb = y + (it * 32) % N;
        cr_assert_eq(cg_model_step(m, xb, xb, yb, NULL), CG_OK, "%s", cg_last_error());
    }
    cr_assert_eq(cg_model_classify(m, x, N, NULL, pred), CG_OK);
    int right = 0;
    for (int i = 0; i < N; i++) right += pred[i] == y[i];
    cr_assert_gt(right, N * 95 / 100, "only %d of %d right", right, N);
    cg_free(x);
    cg_model_destroy(m);
}

/* cfg.ema: after D step t the average is d*avg + (1-d)*w with d = min(ema, (1+t)/(10+t)),
 * starting from the initial weights (recomputed here in double from each step's weights);
 * training is the same as without it, and classification uses the average: the same
 * probabilities as a model without ema whose D weights are the average. */
Test(model, ema_averages_d_after_each_step_and_classify_uses_it) {
    struct cg_model_config c = small_cfg("mlp2d", 0);
    cg_model *plain, *avg;
    cr_assert_eq(cg_model_create(&c, &plain), CG_OK);
    c.ema = 0.9f;
    cr_assert_eq(cg_model_create(&c, &avg), CG_OK, "%s", cg_last_error());
    cr_assert_not_null(avg->ema_d);
    cr_assert_null(plain->ema_d);
    float x[32];
    int32_t y[16];
    two_blobs(x, y, 16, 5);
    const size_t n = avg->pd.n;
    double *ref = calloc(n, sizeof *ref);
    for (size_t i = 0; i < n; i++) ref[i] = avg->pd.w[i];
    for (int t = 1; t <= 6; t++) {
        cr_assert_eq(cg_model_step(plain, x, NULL, NULL, NULL), CG_OK);
        cr_assert_eq(cg_model_step(avg, x, NULL, NULL, NULL), CG_OK, "%s", cg_last_error());
        const double w = (1.0 + t) / (10.0 + t), d = w < 0.9 ? w : 0.9;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            ref[i] = d * ref[i] + (1 - d) * avg->pd.w[i];
            const double e = fabs(avg->ema_d[i] - ref[i]) / (fabs(ref[i]) + 1e-3);
            worst = e > worst ? e : worst;
        }
        cr_assert_lt(worst, 1e-5, "step %d: average off by %g (relative)", t, worst);
    }
    cr_assert_eq(memcmp(plain->pd.w, avg->pd.w, n * sizeof(float)), 0, "training changed");
    cr_assert_eq(memcmp(plain->pg.w, avg->pg.w, avg->pg.n * sizeof(float)), 0, "G changed");
    cr_assert_gt(t_max_abs_diff(avg->ema_d, avg->pd.w, n), 1e-4, "average == weights");
    float pa[32], pp[32], pr[32];
    cr_assert_eq(cg_model_classify(avg, x, 16, pa, NULL), CG_OK);
    cr_assert_eq(cg_model_classify(plain, x, 16, pr, NULL), CG_OK);
    memcpy(plain->pd.w, avg->ema_d, n * sizeof(float));
    cr_assert_eq(cg_model_classify(plain, x, 16, pp, NULL), CG_OK);
    cr_assert_eq(memcmp(pa, pp, sizeof pa), 0, "classify does not use the average");
    cr_assert_gt(t_max_abs_diff(pa, pr, 32), 0, "the average classifies as the raw weights");
    free(ref);
    cg_model_destroy(plain);
    cg_model_destroy(avg);
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "/tmp/cg_test_model_%ld_%s", (long)getpid(), name);
}

Test(checkpoint, round_trip_and_resume_equals_uninterrupted) {
    struct cg_model_config c = small_cfg("mlp2d", 0);
    cg_model *a, *b, *r;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    cr_assert_eq(cg_model_create(&c, &b), CG_OK);
    float x[32];
    int32_t y[16];
    two_blobs(x, y, 16, 2);
    for (int i = 0; i < 2; i++) cg_model_step(a, x, NULL, NULL, NULL);
    char path[256], meta[64];
    tmp_path(path, sizeof path, "rt.cgck");
    cr_assert_eq(cg_model_save(a, path, "{\"data\":\"moons\"}"), CG_OK, "%s", cg_last_error());
    cr_assert_eq(cg_model_load(path, 1, &r, meta, sizeof meta), CG_OK, "%s", cg_last_error());
    cr_assert_str_eq(meta, "{\"data\":\"moons\"}");
    cr_assert_eq(cg_model_iteration(r), 2);
    for (int i = 0; i < 4; i++) cg_model_step(b, x, NULL, NULL, NULL);
    for (int i = 0; i < 2; i++) cg_model_step(r, x, NULL, NULL, NULL);
    cr_assert_eq(memcmp(b->pd.w, r->pd.w, b->pd.n * sizeof(float)), 0);
    cr_assert_eq(memcmp(b->pg.w, r->pg.w, b->pg.n * sizeof(float)), 0);
    cr_assert_eq(memcmp(b->pg.v, r->pg.v, b->pg.n * sizeof(float)), 0);
    unlink(path);
    cg_model_destroy(a);
    cg_model_destroy(b);
    cg_model_destroy(r);
}

/* The average is part of the checkpoint: a resumed model carries on averaging as the
 * uninterrupted one does (bit for bit), and a model without it still loads as before. */
Test(checkpoint, ema_survives_save_and_resume) {
    struct cg_model_config c = small_cfg("pi-mnist", 0);
    c.ema = 0.99f;
    cg_model *a, *b, *r;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    cr_assert_eq(cg_model_create(&c, &b), CG_OK);
    float *x = t_alloc(16 * 784);
    t_fill(x, 16 * 784, 0, 1, 41);
    for (int i = 0; i < 2; i++) cr_assert_eq(cg_model_step(a, x, NULL, NULL, NULL), CG_OK);
    char path[256];
    tmp_path(path, sizeof path, "ema.cgck");
    cr_assert_eq(cg_model_save(a, path, "{}"), CG_OK, "%s", cg_last_error());
    cr_assert_eq(cg_model_load(path, 1, &r, NULL, 0), CG_OK, "%s", cg_last_error());
    cr_assert_float_eq(cg_model_config_of(r)->ema, 0.99f, 0);
    cr_assert_not_null(r->ema_d);
    cr_assert_eq(memcmp(a->ema_d, r->ema_d, a->pd.n * sizeof(float)), 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(cg_model_step(b, x, NULL, NULL, NULL), CG_OK);
    for (int i = 0; i < 2; i++) cr_assert_eq(cg_model_step(r, x, NULL, NULL, NULL), CG_OK);
    cr_assert_eq(memcmp(b->ema_d, r->ema_d, b->pd.n * sizeof(float)), 0, "resumed average");
    cr_assert_eq(memcmp(b->pd.w, r->pd.w, b->pd.n * sizeof(float)), 0);
    unlink(path);
    cg_free(x);
    cg_model_destroy(a);
    cg_model_destroy(b);
    cg_model_destroy(r);
}

static int count_noise(const struct cg_net *n, float sigma) {
    int k = 0;
    for (int i = 0; i < n->nlayers; i++)
        k += n->L[i].kind == CG_LAYER_NOISE && n->L[i].sigma == sigma;
    return k;
}

/* cfg.d_noise puts a noise layer before each of conv D's 7 conv/dense layers and nowhere else:
 * same parameters and initial weights, the same clean evaluation, other training steps; it
 * survives a checkpoint, and only conv takes it. */
Test(checkpoint, conv_d_noise_trains_differently_evaluates_clean_and_is_kept) {
    struct cg_net g0, d0, g1, d1;
    cr_assert_eq(cg_model_build_nets("conv", 1, 28, 28, 10, 0.0f, 1, &g0, &d0), CG_OK);
    cr_assert_eq(cg_model_build_nets("conv", 1, 28, 28, 10, 0.3f, 1, &g1, &d1), CG_OK);
    cr_assert_eq(count_noise(&d0, 0.3f), 0);
    cr_assert_eq(count_noise(&d1, 0.3f), 7);
    cr_assert_eq(d1.nlayers, d0.nlayers + 7);
    for (int i = 0; i < d1.nlayers; i++) {
        enum cg_layer_kind k = d1.L[i].kind;
        if (k == CG_LAYER_CONV || k == CG_LAYER_LINEAR)
            cr_assert_eq(d1.L[i - 1].kind, CG_LAYER_NOISE, "layer %d has no noise before it", i);
    }
    cr_assert_eq(d1.nparams, d0.nparams);
    cr_assert_eq(g1.nlayers, g0.nlayers);
    cr_assert_eq(cg_model_build_nets("conv", 1, 256, 256, 2, 0.3f, 1, &g1, &d1), CG_OK,
                 "256x256 D with noise: %s", cg_last_error());

    struct cg_model_config c = small_cfg("conv", 0), bad = c;
    c.ema = 0.0f;
    cg_model *a, *b, *r;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    c.d_noise = 0.3f;
    cr_assert_eq(cg_model_create(&c, &b), CG_OK, "%s", cg_last_error());
    cr_assert_eq(memcmp(a->pd.w, b->pd.w, a->pd.n * sizeof(float)), 0, "initial D differs");
    float *x = t_alloc(16 * 784), *pa = t_alloc(16 * 10), *pb = t_alloc(16 * 10);
    t_fill(x, 16 * 784, 0, 1, 43);
    cr_assert_eq(cg_model_classify(a, x, 16, pa, NULL), CG_OK);
    cr_assert_eq(cg_model_classify(b, x, 16, pb, NULL), CG_OK);
    cr_assert_eq(memcmp(pa, pb, 16 * 10 * sizeof(float)), 0, "evaluation must be noise-free");
    cr_assert_eq(cg_model_step(a, x, NULL, NULL, NULL), CG_OK);
    cr_assert_eq(cg_model_step(b, x, NULL, NULL, NULL), CG_OK);
    cr_assert_gt(t_max_abs_diff(a->pd.w, b->pd.w, a->pd.n), 0, "noise changed no step");

    char path[256];
    tmp_path(path, sizeof path, "dnoise.cgck");
    cr_assert_eq(cg_model_save(b, path, "{}"), CG_OK, "%s", cg_last_error());
    cr_assert_eq(cg_model_load(path, 1, &r, NULL, 0), CG_OK, "%s", cg_last_error());
    cr_assert_float_eq(cg_model_config_of(r)->d_noise, 0.3f, 0);
    cr_assert_eq(cg_model_step(b, x, NULL, NULL, NULL), CG_OK);
    cr_assert_eq(cg_model_step(r, x, NULL, NULL, NULL), CG_OK);
    cr_assert_eq(memcmp(b->pd.w, r->pd.w, b->pd.n * sizeof(float)), 0, "resumed noisy step");
    unlink(path);

    cg_model *m = NULL;
    bad.d_noise = -0.1f;
    cr_assert_eq(cg_model_create(&bad, &m), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "d_noise=-0.1") != NULL, "%s", cg_last_error());
    bad = small_cfg("pi-mnist", 0);
    bad.d_noise = 0.3f;
    cr_assert_eq(cg_model_create(&bad, &m), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "only the conv arch") != NULL, "%s", cg_last_error());
    cr_assert_null(m);
    cg_free(x); cg_free(pa); cg_free(pb);
    cg_model_destroy(a);
    cg_model_destroy(b);
    cg_model_destroy(r);
}

static void corrupt_at(const char *path, long off, int truncate_instead) {
    if (truncate_instead) {
        cr_assert_eq(truncate(path, off), 0);
        return;
    }
    FILE *f = fopen(path, "r+b");
    fseek(f, off, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
}

Test(checkpoint, refuses_truncated_corrupt_and_foreign_files) {
    struct cg_model_config c = small_cfg("mlp2d", 0);
    cg_model *a, *r = NULL;
    cr_assert_eq(cg_model_create(&c, &a), CG_OK);
    char path[256];
    tmp_path(path, sizeof path, "bad.cgck");
    const long offs[] = {500, 40, 2000};
    for (int mode = 0; mode < 4; mode++) {
        cr_assert_eq(cg_model_save(a, path, "{}"), CG_OK);
        if (mode == 3) corrupt_at(path, 3000, 1);
        else corrupt_at(path, offs[mode], 0);
        enum cg_status st = cg_model_load(path, 1, &r, NULL, 0);
        cr_assert_eq(st, CG_ERR_FORMAT, "mode %d: %s", mode, cg_last_error());
        cr_assert_null(r);
        cr_assert(strstr(cg_last_error(), path) != NULL, "names the file: %s", cg_last_error());
    }
    FILE *f = fopen(path, "wb");
    fputs("hello, not a checkpoint at all, but long enough to hold a header ......"
          "..................................................................", f);
    fclose(f);
    cr_assert_eq(cg_model_load(path, 1, &r, NULL, 0), CG_ERR_FORMAT);
    cr_assert(strstr(cg_last_error(), "not a catgan checkpoint") != NULL);
    unlink(path);
    cr_assert_eq(cg_model_load(path, 1, &r, NULL, 0), CG_ERR_IO);
    cr_assert_eq(cg_model_save(a, "/nonexistent-dir/x.cgck", NULL), CG_ERR_IO);
    cg_model_destroy(a);
}

/* A non-finite loss stops the step before any weight moves, naming the iteration and term. */
Test(model, nan_input_is_a_numeric_error_and_nothing_moves) {
    struct cg_model_config c = small_cfg("mlp2d", 0);
    cg_model *m;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK);
    float x[32];
    int32_t y[16];
    two_blobs(x, y, 16, 9);
    cr_assert_eq(cg_model_step(m, x, NULL, NULL, NULL), CG_OK);
    float *d0 = t_alloc(m->pd.n);
    memcpy(d0, m->pd.w, m->pd.n * sizeof(float));
    x[5] = NAN;
    cr_assert_eq(cg_model_step(m, x, NULL, NULL, NULL), CG_ERR_NUMERIC);
    cr_assert(strstr(cg_last_error(), "iteration 2: h_x is not finite") != NULL, "%s",
              cg_last_error());
    cr_assert_eq(memcmp(d0, m->pd.w, m->pd.n * sizeof(float)), 0, "D must not move");
    cr_assert_eq(cg_model_iteration(m), 1);
    cg_free(d0);
    cg_model_destroy(m);
}

/* The gradient check: every position, both signs of infinity, NaN, and the threaded branch
 * (n > 65536); the largest finite values, denormals and -0 are finite. */
Test(model, all_finite_finds_every_inf_and_nan) {
    const size_t sizes[] = {1, 7, 17, 70001};
    const float bad[] = {INFINITY, -INFINITY, NAN, -NAN};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const size_t n = sizes[s];
        float *x = t_alloc(n);
        for (size_t i = 0; i < n; i++)
            x[i] = i % 4 == 0 ? FLT_MAX : i % 4 == 1 ? -FLT_MAX : i % 4 == 2 ? 1e-45f : -0.0f;
        for (int nt = 1; nt <= 2; nt++) {
            cr_assert(cg_all_finite(x, n, nt), "n=%zu nt=%d: all finite", n, nt);
            const size_t at[] = {0, n / 2, n - 1};
            for (size_t a = 0; a < 3; a++)
                for (size_t b = 0; b < 4; b++) {
                    const float keep = x[at[a]];
                    x[at[a]] = bad[b];
                    cr_assert(!cg_all_finite(x, n, nt), "n=%zu nt=%d: %g at %zu", n, nt,
                              (double)bad[b], at[a]);
                    x[at[a]] = keep;
                }
        }
        cg_free(x);
    }
}

/* CONTRACT.md: 256x256x1 with K=2 must train (the user of ../shared/seed). One step at a small
 * batch: the stride-2 stages adapt (D ends at 8x8) and everything stays finite. */
Test(model, conv_256x256_two_classes_trains_a_step) {
    struct cg_model_config c = small_cfg("conv", 1);
    c.h = c.w = 256;
    c.k = 2;
    c.batch = 2;
    c.threads = 2;
    cg_model *m;
    cr_assert_eq(cg_model_create(&c, &m), CG_OK, "%s", cg_last_error());
    float *x = t_alloc(2 * 65536);
    t_fill(x, 2 * 65536, 0, 1, 3);
    int32_t y[2] = {0, 1};
    cg_catgan_terms t;
    cr_assert_eq(cg_model_step(m, x, x, y, &t), CG_OK, "%s", cg_last_error());
    cr_assert(isfinite(t.d_loss) && isfinite(t.g_loss) && t.ce > 0);
    cg_free(x);
    cg_model_destroy(m);
}

/* Issue 5: one full training iteration through the optimised path (best ISA, fused upsample +
 * conv, shifted-view convolutions) equals the plain reference path (scalar kernels, separate
 * upsample and conv) to float tolerance: losses, every gradient-driven weight update. */
Test(model, optimised_iteration_equals_reference_path) {
    if (cg_cpu_best() == CG_ISA_REF) cr_skip_test("no SIMD ISA on this CPU");
    struct cg_model_config c = small_cfg("conv", 1);
    c.batch = 8;
    /* G's step runs through the updated D; Adam's first step is lr * sign(g), so a rounding
     * sign flip of a near-zero D gradient moves that weight by 2 lr: keep lr tiny */
    c.lr = 1e-7f;
    enum { D = 784, B = 8 };
    float *x = t_alloc(B * D), *xl = t_alloc(B * D);
    t_fill(x, B * D, 0, 1, 21);
    t_fill(xl, B * D, 0, 1, 22);
    int32_t y[B] = {0, 1, 2, 3, 4, 5, 6, 7};
    cg_model *m[2];
    cg_catgan_terms t[2];
    for (int i = 0; i < 2; i++) {
        struct cg_init_opts o = {.isa_cap = i ? -1 : CG_ISA_REF, .ignore_env = 1};
        cr_assert_eq(cg_init(&o), CG_OK);
        snprintf(c.arch, sizeof c.arch, "%s", i ? "conv" : "conv-unfused");
        cr_assert_eq(cg_model_create(&c, &m[i]), CG_OK, "%s", cg_last_error());
        cr_assert_eq(cg_model_step(m[i], x, xl, y, &t[i]), CG_OK, "%s", cg_last_error());
    }
    cr_assert_eq(m[0]->pg.n, m[1]->pg.n, "the fused layer keeps G's parameter layout");
    const float *a = &t[0].h_x, *b = &t[1].h_x;
    for (int j = 0; j < 7; j++) /* float sums in other orders: ~1e-6 relative */
        cr_expect(fabsf(a[j] - b[j]) <= 1e-4f * (1 + fabsf(a[j])), "term %d: %g vs %g", j,
                  (double)a[j], (double)b[j]);
    /* The gradients of both steps (kept in the models after Adam). Compared against the
     * largest gradient, since Adam's first step is lr * sign(g) and near-zero gradients may
     * flip sign under rounding; float sums in other orders give ~1e-6 of the largest, a
     * wrong or missing term gives O(1). */
    for (int net = 0; net < 2; net++) {
        const struct cg_params *p0 = net ? &m[0]->pd : &m[0]->pg, *p1 = net ? &m[1]->pd : &m[1]->pg;
        double gmax = 0;
        for (size_t j = 0; j < p0->n; j++) gmax = fmax(gmax, fabs(p0->g[j]));
        double diff = t_max_abs_diff(p0->g, p1->g, p0->n);
        cr_expect_gt(gmax, 0);
        cr_expect_lt(diff, 1e-3 * gmax, "%s gradients differ by %g (largest %g)",
                     net ? "D" : "G", diff, gmax);
    }
    cr_assert_eq(cg_init(NULL), CG_OK);
    cg_free(x);
    cg_free(xl);
    cg_model_destroy(m[0]);
    cg_model_destroy(m[1]);
}
