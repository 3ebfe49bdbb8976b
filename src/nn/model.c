/* CatGAN model: the architectures of CONTRACT.md and one training iteration (Springenberg 2016,
 * eqs. (7) and (9)): a D step on real, generated and labelled batches, then a G step through
 * the updated D on the same generated batch. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "loss/loss.h"
#include "nn/model.h"
#include "simd/gemm.h"

/* Random streams: every draw of iteration t is a function of (key, stream(t)), nothing else. */
enum { STREAM_Z = 1, STREAM_NOISE_REAL, STREAM_NOISE_FAKE, STREAM_NOISE_LAB, STREAM_NOISE_G,
       STREAM_NOISE_GSTEP, STREAM_GENERATE };
static uint64_t stream_of(int kind, int64_t iter) {
    return ((uint64_t)kind << 56) ^ (uint64_t)iter;
}

void cg_model_config_defaults(struct cg_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->arch, "conv");
    cfg->c = 1; cfg->h = 28; cfg->w = 28;
    cfg->k = 10;
    cfg->batch = 100;
    cfg->lambda = 1.0f;
    cfg->lr = 2e-4f; cfg->beta1 = 0.5f; cfg->beta2 = 0.999f;
    cfg->seed = 1;
    cfg->threads = 1;
}

/* ---- create / destroy --------------------------------------------------------------------- */

static enum cg_status check_config(const struct cg_model_config *c) {
    if (c->c < 1 || c->h < 1 || c->w < 1)
        return CG_FAIL(CG_ERR_INVALID_ARG, "input shape %dx%dx%d must be positive", c->c, c->h,
                       c->w);
    if (c->k < 2) return CG_FAIL(CG_ERR_INVALID_ARG, "classes=%d must be >= 2", c->k);
    if (c->batch < 2) return CG_FAIL(CG_ERR_INVALID_ARG, "batch=%d must be >= 2", c->batch);
    if (c->threads < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "threads=%d must be >= 1", c->threads);
    if (!(c->lambda >= 0.0f && isfinite(c->lambda)))
        return CG_FAIL(CG_ERR_INVALID_ARG, "lambda=%g must be >= 0", (double)c->lambda);
    if (!(c->lr > 0.0f && isfinite(c->lr)))
        return CG_FAIL(CG_ERR_INVALID_ARG, "lr=%g must be > 0", (double)c->lr);
    if (!(c->lr_g >= 0.0f && isfinite(c->lr_g)))
        return CG_FAIL(CG_ERR_INVALID_ARG, "lr_g=%g must be >= 0", (double)c->lr_g);
    if (!(c->ema >= 0.0f && c->ema < 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "ema=%g must be in [0,1)", (double)c->ema);
    if (!(c->d_noise >= 0.0f && c->d_noise <= 10.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "d_noise=%g must be in [0,10]", (double)c->d_noise);
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "beta1=%g must be in [0,1)", (double)c->beta1);
    if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "beta2=%g must be in [0,1)", (double)c->beta2);
    return CG_OK;
}

