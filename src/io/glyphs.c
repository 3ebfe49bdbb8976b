/* "glyphs": 28x28 images of 10 stroke shapes, each drawn from line segments with random
 * affine jitter and stroke width, anti-aliased by distance to the segment, plus pixel noise.
 * A synthetic stand-in for MNIST (LeCun et al. 1998) that needs no files. */
#include <math.h>
#include <string.h>

#include "io/dataset.h"

#define GLYPH_CLASSES 10
#define GLYPH_SIDE 28
#define GLYPH_TRAIN 10000
#define GLYPH_TEST 2000
#define GLYPH_MAX_SEG 48
#define GLYPH_BOX 20.0f            /* the unit box spans 20 px, centred, like MNIST's digits */
#define GLYPH_PI 3.14159265358979323846
#define GLYPH_STREAM 0x676c7970ull

struct seg { float ax, ay, bx, by; };
struct glyph { int n; struct seg s[GLYPH_MAX_SEG]; };

/* pts: npts (x, y) pairs in the unit box, y down */
static void add_poly(struct glyph *g, const float *pts, int npts) {
    for (int i = 0; i + 1 < npts; i++)
        g->s[g->n++] = (struct seg){pts[2 * i], pts[2 * i + 1], pts[2 * i + 2], pts[2 * i + 3]};
}

/* Arc from angle a0 to a1 (degrees, clockwise on screen since y points down) in nseg pieces. */
static void add_arc(struct glyph *g, float cx, float cy, float r, float a0, float a1, int nseg) {
    for (int i = 0; i < nseg; i++) {
        double t0 = (a0 + (a1 - a0) * i / nseg) * GLYPH_PI / 180.0;
        double t1 = (a0 + (a1 - a0) * (i + 1) / nseg) * GLYPH_PI / 180.0;
        g->s[g->n++] = (struct seg){(float)(cx + r * cos(t0)), (float)(cy + r * sin(t0)),
                                    (float)(cx + r * cos(t1)), (float)(cy + r * sin(t1))};
    }
}

/* Ten shapes chosen to differ in where their ink lies, not only in topology, so that a
 * clusterer working on pixels separates them: ring, blob, "=", plus, X, triangle, "||",
 * seven, "<", S. Earlier sets, measured with the default unsupervised conv run: a square and
 * three bars overlapped the ring and the seven (nearest-class-mean accuracy 92%); a vertical
 * bar and an L were subsets of the plus and the triangle, a small square and a thin wave
 * shared the plus's central ink: CatGAN merged each of those pairs into one cluster. With
 * this set, seed 1 leaves only the ring and the "||" in one cluster (accuracy 0.90); moving
 * the bars inwards made other seeds worse (0.69, 0.70). Later trials (a filled disc, "T", "L",
 * ">", "U"; jitter x0.5 or x1.5) merged as often on seeds 1-5: the merged pairs change with the
 * seed and each comes with a cluster D left empty early, not with a pair of similar shapes
 * (docs/toy.md, session 3 glyphs). */
static void build_glyphs(struct glyph *g) {
    memset(g, 0, GLYPH_CLASSES * sizeof *g);
    add_arc(&g[0], 0.5f, 0.5f, 0.38f, 0.0f, 360.0f, 32);
    add_arc(&g[1], 0.5f, 0.5f, 0.16f, 0.0f, 360.0f, 14);   /* a blob: nested rings */
    add_arc(&g[1], 0.5f, 0.5f, 0.08f, 0.0f, 360.0f, 10);
    add_poly(&g[2], (const float[]){0.12f, 0.3f, 0.88f, 0.3f}, 2);
    add_poly(&g[2], (const float[]){0.12f, 0.7f, 0.88f, 0.7f}, 2);
    add_poly(&g[3], (const float[]){0.5f, 0.08f, 0.5f, 0.92f}, 2);
    add_poly(&g[3], (const float[]){0.08f, 0.5f, 0.92f, 0.5f}, 2);
    add_poly(&g[4], (const float[]){0.12f, 0.12f, 0.88f, 0.88f}, 2);
    add_poly(&g[4], (const float[]){0.88f, 0.12f, 0.12f, 0.88f}, 2);
    add_poly(&g[5], (const float[]){0.5f, 0.1f, 0.92f, 0.86f, 0.08f, 0.86f, 0.5f, 0.1f}, 4);
    add_poly(&g[6], (const float[]){0.18f, 0.05f, 0.18f, 0.95f}, 2);
    add_poly(&g[6], (const float[]){0.82f, 0.05f, 0.82f, 0.95f}, 2);
    add_poly(&g[7], (const float[]){0.15f, 0.12f, 0.85f, 0.12f, 0.38f, 0.95f}, 3);
    add_poly(&g[8], (const float[]){0.85f, 0.1f, 0.15f, 0.5f, 0.85f, 0.9f}, 3);   /* "<" */
    add_arc(&g[9], 0.5f, 0.3f, 0.22f, -30.0f, -270.0f, 16);
    add_arc(&g[9], 0.5f, 0.74f, 0.22f, -90.0f, 150.0f, 16);
}

static float uniform_pm1(struct cg_rng *r) { return 2.0f * cg_rng_uniform(r) - 1.0f; }

