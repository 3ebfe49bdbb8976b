/* Shared test helpers (see common.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

void t_fill(float *x, size_t n, float lo, float hi, uint64_t seed) {
    struct cg_rng r;
    cg_rng_seed(&r, seed, 12345);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * cg_rng_uniform(&r);
}

double t_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

double t_max_rel_diff(const float *a, const float *b, size_t n, double floor) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs((double)b[i]);
        if (den < floor) den = floor;
        double d = fabs((double)a[i] - (double)b[i]) / den;
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

double t_dot(const float *a, const float *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)r[i];
    return s;
}

float *t_alloc(size_t count) {
    float *p = cg_malloc(count * sizeof(float) + 64);
    if (!p) {
        fprintf(stderr, "t_alloc: out of memory for %zu floats\n", count);
        abort();
    }
    memset(p, 0, count * sizeof(float) + 64);
    return p;
}

double t_grad_check(t_loss_fn fn, void *ctx, float *x, const float *analytic, size_t n,
                    float h, size_t max_probe) {
    size_t step = 1;
    if (max_probe && n > max_probe) step = n / max_probe;
    double worst = 0;
    for (size_t i = 0; i < n; i += step) {
        float keep = x[i];
        x[i] = keep + h;
        double fp = fn(ctx);
        x[i] = keep - h;
        double fm = fn(ctx);
        x[i] = keep;
        /* the perturbation actually applied in float, not the nominal h */
        double hp = (double)(keep + h) - keep, hm = keep - (double)(keep - h);
        double num = (fp - fm) / (hp + hm);
        double ana = analytic[i];
        double den = fmax(1.0, fmax(fabs(num), fabs(ana)));
        double e = fabs(num - ana) / den;
        if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* Leak checks that fail the test binary (issue 7; STACK.md 3). LeakSanitizer's own exit-time
 * report comes after Criterion's worker has reported its test, so a leak alone would still pass.
 * Aborting from a destructor, which runs when each worker process exits, makes Criterion print
 * "The test `s::t` crashed during its setup or teardown" and exit 1, so meson shows FAIL. LSan
 * suppressions (tests/lsan.supp via LSAN_OPTIONS) apply to this check too. */
#if defined(__SANITIZE_ADDRESS__)
#define T_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_HAVE_LSAN 1
#endif
#endif

#ifdef T_HAVE_LSAN
#include <sanitizer/lsan_interface.h>

__attribute__((destructor)) static void t_leak_check_at_exit(void) {
    /* returns 0 when detect_leaks=0 (the Open MPI case of STACK.md 5) */
    if (__lsan_do_recoverable_leak_check()) {
        fputs("tests/common.c: LeakSanitizer found leaks (report above): failing\n", stderr);
        abort();
    }
}
#endif
