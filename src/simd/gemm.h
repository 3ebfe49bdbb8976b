/* Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major (BLIS-style packing
 * and register-blocked micro-kernels; see src/simd/gemm.inc for the registry). */
#ifndef CG_SIMD_GEMM_H
#define CG_SIMD_GEMM_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cg_trans { CG_NO_TRANS = 0, CG_TRANS = 1 };

/* Micro-kernel table entry. (Filled in by the GEMM work: mr, nr, the micro-kernel and the
 * blocking parameters of the chosen ISA.) */
struct cg_gemm_kernels {
    enum cg_isa isa;
    int mr, nr;
};
void cg_gemm_kernels_select(struct cg_gemm_kernels *k, enum cg_isa isa);

/* C(m,n) = alpha * op(A)(m,k) * op(B)(k,n) + beta * C, all row-major.
 * op(A) = A with A stored (m,k), lda >= k; or A^T with A stored (k,m), lda >= m.
 * op(B) = B with B stored (k,n), ldb >= n; or B^T with B stored (n,k), ldb >= k.
 * beta == 0 means C is write-only (NaNs in C are not propagated). k == 0 scales C by beta.
 * Single-threaded; safe to call from several threads at once (each uses its own packing
 * buffer from a pool planned at cg_init; no allocation here). Deterministic: each C element's
 * reduction order depends only on k, never on the thread count or on m/n blocking. */
void cg_sgemm(enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The same, parallelised over blocks of C with nt OpenMP threads (the fully connected
 * layers); bit-identical to cg_sgemm for any nt. */
void cg_sgemm_mt(int nt, enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c,
                 int ldc);

#ifdef __cplusplus
}
#endif
#endif
