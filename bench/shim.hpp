// Shim between Google Benchmark and our C kernels: aligned buffers, ISA gating, peak lookup.
#ifndef CG_BENCH_SHIM_HPP
#define CG_BENCH_SHIM_HPP

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

#include "catgan.h"
#include "core/core.h"

// Owned, 64-byte aligned, deterministic random float buffer.
struct cg_bench_buf {
    float *p = nullptr;
    size_t n = 0;
    explicit cg_bench_buf(size_t count, float lo = -1.0f, float hi = 1.0f, uint64_t seed = 1);
    ~cg_bench_buf() { cg_free(p); }
    cg_bench_buf(const cg_bench_buf &) = delete;
    cg_bench_buf &operator=(const cg_bench_buf &) = delete;
};

// Switches the kernel table to `isa`; returns false (and marks the benchmark skipped with an
// error) when the CPU lacks it.
bool cg_bench_require(benchmark::State &state, enum cg_isa isa);

// Peak FP32 FLOP/s of one core for `isa`, measured once per process by bench_peak.cc's FMA
// loop (so every peak_fraction in a run is relative to that same run's peak).
double cg_bench_peak_flops(enum cg_isa isa);

// Sets counters "flops" (rate) and "peak_fraction" (of nthreads x the single-core peak of
// the ISA) from a per-iteration FLOP count. Call after the timing loop.
void cg_bench_report_flops(benchmark::State &state, double flop_per_iter, enum cg_isa isa,
                           int nthreads = 1);

#endif