/* Carves (or, with base == NULL, only measures) every buffer of the model. */
static size_t carve(struct cg_model *m, unsigned char *base) {
    size_t off = 0;
    const int B = m->nb;   /* this rank's share of the batch */
#define TAKE_BYTES(bytes) (off += cg_align_up(bytes), base ? base + off - cg_align_up(bytes) : NULL)
#define TAKE_F(count) ((float *)(void *)TAKE_BYTES((size_t)(count) * sizeof(float)))
    struct cg_params *ps[2] = {&m->pg, &m->pd};
    const struct cg_net *nets[2] = {&m->g, &m->d};
    for (int i = 0; i < 2; i++) {
        ps[i]->n = nets[i]->nparams;
        ps[i]->w = TAKE_F(ps[i]->n);
        ps[i]->g = TAKE_F(ps[i]->n);
        ps[i]->m = TAKE_F(ps[i]->n);
        ps[i]->v = TAKE_F(ps[i]->n);
    }
    m->state_g = TAKE_F(m->g.nstate);
    m->state_d = TAKE_F(m->d.nstate);
    m->ema_d = m->cfg.ema > 0.0f ? TAKE_F(m->pd.n) : NULL;
    struct { struct cg_pass *p; const struct cg_net *net; int on; } passes[] = {
        {&m->pass_g, &m->g, 1}, {&m->pass_real, &m->d, 1}, {&m->pass_fake, &m->d, 1},
        {&m->pass_lab, &m->d, m->cfg.labelled}};
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        if (!passes[i].on) continue;
        unsigned char *mem = TAKE_BYTES(cg_net_pass_bytes(passes[i].net, B));
        if (base) cg_net_pass_bind(passes[i].net, B, passes[i].p, mem);
    }
    size_t kk = (size_t)B * m->cfg.k;
    m->dlogits_real = TAKE_F(kk);
    m->dlogits_fake = TAKE_F(kk);
    m->dlogits_lab = TAKE_F(kk);
    m->dx_fake = TAKE_F((size_t)B * m->d.in_size);
    size_t gmax = m->g.max_size > m->d.max_size ? m->g.max_size : m->d.max_size;
    m->gbuf[0] = TAKE_F((size_t)B * gmax);
    m->gbuf[1] = TAKE_F((size_t)B * gmax);
    m->labels = (int32_t *)(void *)TAKE_BYTES((size_t)B * sizeof(int32_t));
    size_t ws = cg_net_ws_bytes(&m->g, B), wsd = cg_net_ws_bytes(&m->d, B);
    m->ws = TAKE_BYTES(ws > wsd ? ws : wsd);
    size_t bc = cg_net_bn_max_c(&m->g), bcd = cg_net_bn_max_c(&m->d);
    m->sync_buf = (double *)(void *)TAKE_BYTES(2 * (bc > bcd ? bc : bcd) * sizeof(double) + 1);
#undef TAKE_F
#undef TAKE_BYTES
    return off;
}

enum cg_status cg_model_create(const struct cg_model_config *cfg, cg_model **out) {
    *out = NULL;
    enum cg_status st = check_config(cfg);
    if (st != CG_OK) return st;
    struct cg_model *m = calloc(1, sizeof *m);
    if (!m) return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "cannot allocate the model descriptor");
    m->cfg = *cfg;
    m->cfg.arch[sizeof m->cfg.arch - 1] = 0;
    if (!(m->cfg.lr_g > 0.0f)) m->cfg.lr_g = cfg->lr * cg_model_g_lr_ratio(m->cfg.arch);
    st = cg_model_build_nets(m->cfg.arch, cfg->c, cfg->h, cfg->w, cfg->k, cfg->d_noise,
                             cfg->threads, &m->g, &m->d);
    if (st != CG_OK) goto fail;
    if (m->g.out_size != m->d.in_size) {
        st = CG_FAIL(CG_ERR_INVALID_ARG, "G makes %zu values per example, D takes %zu",
                     m->g.out_size, m->d.in_size);
        goto fail;
    }
    st = cg_gemm_reserve(cfg->threads);
    if (st != CG_OK) goto fail;
    m->rank = cg_dist_rank();
    m->ranks = cg_dist_size();
    if (cfg->batch % m->ranks != 0) {
        st = CG_FAIL(CG_ERR_INVALID_ARG, "batch=%d is not a multiple of the %d MPI ranks (each "
                     "rank computes batch/ranks examples)", cfg->batch, m->ranks);
        goto fail;
    }
    m->nb = cfg->batch / m->ranks;
    /* one slot per layer with parameters of both nets, plus slack for split long blocks */
    if (!(m->reqs = cg_dist_reqs_create(m->g.nlayers + m->d.nlayers + 8))) {
        st = CG_FAIL(CG_ERR_OUT_OF_MEMORY, "gradient request table");
        goto fail;
    }
    m->block_bytes = carve(m, NULL);
    m->block = cg_malloc(m->block_bytes);
    if (!m->block) {
        st = CG_FAIL(CG_ERR_OUT_OF_MEMORY, "batch=%d with arch=%s needs %zu bytes (%.1f GiB)",
                     cfg->batch, m->cfg.arch, m->block_bytes, m->block_bytes / 1073741824.0);
        goto fail;
    }
    memset(m->block, 0, m->block_bytes);
    carve(m, m->block);
    for (struct cg_net *net = &m->g; net; net = net == &m->g ? &m->d : NULL) {
        net->ranks = m->ranks;
        net->ex0 = (int64_t)m->rank * m->nb;
        net->sync_buf = m->sync_buf;
        net->grad_user = m;
    }
    /* D reads G's output in place: the fake pass's input is G's last activation. */
    m->pass_fake.act[0] = m->pass_g.act[m->g.nlayers];
    struct cg_rng r;
    cg_rng_seed(&r, cfg->seed, 0);
    m->key = r.key;
    cg_net_init_params(&m->g, m->pg.w, m->state_g, cfg->seed * 2 + 1);
    cg_net_init_params(&m->d, m->pd.w, m->state_d, cfg->seed * 2 + 2);
    if (m->ema_d) memcpy(m->ema_d, m->pd.w, m->pd.n * sizeof(float));

    cg_adam_init(&m->opt_g, m->cfg.lr_g, cfg->beta1, cfg->beta2, 1e-8f);
    cg_adam_init(&m->opt_d, cfg->lr, cfg->beta1, cfg->beta2, 1e-8f);
    *out = m;
    return CG_OK;
