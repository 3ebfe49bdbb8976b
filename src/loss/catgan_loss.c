/* The CatGAN objectives as losses to minimise (Springenberg, ICLR 2016, eqs. (7)-(9); the
 * supervised term of eq. (9) enters D's minimised loss with a + sign). See docs/objective.md. */
#include <math.h>

#include "loss/loss.h"
#include "simd/kernels.h"

static enum cg_status check_logits(const char *fn, const char *name, const float *z,
                                   const char *nname, int n, int min_n) {
    if (n < min_n)
        return cg_fail_at(CG_ERR_INVALID_ARG, fn, "%s=%d must be >= %d", nname, n, min_n);
    if (n > 0 && !z) return cg_fail_at(CG_ERR_INVALID_ARG, fn, "%s is NULL", name);
    return CG_OK;
}

static enum cg_status check_k(const char *fn, int k) {
    if (k < 2 || k > CG_SOFTMAX_KMAX)
        return cg_fail_at(CG_ERR_INVALID_ARG, fn, "k=%d must be in [2, %d]", k, CG_SOFTMAX_KMAX);
    return CG_OK;
}

int cg_catgan_d_loss(const float *logits_real, int n_real, const float *logits_fake, int n_fake,
                     const float *logits_lab, const int *labels, int n_lab, int k, float lambda,
                     cg_catgan_terms *terms, float *grad_real, float *grad_fake,
                     float *grad_lab) {
    return cg_catgan_d_loss_ex(logits_real, n_real, logits_fake, n_fake, logits_lab, labels,
                               n_lab, k, lambda, 0, terms, grad_real, grad_fake, grad_lab);
}

int cg_catgan_d_loss_ex(const float *logits_real, int n_real, const float *logits_fake,
                        int n_fake, const float *logits_lab, const int *labels, int n_lab, int k,
                        float lambda, int global, cg_catgan_terms *terms, float *grad_real,
                        float *grad_fake, float *grad_lab) {
    enum cg_status st;
    if ((st = check_k(__func__, k)) != CG_OK) return st;
    if ((st = check_logits(__func__, "logits_real", logits_real, "n_real", n_real, 1)) ||
        (st = check_logits(__func__, "logits_fake", logits_fake, "n_fake", n_fake, 1)) ||
        (st = check_logits(__func__, "logits_lab", logits_lab, "n_lab", n_lab, 0)))
        return st;
    if (n_lab > 0 && !labels) return CG_FAIL(CG_ERR_INVALID_ARG, "labels is NULL");
    for (int i = 0; i < n_lab; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return CG_FAIL(CG_ERR_INVALID_ARG, "labels[%d]=%d must be in [0, %d)", i, labels[i],
                           k);
    /* a negative weight would turn the supervised term into the sign bug this loss exists
     * to avoid (docs/objective.md) */
    if (!(lambda >= 0.0f) || isinf(lambda))
        return CG_FAIL(CG_ERR_INVALID_ARG, "lambda=%g must be finite and >= 0", (double)lambda);

    const struct cg_softmax_kernels *kt = &cg_kernels()->softmax;
    double h_real, h_x, h_fake, h_g, ce = 0.0;
    /* real: -H_X + E H[p(y|x)]  (D wants confident, balanced predictions on data) */
    cg_loss_entropies_ex(kt, logits_real, n_real, k, global, 1.0f, -1.0f, &h_real, &h_x,
                         grad_real);
    /* fake: -E H[p(y|G(z))]  (D wants to be uncertain on generated samples); H_G is only
     * reported, it has no gradient in D's loss */
    cg_loss_entropies_ex(kt, logits_fake, n_fake, k, global, -1.0f, 0.0f, &h_fake, &h_g,
                         grad_fake);
    if (n_lab > 0)
        cg_loss_xent_ex(kt, logits_lab, labels, n_lab, k, global, lambda, &ce, grad_lab);
    if (terms) {
        terms->h_x = (float)h_x;
        terms->h_real = (float)h_real;
        terms->h_fake = (float)h_fake;
        terms->h_g = (float)h_g;
        terms->ce = (float)ce;
        terms->d_loss = (float)(-h_x + h_real - h_fake + (double)lambda * ce);
        terms->g_loss = (float)(-h_g + h_fake);
    }
    return CG_OK;
}

int cg_catgan_g_loss(const float *logits_fake, int n_fake, int k, cg_catgan_terms *terms,
                     float *grad_fake) {
    return cg_catgan_g_loss_ex(logits_fake, n_fake, k, 0, terms, grad_fake);
}

int cg_catgan_g_loss_ex(const float *logits_fake, int n_fake, int k, int global,
                        cg_catgan_terms *terms, float *grad_fake) {
    enum cg_status st;
    if ((st = check_k(__func__, k)) != CG_OK) return st;
    if ((st = check_logits(__func__, "logits_fake", logits_fake, "n_fake", n_fake, 1)))
        return st;
    double h_fake, h_g;
    /* G: -H_G + E H[p(y|G(z))]  (samples spread over all classes, each one confidently) */
    cg_loss_entropies_ex(&cg_kernels()->softmax, logits_fake, n_fake, k, global, 1.0f, -1.0f,
                         &h_fake, &h_g, grad_fake);
    if (terms) {
        terms->h_fake = (float)h_fake;
        terms->h_g = (float)h_g;
        terms->g_loss = (float)(-h_g + h_fake);
    }
    return CG_OK;
}
