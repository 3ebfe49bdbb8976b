/* Datasets (src/io): toy-set geometry by independent fits, glyph class separation, IDX and PNG
 * folder loading against files written here (zlib, libpng directly), every bad-input error
 * path with the file named, the labelled-subset draw, and the real MNIST when present. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "io/dataset.h"
#include "io/image.h"

#define T_PI 3.14159265358979323846

/* ---- helpers ------------------------------------------------------------------------------ */

static char tmp_root[256];

static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char sub[1024];
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void tmp_setup(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/cg_test_datasets_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}
static void tmp_teardown(void) { rm_rf(tmp_root); }

/* tmp_root/REL, into a static rotating buffer (a few live at once) */
static const char *tp(const char *rel) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ & 7];
    snprintf(p, 1024, "%s/%s", tmp_root, rel);
    return p;
}

static void mkdirs(const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", tmp_root, rel);
    for (char *s = p + strlen(tmp_root) + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static size_t read_bytes(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void expect_error(const char *spec, enum cg_status want, const char *sub1,
                         const char *sub2) {
    struct cg_dataset ds;
    memset(&ds, 0x55, sizeof ds);
    enum cg_status st = cg_dataset_load(spec, 1, &ds);
    const char *msg = cg_last_error();
    cr_assert_eq(st, want, "spec %s: status %d (want %d): %s", spec, st, want, msg);
    cr_assert(strchr(msg, '\n') == NULL, "one line: %s", msg);
    cr_assert(strstr(msg, sub1) != NULL, "'%s' not in: %s", sub1, msg);
    if (sub2) cr_assert(strstr(msg, sub2) != NULL, "'%s' not in: %s", sub2, msg);
    /* nothing left behind: the struct is zeroed */
    cr_assert_null(ds.train.x);
    cr_assert_null(ds.test.y);
    cr_assert_eq(ds.num_classes, 0);
}

static struct cg_dataset load_ok(const char *spec, uint64_t seed) {
    struct cg_dataset ds;
    enum cg_status st = cg_dataset_load(spec, seed, &ds);
    cr_assert_eq(st, CG_OK, "%s: %s", spec, cg_last_error());
    return ds;
}

static void check_labels_in_range(const struct cg_split *s, int k, int allow_unlabelled) {
    for (int i = 0; i < s->n; i++)
        cr_assert(s->y[i] >= (allow_unlabelled ? -1 : 0) && s->y[i] < k, "y[%d]=%d", i,
                  s->y[i]);
}

/* ---- toy sets: geometry by an algebraic circle fit (Kasa 1976), in double ----------------- */

struct circle { double cx, cy, r, resid; };

/* least squares for x^2 + y^2 + D x + E y + F = 0 over class c's points */
static struct circle fit_circle(const struct cg_split *s, int c) {
    double a[3][4] = {{0}};
    for (int i = 0; i < s->n; i++) {
        if (s->y[i] != c) continue;
        double x = s->x[2 * i], y = s->x[2 * i + 1], row[4] = {x, y, 1, -(x * x + y * y)};
        for (int p = 0; p < 3; p++)
            for (int q = 0; q < 4; q++) a[p][q] += row[p] * row[q];
    }
    for (int p = 0; p < 3; p++) {   /* Gauss-Jordan, the normal matrix is positive definite */
        for (int q = 0; q < 3; q++) {
            if (q == p) continue;
            double f = a[q][p] / a[p][p];
            for (int j = 0; j < 4; j++) a[q][j] -= f * a[p][j];
        }
    }
    double d = a[0][3] / a[0][0], e = a[1][3] / a[1][1], f = a[2][3] / a[2][2];
    struct circle ci = {-d / 2, -e / 2, 0, 0};
    ci.r = sqrt(ci.cx * ci.cx + ci.cy * ci.cy - f);
    double ss = 0;
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->y[i] != c) continue;
        double dr = hypot(s->x[2 * i] - ci.cx, s->x[2 * i + 1] - ci.cy) - ci.r;
        ss += dr * dr;
        n++;
    }
    ci.resid = sqrt(ss / n);
    return ci;
}

/* mean unit vector from (cx, cy) to class c's points: 0 for a full ring, 2/pi for a half
 * circle, 1 for a point */
static void resultant(const struct cg_split *s, int c, double cx, double cy, double out[2]) {
    out[0] = out[1] = 0;
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->y[i] != c) continue;
        double dx = s->x[2 * i] - cx, dy = s->x[2 * i + 1] - cy, l = hypot(dx, dy);
        out[0] += dx / l;
        out[1] += dy / l;
        n++;
    }
    out[0] /= n;
    out[1] /= n;
}

/* best accuracy of any line (360 directions x every threshold) on 2 classes */
static double best_linear_accuracy(const struct cg_split *s) {
    double best = 0;
    double *proj = malloc((size_t)s->n * sizeof *proj);
    for (int a = 0; a < 360; a++) {
        double ux = cos(a * T_PI / 180), uy = sin(a * T_PI / 180);
        for (int i = 0; i < s->n; i++) proj[i] = ux * s->x[2 * i] + uy * s->x[2 * i + 1];
        /* thresholds at 400 bin edges: finer than the noise, close enough to the optimum */
        int bins = 400, c0[400] = {0}, c1[400] = {0}, tot0 = 0;
        double lo = 1e30, hi = -1e30;
        for (int i = 0; i < s->n; i++) lo = fmin(lo, proj[i]), hi = fmax(hi, proj[i]);
        for (int i = 0; i < s->n; i++) {
            int b = (int)((proj[i] - lo) / (hi - lo + 1e-12) * bins);
            if (s->y[i] == 0) c0[b]++, tot0++;
            else c1[b]++;
        }
        int left0 = 0, left1 = 0;
        for (int b = 0; b <= bins; b++) {
            /* class 0 left of the threshold, class 1 right (the other side is the 180 deg
             * direction, also swept) */
            double acc = (double)(left0 + (s->n - tot0 - left1)) / s->n;
            best = fmax(best, acc);
            if (b < bins) left0 += c0[b], left1 += c1[b];
        }
    }
    free(proj);
    return best;
}

