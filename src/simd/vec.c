/* Element-wise kernel selection. */
#include "simd/vec.h"

void cg_vec_kernels_select(struct cg_vec_kernels *k, enum cg_isa isa) { k->isa = isa; }