fail:
    cg_model_destroy(m);
    return st;
}

void cg_model_destroy(cg_model *m) {
    if (!m) return;
    cg_dist_reqs_destroy(m->reqs);
    free(m->prof);
    cg_free(m->block);
    free(m);
}

const struct cg_model_config *cg_model_config_of(const cg_model *m) { return &m->cfg; }
size_t cg_model_bytes(const cg_model *m) { return m->block_bytes; }
size_t cg_model_param_count(const cg_model *m, int which) { return which ? m->pd.n : m->pg.n; }
int64_t cg_model_iteration(const cg_model *m) { return m->iter; }

enum cg_status cg_model_set_lr_scale(cg_model *m, float scale) {
    if (!(scale >= 0.0f) || !isfinite(scale))
        return CG_FAIL(CG_ERR_INVALID_ARG, "lr scale=%g must be finite and >= 0", scale);
    m->opt_d.lr = m->cfg.lr * scale;
    m->opt_g.lr = m->cfg.lr_g * scale;
    return CG_OK;
}

/* ---- profiling ---------------------------------------------------------------------------- */

enum cg_status cg_model_profile(cg_model *m, int on) {
    if (!on) {
        m->g.prof = m->d.prof = NULL;
        return CG_OK;
    }
    if (!m->prof && !(m->prof = malloc(2 * sizeof *m->prof)))
        return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "profile tables");
    memset(m->prof, 0, 2 * sizeof *m->prof);
    m->g.prof = &m->prof[0];
    m->d.prof = &m->prof[1];
    m->t_loss = m->t_adam = m->t_grad_wait = 0;
    m->t_comm0 = cg_dist_seconds();
    m->prof_iter0 = m->iter;
    return CG_OK;
}

/* Appends to buf (bounded), always advancing *len by what it wanted to write. */
static void put(char *buf, size_t cap, int *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, int *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t off = (size_t)*len < cap ? (size_t)*len : cap;
    int k = vsnprintf(buf ? buf + off : NULL, buf ? cap - off : 0, fmt, ap);
    va_end(ap);
    if (k > 0) *len += k;
}

static double net_seconds(const struct cg_net *net) {
    double t = 0;
    for (int i = 0; i < net->nlayers; i++)
        t += net->prof->fwd[i] + net->prof->bwd_data[i] + net->prof->bwd_w[i];
    return t;
}

