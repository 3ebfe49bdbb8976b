/* libFuzzer harness for the checkpoint loader (cg_model_load, src/io/checkpoint.c).
 * Input: byte 0, bit 0 set: "repair" mode, the rest is made self-consistent before it is
 * written (payload_bytes, payload CRC-32 and header CRC-32 recomputed, and the shape fields
 * brought into a small range) so that mutations get past the checksums and reach the model
 * rebuild and the payload reads; bit 0 clear: the rest is written as it is. */
#include <zlib.h>

#include "catgan.h"

#include "fuzz_util.h"

/* Offsets in the version-1 header (struct ck_header in src/io/checkpoint.c): header_bytes,
 * then the int32 fields c, h, w, k, batch. The header ends with payload_bytes (uint64),
 * payload_crc and header_crc (uint32). If the format changes the repair only gets less
 * effective: every input is still a file the loader must survive. */
#define CK_OFF_HEADER_BYTES 12
#define CK_OFF_C 32
#define CK_MIN_HEADER 80

static uint8_t *buf;
static size_t buf_cap;
static char path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s/checkpoint.cgck", fz_tmpdir("checkpoint"));
    return cg_init(NULL) == CG_OK ? 0 : (abort(), 0);
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t crc_of(const uint8_t *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < n; off += 1u << 30)
        c = crc32(c, p + off, (uInt)(n - off < (1u << 30) ? n - off : (1u << 30)));
    return (uint32_t)c;
}

/* Keeps c, h, w, k, batch within +-cap (sign kept, so invalid values are still tried), since
 * a consistent header may legitimately ask for a model of any size and this harness looks
 * for crashes, not for how much memory a huge model takes. */
static void repair(uint8_t *p, size_t n) {
    if (n < CK_MIN_HEADER) return;
    uint32_t hb = le32(p + CK_OFF_HEADER_BYTES);
    if (hb < CK_MIN_HEADER || hb > n) return;
    static const int32_t cap[5] = {4, 40, 40, 64, 16};
    for (int i = 0; i < 5; i++) {
        int32_t v = (int32_t)le32(p + CK_OFF_C + 4 * i);
        put_le32(p + CK_OFF_C + 4 * i, (uint32_t)(v % (cap[i] + 1)));
    }
    uint64_t payload = n - hb;
    for (int i = 0; i < 8; i++) p[hb - 16 + i] = (uint8_t)(payload >> 8 * i);
    put_le32(p + hb - 8, crc_of(p + hb, payload));
    put_le32(p + hb - 4, crc_of(p, hb - 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t n = size - 1;
    if (n > buf_cap) {
        free(buf);
        buf_cap = n;
        buf = malloc(buf_cap);
        if (!buf) abort();
    }
    if (n) memcpy(buf, data + 1, n);
    if (data[0] & 1) repair(buf, n);
    fz_write(path, buf, n);

    cg_model *m = NULL;
    char meta[256];
    memset(meta, 'x', sizeof meta);
    /* threads = 1: a checkpoint's stored thread count is only a default */
    enum cg_status st = cg_model_load(path, 1, &m, meta, sizeof meta);
    if (st == CG_OK) {
        if (!m || !memchr(meta, 0, sizeof meta)) abort();
        const struct cg_model_config *cfg = cg_model_config_of(m);
        if (cfg->batch < 2 || cfg->k < 2 || cg_model_iteration(m) < INT64_MIN / 2) abort();
        /* a loaded model must classify without faults: one batch of zeros */
        int b = cfg->batch, d = cfg->c * cfg->h * cfg->w;
        float *x = calloc((size_t)b * d, sizeof(float));
        int32_t *pred = malloc((size_t)b * sizeof(int32_t));
        if (!x || !pred) abort();
        if (cg_model_classify(m, x, b, NULL, pred) == CG_OK)
            for (int i = 0; i < b; i++)
                if (pred[i] < 0 || pred[i] >= cfg->k) abort();
        free(x);
        free(pred);
        cg_model_destroy(m);
    } else if (m || !cg_last_error()[0]) {
        abort();
    }
    return 0;
}
