/* catgan eval | classify | sample: a trained checkpoint applied to data, images or noise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "core/core.h"
#include "io/image.h"

static const char EVAL_HELP[] =
    "usage: catgan eval --model FILE --data SPEC [--json] [--threads T]\n"
    "Test error (argmax of D against the labels), cluster accuracy and NMI of a checkpoint\n"
    "on the test split of SPEC (see catgan train --help for SPEC). A D with batch norm\n"
    "(pi-mnist) first gets the statistics of its clean inputs over the first 10000\n"
    "training images of SPEC, as training does before each evaluation.\n";
static const char CLASSIFY_HELP[] =
    "usage: catgan classify --model FILE IMAGE... [--json] [--threads T]\n"
    "Prints, for each PNG image (of the model's input size), D's class and its probability.\n";
static const char SAMPLE_HELP[] =
    "usage: catgan sample --model FILE [--n 64] [--seed S] --out FILE.png [--threads T]\n"
    "Draws n samples G(z) and writes them as an image grid (2-D data: a scatter plot).\n";

struct common { const char *model, *data, *out; int json, threads, n; uint64_t seed; };

/* Parses the shared options; positional arguments go to pos (may be NULL: then refused). */
static int parse(const char *cmd, const char *help, int argc, char **argv, struct common *c,
                 const char **pos, int *npos) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        long l;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            exit(0);
        } else if (strcmp(a, "--model") == 0) {
            if (!(c->model = cli_value(cmd, argc, argv, &i))) return -1;
        } else if (strcmp(a, "--data") == 0 && strcmp(cmd, "eval") == 0) {
            if (!(c->data = cli_value(cmd, argc, argv, &i))) return -1;
        } else if (strcmp(a, "--out") == 0 && strcmp(cmd, "sample") == 0) {
            if (!(c->out = cli_value(cmd, argc, argv, &i))) return -1;
        } else if (strcmp(a, "--json") == 0 && strcmp(cmd, "sample") != 0) {
            c->json = 1;
        } else if (strcmp(a, "--threads") == 0) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_int(cmd, a, v, 1, 1024, &l)) return -1;
            c->threads = (int)l;
        } else if (strcmp(a, "--n") == 0 && strcmp(cmd, "sample") == 0) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_int(cmd, a, v, 1, 4096, &l)) return -1;
            c->n = (int)l;
        } else if (strcmp(a, "--seed") == 0 && strcmp(cmd, "sample") == 0) {
            const char *v = cli_value(cmd, argc, argv, &i);
            if (!v || cli_u64(cmd, a, v, &c->seed)) return -1;
        } else if (a[0] == '-' && a[1]) {
            cli_error("%s: unknown option '%s' (see catgan %s --help)", cmd, a, cmd);
            return -1;
        } else if (pos) {
            pos[(*npos)++] = a;
        } else {
            cli_error("%s: unexpected argument '%s' (see catgan %s --help)", cmd, a, cmd);
            return -1;
        }
    }
    if (!c->model) {
        cli_error("%s: --model FILE is required (see catgan %s --help)", cmd, cmd);
        return -1;
    }
    return 0;
}

/* One score line of `eval`; raw (D's training weights under --ema) only when it exists. */
static void print_score(const char *name, double v, double raw) {
    printf("  %s  %.4f", name, v);
    if (isfinite(raw)) printf("  (raw D %.4f)", raw);
    printf("\n");
}

static int load_model(const char *cmd, const struct common *c, cg_model **m, char *meta,
                      size_t cap) {
    cli_init_kernels_or_exit();
    int threads = c->threads ? c->threads : cli_threads_default();
    enum cg_status st = cg_model_load(c->model, threads, m, meta, cap);
    if (st != CG_OK) {
        cli_error("%s: --model %s", cmd, cg_last_error());
        return st == CG_ERR_IO ? CLI_USAGE : cli_status_exit(st);
    }
    return CLI_OK;
}

int cmd_eval(int argc, char **argv) {
    struct common c = {0};
    if (parse("eval", EVAL_HELP, argc, argv, &c, NULL, NULL) != 0) return CLI_USAGE;
    if (!c.data) {
        cli_error("eval: --data SPEC is required (see catgan eval --help)");
        return CLI_USAGE;
    }
    cg_model *m = NULL;
    char meta[4096] = "";
    int rc = load_model("eval", &c, &m, meta, sizeof meta);
    if (rc != CLI_OK) return rc;
    uint64_t seed = 1;
    json_get_u64(meta, "seed", &seed);
    struct cg_dataset ds;
    enum cg_status st = cg_dataset_load(c.data, seed, &ds);
    if (st != CG_OK) {
        cli_error("eval: --data %s: %s", c.data, cg_last_error());
        cg_model_destroy(m);
        return CLI_USAGE;
    }
    const struct cg_model_config *mc = cg_model_config_of(m);
    if (mc->c != ds.c || mc->h != ds.h || mc->w != ds.w) {
        cli_error("eval: --data %s: inputs are %dx%dx%d, the model takes %dx%dx%d", c.data, ds.c,
                  ds.h, ds.w, mc->c, mc->h, mc->w);
        rc = CLI_USAGE;
    }
    int32_t *pred = malloc((size_t)(ds.test.n > 0 ? ds.test.n : 1) * sizeof(int32_t));
    struct run_eval e = {0};
    if (rc == CLI_OK && pred) {
        int labelled = mc->k == ds.num_classes;
        run_evaluate(m, &ds, labelled, pred, &e);
        if (c.json) {
            printf("{\"model\":");
            json_put_str(stdout, c.model);
            printf(",\"data\":");
            json_put_str(stdout, c.data);
            printf(",\"n\":%d,\"classes\":%d,", ds.test.n, mc->k);
            const double v[] = {labelled ? e.test_error : NAN, e.cluster_accuracy, e.nmi,
                                labelled ? e.test_error_raw : NAN, e.cluster_accuracy_raw};
            const char *key[] = {"test_error", "cluster_accuracy", "nmi", "test_error_raw",
                                 "cluster_accuracy_raw"};
            for (int i = 0; i < 5; i++) {
                printf("%s\"%s\":", i ? "," : "", key[i]);
                json_num(stdout, v[i]);
            }
            printf("}\n");
        } else {
            /* under --ema the scores are the averaged D's; the training weights' follow */
            printf("%s on the test split of %s (%d examples):\n", c.model, c.data, ds.test.n);
            if (labelled) print_score("test error      ", e.test_error, e.test_error_raw);
            print_score("cluster accuracy", e.cluster_accuracy, e.cluster_accuracy_raw);
            printf("  NMI               %.4f\n", e.nmi);
        }
    } else if (rc == CLI_OK) {
        rc = CLI_FAILED;
    }
    free(pred);
    cg_dataset_free(&ds);
    cg_model_destroy(m);
    return rc;
}

