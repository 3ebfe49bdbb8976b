/* Tests for src/eval: Hungarian against brute force over all permutations, cluster accuracy,
 * NMI (hand-computed cases), error rate and k-means (blobs, fixed-point, determinism). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "eval/eval.h"

/* ---- Hungarian ------------------------------------------------------------------------------ */

/* Minimum over all k! permutations, by recursion over the still-free columns. */
static double brute_min(const double *c, int k, int row, unsigned used, double acc) {
    if (row == k) return acc;
    double best = INFINITY;
    for (int j = 0; j < k; j++) {
        if (used & (1u << j)) continue;
        double v = brute_min(c, k, row + 1, used | (1u << j), acc + c[row * k + j]);
        if (v < best) best = v;
    }
    return best;
}

static void check_perm(const int *assign, int k) {
    int seen[8] = {0};
    for (int r = 0; r < k; r++) {
        cr_assert(assign[r] >= 0 && assign[r] < k, "assign[%d]=%d out of range", r, assign[r]);
        cr_assert(!seen[assign[r]], "column %d assigned twice", assign[r]);
        seen[assign[r]] = 1;
    }
}

Test(hungarian, brute_force_k1_to_6) {
    struct cg_rng r;
    double c[36];
    int assign[6];
    for (int k = 1; k <= 6; k++) {
        for (int s = 0; s < 300; s++) {
            cg_rng_seed(&r, 1000u * (uint64_t)k + (uint64_t)s, 7);
            /* Even seeds: small integers in [-3, 3], so many ties and negative costs; odd:
             * reals in [-10, 10]. */
            for (int i = 0; i < k * k; i++)
                c[i] = (s % 2 == 0) ? (double)cg_rng_below(&r, 7) - 3.0
                                    : -10.0 + 20.0 * cg_rng_uniform(&r);
            double want = brute_min(c, k, 0, 0, 0.0);
            double got = cg_hungarian(c, k, assign);
            check_perm(assign, k);
            double sum = 0;
            for (int row = 0; row < k; row++) sum += c[row * k + assign[row]];
            /* Integer costs are exact in double; real sums differ only in addition order,
             * a few ulps of |sum| <= 60. */
            double tol = (s % 2 == 0) ? 0.0 : 1e-12;
            cr_assert(fabs(got - want) <= tol, "k=%d seed=%d: got %.17g, brute force %.17g", k,
                      s, got, want);
            cr_assert(fabs(sum - got) <= tol, "k=%d seed=%d: returned total %.17g != %.17g", k,
                      s, got, sum);
        }
    }
}

Test(hungarian, all_ties_and_greedy_trap) {
    double c[25];
    int assign[5];
    for (int i = 0; i < 25; i++) c[i] = -2.5;
    cr_assert_eq(cg_hungarian(c, 5, assign), -12.5); /* exact: 5 * -2.5 */
    check_perm(assign, 5);
    /* Greedy on row 0 takes column 0 (cost 0) and pays 100 later; the optimum is 1 + 1. */
    double trap[4] = {0, 1, 1, 100};
    cr_assert_eq(cg_hungarian(trap, 2, assign), 2.0);
    cr_assert(assign[0] == 1 && assign[1] == 0);
}

Test(hungarian, bad_args) {
    double c[4] = {0, 1, NAN, 0};
    int assign[2];
    cr_assert(isnan(cg_hungarian(c, 0, assign)));
    cr_assert(strstr(cg_last_error(), "k=0"), "message: %s", cg_last_error());
    cr_assert(isnan(cg_hungarian(c, 2, assign)));
    cr_assert(strstr(cg_last_error(), "cost[2]"), "message: %s", cg_last_error());
}

/* ---- cluster accuracy ----------------------------------------------------------------------- */

Test(accuracy, permuted_perfect_labels) {
    enum { N = 503, K = 7 };
    int32_t truth[N], pred[N];
    const int32_t perm[K] = {3, 6, 0, 5, 1, 4, 2};
    struct cg_rng r;
    cg_rng_seed(&r, 42, 0);
    for (int i = 0; i < N; i++) truth[i] = (int32_t)cg_rng_below(&r, K), pred[i] = perm[truth[i]];
    cr_assert_eq(cg_cluster_accuracy(pred, truth, N, K, K), 1.0);
    /* More clusters than classes, each a pure subset: majority mapping is also perfect. */
    for (int i = 0; i < N; i++) pred[i] = perm[truth[i]] + K * (i % 2);
    cr_assert_eq(cg_cluster_accuracy(pred, truth, N, 2 * K, K), 1.0);
}