/* 1-nearest-neighbour accuracy of test points against the train points */
static double nn_accuracy(const struct cg_split *tr, const struct cg_split *te, int d) {
    int ok = 0;
    for (int i = 0; i < te->n; i++) {
        double best = 1e300;
        int lab = -2;
        for (int j = 0; j < tr->n; j++) {
            double s = 0;
            for (int q = 0; q < d; q++) {
                double v = (double)te->x[(size_t)i * d + q] - tr->x[(size_t)j * d + q];
                s += v * v;
            }
            if (s < best) best = s, lab = tr->y[j];
        }
        ok += lab == te->y[i];
    }
    return (double)ok / te->n;
}

static void check_toy_common(const struct cg_dataset *ds, const char *name, int k) {
    cr_assert_str_eq(ds->name, name);
    cr_assert_eq(ds->is_points, 1);
    cr_assert_eq(ds->c, 2);
    cr_assert_eq(ds->h * ds->w, 1);
    cr_assert_eq(ds->num_classes, k);
    cr_assert_eq(ds->train.n, 2000);
    cr_assert_eq(ds->test.n, 1000);
    check_labels_in_range(&ds->train, k, 0);
    check_labels_in_range(&ds->test, k, 0);
    int cnt[64] = {0};
    for (int i = 0; i < ds->train.n; i++) cnt[ds->train.y[i]]++;
    /* balanced: every class 2000/k, up to one */
    for (int c = 0; c < k; c++) cr_assert(abs(cnt[c] - 2000 / k) <= 1, "class %d: %d", c, cnt[c]);
    double m[2] = {0, 0}, v = 0;
    for (int i = 0; i < 2 * ds->train.n; i++) {
        cr_assert(isfinite(ds->train.x[i]));
        m[i & 1] += ds->train.x[i];
        v += (double)ds->train.x[i] * ds->train.x[i];
    }
    /* standardised on train: mean 0 up to float rounding of 2000 sums, RMS 1 */
    cr_assert(fabs(m[0] / 2000) < 1e-5 && fabs(m[1] / 2000) < 1e-5, "%g %g", m[0], m[1]);
    cr_assert(fabs(sqrt(v / 4000) - 1) < 1e-4, "rms %g", sqrt(v / 4000));
    char label[8];
    snprintf(label, sizeof label, "%d", k - 1);
    cr_assert_str_eq(ds->class_names[k - 1], label);
}

Test(toy, moons_are_two_interleaved_arcs) {
    struct cg_dataset ds = load_ok("moons", 3);
    check_toy_common(&ds, "moons", 2);
    struct circle a = fit_circle(&ds.train, 0), b = fit_circle(&ds.train, 1);
    /* sklearn geometry: two unit half circles, centres (0,0) and (1,0.5) apart by |(1,-0.5)|;
     * 2000 samples with noise 0.1 pin the fits to within a few percent */
    cr_assert(fabs(a.r / b.r - 1) < 0.05, "radii %g %g", a.r, b.r);
    double dist = hypot(a.cx - b.cx, a.cy - b.cy) / a.r;
    cr_assert(fabs(dist - sqrt(1.25)) < 0.06, "centre distance %g radii", dist);
    cr_assert(fabs(b.cx - a.cx - a.r) < 0.06 * a.r, "moon 1 is one radius right");
    /* radial noise 0.1 of a unit radius */
    cr_assert(a.resid / a.r > 0.07 && a.resid / a.r < 0.13, "%g", a.resid / a.r);
    /* half arcs: resultant 2/pi, pointing up for class 0 and down for class 1 */
    double ra[2], rb[2];
    resultant(&ds.train, 0, a.cx, a.cy, ra);
    resultant(&ds.train, 1, b.cx, b.cy, rb);
    cr_log_info("moons: resultants (%.3f %.3f) (%.3f %.3f)", ra[0], ra[1], rb[0], rb[1]);
    /* 0.1: the algebraic fit's centre drifts with the noise on a half arc; a full ring (0)
     * or a quarter arc (0.9) is still far outside */
    cr_assert(fabs(ra[1] - 2 / T_PI) < 0.1 && fabs(ra[0]) < 0.1, "%g %g", ra[0], ra[1]);
    cr_assert(fabs(rb[1] + 2 / T_PI) < 0.1 && fabs(rb[0]) < 0.1, "%g %g", rb[0], rb[1]);
    /* not linearly separable (the best line gets about 88%), yet clean clusters for 1-NN */
    double lin = best_linear_accuracy(&ds.train);
    cr_assert(lin > 0.75 && lin < 0.93, "best linear accuracy %g", lin);
    cr_assert(nn_accuracy(&ds.train, &ds.test, 2) > 0.97);
    cg_dataset_free(&ds);
}

Test(toy, circles_are_concentric_rings) {
    struct cg_dataset ds = load_ok("circles", 5);
    check_toy_common(&ds, "circles", 2);
    struct circle o = fit_circle(&ds.train, 0), in = fit_circle(&ds.train, 1);
    /* factor 0.5, noise 0.05 of the outer radius; tolerances a few sampling std */
    cr_assert(fabs(in.r / o.r - 0.5) < 0.03, "ratio %g", in.r / o.r);
    cr_assert(hypot(o.cx - in.cx, o.cy - in.cy) < 0.03 * o.r);
    cr_assert(o.resid / o.r > 0.04 && o.resid / o.r < 0.06, "%g", o.resid / o.r);
    double r[2];
    resultant(&ds.train, 0, o.cx, o.cy, r);
    cr_assert(hypot(r[0], r[1]) < 0.1, "full ring: resultant %g", hypot(r[0], r[1]));
    cr_assert(nn_accuracy(&ds.train, &ds.test, 2) > 0.97);
    cg_dataset_free(&ds);
}

