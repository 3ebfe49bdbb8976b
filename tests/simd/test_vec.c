/* Element-wise kernels: every SIMD variant against the ref on tail-probing sizes (bit-equal
 * where the operation order is the same, ulp or relative bounds where SLEEF or summation
 * order differ), with guard elements after each output; the ref against plain math. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "simd/vec.h"

static const size_t sizes[] = {1, 7, 15, 16, 17, 63, 64, 65, 1000, 4099};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define GUARD 16 /* floats after n that no kernel may write: catches bad tail masks */
#define SLOPE 0.1f

static struct cg_vec_kernels table(enum cg_isa isa) {
    struct cg_vec_kernels k;
    cg_vec_kernels_select(&k, isa);
    cr_assert_eq(k.isa, isa, "select(%s) gave %s", cg_isa_name(isa), cg_isa_name(k.isa));
    return k;
}

static float *rnd(size_t n, float lo, float hi, uint64_t seed) {
    float *p = t_alloc(n + GUARD + 1);
    t_fill(p, n + GUARD + 1, lo, hi, seed);
    return p;
}
static double *rndd(size_t n, uint64_t seed) {
    double *p = (double *)t_alloc(2 * (n + GUARD + 1));
    float *tmp = rnd(n + GUARD, -1.0f, 1.0f, seed);
    for (size_t i = 0; i < n + GUARD + 1; i++) p[i] = (double)tmp[i] * 3.0;
    cg_free(tmp);
    return p;
}
static float *dup(const float *x, size_t n) {
    float *p = t_alloc(n + GUARD + 1);
    memcpy(p, x, (n + GUARD + 1) * sizeof *p);
    return p;
}
static double *dupd(const double *x, size_t n) {
    double *p = (double *)t_alloc(2 * (n + GUARD + 1));
    memcpy(p, x, (n + GUARD + 1) * sizeof *p);
    return p;
}

/* Bit equality over n + GUARD elements (NaN == NaN when the bits match). */
static void same(const void *a, const void *b, size_t bytes, const char *op, size_t n) {
    cr_assert(memcmp(a, b, bytes) == 0, "%s n=%zu: SIMD bits differ from the ref", op, n);
}
#define SAME_F(a, b, op, n) same(a, b, ((n) + GUARD) * sizeof(float), op, n)
#define SAME_D(a, b, op, n) same(a, b, ((n) + GUARD) * sizeof(double), op, n)

static int64_t ord(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
}
static int64_t max_ulps(const float *a, const float *b, size_t n) {
    int64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = llabs(ord(a[i]) - ord(b[i]));
        if (d > m) m = d;
    }
    return m;
}
static void close_d(double a, double b, double rel, const char *op, size_t n) {
    cr_assert(fabs(a - b) <= rel * fmax(1.0, fabs(b)), "%s n=%zu: %.17g vs ref %.17g", op, n,
              a, b);
}

