/* Single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, row-major (BLIS-style packing
 * and register-blocked micro-kernels, Goto & van de Geijn TOMS 2008; registry: gemm.inc). */
#ifndef CG_SIMD_GEMM_H
#define CG_SIMD_GEMM_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cg_trans { CG_NO_TRANS = 0, CG_TRANS = 1 };

/* Micro-kernel: C(mr, nr) = alpha * Apanel * Bpanel + beta * C, for 1 <= mr <= MR and
 * 1 <= nr <= NR of the entry. a: packed op(A) panel, a[p*MR + i] (rows >= mr are zero).
 * b: b[p*ldb + j] for j < nr; either a packed panel (ldb = NR, zero-padded) or op(B) read in
 * place (ldb = the caller's leading dimension; nothing past column nr is read).
 * beta == 0: C is write-only. Each C element is acc = sum_p a*b accumulated in p order from
 * 0 (fused multiply-add where the ISA has it), then alpha * acc + beta * C.
 * pf: lines to prefetch during the call (struct cg_gemm_pf below), or NULL. */
struct cg_gemm_pf;
typedef void (*cg_gemm_ukernel_fn)(size_t mr, size_t nr, size_t kc, const float *CG_RESTRICT a,
                                   const float *CG_RESTRICT b, size_t ldb, float *CG_RESTRICT c,
                                   size_t ldc, float alpha, float beta, struct cg_gemm_pf *pf);

/* The same micro-kernel reading op(A) = A in place: row i of the tile at a + i*lda, k
 * contiguous (no packing; same arithmetic, so the same bits as the packed form). */
typedef void (*cg_gemm_ukernel_ua_fn)(size_t mr, size_t nr, size_t kc, const float *CG_RESTRICT a,
                                      size_t lda, const float *CG_RESTRICT b, size_t ldb,
                                      float *CG_RESTRICT c, size_t ldc, float alpha, float beta,
                                      struct cg_gemm_pf *pf);

/* Cache lines a micro-kernel may prefetch while it computes, so that the next block's op(B)
 * source streams in from memory under the arithmetic instead of before the packing: at most
 * n lines (one per k step), walking rows of `span` bytes that start `ld` bytes apart, from
 * p + off. The kernel advances p, off and n by what it issued. NULL, or n == 0: none. A
 * prefetch never changes a result. */
struct cg_gemm_pf {
    const char *p;
    size_t off, span, ld, n;
};

/* Packs nr <= NR columns of op(B) = B^T (B stored (n,k), row-major, ldb) for kc steps into
 * dst[p*NR + j], zero-padding columns nr..NR. Optional per ISA (NULL: portable loop). */
typedef void (*cg_gemm_packbt_fn)(size_t nr, size_t kc, const float *CG_RESTRICT b, size_t ldb,
                                  float *CG_RESTRICT dst);

/* Packs columns [0, nb) of op(B) = B (stored (k,n), row-major, ldb) for kc steps into
 * NR-column panels dst[panel*NR*kc + p*NR + j], zero-padding the last panel. Optional. */
typedef void (*cg_gemm_packb_fn)(size_t nb, size_t kc, const float *CG_RESTRICT b, size_t ldb,
                                 float *CG_RESTRICT dst);

/* One row of C: c(1, n) = alpha * a(1, k) * op(B)(k, n) + beta * c, a's elements a[p*inca].
 * Every element gets the micro-kernel's arithmetic, so the bits of a one-row tile: acc summed
 * in p order within each kc block, then alpha * acc + beta * c (beta 1 after the first
 * block). op(B) = B, b[p*ldb + j] (gemv_n: acc is a scratch of CG_GEMV_COLS floats, its rows
 * streamed CG_GEMV_COLS columns at a time), or op(B) = B^T, b[j*ldb + p] (gemv_t: rows of B
 * streamed whole, acc unused). beta == 0: c is write-only. */
typedef void (*cg_gemv_fn)(size_t n, size_t k, size_t kc, float alpha, const float *CG_RESTRICT a,
                           size_t inca, const float *CG_RESTRICT b, size_t ldb, float beta,
                           float *CG_RESTRICT c, float *CG_RESTRICT acc);
#ifndef CG_GEMV_COLS
#define CG_GEMV_COLS 8192
#endif

#define CG_GEMM_UKERNEL(isa, fn, mr, nr, kc, mc, nc)                                           \
    void fn(size_t mr_, size_t nr_, size_t kc_, const float *CG_RESTRICT a,                  \
            const float *CG_RESTRICT b, size_t ldb, float *CG_RESTRICT c, size_t ldc,          \
            float alpha, float beta, struct cg_gemm_pf *pf);
