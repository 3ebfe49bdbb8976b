/* Direct-convolution kernel selection: the best ISA at or below the cap (see dispatch.c). */
#include "simd/dconv.h"

void cg_dconv_kernels_select(struct cg_dconv_kernels *k, enum cg_isa isa) {
    k->isa = CG_ISA_REF;
#define CG_DCONV_KERNEL(op, params) k->op = cg_f32_##op##__ref;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL
#if defined(CG_HAVE_X86)
    if (isa >= CG_ISA_AVX2) {
        k->isa = CG_ISA_AVX2;
#define CG_DCONV_KERNEL(op, params) k->op = cg_f32_##op##__avx2;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL
    }
    if (isa >= CG_ISA_AVX512) {
        k->isa = CG_ISA_AVX512;
#define CG_DCONV_KERNEL(op, params) k->op = cg_f32_##op##__avx512;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL
    }
#else
    (void)isa;
#endif
}
