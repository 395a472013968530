// SPDX-License-Identifier: MIT
// Benchmark (not a test) of the generator on this machine: train-step time (split into data
// preparation, OT pairing and network) and one-shape sampling time with the fixed-step sampler,
// for the full-size model (generation-spec §2.1: D 512, 24 blocks, 8 heads, 400 x 25 tokens,
// one category token) and a small one (D 128, 4 blocks, 4 heads). Synthetic data (random MASHes):
// timing does not depend on the values.
//   build/bin/bench_generation [--threads 2] [--only full|small] [--sample-steps 4] [--repeats 3] [--data MASH_DIR]
// --data uses a folder of real MASH files (e.g. the category experiment's out/mash): the OT
// pairing takes longer on real, structured tokens than on random ones.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mash/ops/runtime.h"
#include "models/generator.h"
#include "models/trainer.h"

using namespace mash;
using namespace mash::models;

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

MashSet synthetic(int64_t n, int64_t A) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    MashSet s;
    s.layout = {3, 2};
    std::vector<at::Tensor> t;
    for (int64_t i = 0; i < n; ++i) {
        MashParams p = MashParams::zeros(A, 3, 2);
        at::Tensor r = at::randn({A * 3}, gen, at::kDouble);
        std::copy(r.data_ptr<double>(), r.data_ptr<double>() + A * 3, p.rotate_vectors.begin());
        at::Tensor q = at::randn({A * 3}, gen, at::kDouble) * 0.3;
        std::copy(q.data_ptr<double>(), q.data_ptr<double>() + A * 3, p.positions.begin());
        at::Tensor m = at::randn({A * 7}, gen, at::kDouble);
        std::copy(m.data_ptr<double>(), m.data_ptr<double>() + A * 7, p.mask_params.begin());
        at::Tensor h = at::randn({A * 9}, gen, at::kDouble) * 0.05;
        std::copy(h.data_ptr<double>(), h.data_ptr<double>() + A * 9, p.sh_params.begin());
        t.push_back(tokens_from_mash(p));
        s.keys.push_back("c/" + std::to_string(i));
        s.category.push_back(0);
    }
    s.category_names = {"c"};
    s.tokens = at::stack(t);
    return s;
}

std::string g_data;  // --data DIR: real MASH files instead of synthetic ones

void run(const std::string& name, TrainConfig c, int64_t sample_steps, int repeats) {
    MashSet s = g_data.empty() ? synthetic(16, 400) : load_mash_folder(g_data);
    c.val_samples = 0;
    Trainer tr(c, s, s, "");
    std::printf("%s: width %lld, depth %lld, heads %lld, batch %lld, %lld parameters\n", name.c_str(), (long long)c.width,
                (long long)c.depth, (long long)c.heads, (long long)c.batch_size,
                (long long)count_parameters(*tr.generator().model));
    std::fflush(stdout);
    tr.step();  // warm-up
    std::vector<double> total, data, ot, net;
    for (int i = 0; i < repeats; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        tr.step();
        total.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        auto tm = tr.last_timing();
        data.push_back(tm.data);
        ot.push_back(tm.ot);
        net.push_back(tm.network);
    }
    const double T = median(total), D = median(data), O = median(ot);
    std::printf("  train step: %.3f s median of %d (data %.4f s, OT pairing %.4f s -> %.2f%% outside the network)\n", T, repeats,
                D, O, 100 * (D + O) / T);
    std::fflush(stdout);
    SampleRequest r;
    r.num = 1;
    r.categories = {0};
    r.steps = sample_steps;
    r.solver = Solver::kEuler;
    std::vector<double> st;
    for (int i = 0; i < std::max(1, repeats - 1); ++i) st.push_back(sample(tr.generator(), r).seconds);
    std::printf("  one-shape sample: %.2f s with %lld Euler steps (%.3f s per network evaluation)\n", median(st),
                (long long)sample_steps, median(st) / sample_steps);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    mash::ops::ensure_passive_openmp(argv);
    int threads = 2, repeats = 3;
    int64_t sample_steps = 4;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!std::strcmp(argv[i], "--sample-steps") && i + 1 < argc)
            sample_steps = std::atoll(argv[++i]);
        else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--data") && i + 1 < argc)
            g_data = argv[++i];
        else {
            std::fprintf(
                stderr,
                "usage: bench_generation [--threads N] [--only full|small] [--sample-steps S] [--repeats R] [--data MASH_DIR]\n");
            return 2;
        }
    }
    ops::init_runtime(threads);
    std::printf("bench_generation: %d threads\n", threads);
    if (only.empty() || only == "small") {
        TrainConfig c;
        c.width = 128;
        c.depth = 4;
        c.heads = 4;
        c.time_channels = 64;
        c.context_dim = 128;
        c.batch_size = 8;
        run("small", c, 50, repeats);
    }
    if (only.empty() || only == "full") {
        TrainConfig c;  // defaults = the paper's full size
        c.batch_size = 1;
        run("full", c, sample_steps, repeats);
    }
    return 0;
}