#include "simd/gemm.inc"
#undef CG_GEMM_UKERNEL
/* FMA-throughput loops for the peak benchmark: iters steps of independent multiply-add
 * chains (distinct start values, so no two chains can be merged). Return the FLOPs done and
 * store in *sink a value depending on every chain. */
double cg_f32_peak__ref(size_t iters, float *sink);
#if defined(__x86_64__) || defined(__i386__)
double cg_f32_peak__avx2(size_t iters, float *sink);
double cg_f32_peak__avx512(size_t iters, float *sink);
void cg_f32_gemm_packb_32__avx512(size_t nb, size_t kc, const float *CG_RESTRICT b, size_t ldb,
                                  float *CG_RESTRICT dst);
void cg_f32_gemm_packb_16__avx2(size_t nb, size_t kc, const float *CG_RESTRICT b, size_t ldb,
                                float *CG_RESTRICT dst);
void cg_f32_gemm_packbt_32__avx512(size_t nr, size_t kc, const float *CG_RESTRICT b, size_t ldb,
                                   float *CG_RESTRICT dst);
void cg_f32_gemm_packbt_16__avx2(size_t nr, size_t kc, const float *CG_RESTRICT b, size_t ldb,
                                 float *CG_RESTRICT dst);
void cg_f32_gemm_packa_12__avx512(size_t mr, size_t kc, const float *CG_RESTRICT a, size_t lda,
                                  float *CG_RESTRICT dst);
void cg_f32_gemm_6x16_ua__avx2(size_t mr, size_t nr, size_t kc, const float *CG_RESTRICT a,
                               size_t lda, const float *CG_RESTRICT b, size_t ldb,
                               float *CG_RESTRICT c, size_t ldc, float alpha, float beta,
                               struct cg_gemm_pf *pf);
void cg_f32_gemv_n__avx2(size_t n, size_t k, size_t kc, float alpha, const float *CG_RESTRICT a,
                         size_t inca, const float *CG_RESTRICT b, size_t ldb, float beta,
                         float *CG_RESTRICT c, float *CG_RESTRICT acc);
void cg_f32_gemv_t__avx2(size_t n, size_t k, size_t kc, float alpha, const float *CG_RESTRICT a,
                         size_t inca, const float *CG_RESTRICT b, size_t ldb, float beta,
                         float *CG_RESTRICT c, float *CG_RESTRICT acc);
void cg_f32_gemm_packa_6__avx2(size_t mr, size_t kc, const float *CG_RESTRICT a, size_t lda,
                               float *CG_RESTRICT dst);
void cg_f32_gemm_packat_6__avx2(size_t mr, size_t kc, const float *CG_RESTRICT a, size_t lda,
                                float *CG_RESTRICT dst);
void cg_f32_gemm_packat_12__avx512(size_t mr, size_t kc, const float *CG_RESTRICT a, size_t lda,
                                   float *CG_RESTRICT dst);
#endif

/* Up to this many rows of op(A), cg_sgemm reads op(B) = B (not transposed) in place instead
 * of packing it (same bits either way). */
#ifndef CG_GEMM_DIRECT_B_ROWS
#define CG_GEMM_DIRECT_B_ROWS 512
#endif

/* Up to this many columns of C, an entry with a ukernel_ua reads op(A) = A in place instead
 * of packing it (same bits either way). */
#ifndef CG_GEMM_UA_COLS
#define CG_GEMM_UA_COLS 256
#endif

/* Up to this many rows of C, cg_sgemm may compute A*B^T (op(A) = A, op(B) = B^T) as its
 * transpose B*A^T when the entry has a ukernel_ua (gemm.c: swap_tb_fits; same bits). */
#ifndef CG_GEMM_SWAP_ROWS
#define CG_GEMM_SWAP_ROWS 128
#endif

/* One registry entry plus its blocking: kc the k-block (it fixes the reduction order), mc, nc
 * the A and B block sizes (multiples of mr and nr). */
