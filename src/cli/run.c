/* The run directory of `catgan train`: preparing data and model (or resuming), batches,
 * evaluation, metrics.csv, checkpoints, summary.json and pictures. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "core/core.h"
#include "dist/dist.h"
#include "eval/eval.h"
#include "io/plot.h"

#define STREAM_PERM 0x5045524dull   /* "PERM" */
#define STREAM_LAB 0x4c414231ull    /* "LAB1" */

static const char *COL_NAMES[NCOLS] = {"iter", "epoch", "seconds", "d_loss", "g_loss", "h_x",
                                       "h_real", "h_fake", "h_g", "ce", "test_error",
                                       "cluster_accuracy", "nmi", "test_error_raw",
                                       "cluster_accuracy_raw"};

void run_state_init(struct run_state *r) {
    memset(r, 0, sizeof *r);
    struct run_opts *o = &r->opts;
    snprintf(o->data, sizeof o->data, "glyphs");
    o->lambda = 1.0;
    o->batch = 100;
    o->lr = 2e-4;
    o->beta1 = 0.5;
    o->seed = 1;
    o->lr_decay_from = -1;
    r->perm_epoch = -1;
    r->km_acc = r->km_nmi = NAN;
}

void run_state_free(struct run_state *r) {
    if (r->csv) fclose(r->csv);
    cg_model_destroy(r->model);
    cg_dataset_free(&r->ds);
    free(r->lab_idx);
    free(r->perm);
    cg_free(r->xb);
    cg_free(r->xl);
    free(r->yl);
    free(r->pred);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

int run_dir_has_entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

/* ---- preparing ---------------------------------------------------------------------------- */

/* The default budget finishes the default run in about two minutes on 2 cores. */
static void default_budget(struct run_state *r) {
    struct run_opts *o = &r->opts;
    if (o->iters || o->epochs > 0 || o->time_s > 0) return;
    /* mlp2d at lr 1e-3: 2000 iterations leave moons seeds 4-6 at 0.97-0.98, 3000 reach >= 0.987
     * on seeds 1-9 (docs/toy.md); about 5 s on one core. */
    if (r->ds.is_points) o->iters = 3000;
    /* glyphs: 240 iterations are about 2 minutes at ~206 images/s on 2 idle cores. The
     * partition, merged classes included, is fixed by iteration ~50-120 on most seeds and
     * stays flat to 300 (docs/toy.md), so the last 60 iterations bought no accuracy. */
    else if (strcmp(r->ds.name, "glyphs") == 0) o->iters = 240;
    else o->time_s = 120;
}

static void meta_json(const struct run_state *r, char *buf, size_t cap) {
    const struct run_opts *o = &r->opts;
    snprintf(buf, cap,
             "{\"data\":\"%s\",\"arch\":\"%s\",\"classes\":%d,\"labels\":%d,\"batch\":%d,"
             "\"seed\":%llu,\"lambda\":%.9g,\"lr\":%.9g,\"lr_g\":%.9g,\"beta1\":%.9g,\"seconds\":%.6f,"
             "\"target_iters\":%lld,\"time\":%.9g,\"log_every\":%lld,\"lr_decay_from\":%.9g,"
             "\"ema\":%.9g,\"d_noise\":%.9g,\"ranks\":%d,\"version\":\"%s\"}",
             o->data, o->arch, o->classes, o->labels, o->batch, (unsigned long long)o->seed,
             o->lambda, o->lr, (double)cg_model_config_of(r->model)->lr_g, o->beta1, r->seconds, (long long)r->target_iters, o->time_s,
             (long long)r->log_every, o->lr_decay_from, o->ema, o->d_noise, cg_dist_size(),
             cg_version());
}

/* A setting the checkpoint's model holds as a float: the model's value, spelled as the
 * metadata kept it (as it was given) when the two agree. */
static double model_setting(const char *meta, const char *key, float model) {
    double v;
    return json_get_num(meta, key, &v) == 0 && (float)v == model ? v : (double)model;
}

/* --resume: the run's settings come from its checkpoint; the budget may be given anew. */
static int resume_settings(struct run_state *r, char *meta, size_t cap) {
    struct run_opts *o = &r->opts;
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/checkpoint.cgck", o->resume);
    int threads = o->threads ? o->threads : cli_threads_default();
    enum cg_status st = cg_model_load(ck, threads, &r->model, meta, cap);
    if (st != CG_OK) {
        cli_error("train: --resume %s: %s", o->resume, cg_last_error());
        return st == CG_ERR_IO ? CLI_USAGE : cli_status_exit(st);
    }
    /* MPI ranks (docs/mpi.md): a run continues with the number of ranks it started with */
    int ranks = 1;
    if (strstr(meta, "\"ranks\"") && json_get_int(meta, "ranks", 1, 1 << 24, &ranks) != 0)
        ranks = -1;
    if (ranks != cg_dist_size()) {
        cli_error("train: --resume %s: %s was written by %d MPI rank(s), this job has %d: "
                  "resume with the same number of ranks", o->resume, ck, ranks, cg_dist_size());
        return CLI_USAGE;
    }
    double v;
    if (json_get_str(meta, "data", o->data, sizeof o->data) != 0) {
        cli_error("train: --resume %s: %s holds no run settings", o->resume, ck);
        return CLI_USAGE;
    }
    json_get_str(meta, "arch", o->arch, sizeof o->arch);
    json_get_int(meta, "classes", 2, 1000, &o->classes);
    json_get_int(meta, "labels", 0, 100000000, &o->labels);
    json_get_int(meta, "batch", 2, 1000000, &o->batch);
    json_get_u64(meta, "seed", &o->seed);
    if (json_get_num(meta, "lambda", &v) == 0) o->lambda = v;
    if (json_get_num(meta, "lr", &v) == 0) o->lr = v;
    if (json_get_num(meta, "beta1", &v) == 0) o->beta1 = v;
    if (json_get_num(meta, "lr_g", &v) == 0) o->lr_g = v;
    const struct cg_model_config *mc = cg_model_config_of(r->model);
    o->ema = model_setting(meta, "ema", mc->ema);
    o->d_noise = model_setting(meta, "d_noise", mc->d_noise);
    if (json_get_num(meta, "seconds", &v) == 0) r->seconds = v;
    if (o->lr_decay_from < 0 && json_get_num(meta, "lr_decay_from", &v) == 0 && v < 1)
        o->lr_decay_from = v;
    if (!o->iters && !(o->epochs > 0) && !(o->time_s > 0)) {
        if (json_get_num(meta, "target_iters", &v) == 0 && v >= 0 && v <= 2e9) o->iters = (long)v;
        if (json_get_num(meta, "time", &v) == 0) o->time_s = v;
    }
    if (!o->log_every && json_get_num(meta, "log_every", &v) == 0 && v >= 1 && v <= 2e9)
        o->log_every = (long)v;
    o->threads = threads;
    r->iter = cg_model_iteration(r->model);
    return CLI_OK;
}

static int load_data(struct run_state *r) {
    enum cg_status st = cg_dataset_load(r->opts.data, r->opts.seed, &r->ds);
    if (st != CG_OK) {
        cli_error("train: --data %s: %s", r->opts.data, cg_last_error());
        return st == CG_ERR_OUT_OF_MEMORY ? CLI_FAILED : CLI_USAGE;
    }
    return CLI_OK;
}

static int check_labels(struct run_state *r) {
    struct run_opts *o = &r->opts;
    const int kt = r->ds.num_classes;
    if (o->labels == 0) return CLI_OK;
    if (o->classes != kt) {
        cli_error("train: --classes %d: with --labels the classes must be the dataset's %d",
                  o->classes, kt);
        return CLI_USAGE;
    }
    if (o->labels % kt != 0) {
        cli_error("train: --labels %d: must be a multiple of K=%d (N/K per class)", o->labels,
                  kt);
        return CLI_USAGE;
    }
    if (o->labels > r->ds.train.n) {
        cli_error("train: --labels %d: the training set has only %d examples", o->labels,
                  r->ds.train.n);
        return CLI_USAGE;
    }
    r->lab_idx = malloc((size_t)o->labels * sizeof(int32_t));
    if (!r->lab_idx) return CLI_FAILED;
    enum cg_status st = cg_dataset_pick_labelled(&r->ds, o->labels, o->seed, r->lab_idx);
    if (st != CG_OK) {
        cli_error("train: %s", cg_last_error());
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int create_model(struct run_state *r) {
    struct run_opts *o = &r->opts;
    struct cg_model_config cfg;
    cg_model_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "%s", o->arch);
    cfg.c = r->ds.c; cfg.h = r->ds.h; cfg.w = r->ds.w;
    cfg.k = o->classes;
    cfg.batch = o->batch;
    cfg.labelled = o->labels > 0;
    cfg.lambda = (float)o->lambda;
    cfg.lr = (float)o->lr;
    cfg.lr_g = (float)o->lr_g;
    cfg.ema = (float)o->ema;
    cfg.d_noise = (float)o->d_noise;
    cfg.beta1 = (float)o->beta1;
    cfg.seed = o->seed;
    cfg.threads = o->threads;
    enum cg_status st = cg_model_create(&cfg, &r->model);
    if (st != CG_OK) {
        cli_error("train: %s", cg_last_error());
        return cli_status_exit(st);
    }
    return CLI_OK;
}

int run_prepare(struct run_state *r) {
    struct run_opts *o = &r->opts;
    char meta[4096];
    int rc;
    if (o->resume[0]) {
        if ((rc = resume_settings(r, meta, sizeof meta)) != CLI_OK) return rc;
        if ((rc = load_data(r)) != CLI_OK) return rc;
    } else {
        if ((rc = load_data(r)) != CLI_OK) return rc;
        if (!o->given.arch) snprintf(o->arch, sizeof o->arch, r->ds.is_points ? "mlp2d" : "conv");
        /* the 2-D nets are tiny: 2e-4 leaves moons half-trained in 3000 iterations (docs/toy.md) */
        if (!o->given.lr && strcmp(o->arch, "mlp2d") == 0) o->lr = 1e-3;
        /* conv's test error swings 1-2 points between evaluations under a constant step; the
         * average of D's weights does not (docs/results.md, "Averaged weights") */
        if (!o->given.ema && strcmp(o->arch, "conv") == 0) o->ema = 0.999;
        if (o->d_noise > 0 && strcmp(o->arch, "conv") != 0) {
            cli_error("train: --d-noise %g: only --arch conv takes it (%s's D has fixed noise: "
                      "docs/cli.md)", o->d_noise, o->arch);
            return CLI_USAGE;
        }
        if (!o->classes) o->classes = r->ds.num_classes;
        if (!o->threads) o->threads = cli_threads_default();
    }
    const struct cg_model_config *mc = r->model ? cg_model_config_of(r->model) : NULL;
    if (mc && (mc->c != r->ds.c || mc->h != r->ds.h || mc->w != r->ds.w)) {
        cli_error("train: --resume %s: the checkpoint takes %dx%dx%d inputs, %s has %dx%dx%d",
                  o->resume, mc->c, mc->h, mc->w, o->data, r->ds.c, r->ds.h, r->ds.w);
        return CLI_USAGE;
    }
    if ((rc = check_labels(r)) != CLI_OK) return rc;
    if (!r->model && (rc = create_model(r)) != CLI_OK) return rc;
    default_budget(r);
    const int B = o->batch, n = r->ds.train.n;
    r->target_iters = o->iters;
    if (o->epochs > 0) r->target_iters = (int64_t)ceil(o->epochs * n / B);
    if (o->lr_decay_from >= 0 && r->target_iters <= 0) {
        cli_error("train: --lr-decay-from %g: needs an --iters or --epochs budget to decay over "
                  "(--time alone has no known end)", o->lr_decay_from);
        return CLI_USAGE;
    }
    r->log_every = o->log_every;
    if (!r->log_every) {
        r->log_every = r->target_iters > 0 ? r->target_iters / 25 : 100;
        if (r->log_every < 10) r->log_every = 10;
    }
    size_t d = (size_t)r->ds.c * r->ds.h * r->ds.w;
    r->xb = cg_malloc((size_t)B * d * sizeof(float));
    r->xl = cg_malloc((size_t)B * d * sizeof(float));
    r->yl = malloc((size_t)B * sizeof(int32_t));
    r->perm = malloc((size_t)n * sizeof(int32_t));
    r->pred = malloc((size_t)(r->ds.test.n > 0 ? r->ds.test.n : 1) * sizeof(int32_t));
    if (!r->xb || !r->xl || !r->yl || !r->perm || !r->pred) {
        cli_error("train: out of memory for the batch buffers");
        return CLI_FAILED;
    }
    r->epoch = (double)r->iter * B / n;
    return CLI_OK;
}

/* ---- batches ------------------------------------------------------------------------------ */

/* Epoch e's order of the unlabelled set: Fisher-Yates from (seed, e), so a resumed run draws
 * exactly what an uninterrupted one would. */
static void make_perm(struct run_state *r, int64_t e) {
    const int n = r->ds.train.n;
    struct cg_rng g;
    cg_rng_seed(&g, r->opts.seed, STREAM_PERM ^ ((uint64_t)e << 32));
    for (int i = 0; i < n; i++) r->perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)cg_rng_below(&g, (uint32_t)i + 1);
        int32_t t = r->perm[i];
        r->perm[i] = r->perm[j];
        r->perm[j] = t;
    }
    r->perm_epoch = e;
}

