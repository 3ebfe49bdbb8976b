/* Row-wise log-softmax / entropy kernels for the CatGAN losses (SLEEF exp/log).
 * (Placeholder table: the loss work defines the entries and their ISA variants.) */
#ifndef CG_SIMD_SOFTMAX_H
#define CG_SIMD_SOFTMAX_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_softmax_kernels {
    enum cg_isa isa;
};
void cg_softmax_kernels_select(struct cg_softmax_kernels *k, enum cg_isa isa);

#ifdef __cplusplus
}
#endif
#endif
