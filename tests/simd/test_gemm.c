/* cg_sgemm against a naive double-precision product: every registry entry, the four
 * transposes, padded leading dimensions, alpha/beta/NaN/k=0 rules, k across the kc blocks,
 * and bit-identity of cg_sgemm_mt and of calls from inside a parallel region. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "common.h"
#include "simd/kernels.h"

/* One problem: op(A)(m,k) op(B)(k,n), stored with `pad` spare columns in every leading
 * dimension. Padding holds NaN so any read outside the matrices poisons the result. */
struct prob {
    enum cg_trans ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    float *a, *b, *c0, *c;
    double *ref, *tol;
};

static void prob_make(struct prob *p, enum cg_trans ta, enum cg_trans tb, int m, int n, int k,
                      int pad, float alpha, float beta, uint64_t seed) {
    *p = (struct prob){ta, tb, m, n, k, 0, 0, 0, alpha, beta, 0, 0, 0, 0, 0, 0};
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    p->lda = ac + pad;
    p->ldb = bc + pad;
    p->ldc = n + pad;
    size_t na = (size_t)ar * p->lda + 1, nb = (size_t)br * p->ldb + 1, nc = (size_t)m * p->ldc;
    p->a = t_alloc(na);
    p->b = t_alloc(nb);
    p->c0 = t_alloc(nc + 1);
    p->c = t_alloc(nc + 1);
    t_fill(p->a, na, -1.0f, 1.0f, seed);
    t_fill(p->b, nb, -1.0f, 1.0f, seed + 1);
    t_fill(p->c0, nc, -1.0f, 1.0f, seed + 2);
    for (int i = 0; i < ar; i++)
        for (int j = ac; j < p->lda; j++) p->a[(size_t)i * p->lda + j] = NAN;
    for (int i = 0; i < br; i++)
        for (int j = bc; j < p->ldb; j++) p->b[(size_t)i * p->ldb + j] = NAN;
    p->ref = malloc(sizeof(double) * (size_t)m * n + 1);
    p->tol = malloc(sizeof(double) * (size_t)m * n + 1);
    cr_assert(p->ref && p->tol);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int q = 0; q < k; q++) {
                double av = ta ? p->a[(size_t)q * p->lda + i] : p->a[(size_t)i * p->lda + q];
                double bv = tb ? p->b[(size_t)j * p->ldb + q] : p->b[(size_t)q * p->ldb + j];
                s += av * bv;
                mag += fabs(av * bv);
            }
            double cv = p->c0[(size_t)i * p->ldc + j];
            double bc_ = beta == 0.0f ? 0.0 : (double)beta * cv;
            p->ref[(size_t)i * n + j] = alpha * s + bc_;
            /* Float summation of k products errs by at most ~k*u*sum|a*b| (u = 2^-24,
             * Higham 2002, eq. 3.5); alpha*acc + beta*C adds a few u. We allow
             * (k + 4) * FLT_EPSILON = 2(k + 4)u times that: a wrong index or a dropped term
             * errs by ~|a*b| ~ 0.25, far above it (k <= 771 gives tol <= ~0.02). */
            p->tol[(size_t)i * n + j] =
                (k + 4) * (double)FLT_EPSILON * (fabs(alpha) * mag + fabs(bc_)) + 1e-30;
        }
    }
}

static void prob_reset_c(struct prob *p, bool nan_fill) {
    size_t nc = (size_t)p->m * p->ldc;
    memcpy(p->c, p->c0, nc * sizeof(float));
    /* the padding of C must survive untouched: mark it */
    for (int i = 0; i < p->m; i++)
        for (int j = p->n; j < p->ldc; j++) p->c[(size_t)i * p->ldc + j] = -777.0f;
    if (nan_fill)
        for (int i = 0; i < p->m; i++)
            for (int j = 0; j < p->n; j++) p->c[(size_t)i * p->ldc + j] = NAN;
}

static void prob_free(struct prob *p) {
    cg_free(p->a);
    cg_free(p->b);
    cg_free(p->c0);
    cg_free(p->c);
    free(p->ref);
    free(p->tol);
}

static void run_with(const struct cg_gemm_kernels *kt, struct prob *p) {
    cg_sgemm_with(kt, p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb,
                  p->beta, p->c, p->ldc);
}

