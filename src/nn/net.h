/* A sequential network of the engine's layers: built from a small spec, planned once, then
 * forward/backward over caller-planned activation storage (llm.c style, no graph runtime). */
#ifndef CG_NN_NET_H
#define CG_NN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "nn/act.h"
#include "nn/adam.h"
#include "nn/batchnorm.h"
#include "nn/conv2d.h"
#include "nn/lift.h"
#include "nn/linear.h"
#include "nn/noise.h"
#include "nn/pool.h"
#include "nn/upconv2d.h"
#include "nn/upsample.h"

#define CG_NET_MAX 48

enum cg_layer_kind {
    CG_LAYER_LINEAR, CG_LAYER_CONV, CG_LAYER_MAXPOOL, CG_LAYER_UPSAMPLE, CG_LAYER_BN,
    CG_LAYER_LRELU, CG_LAYER_SIGMOID, CG_LAYER_NOISE, CG_LAYER_UPCONV, CG_LAYER_RLIFT
};

struct cg_layer {
    enum cg_layer_kind kind;
    int c, h, w;          /* input shape of one example */
    int oc, oh, ow;       /* output shape */
    size_t in_size, out_size;
    union {
        struct cg_linear lin;
        struct cg_conv2d conv;
        struct cg_maxpool pool;
        struct cg_upsample up;
        struct cg_batchnorm bn;
        struct cg_upconv2d upconv;
        struct cg_radial_lift rlift;
    } u;
    float slope;          /* leaky ReLU */
    float sigma;          /* Gaussian noise */
    float init_scale;     /* 0: He-normal as is; else its weights times this at init */
    size_t w_off, b_off;  /* weights/gamma and bias/beta in the param block */
    size_t nw, nb;
    size_t st_off;        /* BN (radial lift) running mean (c, 1) then var in the state block */
    int in_place;         /* activation overwrites its input (leaky ReLU) */
};

/* Per-layer wall time, filled only when a net has one attached (catgan train --profile). */
struct cg_net_prof {
    double fwd[CG_NET_MAX], bwd_data[CG_NET_MAX], bwd_w[CG_NET_MAX];
    /* examples processed by each pass (a backward may skip dx or dw) */
    int64_t n_fwd[CG_NET_MAX], n_bwd_data[CG_NET_MAX], n_bwd_w[CG_NET_MAX];
};

struct cg_net {
    struct cg_net_prof *prof;   /* NULL: no timing (the default) */
    int nlayers;
    struct cg_layer L[CG_NET_MAX];
    int in_c, in_h, in_w;
    size_t in_size, out_size, max_size;   /* per example; max over every activation */
    size_t nparams, nstate;
    int nt;
    /* Data parallel (docs/mpi.md); zero (off) unless the model turns it on for a step. With
     * sync set, n examples are this rank's shard of ranks * n: training-mode batch norm sums
     * its statistics over the ranks (src/dist) through sync_buf (2 * cg_net_bn_max_c doubles),
     * and noise layers draw the counters of global examples ex0, ex0 + 1, ... */
    int sync, ranks;
    int64_t ex0;
    double *sync_buf;
    /* When set, called as soon as layer i's weight gradient is final in a backward with
     * dw != NULL (the model starts that layer's gradient sum there). */
    void (*grad_ready)(void *user, int layer);
    void *grad_user;
};

/* Parameters of one network: weights, gradients and Adam moments, one block (views). */
struct cg_params { size_t n; float *w, *g, *m, *v; };

/* The stored activations of one forward pass, kept for its backward. */
struct cg_pass {
    float *act[CG_NET_MAX + 1];          /* act[0] input, act[i+1] output of layer i */
    float *mean[CG_NET_MAX], *rstd[CG_NET_MAX];
    int32_t *argmax[CG_NET_MAX];
};

/* Nominal FLOPs of one example through layer l, forward (backward-data and backward-weights
 * each cost the same for conv and linear layers; 0 for memory-bound layers). */
double cg_layer_flops(const struct cg_layer *l);
/* "conv5x5 64->64 28x28" */
void cg_layer_describe(const struct cg_layer *l, char *buf, size_t cap);

/* Building: start with the input shape, then append layers; every append validates. */
void cg_net_begin(struct cg_net *net, int c, int h, int w, int nt);
enum cg_status cg_net_linear(struct cg_net *net, int out);
enum cg_status cg_net_conv(struct cg_net *net, int oc, int ksize, int stride, int pad);
enum cg_status cg_net_maxpool(struct cg_net *net, int k, int stride, int pad);
enum cg_status cg_net_upsample(struct cg_net *net, int scale);
/* Nearest upsample x2 and a same-padding conv, fused (the same function, 2.8x fewer FLOPs). */
enum cg_status cg_net_upconv(struct cg_net *net, int oc, int ksize);
enum cg_status cg_net_bn(struct cg_net *net);
enum cg_status cg_net_lrelu(struct cg_net *net, float slope);
enum cg_status cg_net_sigmoid(struct cg_net *net);
enum cg_status cg_net_noise(struct cg_net *net, float sigma);
/* Appends the batch-normalised squared norm of the current features, times scale (nn/lift.h):
 * c*h*w -> c*h*w + 1 features. */
enum cg_status cg_net_radial_lift(struct cg_net *net, float scale);
/* Scales the initial weights of the last layer (linear, conv) by s > 0 (cg_net_init_params). */
enum cg_status cg_net_init_scale(struct cg_net *net, float s);
/* Reshapes the current (c,h,w) to (c2,h2,w2) of the same size (a view, no layer). */
enum cg_status cg_net_reshape(struct cg_net *net, int c, int h, int w);

/* Bytes a pass of n examples needs (cg_net_pass_bind carves them from mem). */
size_t cg_net_pass_bytes(const struct cg_net *net, int n);
void cg_net_pass_bind(const struct cg_net *net, int n, struct cg_pass *p, unsigned char *mem);
size_t cg_net_ws_bytes(const struct cg_net *net, int n);

/* Channels of the widest batch-norm layer, at least 1 with a radial lift (its two sums), 0
 * with neither: sizes the buffer of the sums that data parallelism adds over ranks. */
size_t cg_net_bn_max_c(const struct cg_net *net);

/* He-normal (fan-in, leaky-ReLU gain) weights (times a layer's init_scale), zero biases, BN
 * gamma 1 beta 0, running var 1; a radial lift's running mean d and var 2d (|x|^2 of N(0, I)). */
void cg_net_init_params(const struct cg_net *net, float *w, float *state, uint64_t seed);

/* Forward n examples from p->act[0]. train: batch-norm batch statistics (running stats
 * updated in `state` when update_stats), noise drawn from (key, stream ^ layer). */
void cg_net_forward(const struct cg_net *net, int n, struct cg_pass *p, const float *w,
                    float *state, int train, int update_stats, uint64_t key, uint64_t stream,
                    void *ws);
/* The same through layers [0, upto) only: p->act[upto] is layer upto's input. */
void cg_net_forward_to(const struct cg_net *net, int n, struct cg_pass *p, const float *w,
                       float *state, int train, int update_stats, uint64_t key,
                       uint64_t stream, void *ws, int upto);
/* Backward from dout (n x out_size, consumed as scratch). dw (param grads, accumulated) may
 * be NULL: no weight gradient is computed. din (n x in_size, accumulated) may be NULL.
 * gbuf: two scratch buffers of n x max_size floats. */
void cg_net_backward(const struct cg_net *net, int n, struct cg_pass *p, const float *w,
                     float *dout, float *dw, float *din, float *gbuf[2], void *ws);

#endif
