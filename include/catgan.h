/* catgan: Categorical GANs (Springenberg, ICLR 2016, arXiv 1511.06390) on CPUs.
 * The only public header. Dimensions, everywhere: n batch, c channels, h w height width,
 * oc output channels, kh kw kernel, oh ow output size, k classes. Tensors are NCHW, row-major. */
#ifndef CATGAN_H
#define CATGAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CG_API __attribute__((visibility("default")))
#else
#define CG_API
#endif

#define CG_VERSION "0.1.0"

enum cg_status {
    CG_OK = 0,
    CG_ERR_INVALID_ARG,
    CG_ERR_OUT_OF_MEMORY,
    CG_ERR_UNSUPPORTED_CPU,
    CG_ERR_IO,
    CG_ERR_NUMERIC,
    CG_ERR_FORMAT /* a file exists but its content is malformed, truncated or of another kind */
};

/* Instruction sets, ordered: a cap allows everything at or below it. */
enum cg_isa { CG_ISA_REF = 0, CG_ISA_AVX2 = 1, CG_ISA_AVX512 = 2 };

struct cg_init_opts {
    int isa_cap;     /* -1: no cap (use the best the CPU has); else an enum cg_isa */
    int ignore_env;  /* 0: the environment variable CG_ISA=ref|avx2|avx512 also caps */
};

/* Chooses the kernels for this CPU. opts may be NULL (no cap, CG_ISA honoured). Call before
 * anything else; calling again re-selects (not thread-safe: only while no kernel runs).
 * Returns CG_ERR_UNSUPPORTED_CPU when a cap names an ISA this CPU lacks, CG_ERR_INVALID_ARG
 * for an unknown CG_ISA value. */
CG_API enum cg_status cg_init(const struct cg_init_opts *opts);
CG_API enum cg_isa cg_isa_active(void);
CG_API const char *cg_isa_name(enum cg_isa isa);       /* "ref", "avx2", "avx512" */
CG_API int cg_isa_parse(const char *s, enum cg_isa *out); /* 0 on success */
CG_API const char *cg_status_str(enum cg_status st);
/* Message of the last failure on this thread: "conv2d_init: ksize=0 must be > 0". */
CG_API const char *cg_last_error(void);

typedef void (*cg_log_fn)(int level, const char *msg, void *user);
CG_API void cg_log_set(cg_log_fn fn, void *user);
CG_API const char *cg_version(void);

/* ---- CatGAN losses (src/loss), eqs. (7)-(9) of the paper ---------------------------------- */
typedef struct cg_catgan_terms {
    float h_x;     /* marginal entropy H[mean_i p(y|x_i)] over the real batch       */
    float h_real;  /* mean conditional entropy over the real batch                  */
    float h_fake;  /* mean conditional entropy over the generated batch             */
    float h_g;     /* marginal entropy over the generated batch                     */
    float ce;      /* mean cross-entropy over the labelled batch (0 when n_lab = 0) */
    float d_loss;  /* -h_x + h_real - h_fake + lambda * ce   (minimised by D)       */
    float g_loss;  /* -h_g + h_fake                          (minimised by G)       */
} cg_catgan_terms;

/* Logits are row-major (n, k). Gradients are d(d_loss)/d(logits), written (not accumulated);
   any gradient pointer may be NULL. labels are in [0, k). Returns 0, or an error code with
   cg_last_error() set, for bad arguments (k < 2, n < 1, a label out of range, NULL data). */
CG_API int cg_catgan_d_loss(const float *logits_real, int n_real,
                            const float *logits_fake, int n_fake,
                            const float *logits_lab, const int *labels, int n_lab,
                            int k, float lambda, cg_catgan_terms *terms,
                            float *grad_real, float *grad_fake, float *grad_lab);
/* Fills terms->h_fake, h_g and g_loss; grad_fake = d(g_loss)/d(logits_fake). */
CG_API int cg_catgan_g_loss(const float *logits_fake, int n_fake, int k,
                            cg_catgan_terms *terms, float *grad_fake);

/* ---- The model (src/nn): G and D of an architecture, Adam, one training iteration --------- */
struct cg_model_config {
    char arch[16];      /* "mlp2d" (2-D points), "pi-mnist" (fully connected), "conv"        */
    int c, h, w;        /* input shape of one example; 2-D points are 2 x 1 x 1              */
    int k;              /* classes (categories) of D, >= 2                                    */
    int batch;          /* B: real unlabelled (and, if labelled, labelled) examples per step */
    int labelled;       /* 1: each step also takes B labelled examples                       */
    float lambda;       /* weight of the supervised cross-entropy                            */
    float lr, beta1, beta2;  /* Adam, for both networks                                      */
    float lr_g;         /* G's Adam step size; 0: lr times the architecture's ratio (1 for
                           conv, 2.5 for pi-mnist, 1/20 for mlp2d: src/nn/arch.c)            */
    float ema;          /* 0: off. In (0,1): evaluation (classify, calibrate) uses an
                           exponential moving average of D's weights, updated after each D
                           step with decay min(ema, (1+t)/(10+t)) at D step t (0.999: about
                           the last 1000 steps); training itself is unchanged             */
    float d_noise;      /* conv only: sigma of Gaussian noise added to the input of each of
                           D's convolutional and dense layers in training (0: none, the
                           CONTRACT.md net); evaluation is noise-free                        */
    uint64_t seed;      /* every random choice of the model derives from it                  */
    int threads;        /* OpenMP threads, >= 1                                               */
};
typedef struct cg_model cg_model;

