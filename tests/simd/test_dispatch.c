/* ISA selection: the cap, CG_ISA, and refusal of an ISA the CPU lacks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "simd/kernels.h"

Test(dispatch, cap_selects_each_available_isa) {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++) {
        struct cg_init_opts o = {.isa_cap = isa, .ignore_env = 1};
        enum cg_status st = cg_init(&o);
        if (!cg_cpu_has((enum cg_isa)isa)) {
            cr_assert_eq(st, CG_ERR_UNSUPPORTED_CPU);
            continue;
        }
        cr_assert_eq(st, CG_OK, "%s", cg_last_error());
        cr_assert_eq(cg_isa_active(), (enum cg_isa)isa);
        cr_assert_eq(cg_kernels()->gemm.isa <= (enum cg_isa)isa, 1);
    }
}

Test(dispatch, env_caps_and_rejects_garbage) {
    setenv("CG_ISA", "ref", 1);
    cr_assert_eq(cg_init(NULL), CG_OK);
    cr_assert_eq(cg_isa_active(), CG_ISA_REF);
    setenv("CG_ISA", "sse9", 1);
    cr_assert_eq(cg_init(NULL), CG_ERR_INVALID_ARG);
    cr_assert(strstr(cg_last_error(), "CG_ISA=sse9") != NULL);
    unsetenv("CG_ISA");
    cr_assert_eq(cg_init(NULL), CG_OK);
    cr_assert_eq(cg_isa_active(), cg_cpu_best());
}

Test(dispatch, parse_and_names_round_trip) {
    enum cg_isa e;
    cr_assert_eq(cg_isa_parse("avx2", &e), 0);
    cr_assert_eq(e, CG_ISA_AVX2);
    cr_assert_str_eq(cg_isa_name(CG_ISA_AVX512), "avx512");
    cr_assert_neq(cg_isa_parse("AVX2", &e), 0);
}