Test(accuracy, hand_computed_greedy_trap) {
    /* Contingency (rows pred, cols truth): pred0 = [3, 2], pred1 = [3, 0]; one entry with
     * truth -1 is ignored. Greedy pred0->0 gives 3 + 0; the best one-to-one mapping is
     * pred0->1, pred1->0: 2 + 3 = 5 of 8 labelled entries. */
    const int32_t pred[9] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    const int32_t truth[9] = {0, 0, 0, 1, 1, 0, 0, 0, -1};
    cr_assert_float_eq(cg_cluster_accuracy(pred, truth, 9, 2, 2), 5.0 / 8.0, 1e-15);
}

Test(accuracy, fewer_clusters_padded) {
    /* pred0 = [2, 0, 0], pred1 = [0, 1, 2] over 3 classes: pred0->0, pred1->2 match 4 of 5. */
    const int32_t pred[5] = {0, 0, 1, 1, 1}, truth[5] = {0, 0, 1, 2, 2};
    cr_assert_float_eq(cg_cluster_accuracy(pred, truth, 5, 2, 3), 0.8, 1e-15);
}

Test(accuracy, majority_when_more_clusters) {
    /* 4 clusters, 2 classes. Per cluster (truth0, truth1): c0 (3,1), c1 (0,2), c2 (2,2),
     * c3 (1,0); 3 entries without truth are ignored. Majorities 3 + 2 + 2 + 1 = 8 of 11; c0
     * and c3 both map to class 0, which a one-to-one mapping could not do. */
    const int32_t pred[14] = {0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 0, 1, 2};
    const int32_t truth[14] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, -1, -1, -1};
    cr_assert_float_eq(cg_cluster_accuracy(pred, truth, 14, 4, 2), 8.0 / 11.0, 1e-15);
}

Test(accuracy, bad_args) {
    const int32_t pred[3] = {0, 2, 1}, truth[3] = {0, 1, 1}, none[3] = {-1, -1, -1};
    cr_assert(isnan(cg_cluster_accuracy(pred, truth, 3, 2, 2)));
    cr_assert(strstr(cg_last_error(), "pred[1]=2"), "message: %s", cg_last_error());
    cr_assert(isnan(cg_cluster_accuracy(pred, truth, 3, 3, 0)));
    cr_assert(strstr(cg_last_error(), "k_true=0"), "message: %s", cg_last_error());
    cr_assert(isnan(cg_cluster_accuracy(pred, none, 3, 3, 2)));
}

/* ---- NMI ------------------------------------------------------------------------------------ */

Test(nmi, perfect_up_to_permutation) {
    enum { N = 301, K = 5 };
    int32_t truth[N], pred[N];
    for (int i = 0; i < N; i++) truth[i] = (int32_t)((i * 7) % K), pred[i] = (K - 1) - truth[i];
    /* Identical partitions: I = H(P) = H(T); only rounding in the logs separates it from 1. */
    cr_assert_float_eq(cg_nmi(pred, truth, N, K, K), 1.0, 1e-12);
    /* Unused cluster ids do not matter. */
    cr_assert_float_eq(cg_nmi(pred, truth, N, K + 3, K), 1.0, 1e-12);
}

Test(nmi, independent_is_near_zero) {
    /* Exactly independent: every (pred, truth) pair occurs equally often, so I = 0. */
    enum { N = 1200 };
    int32_t truth[N], pred[N];
    for (int i = 0; i < N; i++) truth[i] = i % 3, pred[i] = (i / 3) % 4;
    cr_assert_float_eq(cg_nmi(pred, truth, N, 4, 3), 0.0, 1e-12, "rounding in the logs only");
    /* Independent random labels: the plug-in MI is biased up by about
     * (kp-1)(kt-1)/(2N) = 12/40000 nats over H ~ 1.5, so NMI ~ 2e-4; 2e-3 leaves room. */
    enum { M = 20000 };
    static int32_t t2[M], p2[M];
    struct cg_rng r;
    cg_rng_seed(&r, 9, 1);
    for (int i = 0; i < M; i++) t2[i] = (int32_t)cg_rng_below(&r, 4);
    for (int i = 0; i < M; i++) p2[i] = (int32_t)cg_rng_below(&r, 5);
    double v = cg_nmi(p2, t2, M, 5, 4);
    cr_assert(v >= 0 && v < 2e-3, "NMI of independent labels = %g", v);
}