static void prob_check(const struct prob *p, const char *what) {
    for (int i = 0; i < p->m; i++) {
        for (int j = p->n; j < p->ldc; j++)
            cr_assert_eq(p->c[(size_t)i * p->ldc + j], -777.0f, "%s: C padding (%d,%d) written",
                         what, i, j);
        for (int j = 0; j < p->n; j++) {
            double got = p->c[(size_t)i * p->ldc + j], want = p->ref[(size_t)i * p->n + j];
            double tol = p->tol[(size_t)i * p->n + j];
            cr_assert(fabs(got - want) <= tol,
                      "%s: %c%c m=%d n=%d k=%d alpha=%g beta=%g: C(%d,%d)=%.9g want %.9g "
                      "(tol %.3g)",
                      what, p->ta ? 'T' : 'N', p->tb ? 'T' : 'N', p->m, p->n, p->k,
                      (double)p->alpha, (double)p->beta, i, j, got, want, tol);
        }
    }
}

static const int dims[] = {1, 3, 7, 17, 63, 65, 257};
static const float alphas[] = {1.0f, -0.5f};
static const float betas[] = {0.0f, 1.0f, 0.3f};

static void check_one(const struct cg_gemm_kernels *kt, enum cg_trans ta, enum cg_trans tb,
                      int m, int n, int k, int pad, float alpha, float beta, uint64_t seed) {
    struct prob p;
    prob_make(&p, ta, tb, m, n, k, pad, alpha, beta, seed);
    /* beta == 0 must ignore C entirely, NaN included */
    prob_reset_c(&p, beta == 0.0f);
    run_with(kt, &p);
    prob_check(&p, kt->name);
    prob_free(&p);
}

/* A covering subset of dims^3 x 4 transposes: every (m, n) pair and every transpose, with k
 * rotating through dims and alpha/beta cycling, plus k across the entry's kc blocks. */
static void check_entry(enum cg_isa isa) {
    struct cg_gemm_kernels kt;
    cr_assert(cg_gemm_kernels_get(&kt, isa));
    cr_assert_eq(cg_gemm_reserve(1), CG_OK, "%s", cg_last_error());
    const int nd = sizeof dims / sizeof dims[0];
    unsigned it = 0;
    for (int t = 0; t < 4; t++) {
        enum cg_trans ta = (enum cg_trans)(t & 1), tb = (enum cg_trans)(t >> 1);
        for (int im = 0; im < nd; im++) {
            for (int in = 0; in < nd; in++, it++) {
                int m = dims[im], n = dims[in], k = dims[(im + in + t) % nd];
                /* skip the costliest naive references; 257 still meets every other dim */
                if ((size_t)m * n * k > 257u * 65 * 65) k = dims[(im + in + t + 3) % 4];
                check_one(&kt, ta, tb, m, n, k, (int)(it % 3) * 3, alphas[it % 2],
                          betas[it % 3], it);
            }
        }
        /* k = kc + 1 and 2kc + 3: the second and third k-blocks accumulate onto C */
        check_one(&kt, ta, tb, 17, 65, kt.kc + 1, 1, -0.5f, 0.3f, 1000 + t);
        check_one(&kt, ta, tb, 7, 33, 2 * kt.kc + 3, 2, 1.0f, 0.0f, 2000 + t);
        check_one(&kt, ta, tb, 3, 17, 2 * kt.kc + 3, 0, 1.0f, 1.0f, 2100 + t);
        /* m and n past one mc and one nc block */
        check_one(&kt, ta, tb, kt.mc + kt.mr + 1, kt.nc + kt.nr + 3, 7, 1, 1.0f, 0.3f, 3000 + t);
    }
    /* every alpha x beta on one awkward shape */
    for (int ia = 0; ia < 2; ia++)
        for (int ib = 0; ib < 3; ib++)
            check_one(&kt, CG_TRANS, CG_NO_TRANS, 63, 65, 17, 2, alphas[ia], betas[ib], 50 + ib);
}

