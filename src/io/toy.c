/* 2-D toy sets: two moons and two circles as in scikit-learn's make_moons / make_circles
 * (noise 0.1, resp. factor 0.5 and noise 0.05) and K Gaussian blobs, standardised. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/dataset.h"

#define TOY_TRAIN 2000
#define TOY_TEST 1000
#define TOY_PI 3.14159265358979323846

enum toy_kind { TOY_MOONS, TOY_CIRCLES, TOY_BLOBS };

/* Blobs sit on a circle of radius 4 (std 0.5), grown for large K so that neighbouring
 * centres stay 3 apart (6 std): radius 4 would put 64 centres 0.39 apart, one blob. */
static double blob_radius(int k) {
    double r = 1.5 / sin(TOY_PI / k);
    return r > 4.0 ? r : 4.0;
}

static void gen(enum toy_kind kind, int k, struct cg_rng *r, struct cg_split *s) {
    double radius = blob_radius(k);
    for (int i = 0; i < s->n; i++) {
        int c = i % k;   /* interleaved: every class exactly n/k times (up to one) */
        double px, py, noise;
        if (kind == TOY_MOONS) {
            double t = TOY_PI * cg_rng_uniform(r);
            px = c == 0 ? cos(t) : 1.0 - cos(t);
            py = c == 0 ? sin(t) : 0.5 - sin(t);
            noise = 0.1;
        } else if (kind == TOY_CIRCLES) {
            double t = 2.0 * TOY_PI * cg_rng_uniform(r), rad = c == 0 ? 1.0 : 0.5;
            px = rad * cos(t);
            py = rad * sin(t);
            noise = 0.05;
        } else {
            double a = 2.0 * TOY_PI * c / k;
            px = radius * cos(a);
            py = radius * sin(a);
            noise = 0.5;
        }
        s->x[2 * i] = (float)(px + noise * cg_rng_normal(r));
        s->x[2 * i + 1] = (float)(py + noise * cg_rng_normal(r));
        s->y[i] = c;
    }
}

/* Train mean to 0 and one isotropic scale (RMS over both axes) to 1: isotropic, so the
 * shapes (circles, arcs) keep their geometry; the test split reuses the train transform. */
static void standardise(struct cg_split *train, struct cg_split *test) {
    double m[2] = {0, 0}, v = 0;
    for (int i = 0; i < train->n; i++)
        for (int a = 0; a < 2; a++) m[a] += train->x[2 * i + a];
    m[0] /= train->n;
    m[1] /= train->n;
    for (int i = 0; i < 2 * train->n; i++) {
        double d = train->x[i] - m[i & 1];
        v += d * d;
    }
    double inv = 1.0 / sqrt(v / (2.0 * train->n));
    struct cg_split *sp[2] = {train, test};
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < sp[j]->n; i++)
            for (int a = 0; a < 2; a++)
                sp[j]->x[2 * i + a] = (float)((sp[j]->x[2 * i + a] - m[a]) * inv);
}

enum cg_status cg_toy_load(const char *kind, int k, uint64_t seed, struct cg_dataset *ds) {
    enum toy_kind t = !strcmp(kind, "moons") ? TOY_MOONS
                      : !strcmp(kind, "circles") ? TOY_CIRCLES : TOY_BLOBS;
    if (t != TOY_BLOBS) k = 2;
    if (k < 2 || k > CG_DATASET_MAX_CLASSES)
        return CG_FAIL(CG_ERR_INVALID_ARG, "k=%d must be in 2..%d", k, CG_DATASET_MAX_CLASSES);
    snprintf(ds->name, sizeof ds->name, "%s", kind);
    ds->c = 2;
    ds->h = ds->w = 1;
    ds->is_points = 1;
    ds->num_classes = k;
    enum cg_status st = cg_split_alloc(&ds->train, TOY_TRAIN, 2, kind);
    if (st == CG_OK) st = cg_split_alloc(&ds->test, TOY_TEST, 2, kind);
    if (st != CG_OK) return st;
    struct cg_rng r;
    cg_rng_seed(&r, seed, 0x746f7901ull);   /* train and test: distinct streams of the seed */
    gen(t, k, &r, &ds->train);
    cg_rng_seed(&r, seed, 0x746f7902ull);
    gen(t, k, &r, &ds->test);
    standardise(&ds->train, &ds->test);
    return CG_OK;
}
