/* "mnist:DIR": the four MNIST IDX files, raw or gzipped (zlib's gzread reads both). IDX format:
 * big-endian magic 0x00000803/0x00000801, then one uint32 per dimension, then unsigned bytes
 * (LeCun et al., yann.lecun.com/exdb/mnist; /work/shared/data/README.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/dataset.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_SIDE 65535u
#define IDX_CHUNK (1u << 16)

struct idx {
    char path[1024];
    gzFile f;
    int is_images;
    uint32_t n, h, w;
    uint64_t bytes;      /* data bytes after the header, as the header claims them */
};

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads up to len bytes; returns the count (short only at end of data) or -1 on error. */
static long read_full(gzFile f, unsigned char *buf, unsigned len) {
    unsigned got = 0;
    while (got < len) {
        int r = gzread(f, buf + got, len - got);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (unsigned)r;
    }
    return (long)got;
}

static enum cg_status gz_fail(const struct idx *ix) {
    int err = Z_OK;
    const char *msg = gzerror(ix->f, &err);
    if (err == Z_ERRNO)
        return cg_fail_at(CG_ERR_IO, ix->path, "cannot read: %s", strerror(errno));
    return cg_fail_at(CG_ERR_FORMAT, ix->path, "corrupt gzip data: %s", msg);
}

static const char *what(const struct idx *ix) { return ix->is_images ? "images" : "labels"; }

static enum cg_status claim_text_fail(const struct idx *ix, const char *problem, uint64_t held) {
    if (ix->is_images)
        return cg_fail_at(CG_ERR_FORMAT, ix->path,
                          "%s: header says %lu images of %lux%lu, file holds %llu bytes of data",
                          problem, (unsigned long)ix->n, (unsigned long)ix->h,
                          (unsigned long)ix->w, (unsigned long long)held);
    return cg_fail_at(CG_ERR_FORMAT, ix->path,
                      "%s: header says %lu labels, file holds %llu bytes of data", problem,
                      (unsigned long)ix->n, (unsigned long long)held);
}

/* Finds DIR/BASE or DIR/BASE.gz, opens it and checks the header. */
static enum cg_status idx_open(const char *dir, const char *base, int is_images, struct idx *ix) {
    struct stat sb;
    ix->is_images = is_images;
    int len = snprintf(ix->path, sizeof ix->path, "%s/%s", dir, base);
    if (len < 0 || (size_t)len + 4 > sizeof ix->path)
        return CG_FAIL(CG_ERR_INVALID_ARG, "mnist:%s: directory name too long", dir);
    if (stat(ix->path, &sb) != 0) {
        memcpy(ix->path + len, ".gz", 4);
        if (stat(ix->path, &sb) != 0) {
            ix->path[len] = 0;
            return cg_fail_at(CG_ERR_IO, ix->path, "no such file (nor %s.gz)", base);
        }
    }
    ix->f = gzopen(ix->path, "rb");
    if (!ix->f) return cg_fail_at(CG_ERR_IO, ix->path, "cannot open: %s", strerror(errno));
    gzbuffer(ix->f, 1u << 17);
    unsigned char hdr[16];
    unsigned hn = is_images ? 16 : 8;
    long got = read_full(ix->f, hdr, hn);
    if (got < 0) return gz_fail(ix);
    if (got < 4)
        return cg_fail_at(CG_ERR_FORMAT, ix->path, "not an IDX file: only %ld bytes", got);
    uint32_t magic = be32(hdr), want = is_images ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS;
    if (magic != want)
        return cg_fail_at(CG_ERR_FORMAT, ix->path,
                          "wrong magic 0x%08lx, expected 0x%08lx (IDX %s of unsigned bytes)",
                          (unsigned long)magic, (unsigned long)want, what(ix));
    if (got < (long)hn)
        return cg_fail_at(CG_ERR_FORMAT, ix->path, "truncated IDX header: %ld of %u bytes",
                          got, hn);
    ix->n = be32(hdr + 4);
    ix->h = is_images ? be32(hdr + 8) : 1;
    ix->w = is_images ? be32(hdr + 12) : 1;
    if (ix->n == 0 || ix->n > INT_MAX)
        return cg_fail_at(CG_ERR_FORMAT, ix->path, "header says %lu %s, must be 1..%d",
                          (unsigned long)ix->n, what(ix), INT_MAX);
    if (ix->h == 0 || ix->w == 0 || ix->h > IDX_MAX_SIDE || ix->w > IDX_MAX_SIDE)
        return cg_fail_at(CG_ERR_FORMAT, ix->path,
                          "header says images of %lux%lu, each side must be 1..%u",
                          (unsigned long)ix->h, (unsigned long)ix->w, IDX_MAX_SIDE);
    /* n < 2^31 and sides < 2^16: the product fits in 64 bits */
    ix->bytes = (uint64_t)ix->n * ix->h * ix->w;
    return CG_OK;
}