#define CG_GEMM_UKERNEL(isa, fn, mr, nr, kc, mc, nc)                                 \
    Test(gemm, fn) {                                                                  \
        if (!cg_cpu_has(CG_ISA_##isa)) cr_skip_test("CPU lacks " #isa);               \
        check_entry(CG_ISA_##isa);                                                    \
    }
#include "simd/gemm.inc"
#undef CG_GEMM_UKERNEL

/* k == 0 (and alpha == 0) only scale C; beta == 0 then writes zeros, even over NaN. */
Test(gemm, k_zero_scales_c) {
    cr_assert_eq(cg_init(NULL), CG_OK);
    float c[6] = {1, 2, NAN, 4, 5, 6}, a[1] = {NAN}, b[1] = {NAN};
    cg_sgemm(CG_NO_TRANS, CG_NO_TRANS, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3);
    for (int i = 0; i < 6; i++) cr_assert_eq(c[i], 0.0f);
    float d[4] = {1, 2, 3, 4};
    cg_sgemm(CG_TRANS, CG_TRANS, 2, 2, 0, 1.0f, a, 2, b, 1, 0.5f, d, 2);
    for (int i = 0; i < 4; i++) cr_assert_eq(d[i], 0.5f * (float)(i + 1));
    float e[2] = {3, 4}, x[2] = {1, 1};
    cg_sgemm(CG_NO_TRANS, CG_NO_TRANS, 1, 2, 1, 0.0f, x, 1, x, 2, 1.0f, e, 2);
    cr_assert(e[0] == 3.0f && e[1] == 4.0f);
}

Test(gemm, reserve_validates) {
    cr_assert_eq(cg_gemm_reserve(0), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "nthreads=0") != NULL, "%s", cg_last_error());
    cr_assert_eq(cg_gemm_reserve(3), CG_OK);
    cr_assert_geq(cg_gemm_reserved(), 3);
    cr_assert_eq(cg_gemm_reserve(2), CG_OK); /* never shrinks */
    cr_assert_geq(cg_gemm_reserved(), 3);
}

/* Every ISA agrees with ref within the summation bound of each (both are checked against
 * the double product above; this compares the paths directly on layer-like shapes). */
Test(gemm, isas_agree_with_ref) {
    static const int shapes[][5] = {{32, 200, 25, 0, 0}, {64, 120, 288, 1, 0},
                                    {100, 10, 128, 0, 1}, {10, 128, 300, 0, 1},
                                    {1, 300, 100, 0, 0},  {130, 70, 1, 1, 0}};
    struct cg_gemm_kernels ref;
    cr_assert(cg_gemm_kernels_get(&ref, CG_ISA_REF));
    cr_assert_eq(cg_gemm_reserve(1), CG_OK);
    for (int isa = CG_ISA_AVX2; isa <= CG_ISA_AVX512; isa++) {
        struct cg_gemm_kernels kt;
        if (!cg_cpu_has((enum cg_isa)isa) || !cg_gemm_kernels_get(&kt, (enum cg_isa)isa))
            continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int *sh = shapes[s];
            struct prob p;
            prob_make(&p, (enum cg_trans)sh[3], (enum cg_trans)sh[4], sh[0], sh[1], sh[2], 1,
                      1.0f, 0.3f, 70 + s);
            prob_reset_c(&p, false);
            run_with(&ref, &p);
            size_t nc = (size_t)p.m * p.ldc;
            float *cref = t_alloc(nc);
            memcpy(cref, p.c, nc * sizeof(float));
            prob_reset_c(&p, false);
            run_with(&kt, &p);
            for (int i = 0; i < p.m; i++)
                for (int j = 0; j < p.n; j++) {
                    size_t o = (size_t)i * p.ldc + j;
                    /* each side is within tol of the exact value, so within 2 tol of each
                     * other */
                    cr_assert(fabs((double)p.c[o] - cref[o]) <= 2 * p.tol[(size_t)i * p.n + j],
                              "%s vs ref: shape %zu C(%d,%d) %.9g vs %.9g", kt.name, s, i, j,
                              (double)p.c[o], (double)cref[o]);
                }
            cg_free(cref);
            prob_free(&p);
        }
    }
}

/* Shapes that split along n, along m, and a tiny one below the threading threshold
 * (CG_GEMM_MT_MIN products; the others are above it); A*B^T that runs swapped as a whole
 * and in each thread's part (64x600x300/tb), one-row GEMVs, and an m split whose last part
 * is one row (13x16x30000/tb: GEMV there, tile serially). */
static const int mt_shapes[][5] = {
    {100, 500, 784, 0, 0}, {100, 784, 1000, 0, 1}, {1000, 40, 200, 1, 0},
    {33, 1000, 200, 1, 1}, {257, 65, 400, 0, 1},   {7, 9, 5, 0, 0},
    {1, 9000, 700, 0, 0},  {300, 17, 1200, 1, 1},  {64, 600, 300, 0, 1},
    {1, 3000, 2100, 1, 1}, {13, 16, 30000, 0, 1},
};

Test(gemm, mt_bit_identical_to_st) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_init_opts o = {.isa_cap = isa, .ignore_env = 1};
        if (!cg_cpu_has((enum cg_isa)isa)) continue;
        cr_assert_eq(cg_init(&o), CG_OK);
        cr_assert_eq(cg_gemm_reserve(3), CG_OK);
        for (size_t s = 0; s < sizeof mt_shapes / sizeof mt_shapes[0]; s++) {
            const int *sh = mt_shapes[s];
            struct prob p;
            cr_assert(s == 5 || (double)sh[0] * sh[1] * sh[2] >= CG_GEMM_MT_MIN,
                      "mt shape %zu would run single-threaded", s);
            prob_make(&p, (enum cg_trans)sh[3], (enum cg_trans)sh[4], sh[0], sh[1], sh[2], 2,
                      -0.5f, 0.3f, 90 + s);
            size_t nc = (size_t)p.m * p.ldc;
            prob_reset_c(&p, false);
            cg_sgemm(p.ta, p.tb, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c,
                     p.ldc);
            prob_check(&p, "cg_sgemm");
            float *st = t_alloc(nc);
            memcpy(st, p.c, nc * sizeof(float));
            for (int nt = 1; nt <= 3; nt++) {
                prob_reset_c(&p, false);
                cg_sgemm_mt(nt, p.ta, p.tb, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb,
                            p.beta, p.c, p.ldc);
                cr_assert(memcmp(st, p.c, nc * sizeof(float)) == 0,
                          "%s: shape %zu differs with nt=%d", cg_isa_name((enum cg_isa)isa), s,
                          nt);
            }
            cg_free(st);
            prob_free(&p);
        }
    }
}