struct cg_gemm_kernels {
    enum cg_isa isa;
    const char *name;
    int mr, nr, kc, mc, nc;
    cg_gemm_ukernel_fn ukernel;
    cg_gemm_ukernel_ua_fn ukernel_ua; /* may be NULL: op(A) is then always packed */
    cg_gemv_fn gemv_n, gemv_t; /* one-row C; may be NULL: the tile path serves m = 1 too */
    cg_gemm_packb_fn packb;    /* may be NULL */
    cg_gemm_packbt_fn packbt;  /* may be NULL */
    /* MR-row panels of op(A) (mr <= MR rows, zeros below) from A and from A^T; may be NULL */
    cg_gemm_packbt_fn packa, packat;
};
/* Fills k with the best entry at or below isa, and reserves packing buffers for
 * omp_get_max_threads() threads (an allocation failure surfaces later as a smaller pool). */
void cg_gemm_kernels_select(struct cg_gemm_kernels *k, enum cg_isa isa);
/* The registry entry of exactly this ISA; false when the build has none (non-x86). */
bool cg_gemm_kernels_get(struct cg_gemm_kernels *k, enum cg_isa isa);

/* Plans packing buffers for OpenMP thread ids [0, nthreads) (sized for every registry entry,
 * so a later cg_init to another ISA keeps them valid). Grows only; never shrinks. Call while
 * no GEMM runs (model create time). CG_ERR_INVALID_ARG for nthreads < 1,
 * CG_ERR_OUT_OF_MEMORY when the buffers cannot be allocated. */
enum cg_status cg_gemm_reserve(int nthreads);
/* Thread ids [0, n) have a buffer. */
int cg_gemm_reserved(void);

/* C(m,n) = alpha * op(A)(m,k) * op(B)(k,n) + beta * C, all row-major.
 * op(A) = A with A stored (m,k), lda >= k; or A^T with A stored (k,m), lda >= m.
 * op(B) = B with B stored (k,n), ldb >= n; or B^T with B stored (n,k), ldb >= k.
 * beta == 0 means C is write-only (NaNs in C are not propagated). k == 0 or alpha == 0
 * scales C by beta. C must not alias A or B.
 * Single-threaded; safe to call from several threads of one OpenMP team at once: each uses
 * the packing buffer of its omp_get_thread_num(), which must have been reserved
 * (cg_gemm_reserve; cg_init reserves omp_get_max_threads()). No allocation here.
 * Deterministic: each C element is summed in k order in blocks of the entry's kc, whatever
 * m, n, the thread count or the tile it falls in, so results depend only on the ISA. */
void cg_sgemm(enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Pre-packed A, for an op(A) used by many GEMMs (a layer's weights): pack it once, then each
 * cg_sgemm_pa reads the packed copy instead of repacking it (same bits as cg_sgemm).
 * cg_gemm_packed_a_floats: floats needed for op(A)(m,k), enough for any registry entry (0 for
 * m or k < 1). cg_gemm_pack_a packs op(A) (stored as for cg_sgemm) into dst for the active
 * entry; any alignment works, 64 bytes is best. cg_sgemm_pa: C(m,n) = alpha * op(A) * op(B)
 * + beta * C from that dst, valid while the active entry is the one that packed it. The _with
 * forms take an explicit entry (tests, benchmarks). */
size_t cg_gemm_packed_a_floats(int m, int k);
void cg_gemm_pack_a(enum cg_trans ta, int m, int k, const float *a, int lda, float *dst);
void cg_sgemm_pa(int m, int n, int k, float alpha, const float *apacked, enum cg_trans tb,
                 const float *b, int ldb, float beta, float *c, int ldc);
void cg_gemm_pack_a_with(const struct cg_gemm_kernels *kt, enum cg_trans ta, int m, int k,
                         const float *a, int lda, float *dst);
void cg_sgemm_pa_with(const struct cg_gemm_kernels *kt, int m, int n, int k, float alpha,
                      const float *apacked, enum cg_trans tb, const float *b, int ldb,
                      float beta, float *c, int ldc);

/* cg_sgemm_mt runs single-threaded below this many products m*n*k. */
#ifndef CG_GEMM_MT_MIN
#define CG_GEMM_MT_MIN 6e6
#endif

/* The same, parallelised over blocks of C with nt OpenMP threads (the fully connected
 * layers); bit-identical to cg_sgemm for any nt. Inside an active parallel region it runs
 * single-threaded on the caller's thread; nt is capped at cg_gemm_reserved(). */
void cg_sgemm_mt(int nt, enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c,
                 int ldc);

/* cg_sgemm with an explicit entry instead of the active table (tests, benchmarks). The
 * caller's thread id must be reserved. */
void cg_sgemm_with(const struct cg_gemm_kernels *kt, enum cg_trans ta, enum cg_trans tb, int m,
                   int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc);

#ifdef __cplusplus
}
#endif
#endif
