/* Sequential networks: shape inference at build time, one planned block of activations per
 * pass, forward and backward as plain loops over the layers (backward is forward reversed). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dist/dist.h"
#include "nn/net.h"
#include "simd/kernels.h"

void cg_net_begin(struct cg_net *net, int c, int h, int w, int nt) {
    memset(net, 0, sizeof *net);
    net->in_c = c;
    net->in_h = h;
    net->in_w = w;
    net->in_size = net->out_size = net->max_size = (size_t)c * h * w;
    net->nt = nt;
}

/* Current output shape: the last layer's, or the input's. */
static void cur_shape(const struct cg_net *net, int *c, int *h, int *w) {
    if (net->nlayers == 0) {
        *c = net->in_c; *h = net->in_h; *w = net->in_w;
    } else {
        const struct cg_layer *l = &net->L[net->nlayers - 1];
        *c = l->oc; *h = l->oh; *w = l->ow;
    }
}

static struct cg_layer *push(struct cg_net *net, enum cg_layer_kind kind) {
    if (net->nlayers >= CG_NET_MAX) return NULL;
    struct cg_layer *l = &net->L[net->nlayers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    cur_shape(net, &l->c, &l->h, &l->w);
    l->oc = l->c; l->oh = l->h; l->ow = l->w;
    return l;
}

static enum cg_status commit(struct cg_net *net, struct cg_layer *l) {
    l->in_size = (size_t)l->c * l->h * l->w;
    l->out_size = (size_t)l->oc * l->oh * l->ow;
    l->w_off = net->nparams;
    l->b_off = net->nparams + l->nw;
    net->nparams += l->nw + l->nb;
    if (l->kind == CG_LAYER_BN) {
        l->st_off = net->nstate;
        net->nstate += 2 * (size_t)l->oc;
    }
    if (l->kind == CG_LAYER_RLIFT) {
        l->st_off = net->nstate;
        net->nstate += 2;
    }
    if (l->out_size > net->max_size) net->max_size = l->out_size;
    net->out_size = l->out_size;
    net->nlayers++;
    return CG_OK;
}

#define PUSH_OR_FAIL(l, net, kind)                                                           \
    struct cg_layer *l = push(net, kind);                                                    \
    if (!l) return CG_FAIL(CG_ERR_INVALID_ARG, "more than %d layers", CG_NET_MAX)

enum cg_status cg_net_linear(struct cg_net *net, int out) {
    PUSH_OR_FAIL(l, net, CG_LAYER_LINEAR);
    int in = l->c * l->h * l->w;
    enum cg_status st = cg_linear_init(&l->u.lin, in, out, net->nt);
    if (st != CG_OK) return st;
    l->c = in; l->h = l->w = 1;
    l->oc = out; l->oh = l->ow = 1;
    l->nw = (size_t)out * in;
    l->nb = (size_t)out;
    return commit(net, l);
}

enum cg_status cg_net_conv(struct cg_net *net, int oc, int ksize, int stride, int pad) {
    PUSH_OR_FAIL(l, net, CG_LAYER_CONV);
    enum cg_status st = cg_conv2d_init(&l->u.conv, l->c, l->h, l->w, oc, ksize, stride, pad,
                                       net->nt);
    if (st != CG_OK) return st;
    l->oc = oc; l->oh = l->u.conv.oh; l->ow = l->u.conv.ow;
    l->nw = (size_t)oc * l->c * ksize * ksize;
    l->nb = (size_t)oc;
    return commit(net, l);
}

enum cg_status cg_net_maxpool(struct cg_net *net, int k, int stride, int pad) {
    PUSH_OR_FAIL(l, net, CG_LAYER_MAXPOOL);
    enum cg_status st = cg_maxpool_init(&l->u.pool, l->c, l->h, l->w, k, stride, pad, net->nt);
    if (st != CG_OK) return st;
    l->oh = l->u.pool.oh; l->ow = l->u.pool.ow;
    return commit(net, l);
}

enum cg_status cg_net_upsample(struct cg_net *net, int scale) {
    PUSH_OR_FAIL(l, net, CG_LAYER_UPSAMPLE);
    enum cg_status st = cg_upsample_init(&l->u.up, l->c, l->h, l->w, scale, net->nt);
    if (st != CG_OK) return st;
    l->oh = l->h * scale; l->ow = l->w * scale;
    return commit(net, l);
}

enum cg_status cg_net_upconv(struct cg_net *net, int oc, int ksize) {
    PUSH_OR_FAIL(l, net, CG_LAYER_UPCONV);
    enum cg_status st = cg_upconv2d_init(&l->u.upconv, l->c, l->h, l->w, oc, ksize, net->nt);
    if (st != CG_OK) return st;
    l->oc = oc; l->oh = 2 * l->h; l->ow = 2 * l->w;
    l->nw = (size_t)oc * l->c * ksize * ksize;
    l->nb = (size_t)oc;
    return commit(net, l);
}

enum cg_status cg_net_bn(struct cg_net *net) {
    PUSH_OR_FAIL(l, net, CG_LAYER_BN);
    /* PyTorch's defaults, so the reference nets compute the same function */
    enum cg_status st = cg_batchnorm_init(&l->u.bn, l->c, l->h * l->w, 1e-5f, 0.1f, net->nt);
    if (st != CG_OK) return st;
    l->nw = l->nb = (size_t)l->c;
    return commit(net, l);
}

enum cg_status cg_net_lrelu(struct cg_net *net, float slope) {
    PUSH_OR_FAIL(l, net, CG_LAYER_LRELU);
    if (!(slope > 0.0f && slope < 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "slope=%g must be in (0,1)", (double)slope);
    l->slope = slope;
    l->in_place = 1;
    return commit(net, l);
}

enum cg_status cg_net_sigmoid(struct cg_net *net) {
    PUSH_OR_FAIL(l, net, CG_LAYER_SIGMOID);
    return commit(net, l);
}

enum cg_status cg_net_noise(struct cg_net *net, float sigma) {
    PUSH_OR_FAIL(l, net, CG_LAYER_NOISE);
    if (!(sigma >= 0.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "sigma=%g must be >= 0", (double)sigma);
    l->sigma = sigma;
    return commit(net, l);
}

enum cg_status cg_net_radial_lift(struct cg_net *net, float scale) {
    PUSH_OR_FAIL(l, net, CG_LAYER_RLIFT);
    int in = l->c * l->h * l->w;
    enum cg_status st = cg_radial_lift_init(&l->u.rlift, in, scale);
    if (st != CG_OK) return st;
    l->c = in; l->h = l->w = 1;
    l->oc = in + 1; l->oh = l->ow = 1;
    return commit(net, l);
}

enum cg_status cg_net_init_scale(struct cg_net *net, float s) {
    struct cg_layer *l = net->nlayers ? &net->L[net->nlayers - 1] : NULL;
    if (!l || !(l->kind == CG_LAYER_LINEAR || l->kind == CG_LAYER_CONV ||
                l->kind == CG_LAYER_UPCONV))
        return CG_FAIL(CG_ERR_INVALID_ARG, "the last layer has no weights to scale");
    if (!(s > 0.0f) || !isfinite(s))
        return CG_FAIL(CG_ERR_INVALID_ARG, "s=%g must be > 0 and finite", (double)s);
    l->init_scale = s;
    return CG_OK;
}

enum cg_status cg_net_reshape(struct cg_net *net, int c, int h, int w) {
    int c0, h0, w0;
    cur_shape(net, &c0, &h0, &w0);
    if ((size_t)c * h * w != (size_t)c0 * h0 * w0 || c < 1 || h < 1 || w < 1)
        return CG_FAIL(CG_ERR_INVALID_ARG, "cannot reshape %dx%dx%d to %dx%dx%d", c0, h0, w0,
                       c, h, w);
    if (net->nlayers == 0) {
        net->in_c = c; net->in_h = h; net->in_w = w;
    } else {
        struct cg_layer *l = &net->L[net->nlayers - 1];
        l->oc = c; l->oh = h; l->ow = w;
    }
    return CG_OK;
}

/* ---- planning ----------------------------------------------------------------------------- */

/* Walks the pass layout; with mem == NULL only counts. Activations of in-place layers alias
 * their input, so a conv + leaky ReLU pair costs one buffer. */
static size_t layout(const struct cg_net *net, int n, struct cg_pass *p, unsigned char *mem) {
    size_t off = 0;
#define TAKE(ptr, type, count)                                                                \
    do {                                                                                     \
        size_t bytes_ = cg_align_up((size_t)(count) * sizeof(type));                         \
        if (mem) (ptr) = (type *)(void *)(mem + off);                                        \
        off += bytes_;                                                                       \
    } while (0)
    float *a0 = NULL;
    TAKE(a0, float, (size_t)n * net->in_size);
    if (p) p->act[0] = a0;
    for (int i = 0; i < net->nlayers; i++) {
        const struct cg_layer *l = &net->L[i];
        float *y = NULL, *mean = NULL, *rstd = NULL;
        int32_t *am = NULL;
        if (l->in_place) {
            if (p) y = p->act[i];
        } else {
            TAKE(y, float, (size_t)n * l->out_size);
        }
        if (l->kind == CG_LAYER_BN) {
            TAKE(mean, float, l->oc);
            TAKE(rstd, float, l->oc);
        }
        if (l->kind == CG_LAYER_RLIFT) {
            TAKE(mean, float, 1);
            TAKE(rstd, float, 1);
        }
        if (l->kind == CG_LAYER_MAXPOOL) TAKE(am, int32_t, (size_t)n * l->out_size);
        if (p) {
            p->act[i + 1] = y;
            p->mean[i] = mean;
            p->rstd[i] = rstd;
            p->argmax[i] = am;
        }
    }
#undef TAKE
    return off;
}

size_t cg_net_pass_bytes(const struct cg_net *net, int n) { return layout(net, n, NULL, NULL); }

void cg_net_pass_bind(const struct cg_net *net, int n, struct cg_pass *p, unsigned char *mem) {
    memset(p, 0, sizeof *p);
    layout(net, n, p, mem);
}

size_t cg_net_ws_bytes(const struct cg_net *net, int n) {
    size_t ws = 0;
    for (int i = 0; i < net->nlayers; i++) {
        size_t b = 0;
        if (net->L[i].kind == CG_LAYER_CONV) b = cg_conv2d_ws_size(&net->L[i].u.conv, n);
        if (net->L[i].kind == CG_LAYER_UPCONV) b = cg_upconv2d_ws_size(&net->L[i].u.upconv, n);
        if (b > ws) ws = b;
    }
    return ws;
}

size_t cg_net_bn_max_c(const struct cg_net *net) {
    size_t c = 0;
    for (int i = 0; i < net->nlayers; i++)
        if (net->L[i].kind == CG_LAYER_BN && (size_t)net->L[i].oc > c) c = (size_t)net->L[i].oc;
        else if (net->L[i].kind == CG_LAYER_RLIFT && c < 1) c = 1;   /* its two sums */
    return c;
}

/* ---- initialisation ----------------------------------------------------------------------- */

/* He et al. 2015 with the leaky-ReLU gain: without it D's logits barely differ across a batch,
 * p(y|x) is uniform, and uniform p is a stationary point of every CatGAN entropy (NOTES.md). */
void cg_net_init_params(const struct cg_net *net, float *w, float *state, uint64_t seed) {
    struct cg_rng r;
    cg_rng_seed(&r, seed, 0x1417);
    const float gain = sqrtf(2.0f / (1.0f + 0.1f * 0.1f));
    for (int i = 0; i < net->nlayers; i++) {
        const struct cg_layer *l = &net->L[i];
        if (l->kind == CG_LAYER_LINEAR || l->kind == CG_LAYER_CONV ||
            l->kind == CG_LAYER_UPCONV) {
            size_t fan_in = l->nw / (size_t)l->oc;
            float scale = l->init_scale > 0.0f ? l->init_scale : 1.0f;
            cg_rng_fill_normal(&r, w + l->w_off, l->nw, 0.0f,
                               scale * gain / sqrtf((float)fan_in), 1);
            memset(w + l->b_off, 0, l->nb * sizeof(float));
        } else if (l->kind == CG_LAYER_BN) {
            for (size_t j = 0; j < l->nw; j++) w[l->w_off + j] = 1.0f;
            memset(w + l->b_off, 0, l->nb * sizeof(float));
            for (int j = 0; j < l->oc; j++) {
                state[l->st_off + j] = 0.0f;
                state[l->st_off + l->oc + j] = 1.0f;
            }
        } else if (l->kind == CG_LAYER_RLIFT) {
            state[l->st_off] = (float)l->c;
            state[l->st_off + 1] = 2.0f * (float)l->c;
        }
    }
}

/* ---- profiling ---------------------------------------------------------------------------- */

double cg_layer_flops(const struct cg_layer *l) {
    /* nominal: the upsample+conv pair counts as the conv on the upsampled input */
    if (l->kind == CG_LAYER_LINEAR || l->kind == CG_LAYER_CONV || l->kind == CG_LAYER_UPCONV)
        return 2.0 * (double)l->nw * (double)l->oh * l->ow;
    return 0.0;
}

void cg_layer_describe(const struct cg_layer *l, char *buf, size_t cap) {
    switch (l->kind) {
    case CG_LAYER_LINEAR: snprintf(buf, cap, "linear %zu->%d", l->in_size, l->oc); break;
    case CG_LAYER_CONV:
        snprintf(buf, cap, "conv%dx%d %d->%d %dx%d", l->u.conv.kh, l->u.conv.kw, l->c, l->oc,
                 l->oh, l->ow);
        break;
    case CG_LAYER_MAXPOOL:
        snprintf(buf, cap, "maxpool%d s%d %dx%dx%d", l->u.pool.k, l->u.pool.stride, l->c, l->oh,
                 l->ow);
        break;
    case CG_LAYER_UPSAMPLE: snprintf(buf, cap, "upsample x2 %dx%dx%d", l->oc, l->oh, l->ow); break;
    case CG_LAYER_UPCONV:
        snprintf(buf, cap, "up2+conv%dx%d %d->%d %dx%d", l->u.upconv.k, l->u.upconv.k, l->c,
                 l->oc, l->oh, l->ow);
        break;
    case CG_LAYER_BN: snprintf(buf, cap, "batchnorm %d x %d", l->oc, l->oh * l->ow); break;
    case CG_LAYER_LRELU: snprintf(buf, cap, "leaky relu %zu", l->out_size); break;
    case CG_LAYER_SIGMOID: snprintf(buf, cap, "sigmoid %zu", l->out_size); break;
    case CG_LAYER_NOISE: snprintf(buf, cap, "gaussian noise %zu", l->out_size); break;
    case CG_LAYER_RLIFT:
        snprintf(buf, cap, "radial lift %zu->%zu", l->in_size, l->out_size);
        break;
    }
}

/* ---- forward / backward ------------------------------------------------------------------ */

static uint64_t layer_stream(uint64_t stream, int i) { return stream ^ ((uint64_t)i << 48); }

/* cg_gauss_noise_forward with counters starting at idx0: a rank's shard draws exactly the
 * elements it holds of the single-process batch. */
#define NOISE_CHUNK ((size_t)4096)
static void gauss_noise_at(size_t count, float sigma, uint64_t key, uint64_t stream,
                           uint64_t idx0, const float *x, float *y, int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = (ptrdiff_t)((count + NOISE_CHUNK - 1) / NOISE_CHUNK);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * NOISE_CHUNK, len = count - i < NOISE_CHUNK ? count - i : NOISE_CHUNK;
        k->gauss(len, key, stream, idx0 + i, sigma, x + i, y + i);
    }
}

/* Training-mode batch norm over every rank's examples: local sums, summed over the ranks,
 * then the usual normalisation with the global statistics. */
static void bn_forward_sync(const struct cg_net *net, const struct cg_layer *l, int n,
                            const float *x, const float *gamma, const float *beta, float *y,
                            float *mean, float *rstd, float *rm, float *rv) {
    double *s = net->sync_buf, *ss = s + l->oc;
    cg_batchnorm_sums(&l->u.bn, n, x, s, ss);
    cg_dist_sum_d(s, 2 * l->oc);
    size_t cnt = (size_t)n * (size_t)net->ranks * (size_t)l->u.bn.hw;
    cg_batchnorm_forward_sums(&l->u.bn, n, cnt, s, ss, x, gamma, beta, y, mean, rstd, rm, rv);
}

/* The radial lift's training forward with statistics over every rank's examples. */
static void rlift_forward_sync(const struct cg_net *net, const struct cg_layer *l, int n,
                               const float *x, float *y, float *mean, float *rstd, float *rm,
                               float *rv) {
    double *s = net->sync_buf;
    cg_radial_lift_sums(&l->u.rlift, n, x, s);
    cg_dist_sum_d(s, 2);
    cg_radial_lift_forward_sums(&l->u.rlift, n, (size_t)n * (size_t)net->ranks, s, x, y, mean,
                                rstd, rm, rv);
}

void cg_net_forward(const struct cg_net *net, int n, struct cg_pass *p, const float *w,
                    float *state, int train, int update_stats, uint64_t key, uint64_t stream,
                    void *ws) {
    cg_net_forward_to(net, n, p, w, state, train, update_stats, key, stream, ws, net->nlayers);
}

void cg_net_forward_to(const struct cg_net *net, int n, struct cg_pass *p, const float *w,
                       float *state, int train, int update_stats, uint64_t key,
                       uint64_t stream, void *ws, int upto) {
    int nt = net->nt;
    for (int i = 0; i < upto; i++) {
        const struct cg_layer *l = &net->L[i];
        const float *x = p->act[i];
        float *y = p->act[i + 1];
        size_t count = (size_t)n * l->out_size;
        double t0 = net->prof ? cg_seconds() : 0;
        switch (l->kind) {
        case CG_LAYER_LINEAR:
            cg_linear_forward(&l->u.lin, n, x, w + l->w_off, w + l->b_off, y);
            break;
        case CG_LAYER_CONV:
            cg_conv2d_forward(&l->u.conv, n, x, w + l->w_off, w + l->b_off, y, ws);
            break;
        case CG_LAYER_MAXPOOL:
            cg_maxpool_forward(&l->u.pool, n, x, y, p->argmax[i]);
            break;
        case CG_LAYER_UPSAMPLE:
            cg_upsample_forward(&l->u.up, n, x, y);
            break;
        case CG_LAYER_UPCONV:
            cg_upconv2d_forward(&l->u.upconv, n, x, w + l->w_off, w + l->b_off, y, ws);
            break;
        case CG_LAYER_BN: {
            float *rm = state + l->st_off, *rv = rm + l->oc;
            if (train && net->sync)
                bn_forward_sync(net, l, n, x, w + l->w_off, w + l->b_off, y, p->mean[i],
                                p->rstd[i], update_stats ? rm : NULL, update_stats ? rv : NULL);
            else if (train)
                cg_batchnorm_forward_train(&l->u.bn, n, x, w + l->w_off, w + l->b_off, y,
                                           p->mean[i], p->rstd[i], update_stats ? rm : NULL,
                                           update_stats ? rv : NULL);
            else
                cg_batchnorm_forward_eval(&l->u.bn, n, x, w + l->w_off, w + l->b_off, rm, rv, y);
            break;
        }
        case CG_LAYER_LRELU:
            cg_lrelu_forward(count, l->slope, x, y, nt);
            break;
        case CG_LAYER_SIGMOID:
            cg_sigmoid_forward(count, x, y, nt);
            break;
        case CG_LAYER_NOISE:
            if (train && l->sigma > 0.0f && net->sync && net->ex0 > 0)
                gauss_noise_at(count, l->sigma, key, layer_stream(stream, i),
                               (uint64_t)net->ex0 * l->out_size, x, y, nt);
            else if (train && l->sigma > 0.0f)
                cg_gauss_noise_forward(count, l->sigma, key, layer_stream(stream, i), x, y, nt);
            else
                memcpy(y, x, count * sizeof(float));
            break;
        case CG_LAYER_RLIFT: {
            float *rm = state + l->st_off, *rv = rm + 1;
            if (train && net->sync)
                rlift_forward_sync(net, l, n, x, y, p->mean[i], p->rstd[i],
                                   update_stats ? rm : NULL, update_stats ? rv : NULL);
            else if (train)
                cg_radial_lift_forward_train(&l->u.rlift, n, x, y, p->mean[i], p->rstd[i],
                                             update_stats ? rm : NULL, update_stats ? rv : NULL);
            else
                cg_radial_lift_forward_eval(&l->u.rlift, n, x, rm, rv, y);
            break;
        }
        }
        if (net->prof) {
            net->prof->fwd[i] += cg_seconds() - t0;
            net->prof->n_fwd[i] += n;
        }
    }
}

static void layer_backward(const struct cg_net *net, int i, int n, struct cg_pass *p,
                           const float *w, const float *dy, float *dx, float *dw, void *ws);

/* With a profile attached, the data and weight gradients are computed by separate calls so
 * each gets its own time; every layer computes the two independently, so the bits agree. */
static void timed_backward(const struct cg_net *net, int i, int n, struct cg_pass *p,
                           const float *w, const float *dy, float *dx, float *dw, void *ws) {
    double t0 = cg_seconds();
    if (dx) layer_backward(net, i, n, p, w, dy, dx, NULL, ws);
    double t1 = cg_seconds();
    if (dw) layer_backward(net, i, n, p, w, dy, NULL, dw, ws);
    net->prof->bwd_data[i] += t1 - t0;
    net->prof->bwd_w[i] += cg_seconds() - t1;
    if (dx) net->prof->n_bwd_data[i] += n;
    if (dw) net->prof->n_bwd_w[i] += n;
}

static void layer_backward(const struct cg_net *net, int i, int n, struct cg_pass *p,
                           const float *w, const float *dy, float *dx, float *dw, void *ws) {
    const struct cg_layer *l = &net->L[i];
    const int nt = net->nt;
    float *lw = dw ? dw + l->w_off : NULL, *lb = dw ? dw + l->b_off : NULL;
    const float *x = p->act[i], *y = p->act[i + 1];
    size_t count = (size_t)n * l->out_size;
    switch (l->kind) {
    case CG_LAYER_LINEAR:
        if (dx || lw) cg_linear_backward(&l->u.lin, n, dy, x, w + l->w_off, dx, lw, lb);
        break;
    case CG_LAYER_CONV:
        if (dx || lw) cg_conv2d_backward(&l->u.conv, n, dy, x, w + l->w_off, dx, lw, lb, ws);
        break;
    case CG_LAYER_MAXPOOL:
        if (dx) cg_maxpool_backward(&l->u.pool, n, dy, p->argmax[i], dx);
        break;
    case CG_LAYER_UPSAMPLE:
        if (dx) cg_upsample_backward(&l->u.up, n, dy, dx);
        break;
    case CG_LAYER_UPCONV:
        if (dx || lw)
            cg_upconv2d_backward(&l->u.upconv, n, dy, x, w + l->w_off, dx, lw, lb, ws);
        break;
    case CG_LAYER_BN:
        if (net->sync && (dx || lw)) {
            /* dx needs sum dy and sum dy*xhat over every rank; dgamma, dbeta take this rank's
             * share only (the gradient sum over ranks adds the rest) */
            double *s1 = net->sync_buf, *s2 = s1 + l->oc;
            cg_batchnorm_backward_sums(&l->u.bn, n, dy, x, p->mean[i], p->rstd[i], s1, s2, lw,
                                       lb);
            if (dx) {
                cg_dist_sum_d(s1, 2 * l->oc);
                size_t cnt = (size_t)n * (size_t)net->ranks * (size_t)l->u.bn.hw;
                cg_batchnorm_backward_dx(&l->u.bn, n, cnt, s1, s2, dy, x, w + l->w_off,
                                         p->mean[i], p->rstd[i], dx);
            }
        } else if (dx || lw) {
            cg_batchnorm_backward(&l->u.bn, n, dy, x, w + l->w_off, p->mean[i], p->rstd[i], dx,
                                  lw, lb);
        }
        break;
    case CG_LAYER_LRELU:
        if (dx) cg_lrelu_backward(count, l->slope, y, dy, dx, nt);
        break;
    case CG_LAYER_SIGMOID:
        if (dx) cg_sigmoid_backward(count, y, dy, dx, nt);
        break;
    case CG_LAYER_NOISE:
        if (dx) cg_gauss_noise_backward(count, dy, dx, nt);
        break;
    case CG_LAYER_RLIFT:
        if (dx && net->sync) {
            double *g = net->sync_buf;
            cg_radial_lift_backward_sums(&l->u.rlift, n, dy, x, p->mean[i], p->rstd[i], g);
            cg_dist_sum_d(g, 2);
            cg_radial_lift_backward_dx(&l->u.rlift, n, (size_t)n * (size_t)net->ranks, g, dy, x,
                                       p->mean[i], p->rstd[i], dx);
        } else if (dx) {
            cg_radial_lift_backward(&l->u.rlift, n, dy, x, p->mean[i], p->rstd[i], dx);
        }
        break;
    }
}

/* Backward passes accumulate, so each dx buffer starts at zero; zeroed by every thread's share
 * (on one thread this serial memset was ~2% of a conv iteration at 2 threads). */
static void zero_floats(float *x, size_t count, int nt) {
    const size_t chunk = 16384; /* 64 KiB: whole pages per piece, few pieces */
    const long long pieces = (long long)((count + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) num_threads(nt) if (pieces > 1)
    for (long long c = 0; c < pieces; c++) {
        const size_t lo = (size_t)c * chunk;
        memset(x + lo, 0, sizeof(float) * (count - lo < chunk ? count - lo : chunk));
    }
}

void cg_net_backward(const struct cg_net *net, int n, struct cg_pass *p, const float *w,
                     float *dout, float *dw, float *din, float *gbuf[2], void *ws) {
    float *dy = dout;
    /* Without din, a layer's dx is needed only when a layer below it has weight gradients to
     * take: pi-mnist D's first dense layer sits above a noise layer, and its dx (two 100 x 784
     * x 1000 GEMMs per D step) went nowhere. */
    int lowest_param = net->nlayers;
    for (int i = net->nlayers - 1; i >= 0; i--)
        if (net->L[i].nw + net->L[i].nb > 0) lowest_param = i;
    for (int i = net->nlayers - 1; i >= 0; i--) {
        const struct cg_layer *l = &net->L[i];
        float *dx;
        if (i == 0) {
            dx = din;
        } else if (!din && (!dw || lowest_param >= i)) {
            dx = NULL;
        } else {
            dx = (dy == gbuf[0]) ? gbuf[1] : gbuf[0];
            zero_floats(dx, (size_t)n * l->in_size, net->nt > 0 ? net->nt : 1);
        }
        if (net->prof) timed_backward(net, i, n, p, w, dy, dx, dw, ws);
        else layer_backward(net, i, n, p, w, dy, dx, dw, ws);
        if (dw && net->grad_ready && l->nw + l->nb > 0) net->grad_ready(net->grad_user, i);
        if (!dx) break; /* nothing below needs a gradient */
        dy = dx;
    }
}