static void render(const struct glyph *g, struct cg_rng *r, float *img) {
    /* jitter: rotation +-8 deg, scale 0.9-1.1, shear +-0.1, shift +-1.5 px, width 1.8-2.6.
     * (Wider ranges, +-12 deg / 0.85-1.15 / 1.5-3 px, made stroke width and tilt as salient
     * as the shape: unsupervised CatGAN split a class by width and merged two others.) */
    double th = uniform_pm1(r) * 8.0 * GLYPH_PI / 180.0;
    float s = 0.9f + 0.2f * cg_rng_uniform(r), sh = 0.1f * uniform_pm1(r);
    float dx = 1.5f * uniform_pm1(r), dy = 1.5f * uniform_pm1(r);
    float hw = 0.5f * (1.8f + 0.8f * cg_rng_uniform(r));
    float c = (float)cos(th), sn = (float)sin(th);
    /* M = rotation * scale * x-shear, applied to unit coordinates centred on the box */
    float m00 = s * c * GLYPH_BOX, m01 = s * (c * sh - sn) * GLYPH_BOX;
    float m10 = s * sn * GLYPH_BOX, m11 = s * (sn * sh + c) * GLYPH_BOX;
    float ox = 0.5f * GLYPH_SIDE + dx, oy = 0.5f * GLYPH_SIDE + dy;
    memset(img, 0, GLYPH_SIDE * GLYPH_SIDE * sizeof *img);
    for (int k = 0; k < g->n; k++) {
        const struct seg *q = &g->s[k];
        float ax = ox + m00 * (q->ax - 0.5f) + m01 * (q->ay - 0.5f);
        float ay = oy + m10 * (q->ax - 0.5f) + m11 * (q->ay - 0.5f);
        float bx = ox + m00 * (q->bx - 0.5f) + m01 * (q->by - 0.5f);
        float by = oy + m10 * (q->bx - 0.5f) + m11 * (q->by - 0.5f);
        float vx = bx - ax, vy = by - ay, l2 = vx * vx + vy * vy;
        float inv = l2 > 1e-12f ? 1.0f / l2 : 0.0f;
        /* only pixels within reach of the stroke: the segment's box grown by hw + 1 */
        int x0 = (int)floorf(fminf(ax, bx) - hw - 1.0f), x1 = (int)ceilf(fmaxf(ax, bx) + hw);
        int y0 = (int)floorf(fminf(ay, by) - hw - 1.0f), y1 = (int)ceilf(fmaxf(ay, by) + hw);
        x0 = x0 < 0 ? 0 : x0;
        y0 = y0 < 0 ? 0 : y0;
        x1 = x1 > GLYPH_SIDE - 1 ? GLYPH_SIDE - 1 : x1;
        y1 = y1 > GLYPH_SIDE - 1 ? GLYPH_SIDE - 1 : y1;
        for (int y = y0; y <= y1; y++) {
            for (int x = x0; x <= x1; x++) {
                float px = (float)x + 0.5f - ax, py = (float)y + 0.5f - ay;
                float t = (px * vx + py * vy) * inv;
                t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
                float ex = px - t * vx, ey = py - t * vy;
                /* coverage of a pixel by a stroke of half-width hw: 1 inside, a 1-px ramp */
                float cov = hw + 0.5f - sqrtf(ex * ex + ey * ey);
                cov = cov > 1.0f ? 1.0f : cov;
                float *p = &img[y * GLYPH_SIDE + x];
                if (cov > *p) *p = cov;
            }
        }
    }
    /* noise sigma 0.05 from Irwin-Hall(4) (four 16-bit uniforms summed, rescaled to unit
     * variance): near-Gaussian; the 64 bits per pixel come from splitmix64 (Steele et al.,
     * OOPSLA'14) seeded by this image's Philox stream, as Philox per pixel cost 2/3 of the
     * whole generation time */
    uint64_t st = (uint64_t)cg_rng_u32(r) << 32 | cg_rng_u32(r);
    const float scale = 0.05f * 1.7320508f / 65536.0f;
    for (int i = 0; i < GLYPH_SIDE * GLYPH_SIDE; i++) {
        uint64_t z = (st += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float sum = (float)(z & 0xffff) + (float)(z >> 16 & 0xffff) + (float)(z >> 32 & 0xffff)
                    + (float)(z >> 48);
        float v = img[i] + (sum - 2.0f * 65535.0f) * scale;
        img[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    }
}

static void render_split(const struct glyph *g, uint64_t seed, uint64_t split,
                         struct cg_split *s) {
    /* one RNG stream per image: the pixels do not depend on the thread count */
    #pragma omp parallel for schedule(static)
    for (int i = 0; i < s->n; i++) {
        struct cg_rng r;
        cg_rng_seed(&r, seed, GLYPH_STREAM + (split << 32) + (uint64_t)i);
        s->y[i] = i % GLYPH_CLASSES;
        render(&g[i % GLYPH_CLASSES], &r, s->x + (size_t)i * GLYPH_SIDE * GLYPH_SIDE);
    }
}

enum cg_status cg_glyphs_load(uint64_t seed, struct cg_dataset *ds) {
    struct glyph g[GLYPH_CLASSES];
    build_glyphs(g);
    memcpy(ds->name, "glyphs", sizeof "glyphs");
    ds->c = 1;
    ds->h = ds->w = GLYPH_SIDE;
    ds->num_classes = GLYPH_CLASSES;
    enum cg_status st = cg_split_alloc(&ds->train, GLYPH_TRAIN, GLYPH_SIDE * GLYPH_SIDE, "glyphs");
    if (st == CG_OK) st = cg_split_alloc(&ds->test, GLYPH_TEST, GLYPH_SIDE * GLYPH_SIDE, "glyphs");
    if (st != CG_OK) return st;
    render_split(g, seed, 1, &ds->train);
    render_split(g, seed, 2, &ds->test);
    return CG_OK;
}
