/* GEMM driver. Placeholder: a plain triple loop until the packed driver lands. */
#include "simd/gemm.h"

void cg_gemm_kernels_select(struct cg_gemm_kernels *k, enum cg_isa isa) {
    k->isa = isa;
    k->mr = 1;
    k->nr = 1;
}

void cg_sgemm(enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += av * bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            *cij = beta == 0.0f ? alpha * s : alpha * s + beta * *cij;
        }
    }
}

void cg_sgemm_mt(int nt, enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c,
                 int ldc) {
    (void)nt;
    cg_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