/* Defaults of CONTRACT.md: conv, 28x28x1, k 10, batch 100, lambda 1, lr 2e-4, beta1 0.5. */
CG_API void cg_model_config_defaults(struct cg_model_config *cfg);
/* Builds both networks and plans every buffer of an iteration in one block (no allocation
 * after this). CG_ERR_INVALID_ARG names the bad field; CG_ERR_OUT_OF_MEMORY gives the bytes. */
CG_API enum cg_status cg_model_create(const struct cg_model_config *cfg, cg_model **out);
CG_API void cg_model_destroy(cg_model *m);
CG_API const struct cg_model_config *cg_model_config_of(const cg_model *m);
CG_API size_t cg_model_bytes(const cg_model *m);     /* the planned block */
CG_API size_t cg_model_param_count(const cg_model *m, int which /* 0 G, 1 D */);
CG_API int64_t cg_model_iteration(const cg_model *m);
/* Scales both Adam steps to scale * their configured values from the next step on (a
 * learning-rate schedule lives in the caller); scale must be finite and >= 0. */
CG_API enum cg_status cg_model_set_lr_scale(cg_model *m, float scale);
/* One training iteration (CONTRACT.md "One training iteration"): x_real (B, c*h*w); x_lab and
 * y_lab (B) only when cfg.labelled. The noise z and every other random draw are functions of
 * (seed, iteration), so a resumed model continues exactly. CG_ERR_NUMERIC (nothing updated
 * after the failing term; the message names the iteration and the term) on a non-finite loss
 * or gradient. terms may be NULL. */
CG_API enum cg_status cg_model_step(cg_model *m, const float *x_real, const float *x_lab,
                                    const int32_t *y_lab, cg_catgan_terms *terms);
/* D in evaluation mode (no noise, batch-norm running statistics; the averaged weights when
 * cfg.ema > 0) on n examples: probs (n, k) and pred (n) may each be NULL. Any n >= 1
 * (processed in chunks of B). */
CG_API enum cg_status cg_model_classify(cg_model *m, const float *x, int n, float *probs,
                                        int32_t *pred);
/* raw = 1: classify and calibrate use D's training weights even when cfg.ema > 0, to compare
 * them with the average; raw = 0 (the state after create and load) the average again. */
CG_API void cg_model_evaluate_raw(cg_model *m, int raw);
/* Sets D's batch-norm running statistics to the average of the clean (noise-free) batch
 * statistics of x's n examples, taken in chunks of B with the current weights; training is
 * unaffected (it uses batch statistics) and a D without batch norm is left as it is. The
 * trainer calls it on the training images before each evaluation. */
CG_API enum cg_status cg_model_calibrate(cg_model *m, const float *x, int n);
/* n samples G(z), z ~ U(-1,1)^128 drawn from seed, into out (n, c*h*w). */
CG_API enum cg_status cg_model_generate(cg_model *m, int n, uint64_t seed, float *out);
/* Per-layer timing (catgan train --profile): on = 1 starts (and resets) it, 0 stops it. It
 * allocates once when turned on; steps stay allocation-free. */
CG_API enum cg_status cg_model_profile(cg_model *m, int on);
/* Writes the table of time per layer and pass (forward, backward-data, backward-weights),
 * loss, optimiser and the caller's data time, with GFLOP/s and share of the iteration, into
 * buf. Returns the length it needed (like snprintf). */
CG_API int cg_model_profile_report(const cg_model *m, double data_seconds, char *buf,
                                   size_t cap);
/* Checkpoints (src/io/checkpoint.c): versioned header, CRC-32, atomic replace (temporary
 * file, fsync, rename, fsync of the directory). meta: a caller string stored verbatim
 * (the CLI keeps its run configuration there as JSON); may be NULL. */
CG_API enum cg_status cg_model_save(const cg_model *m, const char *path, const char *meta);
/* Loads a checkpoint and creates the model with `threads` threads (0: as saved). meta
 * receives the stored string (truncated to meta_cap), may be NULL. */
CG_API enum cg_status cg_model_load(const char *path, int threads, cg_model **out, char *meta,
                                    size_t meta_cap);

#ifdef __cplusplus
}
#endif
#endif /* CATGAN_H */
