/* Placeholder until this file is written. */
typedef int cg_placeholder_src_loss_entropy_c;
