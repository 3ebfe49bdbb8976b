/* Batch normalisation (Ioffe & Szegedy, ICML 2015) with PyTorch's conventions. hw > 1: one
 * OpenMP work item per channel; hw == 1 (x:(n, c)): blocks of CB channels, walking the rows.
 * Statistics are summed in double per channel in a fixed order: results do not depend on nt. */
#include <math.h>

#include "nn/batchnorm.h"
#include "simd/kernels.h"

/* Channels per work item when hw == 1; the per-block sums and coefficients stay on the stack. */
#define CB 64

enum cg_status cg_batchnorm_init(struct cg_batchnorm *p, int c, int hw, float eps,
                                 float momentum, int nt) {
    if (!p) return CG_FAIL(CG_ERR_INVALID_ARG, "p must not be NULL");
    if (c <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d must be > 0", c);
    if (hw <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "hw=%d must be > 0", hw);
    if (!(eps > 0.0f) || !isfinite(eps))
        return CG_FAIL(CG_ERR_INVALID_ARG, "eps=%g must be finite and > 0", (double)eps);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "momentum=%g must be in [0, 1]", (double)momentum);
    if (nt < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d must be >= 1", nt);
    size_t chw;
    if (!cg_mul_ok((size_t)c, (size_t)hw, &chw) || chw > (size_t)PTRDIFF_MAX / sizeof(float))
        return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d x hw=%d is too large", c, hw);
    *p = (struct cg_batchnorm){.c = c, .hw = hw, .eps = eps, .momentum = momentum, .nt = nt};
    return CG_OK;
}

void cg_bn_moments(size_t cnt, double s, double ss, float eps, float momentum, double *mu,
                   double *r, float *run_mean, float *run_var) {
    double m = s / (double)cnt;
    double var = ss / (double)cnt - m * m;
    if (var < 0.0) var = 0.0; /* E[x^2] - mu^2 can round below 0 for constant channels */
    *mu = m;
    *r = 1.0 / sqrt(var + (double)eps);
    double mom = momentum;
    if (run_mean) *run_mean = (float)((1.0 - mom) * *run_mean + mom * m);
    if (run_var) {
        double unbiased = cnt > 1 ? var * (double)cnt / (double)(cnt - 1) : var;
        *run_var = (float)((1.0 - mom) * *run_var + mom * unbiased);
    }
}

/* Channel ch from its double sums: saves mean/rstd, updates the running stats and returns
 * the float scale and shift of y = x*scale + shift. */
static void finish_stats(const struct cg_batchnorm *p, size_t cnt, int ch, double s, double ss,
                         const float *gamma, const float *beta, float *mean, float *rstd,
                         float *run_mean, float *run_var, float *scale, float *shift) {
    double mu, r;
    cg_bn_moments(cnt, s, ss, p->eps, p->momentum, &mu, &r, run_mean ? run_mean + ch : NULL,
                  run_var ? run_var + ch : NULL);
    if (mean) mean[ch] = (float)mu;
    if (rstd) rstd[ch] = (float)r;
    double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
    *scale = (float)(g * r);
    *shift = (float)(b - mu * g * r);
}

static inline int threads(int nt) { return nt < 1 ? 1 : nt; }
static inline size_t block_len(int c, ptrdiff_t blk) {
    size_t j0 = (size_t)blk * CB;
    return (size_t)c - j0 < CB ? (size_t)c - j0 : CB;
}

void cg_batchnorm_forward_train(const struct cg_batchnorm *p, int n, const float *x,
                                const float *gamma, const float *beta, float *y, float *mean,
                                float *rstd, float *run_mean, float *run_var) {
    if (n <= 0) return;
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw, cnt = (size_t)n * hw;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            double s[CB] = {0}, ss[CB] = {0};
            float sc[CB], sh[CB];
            for (size_t i = 0; i < (size_t)n; i++) k->statsv(len, x + i * c + j0, s, ss);
            for (size_t j = 0; j < len; j++)
                finish_stats(p, cnt, (int)(j0 + j), s[j], ss[j], gamma, beta, mean, rstd,
                             run_mean, run_var, &sc[j], &sh[j]);
            for (size_t i = 0; i < (size_t)n; i++)
                k->affinev(len, x + i * c + j0, sc, sh, y + i * c + j0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++) {
        double s = 0.0, ss = 0.0;
        float sc, sh;
        for (size_t i = 0; i < (size_t)n; i++) k->stats(hw, x + (i * c + (size_t)ch) * hw, &s, &ss);
        finish_stats(p, cnt, (int)ch, s, ss, gamma, beta, mean, rstd, run_mean, run_var, &sc,
                     &sh);
        for (size_t i = 0; i < (size_t)n; i++) {
            size_t off = (i * c + (size_t)ch) * hw;
            k->affine(hw, x + off, sc, sh, y + off);
        }
    }
}

static void eval_coef(const struct cg_batchnorm *p, int ch, const float *gamma,
                      const float *beta, const float *run_mean, const float *run_var,
                      float *scale, float *shift) {
    double r = 1.0 / sqrt((double)run_var[ch] + (double)p->eps);
    double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
    *scale = (float)(g * r);
    *shift = (float)(b - (double)run_mean[ch] * g * r);
}

void cg_batchnorm_forward_eval(const struct cg_batchnorm *p, int n, const float *x,
                               const float *gamma, const float *beta, const float *run_mean,
                               const float *run_var, float *y) {
    if (n <= 0) return;
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            float sc[CB], sh[CB];
            for (size_t j = 0; j < len; j++)
                eval_coef(p, (int)(j0 + j), gamma, beta, run_mean, run_var, &sc[j], &sh[j]);
            for (size_t i = 0; i < (size_t)n; i++)
                k->affinev(len, x + i * c + j0, sc, sh, y + i * c + j0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++) {
        float sc, sh;
        eval_coef(p, (int)ch, gamma, beta, run_mean, run_var, &sc, &sh);
        for (size_t i = 0; i < (size_t)n; i++) {
            size_t off = (i * c + (size_t)ch) * hw;
            k->affine(hw, x + off, sc, sh, y + off);
        }
    }
}

/* With xhat = (x - mean)*rstd, S1 = sum dy, S2 = sum dy*(x - mean), N = n*hw:
 *   dx = gamma*rstd*(dy - S1/N - xhat*rstd*S2/N) = a*dy + b*(x - mean) + c
 *   a = gamma*rstd,  b = -gamma*rstd^3*S2/N,  c = -a*S1/N;  dgamma += rstd*S2, dbeta += S1.
 * (x - mean) is kept rather than folded into c: folding cancels badly when |mean| >> std. */
static void bwd_coef(size_t cnt, double s1, double s2, double g, double r, float *a, float *b,
                     float *c) {
    double aa = g * r;
    *a = (float)aa;
    *b = (float)(-g * r * r * r * s2 / (double)cnt);
    *c = (float)(-aa * s1 / (double)cnt);
}

void cg_batchnorm_backward(const struct cg_batchnorm *p, int n, const float *dy,
                           const float *x, const float *gamma, const float *mean,
                           const float *rstd, float *dx, float *dgamma, float *dbeta) {
    if (n <= 0 || (!dx && !dgamma && !dbeta)) return;
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw, cnt = (size_t)n * hw;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            double s1[CB] = {0}, s2[CB] = {0};
            float a[CB], b[CB], cc[CB];
            for (size_t i = 0; i < (size_t)n; i++)
                k->bnredv(len, dy + i * c + j0, x + i * c + j0, mean + j0, s1, s2);
            for (size_t j = 0; j < len; j++) {
                size_t ch = j0 + j;
                if (dbeta) dbeta[ch] = (float)((double)dbeta[ch] + s1[j]);
                if (dgamma) dgamma[ch] = (float)((double)dgamma[ch] + s2[j] * rstd[ch]);
                bwd_coef(cnt, s1[j], s2[j], gamma ? gamma[ch] : 1.0, rstd[ch], &a[j], &b[j],
                         &cc[j]);
            }
            if (dx)
                for (size_t i = 0; i < (size_t)n; i++)
                    k->bndxv(len, dy + i * c + j0, x + i * c + j0, a, b, mean + j0, cc,
                             dx + i * c + j0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++) {
        double s1 = 0.0, s2 = 0.0;
        for (size_t i = 0; i < (size_t)n; i++) {
            size_t off = (i * c + (size_t)ch) * hw;
            k->bnred(hw, dy + off, x + off, mean[ch], &s1, &s2);
        }
        if (dbeta) dbeta[ch] = (float)((double)dbeta[ch] + s1);
        if (dgamma) dgamma[ch] = (float)((double)dgamma[ch] + s2 * rstd[ch]);
        if (!dx) continue;
        float a, b, cc;
        bwd_coef(cnt, s1, s2, gamma ? gamma[ch] : 1.0, rstd[ch], &a, &b, &cc);
        for (size_t i = 0; i < (size_t)n; i++) {
            size_t off = (i * c + (size_t)ch) * hw;
            k->bndx(hw, dy + off, x + off, a, b, mean[ch], cc, dx + off);
        }
    }
}

/* ---- data parallel halves (the statistics summed over ranks in between) ------------------ */

void cg_batchnorm_sums(const struct cg_batchnorm *p, int n, const float *x, double *s,
                       double *ss) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw;
    for (size_t ch = 0; ch < c; ch++) s[ch] = ss[ch] = 0.0;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            for (size_t i = 0; i < (size_t)n; i++) k->statsv(len, x + i * c + j0, s + j0, ss + j0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++)
        for (size_t i = 0; i < (size_t)n; i++)
            k->stats(hw, x + (i * c + (size_t)ch) * hw, &s[ch], &ss[ch]);
}

