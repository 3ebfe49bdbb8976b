/* Placeholder: the CatGAN losses (issue 3) replace this. */
#include "core/core.h"

int cg_catgan_d_loss(const float *logits_real, int n_real, const float *logits_fake, int n_fake,
                     const float *logits_lab, const int *labels, int n_lab, int k, float lambda,
                     cg_catgan_terms *terms, float *grad_real, float *grad_fake,
                     float *grad_lab) {
    (void)logits_real; (void)n_real; (void)logits_fake; (void)n_fake; (void)logits_lab;
    (void)labels; (void)n_lab; (void)k; (void)lambda; (void)terms; (void)grad_real;
    (void)grad_fake; (void)grad_lab;
    return CG_FAIL(CG_ERR_INVALID_ARG, "not implemented");
}

int cg_catgan_g_loss(const float *logits_fake, int n_fake, int k, cg_catgan_terms *terms,
                     float *grad_fake) {
    (void)logits_fake; (void)n_fake; (void)k; (void)terms; (void)grad_fake;
    return CG_FAIL(CG_ERR_INVALID_ARG, "not implemented");
}
