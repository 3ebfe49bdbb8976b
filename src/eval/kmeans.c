/* k-means: Lloyd iterations from k-means++ seeding, best of several restarts by inertia.
 * Lloyd, IEEE Trans. Inf. Theory 1982; Arthur & Vassilvitskii, "k-means++", SODA 2007.
 * Sequential and in double, so one seed gives the same bits on every machine and thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "eval/eval.h"

struct km {
    const float *x;
    size_t n, d, k;
    double *cen, *sum, *dist, *cnt; /* cen, sum: (k, d); dist: (n) squared; cnt: (k) */
    int32_t *lab;                    /* (n) */
};

static double dist2(const float *xi, const double *c, size_t d) {
    double s = 0;
    for (size_t t = 0; t < d; t++) {
        double e = (double)xi[t] - c[t];
        s += e * e;
    }
    return s;
}

/* 53 random bits: a float's 24 would make points past the 2^24-th unpickable in the D^2 draw. */
static double uniform53(struct cg_rng *r) {
    uint32_t a = cg_rng_u32(r) >> 5, b = cg_rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

static void set_center(struct km *m, size_t j, size_t i) {
    for (size_t t = 0; t < m->d; t++) m->cen[j * m->d + t] = m->x[i * m->d + t];
}

/* k-means++: each next center is point i with probability proportional to D(i)^2, the squared
 * distance to the nearest center chosen so far. */
static void seed_pp(struct km *m, struct cg_rng *r) {
    size_t first = cg_rng_below(r, (uint32_t)m->n);
    set_center(m, 0, first);
    for (size_t i = 0; i < m->n; i++) m->dist[i] = dist2(m->x + i * m->d, m->cen, m->d);
    for (size_t j = 1; j < m->k; j++) {
        double total = 0;
        for (size_t i = 0; i < m->n; i++) total += m->dist[i];
        size_t pick = 0;
        if (total > 0) {
            double u = uniform53(r) * total, acc = 0;
            /* Default to the last point with mass, in case rounding leaves acc <= u. */
            for (size_t i = 0; i < m->n; i++) {
                if (m->dist[i] <= 0) continue;
                pick = i;
                acc += m->dist[i];
                if (acc > u) break;
            }
        } else {
            /* Fewer distinct points than k: every choice duplicates a center. */
            pick = cg_rng_below(r, (uint32_t)m->n);
        }
        set_center(m, j, pick);
        const double *c = m->cen + j * m->d;
        for (size_t i = 0; i < m->n; i++) {
            double e = dist2(m->x + i * m->d, c, m->d);
            if (e < m->dist[i]) m->dist[i] = e;
        }
    }
}

/* Nearest center for every point (ties: the lowest index); returns how many labels changed. */
static size_t assign_step(struct km *m) {
    size_t changed = 0;
    for (size_t i = 0; i < m->n; i++) {
        const float *xi = m->x + i * m->d;
        double best = dist2(xi, m->cen, m->d);
        int32_t bj = 0;
        for (size_t j = 1; j < m->k; j++) {
            double e = dist2(xi, m->cen + j * m->d, m->d);
            if (e < best) best = e, bj = (int32_t)j;
        }
        changed += m->lab[i] != bj;
        m->lab[i] = bj;
        m->dist[i] = best;
    }
    return changed;
}

static void update_step(struct km *m) {
    memset(m->sum, 0, m->k * m->d * sizeof *m->sum);
    memset(m->cnt, 0, m->k * sizeof *m->cnt);
    for (size_t i = 0; i < m->n; i++) {
        size_t j = (size_t)m->lab[i];
        m->cnt[j] += 1;
        for (size_t t = 0; t < m->d; t++) m->sum[j * m->d + t] += m->x[i * m->d + t];
    }
    for (size_t j = 0; j < m->k; j++) {
        if (m->cnt[j] > 0) {
            for (size_t t = 0; t < m->d; t++)
                m->cen[j * m->d + t] = m->sum[j * m->d + t] / m->cnt[j];
            continue;
        }
        /* Empty cluster: move it onto the worst-served point (as sklearn does), and zero that
         * point's distance so a second empty cluster takes a different one. */
        size_t far = 0;
        for (size_t i = 1; i < m->n; i++)
            if (m->dist[i] > m->dist[far]) far = i;
        set_center(m, j, far);
        m->dist[far] = 0;
    }
}

enum cg_status cg_kmeans(const float *x, int n, int d, int k, uint64_t seed, int iters,
                         int restarts, int32_t *assign, float *centers) {
    if (n < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d must be >= 1", n);
    if (d < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "d=%d must be >= 1", d);
    if (k < 1 || k > n) return CG_FAIL(CG_ERR_INVALID_ARG, "k=%d must be in [1, n=%d]", k, n);
    if (iters < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "iters=%d must be >= 1", iters);
    if (restarts < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "restarts=%d must be >= 1", restarts);
    if (!x || !assign) return CG_FAIL(CG_ERR_INVALID_ARG, "x and assign must not be NULL");

    for (size_t i = 0; i < (size_t)n * (size_t)d; i++)
        if (!isfinite(x[i]))
            return CG_FAIL(CG_ERR_INVALID_ARG, "x[%zu]=%g must be finite", i, (double)x[i]);

    struct km m = {.x = x, .n = (size_t)n, .d = (size_t)d, .k = (size_t)k};
    size_t kd, dbl;
    if (!cg_mul_ok(m.k, m.d, &kd) ||
        !cg_mul_ok(3 * kd + m.n + m.k, sizeof(double), &dbl))
        return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d, d=%d, k=%d overflow a size", n, d, k);
    double *block = malloc(dbl);
    m.lab = malloc(m.n * sizeof *m.lab);
    if (!block || !m.lab) {
        free(block);
        free(m.lab);
        return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for n=%d, d=%d, k=%d",
                       dbl + m.n * sizeof *m.lab, n, d, k);
    }
    m.cen = block;
    m.sum = m.cen + kd;
    double *best_cen = m.sum + kd;
    m.dist = best_cen + kd;
    m.cnt = m.dist + m.n;

    double best = INFINITY;
    for (int run = 0; run < restarts; run++) {
        struct cg_rng r;
        cg_rng_seed(&r, seed, (uint64_t)run);
        seed_pp(&m, &r);
        for (size_t i = 0; i < m.n; i++) m.lab[i] = -1;
        /* iters updates between iters + 1 assignments, so the labels returned are those of
         * the final centers and the inertia is exact for them. */
        for (int it = 0;; it++) {
            size_t changed = assign_step(&m);
            if (it == iters || (it > 0 && changed == 0)) break;
            update_step(&m);
        }
        double inertia = 0;
        for (size_t i = 0; i < m.n; i++) inertia += m.dist[i];
        if (run == 0 || inertia < best) {
            best = inertia;
            memcpy(assign, m.lab, m.n * sizeof *assign);
            memcpy(best_cen, m.cen, kd * sizeof *best_cen);
        }
    }
    if (centers)
        for (size_t i = 0; i < kd; i++) centers[i] = (float)best_cen[i];
    free(block);
    free(m.lab);
    return CG_OK;
}

enum cg_status cg_kmeans_baseline(const float *x, const int32_t *truth, int n, int d, int k,
                                  int k_true, uint64_t seed, int32_t *assign, float *centers,
                                  double *acc, double *nmi) {
    if (!truth || !acc || !nmi)
        return CG_FAIL(CG_ERR_INVALID_ARG, "truth, acc and nmi must not be NULL");
    /* sklearn's n_init=10 where it is cheap; one run on MNIST (10000 x 784, k=20: ~0.2 s per
     * Lloyd iteration) keeps the baseline to seconds at the end of an hours-long run */
    double cost = (double)n * d * k;
    int restarts = cost <= 1e6 ? 10 : cost <= 2e7 ? 3 : 1;
    int32_t *a = assign ? assign : malloc((n > 0 ? (size_t)n : 1) * sizeof *a);
    if (!a) return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "n=%d assignments", n);
    enum cg_status st = cg_kmeans(x, n, d, k, seed, 300, restarts, a, centers);
    if (st == CG_OK) {
        *acc = cg_cluster_accuracy(a, truth, n, k, k_true);
        *nmi = cg_nmi(a, truth, n, k, k_true);
        if (!isfinite(*acc) || !isfinite(*nmi)) st = CG_ERR_INVALID_ARG; /* message set */
    }
    if (!assign) free(a);
    return st;
}
