/* Tests for src/io/plot.c: each picture is read back with cairo's PNG loader and checked for
 * size, layout (grid pixels), non-uniform content, no leftover temporary file, and I/O errors.
 * Set T_PLOT_DIR=<dir> to keep the PNGs there for a look. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "io/plot.h"

static char dir[256];

static void setup(void) {
    const char *keep = getenv("T_PLOT_DIR");
    if (keep && *keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0777);
        return;
    }
    snprintf(dir, sizeof dir, "/tmp/cg_plot_XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp failed");
}

/* Asserts the folder holds exactly `want` entries (besides . and ..), none a temporary. Not
 * with T_PLOT_DIR: the tests then share one folder and see each other's files. */
static void check_dir_entries(int want) {
    if (getenv("T_PLOT_DIR")) return;
    DIR *d = opendir(dir);
    cr_assert(d);
    int cnt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        cnt++;
        cr_assert(!strstr(e->d_name, ".tmp"), "leftover temporary %s", e->d_name);
    }
    closedir(d);
    cr_assert_eq(cnt, want, "%d files in %s, want %d", cnt, dir, want);
}

static void teardown(void) {
    if (getenv("T_PLOT_DIR")) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (remove(p) != 0) rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

TestSuite(plot, .init = setup, .fini = teardown);

static void path_of(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Loads a PNG (cairo's own decoder checks the signature, chunks and CRCs). */
static cairo_surface_t *load(const char *path, int w, int h) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    cr_assert_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS, "%s: %s", path,
                 cairo_status_to_string(cairo_surface_status(s)));
    cr_assert_eq(cairo_image_surface_get_width(s), w, "%s width", path);
    cr_assert_eq(cairo_image_surface_get_height(s), h, "%s height", path);
    return s;
}

static uint32_t pixel(cairo_surface_t *s, int x, int y) {
    const unsigned char *d = cairo_image_surface_get_data(s);
    const uint32_t *row = (const uint32_t *)(const void *)(d + (size_t)y *
                                                       (size_t)cairo_image_surface_get_stride(s));
    return row[x] & 0xffffffu;
}

/* Number of distinct RGB values, up to `cap`. */
static int distinct_colours(cairo_surface_t *s, int cap) {
    uint32_t seen[64];
    int cnt = 0;
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    for (int y = 0; y < h && cnt < cap; y++)
        for (int x = 0; x < w && cnt < cap; x++) {
            uint32_t p = pixel(s, x, y);
            int j = 0;
            while (j < cnt && seen[j] != p) j++;
            if (j == cnt && cnt < 64) seen[cnt++] = p;
        }
    return cnt;
}

static uint32_t byte255(float v) { return (uint32_t)lrintf(fminf(fmaxf(v, 0.f), 1.f) * 255.f); }

Test(plot, image_grid_grey_layout) {
    enum { N = 7, C = 1, H = 5, W = 6, COLS = 3, ZOOM = 2 };
    static float imgs[N * C * H * W];
    t_fill(imgs, sizeof imgs / sizeof *imgs, -0.2f, 1.2f, 3); /* out of range: clamped */
    char p[300];
    path_of(p, sizeof p, "grid_grey.png");
    cr_assert_eq(cg_plot_image_grid(p, imgs, N, C, H, W, COLS, ZOOM), CG_OK, "%s",
                 cg_last_error());
    /* Documented layout, worked out here: 3 columns x 3 rows, gap 2 around and between. */
    int gw = 3 * W * ZOOM + 4 * CG_PLOT_GRID_GAP, gh = 3 * H * ZOOM + 4 * CG_PLOT_GRID_GAP;
    int sw, sh;
    cg_plot_grid_size(N, H, W, COLS, ZOOM, &sw, &sh);
    cr_assert(sw == gw && sh == gh, "cg_plot_grid_size says %d x %d, want %d x %d", sw, sh, gw,
              gh);
    cairo_surface_t *s = load(p, gw, gh);
    /* Every pixel of every image, at every zoomed copy; grey c=1 means R = G = B. Rounding to
     * a byte may differ by one between float paths. */
    for (int i = 0; i < N; i++)
        for (int y = 0; y < H * ZOOM; y++)
            for (int x = 0; x < W * ZOOM; x++) {
                int ox = CG_PLOT_GRID_GAP + (i % COLS) * (W * ZOOM + CG_PLOT_GRID_GAP);
                int oy = CG_PLOT_GRID_GAP + (i / COLS) * (H * ZOOM + CG_PLOT_GRID_GAP);
                uint32_t v = byte255(imgs[i * H * W + (y / ZOOM) * W + x / ZOOM]);
                uint32_t got = pixel(s, ox + x, oy + y);
                uint32_t r = got >> 16, g = (got >> 8) & 255, b = got & 255;
                cr_assert(r == g && g == b, "image %d (%d,%d) not grey: %06x", i, x, y, got);
                cr_assert(r + 1 >= v && r <= v + 1, "image %d (%d,%d): %u, want %u", i, x, y, r,
                          v);
            }
    cr_assert_gt(distinct_colours(s, 8), 2);
    cairo_surface_destroy(s);
    check_dir_entries(1);
}

Test(plot, image_grid_rgb_and_overwrite) {
    enum { N = 4, C = 3, H = 3, W = 4 };
    float imgs[N * C * H * W];
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < C; ch++)
            for (int q = 0; q < H * W; q++)
                imgs[(i * C + ch) * H * W + q] = (ch == 0) ? 1.0f : (ch == 1) ? 0.0f : 0.25f * i;
    char p[300];
    path_of(p, sizeof p, "grid_rgb.png");
    /* cols > n: the grid shrinks to n columns. Written twice: the rename replaces the file. */
    cr_assert_eq(cg_plot_image_grid(p, imgs, N, C, H, W, 10, 1), CG_OK);
    cr_assert_eq(cg_plot_image_grid(p, imgs, N, C, H, W, 10, 3), CG_OK);
    cairo_surface_t *s = load(p, 4 * W * 3 + 5 * CG_PLOT_GRID_GAP, H * 3 + 2 * CG_PLOT_GRID_GAP);
    for (int i = 0; i < N; i++) {
        int x = CG_PLOT_GRID_GAP + i * (W * 3 + CG_PLOT_GRID_GAP) + 5, y = CG_PLOT_GRID_GAP + 4;
        uint32_t want = 0xff0000u | byte255(0.25f * i);
        cr_assert_eq(pixel(s, x, y), want, "image %d: %06x want %06x", i, pixel(s, x, y), want);
    }
    cairo_surface_destroy(s);
    check_dir_entries(1);
}