static void check_blobs(const char *spec, int k) {
    struct cg_dataset ds = load_ok(spec, 11);
    check_toy_common(&ds, "blobs", k);
    double mx[64] = {0}, my[64] = {0}, var[64] = {0};
    int cnt[64] = {0};
    for (int i = 0; i < ds.train.n; i++) {
        int c = ds.train.y[i];
        mx[c] += ds.train.x[2 * i];
        my[c] += ds.train.x[2 * i + 1];
        cnt[c]++;
    }
    double cx = 0, cy = 0;
    for (int c = 0; c < k; c++) mx[c] /= cnt[c], my[c] /= cnt[c], cx += mx[c] / k, cy += my[c] / k;
    for (int i = 0; i < ds.train.n; i++) {
        int c = ds.train.y[i];
        double dx = ds.train.x[2 * i] - mx[c], dy = ds.train.x[2 * i + 1] - my[c];
        var[c] += (dx * dx + dy * dy) / 2;
    }
    double r0 = hypot(mx[0] - cx, my[0] - cy);
    for (int c = 0; c < k; c++) {
        /* centres on one circle, in order, 2 pi / k apart (counter-clockwise: the
         * standardisation must not mirror), std 0.5 around them */
        double r = hypot(mx[c] - cx, my[c] - cy);
        cr_assert(fabs(r / r0 - 1) < 0.1, "class %d radius %g vs %g", c, r, r0);
        double a0 = atan2(my[c] - cy, mx[c] - cx);
        double a1 = atan2(my[(c + 1) % k] - cy, mx[(c + 1) % k] - cx);
        double step = remainder(a1 - a0, 2 * T_PI);
        double off = k == 2 ? fabs(fabs(step) - T_PI) : fabs(step - 2 * T_PI / k);
        cr_assert(off < 0.25 * 2 * T_PI / k, "class %d step %g", c, step);
        double sd = sqrt(var[c] / cnt[c]);
        double radius_units = k <= 8 ? 4.0 : 1.5 / sin(T_PI / k);
        /* 5 sampling std of a std estimated from cnt 2-D points: 0.5 * 5 / sqrt(2 cnt) */
        cr_assert(fabs(sd / r0 * radius_units - 0.5) < 2.5 / sqrt(2.0 * cnt[c]),
                  "class %d std %g", c, sd / r0 * radius_units);
    }
    /* well separated: 1-NN on the test split */
    cr_assert(nn_accuracy(&ds.train, &ds.test, 2) > 0.95);
    cg_dataset_free(&ds);
}

Test(toy, blobs_centres_on_a_circle) {
    check_blobs("blobs", 3);
    check_blobs("blobs:2", 2);
    check_blobs("blobs:7", 7);
    check_blobs("blobs:64", 64);
}

Test(toy, deterministic_per_seed) {
    struct cg_dataset a = load_ok("moons", 42), b = load_ok("moons", 42), c = load_ok("moons", 43);
    size_t bytes = (size_t)a.train.n * 2 * sizeof(float);
    cr_assert_eq(memcmp(a.train.x, b.train.x, bytes), 0);
    cr_assert_eq(memcmp(a.test.x, b.test.x, (size_t)a.test.n * 2 * sizeof(float)), 0);
    cr_assert_neq(memcmp(a.train.x, c.train.x, bytes), 0);
    /* test is a fresh draw, not a copy of train's first rows */
    cr_assert_neq(memcmp(a.train.x, a.test.x, (size_t)a.test.n * 2 * sizeof(float)), 0);
    cr_assert_str_eq(a.source, "moons");
    cg_dataset_free(&a);
    cg_dataset_free(&b);
    cg_dataset_free(&c);
    cg_dataset_free(&c);   /* freeing twice is harmless */
    cg_dataset_free(NULL);
}

/* ---- glyphs ------------------------------------------------------------------------------- */

Test(glyphs, shapes_ranges_and_determinism) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct cg_dataset a = load_ok("glyphs", 7);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    cr_log_info("glyphs: generated in %.3f s", secs);
    /* "well under a second" on an idle core; 5 s leaves room for a machine shared with
     * parallel compiles */
    cr_assert(secs < 5.0, "%.2f s", secs);
    cr_assert_str_eq(a.name, "glyphs");
    cr_assert_eq(a.c, 1);
    cr_assert_eq(a.h, 28);
    cr_assert_eq(a.w, 28);
    cr_assert_eq(a.is_points, 0);
    cr_assert_eq(a.num_classes, 10);
    cr_assert_eq(a.train.n, 10000);
    cr_assert_eq(a.test.n, 2000);
    check_labels_in_range(&a.train, 10, 0);
    check_labels_in_range(&a.test, 10, 0);
    int cnt[10] = {0};
    for (int i = 0; i < a.train.n; i++) cnt[a.train.y[i]]++;
    for (int c = 0; c < 10; c++) cr_assert_eq(cnt[c], 1000);
    size_t n = (size_t)a.train.n * 784;
    size_t ink = 0, bg = 0;
    for (size_t i = 0; i < n; i++) {
        float v = a.train.x[i];
        cr_assert(v >= 0.0f && v <= 1.0f, "x[%zu]=%g", i, v);
        ink += v > 0.9f;
        bg += v < 0.2f;
    }
    /* strokes on a dark background, like MNIST (about 19% of its pixels are ink) */
    cr_assert(ink > n / 50 && ink < n / 3, "ink fraction %g", (double)ink / n);
    cr_assert(bg > n / 2, "background fraction %g", (double)bg / n);
    struct cg_dataset b = load_ok("glyphs", 7), c = load_ok("glyphs", 8);
    cr_assert_eq(memcmp(a.train.x, b.train.x, n * sizeof(float)), 0);
    cr_assert_eq(memcmp(a.test.x, b.test.x, (size_t)a.test.n * 784 * sizeof(float)), 0);
    cr_assert_neq(memcmp(a.train.x, c.train.x, n * sizeof(float)), 0);
    /* jitter: two examples of one class differ by more than the noise */
    double d = 0;
    for (int p = 0; p < 784; p++) d = fmax(d, fabs(a.train.x[p] - a.train.x[10 * 784 + p]));
    cr_assert(d > 0.5, "%g", d);
    cg_dataset_free(&a);
    cg_dataset_free(&b);
    cg_dataset_free(&c);
}

