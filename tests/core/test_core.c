/* Core services: error messages, arena bounds, checked sizes, Philox known-answer values and
 * thread-count independence of the RNG fills. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common.h"
#include "core/core.h"

Test(status, fail_records_function_and_message) {
    enum cg_status st = CG_FAIL(CG_ERR_INVALID_ARG, "ksize=%d must be > 0", 0);
    cr_assert_eq(st, CG_ERR_INVALID_ARG);
    /* Criterion names the test body <suite>_<name>_impl */
    cr_assert(strstr(cg_last_error(), "fail_records_function_and_message_impl: ") != NULL,
              "%s", cg_last_error());
    cr_assert(strstr(cg_last_error(), ": ksize=0 must be > 0") != NULL);
}

Test(arena, aligned_and_bounded) {
    struct cg_arena a;
    cr_assert_eq(cg_arena_create(&a, 1000), CG_OK);
    void *p = cg_arena_alloc(&a, 10), *q = cg_arena_alloc(&a, 100);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)q % CG_ALIGN, 0);
    cr_assert_eq((unsigned char *)q - (unsigned char *)p, 64);
    cr_assert_null(cg_arena_alloc(&a, 5000));
    cr_assert(strstr(cg_last_error(), "requested") != NULL);
    cr_assert_null(cg_arena_floats(&a, SIZE_MAX / 2));
    cg_arena_destroy(&a);
}

Test(sizes, mul_overflow) {
    size_t out = 7;
    cr_assert(cg_mul_ok(3, 4, &out));
    cr_assert_eq(out, 12);
    cr_assert_not(cg_mul_ok(SIZE_MAX / 2, 3, &out));
    cr_assert_eq(out, 12);
}

/* Known-answer test vectors of Random123 (kat_vectors, philox4x32_10). */
Test(rng, philox_known_answers) {
    uint32_t o[4];
    cg_philox4x32(0, 0, 0, o);
    cr_assert_eq(o[0], 0x6627e8d5u);
    cr_assert_eq(o[1], 0xe169c58du);
    cr_assert_eq(o[2], 0xbc57ac4cu);
    cr_assert_eq(o[3], 0x9b00dbd8u);
    cg_philox4x32(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, o);
    cr_assert_eq(o[0], 0xd16cfe09u);
    cr_assert_eq(o[1], 0x94fdccebu);
    cr_assert_eq(o[2], 0x5001e420u);
    cr_assert_eq(o[3], 0x24126ea1u);
    cg_philox4x32(UINT64_MAX, UINT64_MAX, UINT64_MAX, o);
    cr_assert_eq(o[0], 0x408f276du);
    cr_assert_eq(o[3], 0x6d5451fdu);
}

Test(rng, normal_moments_and_thread_independence) {
    enum { N = 200000 };
    float *a = t_alloc(N), *b = t_alloc(N);
    struct cg_rng r1, r2;
    cg_rng_seed(&r1, 42, 0);
    cg_rng_seed(&r2, 42, 0);
    cg_rng_fill_normal(&r1, a, N, 1.0f, 2.0f, 1);
    cg_rng_fill_normal(&r2, b, N, 1.0f, 2.0f, 2);
    cr_assert_eq(memcmp(a, b, N * sizeof(float)), 0, "1 and 2 threads must draw the same");
    double s = 0, s2 = 0;
    for (int i = 0; i < N; i++) { s += a[i]; s2 += (double)a[i] * a[i]; }
    double mean = s / N, var = s2 / N - mean * mean;
    /* standard error of the mean is 2/sqrt(N) = 0.0045: 5 sigma */
    cr_assert(fabs(mean - 1.0) < 0.023, "mean %f", mean);
    cr_assert(fabs(var - 4.0) < 0.08, "var %f", var);
    cr_assert_eq(r1.ctr, 1, "a fill consumes exactly one counter");
    cg_free(a);
    cg_free(b);
}

Test(rng, below_is_in_range_and_covers) {
    struct cg_rng r;
    cg_rng_seed(&r, 7, 1);
    int seen[7] = {0};
    for (int i = 0; i < 700; i++) {
        uint32_t v = cg_rng_below(&r, 7);
        cr_assert_lt(v, 7u);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++) cr_assert_gt(seen[i], 50);
}