static void report_net(const struct cg_net *net, const char *name, double it, double total,
                       char *buf, size_t cap, int *len) {
    const struct cg_net_prof *p = net->prof;
    for (int i = 0; i < net->nlayers; i++) {
        const struct cg_layer *l = &net->L[i];
        char desc[64];
        cg_layer_describe(l, desc, sizeof desc);
        double t = p->fwd[i] + p->bwd_data[i] + p->bwd_w[i];
        double fl = cg_layer_flops(l);
        double flops = fl * (double)(p->n_fwd[i] + p->n_bwd_data[i] + p->n_bwd_w[i]);
        char gf[16] = "";
        if (fl > 0 && t > 0) snprintf(gf, sizeof gf, "%8.1f", flops / t * 1e-9);
        put(buf, cap, len, "%-2s %-28s %9.2f %9.2f %9.2f %8s %6.1f%%\n", name, desc,
            1e3 * p->fwd[i] / it, 1e3 * p->bwd_data[i] / it, 1e3 * p->bwd_w[i] / it, gf,
            100.0 * t / total);
    }
}

int cg_model_profile_report(const cg_model *m, double data_seconds, char *buf, size_t cap) {
    int len = 0;
    if (buf && cap) buf[0] = 0;
    double it = (double)(m->iter - m->prof_iter0);
    if (!m->prof || it < 1) {
        put(buf, cap, &len, "no profiled iterations\n");
        return len;
    }
    double tg = net_seconds(&m->g), td = net_seconds(&m->d);
    double total = tg + td + m->t_loss + m->t_adam + m->t_grad_wait + data_seconds;
    put(buf, cap, &len, "profile over %.0f iterations, batch %d, %d threads (ms per iteration)\n",
        it, m->cfg.batch, m->cfg.threads);
    if (m->ranks > 1)
        put(buf, cap, &len, "rank %d of %d MPI ranks, %d examples per rank\n", m->rank,
            m->ranks, m->nb);
    put(buf, cap, &len, "%-31s %9s %9s %9s %8s %7s\n", "   layer", "forward", "bwd-data",
        "bwd-wts", "GFLOP/s", "share");
    report_net(&m->g, "G", it, total, buf, cap, &len);
    report_net(&m->d, "D", it, total, buf, cap, &len);
    put(buf, cap, &len, "%-31s %9.2f %29s %6.1f%%\n", "   loss (both steps)",
        1e3 * m->t_loss / it, "", 100.0 * m->t_loss / total);
    put(buf, cap, &len, "%-31s %9.2f %29s %6.1f%%\n", "   optimiser (Adam, G and D)",
        1e3 * m->t_adam / it, "", 100.0 * m->t_adam / total);
    put(buf, cap, &len, "%-31s %9.2f %29s %6.1f%%\n", "   data (batch assembly)",
        1e3 * data_seconds / it, "", 100.0 * data_seconds / total);
    if (m->ranks > 1) {
        /* the blocking sums (batch norm, loss) are inside their layers' and the loss's time */
        double all = cg_dist_seconds() - m->t_comm0;
        put(buf, cap, &len, "%-31s %9.2f %29s %6.1f%%\n", "   gradient allreduce wait",
            1e3 * m->t_grad_wait / it, "", 100.0 * m->t_grad_wait / total);
        put(buf, cap, &len, "%-31s %9.2f ms per iteration (gradients, batch norm, loss)\n",
            "   communication wait, all", 1e3 * all / it);
    }
    put(buf, cap, &len, "%-31s %9.2f ms per iteration, %.0f images/s\n", "   total",
        1e3 * total / it, it * m->cfg.batch / total);
    return len;
}

/* ---- the training iteration --------------------------------------------------------------- */

/* A float is Inf or NaN iff its exponent bits are all set. Integer ORs vectorise and split
 * over the threads exactly; the serial double sum of squares this replaces was 4.5% of a
 * 1-thread pi-mnist iteration (perf). */
