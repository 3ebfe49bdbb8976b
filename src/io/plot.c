/* Placeholder until this file is written. */
typedef int cg_placeholder_src_io_plot_c;
