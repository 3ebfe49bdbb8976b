/* PNG pictures with cairo (image surfaces, toy text API): image grids, 2-D cluster scatter
 * plots after figure 2 of Springenberg (ICLR 2016), and training curves. Palette: Tableau 10.
 * Files are written under a temporary name and renamed, so path never holds a partial PNG. */
#include <cairo.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "io/plot.h"

static const double two_pi = 6.283185307179586; /* M_PI is not ISO C */

/* ---- output ------------------------------------------------------------------------------- */

static cairo_status_t write_cb(void *closure, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Writes the surface to "<path>.<pid>.<try>.tmp" (O_EXCL: never clobbers a stranger's file),
 * then renames it onto path; rename within one folder is atomic in POSIX. */
static enum cg_status write_png(const char *fn, cairo_surface_t *s, const char *path) {
    if (cairo_surface_status(s) == CAIRO_STATUS_NO_MEMORY)
        return cg_fail_at(CG_ERR_OUT_OF_MEMORY, fn, "cairo ran out of memory drawing '%s'", path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        return cg_fail_at(CG_ERR_IO, fn, "cannot draw '%s': %s", path,
                          cairo_status_to_string(cairo_surface_status(s)));
    size_t len = strlen(path) + 48;
    char *tmp = malloc(len);
    if (!tmp) return cg_fail_at(CG_ERR_OUT_OF_MEMORY, fn, "no memory for the name of '%s'", path);
    int fd = -1;
    for (int t = 0; t < 100 && fd < 0; t++) {
        snprintf(tmp, len, "%s.%ld.%d.tmp", path, (long)getpid(), t);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        enum cg_status st = cg_fail_at(CG_ERR_IO, fn, "cannot write '%s': %s", path,
                                       strerror(errno));
        free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return cg_fail_at(CG_ERR_IO, fn, "cannot write '%s': %s", path, strerror(e));
    }
    cairo_status_t cs = cairo_surface_write_to_png_stream(s, write_cb, f);
    int e = errno;
    int werr = ferror(f);
    if (fclose(f) != 0 && !werr) werr = 1, e = errno;
    if (cs != CAIRO_STATUS_SUCCESS || werr || rename(tmp, path) != 0) {
        if (cs == CAIRO_STATUS_SUCCESS && !werr) e = errno; /* the rename failed */
        unlink(tmp);
        free(tmp);
        if (cs == CAIRO_STATUS_NO_MEMORY)
            return cg_fail_at(CG_ERR_OUT_OF_MEMORY, fn, "out of memory encoding '%s'", path);
        return cg_fail_at(CG_ERR_IO, fn, "cannot write '%s': %s", path,
                          cs != CAIRO_STATUS_SUCCESS && cs != CAIRO_STATUS_WRITE_ERROR
                              ? cairo_status_to_string(cs)
                              : strerror(e));
    }
    free(tmp);
    return CG_OK;
}

/* ---- drawing helpers ----------------------------------------------------------------------- */

/* Tableau 10 (2016 revision): distinct hues, readable on white, friendly to colour blindness. */
static const double palette[10][3] = {
    {0x4e / 255.0, 0x79 / 255.0, 0xa7 / 255.0}, {0xf2 / 255.0, 0x8e / 255.0, 0x2b / 255.0},
    {0xe1 / 255.0, 0x57 / 255.0, 0x59 / 255.0}, {0x76 / 255.0, 0xb7 / 255.0, 0xb2 / 255.0},
    {0x59 / 255.0, 0xa1 / 255.0, 0x4f / 255.0}, {0xed / 255.0, 0xc9 / 255.0, 0x48 / 255.0},
    {0xb0 / 255.0, 0x7a / 255.0, 0xa1 / 255.0}, {0xff / 255.0, 0x9d / 255.0, 0xa7 / 255.0},
    {0x9c / 255.0, 0x75 / 255.0, 0x5f / 255.0}, {0xba / 255.0, 0xb0 / 255.0, 0xac / 255.0},
};

/* mix = 0: the palette colour; mix -> 1: white (the light region background). */
static void set_colour(cairo_t *cr, int i, double mix) {
    const double *c = palette[i % 10];
    cairo_set_source_rgb(cr, c[0] + (1 - c[0]) * mix, c[1] + (1 - c[1]) * mix,
                         c[2] + (1 - c[2]) * mix);
}

static void set_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Text anchored at (x, y): ax = 0 left, 0.5 centre, 1 right; ay likewise top to bottom, on
 * the height of a digit so that labels of any letters line up. */
static void text(cairo_t *cr, const char *s, double x, double y, double ax, double ay) {
    cairo_text_extents_t e, digit;
    cairo_text_extents(cr, s, &e);
    cairo_text_extents(cr, "0", &digit);
    double h = -digit.y_bearing;
    cairo_move_to(cr, x - ax * e.x_advance, y + (1 - ay) * h);
    cairo_show_text(cr, s);
}

/* Axis range with ticks at 1, 2 or 5 x 10^e ("nice numbers", Heckbert, Graphics Gems 1990). */
struct axis {
    double lo, hi;       /* the visible range */
    double t0, step;     /* first tick and spacing */
    int nt;              /* number of ticks */
};

static double nice_step(double span, int max_ticks) {
    double raw = span / max_ticks, p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* lo/hi: finite data range (may be equal); pad: fraction added on each side. */
static struct axis make_axis(double lo, double hi, double pad, int max_ticks) {
    struct axis a;
    if (!(hi > lo)) {
        double m = fabs(lo) > 0 ? 0.1 * fabs(lo) : 0.5;
        lo -= m, hi += m;
    }
    double span = hi - lo;
    a.lo = lo - pad * span;
    a.hi = hi + pad * span;
    a.step = nice_step(a.hi - a.lo, max_ticks);
    a.t0 = ceil(a.lo / a.step - 1e-9) * a.step;
    a.nt = (int)floor((a.hi - a.t0) / a.step + 1e-9) + 1;
    if (a.nt < 0) a.nt = 0;
    return a;
}

static void tick_label(char *buf, size_t len, double v, double step) {
    if (fabs(v) < 1e-9 * step) v = 0; /* no "-0" or "1e-17" at the origin */
    int dec = (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e6 || step < 1e-4)
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.*f", dec > 0 ? dec : 0, v);
}

static double map(double v, const struct axis *a, double p0, double p1) {
    return p0 + (v - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

/* Light grid lines and tick labels of both axes around the rectangle [x0,x1] x [y0,y1]. */
static void draw_axes(cairo_t *cr, const struct axis *ax, const struct axis *ay, double x0,
                      double y0, double x1, double y1, int x_labels) {
    char buf[32];
    cairo_set_line_width(cr, 1);
    set_font(cr, 11, 0);
    for (int i = 0; i < ax->nt; i++) {
        double v = ax->t0 + i * ax->step, px = floor(map(v, ax, x0, x1)) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, px, y0);
        cairo_line_to(cr, px, y1);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, px, y1);
        cairo_line_to(cr, px, y1 + 4);
        cairo_stroke(cr);
        if (x_labels) {
            tick_label(buf, sizeof buf, v, ax->step);
            text(cr, buf, px, y1 + 7, 0.5, 0);
        }
    }
    for (int i = 0; i < ay->nt; i++) {
        double v = ay->t0 + i * ay->step, py = floor(map(v, ay, y1, y0)) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, x0, py);
        cairo_line_to(cr, x1, py);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, x0 - 4, py);
        cairo_line_to(cr, x0, py);
        cairo_stroke(cr);
        tick_label(buf, sizeof buf, v, ay->step);
        text(cr, buf, x0 - 7, py, 1, 0.5);
    }
}

static void draw_frame(cairo_t *cr, double x0, double y0, double x1, double y1) {
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, floor(x0) + 0.5, floor(y0) + 0.5, floor(x1) - floor(x0),
                    floor(y1) - floor(y0));
    cairo_stroke(cr);
}

/* Marker shape by palette cycle, so clusters 0 and 10 differ even though they share a hue. */
static void marker(cairo_t *cr, int cls, double x, double y, double r) {
    cairo_new_path(cr); /* else cairo_arc joins the text's current point with a line */
    switch ((cls / 10) % 4) {
    case 0: cairo_arc(cr, x, y, r, 0, two_pi); break;
    case 1: cairo_rectangle(cr, x - 0.85 * r, y - 0.85 * r, 1.7 * r, 1.7 * r); break;
    case 2:
        cairo_move_to(cr, x, y - 1.2 * r);
        cairo_line_to(cr, x + 1.1 * r, y + 0.8 * r);
        cairo_line_to(cr, x - 1.1 * r, y + 0.8 * r);
        cairo_close_path(cr);
        break;
    default:
        cairo_move_to(cr, x, y - 1.3 * r);
        cairo_line_to(cr, x + 1.1 * r, y);
        cairo_line_to(cr, x, y + 1.3 * r);
        cairo_line_to(cr, x - 1.1 * r, y);
        cairo_close_path(cr);
    }
}

static void cross(cairo_t *cr, double x, double y, double r) {
    cairo_move_to(cr, x - r, y - r);
    cairo_line_to(cr, x + r, y + r);
    cairo_move_to(cr, x - r, y + r);
    cairo_line_to(cr, x + r, y - r);
}

static cairo_t *white_canvas(cairo_surface_t *s) {
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    return cr;
}

/* ---- image grid ----------------------------------------------------------------------------- */

void cg_plot_grid_size(int n, int h, int w, int cols, int zoom, int *width, int *height) {
    int nc = cols < n ? cols : n, nr = (n + nc - 1) / nc;
    *width = nc * w * zoom + (nc + 1) * CG_PLOT_GRID_GAP;
    *height = nr * h * zoom + (nr + 1) * CG_PLOT_GRID_GAP;
}

static uint32_t byte_of(float v) {
    if (!(v > 0)) return 0; /* NaN too */
    if (v >= 1) return 255;
    return (uint32_t)(v * 255.0f + 0.5f);
}

enum cg_status cg_plot_image_grid(const char *path, const float *imgs, int n, int c, int h,
                                  int w, int cols, int zoom) {
    if (!path || !imgs) return CG_FAIL(CG_ERR_INVALID_ARG, "path and imgs must not be NULL");
    if (n < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d must be >= 1", n);
    if (c != 1 && c != 3) return CG_FAIL(CG_ERR_INVALID_ARG, "c=%d must be 1 or 3", c);
    if (h < 1 || w < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d and w=%d must be >= 1", h, w);
    if (cols < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "cols=%d must be >= 1", cols);
    if (zoom < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "zoom=%d must be >= 1", zoom);
    /* Check the size in 64 bits before cg_plot_grid_size computes it in int. */
    long long nc = cols < n ? cols : n, nr = (n + nc - 1) / nc, g = CG_PLOT_GRID_GAP;
    long long gw = nc * w * (long long)zoom + (nc + 1) * g;
    long long gh = nr * h * (long long)zoom + (nr + 1) * g;
    if (gw > CG_PLOT_MAX_SIDE || gh > CG_PLOT_MAX_SIDE)
        return CG_FAIL(CG_ERR_INVALID_ARG, "a %lld x %lld grid exceeds %d pixels a side", gw, gh,
                       CG_PLOT_MAX_SIDE);

    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)gw, (int)gh);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "no memory for a %lld x %lld image", gw, gh);
    }
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    size_t stride = (size_t)cairo_image_surface_get_stride(s);
    /* Mid grey gaps separate black-background digits as well as white-background images. */
    for (long long y = 0; y < gh; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * stride);
        for (long long x = 0; x < gw; x++) row[x] = 0x9a9a9au;
    }
    size_t plane = (size_t)h * (size_t)w;
    for (int i = 0; i < n; i++) {
        const float *img = imgs + (size_t)i * (size_t)c * plane;
        size_t ox = (size_t)(g + (i % nc) * (w * (long long)zoom + g));
        size_t oy = (size_t)(g + (i / nc) * (h * (long long)zoom + g));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t p = (size_t)y * (size_t)w + (size_t)x;
                uint32_t r = byte_of(img[p]), gg = r, b = r;
                if (c == 3) gg = byte_of(img[plane + p]), b = byte_of(img[2 * plane + p]);
                uint32_t px = r << 16 | gg << 8 | b; /* CAIRO_FORMAT_RGB24: native 0x00RRGGBB */
                for (int dy = 0; dy < zoom; dy++) {
                    uint32_t *row = (uint32_t *)(void *)(data + (oy + (size_t)y * zoom + dy) *
                                                                    stride);
                    for (int dx = 0; dx < zoom; dx++) row[ox + (size_t)x * zoom + dx] = px;
                }
            }
    }
    cairo_surface_mark_dirty(s);
    enum cg_status st = write_png(__func__, s, path);
    cairo_surface_destroy(s);
    return st;
}