int cg_all_finite(const float *x, size_t n, int nt) {
    uint32_t bad = 0;
    #pragma omp parallel for schedule(static) num_threads(nt) reduction(|: bad) if (n > CG_PAR_MIN)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (~u & 0x7F800000u) == 0;
    }
    return !bad;
}

/* Data parallel: the gradient of layer `layer` is final; its sum over the ranks starts now
 * and runs behind the rest of the backward pass (cg_dist_wait before Adam). */
static void sum_layer_grad(struct cg_model *m, const struct cg_net *net, float *grad,
                           int layer) {
    const struct cg_layer *l = &net->L[layer];
    cg_dist_isum_f(m->reqs, grad + l->w_off, l->nw + l->nb);
    cg_dist_poke(m->reqs);
}
static void d_grad_ready(void *u, int layer) {
    struct cg_model *m = u;
    sum_layer_grad(m, &m->d, m->pd.g, layer);
}
static void g_grad_ready(void *u, int layer) {
    struct cg_model *m = u;
    sum_layer_grad(m, &m->g, m->pg.g, layer);
}

static void wait_grads(struct cg_model *m) {
    double t = cg_dist_wait(m->reqs);
    if (m->prof) m->t_grad_wait += t;
}

/* z for this rank's rows of the global batch: element i of the batch's stream, offset to the
 * rank's first row (cg_rng_fill_uniform_at with a counter offset). */
static void fill_z(const struct cg_model *m, uint64_t stream, float *z) {
    const size_t n = (size_t)m->nb * CG_ZDIM, off = (size_t)m->rank * n;
    const uint64_t key = m->key;
    #pragma omp parallel for schedule(static) num_threads(m->cfg.threads) if (n > CG_PAR_MIN)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++)
        z[i] = -1.0f + 2.0f * cg_rng_uniform_at(key, stream, off + (uint64_t)i);
}

static const float *logits_of(const struct cg_model *m, const struct cg_pass *p) {
    return p->act[m->d.nlayers];
}

static enum cg_status numeric_fail(const struct cg_model *m, const char *what) {
    return CG_FAIL(CG_ERR_NUMERIC, "iteration %lld: %s is not finite", (long long)m->iter + 1,
                   what);
}

static enum cg_status check_terms(const struct cg_model *m, const cg_catgan_terms *t) {
    const struct { const char *name; float v; } all[] = {
        {"h_x", t->h_x}, {"h_real", t->h_real}, {"h_fake", t->h_fake}, {"ce", t->ce},
        {"d_loss", t->d_loss}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!isfinite(all[i].v)) return numeric_fail(m, all[i].name);
    return CG_OK;
}

