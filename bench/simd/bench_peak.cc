// Peak FP32 FLOP/s of one core per ISA from an FMA-throughput loop (peak/<isa>), and the
// cached per-process value every peak_fraction counter divides by.
#include <chrono>
#include <cmath>

#include "shim.hpp"
#include "simd/gemm.h"

namespace {

typedef double (*peak_fn)(size_t, float *);

peak_fn peak_for(enum cg_isa isa) {
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case CG_ISA_AVX512: return cg_f32_peak__avx512;
    case CG_ISA_AVX2: return cg_f32_peak__avx2;
#endif
    default: return cg_f32_peak__ref;
    }
}

float g_sink;

double measure(enum cg_isa isa) {
    peak_fn fn = peak_for(isa);
    double best = 0;
    // best of 7 runs of ~2M FMA steps (a few ms each): robust to a busy neighbour
    for (int rep = 0; rep < 7; rep++) {
        auto t0 = std::chrono::steady_clock::now();
        double flop = fn(size_t(1) << 18, &g_sink);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s > 0 && flop / s > best) best = flop / s;
    }
    return best;
}

void bm_peak(benchmark::State &state, enum cg_isa isa) {
    if (!cg_bench_require(state, isa)) return;
    peak_fn fn = peak_for(isa);
    double flop = 0;
    for (auto _ : state) {
        flop = fn(size_t(1) << 16, &g_sink);
        benchmark::DoNotOptimize(g_sink);
    }
    cg_bench_report_flops(state, flop, isa, 1);
}

[[maybe_unused]] int registered = [] {
    for (int isa = CG_ISA_REF; isa <= CG_ISA_AVX512; isa++)
        benchmark::RegisterBenchmark((std::string("peak/") + cg_isa_name(static_cast<cg_isa>(isa))).c_str(),
                                     bm_peak, static_cast<cg_isa>(isa));
    return 0;
}();

}  // namespace

double cg_bench_peak_flops(enum cg_isa isa) {
    static double cache[CG_ISA_AVX512 + 1];
    if (!cg_cpu_has(isa)) isa = CG_ISA_REF;
    if (cache[isa] == 0) cache[isa] = measure(isa);
    return cache[isa];
}