/* ---- scatter ------------------------------------------------------------------------------- */

/* Finite min/max over the 2-D points; returns how many were finite. */
static int bbox(const float *p, int n, double *x0, double *x1, double *y0, double *y1) {
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        double x = p[2 * i], y = p[2 * i + 1];
        if (!isfinite(x) || !isfinite(y)) continue;
        if (cnt++ == 0) {
            *x0 = *x1 = x, *y0 = *y1 = y;
            continue;
        }
        *x0 = fmin(*x0, x), *x1 = fmax(*x1, x), *y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
    }
    return cnt;
}

static enum cg_status check_scatter(const struct cg_scatter *s) {
    if (s->n < 0) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d must be >= 0", s->n);
    if (s->k < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "k=%d must be >= 1", s->k);
    if (s->n > 0 && (!s->pts || !s->cls))
        return CG_FAIL(CG_ERR_INVALID_ARG, "pts and cls must not be NULL when n=%d", s->n);
    for (int i = 0; i < s->n; i++)
        if (s->cls[i] < 0 || s->cls[i] >= s->k)
            return CG_FAIL(CG_ERR_INVALID_ARG, "cls[%d]=%d must be in [0, k=%d)", i,
                           (int)s->cls[i], s->k);
    if (s->gen && s->n_gen < 0)
        return CG_FAIL(CG_ERR_INVALID_ARG, "n_gen=%d must be >= 0", s->n_gen);
    if (s->region) {
        if (s->gh < 1 || s->gw < 1)
            return CG_FAIL(CG_ERR_INVALID_ARG, "gh=%d and gw=%d must be >= 1", s->gh, s->gw);
        if (!isfinite(s->xmin) || !isfinite(s->xmax) || !(s->xmin < s->xmax) ||
            !isfinite(s->ymin) || !isfinite(s->ymax) || !(s->ymin < s->ymax))
            return CG_FAIL(CG_ERR_INVALID_ARG,
                           "region box [%g,%g]x[%g,%g] must be finite with min < max",
                           (double)s->xmin, (double)s->xmax, (double)s->ymin, (double)s->ymax);
    }
    return CG_OK;
}