Test(glyphs, classes_are_distinct) {
    struct cg_dataset ds = load_ok("glyphs", 1);
    static double mean[10][784];
    memset(mean, 0, sizeof mean);
    for (int i = 0; i < ds.train.n; i++)
        for (int p = 0; p < 784; p++)
            mean[ds.train.y[i]][p] += ds.train.x[(size_t)i * 784 + p] / 1000;
    /* mean images pairwise far apart: at least 2 in L2 (a stroke of 20 px at half contrast
     * moved away already gives about 3) */
    for (int c = 0; c < 10; c++) {
        for (int e = c + 1; e < 10; e++) {
            double s = 0;
            for (int p = 0; p < 784; p++) {
                double v = mean[c][p] - mean[e][p];
                s += v * v;
            }
            cr_assert(sqrt(s) > 2.0, "classes %d and %d: mean images %g apart", c, e, sqrt(s));
        }
    }
    /* nearest class mean on the test split: a crude rule that must beat, with margin, the
     * 90% an unsupervised clusterer is asked to reach (it gets about 97%; 92% before the
     * square and three-bar shapes were replaced) */
    int ok = 0;
    for (int i = 0; i < ds.test.n; i++) {
        double best = 1e300;
        int lab = -1;
        for (int c = 0; c < 10; c++) {
            double s = 0;
            for (int p = 0; p < 784; p++) {
                double v = ds.test.x[(size_t)i * 784 + p] - mean[c][p];
                s += v * v;
            }
            if (s < best) best = s, lab = c;
        }
        ok += lab == ds.test.y[i];
    }
    cr_log_info("glyphs: nearest-class-mean test accuracy %.4f", (double)ok / ds.test.n);
    cr_assert(ok >= 0.95 * ds.test.n, "nearest mean accuracy %g", (double)ok / ds.test.n);
    cg_dataset_free(&ds);
}

/* ---- IDX ---------------------------------------------------------------------------------- */

#define TN 23   /* train images: odd shapes */
#define EN 11   /* test images */
#define IH 7
#define IW 5

static unsigned char pixel_of(int split, int i, int p) {
    return (unsigned char)((split * 101 + i * 37 + p * 11) & 255);
}
static unsigned char label_of(int split, int i) { return (unsigned char)((i * 3 + split) % 10); }

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes an IDX file: header (magic, dims) then data; gz selects gzip (path gets .gz). */
static void write_idx(const char *rel, int gz, uint32_t magic, const uint32_t *dims, int nd,
                      const unsigned char *data, size_t n) {
    unsigned char hdr[16];
    put_be32(hdr, magic);
    for (int i = 0; i < nd; i++) put_be32(hdr + 4 + 4 * i, dims[i]);
    char path[1024];
    snprintf(path, sizeof path, "%s%s", tp(rel), gz ? ".gz" : "");
    if (!gz) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        fwrite(hdr, 1, 4 + 4 * (size_t)nd, f);
        if (n) fwrite(data, 1, n, f);
        fclose(f);
        return;
    }
    gzFile f = gzopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(gzwrite(f, hdr, 4 + 4 * (unsigned)nd), 4 + 4 * nd);
    if (n) cr_assert_eq(gzwrite(f, data, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(f), Z_OK);
}

static void write_images(const char *rel, int gz, int split, uint32_t n, uint32_t h, uint32_t w) {
    unsigned char *d = malloc((size_t)n * h * w);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t p = 0; p < h * w; p++)
            d[(size_t)i * h * w + p] = pixel_of(split, (int)i, (int)p);
    uint32_t dims[3] = {n, h, w};
    write_idx(rel, gz, 0x803, dims, 3, d, (size_t)n * h * w);
    free(d);
}

static void write_labels(const char *rel, int gz, int split, uint32_t n) {
    unsigned char d[256];
    for (uint32_t i = 0; i < n; i++) d[i] = label_of(split, (int)i);
    uint32_t dims[1] = {n};
    write_idx(rel, gz, 0x801, dims, 1, d, n);
}

/* A valid tiny MNIST in tmp/DIR; gzmask bit i gzips file i */
static void make_mnist(const char *dir, int gzmask) {
    mkdirs(dir);
    char p[4][256];
    const char *base[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) snprintf(p[i], sizeof p[i], "%s/%s", dir, base[i]);
    write_images(p[0], gzmask & 1, 0, TN, IH, IW);
    write_labels(p[1], gzmask & 2, 0, TN);
    write_images(p[2], gzmask & 4, 1, EN, IH, IW);
    write_labels(p[3], gzmask & 8, 1, EN);
}

static void check_tiny_mnist(const struct cg_dataset *ds) {
    cr_assert_str_eq(ds->name, "mnist");
    cr_assert_eq(ds->c, 1);
    cr_assert_eq(ds->h, IH);
    cr_assert_eq(ds->w, IW);
    cr_assert_eq(ds->num_classes, 10);
    cr_assert_str_eq(ds->class_names[9], "9");
    const struct cg_split *s[2] = {&ds->train, &ds->test};
    int n[2] = {TN, EN};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(s[k]->n, n[k]);
        for (int i = 0; i < n[k]; i++) {
            cr_assert_eq(s[k]->y[i], label_of(k, i));
            for (int p = 0; p < IH * IW; p++)
                /* exact: both sides are the same byte divided by 255 in float */
                cr_assert_eq(s[k]->x[i * IH * IW + p], (float)pixel_of(k, i, p) / 255.0f);
        }
    }
}

TestSuite(idx, .init = tmp_setup, .fini = tmp_teardown);

