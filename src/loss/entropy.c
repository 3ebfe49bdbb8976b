/* Batch conditional and marginal entropies and cross-entropy from logits, with analytic
 * gradients (Springenberg, "Unsupervised and Semi-supervised Learning with Categorical
 * Generative Adversarial Networks", ICLR 2016, eqs. (3)-(5)). */
#include <math.h>
#include <string.h>

#include "dist/dist.h"
#include "loss/loss.h"

/* Chunks reduced per parallel region: bounds the stack partials (GROUP x KMAX doubles). */
#define GROUP 8

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* log mean_i p_ij in double, through a log-sum-exp over the batch of log p_ij: the slow path
 * for classes whose summed probability is too small for the plain sum to be exact. */
static void marginal_logspace(const float *z, size_t n, size_t k, const size_t *cls, size_t nc,
                              double *mx, double *acc, float *lm) {
    for (size_t c = 0; c < nc; c++) {
        mx[c] = -INFINITY;
        acc[c] = 0.0;
    }
    for (size_t i = 0; i < n; i++, z += k) {
        float m = z[0];
        for (size_t j = 1; j < k; j++) m = z[j] > m ? z[j] : m;
        double s = 0.0;
        for (size_t j = 0; j < k; j++) s += exp((double)z[j] - m);
        double lse = m + log(s);
        for (size_t c = 0; c < nc; c++) {
            double v = (double)z[cls[c]] - lse;   /* log p_ij */
            if (v > mx[c]) {
                acc[c] = acc[c] * exp(mx[c] - v) + 1.0;
                mx[c] = v;
            } else {
                acc[c] += exp(v - mx[c]);
            }
        }
    }
    for (size_t c = 0; c < nc; c++)
        lm[cls[c]] = (float)(mx[c] + log(acc[c]) - log((double)n));
}

/* Marginal log-space parts (max, scaled sum) of every rank combined: the sum of the ranks'
 * acc * exp(mx - M) over the global maximum M. */
static void combine_logspace(double *mx, double *acc, size_t nc) {
    double gm[CG_SOFTMAX_KMAX];
    memcpy(gm, mx, nc * sizeof gm[0]);
    cg_dist_max_d(gm, (int)nc);
    for (size_t c = 0; c < nc; c++) {
        acc[c] = isinf(mx[c]) ? 0.0 : acc[c] * exp(mx[c] - gm[c]);
        mx[c] = gm[c];
    }
    cg_dist_sum_d(acc, (int)nc);
}

void cg_loss_entropies(const struct cg_softmax_kernels *kt, const float *z, int n_, int k_,
                       float wc, float wm, double *hc, double *hm, float *g) {
    cg_loss_entropies_ex(kt, z, n_, k_, 0, wc, wm, hc, hm, g);
}

