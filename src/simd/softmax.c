/* Softmax kernel selection. */
#include "simd/softmax.h"

void cg_softmax_kernels_select(struct cg_softmax_kernels *k, enum cg_isa isa) { k->isa = isa; }
