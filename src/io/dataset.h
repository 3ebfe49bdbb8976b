/* Datasets of CONTRACT.md "Datasets": 2-D toy sets, rendered glyphs, MNIST IDX files and PNG
 * folders, loaded into memory as float rows. IDX: LeCun et al., yann.lecun.com/exdb/mnist. */
#ifndef CG_IO_DATASET_H
#define CG_IO_DATASET_H

#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CG_DATASET_MAX_CLASSES 64

/* x: (n, c*h*w) row-major, images in [0,1] (0 = background); y in [0, num_classes), or -1
 * for unlabelled-only examples (folder:DIR's train/unlabelled/). Both from cg_malloc. */
struct cg_split {
    int n;
    float *x;
    int32_t *y;
};

struct cg_dataset {
    char name[32];          /* "moons", "circles", "blobs", "glyphs", "mnist", "folder" */
    char source[512];       /* the SPEC as given */
    int c, h, w;            /* images: channels (1), height, width; 2-D points: 2, 1, 1 */
    int is_points;          /* 1 for moons/circles/blobs */
    int num_classes;
    char class_names[CG_DATASET_MAX_CLASSES][32]; /* folder: sorted folder names; else "0".. */
    struct cg_split train, test;
};

/* Loads or generates SPEC with the seed (same spec and seed, same bytes):
 *   "moons", "circles" (2 classes), "blobs" (3), "blobs:K" (K in 2..64): train 2000, test
 *       1000 points, classes interleaved (y = i % K), standardised (train mean 0, unit
 *       isotropic scale; test uses the train transform);
 *   "glyphs": 28x28x1, 10 classes, train 10000, test 2000;
 *   "mnist:DIR": train/t10k images/labels IDX files in DIR, each raw or .gz;
 *   "folder:DIR": DIR/{train,test}/<class>/ *.png, DIR/train/unlabelled/ *.png (y = -1).
 * ds is overwritten (zeroed first). Errors: CG_ERR_IO (missing/unreadable file),
 * CG_ERR_FORMAT (corrupt, truncated, wrong magic, counts that differ, PNG of another size,
 * class folder with no images), CG_ERR_INVALID_ARG (unknown spec), CG_ERR_OUT_OF_MEMORY;
 * cg_last_error() is one line naming the file (or the spec) and the problem. On error
 * nothing stays allocated and ds is zeroed. */
enum cg_status cg_dataset_load(const char *spec, uint64_t seed, struct cg_dataset *ds);

/* Frees both splits and zeroes ds; safe on a zeroed or already freed ds, and on NULL. */
void cg_dataset_free(struct cg_dataset *ds);

/* Picks n_labels/num_classes train examples of each class, without replacement, with the
 * seed (same arguments, same picks); idx_out[n_labels] receives train row indices, class 0's
 * first, each class's in increasing order. n_labels = 0 picks nothing. CG_ERR_INVALID_ARG
 * (naming --labels) if n_labels < 0, not a multiple of num_classes, or a class has fewer
 * train examples than n_labels/num_classes. Allocates nothing. */
enum cg_status cg_dataset_pick_labelled(const struct cg_dataset *ds, int n_labels,
                                        uint64_t seed, int32_t *idx_out);

/* ---- internal to src/io: one loader per family, called by cg_dataset_load with ds zeroed
 * and ds->source set; on error they may leave splits allocated (the caller frees). ---- */
enum cg_status cg_toy_load(const char *kind, int k, uint64_t seed, struct cg_dataset *ds);
enum cg_status cg_glyphs_load(uint64_t seed, struct cg_dataset *ds);
enum cg_status cg_idx_load(const char *dir, struct cg_dataset *ds);
enum cg_status cg_pngdir_load(const char *dir, struct cg_dataset *ds);
/* Allocates split rows for n examples of d floats each (x and y). */
enum cg_status cg_split_alloc(struct cg_split *s, int n, size_t d, const char *what);

#ifdef __cplusplus
}
#endif
#endif /* CG_IO_DATASET_H */