Test(idx, raw_gz_and_mixed_load_the_same) {
    int masks[3] = {0, 15, 5};
    for (int m = 0; m < 3; m++) {
        char dir[32], spec[1100];
        snprintf(dir, sizeof dir, "m%d", m);
        make_mnist(dir, masks[m]);
        snprintf(spec, sizeof spec, "mnist:%s", tp(dir));
        struct cg_dataset ds = load_ok(spec, 1);
        check_tiny_mnist(&ds);
        cr_assert_str_eq(ds.source, spec);
        cg_dataset_free(&ds);
    }
}

static void spec_of(char *spec, const char *dir) { snprintf(spec, 1100, "mnist:%s", tp(dir)); }

Test(idx, missing_file) {
    char spec[1100];
    make_mnist("d", 0);
    unlink(tp("d/t10k-labels-idx1-ubyte"));
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_IO, tp("d/t10k-labels-idx1-ubyte"), "no such file");
    spec_of(spec, "nonexistent");
    expect_error(spec, CG_ERR_IO, "nonexistent/train-images-idx3-ubyte", NULL);
}

Test(idx, wrong_magic) {
    char spec[1100];
    make_mnist("d", 0);
    uint32_t dims[1] = {TN};
    unsigned char lab[TN] = {0};
    /* a labels file where the images should be */
    write_idx("d/train-images-idx3-ubyte", 0, 0x801, dims, 1, lab, TN);
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_FORMAT, tp("d/train-images-idx3-ubyte"), "magic");
    make_mnist("g", 15);
    write_idx("g/t10k-labels-idx1-ubyte", 1, 0x12345678, dims, 1, lab, TN);
    spec_of(spec, "g");
    expect_error(spec, CG_ERR_FORMAT, tp("g/t10k-labels-idx1-ubyte.gz"), "0x12345678");
}

Test(idx, truncated_raw_and_gz) {
    char spec[1100];
    make_mnist("d", 0);
    uint32_t dims[3] = {TN, IH, IW};
    unsigned char data[TN * IH * IW] = {0};
    write_idx("d/train-images-idx3-ubyte", 0, 0x803, dims, 3, data, sizeof data - 1);
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_FORMAT, tp("d/train-images-idx3-ubyte"),
                 "truncated: header says 23 images of 7x5, file holds 804 bytes of data");
    /* a header alone */
    write_idx("d/train-images-idx3-ubyte", 0, 0x803, dims, 2, data, 0);
    expect_error(spec, CG_ERR_FORMAT, tp("d/train-images-idx3-ubyte"), "header");
    /* a gzip file cut in the middle of its stream */
    make_mnist("g", 15);
    static unsigned char buf[1 << 16];
    size_t n = read_bytes(tp("g/t10k-images-idx3-ubyte.gz"), buf, sizeof buf);
    write_bytes(tp("g/t10k-images-idx3-ubyte.gz"), buf, n / 2);
    spec_of(spec, "g");
    expect_error(spec, CG_ERR_FORMAT, tp("g/t10k-images-idx3-ubyte.gz"), "truncated");
}

Test(idx, corrupt_gzip) {
    char spec[1100];
    make_mnist("g", 15);
    static unsigned char buf[1 << 16];
    size_t n = read_bytes(tp("g/train-images-idx3-ubyte.gz"), buf, sizeof buf);
    /* flip the stored CRC-32 (the trailer's first 4 bytes): data decode fine, check fails */
    buf[n - 8] ^= 0xff;
    write_bytes(tp("g/train-images-idx3-ubyte.gz"), buf, n);
    spec_of(spec, "g");
    expect_error(spec, CG_ERR_FORMAT, tp("g/train-images-idx3-ubyte.gz"), "gzip");
}

Test(idx, huge_header_refused_without_allocating) {
    char spec[1100];
    make_mnist("d", 0);
    unsigned char data[100] = {0};
    /* 2^31 images of 2^16 x 2^16: 2^63 bytes */
    uint32_t dims[3] = {1u << 31, 1u << 16, 1u << 16};
    write_idx("d/train-images-idx3-ubyte", 0, 0x803, dims, 3, data, sizeof data);
    write_idx("d/train-labels-idx1-ubyte", 0, 0x801, dims, 1, data, sizeof data);
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_FORMAT, tp("d/train-images-idx3-ubyte"), "2147483648");
    /* within every per-field limit but 2^30 * 60000^2 bytes: only the byte count can
     * refuse it, and must do so before allocating (else CG_ERR_OUT_OF_MEMORY) */
    uint32_t d2[3] = {1u << 30, 60000, 60000};
    write_idx("d/train-images-idx3-ubyte", 0, 0x803, d2, 3, data, sizeof data);
    write_idx("d/train-labels-idx1-ubyte", 0, 0x801, d2, 1, data, sizeof data);
    expect_error(spec, CG_ERR_FORMAT, tp("d/train-images-idx3-ubyte"),
                 "file holds 100 bytes of data");
}

Test(idx, counts_differ) {
    char spec[1100];
    make_mnist("d", 0);
    write_labels("d/t10k-labels-idx1-ubyte", 0, 1, EN - 1);
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_FORMAT, tp("d/t10k-labels-idx1-ubyte"), "10 labels");
}

Test(idx, label_out_of_range) {
    char spec[1100];
    make_mnist("d", 2);
    unsigned char lab[TN];
    for (int i = 0; i < TN; i++) lab[i] = label_of(0, i);
    lab[17] = 10;
    uint32_t dims[1] = {TN};
    write_idx("d/train-labels-idx1-ubyte", 1, 0x801, dims, 1, lab, TN);
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_FORMAT, tp("d/train-labels-idx1-ubyte.gz"), "label 10 at index 17");
}

Test(idx, test_images_of_another_size) {
    char spec[1100];
    make_mnist("d", 0);
    write_images("d/t10k-images-idx3-ubyte", 0, 1, EN, IH + 1, IW);
    spec_of(spec, "d");
    expect_error(spec, CG_ERR_FORMAT, tp("d/t10k-images-idx3-ubyte"), "8x5");
}

