/* Clustering metrics: Hungarian assignment, cluster accuracy, NMI, error rate.
 * Hungarian with row/column potentials and shortest augmenting paths, O(k^3): Kuhn (1955),
 * Munkres (1957), in the Jonker-Volgenant / e-maxx formulation. NMI: Vinh et al., JMLR 2010. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "eval/eval.h"

double cg_hungarian(const double *cost, int k, int *assign) {
    if (k < 1) {
        CG_FAIL(CG_ERR_INVALID_ARG, "k=%d must be >= 1", k);
        return NAN;
    }
    if (!cost || !assign) {
        CG_FAIL(CG_ERR_INVALID_ARG, "cost and assign must not be NULL");
        return NAN;
    }
    size_t kk = (size_t)k * (size_t)k;
    for (size_t i = 0; i < kk; i++) {
        if (!isfinite(cost[i])) {
            CG_FAIL(CG_ERR_INVALID_ARG, "cost[%zu]=%g must be finite", i, cost[i]);
            return NAN;
        }
    }
    /* Index 0 is a virtual column where each new row's augmenting path starts, so arrays are
     * 1-based with k + 1 entries. */
    size_t m = (size_t)k + 1;
    double *u = malloc(3 * m * sizeof *u);
    int *p = malloc(2 * m * sizeof *p);
    unsigned char *used = malloc(m);
    if (!u || !p || !used) {
        free(u);
        free(p);
        free(used);
        CG_FAIL(CG_ERR_OUT_OF_MEMORY, "cannot allocate the work arrays for k=%d", k);
        return NAN;
    }
    double *v = u + m, *minv = v + m;
    int *way = p + m;
    for (size_t j = 0; j < m; j++) u[j] = v[j] = 0, p[j] = way[j] = 0;

    for (int i = 1; i <= k; i++) {
        /* Grow a tree of tight edges from row i (Dijkstra on reduced costs) until it reaches a
         * free column, then flip the path. Potentials keep every reduced cost >= 0. */
        p[0] = i;
        int j0 = 0;
        for (size_t j = 0; j < m; j++) minv[j] = INFINITY, used[j] = 0;
        do {
            used[j0] = 1;
            int i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            const double *row = cost + (size_t)(i0 - 1) * (size_t)k;
            for (int j = 1; j <= k; j++) {
                if (used[j]) continue;
                double cur = row[j - 1] - u[i0] - v[j];
                if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                if (minv[j] < delta || j1 == 0) delta = minv[j], j1 = j;
            }
            for (int j = 0; j <= k; j++) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    for (int j = 1; j <= k; j++) assign[p[j] - 1] = j - 1;
    /* The total from the original matrix: the potentials accumulate rounding. */
    double total = 0;
    for (int r = 0; r < k; r++) total += cost[(size_t)r * (size_t)k + (size_t)assign[r]];
    free(u);
    free(p);
    free(used);
    return total;
}

/* Checks the label arrays and counts the labelled entries; NaN-returning callers share it. */
static enum cg_status check_labels(const char *fn, const int32_t *pred, const int32_t *truth,
                                   int n, int k_pred, int k_true, size_t *n_valid) {
    enum cg_status bad = CG_ERR_INVALID_ARG;
    if (n < 0) return cg_fail_at(bad, fn, "n=%d must be >= 0", n);
    if (k_pred < 1) return cg_fail_at(bad, fn, "k_pred=%d must be >= 1", k_pred);
    if (k_true < 1) return cg_fail_at(bad, fn, "k_true=%d must be >= 1", k_true);
    if (n > 0 && (!pred || !truth)) return cg_fail_at(bad, fn, "pred and truth must not be NULL");
    size_t cnt = 0;
    for (int i = 0; i < n; i++) {
        if (truth[i] < 0) continue;
        if (truth[i] >= k_true)
            return cg_fail_at(bad, fn, "truth[%d]=%d must be < k_true=%d", i, (int)truth[i],
                              k_true);
        if (pred[i] < 0 || pred[i] >= k_pred)
            return cg_fail_at(bad, fn, "pred[%d]=%d must be in [0, k_pred=%d)", i, (int)pred[i],
                              k_pred);
        cnt++;
    }
    if (cnt == 0) return cg_fail_at(bad, fn, "no entry has a label (truth >= 0)");
    *n_valid = cnt;
    return CG_OK;
}

/* Contingency table counts[p * cols + t] (cols >= k_true, rows >= k_pred), zero elsewhere. */
static double *contingency(const int32_t *pred, const int32_t *truth, int n, size_t rows,
                           size_t cols) {
    size_t cells;
    if (!cg_mul_ok(rows, cols, &cells) || !cg_mul_ok(cells, sizeof(double), &cells)) return NULL;
    double *c = calloc(1, cells);
    if (!c) return NULL;
    for (int i = 0; i < n; i++)
        if (truth[i] >= 0) c[(size_t)pred[i] * cols + (size_t)truth[i]] += 1;
    return c;
}

double cg_cluster_accuracy(const int32_t *pred, const int32_t *truth, int n, int k_pred,
                           int k_true) {
    size_t n_valid;
    if (check_labels(__func__, pred, truth, n, k_pred, k_true, &n_valid) != CG_OK) return NAN;
    if (k_pred > k_true) {
        /* More clusters than classes: many-to-one, each cluster votes for its majority. */
        double *c = contingency(pred, truth, n, (size_t)k_pred, (size_t)k_true);
        if (!c) goto oom;
        double hit = 0;
        for (int p = 0; p < k_pred; p++) {
            double best = 0;
            for (int t = 0; t < k_true; t++) best = fmax(best, c[(size_t)p * k_true + t]);
            hit += best;
        }
        free(c);
        return hit / (double)n_valid;
    }
    /* One-to-one: maximise matched counts = minimise their negation. Rows k_pred..k_true-1 are
     * empty clusters, so the Hungarian matrix is square. */
    size_t kt = (size_t)k_true;
    double *c = contingency(pred, truth, n, kt, kt);
    int *assign = malloc(kt * sizeof *assign);
    if (!c || !assign) {
        free(c);
        free(assign);
        goto oom;
    }
    for (size_t i = 0; i < kt * kt; i++) c[i] = -c[i];
    double neg = cg_hungarian(c, k_true, assign);
    free(c);
    free(assign);
    if (isnan(neg)) return NAN; /* the Hungarian's own error message stands */
    return -neg / (double)n_valid;
oom:
    CG_FAIL(CG_ERR_OUT_OF_MEMORY, "cannot allocate a %d x %d contingency table", k_pred, k_true);
    return NAN;
}

double cg_nmi(const int32_t *pred, const int32_t *truth, int n, int k_pred, int k_true) {
    size_t n_valid;
    if (check_labels(__func__, pred, truth, n, k_pred, k_true, &n_valid) != CG_OK) return NAN;
    size_t kp = (size_t)k_pred, kt = (size_t)k_true;
    double *c = contingency(pred, truth, n, kp, kt);
    double *a = malloc((kp + kt) * sizeof *a);
    if (!c || !a) {
        free(c);
        free(a);
        CG_FAIL(CG_ERR_OUT_OF_MEMORY, "cannot allocate a %d x %d contingency table", k_pred,
                k_true);
        return NAN;
    }
    double *b = a + kp;
    memset(a, 0, (kp + kt) * sizeof *a);
    for (size_t p = 0; p < kp; p++)
        for (size_t t = 0; t < kt; t++) a[p] += c[p * kt + t], b[t] += c[p * kt + t];
    double N = (double)n_valid;
    double hp = 0, ht = 0, mi = 0;
    int used_p = 0, used_t = 0;
    for (size_t p = 0; p < kp; p++)
        if (a[p] > 0) hp -= a[p] / N * log(a[p] / N), used_p++;
    for (size_t t = 0; t < kt; t++)
        if (b[t] > 0) ht -= b[t] / N * log(b[t] / N), used_t++;
    /* I = sum_pt n_pt/N log(N n_pt / (a_p b_t)); empty cells contribute 0 (x log x -> 0). */
    for (size_t p = 0; p < kp; p++)
        for (size_t t = 0; t < kt; t++) {
            double nij = c[p * kt + t];
            if (nij > 0) mi += nij / N * log(N * nij / (a[p] * b[t]));
        }
    free(c);
    free(a);
    /* Both labelings constant: identical partitions, sklearn's convention gives 1. */
    if (used_p == 1 && used_t == 1) return 1.0;
    if (mi <= 0) return 0.0; /* independent (rounding can make it a hair negative) */
    double nmi = mi / (0.5 * (hp + ht));
    return nmi > 1.0 ? 1.0 : nmi; /* I <= min(H) <= mean(H); clip the last-bit excess */
}

double cg_error_rate(const int32_t *pred, const int32_t *truth, int n) {
    if (n < 0 || (n > 0 && (!pred || !truth))) {
        CG_FAIL(CG_ERR_INVALID_ARG, "n=%d must be >= 0 with non-NULL pred and truth", n);
        return NAN;
    }
    size_t cnt = 0, wrong = 0;
    for (int i = 0; i < n; i++) {
        if (truth[i] < 0) continue;
        cnt++;
        wrong += pred[i] != truth[i];
    }
    if (cnt == 0) {
        CG_FAIL(CG_ERR_INVALID_ARG, "no entry has a label (truth >= 0)");
        return NAN;
    }
    return (double)wrong / (double)cnt;
}
