// SPDX-License-Identifier: MIT
// Benchmark (not a test): one forward + backward sampling pass of the Mash module at the paper's
// defaults (A=400, K=3, L=2, N=1000, B=90, FPS 0.8 → ~196k points), float32, on N threads.
//   build/bin/bench_sampling [--threads 2] [--iters 20] [--mash FILE] [--device cpu|cuda] [--json OUT] [--no-breakdown]
// --no-breakdown skips the FPS-only pass between iterations (the loop is then forward + backward only,
// as experiments/python_overhead times the same pass from Python).
// Without --mash it uses the default initialization (every patch a hemisphere disk).
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mash/io/mash_file.h"
#include "mash/ops/runtime.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"

namespace {
double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
    mash::ops::ensure_passive_openmp(argv);
    int threads = 2, iters = 20;
    std::string file, device = "cpu", json;
    bool breakdown = true;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--mash") && i + 1 < argc)
            file = argv[++i];
        else if (!std::strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!std::strcmp(argv[i], "--no-breakdown"))
            breakdown = false;
        else {
            std::fprintf(stderr,
                         "usage: bench_sampling [--threads N] [--iters K] [--mash FILE] [--device cpu|cuda] [--json OUT] "
                         "[--no-breakdown]\n");
            return 2;
        }
    }
    mash::ops::init_runtime(threads);
    if (device != "cpu" && device != "cuda") {
        std::fprintf(stderr, "error: --device %s: expected cpu or cuda\n", device.c_str());
        return 2;
    }
    if (device == "cuda" && !torch::cuda::is_available()) {
        std::fprintf(stderr, "error: --device cuda: no CUDA device is visible\n");
        return 2;
    }
    const bool cuda = device == "cuda";
    auto sync = [&] {
        if (cuda) torch::cuda::synchronize();
    };
    auto opts = at::TensorOptions().dtype(at::kFloat).device(cuda ? at::kCUDA : at::kCPU);
    mash::Mash m = file.empty() ? mash::Mash(mash::MashOptions{}, opts) : mash::make_mash(mash::io::load_mash(file), {}, opts);
    for (auto& p : m->parameters()) p.requires_grad_(true);
    std::vector<double> fwd, total, fps;
    int64_t npts = 0;
    for (int it = 0; it < iters + 3; ++it) {
        for (auto& p : m->parameters()) p.mutable_grad() = at::Tensor();
        sync();
        double t0 = now_ms();
        auto s = m->forward(true);
        auto pts = s.points();
        sync();
        double t1 = now_ms();
        (pts * pts).sum().backward();
        sync();
        double t2 = now_ms();
        npts = pts.size(0);
        if (!breakdown) {
            if (it >= 3) {
                fwd.push_back(t1 - t0);
                total.push_back(t2 - t0);
                fps.push_back(0);
            }
            continue;
        }
        // FPS alone, on the same in-mask set, for the breakdown.
        auto all = m->forward(false);
        auto counts = all.inner_counts;
        auto off = at::cat({at::zeros({1}, counts.options()), at::cumsum(counts, 0)});
        auto keep = at::ceil(counts.to(at::kDouble) * 0.8).to(at::kLong);
        sync();
        double t3 = now_ms();
        mash::ops::sampling::fps_packed(all.inner_points.detach(), off, keep);
        sync();
        double t4 = now_ms();
        if (it >= 3) {
            fwd.push_back(t1 - t0);
            total.push_back(t2 - t0);
            fps.push_back(t4 - t3);
        }
    }
    if (std::getenv("MASH_PROFILE")) {  // chrome://tracing file of one extra iteration
        torch::autograd::profiler::RecordProfile guard(std::getenv("MASH_PROFILE"));
        auto s = m->forward(true);
        auto pts = s.points();
        (pts * pts).sum().backward();
    }
    std::printf("bench_sampling: A=%ld points=%ld device=%s threads=%d iters=%d (%s)\n", long(m->options().num_anchors),
                long(npts), device.c_str(), threads, iters, file.empty() ? "default init" : file.c_str());
    std::printf("forward            median %.1f ms (min %.1f)\n", median(fwd), *std::min_element(fwd.begin(), fwd.end()));
    std::printf("  of which FPS     median %.1f ms\n", median(fps));
    std::printf("forward+backward   median %.1f ms (min %.1f)\n", median(total), *std::min_element(total.begin(), total.end()));
    if (!json.empty()) {
        FILE* f = std::fopen(json.c_str(), "w");
        if (!f) {
            std::fprintf(stderr, "error: %s: cannot write\n", json.c_str());
            return 2;
        }
        std::fprintf(f,
                     "{\"device\": \"%s\", \"anchors\": %ld, \"points\": %ld, \"forward_ms\": %.3f, \"fps_ms\": %.3f, "
                     "\"forward_backward_ms\": %.3f}\n",
                     device.c_str(), long(m->options().num_anchors), long(npts), median(fwd), median(fps), median(total));
        std::fclose(f);
    }
    return 0;
}