/* The conv layer's pattern: cg_sgemm called by every thread of the caller's own parallel
 * region at once, each into its own C. Each result must equal the serial one bit for bit (a
 * shared packing buffer would corrupt it). */
static void concurrent_check(int nthreads) {
    enum { NP = 8 };
    struct prob p[NP];
    float *st[NP];
    for (int i = 0; i < NP; i++) {
        prob_make(&p[i], (enum cg_trans)(i & 1), (enum cg_trans)((i >> 1) & 1), 64 + i,
                  150 + 7 * i, 300 + 40 * i, 1, 1.0f, 0.3f, 200 + i);
        prob_reset_c(&p[i], false);
        cg_sgemm(p[i].ta, p[i].tb, p[i].m, p[i].n, p[i].k, 1.0f, p[i].a, p[i].lda, p[i].b,
                 p[i].ldb, 0.3f, p[i].c, p[i].ldc);
        st[i] = t_alloc((size_t)p[i].m * p[i].ldc);
        memcpy(st[i], p[i].c, (size_t)p[i].m * p[i].ldc * sizeof(float));
        prob_reset_c(&p[i], false);
    }
#pragma omp parallel for schedule(static, 1) num_threads(nthreads)
    for (int i = 0; i < NP; i++)
        cg_sgemm(p[i].ta, p[i].tb, p[i].m, p[i].n, p[i].k, 1.0f, p[i].a, p[i].lda, p[i].b,
                 p[i].ldb, 0.3f, p[i].c, p[i].ldc);
    for (int i = 0; i < NP; i++) {
        cr_assert(memcmp(st[i], p[i].c, (size_t)p[i].m * p[i].ldc * sizeof(float)) == 0,
                  "problem %d differs under %d threads", i, nthreads);
        cg_free(st[i]);
        prob_free(&p[i]);
    }
}

Test(gemm, concurrent_calls_in_parallel_region) {
    cr_assert_eq(cg_init(NULL), CG_OK);
    cr_assert_eq(cg_gemm_reserve(4), CG_OK);
    concurrent_check(4);
}

#ifdef NDEBUG
/* Without a reservation (release builds only: debug builds assert) a thread falls back to
 * stack micro-panels and must still produce the same bits. */