/* D step (eq. 7 as a minimisation): G's output is a constant here. */
static enum cg_status d_step(struct cg_model *m, cg_catgan_terms *t) {
    const int B = m->nb, lab = m->cfg.labelled, global = m->ranks > 1;
    struct cg_net *d = &m->d;
    float *pd = m->pd.w;
    memset(m->pd.g, 0, m->pd.n * sizeof(float));
    cg_net_forward(d, B, &m->pass_real, pd, m->state_d, 1, 1, m->key,
                   stream_of(STREAM_NOISE_REAL, m->iter), m->ws);
    cg_net_forward(d, B, &m->pass_fake, pd, m->state_d, 1, 0, m->key,
                   stream_of(STREAM_NOISE_FAKE, m->iter), m->ws);
    if (lab)
        cg_net_forward(d, B, &m->pass_lab, pd, m->state_d, 1, 0, m->key,
                       stream_of(STREAM_NOISE_LAB, m->iter), m->ws);
    double t0 = m->prof ? cg_seconds() : 0;
    int rc = cg_catgan_d_loss_ex(logits_of(m, &m->pass_real), B, logits_of(m, &m->pass_fake),
                                 B, lab ? logits_of(m, &m->pass_lab) : NULL,
                                 lab ? m->labels : NULL, lab ? B : 0, m->cfg.k, m->cfg.lambda,
                                 global, t, m->dlogits_real, m->dlogits_fake,
                                 lab ? m->dlogits_lab : NULL);
    if (m->prof) m->t_loss += cg_seconds() - t0;
    if (rc != 0) return (enum cg_status)rc;
    enum cg_status st = check_terms(m, t);
    if (st != CG_OK) return st;
    /* D's gradient accumulates over the passes: only the last one may start the sums */
    cg_net_backward(d, B, &m->pass_real, pd, m->dlogits_real, m->pd.g, NULL, m->gbuf, m->ws);
    if (!lab) d->grad_ready = global ? d_grad_ready : NULL;
    cg_net_backward(d, B, &m->pass_fake, pd, m->dlogits_fake, m->pd.g, NULL, m->gbuf, m->ws);
    d->grad_ready = global ? d_grad_ready : NULL;
    if (lab)
        cg_net_backward(d, B, &m->pass_lab, pd, m->dlogits_lab, m->pd.g, NULL, m->gbuf, m->ws);
    d->grad_ready = NULL;
    wait_grads(m);
    if (!cg_all_finite(m->pd.g, m->pd.n, m->cfg.threads))
        return numeric_fail(m, "the gradient of D");
    t0 = m->prof ? cg_seconds() : 0;
    cg_adam_step(&m->opt_d, m->pd.n, m->pd.w, m->pd.g, m->pd.m, m->pd.v, m->cfg.threads);
    if (m->ema_d) {
        /* the warm-up keeps the random initial weights from lingering in the average */
        const double t = (double)m->opt_d.t, warm = (1.0 + t) / (10.0 + t);
        cg_ema_step(m->pd.n, m->ema_d, m->pd.w, warm < m->cfg.ema ? (float)warm : m->cfg.ema,
                    m->cfg.threads);
    }
    if (m->prof) m->t_adam += cg_seconds() - t0;
    return CG_OK;
}

/* G step (eq. 9): through the updated D, whose weights get no gradient. */
static enum cg_status g_step(struct cg_model *m, cg_catgan_terms *t) {
    const int B = m->nb, global = m->ranks > 1;
    memset(m->pg.g, 0, m->pg.n * sizeof(float));
    cg_net_forward(&m->d, B, &m->pass_fake, m->pd.w, m->state_d, 1, 0, m->key,
                   stream_of(STREAM_NOISE_GSTEP, m->iter), m->ws);
    cg_catgan_terms gt;
    double t0 = m->prof ? cg_seconds() : 0;
    int rc = cg_catgan_g_loss_ex(logits_of(m, &m->pass_fake), B, m->cfg.k, global, &gt,
                                 m->dlogits_fake);
    if (m->prof) m->t_loss += cg_seconds() - t0;
    if (rc != 0) return (enum cg_status)rc;
    t->h_g = gt.h_g;
    t->g_loss = gt.g_loss;
    if (!isfinite(gt.h_g)) return numeric_fail(m, "h_g");
    if (!isfinite(gt.g_loss)) return numeric_fail(m, "g_loss");
    memset(m->dx_fake, 0, (size_t)B * m->d.in_size * sizeof(float));
    cg_net_backward(&m->d, B, &m->pass_fake, m->pd.w, m->dlogits_fake, NULL, m->dx_fake,
                    m->gbuf, m->ws);
    m->g.grad_ready = global ? g_grad_ready : NULL;
    cg_net_backward(&m->g, B, &m->pass_g, m->pg.w, m->dx_fake, m->pg.g, NULL, m->gbuf, m->ws);
    m->g.grad_ready = NULL;
    wait_grads(m);
    if (!cg_all_finite(m->pg.g, m->pg.n, m->cfg.threads))
        return numeric_fail(m, "the gradient of G");
    t0 = m->prof ? cg_seconds() : 0;
    cg_adam_step(&m->opt_g, m->pg.n, m->pg.w, m->pg.g, m->pg.m, m->pg.v, m->cfg.threads);
    if (m->prof) m->t_adam += cg_seconds() - t0;
    return CG_OK;
}

