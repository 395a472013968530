// SPDX-License-Identifier: MIT
// Benchmark (not a test) of image features kept on disk against features kept in RAM, with
// synthetic views (random tokens: timing does not depend on the values).
//   bench_feature_store --mode fill --dir D [--views 20000] [--tokens 261] [--width 768] [--dtype float16]
//   bench_feature_store --mode ram|disk --dir D [--batch 12] [--steps 30] [--threads 2]
// fill writes the store; ram loads every record into one tensor first (what data.image_features:
// ram holds) and disk reads each batch from the memory-mapped store. Both then run training steps
// of an image-conditioned denoiser (tokens straight into the cross-attention, width 128, depth 4)
// on the same random rows, and print one JSON line: step time, data time, peak resident memory.
#include <ATen/ATen.h>
#include <torch/optim.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "mash/ops/runtime.h"
#include "models/denoiser.h"
#include "models/feature_store.h"

using namespace mash;
using namespace mash::models;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// VmHWM (peak resident set) and VmRSS of this process, in MB.
std::pair<double, double> memory_mb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    double hwm = 0, rss = 0;
    while (std::getline(f, line)) {
        if (line.rfind("VmHWM:", 0) == 0) hwm = std::atof(line.c_str() + 6) / 1024.0;
        if (line.rfind("VmRSS:", 0) == 0) rss = std::atof(line.c_str() + 6) / 1024.0;
    }
    return {hwm, rss};
}

}  // namespace

int main(int argc, char** argv) {
    ops::ensure_passive_openmp(argv);
    std::string mode, dir, dtype = "float16";
    int64_t views = 20000, tokens = 261, width = 768, batch = 12, steps = 30;
    int threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--mode")
            mode = v;
        else if (k == "--dir")
            dir = v;
        else if (k == "--dtype")
            dtype = v;
        else if (k == "--views")
            views = std::atoll(v.c_str());
        else if (k == "--tokens")
            tokens = std::atoll(v.c_str());
        else if (k == "--width")
            width = std::atoll(v.c_str());
        else if (k == "--batch")
            batch = std::atoll(v.c_str());
        else if (k == "--steps")
            steps = std::atoll(v.c_str());
        else if (k == "--threads")
            threads = std::atoi(v.c_str());
        else {
            std::fprintf(
                stderr,
                "error: unknown option %s (expected --mode --dir --views --tokens --width --dtype --batch --steps --threads)\n",
                k.c_str());
            return 2;
        }
    }
    if ((mode != "fill" && mode != "ram" && mode != "disk") || dir.empty()) {
        std::fprintf(stderr, "error: give --mode fill|ram|disk and --dir DIR\n");
        return 2;
    }
    ops::init_runtime(threads);
    FeatureStoreSpec sp;
    sp.count = views;
    sp.tokens = tokens;
    sp.width = width;
    sp.dtype = dtype;
    sp.key = "synthetic";
    if (mode == "fill") {
        auto st = FeatureStore::open(dir, sp, true);
        const double t0 = now();
        auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
        std::vector<int64_t> todo = st->missing();
        for (size_t k = 0; k < todo.size(); k += 64) {
            std::vector<int64_t> rows(todo.begin() + k, todo.begin() + std::min(todo.size(), k + 64));
            st->write_rows(rows, at::randn({int64_t(rows.size()), tokens, width}, gen, at::kFloat));
        }
        const double s = now() - t0, gb = double(views) * st->record_bytes() / 1e9;
        std::printf(
            "{\"mode\": \"fill\", \"views\": %lld, \"written\": %zu, \"gb\": %.2f, \"seconds\": %.1f, \"peak_rss_mb\": %.0f}\n",
            (long long)views, todo.size(), gb, s, memory_mb().first);
        return 0;
    }
    auto st = FeatureStore::open(dir, sp, false);
    if (!st->missing().empty()) {
        std::fprintf(stderr, "error: %s: the store is not filled (run --mode fill first)\n", dir.c_str());
        return 2;
    }
    const double base_mb = memory_mb().second;  // LibTorch's own resident memory, before any features
    at::Tensor ram;
    double load_s = 0;
    if (mode == "ram") {  // every record in one tensor, as data.image_features: ram keeps them
        const double t0 = now();
        ram = at::empty({views, tokens, width}, at::TensorOptions().dtype(dtype == "float16" ? at::kHalf : at::kFloat));
        for (int64_t i = 0; i < views; i += 256) {
            const int64_t n = std::min<int64_t>(256, views - i);
            ram.narrow(0, i, n).copy_(st->read(at::arange(i, i + n, at::kLong)));
        }
        load_s = now() - t0;
    }
    DenoiserOptions o;
    o.width = 128;
    o.depth = 4;
    o.heads = 4;
    o.condition = ConditionKind::kImage;
    o.image_dim = width;
    o.context_dim = width;
    o.image_projection = false;
    Denoiser net(o);
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-4));
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    std::vector<double> step_s, data_s;
    for (int64_t s = 0; s < steps; ++s) {
        const double t0 = now();
        at::Tensor rows = at::randint(views, {batch}, gen, at::kLong);
        ConditionBatch cb;
        cb.image = mode == "ram" ? ram.index_select(0, rows).to(at::kFloat) : st->read(rows);
        const double t1 = now();
        at::Tensor x = at::randn({batch, 400, 25}, gen, at::kFloat), t = at::rand({batch}, gen, at::kFloat);
        opt.zero_grad();
        at::Tensor loss = (net->forward(x, t, net->context(cb, batch)) - x).pow(2).mean();
        loss.backward();
        opt.step();
        data_s.push_back(t1 - t0);
        step_s.push_back(now() - t0);
    }
    auto med = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const auto [hwm, rss] = memory_mb();
    std::printf(
        "{\"mode\": \"%s\", \"views\": %lld, \"record_kb\": %.0f, \"batch\": %lld, \"steps\": %lld, \"load_s\": %.1f, "
        "\"step_s_median\": %.4f, \"data_s_median\": %.5f, \"base_rss_mb\": %.0f, \"peak_rss_mb\": %.0f, \"rss_mb\": %.0f}\n",
        mode.c_str(), (long long)views, st->record_bytes() / 1024.0, (long long)batch, (long long)steps, load_s, med(step_s),
        med(data_s), base_mb, hwm, rss);
    return 0;
}