Test(gemm, unreserved_thread_falls_back) {
    cr_assert_eq(cg_init(NULL), CG_OK);
    concurrent_check(cg_gemm_reserved() + 3);
}
#endif

/* Pre-packed A: against the double reference and bit-identical to cg_sgemm_with, for every
 * entry the CPU has, both op(A) layouts, k across kc blocks and m past one mc block. The
 * packed buffer is NaN-filled past cg_gemm_packed_a_floats's end, and the entry must not
 * read there. */
static const int pa_shapes[][3] = {
    {1, 17, 5}, {7, 33, 65}, {9, 65, 300}, {64, 392, 576}, {65, 31, 257}, {100, 70, 600},
};

/* The entry of this ISA, when this CPU runs it (its thread buffer reserved). */
static bool entry_of(int isa, struct cg_gemm_kernels *kt) {
    if (!cg_cpu_has((enum cg_isa)isa) || !cg_gemm_kernels_get(kt, (enum cg_isa)isa)) return false;
    cr_assert_eq(cg_gemm_reserve(1), CG_OK);
    return true;
}

Test(gemm, prepacked_a_matches_and_same_bits) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_gemm_kernels kt;
        if (!entry_of(isa, &kt)) continue;
        for (size_t s = 0; s < sizeof pa_shapes / sizeof pa_shapes[0]; s++) {
            for (int t = 0; t < 4; t++) {
                enum cg_trans ta = (enum cg_trans)(t & 1), tb = (enum cg_trans)(t >> 1);
                const int *sh = pa_shapes[s];
                struct prob p;
                prob_make(&p, ta, tb, sh[0], sh[1], sh[2], (int)(s % 3), -0.5f,
                          s % 2 ? 0.3f : 0.0f, 300 + s * 4 + t);
                size_t np = cg_gemm_packed_a_floats(p.m, p.k), nc = (size_t)p.m * p.ldc;
                cr_assert_geq(np, (size_t)p.m * p.k);
                float *ap = t_alloc(np + 64);
                for (size_t i = 0; i < np + 64; i++) ap[i] = NAN;
                cg_gemm_pack_a_with(&kt, ta, p.m, p.k, p.a, p.lda, ap);
                prob_reset_c(&p, false);
                cg_sgemm_pa_with(&kt, p.m, p.n, p.k, p.alpha, ap, tb, p.b, p.ldb, p.beta, p.c,
                                 p.ldc);
                prob_check(&p, kt.name);
                float *pa = t_alloc(nc);
                memcpy(pa, p.c, nc * sizeof(float));
                prob_reset_c(&p, false);
                run_with(&kt, &p);
                cr_assert(memcmp(pa, p.c, nc * sizeof(float)) == 0,
                          "%s: pre-packed A differs from cg_sgemm, shape %zu trans %d", kt.name,
                          s, t);
                cg_free(pa);
                cg_free(ap);
                prob_free(&p);
            }
        }
    }
    cr_assert_eq(cg_gemm_packed_a_floats(0, 5), 0u);
}

/* A row of C does not depend on how many rows the call has: op(B) packed (more than
 * CG_GEMM_DIRECT_B_ROWS rows), read in place (fewer) and read in place by a single row tile
 * give the same bits on the rows they share, across k-blocks and n-blocks, with leading
 * dimensions that put rows off cache-line boundaries (the kernels' prefetch walk). */
