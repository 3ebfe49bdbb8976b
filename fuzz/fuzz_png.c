/* libFuzzer harness for the PNG decoder (src/io/image.c: cg_png_read_grey, cg_png_size,
 * cg_png_read_grey_into) and the PNG folder reader (src/io/pngdir.c via "folder:DIR").
 * Input: byte 0, bit 0 set: recompute every chunk's CRC-32 first, so that mutated chunks get
 * past libpng's CRC check and reach the decoder; the rest is the PNG file (PNG spec, ISO/IEC
 * 15948). The file is read alone, then as the second training image of a folder dataset. */
#include <zlib.h>

#include "io/dataset.h"
#include "io/image.h"

#include "fuzz_util.h"

static uint8_t buf[1 << 20];
static char img_path[512], fuzzed_path[512], spec[300];

/* A valid 8-bit grey PNG of 4x3 from our own writer. */
static void write_good(const char *path) {
    uint8_t pix[12];
    for (int i = 0; i < 12; i++) pix[i] = (uint8_t)(20 * i);
    if (cg_png_write_grey(path, 3, 4, pix, 4) != CG_OK) {
        fprintf(stderr, "fuzz: %s\n", cg_last_error());
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *d = fz_tmpdir("png");
    char p[512];
    const char *dirs[] = {"train", "train/c", "test", "test/c"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", d, dirs[i]);
        fz_mkdir(p);
    }
    snprintf(p, sizeof p, "%s/train/c/0.png", d);
    write_good(p);
    snprintf(p, sizeof p, "%s/test/c/0.png", d);
    write_good(p);
    snprintf(fuzzed_path, sizeof fuzzed_path, "%s/train/c/1.png", d);
    snprintf(img_path, sizeof img_path, "%s/alone.png", d);
    snprintf(spec, sizeof spec, "folder:%s", d);
    return 0;
}

/* Walks the chunks after the signature and rewrites each complete chunk's CRC. */
static void fix_crcs(uint8_t *p, size_t n) {
    size_t off = 8;
    while (off + 12 <= n) {
        uint32_t len = fz_be32(p + off);
        if (len > n - off - 12) break;
        uLong crc = crc32(0L, p + off + 4, (uInt)len + 4);
        fz_put_be32(p + off + 8 + len, (uint32_t)crc);
        off += 12 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size - 1 > sizeof buf) return 0;
    size_t n = size - 1;
    memcpy(buf, data + 1, n);
    if (data[0] & 1) fix_crcs(buf, n);
    fz_write(img_path, buf, n);

    int h = -1, w = -1;
    float *img = NULL;
    enum cg_status st = cg_png_read_grey(img_path, &h, &w, &img);
    if (st == CG_OK) {
        if (h < 1 || w < 1 || (int64_t)h * w > CG_PNG_MAX_PIXELS || !img) abort();
        for (size_t i = 0; i < (size_t)h * w; i++)
            if (!(img[i] >= 0.0f && img[i] <= 1.0f)) abort();
    } else if (img || !cg_last_error()[0]) {
        abort();
    }
    int sh = -1, sw = -1;
    enum cg_status st2 = cg_png_size(img_path, &sh, &sw);
    /* the header alone can be fine while the pixels are not, never the other way round */
    if (st == CG_OK && (st2 != CG_OK || sh != h || sw != w)) abort();
    if (st == CG_OK) {
        /* the same pixels into a caller buffer, and a size mismatch refused */
        float *again = cg_malloc((size_t)h * w * sizeof(float));
        if (!again) abort();
        if (cg_png_read_grey_into(img_path, h, w, again) != CG_OK ||
            memcmp(again, img, (size_t)h * w * sizeof(float)) != 0)
            abort();
        if (cg_png_read_grey_into(img_path, h, w + 1, again) != CG_ERR_FORMAT) abort();
        cg_free(again);
    }
    cg_free(img);

    /* the folder reader: 0.png (valid, 3x4) decides the size, the fuzzed 1.png must match */
    fz_write(fuzzed_path, buf, n);
    struct cg_dataset ds;
    enum cg_status st3 = cg_dataset_load(spec, 1, &ds);
    if (st3 == CG_OK && (ds.train.n != 2 || ds.test.n != 1 || ds.h != 3 || ds.w != 4)) abort();
    if (st3 != CG_OK && !cg_last_error()[0]) abort();
    cg_dataset_free(&ds);
    return 0;
}
