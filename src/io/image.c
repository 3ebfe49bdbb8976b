/* PNG read (any 8-bit-able PNG -> grey float) and 8-bit grey PNG write with libpng 1.6.
 * Reading uses the classic API so stored values come back untouched (no gamma handling);
 * libpng's errors longjmp into decode() and are reported, never printed. */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

struct png_rd {
    FILE *f;
    png_structp png;
    png_infop info;
    unsigned char *pix;      /* decoded 8-bit samples, h * rowbytes */
    png_bytep *rows;
    float *dst;
    int own_dst;             /* dst was allocated here */
    int want_h, want_w;      /* > 0: the image must have this size */
    int size_only;
    int h, w;
    enum cg_status st;
    char msg[256];
};

static void on_png_error(png_structp png, png_const_charp msg) {
    struct png_rd *r = png_get_error_ptr(png);
    snprintf(r->msg, sizeof r->msg, "corrupt PNG: %s", msg);
    r->st = CG_ERR_FORMAT;
    png_longjmp(png, 1);
}

/* libpng warns about benign oddities (unknown chunks, iCCP profiles); the pixels are fine. */
static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void to_grey(const unsigned char *s, int ch, int w, float *d) {
    /* Rec. 601 luma with integer weights: grey-replicated RGB maps to exactly v/255 */
    for (int x = 0; x < w; x++, s += ch) {
        switch (ch) {
        case 1: d[x] = (float)s[0] / 255.0f; break;
        case 2: d[x] = (float)((double)s[0] * s[1] / 65025.0); break;
        case 3: d[x] = (float)(299 * s[0] + 587 * s[1] + 114 * s[2]) / 255000.0f; break;
        default:
            d[x] = (float)((double)(299 * s[0] + 587 * s[1] + 114 * s[2]) * s[3] / 65025000.0);
            break;
        }
    }
}

/* All libpng calls that can fail live here, after setjmp; state stays in *r (not in locals),
 * so nothing is clobbered by the longjmp. Returns 0, or -1 with r->st and r->msg set. */
static int decode(struct png_rd *r) {
    if (setjmp(png_jmpbuf(r->png))) return -1;
    png_init_io(r->png, r->f);
    png_set_sig_bytes(r->png, 8);
    /* Only IHDR, PLTE, tRNS and IDAT matter here; every other chunk is skipped unread. libpng
     * allocates a text chunk's claimed length before reading it: a 93-byte file whose zTXt
     * claims 2 GB made it allocate 2 GB (found by fuzz/fuzz_png). */
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_read_info(r->png, r->info);
    png_uint_32 w = png_get_image_width(r->png, r->info);
    png_uint_32 h = png_get_image_height(r->png, r->info);
    if ((int64_t)w * (int64_t)h > CG_PNG_MAX_PIXELS) {
        snprintf(r->msg, sizeof r->msg, "image is %lux%lu, more than %lld pixels",
                 (unsigned long)w, (unsigned long)h, (long long)CG_PNG_MAX_PIXELS);
        r->st = CG_ERR_FORMAT;
        return -1;
    }
    r->h = (int)h;
    r->w = (int)w;
    if (r->size_only) return 0;
    if (r->want_h > 0 && (r->h != r->want_h || r->w != r->want_w)) {
        snprintf(r->msg, sizeof r->msg, "image is %dx%d (height x width), expected %dx%d",
                 r->h, r->w, r->want_h, r->want_w);
        r->st = CG_ERR_FORMAT;
        return -1;
    }
    int ctype = png_get_color_type(r->png, r->info);
    int depth = png_get_bit_depth(r->png, r->info);
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
    if (depth == 16) png_set_strip_16(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    int ch = png_get_channels(r->png, r->info);
    size_t rowbytes = png_get_rowbytes(r->png, r->info);
    if (ch < 1 || ch > 4 || rowbytes < (size_t)ch * w) {
        snprintf(r->msg, sizeof r->msg, "unsupported PNG layout (%d channels)", ch);
        r->st = CG_ERR_FORMAT;
        return -1;
    }
    /* the whole image at once: interlaced files fill rows over several passes */
    size_t bytes, npix = (size_t)h * w;
    r->pix = cg_mul_ok(rowbytes, h, &bytes) ? malloc(bytes) : NULL;
    r->rows = malloc(h * sizeof *r->rows);
    if (!r->dst) {
        r->dst = cg_malloc(npix * sizeof(float));
        r->own_dst = 1;
    }
    if (!r->pix || !r->rows || !r->dst) {
        snprintf(r->msg, sizeof r->msg, "out of memory for a %lux%lu image",
                 (unsigned long)w, (unsigned long)h);
        r->st = CG_ERR_OUT_OF_MEMORY;
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++) r->rows[y] = r->pix + (size_t)y * rowbytes;
    png_read_image(r->png, r->rows);
    for (png_uint_32 y = 0; y < h; y++) to_grey(r->rows[y], ch, (int)w, r->dst + (size_t)y * w);
    return 0;
}

static enum cg_status read_png(const char *path, struct png_rd *r) {
    r->st = CG_OK;
    r->msg[0] = 0;
    if (!path) return CG_FAIL(CG_ERR_INVALID_ARG, "path=NULL must name a PNG file");
    r->f = fopen(path, "rb");
    if (!r->f) return cg_fail_at(CG_ERR_IO, path, "cannot open: %s", strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, sizeof sig, r->f);
    if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
        fclose(r->f);
        return cg_fail_at(CG_ERR_FORMAT, path, "not a PNG file (%s)",
                          got < sizeof sig ? "shorter than the 8-byte signature"
                                           : "wrong signature");
    }
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, on_png_error, on_png_warning);
    r->info = r->png ? png_create_info_struct(r->png) : NULL;
    int rc = -1;
    if (!r->info) {
        r->st = CG_ERR_OUT_OF_MEMORY;
        snprintf(r->msg, sizeof r->msg, "out of memory for libpng's state");
    } else {
        rc = decode(r);
    }
    png_destroy_read_struct(r->png ? &r->png : NULL, r->info ? &r->info : NULL, NULL);
    fclose(r->f);
    free(r->pix);
    free(r->rows);
    if (rc == 0) return CG_OK;
    if (r->own_dst) {
        cg_free(r->dst);
        r->dst = NULL;
    }
    return cg_fail_at(r->st, path, "%s", r->msg);
}