Test(idx, real_mnist_label_counts) {
    const char *dir = "/work/shared/data/mnist";
    struct stat sb;
    if (stat(dir, &sb) != 0) cr_skip_test("%s is absent", dir);
    struct cg_dataset ds = load_ok("mnist:/work/shared/data/mnist", 1);
    cr_assert_eq(ds.train.n, 60000);
    cr_assert_eq(ds.test.n, 10000);
    cr_assert_eq(ds.h, 28);
    cr_assert_eq(ds.w, 28);
    /* from /work/shared/data/README.md */
    const int want_train[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    const int want_test[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    int ct[10] = {0}, ce[10] = {0};
    for (int i = 0; i < ds.train.n; i++) ct[ds.train.y[i]]++;
    for (int i = 0; i < ds.test.n; i++) ce[ds.test.y[i]]++;
    for (int c = 0; c < 10; c++) {
        cr_assert_eq(ct[c], want_train[c], "train digit %d", c);
        cr_assert_eq(ce[c], want_test[c], "test digit %d", c);
    }
    float lo = 1, hi = 0;
    for (size_t i = 0; i < (size_t)ds.train.n * 784; i++)
        lo = fminf(lo, ds.train.x[i]), hi = fmaxf(hi, ds.train.x[i]);
    cr_assert(lo == 0.0f && hi == 1.0f, "range [%g, %g]", lo, hi);
    cg_dataset_free(&ds);
}

/* ---- PNG folders -------------------------------------------------------------------------- */

#define PH 9
#define PW 7

/* Writes with libpng's own simplified API, independent of the reader under test. */
static void write_png(const char *rel, png_uint_32 fmt, int h, int w, const void *buf,
                      const void *cmap, int ncmap) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = fmt;
    img.colormap_entries = (png_uint_32)ncmap;
    cr_assert(png_image_write_to_file(&img, tp(rel), 0, buf, 0, cmap), "libpng: %s",
              img.message);
}

static unsigned char pv(int id, int p, int ch) {
    return (unsigned char)(((unsigned)id * 53u + (unsigned)p * 29u + (unsigned)ch * 71u) & 255u);
}

/* luma of stored values and alpha composited onto black, in double */
static float luma(int r, int g, int b, int a) {
    return (float)((0.299 * r + 0.587 * g + 0.114 * b) * a / (255.0 * 255.0));
}

enum kind { K_GREY, K_GA, K_RGB, K_RGBA, K_PAL, K_G16 };

/* Writes image `id` of a kind and stores the grey values the loader must produce. */
static void png_kind(const char *rel, enum kind k, int id, int h, int w, float *expect) {
    unsigned char b[4 * 64 * 64];
    uint16_t b16[64 * 64];
    unsigned char cmap[3 * 16];
    for (int i = 0; i < 16; i++)
        for (int ch = 0; ch < 3; ch++) cmap[3 * i + ch] = pv(id + i, 0, ch);
    int nch = k == K_GREY ? 1 : k == K_GA ? 2 : k == K_RGB ? 3 : k == K_RGBA ? 4 : 1;
    for (int p = 0; p < h * w; p++) {
        for (int ch = 0; ch < nch; ch++) b[p * nch + ch] = pv(id, p, ch);
        const unsigned char *s = &b[p * nch];
        float e = 0;
        switch (k) {
        case K_GREY: e = luma(s[0], s[0], s[0], 255); break;
        case K_GA: e = luma(s[0], s[0], s[0], s[1]); break;
        case K_RGB: e = luma(s[0], s[1], s[2], 255); break;
        case K_RGBA: e = luma(s[0], s[1], s[2], s[3]); break;
        case K_PAL:
            b[p] = (unsigned char)(p % 16);
            e = luma(cmap[3 * b[p]], cmap[3 * b[p] + 1], cmap[3 * b[p] + 2], 255);
            break;
        case K_G16:
            b16[p] = (uint16_t)(pv(id, p, 0) * 257 + (p & 1) * 100);
            e = luma(b16[p] >> 8, b16[p] >> 8, b16[p] >> 8, 255);   /* 16 -> 8: high byte */
            break;
        }
        if (expect) expect[p] = e;
    }
    png_uint_32 fmt[] = {PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA,
                         PNG_FORMAT_RGB_COLORMAP, PNG_FORMAT_LINEAR_Y};
    write_png(rel, fmt[k], h, w, k == K_G16 ? (const void *)b16 : b, k == K_PAL ? cmap : NULL,
              k == K_PAL ? 16 : 0);
}

struct expected { int n; int label[32]; float x[32][PH * PW]; };

static void add_png(struct expected *e, const char *rel, enum kind k, int label) {
    png_kind(rel, k, e->n + 100 * label, PH, PW, e->x[e->n]);
    e->label[e->n++] = label;
}

TestSuite(folder, .init = tmp_setup, .fini = tmp_teardown);

/* Files are added in the order the loader must list them (sorted names, classes sorted,
 * unlabelled last). */
static void make_folder(struct expected *tr, struct expected *te) {
    tr->n = te->n = 0;
    const char *dirs[] = {"f/train/cat", "f/train/dog", "f/train/zebra", "f/train/unlabelled",
                          "f/test/cat", "f/test/dog", "f/test/zebra"};
    for (int i = 0; i < 7; i++) mkdirs(dirs[i]);
    add_png(tr, "f/train/cat/a.png", K_GREY, 0);
    add_png(tr, "f/train/cat/b.png", K_RGB, 0);
    add_png(tr, "f/train/cat/c.PNG", K_RGBA, 0);
    write_bytes(tp("f/train/cat/notes.txt"), "not an image", 12);
    write_bytes(tp("f/train/cat/.hidden.png"), "junk", 4);
    add_png(tr, "f/train/dog/1.png", K_PAL, 1);
    add_png(tr, "f/train/dog/2.png", K_GA, 1);
    add_png(tr, "f/train/zebra/x.png", K_G16, 2);
    add_png(tr, "f/train/zebra/y.png", K_GREY, 2);
    add_png(tr, "f/train/unlabelled/u1.png", K_RGB, -1);
    add_png(tr, "f/train/unlabelled/u2.png", K_GREY, -1);
    add_png(te, "f/test/cat/t.png", K_GREY, 0);
    add_png(te, "f/test/dog/t.png", K_RGB, 1);
    add_png(te, "f/test/zebra/t1.png", K_PAL, 2);
    add_png(te, "f/test/zebra/t2.png", K_GREY, 2);
}

static void check_split(const struct cg_split *s, const struct expected *e) {
    cr_assert_eq(s->n, e->n);
    for (int i = 0; i < e->n; i++) {
        cr_assert_eq(s->y[i], e->label[i], "row %d", i);
        /* float rounding of the luma sum and one division: well below 1e-6 */
        double d = t_max_abs_diff(s->x + i * PH * PW, e->x[i], PH * PW);
        cr_assert(d < 1e-6, "row %d differs by %g", i, d);
    }
}

Test(folder, loads_classes_unlabelled_and_every_png_kind) {
    static struct expected tr, te;
    make_folder(&tr, &te);
    char spec[1100];
    snprintf(spec, sizeof spec, "folder:%s", tp("f"));
    struct cg_dataset ds = load_ok(spec, 1);
    cr_assert_str_eq(ds.name, "folder");
    cr_assert_eq(ds.c, 1);
    cr_assert_eq(ds.h, PH);
    cr_assert_eq(ds.w, PW);
    cr_assert_eq(ds.is_points, 0);
    cr_assert_eq(ds.num_classes, 3);
    cr_assert_str_eq(ds.class_names[0], "cat");
    cr_assert_str_eq(ds.class_names[1], "dog");
    cr_assert_str_eq(ds.class_names[2], "zebra");
    check_split(&ds.train, &tr);
    check_split(&ds.test, &te);
    /* the unlabelled images are never picked as labelled examples */
    int32_t idx[3];
    for (uint64_t seed = 0; seed < 20; seed++) {
        cr_assert_eq(cg_dataset_pick_labelled(&ds, 3, seed, idx), CG_OK);
        for (int c = 0; c < 3; c++) cr_assert_eq(ds.train.y[idx[c]], c);
    }
    cg_dataset_free(&ds);
}

static void folder_error(enum cg_status want, const char *sub1, const char *sub2) {
    char spec[1100];
    snprintf(spec, sizeof spec, "folder:%s", tp("f"));
    expect_error(spec, want, sub1, sub2);
}

Test(folder, png_of_another_size) {
    static struct expected tr, te;
    make_folder(&tr, &te);
    png_kind("f/test/dog/u.png", K_GREY, 1, PH, PW + 1, NULL);
    folder_error(CG_ERR_FORMAT, tp("f/test/dog/u.png"), "9x8");
}

Test(folder, empty_class_folder) {
    static struct expected tr, te;
    make_folder(&tr, &te);
    mkdirs("f/train/emu");
    mkdirs("f/test/emu");
    write_bytes(tp("f/train/emu/readme.txt"), "x", 1);
    folder_error(CG_ERR_FORMAT, tp("f/train/emu"), "no PNG");
}

Test(folder, class_sets_differ) {
    static struct expected tr, te;
    make_folder(&tr, &te);
    rm_rf(tp("f/test/dog"));
    folder_error(CG_ERR_FORMAT, tp("f/test"), "'dog'");
    mkdirs("f/test/dog");
    mkdirs("f/test/emu");
    folder_error(CG_ERR_FORMAT, tp("f/test"), "'emu'");
}

Test(folder, missing_folders) {
    static struct expected tr, te;
    make_folder(&tr, &te);
    rm_rf(tp("f/test"));
    folder_error(CG_ERR_IO, tp("f/test"), NULL);
    rm_rf(tp("f"));
    folder_error(CG_ERR_IO, tp("f/train"), NULL);
    mkdirs("f/train/unlabelled");
    mkdirs("f/test");
    folder_error(CG_ERR_FORMAT, tp("f/train"), "no class folders");
}

Test(folder, corrupt_and_truncated_png) {
    static struct expected tr, te;
    make_folder(&tr, &te);
    write_bytes(tp("f/train/dog/3.png"), "hello, not a png", 16);
    folder_error(CG_ERR_FORMAT, tp("f/train/dog/3.png"), "not a PNG");
    unlink(tp("f/train/dog/3.png"));
    static unsigned char buf[1 << 16];
    size_t n = read_bytes(tp("f/train/zebra/y.png"), buf, sizeof buf);
    write_bytes(tp("f/train/zebra/y.png"), buf, n - 20);   /* cuts into the image data */
    folder_error(CG_ERR_FORMAT, tp("f/train/zebra/y.png"), NULL);
}

/* ---- image.c on its own ------------------------------------------------------------------- */

TestSuite(png, .init = tmp_setup, .fini = tmp_teardown);

Test(png, write_then_read_round_trip) {
    enum { H = 13, W = 17 };
    float x[H * W];
    t_fill(x, H * W, -0.2f, 1.2f, 9);
    x[5] = NAN;
    cr_assert_eq(cg_png_write_grey_f32(tp("r.png"), H, W, x, W), CG_OK, "%s", cg_last_error());
    /* libpng's own reader sees round(255 clamp(x)) */
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    cr_assert(png_image_begin_read_from_file(&img, tp("r.png")));
    cr_assert_eq(img.width, W);
    cr_assert_eq(img.height, H);
    img.format = PNG_FORMAT_GRAY;
    unsigned char raw[H * W];
    cr_assert(png_image_finish_read(&img, NULL, raw, 0, NULL));
    for (int p = 0; p < H * W; p++) {
        double v = isnan(x[p]) ? 0 : fmin(1, fmax(0, x[p]));
        cr_assert_eq(raw[p], (unsigned char)lrint(255 * v), "pixel %d", p);
    }
    int h, w;
    float *back;
    cr_assert_eq(cg_png_read_grey(tp("r.png"), &h, &w, &back), CG_OK);
    cr_assert_eq(h, H);
    cr_assert_eq(w, W);
    for (int p = 0; p < H * W; p++) cr_assert_eq(back[p], raw[p] / 255.0f);
    cg_free(back);
    cr_assert_eq(cg_png_size(tp("r.png"), &h, &w), CG_OK);
    cr_assert(h == H && w == W);
    float small[4];
    cr_assert_eq(cg_png_read_grey_into(tp("r.png"), 2, 2, small), CG_ERR_FORMAT);
    cr_assert(strstr(cg_last_error(), tp("r.png")) != NULL, "%s", cg_last_error());
}

Test(png, errors_name_the_file) {
    float x[4] = {0};
    cr_assert_eq(cg_png_write_grey_f32(tp("no/such/dir/a.png"), 2, 2, x, 2), CG_ERR_IO);
    cr_assert(strstr(cg_last_error(), "no/such/dir/a.png") != NULL, "%s", cg_last_error());
    cr_assert_eq(cg_png_write_grey_f32(tp("a.png"), 0, 2, x, 2), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_png_write_grey_f32(tp("a.png"), 2, 2, x, 1), CG_ERR_INVALID_ARG);
    int h, w;
    float *out = (float *)1;
    cr_assert_eq(cg_png_read_grey(tp("missing.png"), &h, &w, &out), CG_ERR_IO);
    cr_assert_null(out);
    cr_assert(strstr(cg_last_error(), "missing.png") != NULL);
    write_bytes(tp("e.png"), "", 0);
    cr_assert_eq(cg_png_read_grey(tp("e.png"), &h, &w, &out), CG_ERR_FORMAT);
    cr_assert(strstr(cg_last_error(), "e.png") != NULL);
}

/* ---- specs and the labelled subset -------------------------------------------------------- */

Test(spec, unknown_and_bad_specs) {
    expect_error("mnistt", CG_ERR_INVALID_ARG, "'mnistt'", "glyphs");
    expect_error("", CG_ERR_INVALID_ARG, "''", NULL);
    expect_error("blobs:1", CG_ERR_INVALID_ARG, "blobs:1", "2..64");
    expect_error("blobs:65", CG_ERR_INVALID_ARG, "blobs:65", NULL);
    expect_error("blobs:3x", CG_ERR_INVALID_ARG, "blobs:3x", NULL);
    expect_error("mnist:", CG_ERR_INVALID_ARG, "mnist:", NULL);
    struct cg_dataset ds;
    cr_assert_eq(cg_dataset_load(NULL, 1, &ds), CG_ERR_INVALID_ARG);
    cr_assert_eq(cg_dataset_load("moons", 1, NULL), CG_ERR_INVALID_ARG);
}

Test(labels, balanced_distinct_and_seeded) {
    struct cg_dataset ds = load_ok("glyphs", 2);
    int32_t a[100], b[100], c[100];
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 100, 5, a), CG_OK);
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 100, 5, b), CG_OK);
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 100, 6, c), CG_OK);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    int cnt[10] = {0};
    for (int i = 0; i < 100; i++) {
        cr_assert(a[i] >= 0 && a[i] < ds.train.n);
        cnt[ds.train.y[a[i]]]++;
        for (int j = 0; j < i; j++) cr_assert_neq(a[i], a[j], "picked %d twice", a[i]);
    }
    for (int k = 0; k < 10; k++) cr_assert_eq(cnt[k], 10);
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 0, 5, NULL), CG_OK);
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 105, 5, a), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "--labels=105") != NULL, "%s", cg_last_error());
    cr_assert_eq(cg_dataset_pick_labelled(&ds, -10, 5, a), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "--labels") != NULL);
    int32_t *big = malloc(10010 * sizeof *big);
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 10010, 5, big), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "--labels=10010") != NULL, "%s", cg_last_error());
    /* exactly all of them is allowed */
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 10000, 5, big), CG_OK);
    free(big);
    cg_dataset_free(&ds);
}