Test(nmi, hand_computed) {
    /* truth = [0,0,1,1], pred = [0,0,0,1], N = 4. Contingency (pred x truth):
     *   pred0: [2, 1]   row sums a = (3, 1)
     *   pred1: [0, 1]   col sums b = (2, 2)
     * H(T) = ln 2;  H(P) = -(3/4 ln 3/4 + 1/4 ln 1/4) = ln 4 - (3/4) ln 3.
     * I = 2/4 ln(4*2/(3*2)) + 1/4 ln(4*1/(3*2)) + 1/4 ln(4*1/(1*2))
     *   = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2 = (3/2) ln 2 - (3/4) ln 3 = 0.215762...
     * Arithmetic-mean normalisation: NMI = I / ((H(P) + H(T)) / 2) = 0.343712... (sklearn's
     * normalized_mutual_info_score([0,0,1,1], [0,0,0,1]) gives the same). */
    const int32_t truth[4] = {0, 0, 1, 1}, pred[4] = {0, 0, 0, 1};
    double ln2 = log(2.0), ln3 = log(3.0);
    double want = (1.5 * ln2 - 0.75 * ln3) / (0.5 * (ln2 + 2 * ln2 - 0.75 * ln3));
    double got = cg_nmi(pred, truth, 4, 2, 2);
    cr_assert_float_eq(got, want, 1e-14, "got %.17g want %.17g", got, want); /* log rounding */
    cr_assert_float_eq(got, 0.343712, 1e-6);  /* the decimal worked out above */
    /* NMI is symmetric in its two labelings. */
    cr_assert_float_eq(cg_nmi(truth, pred, 4, 2, 2), want, 1e-14);
}

Test(nmi, constant_labelings) {
    const int32_t zeros[4] = {0, 0, 0, 0}, truth[4] = {0, 1, 0, 1};
    cr_assert_eq(cg_nmi(zeros, zeros, 4, 1, 1), 1.0); /* sklearn's convention */
    cr_assert_eq(cg_nmi(zeros, truth, 4, 3, 2), 0.0); /* one cluster tells nothing */
}

/* ---- error rate ----------------------------------------------------------------------------- */

Test(error_rate, counts_labelled_only) {
    const int32_t pred[5] = {0, 1, 2, 1, 7}, truth[5] = {0, 2, 2, -1, 7};
    cr_assert_float_eq(cg_error_rate(pred, truth, 5), 1.0 / 4.0, 1e-15);
    const int32_t none[2] = {-1, -1};
    cr_assert(isnan(cg_error_rate(pred, none, 2)));
    cr_assert_eq(cg_error_rate(pred, pred, 5), 0.0);
}

/* ---- k-means -------------------------------------------------------------------------------- */

/* Gaussian blobs of std 0.3 around centers 10 apart in d dims, uneven sizes. */
static void make_blobs(float *x, int32_t *lab, int n, int d, int k, uint64_t seed) {
    struct cg_rng r;
    cg_rng_seed(&r, seed, 3);
    for (int i = 0; i < n; i++) {
        lab[i] = (int32_t)((i % (2 * k + 1)) % k); /* interleaved; blob 0 is the largest */
        for (int t = 0; t < d; t++) {
            float c = (t == lab[i] % d) ? 10.0f * (float)(1 + lab[i] / d) : 0.0f;
            x[i * d + t] = c + 0.3f * cg_rng_normal(&r);
        }
    }
}

static double naive_inertia(const float *x, const int32_t *a, const float *c, int n, int d) {
    double s = 0;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < d; t++) {
            double e = (double)x[i * d + t] - c[a[i] * d + t];
            s += e * e;
        }
    return s;
}

Test(kmeans, recovers_blobs) {
    enum { N = 301, D = 3, K = 5 };
    static float x[N * D], cen[K * D];
    int32_t lab[N], a[N];
    make_blobs(x, lab, N, D, K, 5);
    cr_assert_eq(cg_kmeans(x, N, D, K, 11, 100, 4, a, cen), CG_OK, "%s", cg_last_error());
    /* Independent check of a perfect clustering: blob -> cluster is a function, and injective. */
    int32_t map[K];
    for (int j = 0; j < K; j++) map[j] = -1;
    for (int i = 0; i < N; i++) {
        if (map[lab[i]] < 0) map[lab[i]] = a[i];
        cr_assert_eq(a[i], map[lab[i]], "point %d of blob %d split", i, lab[i]);
    }
    for (int p = 0; p < K; p++)
        for (int q = p + 1; q < K; q++) cr_assert_neq(map[p], map[q], "blobs %d, %d merged", p, q);
    cr_assert_eq(cg_cluster_accuracy(a, lab, N, K, K), 1.0);
    /* Each center is its blob's mean (naive double sum); float storage rounds at ~1e-6. */
    for (int b = 0; b < K; b++) {
        double m[D] = {0};
        int cnt = 0;
        for (int i = 0; i < N; i++)
            if (lab[i] == b) {
                cnt++;
                for (int t = 0; t < D; t++) m[t] += x[i * D + t];
            }
        for (int t = 0; t < D; t++)
            cr_assert_float_eq(cen[map[b] * D + t], m[t] / cnt, 1e-4);
    }
}

