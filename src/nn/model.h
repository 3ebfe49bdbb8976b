/* The CatGAN model: G and D networks for an architecture, their parameters and Adam state, and
 * every buffer of a training iteration, planned once at create time (STYLE.md section 7). */
#ifndef CG_NN_MODEL_H
#define CG_NN_MODEL_H

#include "nn/net.h"

#define CG_ZDIM 128

struct cg_model {
    struct cg_model_config cfg;
    char arch[16];
    struct cg_net g, d;
    struct cg_params pg, pd;
    float *state_g, *state_d;          /* batch-norm running statistics */
    float *ema_d;                      /* cfg.ema > 0: the moving average of pd.w, else NULL */
    int eval_raw;                      /* cg_model_evaluate_raw: evaluate pd.w despite ema_d */
    struct cg_adam opt_g, opt_d;
    uint64_t key;                      /* Philox key derived from the seed */
    int64_t iter;                      /* completed training iterations */
    /* one iteration's storage */
    struct cg_pass pass_g, pass_real, pass_fake, pass_lab;
    float *dlogits_real, *dlogits_fake, *dlogits_lab, *dx_fake;
    float *gbuf[2];
    int32_t *labels;
    void *ws;
    unsigned char *block;              /* everything above lives here */
    struct cg_net_prof *prof;          /* G's then D's layer times (--profile), or NULL */
    double t_loss, t_adam;
    int64_t prof_iter0;
    size_t block_bytes;
    /* data parallel (docs/mpi.md): this process is rank `rank` of `ranks` (src/dist, read at
     * create time) and computes nb = B / ranks examples of each global batch of B */
    int rank, ranks, nb;
    double *sync_buf;                  /* batch-norm statistics summed over the ranks */
    struct cg_dist_reqs *reqs;         /* the gradient sums in flight */
    double t_grad_wait, t_comm0;       /* --profile: waiting for gradient sums; cg_dist_seconds
                                          when profiling started */
};

/* Builds the two networks of cfg->arch for a (c,h,w) input with k classes; d_noise > 0 (conv
 * only) puts Gaussian noise of that sigma before each of D's conv and dense layers. */
enum cg_status cg_model_build_nets(const char *arch, int c, int h, int w, int k, float d_noise,
                                   int nt, struct cg_net *g, struct cg_net *d);

/* Adam step of G relative to D's for an architecture (two time-scales, see arch.c). */
float cg_model_g_lr_ratio(const char *arch);
/* 1 when none of x[0..n) is Inf or NaN (nt threads); the step's gradient check. */
int cg_all_finite(const float *x, size_t n, int nt);

#endif
