/* The user who brought his own images (issue 6): a synthetic folder:DIR of 256x256 grey PNGs,
 * two texture classes (oriented stripes vs soft blobs, random phase, position and noise),
 * trained with 20 labels by the catgan binary ($CATGAN); the test split must be <= 10% wrong. */
#include <criterion/criterion.h>

#include "cli/cli_util.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "io/image.h"

enum { SIDE = 256, N_TRAIN = 100, N_TEST = 50 }; /* per class */

/* Sanitizer builds run the binary several times slower, and this is a learning check, not a
 * memory check: the 256x256 path itself runs under the sanitizers in tests/nn/test_model.c. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

static void setup(void) { cli_tmp_make("f256"); }

/* CG_KEEP_TMP=1 leaves the folder for timing catgan by hand. */
static void teardown(void) {
    const char *keep = getenv("CG_KEEP_TMP");
    if (keep && keep[0] == '1') {
        fprintf(stderr, "kept %s\n", cli_tmpdir);
        return;
    }
    cli_tmp_remove();
}

TestSuite(folder256, .init = setup, .fini = teardown, .timeout = 600);

static const double TWO_PI = 6.283185307179586;

static uint8_t to_byte(double v) {
    if (!(v > 0)) return 0;
    if (v >= 1) return 255;
    return (uint8_t)(v * 255.0 + 0.5);
}

/* Class 0: sinusoidal stripes at a random angle, period 12-28 px and phase. Class 1: 4-8
 * Gaussian blobs (sigma 8-20 px) at random places on a dark ground. Both get N(0, 0.08) pixel
 * noise, so no two images are alike and neither class is one template. */
static void draw(int cls, struct cg_rng *r, uint8_t *pix) {
    if (cls == 0) {
        double th = TWO_PI * cg_rng_uniform(r), per = 12 + 16 * cg_rng_uniform(r);
        double ph = TWO_PI * cg_rng_uniform(r), cx = cos(th) / per, sy = sin(th) / per;
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++)
                pix[y * SIDE + x] = to_byte(0.5 + 0.4 * sin(TWO_PI * (x * cx + y * sy) + ph) +
                                            0.08 * cg_rng_normal(r));
        return;
    }
    double bx[8], by[8], bs[8], ba[8];
    int nb = 4 + (int)cg_rng_below(r, 5);
    for (int b = 0; b < nb; b++) {
        bx[b] = SIDE * cg_rng_uniform(r);
        by[b] = SIDE * cg_rng_uniform(r);
        bs[b] = 8 + 12 * cg_rng_uniform(r);
        ba[b] = 0.6 + 0.3 * cg_rng_uniform(r);
    }
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            double v = 0.1;
            for (int b = 0; b < nb; b++) {
                double dx = x - bx[b], dy = y - by[b];
                v += ba[b] * exp(-(dx * dx + dy * dy) / (2 * bs[b] * bs[b]));
            }
            pix[y * SIDE + x] = to_byte(v + 0.08 * cg_rng_normal(r));
        }
}

/* DIR/{train,test}/{blobs,stripes}/NNN.png; folder names sort blobs (0) before stripes (1). */
static void make_folder(const char *dir, uint64_t seed) {
    static const char *split[2] = {"train", "test"}, *name[2] = {"stripes", "blobs"};
    uint8_t *pix = malloc(SIDE * SIDE);
    cr_assert_not_null(pix);
    struct cg_rng r;
    cg_rng_seed(&r, seed, 0x463235);
    char path[600];
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 2; c++) {
            snprintf(path, sizeof path, "%s/%s", dir, split[s]);
            mkdir(path, 0777);
            snprintf(path, sizeof path, "%s/%s/%s", dir, split[s], name[c]);
            cr_assert_eq(mkdir(path, 0777), 0, "mkdir %s", path);
            for (int i = 0; i < (s ? N_TEST : N_TRAIN); i++) {
                draw(c, &r, pix);
                snprintf(path, sizeof path, "%s/%s/%s/%03d.png", dir, split[s], name[c], i);
                cr_assert_eq(cg_png_write_grey(path, SIDE, SIDE, pix, SIDE), CG_OK, "%s",
                             cg_last_error());
            }
        }
    free(pix);
}

/* The documented example (docs/results.md): 20 labels (10 per class), batch 8, 30 iterations,
 * the step size decayed over the last 15. Measured on seeds 1-3 (docs/results.md): test error
 * 0.00, 0.05, 0.01; without the decay seed 3 swung between 0.08 and 0.25 and batch 4 was
 * worse. One iteration is ~6 s of CPU (~3 s on 2 idle cores), so the run takes
 * ~2 minutes on an idle machine and up to ~7 at load average 10. */
Test(folder256, twenty_labels_classify_the_test_split) {
#ifdef SANITIZED
    cr_skip_test("minutes of 256x256 training are too slow under the sanitizers");
#endif
    char data[300];
    snprintf(data, sizeof data, "%s/imgs", cli_tmpdir);
    cr_assert_eq(mkdir(data, 0777), 0);
    make_folder(data, 7);
    char args[1200];
    snprintf(args, sizeof args,
             "train --data folder:%s --classes 2 --labels 20 --batch 8 --iters 30 "
             "--lr-decay-from 0.5 --threads 2 --seed 1 --out %s/run --json", data, cli_tmpdir);
    int st = cli_run("", args, "");
    char p[400];
    char *err = cli_slurp(cli_err);
    cr_assert(st == 0, "status %d: %s", st, err);
    free(err);
    snprintf(p, sizeof p, "%s/run/summary.json", cli_tmpdir);
    char *sum = cli_slurp(p);
    double te = cli_json_num(sum, "test_error");
    /* the acceptance bound of issue 6: at most 10% of the 100 test images wrong */
    cr_expect(te >= 0 && te <= 0.10, "test_error %g > 0.10: %s", te, sum);
    cr_expect_eq(cli_json_num(sum, "classes"), 2);
    free(sum);
    snprintf(p, sizeof p, "%s/run/samples.png", cli_tmpdir);
    struct stat sb;
    cr_expect(stat(p, &sb) == 0, "samples.png is written for 256x256 images");
}
