/* GEMM driver: BLIS loop nest (jc/NC, pc/KC, ic/MC, jr/NR, ir/MR) around the registry's
 * micro-kernels, packing op(A) and op(B) so one kernel layout serves all four transposes
 * (Goto & van de Geijn, TOMS 2008; Van Zee & van de Geijn, BLIS, TOMS 2015). */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <omp.h>

#include "simd/kernels.h"

static const struct cg_gemm_kernels registry[] = {
#define CG_GEMM_UKERNEL(isa, fn, mr, nr, kc, mc, nc) \
    {CG_ISA_##isa, #fn, mr, nr, kc, mc, nc, fn, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
#include "simd/gemm.inc"
#undef CG_GEMM_UKERNEL
};
#define N_ENTRIES (sizeof registry / sizeof registry[0])

/* The unreserved-thread fallback packs one micro-panel of each operand on the stack. */
#define FALLBACK_FLOATS (12 * 1024)
#define CG_GEMM_UKERNEL(isa, fn, mr, nr, kc, mc, nc)                                   \
    _Static_assert((mr + nr) * kc <= FALLBACK_FLOATS, #fn ": kc too big for fallback"); \
    _Static_assert(mc % mr == 0 && nc % nr == 0, #fn ": mc, nc must be tile multiples");
#include "simd/gemm.inc"
#undef CG_GEMM_UKERNEL

/* Per-thread packing buffers, indexed by omp_get_thread_num(). */
static float **pool;
static int pool_n;

static size_t buf_a_floats(const struct cg_gemm_kernels *kt) {
    return cg_align_up((size_t)kt->mc * kt->kc * sizeof(float)) / sizeof(float);
}

static size_t buf_floats(void) {
    size_t most = 0;
    for (size_t i = 0; i < N_ENTRIES; i++) {
        size_t s = buf_a_floats(&registry[i]) + (size_t)registry[i].kc * registry[i].nc;
        if (s > most) most = s;
    }
    return most;
}

enum cg_status cg_gemm_reserve(int nthreads) {
    if (nthreads < 1) return CG_FAIL(CG_ERR_INVALID_ARG, "nthreads=%d must be >= 1", nthreads);
    if (nthreads <= pool_n) return CG_OK;
    float **grown = cg_malloc((size_t)nthreads * sizeof *grown);
    if (!grown) return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "gemm pool of %d threads", nthreads);
    if (pool_n) memcpy(grown, pool, (size_t)pool_n * sizeof *grown);
    int have = pool_n;
    for (; have < nthreads; have++) {
        grown[have] = cg_malloc(buf_floats() * sizeof(float));
        if (!grown[have]) break;
    }
    cg_free(pool);
    pool = grown;
    pool_n = have;
    if (have < nthreads)
        return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "gemm buffer of %zu bytes for thread %d",
                       buf_floats() * sizeof(float), have);
    return CG_OK;
}

int cg_gemm_reserved(void) { return pool_n; }

/* The SIMD packers of an entry (NULL: the portable loops below), and the form of its kernel
 * that reads op(A) in place (NULL: op(A) is always packed). */
static void packers_for(struct cg_gemm_kernels *k) {
    k->ukernel_ua = NULL;
    k->gemv_n = k->gemv_t = NULL;
    k->packb = NULL;
    k->packbt = NULL;
    k->packa = NULL;
    k->packat = NULL;
#if defined(__x86_64__) || defined(__i386__)
    if (k->isa == CG_ISA_AVX512 && k->nr == 32) {
        k->packb = cg_f32_gemm_packb_32__avx512;
        k->packbt = cg_f32_gemm_packbt_32__avx512;
    }
    if (k->isa == CG_ISA_AVX512 && k->mr == 12) {
        k->packa = cg_f32_gemm_packa_12__avx512;
        k->packat = cg_f32_gemm_packat_12__avx512;
    }
    if (k->isa == CG_ISA_AVX2 && k->nr == 16) {
        k->packb = cg_f32_gemm_packb_16__avx2;
        k->packbt = cg_f32_gemm_packbt_16__avx2;
    }
    if (k->isa == CG_ISA_AVX2 && k->mr == 6 && k->nr == 16) {
        k->ukernel_ua = cg_f32_gemm_6x16_ua__avx2;
        k->gemv_n = cg_f32_gemv_n__avx2;
        k->gemv_t = cg_f32_gemv_t__avx2;
        k->packa = cg_f32_gemm_packa_6__avx2;
        k->packat = cg_f32_gemm_packat_6__avx2;
    }
#endif
}

bool cg_gemm_kernels_get(struct cg_gemm_kernels *k, enum cg_isa isa) {
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (registry[i].isa == isa) {
            *k = registry[i];
            packers_for(k);
            return true;
        }
    }
    return false;
}

