// Layer benchmarks for the CONTRACT.md nets at batch 100, 1 and 2 threads: conv2d and linear
// forward/backward (flops = nominal 2*MACs; backward counts its dx and dw products, 4*MACs),
// plus max-pool and upsample (bytes/s). Names: <op>/<net>/<layer>/<fwd|bwd>/threads:<N>.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "shim.hpp"
#include "nn/conv2d.h"
#include "nn/linear.h"
#include "nn/pool.h"
#include "nn/upconv2d.h"
#include "nn/upsample.h"

namespace {

constexpr int kBatch = 100;

struct conv_spec { const char *net, *layer; int c, hw, oc, k; };
// "same" padding, stride 1 (CONTRACT.md: conv D and conv G at 28x28x1)
const conv_spec kConvs[] = {
    {"D", "c1", 1, 28, 32, 5},   {"D", "c2", 32, 14, 64, 3}, {"D", "c3", 64, 14, 64, 3},
    {"D", "c4", 64, 7, 128, 3},  {"D", "c5", 128, 7, 10, 1}, {"G", "c1", 96, 14, 64, 5},
    {"G", "c2", 64, 28, 64, 5},  {"G", "c3", 64, 28, 1, 5},
};

struct linear_spec { const char *net, *layer; int in, out; };
const linear_spec kLinears[] = {
    {"D", "fc1", 490, 128},    {"D", "fc2", 128, 10},     {"G", "fc", 128, 4704},
    {"piD", "l1", 784, 1000},  {"piD", "l2", 1000, 500},  {"piD", "l3", 500, 250},
    {"piD", "l4", 250, 250},   {"piD", "l5", 250, 250},   {"piD", "l6", 250, 10},
    {"piG", "l1", 128, 500},   {"piG", "l2", 500, 500},   {"piG", "l3", 500, 1000},
    {"piG", "l4", 1000, 784},
};

struct plane_spec { const char *net, *layer; int c, hw; };
const plane_spec kPools[] = {{"D", "p1", 32, 28}, {"D", "p2", 64, 14}};    // 3x3 s2 p1
const plane_spec kUps[] = {{"G", "u1", 96, 7}, {"G", "u2", 64, 14}};       // x2
// G's upsample x2 + conv5x5 pairs fused (hw is the input size); FLOP/s are nominal, counted as
// for the unfused conv on the upsampled input, so they compare directly with conv/G/c1, c2.
const conv_spec kUpconvs[] = {{"G", "u1c1", 96, 7, 64, 5}, {"G", "u2c2", 64, 14, 64, 5}};

// Operands shared by every benchmark, sized for the largest layer and filled once with a cheap
// hash: allocating and filling 20 MB tensors per benchmark would dominate the smoke run.
struct arena {
    float *x, *y, *dy, *dx, *w, *dw, *b, *db;
    void *ws;
    size_t ws_bytes;
};

float *filled(size_t n, uint32_t seed) {
    float *p = static_cast<float *>(cg_malloc(n * sizeof(float)));
    if (!p) {
        std::fprintf(stderr, "bench_layers: out of memory for %zu floats\n", n);
        std::exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t(i) ^ seed) * 2654435761u;
        p[i] = float(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
    }
    return p;
}

const arena &shared() {
    static arena a = [] {
        size_t act = 0, wt = 0, ws = 0;
        for (const conv_spec &s : kConvs) {
            struct cg_conv2d p;
            if (cg_conv2d_init(&p, s.c, s.hw, s.hw, s.oc, s.k, 1, s.k / 2, 2) != CG_OK) continue;
            act = std::max({act, size_t(kBatch) * s.c * s.hw * s.hw,
                            size_t(kBatch) * s.oc * s.hw * s.hw});
            wt = std::max(wt, size_t(s.oc) * s.c * s.k * s.k);
            ws = std::max(ws, cg_conv2d_ws_size(&p, kBatch));
        }
        for (const conv_spec &s : kUpconvs) {
            struct cg_upconv2d p;
            if (cg_upconv2d_init(&p, s.c, s.hw, s.hw, s.oc, s.k, 2) != CG_OK) continue;
            act = std::max(act, size_t(kBatch) * s.oc * s.hw * s.hw * 4);
            wt = std::max(wt, size_t(s.oc) * s.c * s.k * s.k);
            ws = std::max(ws, cg_upconv2d_ws_size(&p, kBatch));
        }
        for (const linear_spec &s : kLinears) {
            act = std::max({act, size_t(kBatch) * s.in, size_t(kBatch) * s.out});
            wt = std::max(wt, size_t(s.in) * s.out);
        }
        for (const plane_spec &s : kUps)
            act = std::max(act, size_t(kBatch) * s.c * s.hw * s.hw * 4);
        arena r{filled(act, 1), filled(act, 2), filled(act, 3), filled(act, 4),
                filled(wt, 5),  filled(wt, 6),  filled(wt, 7),  filled(wt, 8),
                cg_malloc(ws),  ws};
        if (!r.ws && ws) {
            std::fprintf(stderr, "bench_layers: out of memory for %zu workspace bytes\n", ws);
            std::exit(1);
        }
        return r;
    }();
    return a;
}

// The other bench files switch the kernel table; layers always run on the best ISA.
bool best_isa(benchmark::State &st) { return cg_bench_require(st, cg_cpu_best()); }

void bm_conv(benchmark::State &st, conv_spec s, bool bwd, int nt) {
    if (!best_isa(st)) return;
    struct cg_conv2d p;
    if (cg_conv2d_init(&p, s.c, s.hw, s.hw, s.oc, s.k, 1, s.k / 2, nt) != CG_OK) {
        st.SkipWithError(cg_last_error());
        return;
    }
    const arena &a = shared();
    if (cg_conv2d_ws_size(&p, kBatch) > a.ws_bytes) {
        st.SkipWithError("workspace larger than planned");
        return;
    }
    for (auto _ : st) {
        if (bwd)
            cg_conv2d_backward(&p, kBatch, a.dy, a.x, a.w, a.dx, a.dw, a.db, a.ws);
        else
            cg_conv2d_forward(&p, kBatch, a.x, a.w, a.b, a.y, a.ws);
        benchmark::ClobberMemory();
    }
    const double macs = double(kBatch) * p.oc * p.ohw * p.ck;
    cg_bench_report_flops(st, 2.0 * macs * (bwd ? 2 : 1), cg_isa_active(), nt);
    st.SetLabel(cg_isa_name(cg_isa_active()));
}

void bm_upconv(benchmark::State &st, conv_spec s, bool bwd, int nt) {
    if (!best_isa(st)) return;
    struct cg_upconv2d p;
    if (cg_upconv2d_init(&p, s.c, s.hw, s.hw, s.oc, s.k, nt) != CG_OK) {
        st.SkipWithError(cg_last_error());
        return;
    }
    const arena &a = shared();
    if (cg_upconv2d_ws_size(&p, kBatch) > a.ws_bytes) {
        st.SkipWithError("workspace larger than planned");
        return;
    }
    for (auto _ : st) {
        if (bwd)
            cg_upconv2d_backward(&p, kBatch, a.dy, a.x, a.w, a.dx, a.dw, a.db, a.ws);
        else
            cg_upconv2d_forward(&p, kBatch, a.x, a.w, a.b, a.y, a.ws);
        benchmark::ClobberMemory();
    }
    const double macs = double(kBatch) * p.oc * p.oh * p.ow * p.c * p.k * p.k;
    cg_bench_report_flops(st, 2.0 * macs * (bwd ? 2 : 1), cg_isa_active(), nt);
    st.SetLabel(cg_isa_name(cg_isa_active()));
}

void bm_linear(benchmark::State &st, linear_spec s, bool bwd, int nt) {
    if (!best_isa(st)) return;
    struct cg_linear p;
    if (cg_linear_init(&p, s.in, s.out, nt) != CG_OK) {
        st.SkipWithError(cg_last_error());
        return;
    }
    const arena &a = shared();
    for (auto _ : st) {
        if (bwd)
            cg_linear_backward(&p, kBatch, a.dy, a.x, a.w, a.dx, a.dw, a.db);
        else
            cg_linear_forward(&p, kBatch, a.x, a.w, a.b, a.y);
        benchmark::ClobberMemory();
    }
    const double macs = double(kBatch) * s.in * s.out;
    cg_bench_report_flops(st, 2.0 * macs * (bwd ? 2 : 1), cg_isa_active(), nt);
    st.SetLabel(cg_isa_name(cg_isa_active()));
}

void bm_pool(benchmark::State &st, plane_spec s, bool bwd, int nt) {
    struct cg_maxpool p;
    if (cg_maxpool_init(&p, s.c, s.hw, s.hw, 3, 2, 1, nt) != CG_OK) {
        st.SkipWithError(cg_last_error());
        return;
    }
    const arena &a = shared();
    // argmax borrows the y buffer (int32 and float have one size); y itself goes to dy
    int32_t *am = reinterpret_cast<int32_t *>(a.y);
    if (!bwd) cg_maxpool_forward(&p, kBatch, a.x, a.dy, am);
    for (auto _ : st) {
        if (bwd)
            cg_maxpool_backward(&p, kBatch, a.dy, am, a.dx);
        else
            cg_maxpool_forward(&p, kBatch, a.x, a.dy, am);
        benchmark::ClobberMemory();
    }
    const size_t in = size_t(kBatch) * s.c * s.hw * s.hw, out = size_t(kBatch) * s.c * p.oh * p.ow;
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t((in + 2 * out) * sizeof(float)));
}

