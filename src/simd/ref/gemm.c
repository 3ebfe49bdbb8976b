/* Portable 4x4 GEMM micro-kernel: the specification the SIMD kernels are tested against
 * (contract in gemm.h; BLIS micro-kernel, Van Zee & van de Geijn, TOMS 2015). */
#include <assert.h>

#include "simd/gemm.h"

void cg_f32_gemm_4x4__ref(size_t mr, size_t nr, size_t kc, const float *restrict a,
                          const float *restrict b, size_t ldb, float *restrict c, size_t ldc,
                          float alpha, float beta, struct cg_gemm_pf *pf) {
    enum { MR = 4, NR = 4 };
    (void)pf; /* no prefetch in the specification */
    assert(mr >= 1 && mr <= MR && nr >= 1 && nr <= NR && kc >= 1);
    float acc[MR][NR] = {{0.0f}};
    for (size_t p = 0; p < kc; p++) {
        /* j < nr only: an in-place B has nothing readable past column nr */
        for (size_t i = 0; i < MR; i++)
            for (size_t j = 0; j < nr; j++) acc[i][j] += a[p * MR + i] * b[p * ldb + j];
    }
    for (size_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        for (size_t j = 0; j < nr; j++)
            ci[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * ci[j];
    }
}

double cg_f32_peak__ref(size_t iters, float *sink) {
    enum { CHAINS = 16 };
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = 1.0f + 0.01f * (float)i;
    /* acc -> acc*x + y converges to y/(1-x) = 1: no overflow, no denormals */
    const float x = 0.999f, y = 0.001f;
    for (size_t it = 0; it < iters; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * x + y;
    float s = 0.0f;
    for (int i = 0; i < CHAINS; i++) s += acc[i];
    *sink = s;
    return 2.0 * CHAINS * (double)iters;
}