/* --lr-decay-from F: full steps before iteration F*T, then linear to 0 at T, the iteration
 * budget; a function of the iteration alone, so --resume continues the same schedule. */
static float lr_scale_at(const struct run_state *r) {
    const double f = r->opts.lr_decay_from, T = (double)r->target_iters;
    if (f < 0 || T <= 0) return 1;
    double t0 = floor(f * T);
    if ((double)r->iter < t0) return 1;
    double s = (T - (double)r->iter) / (T - t0);
    return s > 0 ? (float)s : 0;
}

void run_fill_batch(struct run_state *r) {
    const int B = r->opts.batch, n = r->ds.train.n;
    (void)cg_model_set_lr_scale(r->model, lr_scale_at(r)); /* finite and >= 0: cannot fail */
    const size_t d = (size_t)r->ds.c * r->ds.h * r->ds.w;
    /* MPI: this rank takes rows [j0, j0 + nb) of the global batch of B (docs/mpi.md) */
    const int nb = B / cg_dist_size(), j0 = cg_dist_rank() * nb;
    for (int j = j0; j < j0 + nb; j++) {
        int64_t g = r->iter * B + j;
        int64_t e = g / n;
        if (e != r->perm_epoch) make_perm(r, e);
        int idx = r->perm[g % n];
        memcpy(r->xb + (size_t)(j - j0) * d, r->ds.train.x + (size_t)idx * d, d * sizeof(float));
    }
    if (r->opts.labels == 0) return;
    /* labelled examples: B draws with replacement, a function of (seed, iteration); every
     * rank draws all B (cheap) and keeps its rows */
    struct cg_rng g;
    cg_rng_seed(&g, r->opts.seed, STREAM_LAB ^ ((uint64_t)r->iter << 24));
    for (int j = 0; j < B; j++) {
        int idx = r->lab_idx[cg_rng_below(&g, (uint32_t)r->opts.labels)];
        if (j < j0 || j >= j0 + nb) continue;
        memcpy(r->xl + (size_t)(j - j0) * d, r->ds.train.x + (size_t)idx * d, d * sizeof(float));
        r->yl[j - j0] = r->ds.train.y[idx];
    }
}

