/* Checkpoints: a versioned little-endian header (magic, architecture, shapes, optimiser and
 * iteration), a CRC-32 (zlib) over the header and another over the payload. Written to a
 * temporary file, fsync'ed, renamed over the old one, then the directory is fsync'ed. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nn/model.h"

#define CK_MAGIC "CGCKPT\r\n"
#define CK_VERSION 1u

struct ck_header {
    char magic[8];
    uint32_t version, header_bytes;
    char arch[16];
    int32_t c, h, w, k, batch, labelled, threads;
    float d_noise; /* was padding, always 0: files from before it read as "no noise" */
    float lambda, lr, beta1, beta2, lr_g, ema; /* ema: 0 in files from before it existed */
    uint64_t seed;
    int64_t iter, t_g, t_d;
    uint64_t np_g, np_d, ns_g, ns_d, meta_len, payload_bytes;
    uint32_t payload_crc, header_crc;
};

struct span { const void *p; size_t bytes; };

/* The payload, in file order; n is its length. */
static int payload_spans(const struct cg_model *m, const char *meta, size_t meta_len,
                         struct span *s) {
    int n = 0;
    s[n++] = (struct span){meta, meta_len};
    const struct cg_params *ps[2] = {&m->pg, &m->pd};
    for (int i = 0; i < 2; i++) {
        size_t b = ps[i]->n * sizeof(float);
        s[n++] = (struct span){ps[i]->w, b};
        s[n++] = (struct span){ps[i]->m, b};
        s[n++] = (struct span){ps[i]->v, b};
    }
    s[n++] = (struct span){m->state_g, m->g.nstate * sizeof(float)};
    s[n++] = (struct span){m->state_d, m->d.nstate * sizeof(float)};
    if (m->ema_d) s[n++] = (struct span){m->ema_d, m->pd.n * sizeof(float)};
    return n;
}

static enum cg_status io_fail(const char *path, const char *what) {
    return CG_FAIL(CG_ERR_IO, "%s: %s: %s", path, what, strerror(errno));
}

static enum cg_status sync_dir(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY);
    if (fd < 0) return io_fail(path, "cannot open its directory");
    int rc = fsync(fd);
    close(fd);
    /* some file systems refuse fsync on a directory; the rename is still atomic there */
    if (rc != 0 && errno != EINVAL && errno != EROFS) return io_fail(path, "directory fsync");
    return CG_OK;
}

enum cg_status cg_model_save(const cg_model *m, const char *path, const char *meta) {
    struct ck_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CK_MAGIC, 8);
    h.version = CK_VERSION;
    h.header_bytes = sizeof h;
    memcpy(h.arch, m->cfg.arch, sizeof h.arch);
    h.c = m->cfg.c; h.h = m->cfg.h; h.w = m->cfg.w; h.k = m->cfg.k;
    h.batch = m->cfg.batch; h.labelled = m->cfg.labelled; h.threads = m->cfg.threads;
    h.lambda = m->cfg.lambda; h.lr = m->cfg.lr; h.beta1 = m->cfg.beta1; h.beta2 = m->cfg.beta2;
    h.lr_g = m->cfg.lr_g;
    h.ema = m->cfg.ema;
    h.d_noise = m->cfg.d_noise;
    h.seed = m->cfg.seed;
    h.iter = m->iter; h.t_g = m->opt_g.t; h.t_d = m->opt_d.t;
    h.np_g = m->pg.n; h.np_d = m->pd.n; h.ns_g = m->g.nstate; h.ns_d = m->d.nstate;
    h.meta_len = meta ? strlen(meta) : 0;
    struct span s[16] = {{0}};
    int ns = payload_spans(m, meta ? meta : "", h.meta_len, s);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < ns; i++) {
        h.payload_bytes += s[i].bytes;
        const unsigned char *p = s[i].p;
        for (size_t off = 0; off < s[i].bytes; off += 1u << 30) {
            size_t chunk = s[i].bytes - off < (1u << 30) ? s[i].bytes - off : (1u << 30);
            crc = crc32(crc, p + off, (uInt)chunk);
        }
    }
    h.payload_crc = (uint32_t)crc;
    h.header_crc = (uint32_t)crc32(0L, (const Bytef *)&h, offsetof(struct ck_header, header_crc));

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return io_fail(tmp, "cannot create");
    int ok = fwrite(&h, sizeof h, 1, f) == 1;
    for (int i = 0; ok && i < ns; i++)
        ok = s[i].bytes == 0 || fwrite(s[i].p, 1, s[i].bytes, f) == s[i].bytes;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    enum cg_status st = ok ? CG_OK : io_fail(tmp, "write failed");
    if (fclose(f) != 0 && st == CG_OK) st = io_fail(tmp, "close failed");
    if (st == CG_OK && rename(tmp, path) != 0) st = io_fail(path, "cannot rename the new file");
    if (st != CG_OK) {
        unlink(tmp);
        return st;
    }
    return sync_dir(path);
}

