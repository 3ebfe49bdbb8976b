/* The architectures of CONTRACT.md (conv, pi-mnist, mlp2d) built from the engine's layers, and
 * the per-architecture training constants; the iteration that trains them is in model.c. */
#include <string.h>

#include "nn/model.h"

#define LRELU 0.1f

/* ---- architectures ------------------------------------------------------------------------ */

#define TRY(expr)                                                                            \
    do {                                                                                     \
        enum cg_status st_ = (expr);                                                         \
        if (st_ != CG_OK) return st_;                                                        \
    } while (0)

/* Stride-2 stages so that D ends near 7x7 (or 8x8, 4x4) before its dense layers. */
static int conv_stages(int h, int w) {
    int p = 0;
    while (h % 2 == 0 && w % 2 == 0 && h > 8 && w > 8) {
        h /= 2;
        w /= 2;
        p++;
    }
    return p;
}

/* Gaussian noise of sigma s on the next layer's input in training; nothing for s == 0, so the
 * CONTRACT.md net keeps its layers (and its random streams) exactly. */
static enum cg_status maybe_noise(struct cg_net *n, float s) {
    return s > 0.0f ? cg_net_noise(n, s) : CG_OK;
}

static enum cg_status conv_lrelu(struct cg_net *n, int oc, int k, float noise) {
    TRY(maybe_noise(n, noise));
    TRY(cg_net_conv(n, oc, k, 1, k / 2));
    return cg_net_lrelu(n, LRELU);
}

/* fused: G's "upsample x2, conv5x5" pairs as one layer (the default); 0 keeps them apart, the
 * plain reference the optimised path is tested against (arch "conv-unfused", internal).
 * noise: D's optional Gaussian noise (cfg.d_noise), before every conv and dense layer as in
 * pi-mnist's D. */
static enum cg_status build_conv(int c, int h, int w, int k, int fused, float noise,
                                 struct cg_net *g, struct cg_net *d) {
    int p = conv_stages(h, w);
    /* D: conv5x5 32, pool; [conv3x3 64] x2, pool (repeated per extra stage); conv3x3 128;
     * conv1x1 10; fc 128; fc K. All convolutions keep their size. */
    TRY(conv_lrelu(d, 32, 5, noise));
    if (p >= 1) TRY(cg_net_maxpool(d, 3, 2, 1));
    int mid = p > 1 ? p - 1 : 1;
    for (int s = 0; s < mid; s++) {
        TRY(conv_lrelu(d, 64, 3, noise));
        TRY(conv_lrelu(d, 64, 3, noise));
        if (s + 1 < p) TRY(cg_net_maxpool(d, 3, 2, 1));
    }
    TRY(conv_lrelu(d, 128, 3, noise));
    TRY(conv_lrelu(d, 10, 1, noise));
    TRY(maybe_noise(d, noise));
    TRY(cg_net_linear(d, 128));
    TRY(cg_net_lrelu(d, LRELU));
    TRY(maybe_noise(d, noise));
    TRY(cg_net_linear(d, k));
    /* G mirrors it: fc 128 -> 96 x h0 x w0, BN, lrelu; [up x2, conv5x5 64, BN, lrelu] per
     * stage; conv5x5 c, sigmoid. */
    int h0 = h >> p, w0 = w >> p;
    TRY(cg_net_linear(g, 96 * h0 * w0));
    TRY(cg_net_bn(g));
    TRY(cg_net_lrelu(g, LRELU));
    TRY(cg_net_reshape(g, 96, h0, w0));
    /* BN over a dense layer's output normalises per feature; after the reshape it must be per
     * channel, which is what the PyTorch reference does too (BatchNorm1d on 96*h0*w0). */
    for (int s = 0; s < (p > 0 ? p : 1); s++) {
        /* upsample x2 then conv5x5, fused: the same function with 2.8x fewer FLOPs */
        if (p > 0 && fused) {
            TRY(cg_net_upconv(g, 64, 5));
        } else {
            if (p > 0) TRY(cg_net_upsample(g, 2));
            TRY(cg_net_conv(g, 64, 5, 1, 2));
        }
        TRY(cg_net_bn(g));
        TRY(cg_net_lrelu(g, LRELU));
    }
    TRY(cg_net_conv(g, c, 5, 1, 2));
    return cg_net_sigmoid(g);
}

static enum cg_status build_pi(int c, int h, int w, int k, struct cg_net *g, struct cg_net *d) {
    static const int dh[] = {1000, 500, 250, 250, 250}, gh[] = {500, 500, 1000};
    /* D: Gaussian noise (sigma 0.3) on the input and every hidden layer's input */
    for (size_t i = 0; i < sizeof dh / sizeof dh[0]; i++) {
        TRY(cg_net_noise(d, 0.3f));
        TRY(cg_net_linear(d, dh[i]));
        TRY(cg_net_bn(d));
        TRY(cg_net_lrelu(d, LRELU));
    }
    TRY(cg_net_noise(d, 0.3f));
    TRY(cg_net_linear(d, k));
    for (size_t i = 0; i < sizeof gh / sizeof gh[0]; i++) {
        TRY(cg_net_linear(g, gh[i]));
        TRY(cg_net_bn(g));
        TRY(cg_net_lrelu(g, LRELU));
    }
    TRY(cg_net_linear(g, c * h * w));
    TRY(cg_net_sigmoid(g));
    return cg_net_reshape(g, c, h, w);
}

