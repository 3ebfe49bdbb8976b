/* Gaussian-noise and dropout layers over the Philox-driven kernels of src/simd/vec.h. Chunk c
 * covers counters [c*CHUNK, ...), so the draw of element i is the same for every nt. */
#include <assert.h>

#include "nn/noise.h"

#include "simd/kernels.h"

/* A Philox draw costs ~20 vector ops: smaller chunks than the plain element-wise layers. */
#define CHUNK ((size_t)4096)

static inline int threads(int nt) { return nt < 1 ? 1 : nt; }
static inline ptrdiff_t nchunks(size_t count) { return (ptrdiff_t)((count + CHUNK - 1) / CHUNK); }
static inline size_t chunk_len(size_t count, ptrdiff_t c) {
    size_t i = (size_t)c * CHUNK;
    return count - i < CHUNK ? count - i : CHUNK;
}

void cg_gauss_noise_forward(size_t count, float sigma, uint64_t key, uint64_t stream,
                            const float *x, float *y, int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->gauss(chunk_len(count, c), key, stream, i, sigma, x + i, y + i);
    }
}

void cg_gauss_noise_backward(size_t count, const float *dy, float *dx, int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 4)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->addv(chunk_len(count, c), dy + i, dx + i);
    }
}

void cg_dropout_forward(size_t count, float p, uint64_t key, uint64_t stream, const float *x,
                        float *y, int nt) {
    assert(p >= 0.0f && p <= 1.0f);
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->dropout(chunk_len(count, c), key, stream, i, p, x + i, y + i);
    }
}

void cg_dropout_backward(size_t count, float p, uint64_t key, uint64_t stream, const float *dy,
                         float *dx, int nt) {
    assert(p >= 0.0f && p <= 1.0f);
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->dropout_bwd(chunk_len(count, c), key, stream, i, p, dy + i, dx + i);
    }
}