static enum cg_status bad(const char *path, const char *why) {
    return CG_FAIL(CG_ERR_FORMAT, "%s: %s", path, why);
}

static enum cg_status check_header(const char *path, const struct ck_header *h, long fsize) {
    if (memcmp(h->magic, CK_MAGIC, 8) != 0) return bad(path, "not a catgan checkpoint");
    if (h->version != CK_VERSION)
        return CG_FAIL(CG_ERR_FORMAT, "%s: checkpoint version %u, this catgan reads %u", path,
                       h->version, CK_VERSION);
    if (h->header_bytes != sizeof *h) return bad(path, "header size differs");
    uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)h, offsetof(struct ck_header, header_crc));
    if (crc != h->header_crc) return bad(path, "header checksum mismatch (corrupt file)");
    if ((uint64_t)fsize - sizeof *h != h->payload_bytes)
        return CG_FAIL(CG_ERR_FORMAT, "%s: truncated: header promises %llu payload bytes, file "
                       "has %lld", path, (unsigned long long)h->payload_bytes,
                       (long long)fsize - (long long)sizeof *h);
    return CG_OK;
}

enum cg_status cg_model_load(const char *path, int threads, cg_model **out, char *meta,
                             size_t meta_cap) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return io_fail(path, "cannot open");
    struct ck_header h;
    long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    rewind(f);
    enum cg_status st = CG_OK;
    memset(&h, 0, sizeof h);
    size_t got = fread(&h, 1, sizeof h, f);
    if (got < sizeof h.magic || memcmp(h.magic, CK_MAGIC, 8) != 0)
        st = bad(path, "not a catgan checkpoint");
    else if (got < sizeof h)
        st = bad(path, "truncated: shorter than a checkpoint header");
    if (st == CG_OK) st = check_header(path, &h, fsize);
    cg_model *m = NULL;
    if (st == CG_OK) {
        struct cg_model_config cfg;
        cg_model_config_defaults(&cfg);
        memcpy(cfg.arch, h.arch, sizeof cfg.arch);
        cfg.arch[sizeof cfg.arch - 1] = 0;
        cfg.c = h.c; cfg.h = h.h; cfg.w = h.w; cfg.k = h.k;
        cfg.batch = h.batch; cfg.labelled = h.labelled;
        cfg.threads = threads > 0 ? threads : (h.threads > 0 ? h.threads : 1);
        cfg.lambda = h.lambda; cfg.lr = h.lr; cfg.beta1 = h.beta1; cfg.beta2 = h.beta2;
        cfg.lr_g = h.lr_g;
        cfg.ema = h.ema;
        cfg.d_noise = h.d_noise;
        cfg.seed = h.seed;
        st = cg_model_create(&cfg, &m);
        if (st != CG_OK)
            st = CG_FAIL(st, "%s: cannot rebuild its model: %s", path, cg_last_error());
    }
    if (st == CG_OK && (m->pg.n != h.np_g || m->pd.n != h.np_d || m->g.nstate != h.ns_g ||
                        m->d.nstate != h.ns_d))
        st = bad(path, "parameter counts do not match its architecture (other version?)");
    char *mbuf = NULL;
    if (st == CG_OK && h.meta_len > (1u << 20)) st = bad(path, "metadata larger than 1 MiB");
    if (st == CG_OK && !(mbuf = calloc(1, h.meta_len + 1)))
        st = CG_FAIL(CG_ERR_OUT_OF_MEMORY, "%s: metadata", path);
    if (st == CG_OK) {
        struct span s[16] = {{0}};
        int ns = payload_spans(m, mbuf, h.meta_len, s);
        uLong crc = crc32(0L, Z_NULL, 0);
        for (int i = 0; st == CG_OK && i < ns; i++) {
            if (s[i].bytes && fread((void *)s[i].p, 1, s[i].bytes, f) != s[i].bytes)
                st = bad(path, "truncated payload");
            else
                crc = crc32(crc, s[i].p, (uInt)s[i].bytes);
        }
        if (st == CG_OK && (uint32_t)crc != h.payload_crc)
            st = bad(path, "payload checksum mismatch (corrupt file)");
    }
    fclose(f);
    if (st != CG_OK) {
        free(mbuf);
        cg_model_destroy(m);
        return st;
    }
    m->iter = h.iter;
    m->opt_g.t = h.t_g;
    m->opt_d.t = h.t_d;
    if (meta && meta_cap) snprintf(meta, meta_cap, "%s", mbuf);
    free(mbuf);
    *out = m;
    return CG_OK;
}
