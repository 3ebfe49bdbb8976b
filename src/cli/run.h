/* State of one `catgan train` run and the pieces of its run directory. */
#ifndef CG_CLI_RUN_H
#define CG_CLI_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "catgan.h"
#include "io/dataset.h"

struct run_opts {
    char data[512], arch[16], out[1024], resume[1024];
    int classes, labels, batch, threads, json, quiet, profile;
    long iters, log_every;
    double epochs, time_s, lambda, lr, lr_g, beta1;
    double lr_decay_from;        /* --lr-decay-from F: linear decay over the last 1-F; < 0 off */
    double ema;                  /* --ema D: evaluate D's averaged weights; 0 off */
    double d_noise;              /* --d-noise S: Gaussian noise in conv D's training; 0 off */
    uint64_t seed;
    struct { int data, arch, labels, lr, ema; } given;
};

/* One metrics.csv row. */
enum { COL_ITER, COL_EPOCH, COL_SECONDS, COL_D, COL_G, COL_HX, COL_HREAL, COL_HFAKE, COL_HG,
       COL_CE, COL_TEST_ERROR, COL_ACC, COL_NMI, COL_TEST_ERROR_RAW, COL_ACC_RAW, NCOLS };
struct run_row { double v[NCOLS]; };

struct run_eval {
    cg_catgan_terms terms;
    int have_eval;
    double test_error, cluster_accuracy, nmi;
    double test_error_raw, cluster_accuracy_raw; /* D's training weights under --ema, else NaN */
    char test_error_str[48];
};

struct run_state {
    struct run_opts opts;
    struct cg_dataset ds;
    cg_model *model;
    int32_t *lab_idx;            /* the labelled subset (train indices) */
    int32_t *perm;               /* this epoch's order of the unlabelled set */
    int64_t perm_epoch;
    float *xb, *xl;              /* the batch: real unlabelled, labelled */
    int32_t *yl, *pred;
    int64_t iter, target_iters, log_every;
    double epoch, seconds, img_per_s;
    struct run_eval last;
    double km_acc, km_nmi;       /* the k-means baseline on the test split (NaN: not run) */
    struct run_row *rows;
    int nrows, cap_rows;
    FILE *csv;
};

void run_state_init(struct run_state *r);
void run_state_free(struct run_state *r);
int run_prepare(struct run_state *r);        /* CLI_OK or an exit code (error printed) */
int run_open_outputs(struct run_state *r);
void run_fill_batch(struct run_state *r);
int run_log(struct run_state *r);            /* evaluate, append a row, checkpoint: 0 ok */
int run_finish(struct run_state *r);         /* summary.json, samples.png, curves.png */
void run_print_summary(const struct run_state *r, FILE *f);
int run_dir_has_entries(const char *path);
/* Evaluates D on the test split of ds: fills e (not terms). */
void run_evaluate(cg_model *m, const struct cg_dataset *ds, int labelled, int32_t *pred,
                  struct run_eval *e);
/* samples.png: an image grid, or for 2-D data the scatter of test points by cluster with the
 * decision regions and generated points. */
enum cg_status run_samples_png(cg_model *m, const struct cg_dataset *ds, const int32_t *pred,
                               int n, uint64_t seed, const char *path);

#endif
