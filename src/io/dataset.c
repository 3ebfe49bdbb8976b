/* Dataset spec parsing and dispatch, the labelled-subset draw and freeing (CONTRACT.md
 * "Datasets"). The subset draw is Knuth's selection sampling (TAOCP vol. 2, 3.4.2, Alg. S). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/dataset.h"

/* RNG stream of the labelled-subset draw; the loaders use other streams of the same seed. */
#define PICK_STREAM 0x4c4142454c53ull

enum cg_status cg_split_alloc(struct cg_split *s, int n, size_t d, const char *what) {
    size_t nx;
    if (n <= 0 || d == 0 || !cg_mul_ok((size_t)n, d, &nx) || !cg_mul_ok(nx, sizeof(float), &nx))
        return CG_FAIL(CG_ERR_INVALID_ARG, "%s: n=%d, d=%zu must be > 0 and fit in memory",
                       what, n, d);
    s->x = cg_malloc(nx);
    s->y = cg_malloc((size_t)n * sizeof(int32_t));
    if (!s->x || !s->y) {
        cg_free(s->x);
        cg_free(s->y);
        s->x = NULL;
        s->y = NULL;
        return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "%s: out of memory for %d examples of %zu floats",
                       what, n, d);
    }
    s->n = n;
    return CG_OK;
}

static void split_free(struct cg_split *s) {
    cg_free(s->x);
    cg_free(s->y);
    memset(s, 0, sizeof *s);
}

void cg_dataset_free(struct cg_dataset *ds) {
    if (!ds) return;
    split_free(&ds->train);
    split_free(&ds->test);
    memset(ds, 0, sizeof *ds);
}

static void default_class_names(struct cg_dataset *ds) {
    for (int k = 0; k < ds->num_classes; k++)
        snprintf(ds->class_names[k], sizeof ds->class_names[k], "%d", k);
}

/* "blobs:K" -> K; -1 when the text after the colon is not a plain decimal number */
static int parse_int(const char *s) {
    if (*s < '0' || *s > '9') return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 1000000) return -1;
        v = v * 10 + (*s - '0');
    }
    return (int)v;
}

static enum cg_status dispatch(const char *spec, uint64_t seed, struct cg_dataset *ds) {
    if (!strcmp(spec, "moons") || !strcmp(spec, "circles") || !strcmp(spec, "blobs"))
        return cg_toy_load(spec, !strcmp(spec, "blobs") ? 3 : 2, seed, ds);
    if (!strncmp(spec, "blobs:", 6)) {
        int k = parse_int(spec + 6);
        if (k < 2 || k > CG_DATASET_MAX_CLASSES)
            return CG_FAIL(CG_ERR_INVALID_ARG,
                           "dataset '%s': K in blobs:K must be an integer in 2..%d", spec,
                           CG_DATASET_MAX_CLASSES);
        return cg_toy_load("blobs", k, seed, ds);
    }
    if (!strcmp(spec, "glyphs")) return cg_glyphs_load(seed, ds);
    if (!strncmp(spec, "mnist:", 6) && spec[6]) return cg_idx_load(spec + 6, ds);
    if (!strncmp(spec, "folder:", 7) && spec[7]) return cg_pngdir_load(spec + 7, ds);
    return CG_FAIL(CG_ERR_INVALID_ARG,
                   "unknown dataset '%s': expected moons, circles, blobs, blobs:K, glyphs, "
                   "mnist:DIR or folder:DIR", spec);
}

enum cg_status cg_dataset_load(const char *spec, uint64_t seed, struct cg_dataset *ds) {
    if (!ds) return CG_FAIL(CG_ERR_INVALID_ARG, "ds must not be NULL");
    memset(ds, 0, sizeof *ds);
    if (!spec) return CG_FAIL(CG_ERR_INVALID_ARG, "spec=NULL must name a dataset");
    if (strlen(spec) >= sizeof ds->source)
        return CG_FAIL(CG_ERR_INVALID_ARG, "dataset spec is %zu characters, at most %zu",
                       strlen(spec), sizeof ds->source - 1);
    memcpy(ds->source, spec, strlen(spec) + 1);
    enum cg_status st = dispatch(spec, seed, ds);
    if (st != CG_OK) {
        cg_dataset_free(ds);
        return st;
    }
    if (!ds->class_names[0][0]) default_class_names(ds);
    return CG_OK;
}

enum cg_status cg_dataset_pick_labelled(const struct cg_dataset *ds, int n_labels,
                                        uint64_t seed, int32_t *idx_out) {
    if (!ds || ds->num_classes < 1 || !ds->train.y)
        return CG_FAIL(CG_ERR_INVALID_ARG, "ds must be a loaded dataset");
    int k = ds->num_classes;
    if (n_labels < 0 || n_labels % k != 0)
        return CG_FAIL(CG_ERR_INVALID_ARG,
                       "--labels=%d must be a non-negative multiple of the %d classes of %s",
                       n_labels, k, ds->source);
    if (n_labels == 0) return CG_OK;
    if (!idx_out) return CG_FAIL(CG_ERR_INVALID_ARG, "idx_out must not be NULL");
    int per = n_labels / k;
    const struct cg_split *tr = &ds->train;
    for (int c = 0; c < k; c++) {
        int have = 0;
        for (int i = 0; i < tr->n; i++) have += tr->y[i] == c;
        if (have < per)
            return CG_FAIL(CG_ERR_INVALID_ARG,
                           "--labels=%d needs %d examples of class '%s' but the train split "
                           "of %s has %d", n_labels, per, ds->class_names[c], ds->source, have);
    }
    struct cg_rng r;
    cg_rng_seed(&r, seed, PICK_STREAM);
    int out = 0;
    for (int c = 0; c < k; c++) {
        int left = 0, need = per;
        for (int i = 0; i < tr->n; i++) left += tr->y[i] == c;
        /* Algorithm S: take the next of `left` candidates with probability need/left */
        for (int i = 0; i < tr->n && need > 0; i++) {
            if (tr->y[i] != c) continue;
            if ((int)cg_rng_below(&r, (uint32_t)left) < need) {
                idx_out[out++] = i;
                need--;
            }
            left--;
        }
    }
    return CG_OK;
}
