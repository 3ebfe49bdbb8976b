/* Softmax/entropy kernel selection: the best registry entry at or below the ISA cap
 * (oneDNN-style max ISA; see simd/softmax.h for the registry). */
#include "simd/softmax.h"

void cg_softmax_kernels_select(struct cg_softmax_kernels *k, enum cg_isa isa) {
    struct cg_softmax_kernels r = {CG_ISA_REF, cg_f32_rowent__ref, cg_f32_rowent_grad__ref,
                                   cg_f32_xent__ref};
#ifdef CG_HAVE_X86
    if (isa >= CG_ISA_AVX512) {
        r = (struct cg_softmax_kernels){CG_ISA_AVX512, cg_f32_rowent__avx512,
                                        cg_f32_rowent_grad__avx512, cg_f32_xent__avx512};
    } else if (isa >= CG_ISA_AVX2) {
        r = (struct cg_softmax_kernels){CG_ISA_AVX2, cg_f32_rowent__avx2,
                                        cg_f32_rowent_grad__avx2, cg_f32_xent__avx2};
    }
#else
    (void)isa;
#endif
    *k = r;
}