void cg_batchnorm_forward_sums(const struct cg_batchnorm *p, int n, size_t cnt,
                               const double *s, const double *ss, const float *x,
                               const float *gamma, const float *beta, float *y, float *mean,
                               float *rstd, float *run_mean, float *run_var) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            float sc[CB], sh[CB];
            for (size_t j = 0; j < len; j++)
                finish_stats(p, cnt, (int)(j0 + j), s[j0 + j], ss[j0 + j], gamma, beta, mean,
                             rstd, run_mean, run_var, &sc[j], &sh[j]);
            for (size_t i = 0; i < (size_t)n; i++)
                k->affinev(len, x + i * c + j0, sc, sh, y + i * c + j0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++) {
        float sc, sh;
        finish_stats(p, cnt, (int)ch, s[ch], ss[ch], gamma, beta, mean, rstd, run_mean, run_var,
                     &sc, &sh);
        for (size_t i = 0; i < (size_t)n; i++) {
            size_t off = (i * c + (size_t)ch) * hw;
            k->affine(hw, x + off, sc, sh, y + off);
        }
    }
}

void cg_batchnorm_backward_sums(const struct cg_batchnorm *p, int n, const float *dy,
                                const float *x, const float *mean, const float *rstd,
                                double *s1, double *s2, float *dgamma, float *dbeta) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw;
    for (size_t ch = 0; ch < c; ch++) s1[ch] = s2[ch] = 0.0;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            for (size_t i = 0; i < (size_t)n; i++)
                k->bnredv(len, dy + i * c + j0, x + i * c + j0, mean + j0, s1 + j0, s2 + j0);
        }
    } else {
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++)
            for (size_t i = 0; i < (size_t)n; i++) {
                size_t off = (i * c + (size_t)ch) * hw;
                k->bnred(hw, dy + off, x + off, mean[ch], &s1[ch], &s2[ch]);
            }
    }
    for (size_t ch = 0; ch < c; ch++) {
        if (dbeta) dbeta[ch] = (float)((double)dbeta[ch] + s1[ch]);
        if (dgamma) dgamma[ch] = (float)((double)dgamma[ch] + s2[ch] * rstd[ch]);
    }
}