/* 2-D toy data (docs/toy.md). D: Gaussian noise (sigma 0.2, about a third of the gap between
 * the standardised moons) on the input keeps D's boundary off the data (without it moons seeds
 * 2 and 6 settle on a wrong split). The radial lift appends |x|^2, batch-normalised per pass:
 * at small logits D first grows the mode with the largest Var_real(f) - E_fake(f^2), which for
 * a raw radial feature always loses to a straight split, so circles never separate; normalised
 * per pass, real and fake score alike on it and the higher-order terms (two-valued |x|^2 on
 * the rings) choose the radial split. At 0.7 of unit scale it still leaves moons to x, y (1.0:
 * moons seed 6 fails, 0.2: circles fail). The output layer starts at 0.1 x He so the logits
 * start small, where that expansion holds. G: BN on its output, so its initial cloud has unit
 * variance per axis like the data (standardised to unit RMS): the straight split then scores
 * nothing at second order on circles and still wins on moons (gamma 0.8 or 1.2 fails). */
static enum cg_status build_mlp2d(int c, int h, int w, int k, struct cg_net *g,
                                  struct cg_net *d) {
    TRY(cg_net_noise(d, 0.2f));
    TRY(cg_net_radial_lift(d, 0.7f));
    TRY(cg_net_linear(d, 100));
    TRY(cg_net_lrelu(d, LRELU));
    TRY(cg_net_linear(d, 100));
    TRY(cg_net_lrelu(d, LRELU));
    TRY(cg_net_linear(d, k));
    TRY(cg_net_init_scale(d, 0.1f));
    TRY(cg_net_linear(g, 100));
    TRY(cg_net_bn(g));
    TRY(cg_net_lrelu(g, LRELU));
    TRY(cg_net_linear(g, 100));
    TRY(cg_net_bn(g));
    TRY(cg_net_lrelu(g, LRELU));
    TRY(cg_net_linear(g, c * h * w));
    TRY(cg_net_bn(g));
    return cg_net_reshape(g, c, h, w);
}

enum cg_status cg_model_build_nets(const char *arch, int c, int h, int w, int k, float d_noise,
                                   int nt, struct cg_net *g, struct cg_net *d) {
    cg_net_begin(d, c, h, w, nt);
    cg_net_begin(g, CG_ZDIM, 1, 1, nt);
    if (strcmp(arch, "conv") == 0) return build_conv(c, h, w, k, 1, d_noise, g, d);
    if (strcmp(arch, "conv-unfused") == 0) return build_conv(c, h, w, k, 0, d_noise, g, d);
    if (strcmp(arch, "pi-mnist") != 0 && strcmp(arch, "mlp2d") != 0)
        return CG_FAIL(CG_ERR_INVALID_ARG, "arch=%s: expected mlp2d, pi-mnist or conv", arch);
    /* their Ds have noise of their own, chosen by experiment (docs/results.md, docs/toy.md) */
    if (d_noise > 0.0f)
        return CG_FAIL(CG_ERR_INVALID_ARG, "d_noise=%g: only the conv arch takes it (%s has its "
                       "own fixed noise)", (double)d_noise, arch);
    if (strcmp(arch, "pi-mnist") == 0) return build_pi(c, h, w, k, g, d);
    return build_mlp2d(c, h, w, k, g, d);
}

/* Two time-scales (Heusel et al. 2017): on 2-D data a G as fast as D moves its samples into
 * D's confident regions every step, D never keeps them uncertain, and the split it settles on
 * is a straight line (k-means-like). A slower G lets D follow the data's low-density gaps. */
float cg_model_g_lr_ratio(const char *arch) {
    /* mlp2d, 1/20 (docs/toy.md): at 1/100 G hardly leaves its initial cloud and D keeps the
     * split it starts with (moons seeds 2/3: 0.84/0.93); at 1/10 G follows D's confident
     * regions closely enough to pull the split straight again (4 of 6 seeds < 0.86). */
    if (strcmp(arch, "mlp2d") == 0) return 0.05f;
    /* pi-mnist, 2.5x (docs/results.md): at 1x D wins the game outright (h_fake ~2.25 of
     * log 10), G's samples keep a speckled background D tells apart at a glance, and D ends up
     * doing plain entropy minimisation on the real data; a faster G keeps h_fake near 1-1.5
     * and the samples near the data (100 labels, 10 epochs, seeds 1/3: 5.9/10% -> 5.0/5.9%) */
    if (strcmp(arch, "pi-mnist") == 0) return 2.5f;
    return 1.0f;
}

