// catgan_bench: registers the C kernels' benchmarks (each bench/*.cc registers its own at
// static-initialisation time) and records the CPU and the ISA in the report context.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <unistd.h>

#include <omp.h>

#include "shim.hpp"

cg_bench_buf::cg_bench_buf(size_t count, float lo, float hi, uint64_t seed) : n(count) {
    p = static_cast<float *>(cg_malloc(count * sizeof(float) + 64));
    if (!p) {
        std::fprintf(stderr, "catgan_bench: out of memory for %zu floats\n", count);
        std::exit(1);
    }
    struct cg_rng r;
    cg_rng_seed(&r, seed, 99);
    cg_rng_fill_uniform(&r, p, count, lo, hi, 1);
}

bool cg_bench_require(benchmark::State &state, enum cg_isa isa) {
    struct cg_init_opts o = {static_cast<int>(isa), 1};
    if (!cg_cpu_has(isa) || cg_init(&o) != CG_OK) {
        state.SkipWithError((std::string("CPU lacks ") + cg_isa_name(isa)).c_str());
        return false;
    }
    return true;
}

void cg_bench_report_flops(benchmark::State &state, double flop_per_iter, enum cg_isa isa,
                           int nthreads) {
    state.counters["flops"] = benchmark::Counter(flop_per_iter * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
    // kIsRate divides by the measured seconds; peak_fraction is that rate over the peak.
    state.counters["peak_fraction"] = benchmark::Counter(
        flop_per_iter * double(state.iterations()) /
            (cg_bench_peak_flops(isa) * double(nthreads)),
        benchmark::Counter::kIsRate);
}

// peak_fraction is a kIsRate counter (the library divides it by the measured seconds), which
// the console reporter marks "/s"; the value is a plain fraction, so drop the mark there.
class cg_console_reporter : public benchmark::ConsoleReporter {
  public:
    explicit cg_console_reporter(OutputOptions o) : benchmark::ConsoleReporter(o) {}
    void ReportRuns(const std::vector<Run> &runs) override {
        std::vector<Run> shown(runs);
        for (Run &r : shown) {
            auto it = r.counters.find("peak_fraction");
            if (it != r.counters.end()) it->second.flags = benchmark::Counter::kDefaults;
        }
        benchmark::ConsoleReporter::ReportRuns(shown);
    }
};

// The console options argv asks for: false when it asks for another output format than the
// console's; *tabular for --benchmark_counters_tabular=true.
static bool console_output(int argc, char **argv, bool *tabular) {
    bool console = true;
    *tabular = false;
    for (int i = 1; i < argc; i++) {
        if (std::strncmp(argv[i], "--benchmark_format=", 19) == 0)
            console = std::strcmp(argv[i] + 19, "console") == 0;
        if (std::strcmp(argv[i], "--benchmark_counters_tabular=true") == 0) *tabular = true;
    }
    return console;
}

int main(int argc, char **argv) {
    if (cg_init(nullptr) != CG_OK) {
        std::fprintf(stderr, "catgan_bench: %s\n", cg_last_error());
        return 2;
    }
    benchmark::AddCustomContext("cpu_model", cg_cpu_model());
    benchmark::AddCustomContext("isa_best", cg_isa_name(cg_cpu_best()));
    benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
    // before Initialize, which removes the flags it knows from argv
    bool tabular;
    const bool console = console_output(argc, argv, &tabular);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    if (!console) {
        benchmark::RunSpecifiedBenchmarks();
    } else {
        // the library's own console defaults: colour on a terminal, counters inline
        int opts = isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                         : benchmark::ConsoleReporter::OO_None;
        if (tabular) opts |= benchmark::ConsoleReporter::OO_Tabular;
        cg_console_reporter reporter(static_cast<benchmark::ConsoleReporter::OutputOptions>(opts));
        benchmark::RunSpecifiedBenchmarks(&reporter);
    }
    benchmark::Shutdown();
    return 0;
}