/* ---- evaluation and logging --------------------------------------------------------------- */

enum { CALIBRATE_IMAGES = 10000 };

/* D's batch-norm statistics of evaluation first (cg_model_calibrate), then the test split's
 * predictions; 0 on failure. On six 100-epoch pi-mnist checkpoints 10000 calibration images
 * gave the test error of all 60000 within 0.05 points at a sixth of the cost. */
static int classify_test(cg_model *m, const struct cg_dataset *ds, int32_t *pred) {
    const int ncal = ds->train.n < CALIBRATE_IMAGES ? ds->train.n : CALIBRATE_IMAGES;
    if (ncal > 0 && cg_model_calibrate(m, ds->train.x, ncal) != CG_OK) return 0;
    return ds->test.n >= 1 && cg_model_classify(m, ds->test.x, ds->test.n, NULL, pred) == CG_OK;
}

void run_evaluate(cg_model *m, const struct cg_dataset *ds, int labelled, int32_t *pred,
                  struct run_eval *e) {
    const struct cg_split *t = &ds->test;
    const int k = cg_model_config_of(m)->k;
    e->have_eval = 0;
    e->test_error_raw = e->cluster_accuracy_raw = NAN;
    /* Under --ema the training weights are scored too, first, so that the running statistics
     * the checkpoint keeps are the average's. */
    if (cg_model_config_of(m)->ema > 0) {
        cg_model_evaluate_raw(m, 1);
        int ok = classify_test(m, ds, pred);
        cg_model_evaluate_raw(m, 0);
        if (!ok) return;
        e->cluster_accuracy_raw = cg_cluster_accuracy(pred, t->y, t->n, k, ds->num_classes);
        e->test_error_raw = labelled ? cg_error_rate(pred, t->y, t->n) : NAN;
    }
    if (!classify_test(m, ds, pred)) return;
    e->cluster_accuracy = cg_cluster_accuracy(pred, t->y, t->n, k, ds->num_classes);
    e->nmi = cg_nmi(pred, t->y, t->n, k, ds->num_classes);
    e->test_error = labelled ? cg_error_rate(pred, t->y, t->n) : NAN;
    snprintf(e->test_error_str, sizeof e->test_error_str, ", test error %.4f", e->test_error);
    e->have_eval = 1;
}

