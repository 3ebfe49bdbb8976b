/* Adam optimiser step (Kingma & Ba 2015) in PyTorch 1.13's form (_single_tensor_adam): the
 * bias corrections are computed once per step in double, the update by the vec kernel. */
#include <math.h>

#include "nn/adam.h"
#include "simd/kernels.h"

#define CHUNK ((size_t)16384)

enum cg_status cg_adam_init(struct cg_adam *o, float lr, float beta1, float beta2, float eps) {
    if (!o) return CG_FAIL(CG_ERR_INVALID_ARG, "o must not be NULL");
    if (!(lr >= 0.0f) || !isfinite(lr))
        return CG_FAIL(CG_ERR_INVALID_ARG, "lr=%g must be finite and >= 0", (double)lr);
    if (!(beta1 >= 0.0f && beta1 < 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "beta1=%g must be in [0, 1)", (double)beta1);
    if (!(beta2 >= 0.0f && beta2 < 1.0f))
        return CG_FAIL(CG_ERR_INVALID_ARG, "beta2=%g must be in [0, 1)", (double)beta2);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return CG_FAIL(CG_ERR_INVALID_ARG, "eps=%g must be finite and >= 0", (double)eps);
    *o = (struct cg_adam){.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps, .t = 0};
    return CG_OK;
}

void cg_adam_step(struct cg_adam *o, size_t count, float *w, const float *g, float *m,
                  float *v, int nt) {
    o->t += 1;
    double t = (double)o->t;
    double bc1 = 1.0 - pow((double)o->beta1, t), bc2 = 1.0 - pow((double)o->beta2, t);
    const struct cg_adam_coef coef = {
        .beta1 = o->beta1,
        .one_minus_beta1 = (float)(1.0 - (double)o->beta1),
        .beta2 = o->beta2,
        .one_minus_beta2 = (float)(1.0 - (double)o->beta2),
        .neg_step = (float)(-(double)o->lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = o->eps,
    };
    const struct cg_vec_kernels *k = &cg_kernels()->vec;
    ptrdiff_t nc = (ptrdiff_t)((count + CHUNK - 1) / CHUNK);
    #pragma omp parallel for schedule(static) num_threads(nt < 1 ? 1 : nt) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        size_t i = (size_t)c * CHUNK, len = count - i < CHUNK ? count - i : CHUNK;
        k->adam(len, &coef, w + i, g + i, m + i, v + i);
    }
}

void cg_ema_step(size_t count, float *avg, const float *w, float decay, int nt) {
    const float keep = decay, take = (float)(1.0 - (double)decay);
    ptrdiff_t nc = (ptrdiff_t)((count + CHUNK - 1) / CHUNK);
    #pragma omp parallel for schedule(static) num_threads(nt < 1 ? 1 : nt) if (nc > 1)
    for (ptrdiff_t c = 0; c < nc; c++) {
        const size_t lo = (size_t)c * CHUNK, hi = count - lo < CHUNK ? count : lo + CHUNK;
        for (size_t i = lo; i < hi; i++) avg[i] = keep * avg[i] + take * w[i];
    }
}
