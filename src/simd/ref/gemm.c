/* Portable 4x4 GEMM micro-kernel: the specification the SIMD kernels are tested against
 * (contract in gemm.h; BLIS micro-kernel, Van Zee & van de Geijn, TOMS 2015). */
#include <assert.h>

#include "simd/gemm.h"

void cg_f32_gemm_4x4__ref(size_t mr, size_t nr, size_t kc, const float *restrict a,
                          const float *restrict b, size_t ldb, float *restrict c, size_t ldc,
                          float alpha, float beta) {
    enum { MR = 4, NR = 4 };
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