void cg_gemm_kernels_select(struct cg_gemm_kernels *k, enum cg_isa isa) {
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (registry[i].isa <= isa) {
            cg_gemm_kernels_get(k, registry[i].isa);
            break;
        }
    }
    /* Failure leaves a smaller pool; unreserved threads then take the slow stack path. */
    (void)cg_gemm_reserve(omp_get_max_threads());
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

/* Rows [0, mb) x k-range [0, kcb) of op(A) (a points at its (0,0)) into MR-row panels
 * dst[panel][p*MR + i], zero rows past mb so the kernel needs no row mask in its k loop. */
static void pack_a(const struct cg_gemm_kernels *kt, enum cg_trans ta, size_t mb, size_t kcb,
                   const float *a, size_t lda, float *restrict dst) {
    const size_t MR = (size_t)kt->mr;
    for (size_t ir = 0; ir < mb; ir += MR, dst += MR * kcb) {
        size_t mr = min_sz(MR, mb - ir);
        /* the SIMD packers zero-fill rows mr..MR-1 themselves */
        if (ta == CG_NO_TRANS && kt->packa) {
            kt->packa(mr, kcb, a + ir * lda, lda, dst);
            continue;
        }
        if (ta == CG_TRANS && kt->packat) {
            kt->packat(mr, kcb, a + ir, lda, dst);
            continue;
        }
        if (ta == CG_NO_TRANS) {
            /* row-wise reads keep each source row a sequential stream */
            for (size_t i = 0; i < mr; i++) {
                const float *src = a + (ir + i) * lda;
                for (size_t p = 0; p < kcb; p++) dst[p * MR + i] = src[p];
            }
        } else {
            for (size_t p = 0; p < kcb; p++)
                memcpy(dst + p * MR, a + p * lda + ir, mr * sizeof(float));
        }
        for (size_t i = mr; i < MR; i++)
            for (size_t p = 0; p < kcb; p++) dst[p * MR + i] = 0.0f;
    }
}

/* Copies n floats (the compiler vectorises this; a libc memcpy call per 128-byte row of a
 * panel costs more than the copy). */
static inline void copy_row(float *restrict dst, const float *restrict src, size_t n) {
    for (size_t j = 0; j < n; j++) dst[j] = src[j];
}