void cg_loss_entropies_ex(const struct cg_softmax_kernels *kt, const float *z, int n_, int k_,
                          int global, float wc, float wm, double *hc, double *hm, float *g) {
    size_t n = (size_t)n_, k = (size_t)k_;
    size_t nchunk = (n + CG_LOSS_CHUNK - 1) / CG_LOSS_CHUNK;
    double part[GROUP][CG_SOFTMAX_KMAX], hpart[GROUP];
    double tot[CG_SOFTMAX_KMAX];
    float lm[CG_SOFTMAX_KMAX];
    double htot = 0.0;
    memset(tot, 0, k * sizeof tot[0]);

    /* Pass 1: sum_i H_i and sum_i p_ij per chunk, then the chunks in order. */
    for (size_t c0 = 0; c0 < nchunk; c0 += GROUP) {
        int ng = (int)min_sz(GROUP, nchunk - c0);
#pragma omp parallel for schedule(static) if (n >= CG_LOSS_PAR_MIN)
        for (int c = 0; c < ng; c++) {
            size_t r0 = (c0 + (size_t)c) * CG_LOSS_CHUNK;
            memset(part[c], 0, k * sizeof part[c][0]);
            hpart[c] = 0.0;
            kt->rowent(min_sz(CG_LOSS_CHUNK, n - r0), k, z + r0 * k, &hpart[c], part[c]);
        }
        for (int c = 0; c < ng; c++) {
            htot += hpart[c];
            for (size_t j = 0; j < k; j++) tot[j] += part[c][j];
        }
    }
    /* data parallel: the batch is every rank's rows; n_all counts them all */
    double n_all = (double)n;
    if (global) {
        double red[CG_SOFTMAX_KMAX + 2];
        red[0] = htot;
        red[1] = (double)n;
        memcpy(red + 2, tot, k * sizeof tot[0]);
        cg_dist_sum_d(red, (int)k + 2);
        htot = red[0];
        n_all = red[1];
        memcpy(tot, red + 2, k * sizeof tot[0]);
    }
    *hc = htot / n_all;

    /* log m_j = log(S_j / n). Each p_ij carries an absolute error up to ~2^-149 once it is
     * subnormal, so S_j is trusted only well above n * 2^-126; below, the log-space path. */
    size_t low[CG_SOFTMAX_KMAX], nlow = 0;
    double thresh = n_all * 0x1p-100;
    for (size_t j = 0; j < k; j++) {
        if (tot[j] >= thresh) lm[j] = (float)log(tot[j] / n_all);
        else low[nlow++] = j;
    }
    if (nlow && !global) marginal_logspace(z, n, k, low, nlow, part[0], part[1], lm);
    if (nlow && global) {
        /* the same log-sum-exp with every rank's rows: local (max, sum) pairs, combined */
        float unused[CG_SOFTMAX_KMAX];
        marginal_logspace(z, n, k, low, nlow, part[0], part[1], unused);
        combine_logspace(part[0], part[1], nlow);
        for (size_t c = 0; c < nlow; c++)
            lm[low[c]] = (float)(part[0][c] + log(part[1][c]) - log(n_all));
    }
    double h = 0.0;
    for (size_t j = 0; j < k; j++) {
        /* m_j from the exact sum when we have it; an underflowed class contributes 0 */
        double m = tot[j] >= thresh ? tot[j] / n_all : exp((double)lm[j]);
        h -= m * (double)lm[j];
    }
    *hm = h;

    if (!g) return;
    /* Pass 2: dHc/dz_ij = -p_ij (log p_ij + H_i) / n, dHm/dz_ij = -p_ij (lm_j - p_i.lm) / n */
    float a = -wc / (float)n_all, b = -wm / (float)n_all;
#pragma omp parallel for schedule(static) if (n >= CG_LOSS_PAR_MIN)
    for (size_t c = 0; c < nchunk; c++) {
        size_t r0 = c * CG_LOSS_CHUNK;
        kt->rowent_grad(min_sz(CG_LOSS_CHUNK, n - r0), k, z + r0 * k, b != 0.0f ? lm : NULL, a,
                        b, g + r0 * k);
    }
}

void cg_loss_xent(const struct cg_softmax_kernels *kt, const float *z, const int *y, int n_,
                  int k_, float w, double *ce, float *g) {
    cg_loss_xent_ex(kt, z, y, n_, k_, 0, w, ce, g);
}

void cg_loss_xent_ex(const struct cg_softmax_kernels *kt, const float *z, const int *y, int n_,
                     int k_, int global, float w, double *ce, float *g) {
    size_t n = (size_t)n_, k = (size_t)k_;
    size_t nchunk = (n + CG_LOSS_CHUNK - 1) / CG_LOSS_CHUNK;
    /* the gradient's scale needs the global count before the rows are visited */
    double n_all = (double)n;
    if (global) cg_dist_sum_d(&n_all, 1);
    float scale = w / (float)n_all;
    double part[GROUP], sum = 0.0;
    for (size_t c0 = 0; c0 < nchunk; c0 += GROUP) {
        int ng = (int)min_sz(GROUP, nchunk - c0);
#pragma omp parallel for schedule(static) if (n >= CG_LOSS_PAR_MIN)
        for (int c = 0; c < ng; c++) {
            size_t r0 = (c0 + (size_t)c) * CG_LOSS_CHUNK;
            part[c] = kt->xent(min_sz(CG_LOSS_CHUNK, n - r0), k, z + r0 * k, y + r0, scale,
                               g ? g + r0 * k : NULL);
        }
        for (int c = 0; c < ng; c++) sum += part[c];
    }
    if (global) cg_dist_sum_d(&sum, 1);
    *ce = sum / n_all;
}
