/* Element-wise kernel selection: every op of src/simd/vec.inc from the best ISA at or below
 * the cap (oneDNN max-ISA style, see dispatch.c). */
#include "simd/vec.h"

void cg_vec_kernels_select(struct cg_vec_kernels *k, enum cg_isa isa) {
    k->isa = CG_ISA_REF;
#define CG_VEC_KERNEL(op, params) k->op = cg_f32_##op##__ref;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL
#if defined(CG_HAVE_X86)
    if (isa >= CG_ISA_AVX2) {
        k->isa = CG_ISA_AVX2;
#define CG_VEC_KERNEL(op, params) k->op = cg_f32_##op##__avx2;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL
    }
    if (isa >= CG_ISA_AVX512) {
        k->isa = CG_ISA_AVX512;
#define CG_VEC_KERNEL(op, params) k->op = cg_f32_##op##__avx512;
#include "simd/vec.inc"
#undef CG_VEC_KERNEL
    }
#else
    (void)isa;
#endif
}
