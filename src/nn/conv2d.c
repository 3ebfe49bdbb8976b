/* Placeholder until this file is written. */
typedef int cg_placeholder_src_nn_conv2d_c;