int cmd_classify(int argc, char **argv) {
    struct common c = {0};
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0;
    if (!files || parse("classify", CLASSIFY_HELP, argc, argv, &c, files, &nfiles) != 0) {
        free(files);
        return CLI_USAGE;
    }
    if (nfiles == 0) {
        cli_error("classify: no IMAGE given (see catgan classify --help)");
        free(files);
        return CLI_USAGE;
    }
    cg_model *m = NULL;
    int rc = load_model("classify", &c, &m, NULL, 0);
    if (rc != CLI_OK) {
        free(files);
        return rc;
    }
    const struct cg_model_config *mc = cg_model_config_of(m);
    const size_t d = (size_t)mc->c * mc->h * mc->w;
    float *x = cg_malloc((size_t)nfiles * d * sizeof(float));
    float *probs = malloc((size_t)nfiles * mc->k * sizeof(float));
    int32_t *pred = malloc((size_t)nfiles * sizeof(int32_t));
    if (!x || !probs || !pred) rc = CLI_FAILED;
    if (rc == CLI_OK && mc->c != 1) {
        cli_error("classify: the model takes %d-channel inputs; only grey PNG models are "
                  "supported", mc->c);
        rc = CLI_USAGE;
    }
    for (int i = 0; rc == CLI_OK && i < nfiles; i++) {
        enum cg_status st = cg_png_read_grey_into(files[i], mc->h, mc->w, x + (size_t)i * d);
        if (st != CG_OK) {
            cli_error("classify: %s", cg_last_error());
            rc = CLI_USAGE;
        }
    }
    if (rc == CLI_OK && cg_model_classify(m, x, nfiles, probs, pred) != CG_OK) rc = CLI_FAILED;
    for (int i = 0; rc == CLI_OK && i < nfiles; i++) {
        float p = probs[(size_t)i * mc->k + pred[i]];
        if (c.json) {
            printf("{\"image\":");
            json_put_str(stdout, files[i]);
            printf(",\"class\":%d,\"probability\":%.6f}\n", (int)pred[i], (double)p);
        } else {
            printf("%s\t%d\t%.4f\n", files[i], (int)pred[i], (double)p);
        }
    }
    cg_free(x);
    free(probs);
    free(pred);
    free(files);
    cg_model_destroy(m);
    return rc;
}

int cmd_sample(int argc, char **argv) {
    struct common c = {0};
    c.n = 64;
    c.seed = 1;
    if (parse("sample", SAMPLE_HELP, argc, argv, &c, NULL, NULL) != 0) return CLI_USAGE;
    if (!c.out) {
        cli_error("sample: --out FILE.png is required (see catgan sample --help)");
        return CLI_USAGE;
    }
    cg_model *m = NULL;
    char meta[4096] = "";
    int rc = load_model("sample", &c, &m, meta, sizeof meta);
    if (rc != CLI_OK) return rc;
    const struct cg_model_config *mc = cg_model_config_of(m);
    struct cg_dataset ds;
    memset(&ds, 0, sizeof ds);
    char data[512] = "";
    uint64_t seed = 1;
    json_get_u64(meta, "seed", &seed);
    int points = strcmp(mc->arch, "mlp2d") == 0;
    /* a 2-D scatter shows the generated points over the data they imitate */
    if (points && (json_get_str(meta, "data", data, sizeof data) != 0 ||
                   cg_dataset_load(data, seed, &ds) != CG_OK))
        points = 0;
    if (!points) {
        ds.c = mc->c; ds.h = mc->h; ds.w = mc->w;
        snprintf(ds.name, sizeof ds.name, "model");
    }
    int32_t *pred = NULL;
    if (points) {
        pred = malloc((size_t)ds.test.n * sizeof(int32_t));
        if (!pred || cg_model_classify(m, ds.test.x, ds.test.n, NULL, pred) != CG_OK)
            rc = CLI_FAILED;
    }
    if (rc == CLI_OK) {
        enum cg_status st = run_samples_png(m, &ds, pred, c.n, c.seed, c.out);
        if (st != CG_OK) {
            cli_error("sample: %s", cg_last_error());
            rc = cli_status_exit(st);
        } else {
            printf("wrote %d samples to %s\n", c.n, c.out);
        }
    }
    free(pred);
    cg_dataset_free(&ds);
    cg_model_destroy(m);
    return rc;
}