Test(labels, draw_is_uniform_within_a_class) {
    /* hand-made train split: class 0 at rows 1, 4, 6, 9, 11; class 1 at 0, 2, 3; rest -1 */
    struct cg_dataset ds;
    memset(&ds, 0, sizeof ds);
    int32_t y[12] = {1, 0, 1, 1, 0, -1, 0, -1, -1, 0, -1, 0};
    ds.num_classes = 2;
    ds.train.n = 12;
    ds.train.y = y;
    int hits[12] = {0};
    const int trials = 4000;
    for (int s = 0; s < trials; s++) {
        int32_t idx[4];
        cr_assert_eq(cg_dataset_pick_labelled(&ds, 4, (uint64_t)s, idx), CG_OK);
        cr_assert(idx[0] != idx[1] && idx[2] != idx[3]);
        for (int i = 0; i < 4; i++) hits[idx[i]]++;
        cr_assert(y[idx[0]] == 0 && y[idx[1]] == 0 && y[idx[2]] == 1 && y[idx[3]] == 1);
    }
    /* each class-0 row is picked with probability 2/5, each class-1 row 2/3; binomial std
     * over 4000 trials is about 31 and 30, so 5 std = 155 */
    for (int i = 0; i < 12; i++) {
        double want = y[i] == 0 ? trials * 0.4 : y[i] == 1 ? trials * 2.0 / 3 : 0;
        cr_assert(fabs(hits[i] - want) < 155, "row %d: %d hits, want %g", i, hits[i], want);
    }
    int32_t idx[8];
    cr_assert_eq(cg_dataset_pick_labelled(&ds, 8, 1, idx), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "--labels=8") != NULL, "%s", cg_last_error());
}