/* Columns [0, nb) x k-range [0, kcb) of op(B) into NR-column panels dst[panel][p*NR + j]. */
static void pack_b(const struct cg_gemm_kernels *kt, enum cg_trans tb, size_t nb, size_t kcb,
                   const float *b, size_t ldb, float *restrict dst) {
    const size_t NR = (size_t)kt->nr, full = nb / NR * NR;
    if (tb == CG_NO_TRANS && kt->packb) {
        kt->packb(nb, kcb, b, ldb, dst);
        return;
    }
    if (tb == CG_NO_TRANS) {
        /* Row p of the block is one sequential stream for the hardware prefetcher; reading
         * panel by panel would touch kcb pages for every 128 bytes. */
        for (size_t p = 0; p < kcb; p++) {
            const float *src = b + p * ldb;
            float *d = dst + p * NR;
            for (size_t jr = 0; jr < full; jr += NR, d += NR * kcb) copy_row(d, src + jr, NR);
            if (full < nb) {
                copy_row(d, src + full, nb - full);
                for (size_t j = nb - full; j < NR; j++) d[j] = 0.0f;
            }
        }
        return;
    }
    for (size_t jr = 0; jr < nb; jr += NR, dst += NR * kcb) {
        size_t nr = min_sz(NR, nb - jr);
        if (kt->packbt) {
            kt->packbt(nr, kcb, b + jr * ldb, ldb, dst);
        } else {
            for (size_t j = 0; j < NR; j++) {
                const float *src = b + (jr + j) * ldb;
                for (size_t p = 0; p < kcb; p++) dst[p * NR + j] = j < nr ? src[p] : 0.0f;
            }
        }
    }
}

/* C = beta * C (k == 0 or alpha == 0): BLAS semantics, beta == 0 writes zeros over NaNs. */
static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc) {
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f) {
            memset(ci, 0, n * sizeof(float));
        } else if (beta != 1.0f) {
            for (size_t j = 0; j < n; j++) ci[j] *= beta;
        }
    }
}

/* Prefetches for the kernel calls of one block (struct cg_gemm_pf): `left` lines of rows
 * `span` bytes long, dealt out `per_call` at a time so that they spread over the block. */
struct pf_plan {
    struct cg_gemm_pf pf;
    size_t left, per_call, given;
};

/* Plans `rows` rows of `row_floats` floats, ld floats apart from src, over `calls` calls. */
static void pf_start(struct pf_plan *pl, const float *src, size_t rows, size_t row_floats,
                     size_t ld, size_t calls) {
    size_t bytes = row_floats * sizeof(float);
    /* a row that does not start on a line boundary touches one more line */
    if ((uintptr_t)src % 64 || ld * sizeof(float) % 64) bytes += 64;
    const size_t span = (bytes + 63) / 64 * 64;
    pl->pf = (struct cg_gemm_pf){(const char *)src, 0, span, ld * sizeof(float), 0};
    pl->left = rows * (span / 64);
    pl->per_call = (pl->left + calls - 1) / calls;
    pl->given = 0;
}

static struct cg_gemm_pf *pf_give(struct pf_plan *pl) {
    if (!pl->left) return NULL;
    pl->given = pl->pf.n = min_sz(pl->per_call, pl->left);
    return &pl->pf;
}

static void pf_taken(struct pf_plan *pl) {
    if (pl->left) pl->left -= pl->given - pl->pf.n;
}

/* Source of the op(B) block (pc, jc): kcb rows of nb floats, or nb rows of kcb for B^T. */
static const float *b_block(enum cg_trans tb, const float *b, size_t ldb, size_t pc,
                            size_t jc) {
    return tb == CG_NO_TRANS ? b + pc * ldb + jc : b + jc * ldb + pc;
}

/* The block after (pc, jc) in the loop nest's order, (k, jc + NC) when there is none. */
static void next_block(size_t pc, size_t jc, size_t KC, size_t NC, size_t k, size_t *pn,
                       size_t *jn) {
    *pn = pc + KC;
    *jn = jc;
    if (*pn >= k) *pn = 0, *jn = jc + NC;
}

/* Packed op(B): the next kc x nc block streams in from memory under this block's arithmetic,
 * over its `calls` kernel calls (prefetching op(A) as well showed no gain). */
static void plan_next_block(struct pf_plan *pl, const struct cg_gemm_kernels *kt,
                            enum cg_trans tb, const float *b, size_t ldb, size_t k, size_t n,
                            size_t NC, size_t pn, size_t jn, size_t calls) {
    if (jn >= n) return;
    const size_t kbn = min_sz((size_t)kt->kc, k - pn), nbn = min_sz(NC, n - jn);
    const bool t = tb == CG_TRANS;
    pf_start(pl, b_block(tb, b, ldb, pn, jn), t ? nbn : kbn, t ? kbn : nbn, ldb, calls);
}