/* One scatter panel, CG_PLOT_SCATTER_W x CG_PLOT_SCATTER_H, at the current origin of cr. */
static void draw_scatter(cairo_t *cr, const struct cg_scatter *s) {
    int n_gen = s->gen ? s->n_gen : 0;

    const double W = CG_PLOT_SCATTER_W, H = CG_PLOT_SCATTER_H;
    const double x0 = 70, y0 = 46, x1 = W - 160, y1 = H - 52; /* the plotting rectangle */
    struct axis ax, ay;
    if (s->region) {
        ax = make_axis(s->xmin, s->xmax, 0, 7);
        ay = make_axis(s->ymin, s->ymax, 0, 7);
    } else {
        double a0 = 0, a1 = 0, b0 = 0, b1 = 0, c0, c1, d0, d1;
        int got = bbox(s->pts, s->n, &a0, &a1, &b0, &b1);
        if (n_gen > 0 && bbox(s->gen, n_gen, &c0, &c1, &d0, &d1) > 0) {
            if (got == 0) a0 = c0, a1 = c1, b0 = d0, b1 = d1;
            a0 = fmin(a0, c0), a1 = fmax(a1, c1), b0 = fmin(b0, d0), b1 = fmax(b1, d1);
        }
        ax = make_axis(a0, a1, 0.05, 7);
        ay = make_axis(b0, b1, 0.05, 7);
    }

    if (s->region) {
        /* Integer cell edges without antialiasing: no hairline seams between cells. */
        cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
        for (int r = 0; r < s->gh; r++) {
            double yb = round(y0 + (y1 - y0) * r / s->gh); /* row 0 at the top, like images */
            double ya = round(y0 + (y1 - y0) * (r + 1) / s->gh);
            for (int q = 0; q < s->gw; q++) {
                int id = s->region[(size_t)r * (size_t)s->gw + (size_t)q];
                if (id < 0 || id >= s->k) continue;
                double xa = round(x0 + (x1 - x0) * q / s->gw);
                double xb = round(x0 + (x1 - x0) * (q + 1) / s->gw);
                set_colour(cr, id, 0.78);
                cairo_rectangle(cr, xa, yb, xb - xa, ya - yb);
                cairo_fill(cr);
            }
        }
        cairo_set_antialias(cr, CAIRO_ANTIALIAS_DEFAULT);
    }
    if (!s->region) draw_axes(cr, &ax, &ay, x0, y0, x1, y1, 1);
    else {
        /* Grid lines would hide the regions: ticks and labels only, drawn over them. */
        struct axis bx = ax, by = ay;
        cairo_save(cr);
        cairo_rectangle(cr, 0, 0, W, H);
        cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
        cairo_clip(cr);
        draw_axes(cr, &bx, &by, x0, y0, x1, y1, 1);
        cairo_restore(cr);
    }

    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_clip(cr);
    cairo_set_line_width(cr, 0.6);
    for (int i = 0; i < s->n; i++) {
        double px = s->pts[2 * i], py = s->pts[2 * i + 1];
        if (!isfinite(px) || !isfinite(py)) continue;
        marker(cr, s->cls[i], map(px, &ax, x0, x1), map(py, &ay, y1, y0), 3.2);
        set_colour(cr, s->cls[i], 0);
        cairo_fill_preserve(cr);
        cairo_set_source_rgba(cr, 0, 0, 0, 0.45);
        cairo_stroke(cr);
    }
    cairo_set_source_rgba(cr, 0, 0, 0, 0.85);
    cairo_set_line_width(cr, 1.1);
    for (int i = 0; i < n_gen; i++) {
        double px = s->gen[2 * i], py = s->gen[2 * i + 1];
        if (!isfinite(px) || !isfinite(py)) continue;
        cross(cr, map(px, &ax, x0, x1), map(py, &ay, y1, y0), 2.6);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
    draw_frame(cr, x0, y0, x1, y1);

    if (s->title) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        set_font(cr, 15, 1);
        text(cr, s->title, (x0 + x1) / 2, 14, 0.5, 0);
    }

    /* Legend: clusters in palette order, then the generated points; past the room left, one
     * "+ N more" row stands for the rest. */
    set_font(cr, 12, 0);
    const double lx = x1 + 16, row = 19;
    int g = n_gen > 0, room = (int)((y1 - y0) / row) - 1;
    int k_shown = s->k + g <= room ? s->k : room - 1 - g;
    char buf[48];
    double cy = y0 + 4 + row / 2;
    for (int j = 0; j < k_shown; j++, cy += row) {
        marker(cr, j, lx + 6, cy, 4.5);
        set_colour(cr, j, 0);
        cairo_fill_preserve(cr);
        cairo_set_source_rgba(cr, 0, 0, 0, 0.45);
        cairo_set_line_width(cr, 0.6);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        snprintf(buf, sizeof buf, "cluster %d", j);
        text(cr, buf, lx + 16, cy, 0, 0.5);
    }
    if (k_shown < s->k) {
        snprintf(buf, sizeof buf, "+ %d more", s->k - k_shown);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        text(cr, buf, lx + 16, cy, 0, 0.5);
        cy += row;
    }
    if (g) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 1.3);
        cross(cr, lx + 6, cy, 3.5);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text(cr, "generated", lx + 16, cy, 0, 0.5);
    }
}

