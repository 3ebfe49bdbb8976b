/* PNG pictures with cairo: image grids, 2-D scatter plots of clusters (like figure 2 of
 * Springenberg, ICLR 2016) and training curves. Cairo image surfaces and the "toy" text API.
 * Each writes "<path>.<pid>.<n>.tmp" in the same folder and renames it onto path, so a
 * half-written PNG never appears under path. These may allocate; they run outside training. */
#ifndef CG_PLOT_H
#define CG_PLOT_H

#include <stdint.h>

#include "catgan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Picture sizes, in pixels, fixed so callers and tests know them. */
#define CG_PLOT_GRID_GAP 2         /* grey gap between images and around the grid */
#define CG_PLOT_SCATTER_W 760
#define CG_PLOT_SCATTER_H 640
#define CG_PLOT_CURVES_W 960
#define CG_PLOT_CURVES_PANEL_H 250 /* curves height: n_panels * PANEL_H + FOOT */
#define CG_PLOT_CURVES_FOOT 46
#define CG_PLOT_MAX_SIDE 32767     /* cairo's largest image surface side */

/* Size of the grid cg_plot_image_grid draws: cols' = min(cols, n) columns,
 * rows = ceil(n / cols'), width = cols' * w * zoom + (cols' + 1) * CG_PLOT_GRID_GAP, height
 * likewise. No validation: for valid arguments only. */
void cg_plot_grid_size(int n, int h, int w, int cols, int zoom, int *width, int *height);

/* A grid of n images imgs (n, c, h, w), c = 1 (grey) or 3 (RGB), values in [0,1] (clamped;
 * NaN shows black), row-major with `cols` columns, each pixel scaled to zoom x zoom (zoom >= 1).
 * CG_ERR_INVALID_ARG for bad arguments or a picture wider or taller than CG_PLOT_MAX_SIDE;
 * CG_ERR_IO (the message names path) if the file cannot be written. */
enum cg_status cg_plot_image_grid(const char *path, const float *imgs, int n, int c, int h,
                                  int w, int cols, int zoom);

/* 2-D scatter plot, CG_PLOT_SCATTER_W x CG_PLOT_SCATTER_H: points pts (n, 2) coloured by
 * cls[i] in [0,k) (Tableau 10, cycled for k > 10 with another marker shape per cycle), an
 * optional light background of decision regions, optional generated points gen (n_gen, 2)
 * drawn over them as small black crosses, a title (may be NULL) and a legend.
 * region (may be NULL): gh rows x gw columns of cluster ids in image order (row 0 at the TOP,
 * ymax); region[r * gw + q] is the cluster at the centre of cell (q, r),
 * x = xmin + (q + 0.5) (xmax - xmin) / gw, y = ymax - (r + 0.5) (ymax - ymin) / gh; ids
 * outside [0,k) stay white. With a region the axes span [xmin,xmax] x [ymin,ymax]; without
 * one they span the data (pts and gen) plus 5%. Non-finite coordinates are skipped. */
struct cg_scatter {
    const float *pts;
    const int32_t *cls;
    int n, k;
    const float *gen;
    int n_gen;
    const int32_t *region;
    int gh, gw;
    float xmin, xmax, ymin, ymax;
    const char *title;
};
enum cg_status cg_plot_scatter(const char *path, const struct cg_scatter *s);
/* n (1 to 4) scatter panels side by side in one picture, n * CG_PLOT_SCATTER_W x
 * CG_PLOT_SCATTER_H, panel i in the i-th column exactly as cg_plot_scatter draws it (the toy
 * runs show CatGAN's clusters beside k-means'). Same errors as cg_plot_scatter, naming the
 * panel's field; n outside [1, 4] is CG_ERR_INVALID_ARG. */
enum cg_status cg_plot_scatter_row(const char *path, const struct cg_scatter *panels, int n);

/* Training curves, CG_PLOT_CURVES_W wide and n_panels * CG_PLOT_CURVES_PANEL_H +
 * CG_PLOT_CURVES_FOOT tall: 1 to 3 panels stacked over a shared x axis x (n), each with its
 * title and its series (y (n) each, labelled in the panel's legend; label NULL: "series i").
 * NaN or infinite values (in x or y) are gaps in the line; an isolated point is a dot. */
struct cg_series {
    const char *label;
    const double *y;
};
struct cg_panel {
    const char *title;
    const struct cg_series *series;
    int n_series;
};
enum cg_status cg_plot_curves(const char *path, const double *x, int n,
                              const struct cg_panel *panels, int n_panels);

#ifdef __cplusplus
}
#endif
#endif /* CG_PLOT_H */
