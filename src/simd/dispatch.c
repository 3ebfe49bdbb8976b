/* Runtime ISA selection (oneDNN-style max-ISA cap): cg_init fills the kernel table once. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "simd/kernels.h"

static struct cg_kernels table;
/* Set (release) once table is filled. A kernel's first caller may be inside an OpenMP region:
 * without the once-guard every thread ran cg_init and grew the GEMM pool twice (a race that
 * LeakSanitizer caught as a leaked pool in the maxpool test). */
static atomic_int table_ready;
static once_flag lazy_once = ONCE_FLAG_INIT;

const char *cg_isa_name(enum cg_isa isa) {
    switch (isa) {
    case CG_ISA_REF: return "ref";
    case CG_ISA_AVX2: return "avx2";
    case CG_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

int cg_isa_parse(const char *s, enum cg_isa *out) {
    static const enum cg_isa all[] = {CG_ISA_REF, CG_ISA_AVX2, CG_ISA_AVX512};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (s && strcmp(s, cg_isa_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

static enum cg_status select_isa(const struct cg_init_opts *opts, enum cg_isa *isa) {
    enum cg_isa best = cg_cpu_best(), want = best;
    if (opts && opts->isa_cap >= 0) {
        if (opts->isa_cap > CG_ISA_AVX512)
            return CG_FAIL(CG_ERR_INVALID_ARG, "isa_cap=%d is not an ISA", opts->isa_cap);
        want = (enum cg_isa)opts->isa_cap;
    }
    const char *env = (opts && opts->ignore_env) ? NULL : getenv("CG_ISA");
    if (env && *env) {
        enum cg_isa e;
        if (cg_isa_parse(env, &e) != 0)
            return CG_FAIL(CG_ERR_INVALID_ARG, "CG_ISA=%s: expected ref, avx2 or avx512", env);
        if (e < want) want = e;
    }
    if (!cg_cpu_has(want))
        return CG_FAIL(CG_ERR_UNSUPPORTED_CPU, "this CPU lacks %s (best: %s)", cg_isa_name(want),
                       cg_isa_name(best));
    *isa = want;
    return CG_OK;
}

enum cg_status cg_init(const struct cg_init_opts *opts) {
    enum cg_isa isa = CG_ISA_REF;
    enum cg_status st = select_isa(opts, &isa);
    if (st != CG_OK) return st;
    struct cg_kernels k = {.isa = isa};
    cg_gemm_kernels_select(&k.gemm, isa);
    cg_vec_kernels_select(&k.vec, isa);
    cg_softmax_kernels_select(&k.softmax, isa);
    cg_dconv_kernels_select(&k.dconv, isa);
    table = k;
    atomic_store_explicit(&table_ready, 1, memory_order_release);
    return CG_OK;
}

enum cg_isa cg_isa_active(void) { return cg_kernels()->isa; }

static void lazy_init(void) {
    if (atomic_load_explicit(&table_ready, memory_order_acquire)) return;
    if (cg_init(NULL) != CG_OK) {
        /* CG_ISA was bad: fall back to the portable path rather than run with no kernels */
        struct cg_init_opts o = {.isa_cap = CG_ISA_REF, .ignore_env = 1};
        cg_init(&o);
    }
}

const struct cg_kernels *cg_kernels(void) {
    if (!atomic_load_explicit(&table_ready, memory_order_acquire)) call_once(&lazy_once, lazy_init);
    return &table;
}