enum cg_status cg_plot_scatter_row(const char *path, const struct cg_scatter *panels, int n) {
    if (!path || !panels) return CG_FAIL(CG_ERR_INVALID_ARG, "path and panels must not be NULL");
    if (n < 1 || n > 4) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d must be in [1, 4]", n);
    for (int p = 0; p < n; p++) {
        enum cg_status st = check_scatter(&panels[p]);
        if (st != CG_OK) return st;
    }
    cairo_surface_t *surf =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, n * CG_PLOT_SCATTER_W, CG_PLOT_SCATTER_H);
    cairo_t *cr = white_canvas(surf);
    for (int p = 0; p < n; p++) {
        cairo_save(cr);
        cairo_translate(cr, p * CG_PLOT_SCATTER_W, 0);
        /* each panel's region cells and markers stay inside its own column */
        cairo_rectangle(cr, 0, 0, CG_PLOT_SCATTER_W, CG_PLOT_SCATTER_H);
        cairo_clip(cr);
        draw_scatter(cr, &panels[p]);
        cairo_restore(cr);
    }
    cairo_destroy(cr);
    enum cg_status st = write_png(__func__, surf, path);
    cairo_surface_destroy(surf);
    return st;
}

enum cg_status cg_plot_scatter(const char *path, const struct cg_scatter *s) {
    if (!path || !s) return CG_FAIL(CG_ERR_INVALID_ARG, "path and s must not be NULL");
    return cg_plot_scatter_row(path, s, 1);
}