Test(plot, image_grid_errors) {
    float img[4] = {0};
    const char *bad = "/nonexistent-cg-dir/sub/grid.png";
    cr_assert_eq(cg_plot_image_grid(bad, img, 1, 1, 2, 2, 1, 1), CG_ERR_IO);
    cr_assert(strstr(cg_last_error(), bad), "message does not name the path: %s",
              cg_last_error());
    /* Path is a folder: the temporary is written, the rename fails and must be cleaned up. */
    char p[300];
    path_of(p, sizeof p, "a_folder");
    cr_assert_eq(mkdir(p, 0777), 0);
    cr_assert_eq(cg_plot_image_grid(p, img, 1, 1, 2, 2, 1, 1), CG_ERR_IO);
    cr_assert(strstr(cg_last_error(), p), "message: %s", cg_last_error());
    check_dir_entries(1);
    path_of(p, sizeof p, "x.png");
    cr_assert_eq(cg_plot_image_grid(p, img, 1, 2, 2, 2, 1, 1), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "c=2"), "message: %s", cg_last_error());
    cr_assert_eq(cg_plot_image_grid(p, img, 1, 1, 2, 2, 1, 0), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "zoom=0"), "message: %s", cg_last_error());
    cr_assert_eq(cg_plot_image_grid(p, img, 1, 1, 2, 20000, 1, 2), CG_ERR_INVALID_ARG);
    check_dir_entries(1);
}

