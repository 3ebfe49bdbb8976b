// SGEMM benchmarks: squares and the layer GEMMs of the CONTRACT.md nets at batch 100 (conv as
// im2col over the whole batch), ours per ISA (gemm/, gemm_mt/) and, when found at build
// time, OpenBLAS and oneDNN on the same shapes. Names: gemm/<isa>/<M>x<N>x<K>[/ta][/tb].
// CG_BENCH_GEMM_SHAPES=MxNxK[/ta][/tb],... adds shapes of your own.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <omp.h>

#include "shim.hpp"
#include "simd/gemm.h"

#ifdef CG_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef CG_HAVE_DNNL
#include <dnnl.h>
#endif

namespace {

struct shape {
    int m, n, k;
    enum cg_trans ta, tb;
    float beta;  // 0 for forward GEMMs; 1 where a backward pass accumulates
    bool operator<(const shape &o) const {
        return std::tie(m, n, k, ta, tb) < std::tie(o.m, o.n, o.k, o.ta, o.tb);
    }
};

std::string shape_name(const shape &s) {
    std::string r = std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
    if (s.ta) r += "/ta";
    if (s.tb) r += "/tb";
    return r;
}

std::vector<shape> layer_shapes() {
    const int B = 100;
    // conv: c, oc, kernel, size ("same" padding, stride 1)
    static const int convs[][4] = {{1, 32, 5, 28},   {32, 64, 3, 14}, {64, 64, 3, 14},
                                   {64, 128, 3, 7},  {128, 10, 1, 7}, {96, 64, 5, 14},
                                   {64, 64, 5, 28},  {64, 1, 5, 28}};
    // linear: in, out (conv D fc1, fc2; conv G fc; pi-mnist D; pi-mnist G)
    static const int lins[][2] = {{490, 128},  {128, 10},   {128, 4704}, {784, 1000},
                                  {1000, 500}, {500, 250},  {250, 250},  {250, 10},
                                  {128, 500},  {500, 500},  {500, 1000}, {1000, 784}};
    std::set<shape> seen;
    std::vector<shape> out;
    auto add = [&](shape s) {
        if (seen.insert(s).second) out.push_back(s);
    };
    for (auto &c : convs) {
        int ckk = c[0] * c[2] * c[2], npix = B * c[3] * c[3];
        add({c[1], npix, ckk, CG_NO_TRANS, CG_NO_TRANS, 0.0f});  // forward: w x cols
        add({ckk, npix, c[1], CG_TRANS, CG_NO_TRANS, 0.0f});     // backward-data: w^T dy
        add({c[1], ckk, npix, CG_NO_TRANS, CG_TRANS, 1.0f});     // backward-weights: dy cols^T
    }
    // weights (out, in) as in PyTorch: y = x W^T, dx = dy W, dW += dy^T x
    for (auto &l : lins) {
        add({B, l[1], l[0], CG_NO_TRANS, CG_TRANS, 0.0f});
        add({B, l[0], l[1], CG_NO_TRANS, CG_NO_TRANS, 0.0f});
        add({l[1], l[0], B, CG_TRANS, CG_NO_TRANS, 1.0f});
    }
    return out;
}

std::vector<shape> square_shapes() {
    std::vector<shape> v;
    for (int s : {64, 128, 256, 512, 1024}) v.push_back({s, s, s, CG_NO_TRANS, CG_NO_TRANS, 0});
    return v;
}

// Shapes named in CG_BENCH_GEMM_SHAPES ("MxNxK[/ta][/tb]", comma-separated), benchmarked
// beside the layer shapes: any GEMM against OpenBLAS and oneDNN without a rebuild.
std::vector<shape> extra_shapes() {
    static const std::vector<shape> v = [] {
        std::vector<shape> out;
        const char *env = std::getenv("CG_BENCH_GEMM_SHAPES");
        if (!env) return out;
        std::string all(env);
        size_t at = 0;
        while (at <= all.size()) {
            size_t end = all.find(',', at);
            if (end == std::string::npos) end = all.size();
            std::string item = all.substr(at, end - at);
            shape s{0, 0, 0, CG_NO_TRANS, CG_NO_TRANS, 0.0f};
            int used = 0;
            bool ok = std::sscanf(item.c_str(), "%dx%dx%d%n", &s.m, &s.n, &s.k, &used) == 3 &&
                      s.m > 0 && s.n > 0 && s.k > 0;
            std::string rest = ok ? item.substr(size_t(used)) : "";
            if (ok && rest.rfind("/ta", 0) == 0) s.ta = CG_TRANS, rest = rest.substr(3);
            if (ok && rest.rfind("/tb", 0) == 0) s.tb = CG_TRANS, rest = rest.substr(3);
            if (!ok || !rest.empty()) {
                std::fprintf(stderr,
                             "CG_BENCH_GEMM_SHAPES: '%s' is not MxNxK[/ta][/tb] with M, N, K "
                             ">= 1\n",
                             item.c_str());
                std::exit(2);
            }
            out.push_back(s);
            at = end + 1;
        }
        return out;
    }();
    return v;
}

// One set of operand buffers, sized for the largest shape and shared by every benchmark:
// the biggest layer GEMMs need 500 MB each, too much to allocate and fill per benchmark.
struct operands {
    float *a = nullptr, *b = nullptr, *c = nullptr;
};

float *filled(size_t n, uint32_t seed) {
    float *p = static_cast<float *>(cg_malloc(n * sizeof(float)));
    if (!p) {
        std::fprintf(stderr, "bench_gemm: out of memory for %zu floats\n", n);
        std::exit(1);
    }
    // a cheap hash in [-0.5, 0.5): the RNG would take seconds on 125M floats
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t(i) ^ seed) * 2654435761u;
        p[i] = float(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

const operands &shared_operands() {
    static operands ops = [] {
        size_t na = 0, nb = 0, nc = 0;
        std::vector<shape> all = layer_shapes();
        for (const shape &s : square_shapes()) all.push_back(s);
        for (const shape &s : extra_shapes()) all.push_back(s);
        for (const shape &s : all) {
            na = std::max(na, size_t(s.m) * s.k);
            nb = std::max(nb, size_t(s.k) * s.n);
            nc = std::max(nc, size_t(s.m) * s.n);
        }
        return operands{filled(na, 1), filled(nb, 2), filled(nc, 3)};
    }();
    return ops;
}

// Leading dimensions are minimal: op(A) (m,k) stored (m,k) or (k,m), likewise B.
void lds(const shape &s, int *lda, int *ldb) {
    *lda = s.ta ? s.m : s.k;
    *ldb = s.tb ? s.k : s.n;
}

void bm_ours(benchmark::State &state, enum cg_isa isa, shape s, int nt) {
    if (!cg_bench_require(state, isa)) return;
    if (cg_gemm_reserve(nt) != CG_OK) {
        state.SkipWithError(cg_last_error());
        return;
    }
    const operands &o = shared_operands();
    int lda, ldb;
    lds(s, &lda, &ldb);
    for (auto _ : state) {
        if (nt == 1)
            cg_sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, o.a, lda, o.b, ldb, s.beta, o.c, s.n);
        else
            cg_sgemm_mt(nt, s.ta, s.tb, s.m, s.n, s.k, 1.0f, o.a, lda, o.b, ldb, s.beta, o.c,
                        s.n);
        benchmark::ClobberMemory();
    }
    cg_bench_report_flops(state, 2.0 * s.m * s.n * s.k, isa, nt);
}

#ifdef CG_HAVE_OPENBLAS
void bm_openblas(benchmark::State &state, shape s) {
    openblas_set_num_threads(1);
    const operands &o = shared_operands();
    int lda, ldb;
    lds(s, &lda, &ldb);
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans,
                    s.tb ? CblasTrans : CblasNoTrans, s.m, s.n, s.k, 1.0f, o.a, lda, o.b, ldb,
                    s.beta, o.c, s.n);
        benchmark::ClobberMemory();
    }
    cg_bench_report_flops(state, 2.0 * s.m * s.n * s.k, cg_cpu_best(), 1);
}
#endif