static void put_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
}

static void write_row(FILE *f, const struct run_row *row) {
    for (int c = 0; c < NCOLS; c++) {
        if (c) fputc(',', f);
        if (c == COL_ITER) fprintf(f, "%lld", (long long)row->v[c]);
        else put_num(f, row->v[c]);
    }
    fputc('\n', f);
}

static int push_row(struct run_state *r, const struct run_row *row) {
    if (r->nrows == r->cap_rows) {
        int cap = r->cap_rows ? 2 * r->cap_rows : 64;
        struct run_row *p = realloc(r->rows, (size_t)cap * sizeof *p);
        if (!p) return -1;
        r->rows = p;
        r->cap_rows = cap;
    }
    r->rows[r->nrows++] = *row;
    return 0;
}

static int save_checkpoint(struct run_state *r) {
    char path[1100], meta[4096];
    snprintf(path, sizeof path, "%s/checkpoint.cgck", r->opts.out);
    meta_json(r, meta, sizeof meta);
    enum cg_status st = cg_model_save(r->model, path, meta);
    if (st != CG_OK) {
        cli_error("train: %s", cg_last_error());
        return -1;
    }
    return 0;
}

int run_log(struct run_state *r) {
    run_evaluate(r->model, &r->ds, r->opts.labels > 0, r->pred, &r->last);
    const cg_catgan_terms *t = &r->last.terms;
    struct run_row row = {{(double)r->iter, r->epoch, r->seconds, t->d_loss, t->g_loss, t->h_x,
                           t->h_real, t->h_fake, t->h_g, r->opts.labels ? t->ce : NAN,
                           r->last.test_error, r->last.cluster_accuracy, r->last.nmi,
                           r->last.test_error_raw, r->last.cluster_accuracy_raw}};
    if (!r->last.have_eval)
        for (int c = COL_TEST_ERROR; c < NCOLS; c++) row.v[c] = NAN;
    if (push_row(r, &row) != 0) return -1;
    write_row(r->csv, &row);
    if (fflush(r->csv) != 0) {
        cli_error("train: %s/metrics.csv: write failed: %s", r->opts.out, strerror(errno));
        return -1;
    }
    return save_checkpoint(r);
}

