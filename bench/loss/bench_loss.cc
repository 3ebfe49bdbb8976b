// CatGAN loss benchmarks (issue 3): cg_catgan_d_loss / cg_catgan_g_loss with every gradient,
// per ISA (ref = the scalar libm path). Names: loss/{d,g}/<isa>/<n>x<k>[/threads:2];
// counter s_per_row = seconds per row of logits (d: n real + n fake rows, g: n fake rows).
#include <omp.h>

#include <string>
#include <vector>

#include "shim.hpp"

namespace {

void bm_loss(benchmark::State &state, enum cg_isa isa, bool d, int n, int k, int nt) {
    if (!cg_bench_require(state, isa)) return;
    size_t sz = size_t(n) * size_t(k);
    cg_bench_buf real(sz, -4.0f, 4.0f, 1), fake(sz, -4.0f, 4.0f, 2), gr(sz), gf(sz);
    cg_catgan_terms t;
    int keep = omp_get_max_threads();
    omp_set_num_threads(nt);
    for (auto _ : state) {
        int st = d ? cg_catgan_d_loss(real.p, n, fake.p, n, nullptr, nullptr, 0, k, 1.0f, &t,
                                      gr.p, gf.p, nullptr)
                   : cg_catgan_g_loss(fake.p, n, k, &t, gf.p);
        if (st != 0) {
            state.SkipWithError(cg_last_error());
            break;
        }
        benchmark::DoNotOptimize(t);
        benchmark::ClobberMemory();
    }
    omp_set_num_threads(keep);
    double rows = d ? 2.0 * n : double(n);
    state.counters["s_per_row"] = benchmark::Counter(
        rows, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

[[maybe_unused]] int registered = [] {
    const int ns[] = {100, 10000}, ks[] = {2, 10, 20, 100};
    const enum cg_isa isas[] = {CG_ISA_AVX512, CG_ISA_AVX2, CG_ISA_REF};
    for (enum cg_isa isa : isas)
        for (int d = 1; d >= 0; d--)
            for (int n : ns)
                for (int k : ks) {
                    std::string name = std::string("loss/") + (d ? "d/" : "g/") +
                                       cg_isa_name(isa) + "/" + std::to_string(n) + "x" +
                                       std::to_string(k);
                    // single-threaded: CPU time, robust to a busy neighbour
                    benchmark::RegisterBenchmark(name.c_str(), bm_loss, isa, bool(d), n, k, 1)
                        ->Unit(benchmark::kMicrosecond);
                    // rows >= 4096 run OpenMP over fixed row chunks: 2 threads, wall time
                    if (n >= 4096)
                        benchmark::RegisterBenchmark((name + "/threads:2").c_str(), bm_loss, isa,
                                                     bool(d), n, k, 2)
                            ->Unit(benchmark::kMicrosecond)
                            ->UseRealTime();
                }
    return 0;
}();

}  // namespace
