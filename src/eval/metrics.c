/* Placeholder until this file is written. */
typedef int cg_placeholder_src_eval_metrics_c;