/* ---- curves -------------------------------------------------------------------------------- */

static enum cg_status check_curves(const double *x, int n, const struct cg_panel *panels,
                                   int n_panels) {
    if (n < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "n=%d must be >= 1", n);
    if (!x) return CG_FAIL(CG_ERR_INVALID_ARG, "x must not be NULL");
    if (n_panels < 1 || n_panels > 3)
        return CG_FAIL(CG_ERR_INVALID_ARG, "n_panels=%d must be in [1, 3]", n_panels);
    if (!panels) return CG_FAIL(CG_ERR_INVALID_ARG, "panels must not be NULL");
    for (int p = 0; p < n_panels; p++) {
        if (panels[p].n_series < 0 || (panels[p].n_series > 0 && !panels[p].series))
            return CG_FAIL(CG_ERR_INVALID_ARG, "panels[%d]: n_series=%d with series=%p", p,
                           panels[p].n_series, (const void *)panels[p].series);
        for (int q = 0; q < panels[p].n_series; q++)
            if (!panels[p].series[q].y)
                return CG_FAIL(CG_ERR_INVALID_ARG, "panels[%d].series[%d].y must not be NULL", p,
                               q);
    }
    return CG_OK;
}

static void draw_panel(cairo_t *cr, const double *x, int n, const struct axis *ax,
                       const struct cg_panel *pn, double top, int bottom) {
    const double x0 = 78, x1 = CG_PLOT_CURVES_W - 190;
    const double y0 = top + 32, y1 = top + CG_PLOT_CURVES_PANEL_H - 12;
    double lo = 0, hi = 0;
    int any = 0;
    for (int q = 0; q < pn->n_series; q++)
        for (int i = 0; i < n; i++) {
            double v = pn->series[q].y[i];
            if (!isfinite(v) || !isfinite(x[i])) continue;
            if (!any++) lo = hi = v;
            lo = fmin(lo, v), hi = fmax(hi, v);
        }
    struct axis ay = make_axis(lo, hi, 0.06, 5);
    draw_axes(cr, ax, &ay, x0, y0, x1, y1, bottom);
    if (pn->title) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        set_font(cr, 14, 1);
        text(cr, pn->title, (x0 + x1) / 2, top + 10, 0.5, 0);
    }
    if (!any) {
        cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
        set_font(cr, 13, 0);
        text(cr, "no data", (x0 + x1) / 2, (y0 + y1) / 2, 0.5, 0.5);
    }

    cairo_save(cr);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int q = 0; q < pn->n_series; q++) {
        const double *y = pn->series[q].y;
        set_colour(cr, q, 0);
        cairo_set_line_width(cr, 1.6);
        /* Later palette cycles are dashed so series 0 and 10 stay apart. */
        double dash[2] = {6, 3};
        cairo_set_dash(cr, dash, (q / 10) % 2 ? 2 : 0, 0);
        int pen = 0;
        for (int i = 0; i < n; i++) {
            int ok = isfinite(x[i]) && isfinite(y[i]);
            if (!ok) {
                pen = 0;
                continue;
            }
            double px = map(x[i], ax, x0, x1), py = map(y[i], &ay, y1, y0);
            int prev = i > 0 && isfinite(x[i - 1]) && isfinite(y[i - 1]);
            int next = i + 1 < n && isfinite(x[i + 1]) && isfinite(y[i + 1]);
            if (!prev && !next) { /* a lone value between gaps: a dot, or it would vanish */
                cairo_stroke(cr); /* the line so far, so the fill covers only the dot */
                cairo_arc(cr, px, py, 2.2, 0, two_pi);
                cairo_fill(cr);
                continue;
            }
            if (pen) cairo_line_to(cr, px, py);
            else cairo_move_to(cr, px, py);
            pen = 1;
        }
        cairo_stroke(cr);
    }
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_restore(cr);
    draw_frame(cr, x0, y0, x1, y1);

    set_font(cr, 12, 0);
    char buf[32];
    for (int q = 0; q < pn->n_series; q++) {
        double cy = y0 + 10 + 19 * q;
        if (cy > y1) break;
        double dash[2] = {6, 3};
        set_colour(cr, q, 0);
        cairo_set_line_width(cr, 2.2);
        cairo_set_dash(cr, dash, (q / 10) % 2 ? 2 : 0, 0);
        cairo_move_to(cr, x1 + 14, cy);
        cairo_line_to(cr, x1 + 38, cy);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        const char *label = pn->series[q].label;
        if (!label) snprintf(buf, sizeof buf, "series %d", q), label = buf;
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text(cr, label, x1 + 44, cy, 0, 0.5);
    }
}

enum cg_status cg_plot_curves(const char *path, const double *x, int n,
                              const struct cg_panel *panels, int n_panels) {
    if (!path) return CG_FAIL(CG_ERR_INVALID_ARG, "path must not be NULL");
    enum cg_status st = check_curves(x, n, panels, n_panels);
    if (st != CG_OK) return st;
    const int W = CG_PLOT_CURVES_W, H = n_panels * CG_PLOT_CURVES_PANEL_H + CG_PLOT_CURVES_FOOT;
    double lo = 0, hi = 0;
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        if (!any++) lo = hi = x[i];
        lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    }
    struct axis ax = make_axis(lo, hi, 0.02, 8);

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = white_canvas(surf);
    for (int p = 0; p < n_panels; p++)
        draw_panel(cr, x, n, &ax, &panels[p], p * CG_PLOT_CURVES_PANEL_H, p == n_panels - 1);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    set_font(cr, 12, 0);
    text(cr, "iteration", (78.0 + (W - 190)) / 2, H - 6, 0.5, 1);
    cairo_destroy(cr);
    st = write_png(__func__, surf, path);
    cairo_surface_destroy(surf);
    return st;
}
