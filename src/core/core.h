/* Internal core services: error reporting, arena, checked sizes, counter-based RNG, CPU
 * features. Every src/ file may include this; nothing here depends on other src/ folders. */
#ifndef CG_CORE_H
#define CG_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catgan.h"

#ifdef __cplusplus
#define CG_RESTRICT __restrict
extern "C" {
#else
#define CG_RESTRICT restrict
#endif

/* ---- status.c ---------------------------------------------------------------------------- */
/* Records "func: message" as this thread's last error and returns st. */
enum cg_status cg_fail_at(enum cg_status st, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define CG_FAIL(st, ...) cg_fail_at((st), __func__, __VA_ARGS__)
/* Log through the user's hook (cg_log_set); silent when none is set. level: 0 info, 1 warn. */
void cg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- sizes ------------------------------------------------------------------------------- */
/* *out = a * b; false (and *out untouched) on overflow. */
static inline bool cg_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}
#define CG_ALIGN 64

/* Element-wise loops over fewer floats than this stay on the calling thread: waking an
 * OpenMP team with passive waiting costs ~10-50 us, more than the loop itself (D's 1x1 conv
 * backward, 49K floats, ran 14% faster at 2 threads without the team). */
#define CG_PAR_MIN 65536
static inline size_t cg_align_up(size_t x) { return (x + CG_ALIGN - 1) & ~(size_t)(CG_ALIGN - 1); }

/* ---- arena.c: bump allocator, 64-byte aligned; planned once, never freed piecemeal ------- */
struct cg_arena { unsigned char *base; size_t cap, used; };
enum cg_status cg_arena_create(struct cg_arena *a, size_t cap);  /* zero-filled block */
void *cg_arena_alloc(struct cg_arena *a, size_t bytes);           /* NULL + last error */
float *cg_arena_floats(struct cg_arena *a, size_t count);         /* NULL + last error */
void cg_arena_destroy(struct cg_arena *a);
/* Aligned heap block for the few allocations outside an arena; free with cg_free. */
void *cg_malloc(size_t bytes);
void cg_free(void *p);

/* ---- rng.c: Philox4x32-10 (Salmon et al., SC'11). A value depends only on (key, counter),
 * so any thread can draw element i of a stream and the result does not depend on threads. */
void cg_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4]);
/* Uniform in [0,1) (24 bits) and standard normal (Box-Muller) for element idx of stream. */
float cg_rng_uniform_at(uint64_t key, uint64_t stream, uint64_t idx);
float cg_rng_normal_at(uint64_t key, uint64_t stream, uint64_t idx);
/* Standard normal e of the noise layers' stream: four per Philox draw, in blocks of 64 that
 * suit 16 SIMD lanes (rng.c has the layout). cg_rng_normal_at spends one draw per value. */
float cg_rng_gauss_at(uint64_t key, uint64_t stream, uint64_t e);
/* Sequential generator whose whole state is (key, counter): trivial to checkpoint. */
struct cg_rng { uint64_t key, stream, ctr; };
void cg_rng_seed(struct cg_rng *r, uint64_t seed, uint64_t stream);
uint32_t cg_rng_u32(struct cg_rng *r);
uint32_t cg_rng_below(struct cg_rng *r, uint32_t n);  /* uniform in [0, n), unbiased */
float cg_rng_uniform(struct cg_rng *r);                 /* [0, 1) */
float cg_rng_normal(struct cg_rng *r);
/* Fills x[0..n) with U(lo,hi) / N(mean,std) as elements [0,n) of a fresh stream drawn from r;
 * OpenMP-parallel over n with nt threads, identical results for any nt. */
void cg_rng_fill_uniform(struct cg_rng *r, float *x, size_t n, float lo, float hi, int nt);
void cg_rng_fill_normal(struct cg_rng *r, float *x, size_t n, float mean, float std, int nt);
/* x[i] = U(lo,hi) as element i of (key, stream): the draws of a caller that names its streams
 * (the model's per-iteration noise z), identical for any nt. */
void cg_rng_fill_uniform_at(uint64_t key, uint64_t stream, float *x, size_t n, float lo,
                            float hi, int nt);

/* ---- cpu.c ------------------------------------------------------------------------------- */
bool cg_cpu_has(enum cg_isa isa);   /* the CPU (and OS) supports it; REF is always true */
enum cg_isa cg_cpu_best(void);
const char *cg_cpu_model(void);     /* "AMD EPYC ..." from /proc/cpuinfo, or "unknown" */
double cg_seconds(void);            /* monotonic clock, for timing */

#ifdef __cplusplus
}
#endif
#endif /* CG_CORE_H */
