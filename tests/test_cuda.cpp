// SPDX-License-Identifier: MIT
// CUDA kernels against their CPU twins. Each test needs a GPU: without one it prints
// "no CUDA device" and returns, and ctest reports it as skipped (SKIP_REGULAR_EXPRESSION).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "mash/core/errors.h"
#include "mash/core/runtime.h"
#include "mash/losses/nearest.h"
#include "mash/ops/sampling.h"
#include "tests/support/support.h"

using namespace mash;

#define MASH_REQUIRE_CUDA_DEVICE()                                                          \
    do {                                                                                    \
        if (!mash::cuda_available()) {                                                      \
            WARN("skipped: no CUDA device" << (mash::cuda_built() ? "" : " (CPU-only build)")); \
            return;                                                                         \
        }                                                                                   \
    } while (0)

namespace {

struct Segments {
    at::Tensor pts, offsets, keep;
};

Segments random_segments(at::Generator& gen, std::vector<int64_t> counts, at::ScalarType dtype) {
    Segments s;
    auto c = at::tensor(counts, at::kLong);
    s.offsets = at::cat({at::zeros({1}, at::kLong), at::cumsum(c, 0)});
    s.keep = at::ceil(c.to(at::kDouble) * 0.8).to(at::kLong);
    s.pts = at::randn({c.sum().item<int64_t>(), 3}, gen, at::TensorOptions().dtype(dtype));
    return s;
}

}  // namespace

TEST_CASE("cuda: --device cuda names the cause when it cannot run", "[cuda][errors]") {
    if (mash::cuda_available()) {
        CHECK(resolve_device("cuda") == "cuda");
        return;
    }
    CHECK(resolve_device("auto") == "cpu");
    CHECK_THROWS_AS(resolve_device("cuda"), ConfigError);
    CHECK_THROWS_WITH(resolve_device("cuda"), Catch::Contains("--device cuda: ") &&
                                                  Catch::Contains(mash::cuda_built() ? "is visible" : "MASH_WITH_CUDA=OFF"));
}

TEST_CASE("cuda: FPS kernel gives the CPU kernel's selection order", "[cuda][fps]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(31);
    for (auto dtype : {at::kFloat, at::kDouble}) {
        // Empty, single, small and long segments (longer than one block of 256 threads), like a
        // fit's in-mask rays (A = 400, ~500 each), plus exact duplicates for the tie rule.
        std::vector<int64_t> counts = {0, 1, 5, 37, 255, 256, 257, 1200, 3000};
        for (int i = 0; i < 400; ++i) counts.push_back(300 + (i * 37) % 400);
        auto s = random_segments(gen, counts, dtype);
        s.pts.narrow(0, 300, 40).copy_(s.pts.narrow(0, 299, 1).expand({40, 3}));
        auto cpu = sampling::fps_packed(s.pts, s.offsets, s.keep);
        auto gpu = sampling::fps_packed(s.pts.to(at::kCUDA), s.offsets.to(at::kCUDA), s.keep.to(at::kCUDA));
        REQUIRE(gpu.is_cuda());
        REQUIRE(gpu.sizes() == cpu.sizes());
        CHECK(at::equal(gpu.cpu(), cpu));
    }
}

TEST_CASE("cuda: FPS ties (a segment of identical points) resolve as on the CPU: first index", "[cuda][fps]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto pts = at::ones({600, 3}, at::kFloat);
    auto offsets = at::tensor(std::vector<int64_t>{0, 600}, at::kLong);
    auto keep = at::tensor(std::vector<int64_t>{480}, at::kLong);
    auto cpu = sampling::fps_packed(pts, offsets, keep);
    auto gpu = sampling::fps_packed(pts.cuda(), offsets.cuda(), keep.cuda()).cpu();
    CHECK(at::equal(gpu, cpu));
}

TEST_CASE("cuda: exact nearest-neighbour kernels give the CPU twin's indices", "[cuda][nn]") {
    if (!at::hasCUDA()) {
        WARN("no CUDA device: skipped");
        return;
    }
    auto gen = mash::test::make_gen(7);
    for (auto dtype : {at::kFloat, at::kDouble}) {
        at::Tensor q = at::randn({3000, 3}, gen, at::TensorOptions().dtype(dtype));
        at::Tensor r = at::randn({5000, 3}, gen, at::TensorOptions().dtype(dtype));
        r.narrow(0, 100, 20).copy_(r.narrow(0, 99, 1).expand({20, 3}));  // exact ties: first index wins
        q.narrow(0, 0, 5).copy_(r.narrow(0, 99, 1).expand({5, 3}));
        auto cpu = mash::losses::nearest_indices_brute(q, r);
        auto gpu = mash::losses::nearest_indices_brute(q.cuda(), r.cuda()).cpu();
        CHECK(at::equal(cpu, gpu));
        CHECK(cpu.narrow(0, 0, 5).eq(99).all().item<bool>());
        // The KD-tree path (CPU) agrees up to exact ties of distance.
        auto kd = mash::losses::nearest_indices(q, r);
        auto dk = (q - r.index_select(0, kd)).pow(2).sum(1), db = (q - r.index_select(0, cpu)).pow(2).sum(1);
        CHECK(mash::test::max_abs_diff(dk, db) < 1e-6);
        at::Tensor group = at::randint(0, 40, {3000}, gen, at::TensorOptions().dtype(at::kLong));
        auto og_cpu = mash::losses::nearest_other_group_brute(q, group);
        auto og_gpu = mash::losses::nearest_other_group_brute(q.cuda(), group.cuda()).cpu();
        CHECK(at::equal(og_cpu, og_gpu));
        CHECK((group.index_select(0, og_cpu) != group).all().item<bool>());
    }
}