/* Three noisy blobs, their nearest-center clusters, a region grid, generated points. */
Test(plot, scatter_with_regions) {
    enum { N = 300, K = 3, NG = 60, GH = 30, GW = 40 };
    static float pts[N * 2], gen[NG * 2];
    static int32_t cls[N], region[GH * GW];
    const float cx[K] = {-2.0f, 2.0f, 0.0f}, cy[K] = {-1.0f, -1.0f, 2.0f};
    struct cg_rng r;
    cg_rng_seed(&r, 4, 0);
    for (int i = 0; i < N; i++) {
        cls[i] = i % K;
        pts[2 * i] = cx[cls[i]] + 0.6f * cg_rng_normal(&r);
        pts[2 * i + 1] = cy[cls[i]] + 0.6f * cg_rng_normal(&r);
    }
    for (int i = 0; i < NG; i++) {
        gen[2 * i] = 3.0f * cg_rng_normal(&r) * 0.5f;
        gen[2 * i + 1] = 3.0f * cg_rng_normal(&r) * 0.5f;
    }
    gen[0] = NAN; /* skipped, not fatal */
    const float x0 = -4.5f, x1 = 4.5f, y0 = -3.5f, y1 = 4.5f;
    for (int q = 0; q < GH; q++)
        for (int c = 0; c < GW; c++) {
            float x = x0 + (c + 0.5f) * (x1 - x0) / GW, y = y1 - (q + 0.5f) * (y1 - y0) / GH;
            int best = 0;
            for (int j = 1; j < K; j++)
                if (hypotf(x - cx[j], y - cy[j]) < hypotf(x - cx[best], y - cy[best])) best = j;
            region[q * GW + c] = best;
        }
    region[0] = -1; /* unknown: left white */
    struct cg_scatter s = {.pts = pts, .cls = cls, .n = N, .k = K, .gen = gen, .n_gen = NG,
                           .region = region, .gh = GH, .gw = GW, .xmin = x0, .xmax = x1,
                           .ymin = y0, .ymax = y1, .title = "CatGAN, 3 clusters"};
    char p[300];
    path_of(p, sizeof p, "scatter_regions.png");
    cr_assert_eq(cg_plot_scatter(p, &s), CG_OK, "%s", cg_last_error());
    cairo_surface_t *img = load(p, CG_PLOT_SCATTER_W, CG_PLOT_SCATTER_H);
    /* white, black, 3 point colours, 3 light region colours, anti-aliased edges */
    cr_assert_geq(distinct_colours(img, 64), 10);
    cairo_surface_destroy(img);

    /* No region, no generated points, no title, many clusters (legend cut off, shapes cycle). */
    for (int i = 0; i < N; i++) cls[i] = i % 37;
    struct cg_scatter t = {.pts = pts, .cls = cls, .n = N, .k = 37};
    path_of(p, sizeof p, "scatter_plain.png");
    cr_assert_eq(cg_plot_scatter(p, &t), CG_OK, "%s", cg_last_error());
    img = load(p, CG_PLOT_SCATTER_W, CG_PLOT_SCATTER_H);
    cr_assert_geq(distinct_colours(img, 64), 12);
    cairo_surface_destroy(img);
    check_dir_entries(2);
}

/* Row 0 of the region grid is the top (ymax): cluster 0 (Tableau blue) above y = 0, cluster 1
 * (orange) below. Sampled well inside each half, away from the frame and the legend. */
Test(plot, scatter_region_orientation) {
    enum { GH = 4, GW = 3 };
    int32_t region[GH * GW];
    for (int i = 0; i < GH * GW; i++) region[i] = i / GW < GH / 2 ? 0 : 1;
    struct cg_scatter s = {.n = 0, .k = 2, .region = region, .gh = GH, .gw = GW, .xmin = -1,
                           .xmax = 1, .ymin = -1, .ymax = 1};
    char p[300];
    path_of(p, sizeof p, "scatter_orientation.png");
    cr_assert_eq(cg_plot_scatter(p, &s), CG_OK, "%s", cg_last_error());
    cairo_surface_t *img = load(p, CG_PLOT_SCATTER_W, CG_PLOT_SCATTER_H);
    uint32_t top = pixel(img, CG_PLOT_SCATTER_W * 2 / 5, CG_PLOT_SCATTER_H / 4);
    uint32_t bot = pixel(img, CG_PLOT_SCATTER_W * 2 / 5, CG_PLOT_SCATTER_H * 3 / 4);
    cr_assert_gt(top & 255, top >> 16, "top %06x should be bluish", top);
    cr_assert_gt(bot >> 16, bot & 255, "bottom %06x should be orange", bot);
    cairo_surface_destroy(img);
    check_dir_entries(1);
}