enum cg_status cg_model_step(cg_model *m, const float *x_real, const float *x_lab,
                             const int32_t *y_lab, cg_catgan_terms *terms) {
    const int B = m->nb;
    if (!x_real) return CG_FAIL(CG_ERR_INVALID_ARG, "x_real is NULL");
    if (m->cfg.labelled) {
        if (!x_lab || !y_lab)
            return CG_FAIL(CG_ERR_INVALID_ARG, "a labelled model needs x_lab and y_lab");
        for (int i = 0; i < B; i++) {
            if (y_lab[i] < 0 || y_lab[i] >= m->cfg.k)
                return CG_FAIL(CG_ERR_INVALID_ARG, "y_lab[%d]=%d is not in [0,%d)", i,
                               (int)y_lab[i], m->cfg.k);
        }
        memcpy(m->labels, y_lab, (size_t)B * sizeof(int32_t));
        memcpy(m->pass_lab.act[0], x_lab, (size_t)B * m->d.in_size * sizeof(float));
    }
    memcpy(m->pass_real.act[0], x_real, (size_t)B * m->d.in_size * sizeof(float));
    fill_z(m, stream_of(STREAM_Z, m->iter), m->pass_g.act[0]);
    /* batch norm and noise see the global batch only inside the step: evaluation and
     * sampling stay local to the rank that does them */
    m->g.sync = m->d.sync = m->ranks > 1;
    cg_net_forward(&m->g, B, &m->pass_g, m->pg.w, m->state_g, 1, 1, m->key,
                   stream_of(STREAM_NOISE_G, m->iter), m->ws);
    cg_catgan_terms t;
    memset(&t, 0, sizeof t);
    enum cg_status st = d_step(m, &t);
    if (st == CG_OK) st = g_step(m, &t);
    m->g.sync = m->d.sync = 0;
    if (terms) *terms = t;
    if (st != CG_OK) return st;
    m->iter++;
    return CG_OK;
}

/* ---- inference ----------------------------------------------------------------------------- */

static const float *eval_weights(const struct cg_model *m) {
    return m->ema_d && !m->eval_raw ? m->ema_d : m->pd.w;
}

void cg_model_evaluate_raw(cg_model *m, int raw) { m->eval_raw = raw != 0; }

enum cg_status cg_model_classify(cg_model *m, const float *x, int n, float *probs,
                                 int32_t *pred) {
    if (n < 1 || !x) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d examples, x=%p", n, (void *)x);
    const int B = m->nb, k = m->cfg.k;
    const size_t dsz = m->d.in_size;
    struct cg_net_prof *keep = m->d.prof;
    m->d.prof = NULL; /* evaluation is not part of the profiled iteration */
    for (int s = 0; s < n; s += B) {
        int nb = n - s < B ? n - s : B;
        memcpy(m->pass_real.act[0], x + (size_t)s * dsz, (size_t)nb * dsz * sizeof(float));
        cg_net_forward(&m->d, nb, &m->pass_real, eval_weights(m), m->state_d, 0, 0, m->key, 0,
                       m->ws);
        const float *z = logits_of(m, &m->pass_real);
        for (int i = 0; i < nb; i++) {
            const float *zi = z + (size_t)i * k;
            int best = 0;
            float zmax = zi[0];
            for (int j = 1; j < k; j++)
                if (zi[j] > zmax) { zmax = zi[j]; best = j; }
            if (pred) pred[s + i] = best;
            if (probs) {
                float *pi = probs + (size_t)(s + i) * k;
                double sum = 0;
                for (int j = 0; j < k; j++) sum += (pi[j] = expf(zi[j] - zmax));
                for (int j = 0; j < k; j++) pi[j] = (float)(pi[j] / sum);
            }
        }
    }
    m->d.prof = keep;
    return CG_OK;
}

