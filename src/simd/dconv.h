/* Direct-convolution kernels for layers with few output channels (G's 64->1 output conv),
 * where a GEMM would have m = 1: each output row chunk keeps its sums in registers over all
 * taps (one load and one multiply-add per tap and vector). Registry: src/simd/dconv.inc. */
#ifndef CG_SIMD_DCONV_H
#define CG_SIMD_DCONV_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The widest row chunk taps handles: n <= CG_TAPS_MAX_N. */
#define CG_TAPS_MAX_N 32

/*  taps  for r < rows, j < n:  y[r*ldy + j] += sum_{t < ntaps} w[t] * src[r*lds + off[t] + j]
 *        (offsets may be negative: the adjoint reads backwards); n <= CG_TAPS_MAX_N
 *  dots  for t < ntaps:  out[t] += sum_{q < n} g[q] * x[off[t] + q]
 *  padrows  for r < rows: dst[r*ld_out + (0..ld_out)] = lpad zeros, src[r*lds + (0..n)], then
 *        zeros up to ld_out (lpad + n <= ld_out): one zero-padded row per input row
 *  maxpool3s2  n interior outputs of a 3x3 stride-2 max pool: output i's window is rows
 *        x[0..3) (w floats apart) and columns [2i, 2i+3); y[i] = its first maximum in
 *        row-major order (v is taken over m when !(v <= m) and v is not NaN, so NaN wins only
 *        an all-NaN window), am[i] = idx0 + 2i + its offset ki*w + kj. Bit-exact across ISAs.
 * The ref sums in tap (resp. q) order without FMA; the SIMD variants use FMA and lane-wise
 * partial sums, so they agree with ref to rounding, not bit for bit. Reads only the elements
 * named above (masked tails): no slack is needed past the rows. */
#define CG_DCONV_KERNEL(op, params) void cg_f32_##op##__ref params;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL
#define CG_DCONV_KERNEL(op, params) void cg_f32_##op##__avx2 params;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL
#define CG_DCONV_KERNEL(op, params) void cg_f32_##op##__avx512 params;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL

struct cg_dconv_kernels {
    enum cg_isa isa;
#define CG_DCONV_KERNEL(op, params) void(*op) params;
#include "simd/dconv.inc"
#undef CG_DCONV_KERNEL
};

/* Fills k with the best variant at or below isa (the caller checked the CPU has isa). */
void cg_dconv_kernels_select(struct cg_dconv_kernels *k, enum cg_isa isa);

#ifdef __cplusplus
}
#endif
#endif