/* Counts the data bytes by reading through the file (and so checks the gzip CRC), so that a
 * header claiming more than the file holds is refused before anything is allocated; then
 * rewinds to the data. */
static enum cg_status idx_check_size(struct idx *ix) {
    unsigned char buf[1 << 14];
    uint64_t held = 0;
    for (;;) {
        int got = gzread(ix->f, buf, sizeof buf);
        if (got < 0) return gz_fail(ix);
        if (got == 0) break;
        held += (uint64_t)got;
    }
    int err = Z_OK;
    gzerror(ix->f, &err);
    if (held < ix->bytes)
        return claim_text_fail(ix, err == Z_BUF_ERROR ? "truncated (gzip stream cut short)"
                                                      : "truncated", held);
    if (held > ix->bytes) return claim_text_fail(ix, "more data than the header says", held);
    if (err != Z_OK) return gz_fail(ix);   /* data complete but the gzip trailer is bad */
    unsigned char hdr[16];
    unsigned hn = ix->is_images ? 16 : 8;
    if (gzrewind(ix->f) != 0 || read_full(ix->f, hdr, hn) != (long)hn) return gz_fail(ix);
    return CG_OK;
}

static enum cg_status read_images(struct idx *ix, float *x) {
    unsigned char buf[1 << 14];
    uint64_t done = 0;
    while (done < ix->bytes) {
        uint64_t left = ix->bytes - done;
        unsigned len = left < sizeof buf ? (unsigned)left : (unsigned)sizeof buf;
        long got = read_full(ix->f, buf, len);
        if (got < 0) return gz_fail(ix);
        if (got < (long)len) return claim_text_fail(ix, "truncated while reading", done + got);
        for (unsigned i = 0; i < len; i++) x[done + i] = (float)buf[i] / 255.0f;
        done += len;
    }
    return CG_OK;
}

static enum cg_status read_labels(struct idx *ix, int32_t *y) {
    unsigned char buf[1 << 14];
    uint64_t done = 0;
    while (done < ix->bytes) {
        uint64_t left = ix->bytes - done;
        unsigned len = left < sizeof buf ? (unsigned)left : (unsigned)sizeof buf;
        long got = read_full(ix->f, buf, len);
        if (got < 0) return gz_fail(ix);
        if (got < (long)len) return claim_text_fail(ix, "truncated while reading", done + got);
        for (unsigned i = 0; i < len; i++) {
            if (buf[i] > 9)
                return cg_fail_at(CG_ERR_FORMAT, ix->path,
                                  "label %d at index %llu is not a digit 0..9", buf[i],
                                  (unsigned long long)(done + i));
            y[done + i] = buf[i];
        }
        done += len;
    }
    return CG_OK;
}

/* One split from an images file and its labels file; *h, *w: 0 to set them, else required. */
static enum cg_status load_pair(const char *dir, const char *img_base, const char *lab_base,
                                struct cg_split *s, int *h, int *w) {
    struct idx im = {0}, lb = {0};
    enum cg_status st = idx_open(dir, img_base, 1, &im);
    if (st == CG_OK) st = idx_open(dir, lab_base, 0, &lb);
    if (st != CG_OK) goto done;
    if (lb.n != im.n) {
        st = cg_fail_at(CG_ERR_FORMAT, lb.path, "holds %lu labels but %s holds %lu images",
                        (unsigned long)lb.n, im.path, (unsigned long)im.n);
        goto done;
    }
    if (*h && ((int)im.h != *h || (int)im.w != *w)) {
        st = cg_fail_at(CG_ERR_FORMAT, im.path, "images are %lux%lu but the train images are "
                        "%dx%d", (unsigned long)im.h, (unsigned long)im.w, *h, *w);
        goto done;
    }
    st = idx_check_size(&im);
    if (st == CG_OK) st = idx_check_size(&lb);
    if (st == CG_OK) st = cg_split_alloc(s, (int)im.n, (size_t)im.h * im.w, im.path);
    if (st == CG_OK) st = read_images(&im, s->x);
    if (st == CG_OK) st = read_labels(&lb, s->y);
    if (st == CG_OK) {
        *h = (int)im.h;
        *w = (int)im.w;
    }
done:
    if (im.f) gzclose(im.f);
    if (lb.f) gzclose(lb.f);
    return st;
}

enum cg_status cg_idx_load(const char *dir, struct cg_dataset *ds) {
    memcpy(ds->name, "mnist", sizeof "mnist");
    ds->c = 1;
    ds->num_classes = 10;
    int h = 0, w = 0;
    enum cg_status st = load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                  &ds->train, &h, &w);
    if (st == CG_OK)
        st = load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", &ds->test, &h,
                       &w);
    ds->h = h;
    ds->w = w;
    return st;
}