void cg_batchnorm_backward_dx(const struct cg_batchnorm *p, int n, size_t cnt,
                              const double *s1, const double *s2, const float *dy,
                              const float *x, const float *gamma, const float *mean,
                              const float *rstd, float *dx) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    const size_t c = (size_t)p->c, hw = (size_t)p->hw;
    if (hw == 1) {
        ptrdiff_t nb = (p->c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = block_len(p->c, blk);
            float a[CB], b[CB], cc[CB];
            for (size_t j = 0; j < len; j++)
                bwd_coef(cnt, s1[j0 + j], s2[j0 + j], gamma ? gamma[j0 + j] : 1.0,
                         rstd[j0 + j], &a[j], &b[j], &cc[j]);
            for (size_t i = 0; i < (size_t)n; i++)
                k->bndxv(len, dy + i * c + j0, x + i * c + j0, a, b, mean + j0, cc,
                         dx + i * c + j0);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(p->nt))
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++) {
        float a, b, cc;
        bwd_coef(cnt, s1[ch], s2[ch], gamma ? gamma[ch] : 1.0, rstd[ch], &a, &b, &cc);
        for (size_t i = 0; i < (size_t)n; i++) {
            size_t off = (i * c + (size_t)ch) * hw;
            k->bndx(hw, dy + off, x + off, a, b, mean[ch], cc, dx + off);
        }
    }
}