Test(gemm, direct_and_packed_b_same_bits) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_gemm_kernels kt;
        if (!entry_of(isa, &kt)) continue;
        const int m = CG_GEMM_DIRECT_B_ROWS + 3, n = kt.nc + kt.nr + 5, k = kt.kc + 7;
        /* ldb = 1048 (n + 3 for the AVX2 entry): every other row off a cache-line boundary,
         * yet 8-aligned, so that 512 rows still read op(B) in place (gemm.c: direct_b_fits) */
        const int lda = k + 3, ldb = (n + 3 + 7) / 8 * 8, ldc = n + 2;
        float *a = t_alloc((size_t)m * lda), *b = t_alloc((size_t)k * ldb);
        float *c0 = t_alloc((size_t)m * ldc), *full = t_alloc((size_t)m * ldc);
        float *part = t_alloc((size_t)m * ldc);
        t_fill(a, (size_t)m * lda, -1.0f, 1.0f, 500 + isa);
        t_fill(b, (size_t)k * ldb, -1.0f, 1.0f, 510 + isa);
        t_fill(c0, (size_t)m * ldc, -1.0f, 1.0f, 520 + isa);
        memcpy(full, c0, (size_t)m * ldc * sizeof(float));
        cg_sgemm_with(&kt, CG_NO_TRANS, CG_NO_TRANS, m, n, k, -0.5f, a, lda, b, ldb, 0.3f, full,
                      ldc);
        const int rows[] = {1, kt.mr, kt.mr + 5, CG_GEMM_DIRECT_B_ROWS};
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            memcpy(part, c0, (size_t)m * ldc * sizeof(float));
            cg_sgemm_with(&kt, CG_NO_TRANS, CG_NO_TRANS, rows[r], n, k, -0.5f, a, lda, b, ldb,
                          0.3f, part, ldc);
            for (int i = 0; i < rows[r]; i++)
                cr_assert(memcmp(full + (size_t)i * ldc, part + (size_t)i * ldc,
                                 (size_t)n * sizeof(float)) == 0,
                          "%s: row %d differs between m=%d and m=%d", kt.name, i, m, rows[r]);
        }
        cg_free(a);
        cg_free(b);
        cg_free(c0);
        cg_free(full);
        cg_free(part);
    }
}

/* One call through two entries that differ only in the path they take: same operands, C
 * starting equal (with a NaN when beta == 0: C is write-only), and the same bits over all
 * of C, its padding and one float past it included. */
struct twin {
    enum cg_trans ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    unsigned seed;
};

static void assert_same_bits(const struct cg_gemm_kernels *x, const struct cg_gemm_kernels *y,
                             struct twin t, const char *what) {
    const size_t na = (size_t)(t.ta ? t.k : t.m) * t.lda, nb = (size_t)(t.tb ? t.n : t.k) * t.ldb;
    const size_t nc = (size_t)t.m * t.ldc + 1, at = (size_t)(t.m - 1) * t.ldc + (t.n > 1);
    float *a = t_alloc(na), *b = t_alloc(nb), *c1 = t_alloc(nc), *c2 = t_alloc(nc);
    t_fill(a, na, -1.0f, 1.0f, t.seed);
    t_fill(b, nb, -1.0f, 1.0f, t.seed + 1);
    t_fill(c1, nc, -1.0f, 1.0f, t.seed + 2);
    if (t.beta == 0.0f) c1[at] = NAN;
    memcpy(c2, c1, nc * sizeof(float));
    cg_sgemm_with(x, t.ta, t.tb, t.m, t.n, t.k, t.alpha, a, t.lda, b, t.ldb, t.beta, c1, t.ldc);
    cg_sgemm_with(y, t.ta, t.tb, t.m, t.n, t.k, t.alpha, a, t.lda, b, t.ldb, t.beta, c2, t.ldc);
    cr_assert(memcmp(c1, c2, nc * sizeof(float)) == 0,
              "%s: %dx%dx%d ta=%d tb=%d beta=%g: %s", x->name, t.m, t.n, t.k, t.ta, t.tb,
              (double)t.beta, what);
    cr_assert(!isnan(c1[at]), "%s: beta 0 read C", x->name);
    cg_free(a);
    cg_free(b);
    cg_free(c1);
    cg_free(c2);
}

/* op(A) read in place by the entry's ukernel_ua (up to CG_GEMM_UA_COLS columns) gives the
 * bits of op(A) packed, on every shape class: row and column tails, k across kc blocks,
 * padded lda, and both in-place and packed op(B). */
Test(gemm, a_in_place_same_bits) {
    int tested = 0;
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_gemm_kernels kt, packed;
        if (!entry_of(isa, &kt) || !kt.ukernel_ua) continue;
        packed = kt;
        packed.ukernel_ua = NULL;
        const int ms[] = {1, 5, kt.mr + 1, 100}, ns[] = {1, 17, CG_GEMM_UA_COLS};
        const int ks[] = {3, kt.kc + 5};
        for (size_t im = 0; im < 4; im++)
            for (size_t in = 0; in < 3; in++)
                for (size_t ik = 0; ik < 2; ik++, tested++) {
                    const int m = ms[im], n = ns[in], k = ks[ik];
                    struct twin t = {.ta = CG_NO_TRANS, .tb = CG_NO_TRANS, .m = m, .n = n, .k = k,
                                     .lda = k + 3, .ldb = n + (int)in * 5, .ldc = n + 1,
                                     .alpha = -0.5f, .beta = 0.3f,
                                     .seed = (unsigned)(600 + 10 * im + 3 * in + ik)};
                    assert_same_bits(&kt, &packed, t, "A in place and A packed differ");
                }
    }
    if (!tested) cr_skip_test("no entry of this CPU reads op(A) in place");
}

