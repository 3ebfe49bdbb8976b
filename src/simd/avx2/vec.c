/* Placeholder until this file is written. */
typedef int cg_placeholder_src_simd_avx2_vec_c;
