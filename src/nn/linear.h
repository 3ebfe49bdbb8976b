/* Fully connected layer: y(n,out) = x(n,in) w(out,in)^T + b(out), through the threaded GEMM
 * (weights stored like PyTorch's nn.Linear). */
#ifndef CG_NN_LINEAR_H
#define CG_NN_LINEAR_H

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_linear { int in, out, nt; };

/* Validates in, out, nt > 0 and that in*out fits a size_t. */
enum cg_status cg_linear_init(struct cg_linear *p, int in, int out, int nt);

/* x:(n,in) w:(out,in) b:(out) or NULL -> y:(n,out), written. y must not alias x or w.
 * Bit-identical for any nt (the GEMM partitions only the output). */
void cg_linear_forward(const struct cg_linear *p, int n, const float *x, const float *w,
                       const float *b, float *y);

/* dy:(n,out). Accumulates dx:(n,in) += dy w, dw:(out,in) += dy^T x, db:(out) += sum_n dy.
 * A NULL output is not computed. No output may alias an input. */
void cg_linear_backward(const struct cg_linear *p, int n, const float *dy, const float *x,
                        const float *w, float *dx, float *dw, float *db);

#ifdef __cplusplus
}
#endif
#endif
