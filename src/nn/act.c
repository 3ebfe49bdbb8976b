/* Activation and bias layers: OpenMP drivers over the element-wise kernels of
 * src/simd/vec.h (cg_kernels()->vec). Every output element is written by one thread and
 * summed in a fixed order, so results do not depend on the thread count. */
#include "nn/act.h"

#include "simd/kernels.h"

/* 64 KB of floats per work item: large enough that the OpenMP fork is amortised. */
#define CHUNK ((size_t)16384)
/* Column block of the hw == 1 bias reduction: its double sums stay on the stack (2 KB). */
#define CB 256

static inline int threads(int nt) { return nt < 1 ? 1 : nt; }
static inline ptrdiff_t nchunks(size_t count) { return (ptrdiff_t)((count + CHUNK - 1) / CHUNK); }
static inline size_t chunk_len(size_t count, ptrdiff_t c) {
    size_t i = (size_t)c * CHUNK;
    return count - i < CHUNK ? count - i : CHUNK;
}

void cg_lrelu_forward(size_t count, float slope, const float *x, float *y, int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->lrelu(chunk_len(count, c), slope, x + i, y + i);
    }
}

void cg_lrelu_backward(size_t count, float slope, const float *y, const float *dy, float *dx,
                       int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->lrelu_bwd(chunk_len(count, c), slope, y + i, dy + i, dx + i);
    }
}

void cg_sigmoid_forward(size_t count, const float *x, float *y, int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->sigmoid(chunk_len(count, c), x + i, y + i);
    }
}

void cg_sigmoid_backward(size_t count, const float *y, const float *dy, float *dx, int nt) {
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = nchunks(count);
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK;
        k->sigmoid_bwd(chunk_len(count, c), y + i, dy + i, dx + i);
    }
}

void cg_bias_add(int n, int c, int hw, const float *b, float *y, int nt) {
    if (n <= 0 || c <= 0 || hw <= 0) return;
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    size_t total = (size_t)n * (size_t)c * (size_t)hw;
    if (hw == 1) {
        /* y:(n, c): one row of c biases per sample */
        #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (total > CHUNK)
        for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++) k->addv((size_t)c, b, y + (size_t)i * c);
        return;
    }
    ptrdiff_t rows = (ptrdiff_t)n * c;
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (total > CHUNK)
    for (ptrdiff_t r = 0; r < rows; r++) k->addc((size_t)hw, b[r % c], y + (size_t)r * hw);
}

void cg_bias_backward(int n, int c, int hw, const float *dy, float *db, int nt) {
    if (!db || n <= 0 || c <= 0 || hw <= 0) return;
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    size_t total = (size_t)n * (size_t)c * (size_t)hw;
    if (hw == 1) {
        /* column blocks: each thread owns CB channels and walks all n rows */
        ptrdiff_t nb = (c + CB - 1) / CB;
        #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (total > CHUNK)
        for (ptrdiff_t blk = 0; blk < nb; blk++) {
            size_t j0 = (size_t)blk * CB, len = (size_t)c - j0 < CB ? (size_t)c - j0 : CB;
            double s[CB] = {0};
            for (size_t i = 0; i < (size_t)n; i++) k->sumv(len, dy + i * (size_t)c + j0, s);
            for (size_t j = 0; j < len; j++) db[j0 + j] = (float)((double)db[j0 + j] + s[j]);
        }
        return;
    }
    #pragma omp parallel for schedule(static) num_threads(threads(nt)) if (total > CHUNK)
    for (ptrdiff_t ch = 0; ch < (ptrdiff_t)c; ch++) {
        double s = 0.0;
        for (size_t i = 0; i < (size_t)n; i++)
            k->sum((size_t)hw, dy + (i * (size_t)c + (size_t)ch) * (size_t)hw, &s);
        db[ch] = (float)((double)db[ch] + s);
    }
}