#ifdef CG_HAVE_DNNL
void bm_onednn(benchmark::State &state, shape s) {
    const operands &o = shared_operands();
    int lda, ldb;
    lds(s, &lda, &ldb);
    // oneDNN threads with OpenMP over omp_get_max_threads(): pin it to one thread here only
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    for (auto _ : state) {
        dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, 1.0f, o.a, lda, o.b, ldb,
                   s.beta, o.c, s.n);
        benchmark::ClobberMemory();
    }
    omp_set_num_threads(keep);
    cg_bench_report_flops(state, 2.0 * s.m * s.n * s.k, cg_cpu_best(), 1);
}
#endif

[[maybe_unused]] int registered = [] {
    std::vector<shape> squares = square_shapes(), layers = layer_shapes();
    std::vector<shape> both = squares;
    both.insert(both.end(), layers.begin(), layers.end());
    for (const shape &s : extra_shapes())
        if (std::find_if(both.begin(), both.end(), [&](const shape &o) {
                return !(s < o) && !(o < s);
            }) == both.end())
            both.push_back(s);
    // Single-threaded rates use CPU time (robust to a busy neighbour on a shared box); the
    // 2-thread ones wall time, which Google Benchmark marks with a "/real_time" suffix.
    auto reg = [](const std::string &name, auto fn, auto... args) {
        return benchmark::RegisterBenchmark(name.c_str(), fn, args...)
            ->Unit(benchmark::kMicrosecond);
    };
#define CG_GEMM_UKERNEL(isa, fn, mr, nr, kc, mc, nc)                                          \
    {                                                                                          \
        std::string pre = std::string("/") + cg_isa_name(CG_ISA_##isa) + "/";                  \
        /* ref is the specification, not a contender: squares only keep the smoke run short */ \
        for (const shape &s : CG_ISA_##isa == CG_ISA_REF ? squares : both)                     \
            reg("gemm" + pre + shape_name(s), bm_ours, CG_ISA_##isa, s, 1);                     \
        if (CG_ISA_##isa != CG_ISA_REF)                                                        \
            for (const shape &s : both)                                                        \
                reg("gemm_mt" + pre + shape_name(s) + "/threads:2", bm_ours, CG_ISA_##isa, s,  \
                    2)->UseRealTime();                                                         \
    }
#include "simd/gemm.inc"
#undef CG_GEMM_UKERNEL
#ifdef CG_HAVE_OPENBLAS
    for (const shape &s : both) reg("gemm_openblas/" + shape_name(s), bm_openblas, s);
#endif
#ifdef CG_HAVE_DNNL
    for (const shape &s : both) reg("gemm_onednn/" + shape_name(s), bm_onednn, s);
#endif
    return 0;
}();

}  // namespace
