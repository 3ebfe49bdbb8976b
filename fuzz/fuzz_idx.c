/* libFuzzer harness for the MNIST IDX reader (src/io/idx.c) through cg_dataset_load("mnist:DIR").
 * Input: byte 0 picks which of the four files is fuzzed (train/t10k images/labels), the rest is
 * that file's content, raw or gzip (gzread reads both); the other three are small valid files.
 * IDX format: LeCun et al., yann.lecun.com/exdb/mnist. */
#include "io/dataset.h"

#include "fuzz_util.h"

static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
static uint8_t good[4][64];
static size_t good_len[4];
static int last = -1;   /* the file that holds the previous input, to restore */

/* A valid IDX file: 2 images of 3x2, or 2 labels. */
static void make_good(int i) {
    uint8_t *p = good[i];
    int images = i % 2 == 0;
    fz_put_be32(p, images ? 0x803u : 0x801u);
    fz_put_be32(p + 4, 2);
    size_t n = 8, data = 2;
    if (images) {
        fz_put_be32(p + 8, 3);
        fz_put_be32(p + 12, 2);
        n = 16;
        data = 12;
    }
    for (size_t j = 0; j < data; j++) p[n + j] = (uint8_t)(images ? 40 * j : j + 3);
    good_len[i] = n + data;
}

static void path_of(int i, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", fz_dir, names[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_tmpdir("idx");
    char path[512];
    for (int i = 0; i < 4; i++) {
        make_good(i);
        path_of(i, path, sizeof path);
        fz_write(path, good[i], good_len[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] & 3;
    char path[512], spec[300];
    if (last >= 0 && last != which) {
        path_of(last, path, sizeof path);
        fz_write(path, good[last], good_len[last]);
    }
    path_of(which, path, sizeof path);
    fz_write(path, data + 1, size - 1);
    last = which;
    snprintf(spec, sizeof spec, "mnist:%s", fz_dir);
    struct cg_dataset ds;
    enum cg_status st = cg_dataset_load(spec, 1, &ds);
    if (st == CG_OK) {
        /* what the loader promises about a dataset it accepted */
        if (ds.train.n < 1 || ds.test.n < 1 || ds.h < 1 || ds.w < 1 || ds.num_classes != 10)
            abort();
        size_t d = (size_t)ds.h * ds.w;
        for (size_t i = 0; i < (size_t)ds.train.n * d; i++)
            if (!(ds.train.x[i] >= 0.0f && ds.train.x[i] <= 1.0f)) abort();
        for (int i = 0; i < ds.train.n; i++)
            if (ds.train.y[i] < 0 || ds.train.y[i] > 9) abort();
    } else if (!cg_last_error()[0]) {
        abort();   /* every refusal names its reason */
    }
    cg_dataset_free(&ds);
    return 0;
}