/* Parses our own metrics.csv back (on --resume); rows past the checkpoint are dropped. */
static int reload_metrics(struct run_state *r, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[2048];
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) { first = 0; continue; }
        struct run_row row;
        char *p = line;
        for (int c = 0; c < NCOLS; c++) {
            char *end;
            row.v[c] = strtod(p, &end);
            if (end == p) row.v[c] = NAN;
            p = strchr(end, ',');
            if (!p) { for (int c2 = c + 1; c2 < NCOLS; c2++) row.v[c2] = NAN; break; }
            p++;
        }
        if (row.v[COL_ITER] <= (double)r->iter && push_row(r, &row) != 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* metrics.csv is rewritten (the rows up to the checkpoint) under a temporary name and renamed,
 * so a kill at any moment leaves either the old file or the new one. */
int run_open_outputs(struct run_state *r) {
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/metrics.csv", r->opts.out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (r->opts.resume[0] && reload_metrics(r, path) != 0) return CLI_FAILED;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cli_error("train: %s: cannot create: %s", tmp, strerror(errno));
        return CLI_FAILED;
    }
    for (int c = 0; c < NCOLS; c++) fprintf(f, "%s%s", c ? "," : "", COL_NAMES[c]);
    fputc('\n', f);
    for (int i = 0; i < r->nrows; i++) write_row(f, &r->rows[i]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        cli_error("train: %s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        return CLI_FAILED;
    }
    r->csv = fopen(path, "a");
    if (!r->csv) {
        cli_error("train: %s: cannot append: %s", path, strerror(errno));
        return CLI_FAILED;
    }
    return CLI_OK;
}

/* ---- the end of a run --------------------------------------------------------------------- */

static double peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
    return ru.ru_maxrss / 1024.0;
}