Test(kmeans, deterministic_per_seed) {
    enum { N = 257, D = 2, K = 6 };
    static float x[N * D], c1[K * D], c2[K * D];
    int32_t a1[N], a2[N];
    t_fill(x, N * D, -1.0f, 1.0f, 77); /* no structure: the result depends on the seeding */
    cr_assert_eq(cg_kmeans(x, N, D, K, 123, 50, 3, a1, c1), CG_OK);
    cr_assert_eq(cg_kmeans(x, N, D, K, 123, 50, 3, a2, c2), CG_OK);
    cr_assert(memcmp(a1, a2, sizeof a1) == 0 && memcmp(c1, c2, sizeof c1) == 0);
}

Test(kmeans, lloyd_fixed_point_and_restarts) {
    enum { N = 199, D = 3, K = 4 };
    static float x[N * D], c[K * D];
    int32_t a[N];
    t_fill(x, N * D, -1.0f, 1.0f, 99);
    cr_assert_eq(cg_kmeans(x, N, D, K, 5, 1000, 1, a, c), CG_OK);
    /* Converged Lloyd: each point is at its nearest center and each center is its mean. The
     * 1e-5 slack covers centers rounded to float (distances ~1, float eps 1.2e-7). */
    for (int i = 0; i < N; i++) {
        double mine = 0;
        for (int t = 0; t < D; t++) mine += pow(x[i * D + t] - c[a[i] * D + t], 2);
        for (int j = 0; j < K; j++) {
            double e = 0;
            for (int t = 0; t < D; t++) e += pow(x[i * D + t] - c[j * D + t], 2);
            cr_assert(mine <= e + 1e-5, "point %d: center %d closer than %d", i, j, a[i]);
        }
    }
    for (int j = 0; j < K; j++) {
        double m[D] = {0};
        int cnt = 0;
        for (int i = 0; i < N; i++)
            if (a[i] == j) {
                cnt++;
                for (int t = 0; t < D; t++) m[t] += x[i * D + t];
            }
        cr_assert_gt(cnt, 0, "cluster %d empty", j);
        for (int t = 0; t < D; t++) cr_assert_float_eq(c[j * D + t], m[t] / cnt, 1e-5);
    }
    /* Restart 0 uses the same stream, so more restarts can only lower the inertia. */
    double one = naive_inertia(x, a, c, N, D);
    cr_assert_eq(cg_kmeans(x, N, D, K, 5, 1000, 8, a, c), CG_OK);
    cr_assert_leq(naive_inertia(x, a, c, N, D), one * (1 + 1e-9)); /* float-center rounding */
}

Test(kmeans, degenerate_inputs) {
    /* k = n: every point its own center. Duplicates: fewer distinct points than k. */
    float x[6] = {0, 0, 1, 0, 0, 1};
    float c[6];
    int32_t a[3];
    cr_assert_eq(cg_kmeans(x, 3, 2, 3, 1, 10, 2, a, c), CG_OK);
    cr_assert(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
    cr_assert_eq(naive_inertia(x, a, c, 3, 2), 0.0);
    float dup[8] = {2, 2, 2, 2, 2, 2, 5, 5};
    int32_t b[4];
    cr_assert_eq(cg_kmeans(dup, 4, 2, 3, 1, 10, 1, b, NULL), CG_OK);
    for (int i = 0; i < 4; i++) cr_assert(b[i] >= 0 && b[i] < 3);
    cr_assert_neq(b[0], b[3]);
}

Test(kmeans, bad_args) {
    float x[4] = {0, 1, 2, 3};
    int32_t a[4];
    cr_assert_eq(cg_kmeans(x, 4, 1, 5, 1, 10, 1, a, NULL), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "k=5"), "message: %s", cg_last_error());
    cr_assert_eq(cg_kmeans(x, 4, 1, 2, 1, 0, 1, a, NULL), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "iters=0"), "message: %s", cg_last_error());
    cr_assert_eq(cg_kmeans(x, 4, 1, 2, 1, 10, 0, a, NULL), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "restarts=0"), "message: %s", cg_last_error());
    x[2] = NAN;
    cr_assert_eq(cg_kmeans(x, 4, 1, 2, 1, 10, 1, a, NULL), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "x[2]"), "message: %s", cg_last_error());
}