/* ---- SIMD vs ref ------------------------------------------------------------------------ */
static void check_isa(enum cg_isa isa) {
    if (!cg_cpu_has(isa)) cr_skip_test("CPU lacks %s", cg_isa_name(isa));
    struct cg_vec_kernels r = table(CG_ISA_REF), s = table(isa);
    for (size_t si = 0; si < NSIZES; si++) {
        size_t n = sizes[si], o = n & 1; /* odd sizes also start one float off alignment */
        float *x = rnd(n, -3.0f, 3.0f, 1 + n), *g = rnd(n, -1.0f, 1.0f, 2 + n);
        float *a = rnd(n, 0.5f, 2.0f, 3 + n), *b = rnd(n, -1.0f, 1.0f, 4 + n);
        float *mu = rnd(n, -0.5f, 0.5f, 5 + n), *y0 = rnd(n, -9.0f, 9.0f, 6 + n);
        if (n > 3) { x[o] = 0.0f; x[o + 1] = -0.0f; x[o + 2] = NAN; }
        float *y1 = dup(y0, n), *y2 = dup(y0, n);
        double *d0 = rndd(n, 7 + n), *d1 = dupd(d0, n), *d2 = dupd(d0, n);
        double *e0 = rndd(n, 8 + n), *e1 = dupd(e0, n), *e2 = dupd(e0, n);
#define RESET() do { memcpy(y1, y0, (n + GUARD + 1) * 4); memcpy(y2, y0, (n + GUARD + 1) * 4); \
        memcpy(d1, d0, (n + GUARD + 1) * 8); memcpy(d2, d0, (n + GUARD + 1) * 8);         \
        memcpy(e1, e0, (n + GUARD + 1) * 8); memcpy(e2, e0, (n + GUARD + 1) * 8); } while (0)
        RESET(); r.lrelu(n, SLOPE, x + o, y1 + o); s.lrelu(n, SLOPE, x + o, y2 + o);
        SAME_F(y1, y2, "lrelu", n);
        RESET(); r.lrelu_bwd(n, SLOPE, x + o, g + o, y1 + o);
        s.lrelu_bwd(n, SLOPE, x + o, g + o, y2 + o);
        SAME_F(y1, y2, "lrelu_bwd", n);
        RESET(); r.sigmoid_bwd(n, a + o, g + o, y1 + o); s.sigmoid_bwd(n, a + o, g + o, y2 + o);
        SAME_F(y1, y2, "sigmoid_bwd", n);
        RESET(); r.addc(n, 0.3f, y1 + o); s.addc(n, 0.3f, y2 + o);
        SAME_F(y1, y2, "addc", n);
        RESET(); r.addv(n, x + o, y1 + o); s.addv(n, x + o, y2 + o);
        SAME_F(y1, y2, "addv", n);
        RESET(); r.affine(n, x + o, 1.7f, -0.3f, y1 + o); s.affine(n, x + o, 1.7f, -0.3f, y2 + o);
        SAME_F(y1, y2, "affine", n);
        RESET(); r.affinev(n, x + o, a + o, b + o, y1 + o);
        s.affinev(n, x + o, a + o, b + o, y2 + o);
        SAME_F(y1, y2, "affinev", n);
        RESET(); r.bndx(n, g + o, x + o, 1.3f, -0.2f, 0.4f, 0.05f, y1 + o);
        s.bndx(n, g + o, x + o, 1.3f, -0.2f, 0.4f, 0.05f, y2 + o);
        SAME_F(y1, y2, "bndx", n);
        RESET(); r.bndxv(n, g + o, x + o, a + o, b + o, mu + o, b + o, y1 + o);
        s.bndxv(n, g + o, x + o, a + o, b + o, mu + o, b + o, y2 + o);
        SAME_F(y1, y2, "bndxv", n);
        /* per-element double accumulations do the same exact operations: bit-equal */
        RESET(); r.sumv(n, x + o, d1 + o); s.sumv(n, x + o, d2 + o);
        SAME_D(d1, d2, "sumv", n);
        RESET(); r.statsv(n, x + o, d1 + o, e1 + o); s.statsv(n, x + o, d2 + o, e2 + o);
        SAME_D(d1, d2, "statsv s", n); SAME_D(e1, e2, "statsv ss", n);
        RESET(); r.bnredv(n, g + o, x + o, mu + o, d1 + o, e1 + o);
        s.bnredv(n, g + o, x + o, mu + o, d2 + o, e2 + o);
        SAME_D(d1, d2, "bnredv sdy", n); SAME_D(e1, e2, "bnredv sdyx", n);
        {   /* whole-array reductions: lane order differs from the ref's, all in double, so
             * only rounding of sums of <= 4099 terms of size ~3: 1e-13 relative is ample */
            double s1 = 0.5, s2 = 0.5, q1 = 0.25, q2 = 0.25;
            float *xs = x; /* NaN-free copy for the sums */
            xs = dup(x, n);
            if (n > 3) xs[o + 2] = 1.0f;
            r.sum(n, xs + o, &s1); s.sum(n, xs + o, &s2);
            close_d(s2, s1, 1e-13, "sum", n);
            s1 = s2 = 0.5;
            r.stats(n, xs + o, &s1, &q1); s.stats(n, xs + o, &s2, &q2);
            close_d(s2, s1, 1e-13, "stats s", n); close_d(q2, q1, 1e-13, "stats ss", n);
            s1 = s2 = q1 = q2 = -1.0;
            r.bnred(n, g + o, xs + o, 0.2f, &s1, &q1); s.bnred(n, g + o, xs + o, 0.2f, &s2, &q2);
            close_d(s2, s1, 1e-13, "bnred sdy", n); close_d(q2, q1, 1e-13, "bnred sdyx", n);
            /* sigmoid: SLEEF expf (1 ulp) vs libm; 1/(1+e) does not amplify a relative
             * error, so 4 ulp leaves room for both rounding steps */
            for (size_t i = 0; i < n; i++) xs[o + i] *= 7.0f;
            if (n > 3) { xs[o] = -100.0f; xs[o + 1] = 100.0f; }
            RESET(); r.sigmoid(n, xs + o, y1 + o); s.sigmoid(n, xs + o, y2 + o);
            cr_assert_leq(max_ulps(y1, y2, n + GUARD), 4, "sigmoid n=%zu: %lld ulp", n,
                          (long long)max_ulps(y1, y2, n + GUARD));
            cg_free(xs);
        }
        {
            float *w1 = dup(x, n), *w2 = dup(x, n), *m1 = dup(b, n), *m2 = dup(b, n);
            float *v1 = dup(a, n), *v2 = dup(a, n);
            struct cg_adam_coef c = {0.9f, 0.1f, 0.999f, 0.001f, -0.01f, 0.3f, 1e-8f};
            r.adam(n, &c, w1 + o, g + o, m1 + o, v1 + o);
            s.adam(n, &c, w2 + o, g + o, m2 + o, v2 + o);
            SAME_F(w1, w2, "adam w", n); SAME_F(m1, m2, "adam m", n); SAME_F(v1, v2, "adam v", n);
            cg_free(w1); cg_free(w2); cg_free(m1); cg_free(m2); cg_free(v1); cg_free(v2);
        }
        /* Philox streams: idx0 just below 2^32 so the vector counters carry into the high
         * word inside one vector */
        const uint64_t key = 0x0123456789ABCDEFull, st = 42, i0 = 0xFFFFFFF9ull;
        RESET(); r.dropout(n, key, st, i0, 0.3f, x + o, y1 + o);
        s.dropout(n, key, st, i0, 0.3f, x + o, y2 + o);
        SAME_F(y1, y2, "dropout", n);
        RESET(); r.dropout_bwd(n, key, st, i0, 0.3f, g + o, y1 + o);
        s.dropout_bwd(n, key, st, i0, 0.3f, g + o, y2 + o);
        SAME_F(y1, y2, "dropout_bwd", n);
        /* normals: float SLEEF log (3.5 ulp, halved by the sqrt) and sincospi (3.5 ulp) and
         * three roundings against the ref's double libm: 8 ulp. idx0 = i0 starts mid-block. */
        float *zero = t_alloc(n + GUARD + 1);
        RESET(); r.gauss(n, key, st, i0, 1.0f, zero + o, y1 + o);
        s.gauss(n, key, st, i0, 1.0f, zero + o, y2 + o);
        cr_assert_leq(max_ulps(y1, y2, n + GUARD), 8, "gauss n=%zu: %lld ulp", n,
                      (long long)max_ulps(y1, y2, n + GUARD));
        cg_free(zero);
        float *fr[] = {x, g, a, b, mu, y0, y1, y2};
        for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++) cg_free(fr[i]);
        double *dr[] = {d0, d1, d2, e0, e1, e2};
        for (size_t i = 0; i < sizeof dr / sizeof dr[0]; i++) cg_free(dr[i]);