/* Why: D's running statistics are averages over noisy training passes through weights that
 * kept moving, while evaluation feeds clean inputs through the final weights. Each batch
 * norm gets the mean and (unbiased) variance of exactly what evaluation feeds it: its input
 * over all n examples, with the layers below in evaluation mode and already calibrated. The
 * sums run in example order over activations that do not depend on the chunk size (the GEMM's
 * bits do not depend on m), so a rank with a smaller batch computes the same statistics. */
enum cg_status cg_model_calibrate(cg_model *m, const float *x, int n) {
    if (n < 1 || !x) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d examples, x=%p", n, (void *)x);
    struct cg_net *d = &m->d;
    const int B = m->nb;
    const size_t dsz = d->in_size;
    double *sum = m->sync_buf; /* 2 * the widest batch norm; free outside a step */
    struct cg_net_prof *keep = d->prof;
    d->prof = NULL;
    for (int i = 0; i < d->nlayers; i++) {
        const struct cg_layer *l = &d->L[i];
        if (l->kind != CG_LAYER_BN) continue;
        const size_t c = (size_t)l->oc, hw = (size_t)l->u.bn.hw;
        memset(sum, 0, 2 * c * sizeof(double));
        for (int s = 0; s < n; s += B) {
            const int nb = n - s < B ? n - s : B;
            memcpy(m->pass_real.act[0], x + (size_t)s * dsz, (size_t)nb * dsz * sizeof(float));
            cg_net_forward_to(d, nb, &m->pass_real, eval_weights(m), m->state_d, 0, 0, m->key, 0,
                              m->ws, i);
            const float *a = m->pass_real.act[i];
            for (size_t e = 0; e < (size_t)nb; e++)
                for (size_t ch = 0; ch < c; ch++)
                    for (size_t q = 0; q < hw; q++) {
                        const double v = a[(e * c + ch) * hw + q];
                        sum[ch] += v;
                        sum[c + ch] += v * v;
                    }
        }
        float *rm = m->state_d + l->st_off, *rv = rm + c;
        const double cnt = (double)n * (double)hw;
        for (size_t ch = 0; ch < c; ch++) {
            const double mu = sum[ch] / cnt;
            double var = sum[c + ch] / cnt - mu * mu;
            if (var < 0.0) var = 0.0;
            /* unbiased, as the running average keeps it */
            rm[ch] = (float)mu;
            rv[ch] = (float)(cnt > 1 ? var * cnt / (cnt - 1) : var);
        }
    }
    d->prof = keep;
    return CG_OK;
}

/* G with batch statistics (training-mode BN, running statistics untouched): early in training
 * the running estimates lag G's fast-moving weights and eval-mode samples look washed out. */
enum cg_status cg_model_generate(cg_model *m, int n, uint64_t seed, float *out) {
    if (n < 1 || !out) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d samples", n);
    const int B = m->nb;   /* this rank's batch: the passes hold nb examples */
    const size_t osz = m->g.out_size;
    struct cg_rng r;
    cg_rng_seed(&r, seed, STREAM_GENERATE);
    struct cg_net_prof *keep = m->g.prof;
    m->g.prof = NULL;
    for (int s = 0; s < n; s += B) {
        int nb = n - s < B ? n - s : B;
        /* a full batch keeps BN statistics comparable to training; keep the first nb */
        cg_rng_fill_uniform_at(r.key, stream_of(STREAM_GENERATE, s), m->pass_g.act[0],
                               (size_t)B * CG_ZDIM, -1.0f, 1.0f, m->cfg.threads);
        cg_net_forward(&m->g, B, &m->pass_g, m->pg.w, m->state_g, 1, 0, m->key, 0, m->ws);
        memcpy(out + (size_t)s * osz, m->pass_g.act[m->g.nlayers],
               (size_t)nb * osz * sizeof(float));
    }
    m->g.prof = keep;
    return CG_OK;
}