struct kv { const char *key; double v; };

/* ,"key":value for each entry (null for NaN) */
static void json_fields(FILE *f, const struct kv *kv, size_t n) {
    for (size_t i = 0; i < n; i++) {
        fprintf(f, ",\"%s\":", kv[i].key);
        json_num(f, kv[i].v);
    }
}

void run_print_summary(const struct run_state *r, FILE *f) {
    const struct run_opts *o = &r->opts;
    const cg_catgan_terms *t = &r->last.terms;
    const int ev = r->last.have_eval;
    fputs("{\"data\":", f);
    json_put_str(f, o->data);
    fputs(",\"arch\":", f);
    json_put_str(f, o->arch);
    fprintf(f, ",\"classes\":%d,\"labels\":%d,\"batch\":%d,\"seed\":%llu,\"iterations\":%lld",
            o->classes, o->labels, o->batch, (unsigned long long)o->seed, (long long)r->iter);
    const struct kv run[] = {{"epochs", r->epoch}, {"seconds", r->seconds},
                             {"images_per_second", r->img_per_s}, {"ema", o->ema},
                             {"d_noise", o->d_noise}};
    json_fields(f, run, sizeof run / sizeof run[0]);
    fprintf(f, ",\"threads\":%d,\"isa\":\"%s\"", o->threads, cg_isa_name(cg_isa_active()));
    const struct kv scores[] = {
        {"test_error", o->labels > 0 && ev ? r->last.test_error : NAN},
        {"cluster_accuracy", ev ? r->last.cluster_accuracy : NAN},
        {"nmi", ev ? r->last.nmi : NAN},
        {"test_error_raw", o->labels > 0 && ev ? r->last.test_error_raw : NAN},
        {"cluster_accuracy_raw", ev ? r->last.cluster_accuracy_raw : NAN},
        {"kmeans_cluster_accuracy", r->km_acc}, {"kmeans_nmi", r->km_nmi}};
    json_fields(f, scores, sizeof scores / sizeof scores[0]);
    const struct kv fin[] = {{"d_loss", t->d_loss}, {"g_loss", t->g_loss}, {"h_x", t->h_x},
                             {"h_real", t->h_real}, {"h_fake", t->h_fake}, {"h_g", t->h_g},
                             {"ce", o->labels > 0 ? t->ce : NAN}};
    fputs(",\"final\":{", f);
    /* the first field of an object takes no comma: print it by hand */
    fprintf(f, "\"%s\":", fin[0].key);
    json_num(f, fin[0].v);
    json_fields(f, fin + 1, sizeof fin / sizeof fin[0] - 1);
    fputc('}', f);
    const struct kv mem[] = {{"peak_rss_mib", peak_rss_mib()}};
    json_fields(f, mem, 1);
    fputs(",\"cpu\":", f);
    json_put_str(f, cg_cpu_model());
    fprintf(f, ",\"version\":\"%s\"}\n", cg_version());
}