#undef RESET
    }
}

Test(vec_avx2, all_kernels_match_ref) { check_isa(CG_ISA_AVX2); }
Test(vec_avx512, all_kernels_match_ref) { check_isa(CG_ISA_AVX512); }

Test(vec_select, cap_is_honoured) {
    struct cg_vec_kernels k = table(CG_ISA_REF);
    cr_assert_eq(k.lrelu, cg_f32_lrelu__ref);
    cr_assert_eq(k.adam, cg_f32_adam__ref);
}

/* ---- ref vs plain math ------------------------------------------------------------------ */
Test(vec_ref, matches_plain_math) {
    struct cg_vec_kernels r = table(CG_ISA_REF);
    const size_t n = 1001;
    float *x = rnd(n, -8.0f, 8.0f, 11), *g = rnd(n, -1.0f, 1.0f, 12), *y = t_alloc(n);
    x[3] = 0.0f;
    r.lrelu(n, SLOPE, x, y);
    for (size_t i = 0; i < n; i++) /* a float product rounds once, like (float) of double */
        cr_assert_eq(y[i], x[i] > 0 ? x[i] : (float)((double)SLOPE * x[i]), "lrelu i=%zu", i);
    r.sigmoid(n, x, y);
    for (size_t i = 0; i < n; i++) {
        float want = (float)(1.0 / (1.0 + exp(-(double)x[i])));
        /* expf (<1 ulp), the add and the divide each round: 3 ulp */
        cr_assert_leq(llabs(ord(y[i]) - ord(want)), 3, "sigmoid x=%g: %g vs %g", x[i], y[i], want);
    }
    double s = 0, ss = 0, ws = 0, wss = 0, sdy = 0, sdyx = 0, wdy = 0, wdyx = 0;
    r.stats(n, x, &s, &ss);
    r.bnred(n, g, x, 0.25f, &sdy, &sdyx);
    for (size_t i = 0; i < n; i++) {
        ws += x[i];
        wss += (double)x[i] * x[i];
        wdy += g[i];
        wdyx += (double)g[i] * ((double)x[i] - 0.25);
    }
    /* double sums of 1001 terms: 1e-13 relative; x - 0.25 is exact in float here (|x| < 8) */
    close_d(s, ws, 1e-13, "stats s", n); close_d(ss, wss, 1e-13, "stats ss", n);
    close_d(sdy, wdy, 1e-13, "bnred sdy", n); close_d(sdyx, wdyx, 1e-13, "bnred sdyx", n);
    memset(y, 0, n * sizeof *y);
    r.bndx(n, g, x, 1.5f, -0.75f, 0.25f, 0.125f, y);
    for (size_t i = 0; i < n; i++) {
        double t = 1.5 * g[i] - 0.75 * ((double)x[i] - 0.25) + 0.125;
        double mag = fabs(1.5 * g[i]) + fabs(0.75 * (x[i] - 0.25)) + 0.125;
        /* four float roundings of terms no larger than mag: 4 half-ulps of mag */
        cr_assert_leq(fabs(y[i] - t), 4 * 0x1p-24 * mag, "bndx i=%zu", i);
    }
    r.affine(n, x, 1.7f, -0.3f, y);
    for (size_t i = 0; i < n; i++) { /* two roundings */
        double t = (double)x[i] * 1.7f - 0.3f, mag = fabs((double)x[i] * 1.7f) + 0.3;
        cr_assert_leq(fabs(y[i] - t), 2 * 0x1p-24 * mag, "affine i=%zu", i);
    }
    /* gauss and dropout from the raw Philox words, with libm Box-Muller. Element e of the
     * normals is lane e%16 of counter 16*(e/64) + e%16; e/16 % 4 picks cos or sin of the pair
     * (o0,o1) or (o2,o3). The ref reduces the angle exactly, so it may differ from this plain
     * double by one float rounding, or by libm's 6e-17 for cos(pi/2). */
    const uint64_t key = 77, st = 5;
    float *zero = t_alloc(n);
    r.gauss(n, key, st, 100, 1.0f, zero, y);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t o[4];
        uint64_t e = 100 + i, quarter = e / 16 % 4;
        cg_philox4x32(key, st, e / 64 * 16 + e % 16, o);
        uint32_t w1 = quarter < 2 ? o[0] : o[2], w2 = quarter < 2 ? o[1] : o[3];
        double u1 = ((w1 >> 8) + 1.0) / 16777216.0;
        double ang = 6.283185307179586 * (w2 >> 8) / 16777216.0;
        double r2 = sqrt(-2.0 * log(u1));
        double z = quarter % 2 == 0 ? r2 * cos(ang) : r2 * sin(ang);
        cr_assert_leq(fabs(y[i] - z), 0x1p-24 * fabs(z) + 1e-15, "gauss i=%zu: %.9g vs %.17g", i,
                      y[i], z);
    }
    r.dropout(n, key, st, 100, 0.3f, x, y);
    for (size_t i = 0; i < n; i++) {
        uint32_t o[4];
        cg_philox4x32(key, st, 100 + i, o);
        int keep = (double)(o[0] >> 8) / 16777216.0 >= 0.3f;
        kept += (size_t)keep;
        cr_assert_eq(y[i], keep ? x[i] * (1.0f / 0.7f) : 0.0f, "dropout i=%zu", i);
    }
    cr_assert(kept > 0 && kept < n, "dropout kept %zu of %zu", kept, n);
    cg_free(x); cg_free(g); cg_free(y); cg_free(zero);
}