/* A*B^T with few rows, more columns and a long k runs as its transpose B*A^T (gemm.c:
 * swap_tb_fits) and gives the bits of the unswapped product: beta 0 and 0.3, row counts on
 * and off the column tile, k across kc blocks, padded leading dimensions. */
Test(gemm, swapped_tb_same_bits) {
    int tested = 0;
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_gemm_kernels kt, plain;
        if (!entry_of(isa, &kt) || !kt.ukernel_ua) continue;
        plain = kt;
        plain.ukernel_ua = NULL; /* no ukernel_ua: no swap */
        /* rows that pad to whole column panels no worse than to row tiles (one panel, a
         * one-column tail, four panels); k from 4m (the least that swaps) across kc */
        const int ms[] = {kt.nr, 3 * kt.nr - 1, 4 * kt.nr};
        for (size_t im = 0; im < 3; im++)
            for (int in = 0; in < 2; in++)
                for (int ik = 0; ik < 2; ik++)
                    for (int zero = 0; zero < 2; zero++, tested++) {
                        const int m = ms[im], n = 2 * m + in * (kt.nr + 3);
                        const int k = 4 * m + ik * (kt.kc + 5);
                        struct twin t = {.ta = CG_NO_TRANS, .tb = CG_TRANS, .m = m, .n = n,
                                         .k = k, .lda = k + 1, .ldb = k + 2, .ldc = n + 3,
                                         .alpha = 0.7f, .beta = zero ? 0.0f : 0.3f,
                                         .seed = (unsigned)(700 + 10 * im + 3 * in + ik)};
                        assert_same_bits(&kt, &plain, t, "swapped A*B^T differs");
                    }
    }
    if (!tested) cr_skip_test("no entry of this CPU reads op(A) in place");
}

/* One-row C runs as a GEMV (gemv_n, gemv_t) and gives the bits of the one-row tile: B and
 * B^T, A and A^T (strided a), k across kc blocks and off the 4-row sweeps, n across
 * CG_GEMV_COLS chunks and off the vector width, beta 0 and 0.3 (alpha 0.7, whose products
 * round, so that alpha*acc + beta*c must be one FMA as in the tile). */
Test(gemm, gemv_same_bits) {
    int tested = 0;
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_gemm_kernels kt, tile;
        if (!entry_of(isa, &kt) || !kt.gemv_n || !kt.gemv_t) continue;
        tile = kt;
        tile.gemv_n = tile.gemv_t = NULL;
        const int ns[] = {1, 37, 2 * kt.nr, CG_GEMV_COLS + 13};
        const int ks[] = {1, 7, kt.kc + 5, 2 * kt.kc + 3};
        for (size_t in = 0; in < 4; in++)
            for (size_t ik = 0; ik < 4; ik++)
                for (int tr = 0; tr < 4; tr++, tested++) {
                    const enum cg_trans ta = tr & 1 ? CG_TRANS : CG_NO_TRANS;
                    const enum cg_trans tb = tr & 2 ? CG_TRANS : CG_NO_TRANS;
                    const int n = ns[in], k = ks[ik];
                    struct twin t = {.ta = ta, .tb = tb, .m = 1, .n = n, .k = k,
                                     .lda = ta ? 3 : k + 1, .ldb = tb ? k + 2 : n + 5, .ldc = n,
                                     .alpha = 0.7f, .beta = (in + ik) % 2 ? 0.0f : 0.3f,
                                     .seed = (unsigned)(800 + 16 * in + 4 * ik + (size_t)tr)};
                    assert_same_bits(&kt, &tile, t, "GEMV and tile differ");
                }
    }
    if (!tested) cr_skip_test("no entry of this CPU has a GEMV");
}
