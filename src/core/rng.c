/* Philox4x32-10 counter-based RNG (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy
 * as 1, 2, 3", SC'11). Counter-based so that draws are independent of the thread count. */
#include <math.h>

#include "core/core.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void cg_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32);
    uint32_t c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static inline float u24(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

float cg_rng_uniform_at(uint64_t key, uint64_t stream, uint64_t idx) {
    uint32_t o[4];
    cg_philox4x32(key, stream, idx, o);
    return u24(o[0]);
}

/* Box-Muller on two 32-bit draws of the same counter; (0,1] for the log keeps it finite. */
static inline float box_muller(uint32_t a, uint32_t b) {
    double u1 = ((double)a + 1.0) * (1.0 / 4294967296.0);
    double u2 = (double)b * (1.0 / 4294967296.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float cg_rng_normal_at(uint64_t key, uint64_t stream, uint64_t idx) {
    uint32_t o[4];
    cg_philox4x32(key, stream, idx, o);
    return box_muller(o[0], o[1]);
}

/* Element e of block b = e/64 is lane l = e%16 of counter 16b + l, quarter q = (e/16)%4: the
 * cosine (q even) or sine (q odd) of the Box-Muller pair made of words (o0,o1) for q < 2 and
 * (o2,o3) for q >= 2. So one draw gives four values and 16 lanes fill four vectors, where
 * cg_rng_normal_at pays a draw and a double log and cos for each value. The uniforms have 24
 * bits, exact in float, so the SIMD kernels work in float: |z| <= sqrt(2 ln 2^24) = 5.77. */
float cg_rng_gauss_at(uint64_t key, uint64_t stream, uint64_t e) {
    uint32_t o[4];
    unsigned q = (unsigned)(e >> 4) & 3u;
    cg_philox4x32(key, stream, (e >> 6) * 16u + (e & 15u), o);
    uint32_t a = o[q & 2u], b = o[(q & 2u) + 1u] >> 8;
    double r = sqrt(-2.0 * log((double)((a >> 8) + 1u) * 0x1p-24));
    /* the angle pi*b/2^23 is k quarter turns (k = b >> 22) plus f < pi/2: reduced exactly, as
     * sincospi does, so quarter turns give exact zeros where libm's cos(pi/2) gives 6e-17 */
    double f = 3.141592653589793 * (double)(b & 0x3FFFFFu) * 0x1p-23;
    const double c = cos(f), s = sin(f), rot[4] = {c, s, -c, -s};
    /* turning by k quarter turns: cos is rot[(4-k)%4], sin is rot[(5-k)%4] */
    const unsigned k = b >> 22;
    return (float)(r * rot[((q & 1u) ? 5u - k : 4u - k) & 3u]);
}

void cg_rng_seed(struct cg_rng *r, uint64_t seed, uint64_t stream) {
    /* splitmix64 scrambles small seeds into well-spread keys */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    r->key = z ^ (z >> 31);
    r->stream = stream;
    r->ctr = 0;
}

uint32_t cg_rng_u32(struct cg_rng *r) {
    uint32_t o[4];
    cg_philox4x32(r->key, r->stream, r->ctr++, o);
    return o[0];
}

uint32_t cg_rng_below(struct cg_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    uint32_t lim = (uint32_t)(-n) % n; /* reject the low 2^32 mod n values: unbiased */
    for (;;) {
        uint32_t x = cg_rng_u32(r);
        if (x >= lim) return x % n;
    }
}

float cg_rng_uniform(struct cg_rng *r) { return u24(cg_rng_u32(r)); }

float cg_rng_normal(struct cg_rng *r) {
    uint32_t o[4];
    cg_philox4x32(r->key, r->stream, r->ctr++, o);
    return box_muller(o[0], o[1]);
}

/* A fill consumes one counter of r and uses it as the stream id of a fresh sub-stream, so
 * element i is a pure function of (key, that counter, i). */
static uint64_t substream(struct cg_rng *r) {
    uint32_t o[4];
    cg_philox4x32(r->key, r->stream, r->ctr++, o);
    return ((uint64_t)o[0] << 32 | o[1]) | 1ull << 63;
}

void cg_rng_fill_uniform_at(uint64_t key, uint64_t stream, float *x, size_t n, float lo,
                            float hi, int nt) {
    float span = hi - lo;
    #pragma omp parallel for schedule(static) num_threads(nt) if (n > CG_PAR_MIN)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++)
        x[i] = lo + span * cg_rng_uniform_at(key, stream, (uint64_t)i);
}

void cg_rng_fill_uniform(struct cg_rng *r, float *x, size_t n, float lo, float hi, int nt) {
    uint64_t s = substream(r);
    cg_rng_fill_uniform_at(r->key, s, x, n, lo, hi, nt);
}

void cg_rng_fill_normal(struct cg_rng *r, float *x, size_t n, float mean, float std, int nt) {
    uint64_t s = substream(r), key = r->key;
    #pragma omp parallel for schedule(static) num_threads(nt) if (n > CG_PAR_MIN)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++)
        x[i] = mean + std * cg_rng_normal_at(key, s, (uint64_t)i);
}
