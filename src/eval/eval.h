/* Evaluation of clusterings: Hungarian assignment, cluster accuracy, NMI, error rate, k-means.
 * Hungarian: Kuhn (1955), Munkres (1957); k-means++: Arthur & Vassilvitskii (SODA 2007).
 * These run outside the training step: they may allocate (and free before returning). */
#ifndef CG_EVAL_H
#define CG_EVAL_H

#include <stdint.h>

#include "catgan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Minimum-cost assignment of a k x k cost matrix (row-major), Hungarian / Kuhn-Munkres, O(k^3).
 * Writes assign[row] = column (a permutation of [0,k)) and returns the total cost
 * sum_r cost[r*k + assign[r]]. Costs may be negative and tied; they must be finite.
 * Returns NaN with cg_last_error() set when k < 1, a pointer is NULL, or memory runs out. */
double cg_hungarian(const double *cost, int k, int *assign);

/* Cluster accuracy of pred[i] in [0,k_pred) against truth[i] in [0,k_true); entries with
 * truth[i] < 0 are ignored. k_pred <= k_true: the best one-to-one mapping of clusters to
 * classes (Hungarian on the k_true x k_true contingency table, padded with empty clusters).
 * k_pred > k_true: each cluster maps to its majority class (ties: the lowest class).
 * Returns the matched fraction in [0,1]; NaN with cg_last_error() set when no entry is
 * labelled, an argument is invalid (a pred or truth out of range included) or memory runs out. */
double cg_cluster_accuracy(const int32_t *pred, const int32_t *truth, int n, int k_pred,
                           int k_true);

/* Normalised mutual information with the ARITHMETIC-MEAN normalisation (sklearn's default,
 * average_method='arithmetic'): NMI = I(P;T) / ((H(P) + H(T)) / 2), natural logs (the ratio
 * does not depend on the base). 1 when both labelings are constant (sklearn's convention).
 * truth[i] < 0 is ignored. NaN (cg_last_error() set) as for cg_cluster_accuracy. */
double cg_nmi(const int32_t *pred, const int32_t *truth, int n, int k_pred, int k_true);

/* Fraction of the i with truth[i] >= 0 where pred[i] != truth[i]; NaN when there is none. */
double cg_error_rate(const int32_t *pred, const int32_t *truth, int n);

/* k-means (Lloyd) on x (n, d), k-means++ seeding from `seed`, `restarts` independent runs
 * (restart r uses RNG stream r) of at most `iters` Lloyd iterations each; keeps the run of
 * least inertia (sum of squared distances; ties: the earlier run). Writes assign (n), in
 * [0,k), and centers (k, d) when not NULL. An emptied cluster is re-seeded with the point
 * farthest from its center. Deterministic: same inputs and seed, same bits.
 * Needs 1 <= k <= n, d >= 1, iters >= 1, restarts >= 1. */
enum cg_status cg_kmeans(const float *x, int n, int d, int k, uint64_t seed, int iters,
                         int restarts, int32_t *assign, float *centers);

/* The k-means baseline a run reports beside CatGAN (issue 6; the paper's figure 2 contrasts
 * them): cg_kmeans on the rows x (n, d) with k clusters and `seed`, then assign scored against
 * truth (n, in [0,k_true) or < 0 for unlabelled) exactly as D's clusters are: *acc by
 * cg_cluster_accuracy (Hungarian, or majority mapping when k > k_true), *nmi by cg_nmi.
 * Restarts fall with the cost n*d*k (10 for 2-D toy sets, 1 for MNIST-sized splits), so it
 * takes at most seconds to tens of seconds. assign (n) and centers (k, d) may be NULL. */
enum cg_status cg_kmeans_baseline(const float *x, const int32_t *truth, int n, int d, int k,
                                  int k_true, uint64_t seed, int32_t *assign, float *centers,
                                  double *acc, double *nmi);

#ifdef __cplusplus
}
#endif
#endif /* CG_EVAL_H */