/* op(B) in place: the panel after column jc + jr (this block's next, else the next block's
 * first) streams in over the `tiles` kernel calls of this one. */
static void plan_next_panel(struct pf_plan *pl, const struct cg_gemm_kernels *kt,
                            const float *b, size_t ldb, size_t k, size_t n, size_t pc,
                            size_t jc, size_t jr, size_t nb, size_t pn, size_t jn,
                            size_t tiles) {
    const size_t KC = (size_t)kt->kc, NR = (size_t)kt->nr;
    size_t pp = pc, jp = jc + jr + NR;
    if (jr + NR >= nb) pp = pn, jp = jn;
    pl->left = 0;
    if (jp < n) pf_start(pl, b + pp * ldb + jp, min_sz(KC, k - pp), min_sz(NR, n - jp), ldb, tiles);
}

/* Of the 64 sets of an L1 data cache (32 or 48 KiB), how many the starts of rows ld floats
 * apart fall into: rows a multiple of 64 bytes apart share gcd(lines, 64) to a set. */
static size_t l1_sets(size_t ld) {
    if (ld % 16) return 64;
    size_t lines = ld / 16, g = 1;
    while (g < 64 && lines % (2 * g) == 0) g *= 2;
    return 64 / g;
}

/* Whether a kc-row panel of op(B) read in place stays in L1 while the row tiles of m rows
 * reuse it (measured on Zen 3, AVX2, best of alternated runs; same bits either way):
 * - rows in 8 or fewer sets thrash: 512x512x512 0.77 of peak in place, 0.91 packed (0.91
 *   both at ldb 520); 128x4096x576 0.63 against 0.86;
 * - 16 sets hold a panel for a few tiles: 64x78400x1600 0.86 in place, 0.75-0.81 packed,
 *   but 512x576x576 0.87 against 0.92;
 * - a 16-float row (AVX2) off a 32-byte boundary straddles two lines (ldb % 8 != 0: at
 *   least three rows in four), the panel doubles to the whole 32 KiB L1, and packing won:
 *   100x500x1000 0.81 -> 0.86, 128x4900x576 0.79 -> 0.84 (ldb 1000 and 784 stay faster in
 *   place). 32-float rows (AVX-512) span 2-3 lines either way; in place was the faster on
 *   Zen 5 at ldb 4900.
 * Up to two row tiles a panel is read at most twice, and in place always won: 10x4900x128
 * 0.57 of peak packed, 0.73 in place; 10x250x100/ta 0.63 against 0.76. */
static bool direct_b_fits(const struct cg_gemm_kernels *kt, size_t m, size_t ldb) {
    if (m <= 2 * (size_t)kt->mr) return true;
    const size_t sets = l1_sets(ldb);
    if (sets < 16 || (sets == 16 && m > 64)) return false;
    return (size_t)kt->nr * sizeof(float) > 64 || ldb % 8 == 0;
}

/* Single-threaded core with explicit mc/nc (the stack fallback shrinks them) and buffers;
 * cap: floats at apack when B is not packed (apack and bpack are then one buffer).
 * apre != NULL: op(A) was packed whole by cg_gemm_pack_a (a and ta unused). */
