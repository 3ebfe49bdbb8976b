/* The kernel table: one read-only struct filled by cg_init() from the CPU and the ISA cap.
 * nn/ and loss/ reach SIMD code only through cg_kernels(). Each family header defines its
 * own sub-table and a selector that picks the best entry at or below an ISA. */
#ifndef CG_SIMD_KERNELS_H
#define CG_SIMD_KERNELS_H

#include "core/core.h"
#include "simd/gemm.h"
#include "simd/vec.h"
#include "simd/softmax.h"
#include "simd/dconv.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_kernels {
    enum cg_isa isa;
    struct cg_gemm_kernels gemm;
    struct cg_vec_kernels vec;
    struct cg_softmax_kernels softmax;
    struct cg_dconv_kernels dconv;
};

/* The active table; initialises with cg_init(NULL) on first use. */
const struct cg_kernels *cg_kernels(void);

#ifdef __cplusplus
}
#endif
#endif
