/* Adam (Kingma & Ba, ICLR 2015) exactly as PyTorch's torch.optim.Adam (no weight decay, no
 * amsgrad): bias-corrected, eps added to sqrt(v_hat). */
#ifndef CG_NN_ADAM_H
#define CG_NN_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cg_adam { float lr, beta1, beta2, eps; int64_t t; };

/* lr >= 0, beta1 and beta2 in [0, 1), eps >= 0, all finite; t starts at 0. */
enum cg_status cg_adam_init(struct cg_adam *o, float lr, float beta1, float beta2, float eps);

/* t += 1, then for each of count parameters (m, v: the caller's state, zero at t = 0):
 *   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g^2;
 *   w -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps).
 * Over one flat block; call once per optimisation step. Element-wise, so nt never changes
 * the result. */
void cg_adam_step(struct cg_adam *o, size_t count, float *w, const float *g, float *m,
                  float *v, int nt);

/* avg = decay*avg + (1-decay)*w over count values (an exponential moving average of the
 * weights, Polyak & Juditsky 1992); element-wise, so nt never changes the result. */
void cg_ema_step(size_t count, float *avg, const float *w, float decay, int nt);

#ifdef __cplusplus
}
#endif
#endif