Test(plot, scatter_errors) {
    float pts[4] = {0, 0, 1, 1};
    int32_t cls[2] = {0, 2};
    struct cg_scatter s = {.pts = pts, .cls = cls, .n = 2, .k = 2};
    char p[300];
    path_of(p, sizeof p, "s.png");
    cr_assert_eq(cg_plot_scatter(p, &s), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "cls[1]=2"), "message: %s", cg_last_error());
    cls[1] = 1;
    int32_t region[1] = {0};
    s.region = region, s.gh = 1, s.gw = 1, s.xmin = 1, s.xmax = 1, s.ymin = 0, s.ymax = 1;
    cr_assert_eq(cg_plot_scatter(p, &s), CG_ERR_INVALID_ARG);
    s.region = NULL;
    const char *bad = "/nonexistent-cg-dir/scatter.png";
    cr_assert_eq(cg_plot_scatter(bad, &s), CG_ERR_IO);
    cr_assert(strstr(cg_last_error(), bad), "message: %s", cg_last_error());
    check_dir_entries(0);
}

Test(plot, curves_three_panels_with_gaps) {
    enum { N = 157 };
    double x[N], d[N], g[N], hx[N], hr[N], acc[N], err[N];
    for (int i = 0; i < N; i++) {
        x[i] = 50.0 * i;
        d[i] = -2.0 + 1.5 * exp(-i / 30.0) + 0.05 * sin(i);
        g[i] = 1.0 - 0.8 * exp(-i / 40.0);
        hx[i] = log(10.0) * (1 - exp(-i / 20.0));
        hr[i] = 2.0 * exp(-i / 25.0);
        acc[i] = (i % 10 == 0) ? 0.1 + 0.85 * (1 - exp(-i / 50.0)) : NAN; /* sparse: dots */
        err[i] = (i > 40 && i < 60 && i != 50) ? NAN : 0.9 * exp(-i / 60.0); /* gap, dot */
    }
    struct cg_series s0[2] = {{"d_loss", d}, {"g_loss", g}};
    struct cg_series s1[2] = {{"H_X (marginal)", hx}, {NULL, hr}};
    struct cg_series s2[2] = {{"cluster accuracy", acc}, {"test error", err}};
    struct cg_panel panels[3] = {{"losses", s0, 2}, {"entropies", s1, 2}, {"accuracy", s2, 2}};
    char p[300];
    path_of(p, sizeof p, "curves3.png");
    cr_assert_eq(cg_plot_curves(p, x, N, panels, 3), CG_OK, "%s", cg_last_error());
    cairo_surface_t *img =
        load(p, CG_PLOT_CURVES_W, 3 * CG_PLOT_CURVES_PANEL_H + CG_PLOT_CURVES_FOOT);
    cr_assert_geq(distinct_colours(img, 64), 8);
    cairo_surface_destroy(img);

    /* One panel, a single point, and a series that is all NaN: still a valid picture. */
    double one = 3, nan1 = NAN;
    struct cg_series lone[2] = {{"lone", &one}, {"nothing", &nan1}};
    struct cg_panel pn = {NULL, lone, 2};
    path_of(p, sizeof p, "curves1.png");
    cr_assert_eq(cg_plot_curves(p, &one, 1, &pn, 1), CG_OK, "%s", cg_last_error());
    img = load(p, CG_PLOT_CURVES_W, CG_PLOT_CURVES_PANEL_H + CG_PLOT_CURVES_FOOT);
    cr_assert_geq(distinct_colours(img, 64), 3);
    cairo_surface_destroy(img);
    check_dir_entries(2);
}

Test(plot, curves_errors) {
    double x[2] = {0, 1}, y[2] = {1, 2};
    struct cg_series s = {"y", y};
    struct cg_panel pn[4] = {{"a", &s, 1}, {"b", &s, 1}, {"c", &s, 1}, {"d", &s, 1}};
    char p[300];
    path_of(p, sizeof p, "c.png");
    cr_assert_eq(cg_plot_curves(p, x, 2, pn, 4), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "n_panels=4"), "message: %s", cg_last_error());
    struct cg_series nul = {"y", NULL};
    struct cg_panel bad_pn = {"a", &nul, 1};
    cr_assert_eq(cg_plot_curves(p, x, 2, &bad_pn, 1), CG_ERR_INVALID_ARG);
    const char *bad = "/nonexistent-cg-dir/curves.png";
    cr_assert_eq(cg_plot_curves(bad, x, 2, pn, 1), CG_ERR_IO);
    cr_assert(strstr(cg_last_error(), bad), "message: %s", cg_last_error());
    check_dir_entries(0);
}