static void gemm_st(const struct cg_gemm_kernels *kt, size_t MC, size_t NC, size_t cap,
                    float *apack, float *bpack, enum cg_trans ta, enum cg_trans tb, size_t m,
                    size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b,
                    size_t ldb, float beta, float *c, size_t ldc, const float *apre) {
    const size_t MR = (size_t)kt->mr, NR = (size_t)kt->nr, KC = (size_t)kt->kc;
    const size_t mpad = (m + MR - 1) / MR * MR;
    /* Read op(B) in place when its rows are contiguous and A's block can hold all m rows:
     * packing B cost a third of 64x19600x576 (a DRAM stream ahead of the arithmetic), while
     * a 32-column panel read in place stays in L1 for the row tiles after the first, and the
     * kernels prefetch the next panel. Past CG_GEMM_DIRECT_B_ROWS the A block (m x kc) would
     * not sit in L2 beside it. For m <= MR each B element is used once. The panel must also
     * stay in L1 between the row tiles (direct_b_fits). The kernel's arithmetic is the same
     * either way (same bits). */
    const bool direct_b = tb == CG_NO_TRANS &&
                          (m <= MR || (m <= CG_GEMM_DIRECT_B_ROWS && direct_b_fits(kt, m, ldb) &&
                                       (apre || mpad * KC <= cap)));
    if (direct_b) MC = m;
    /* A few column panels reuse a packed op(A) too little to pay for packing it: the
     * kernel then reads A's rows in place (same arithmetic, same bits) */
    const bool a_in_place = !apre && ta == CG_NO_TRANS && kt->ukernel_ua &&
                            n <= CG_GEMM_UA_COLS;
    const size_t tiles = (m + MR - 1) / MR; /* row tiles of all m rows */
    for (size_t jc = 0; jc < n; jc += NC) {
        size_t nb = min_sz(NC, n - jc);
        for (size_t pc = 0; pc < k; pc += KC) {
            size_t kcb = min_sz(KC, k - pc);
            /* later k-blocks add onto the partial sums already in C */
            float be = pc == 0 ? beta : 1.0f;
            /* the block after this one, whose source the kernels prefetch */
            size_t pn, jn;
            next_block(pc, jc, KC, NC, k, &pn, &jn);
            struct pf_plan plan = {0};
            const float *bp = bpack;
            size_t bld = NR, bstep = NR * kcb;
            if (direct_b) {
                bp = b + pc * ldb + jc;
                bld = ldb;
                bstep = NR;
            } else {
                pack_b(kt, tb, nb, kcb, b_block(tb, b, ldb, pc, jc), ldb, bpack);
                plan_next_block(&plan, kt, tb, b, ldb, k, n, NC, pn, jn,
                                (nb + NR - 1) / NR * tiles);
            }
            for (size_t ic = 0; ic < m; ic += MC) {
                size_t mb = min_sz(MC, m - ic);
                const float *ap = apack;
                const float *asrc = NULL;
                if (apre) {
                    ap = apre + pc * mpad + ic * kcb;
                } else {
                    asrc = ta == CG_NO_TRANS ? a + ic * lda + pc : a + pc * lda + ic;
                    if (!a_in_place) pack_a(kt, ta, mb, kcb, asrc, lda, apack);
                }
                for (size_t jr = 0; jr < nb; jr += NR) {
                    size_t nr = min_sz(NR, nb - jr);
                    const float *bj = bp + (jr / NR) * bstep;
                    float *cj = c + ic * ldc + jc + jr;
                    if (direct_b)
                        plan_next_panel(&plan, kt, b, ldb, k, n, pc, jc, jr, nb, pn, jn, tiles);
                    for (size_t ir = 0; ir < mb; ir += MR) {
                        const size_t mr = min_sz(MR, mb - ir);
                        if (a_in_place)
                            kt->ukernel_ua(mr, nr, kcb, asrc + ir * lda, lda, bj, bld,
                                           cj + ir * ldc, ldc, alpha, be, pf_give(&plan));
                        else
                            kt->ukernel(mr, nr, kcb, ap + ir * kcb, bj, bld, cj + ir * ldc, ldc,
                                        alpha, be, pf_give(&plan));
                        pf_taken(&plan);
                    }
                }
            }
        }
    }
}

/* Where t starts in a thread's buffer, in floats: past the A block and the packed A^T. */
static size_t swap_tb_t_at(const struct cg_gemm_kernels *kt, size_t m) {
    const size_t NR = (size_t)kt->nr;
    return buf_a_floats(kt) + (size_t)kt->kc * ((m + NR - 1) / NR * NR);
}