static int write_summary(const struct run_state *r) {
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/summary.json", r->opts.out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cli_error("train: %s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    run_print_summary(r, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        cli_error("train: %s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

enum cg_status run_samples_png(cg_model *m, const struct cg_dataset *ds, const int32_t *pred,
                               int n, uint64_t seed, const char *path) {
    const size_t d = (size_t)ds->c * ds->h * ds->w;
    float *gen = cg_malloc((size_t)n * d * sizeof(float));
    if (!gen) return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "%d samples", n);
    enum cg_status st = cg_model_generate(m, n, seed, gen);
    if (st == CG_OK && !ds->is_points) {
        int zoom = ds->h < 64 ? 2 : 1, cols = (int)ceil(sqrt((double)n));
        st = cg_plot_image_grid(path, gen, n, ds->c, ds->h, ds->w, cols, zoom);
    } else if (st == CG_OK) {
        /* decision regions: D's cluster for every point of a grid over the data's box */
        const struct cg_split *t = &ds->test;
        float x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        for (int i = 0; i < t->n; i++) {
            float a = t->x[2 * i], b = t->x[2 * i + 1];
            x0 = a < x0 ? a : x0; x1 = a > x1 ? a : x1;
            y0 = b < y0 ? b : y0; y1 = b > y1 ? b : y1;
        }
        float mx = 0.1f * (x1 - x0), my = 0.1f * (y1 - y0);
        x0 -= mx; x1 += mx; y0 -= my; y1 += my;
        enum { G = 160 };
        float *grid = cg_malloc((size_t)G * G * 2 * sizeof(float));
        int32_t *region = malloc((size_t)G * G * sizeof(int32_t));
        if (!grid || !region) st = CG_FAIL(CG_ERR_OUT_OF_MEMORY, "scatter grid");
        for (int i = 0; st == CG_OK && i < G * G; i++) {
            grid[2 * i] = x0 + (x1 - x0) * ((i % G) + 0.5f) / G;
            grid[2 * i + 1] = y1 - (y1 - y0) * ((i / G) + 0.5f) / G;
        }
        if (st == CG_OK) st = cg_model_classify(m, grid, G * G, NULL, region);
        /* beside it, k-means with the same K (as summary.json's baseline): its clusters and
         * its regions, the Voronoi cells of its centres */
        const int k = cg_model_config_of(m)->k;
        int32_t *km = malloc((size_t)t->n * sizeof(int32_t) + (size_t)G * G * sizeof(int32_t));
        float *cen = malloc((size_t)k * 2 * sizeof(float));
        double km_acc = NAN, km_nmi = NAN;
        if (st == CG_OK && (!km || !cen)) st = CG_FAIL(CG_ERR_OUT_OF_MEMORY, "k-means panel");
        if (st == CG_OK && t->n >= k)
            st = cg_kmeans_baseline(t->x, t->y, t->n, 2, k, ds->num_classes, seed, km, cen,
                                    &km_acc, &km_nmi);
        int32_t *km_region = km ? km + t->n : NULL;
        for (int i = 0; st == CG_OK && i < G * G; i++) {
            double best = INFINITY;
            for (int j = 0; j < k; j++) {
                double dx = grid[2 * i] - cen[2 * j], dy = grid[2 * i + 1] - cen[2 * j + 1];
                if (dx * dx + dy * dy < best) best = dx * dx + dy * dy, km_region[i] = j;
            }
        }
        double acc = pred ? cg_cluster_accuracy(pred, t->y, t->n, k, ds->num_classes) : NAN;
        char title[128], km_title[128];
        snprintf(title, sizeof title, "CatGAN on %s (accuracy %.3f): regions, G(z) (x)",
                 ds->name, acc);
        snprintf(km_title, sizeof km_title, "k-means, K=%d, on %s (accuracy %.3f)", k,
                 ds->name, km_acc);
        struct cg_scatter s[2] = {
            {t->x, pred, t->n, k, gen, n, region, G, G, x0, x1, y0, y1, title},
            {t->x, km, t->n, k, NULL, 0, km_region, G, G, x0, x1, y0, y1, km_title}};
        if (st == CG_OK) st = cg_plot_scatter_row(path, s, t->n >= k ? 2 : 1);
        cg_free(grid);
        free(region);
        free(km);
        free(cen);
    }
    cg_free(gen);
    return st;
}

static enum cg_status write_curves(const struct run_state *r, const char *path) {
    int n = r->nrows;
    if (n < 1) return CG_OK;
    double *cols = malloc((size_t)n * NCOLS * sizeof(double));
    if (!cols) return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "curves");
    for (int i = 0; i < n; i++)
        for (int c = 0; c < NCOLS; c++) cols[(size_t)c * n + i] = r->rows[i].v[c];
#define COL(c) (cols + (size_t)(c) * n)
    struct cg_series losses[] = {{"d_loss", COL(COL_D)}, {"g_loss", COL(COL_G)}};
    struct cg_series ent[] = {{"H_X (real)", COL(COL_HX)}, {"E H[p(y|x)] real", COL(COL_HREAL)},
                              {"E H[p(y|G(z))]", COL(COL_HFAKE)}, {"H_G (fake)", COL(COL_HG)},
                              {"CE (labelled)", COL(COL_CE)}};
    /* under --ema the scores are the average's; the training weights' are drawn beside them */
    const int raw = r->opts.ema > 0, lab = r->opts.labels > 0;
    struct cg_series score[5] = {{"cluster accuracy", COL(COL_ACC)}, {"NMI", COL(COL_NMI)}};
    int ns = 2;
    if (raw) score[ns++] = (struct cg_series){"cluster accuracy, raw D", COL(COL_ACC_RAW)};
    if (lab) score[ns++] = (struct cg_series){"test error", COL(COL_TEST_ERROR)};
    if (lab && raw) score[ns++] = (struct cg_series){"test error, raw D", COL(COL_TEST_ERROR_RAW)};
    struct cg_panel panels[] = {{"losses", losses, 2},
                                {"entropy terms", ent, lab ? 5 : 4},
                                {"test split", score, ns}};
    enum cg_status st = cg_plot_curves(path, COL(COL_ITER), n, panels, 3);
#undef COL
    free(cols);
    return st;
}

int run_finish(struct run_state *r) {
    if (!r->last.have_eval) run_evaluate(r->model, &r->ds, r->opts.labels > 0, r->pred, &r->last);
    int rc = 0;
    if (r->nrows == 0 || r->rows[r->nrows - 1].v[COL_ITER] != (double)r->iter) {
        if (run_log(r) != 0) rc = -1;
    }
    /* the baseline of the paper's toy figure: k-means with the same K on the same test split */
    const struct cg_split *ts = &r->ds.test;
    if (ts->n >= r->opts.classes &&
        cg_kmeans_baseline(ts->x, ts->y, ts->n, r->ds.c * r->ds.h * r->ds.w, r->opts.classes,
                           r->ds.num_classes, r->opts.seed, NULL, NULL, &r->km_acc,
                           &r->km_nmi) != CG_OK)
        r->km_acc = r->km_nmi = NAN;
    if (write_summary(r) != 0) rc = -1;
    char path[1100];
    snprintf(path, sizeof path, "%s/samples.png", r->opts.out);
    int ns = r->ds.is_points ? 500 : (r->ds.h > 64 ? 16 : 64);
    if (run_samples_png(r->model, &r->ds, r->pred, ns, r->opts.seed, path) != CG_OK) {
        cli_error("train: %s", cg_last_error());
        rc = -1;
    }
    snprintf(path, sizeof path, "%s/curves.png", r->opts.out);
    if (write_curves(r, path) != CG_OK) {
        cli_error("train: %s", cg_last_error());
        rc = -1;
    }
    return rc;
}
