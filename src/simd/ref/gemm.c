/* Placeholder until this file is written. */
typedef int cg_placeholder_src_simd_ref_gemm_c;