/* dst (n x m) = src^T (m x n), in strips of 16 columns of src whose 16 rows of dst stay in
 * L1 while the strip is walked row by row (row-by-row copying missed on every dst line). */
static void transpose(size_t m, size_t n, const float *restrict src, size_t lds,
                      float *restrict dst, size_t ldd) {
    for (size_t j0 = 0; j0 < n; j0 += 16) {
        const size_t j1 = min_sz(j0 + 16, n);
        for (size_t i = 0; i < m; i++)
            for (size_t j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
    }
}

/* C = alpha*A*B^T + beta*C with few rows and more columns: packing op(B) = B^T, n rows of
 * k floats transposed into panels, cost a quarter of 64x288x19600/tb. C^T = B*A^T is the
 * same product with the roles swapped: B is then read in place by ukernel_ua, and only
 * A^T (m x k) is packed. Every element is the same sum of the same products in the same
 * k order (FMA commutes in its two factors), so the bits are those of the unswapped call.
 * C^T is built in `t` (n x m, the buffer's spare part past the packed A^T) and copied out. */
static bool swap_tb_fits(const struct cg_gemm_kernels *kt, enum cg_trans ta, enum cg_trans tb,
                         size_t m, size_t n, size_t k) {
    const size_t MR = (size_t)kt->mr, NR = (size_t)kt->nr;
    if (ta != CG_NO_TRANS || tb != CG_TRANS || !kt->ukernel_ua) return false;
    /* Packing B^T costs per element of C about 1/m, the two copies of C about 1/k: the swap
     * won where k >= 4m (Zen 3, AVX2, best of 5 alternated: 32x1000x128 64 -> 80 GFLOP/s,
     * 64x1000x256 86 -> 89, 128x1000x1000 87 -> 89; lost 64x1000x128 84 -> 79, even at
     * 128x512x600), and up to 128 rows (256x512x1000 lost, 91 -> 89) */
    if (m > CG_GEMM_SWAP_ROWS || k < 4 * m || n < 2 * m) return false;
    /* m columns of C^T pad to whole NR-column panels: 100 rows of C become 112 columns, 10
     * become 16, and those lost (100x500x128/tb 85 -> 75 GFLOP/s) */
    if ((m + NR - 1) / NR * NR - m > (m + MR - 1) / MR * MR - m) return false;
    return swap_tb_t_at(kt, m) + m * n <= buf_floats();
}

static void gemm_swapped_tb(const struct cg_gemm_kernels *kt, float *buf, size_t cap, size_t m,
                            size_t n, size_t k, float alpha, const float *a, size_t lda,
                            const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    float *bpack = buf + buf_a_floats(kt), *t = buf + swap_tb_t_at(kt, m);
    assert(t + m * n <= buf + cap);
    if (beta != 0.0f) transpose(m, n, c, ldc, t, m);
    gemm_st(kt, (size_t)kt->mc, (size_t)kt->nc, cap, buf, bpack, CG_NO_TRANS, CG_TRANS, n, m, k,
            alpha, b, ldb, a, lda, beta, t, m, NULL);
    transpose(n, m, t, m, c, ldc);
}

/* A thread without a reserved buffer still gets the same bits, from micro-panel blocking. */
static void __attribute__((noinline))
gemm_fallback(const struct cg_gemm_kernels *kt, enum cg_trans ta, enum cg_trans tb, size_t m,
              size_t n, size_t k, float alpha, const float *a, size_t lda, const float *b,
              size_t ldb, float beta, float *c, size_t ldc, const float *apre) {
    _Alignas(64) float buf[FALLBACK_FLOATS];
    size_t mr = (size_t)kt->mr, nr = (size_t)kt->nr;
    gemm_st(kt, mr, nr, FALLBACK_FLOATS, buf, buf + mr * (size_t)kt->kc, ta, tb, m, n, k,
            alpha, a, lda, b, ldb, beta, c, ldc, apre);
}

/* The shared entry of cg_sgemm_with and cg_sgemm_pa_with (apre: see gemm_st). */
static void sgemm_any(const struct cg_gemm_kernels *kt, enum cg_trans ta, enum cg_trans tb,
                      int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                      int ldb, float beta, float *c, int ldc, const float *apre) {
    assert(m >= 0 && n >= 0 && k >= 0);
    assert(ldc >= n && ldb >= (tb == CG_NO_TRANS ? n : k));
    assert(apre || lda >= (ta == CG_NO_TRANS ? k : m));
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == 0.0f) {
        scale_c((size_t)m, (size_t)n, beta, c, (size_t)ldc);
        return;
    }
    int tid = omp_get_thread_num();
    assert(tid < pool_n && "cg_gemm_reserve() was not called for this thread id");
    if (tid >= pool_n) {
        gemm_fallback(kt, ta, tb, (size_t)m, (size_t)n, (size_t)k, alpha, a, (size_t)lda, b,
                      (size_t)ldb, beta, c, (size_t)ldc, apre);
        return;
    }
    float *buf = pool[tid];
    /* One row of C uses each element of B once: a GEMV streams B in long runs where the
     * tile path reads op(B) a 16-float panel (B) or a transposed panel (B^T) at a time.
     * Zen 3, best of 3 alternated: 1x78400x1600 6.2 -> 12.6 GFLOP/s, 1x1600x78400/tb 4.0 ->
     * 12.7, 1x1000x784 16 -> 35; below 32 columns the tile path's registers won (1x16x1000:
     * 22.7 against 15.8), for B^T even 1x10x250 gained (7.4 -> 11.3). */
    cg_gemv_fn gemv = tb == CG_NO_TRANS ? (n >= 32 ? kt->gemv_n : NULL) : kt->gemv_t;
    if (m == 1 && !apre && gemv) {
        assert(CG_GEMV_COLS <= buf_floats()); /* acc lives in the thread's buffer */
        gemv((size_t)n, (size_t)k, (size_t)kt->kc, alpha, a, ta == CG_NO_TRANS ? 1 : (size_t)lda,
             b, (size_t)ldb, beta, c, buf);
        return;
    }
    if (!apre && swap_tb_fits(kt, ta, tb, (size_t)m, (size_t)n, (size_t)k)) {
        gemm_swapped_tb(kt, buf, buf_floats(), (size_t)m, (size_t)n, (size_t)k, alpha, a,
                        (size_t)lda, b, (size_t)ldb, beta, c, (size_t)ldc);
        return;
    }
    gemm_st(kt, (size_t)kt->mc, (size_t)kt->nc, buf_floats(), buf, buf + buf_a_floats(kt), ta,
            tb, (size_t)m, (size_t)n, (size_t)k, alpha, a, (size_t)lda, b, (size_t)ldb, beta, c,
            (size_t)ldc, apre);
}

