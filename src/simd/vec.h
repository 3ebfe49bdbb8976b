/* Element-wise kernels the layers need (bias, activations, batch norm, Adam, noise).
 * (Placeholder table: the element-wise work defines the entries and their ISA variants.) */
#ifndef CG_SIMD_VEC_H
#define CG_SIMD_VEC_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_vec_kernels {
    enum cg_isa isa;
};
void cg_vec_kernels_select(struct cg_vec_kernels *k, enum cg_isa isa);

#ifdef __cplusplus
}
#endif
#endif