void bm_upsample(benchmark::State &st, plane_spec s, bool bwd, int nt) {
    struct cg_upsample p;
    if (cg_upsample_init(&p, s.c, s.hw, s.hw, 2, nt) != CG_OK) {
        st.SkipWithError(cg_last_error());
        return;
    }
    const arena &a = shared();
    for (auto _ : st) {
        if (bwd)
            cg_upsample_backward(&p, kBatch, a.dy, a.dx);
        else
            cg_upsample_forward(&p, kBatch, a.x, a.y);
        benchmark::ClobberMemory();
    }
    const size_t in = size_t(kBatch) * s.c * s.hw * s.hw;
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(5 * in * sizeof(float)));
}

template <class Spec, class Fn>
void add(const char *op, const Spec &s, Fn fn) {
    for (int bwd = 0; bwd < 2; bwd++)
        for (int nt = 1; nt <= 2; nt++) {
            std::string name = std::string(op) + "/" + s.net + "/" + s.layer +
                               (bwd ? "/bwd" : "/fwd") + "/threads:" + std::to_string(nt);
            benchmark::RegisterBenchmark(name.c_str(),
                                         [=](benchmark::State &st) { fn(st, s, bwd != 0, nt); })
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
        }
}

const int registered = [] {
    for (const conv_spec &s : kConvs) add("conv", s, bm_conv);
    for (const linear_spec &s : kLinears) add("linear", s, bm_linear);
    for (const plane_spec &s : kPools) add("maxpool", s, bm_pool);
    for (const plane_spec &s : kUps) add("upsample", s, bm_upsample);
    for (const conv_spec &s : kUpconvs) add("upconv", s, bm_upconv);
    return 0;
}();

}  // namespace