void cg_sgemm_with(const struct cg_gemm_kernels *kt, enum cg_trans ta, enum cg_trans tb, int m,
                   int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                   float beta, float *c, int ldc) {
    sgemm_any(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
}

size_t cg_gemm_packed_a_floats(int m, int k) {
    size_t most = 0;
    if (m <= 0 || k <= 0) return 0;
    /* the largest over the registry, so a buffer planned before a cg_init to another ISA
     * still fits */
    for (size_t i = 0; i < N_ENTRIES; i++) {
        const size_t mr = (size_t)registry[i].mr;
        const size_t s = ((size_t)m + mr - 1) / mr * mr * (size_t)k;
        if (s > most) most = s;
    }
    return most;
}

void cg_gemm_pack_a_with(const struct cg_gemm_kernels *kt, enum cg_trans ta, int m, int k,
                         const float *a, int lda, float *dst) {
    assert(m > 0 && k > 0 && lda >= (ta == CG_NO_TRANS ? k : m));
    const size_t MR = (size_t)kt->mr, KC = (size_t)kt->kc, M = (size_t)m, K = (size_t)k;
    const size_t mpad = (M + MR - 1) / MR * MR;
    /* k-block pc holds its row panels back to back, as gemm_st packs one MC block */
    for (size_t pc = 0; pc < K; pc += KC) {
        const size_t kcb = min_sz(KC, K - pc);
        const float *asrc = ta == CG_NO_TRANS ? a + pc : a + pc * (size_t)lda;
        pack_a(kt, ta, M, kcb, asrc, (size_t)lda, dst + pc * mpad);
    }
}

void cg_gemm_pack_a(enum cg_trans ta, int m, int k, const float *a, int lda, float *dst) {
    cg_gemm_pack_a_with(&cg_kernels()->gemm, ta, m, k, a, lda, dst);
}

void cg_sgemm_pa_with(const struct cg_gemm_kernels *kt, int m, int n, int k, float alpha,
                      const float *apacked, enum cg_trans tb, const float *b, int ldb,
                      float beta, float *c, int ldc) {
    sgemm_any(kt, CG_NO_TRANS, tb, m, n, k, alpha, NULL, k, b, ldb, beta, c, ldc, apacked);
}

void cg_sgemm_pa(int m, int n, int k, float alpha, const float *apacked, enum cg_trans tb,
                 const float *b, int ldb, float beta, float *c, int ldc) {
    cg_sgemm_pa_with(&cg_kernels()->gemm, m, n, k, alpha, apacked, tb, b, ldb, beta, c, ldc);
}

void cg_sgemm(enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cg_sgemm_with(&cg_kernels()->gemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void cg_sgemm_mt(int nt, enum cg_trans ta, enum cg_trans tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c,
                 int ldc) {
    const struct cg_gemm_kernels *kt = &cg_kernels()->gemm;
    if (nt > pool_n) nt = pool_n;
    /* Below ~12 MFLOP waking a passive thread costs more than it saves. Zen 3, best of 8
     * interleaved, 2 threads against 1: 128x128x128 46 against 91 GFLOP/s, 160x160x160 61
     * against 95, 100x200x200 56 against 93; about even at 6.3M products (100x128x490/tb
     * 1.05x, 100x250x250 0.96-1.06x), 1.3-1.4x from 12.5M (100x250x500/tb). */
    if (nt <= 1 || omp_in_parallel() || (double)m * n * k < CG_GEMM_MT_MIN || k == 0) {
        cg_sgemm_with(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* Split C by whole tiles along n when there are enough column panels (each thread then
     * packs a disjoint part of B and shares only the small A), else along m. Any split
     * gives the same bits: every element's arithmetic is independent of its tile. */
    int pn = (n + kt->nr - 1) / kt->nr, pm = (m + kt->mr - 1) / kt->mr;
    bool split_n = pn >= 2 * nt || pn >= pm;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        int parts = split_n ? pn : pm, tile = split_n ? kt->nr : kt->mr;
        int lim = split_n ? n : m;
        int lo = (int)((long long)parts * t / nth) * tile;
        int hi = (int)((long long)parts * (t + 1) / nth) * tile;
        if (hi > lim) hi = lim;
        if (lo < hi) {
            if (split_n) {
                const float *bt = tb == CG_NO_TRANS ? b + lo : b + (size_t)lo * ldb;
                cg_sgemm_with(kt, ta, tb, m, hi - lo, k, alpha, a, lda, bt, ldb, beta, c + lo,
                              ldc);
            } else {
                const float *at = ta == CG_NO_TRANS ? a + (size_t)lo * lda : a + lo;
                cg_sgemm_with(kt, ta, tb, hi - lo, n, k, alpha, at, lda, b, ldb, beta,
                              c + (size_t)lo * ldc, ldc);
            }
        }
    }
}