enum cg_status cg_png_read_grey(const char *path, int *h, int *w, float **out) {
    if (!h || !w || !out) return CG_FAIL(CG_ERR_INVALID_ARG, "h, w and out must not be NULL");
    *out = NULL;
    struct png_rd r = {0};
    enum cg_status st = read_png(path, &r);
    if (st != CG_OK) return st;
    *h = r.h;
    *w = r.w;
    *out = r.dst;
    return CG_OK;
}

enum cg_status cg_png_read_grey_into(const char *path, int h, int w, float *dst) {
    if (h <= 0 || w <= 0 || !dst)
        return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d, w=%d must be > 0 and dst not NULL", h, w);
    struct png_rd r = {0};
    r.want_h = h;
    r.want_w = w;
    r.dst = dst;
    return read_png(path, &r);
}

enum cg_status cg_png_size(const char *path, int *h, int *w) {
    if (!h || !w) return CG_FAIL(CG_ERR_INVALID_ARG, "h and w must not be NULL");
    struct png_rd r = {0};
    r.size_only = 1;
    enum cg_status st = read_png(path, &r);
    if (st != CG_OK) return st;
    *h = r.h;
    *w = r.w;
    return CG_OK;
}

enum cg_status cg_png_write_grey(const char *path, int h, int w, const uint8_t *pix,
                                 int stride) {
    if (!path || !pix) return CG_FAIL(CG_ERR_INVALID_ARG, "path and pix must not be NULL");
    if (h <= 0 || w <= 0 || (int64_t)h * w > CG_PNG_MAX_PIXELS)
        return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d, w=%d must be > 0, at most %lld pixels", h, w,
                       (long long)CG_PNG_MAX_PIXELS);
    if (stride < w) return CG_FAIL(CG_ERR_INVALID_ARG, "stride=%d must be >= w=%d", stride, w);
    /* the simplified API reports through img.message and never prints */
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&img, path, 0, pix, stride, NULL)) {
        enum cg_status st = cg_fail_at(CG_ERR_IO, path, "cannot write PNG: %s", img.message);
        png_image_free(&img);
        return st;
    }
    return CG_OK;
}

enum cg_status cg_png_write_grey_f32(const char *path, int h, int w, const float *x,
                                     int stride) {
    if (!path || !x) return CG_FAIL(CG_ERR_INVALID_ARG, "path and x must not be NULL");
    if (h <= 0 || w <= 0 || (int64_t)h * w > CG_PNG_MAX_PIXELS)
        return CG_FAIL(CG_ERR_INVALID_ARG, "h=%d, w=%d must be > 0, at most %lld pixels", h, w,
                       (long long)CG_PNG_MAX_PIXELS);
    if (stride < w) return CG_FAIL(CG_ERR_INVALID_ARG, "stride=%d must be >= w=%d", stride, w);
    uint8_t *pix = malloc((size_t)h * w);
    if (!pix) return cg_fail_at(CG_ERR_OUT_OF_MEMORY, path, "out of memory for %dx%d", h, w);
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w; i++) {
            float v = x[(size_t)y * stride + i];
            v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;   /* NaN fails v > 0: writes 0 */
            pix[(size_t)y * w + i] = (uint8_t)lrintf(255.0f * v);
        }
    }
    enum cg_status st = cg_png_write_grey(path, h, w, pix, w);
    free(pix);
    return st;
}
