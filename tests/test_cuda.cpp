// SPDX-License-Identifier: MIT
// CUDA kernels against their CPU twins. Each test needs a GPU: without one it prints
// "no CUDA device" and returns, and ctest reports it as skipped (SKIP_REGULAR_EXPRESSION).
#include <ATen/ATen.h>

#include <catch2/catch.hpp>

#include "mash/core/errors.h"
#include "mash/fitting/pipeline.h"
#include "mash/losses/losses.h"
#include "mash/ops/nearest/nearest.h"
#include "mash/ops/points/points.h"
#include "mash/ops/rotation/rotation.h"
#include "mash/ops/runtime.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"
#include "tests/support/support.h"

using namespace mash;

#define MASH_REQUIRE_CUDA_DEVICE()                                                                   \
    do {                                                                                             \
        if (!mash::ops::cuda_available()) {                                                          \
            WARN("skipped: no CUDA device" << (mash::ops::cuda_built() ? "" : " (CPU-only build)")); \
            return;                                                                                  \
        }                                                                                            \
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
    if (mash::ops::cuda_available()) {
        CHECK(ops::resolve_device("cuda") == "cuda");
        return;
    }
    CHECK(ops::resolve_device("auto") == "cpu");
    CHECK_THROWS_AS(ops::resolve_device("cuda"), ConfigError);
    CHECK_THROWS_WITH(
        ops::resolve_device("cuda"),
        Catch::Contains("--device cuda: ") && Catch::Contains(mash::ops::cuda_built() ? "is visible" : "MASH_WITH_CUDA=OFF"));
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
        auto cpu = ops::sampling::fps_packed(s.pts, s.offsets, s.keep);
        auto gpu = ops::sampling::fps_packed(s.pts.to(at::kCUDA), s.offsets.to(at::kCUDA), s.keep.to(at::kCUDA));
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
    auto cpu = ops::sampling::fps_packed(pts, offsets, keep);
    auto gpu = ops::sampling::fps_packed(pts.cuda(), offsets.cuda(), keep.cuda()).cpu();
    CHECK(at::equal(gpu, cpu));
}

TEST_CASE("cuda: exact nearest-neighbour kernels give the CPU twin's indices", "[cuda][nn]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(7);
    for (auto dtype : {at::kFloat, at::kDouble}) {
        at::Tensor q = at::randn({3000, 3}, gen, at::TensorOptions().dtype(dtype));
        at::Tensor r = at::randn({5000, 3}, gen, at::TensorOptions().dtype(dtype));
        r.narrow(0, 100, 20).copy_(r.narrow(0, 99, 1).expand({20, 3}));  // exact ties: first index wins
        q.narrow(0, 0, 5).copy_(r.narrow(0, 99, 1).expand({5, 3}));
        auto cpu = mash::ops::nearest::nearest_indices_brute(q, r);
        auto gpu = mash::ops::nearest::nearest_indices_brute(q.cuda(), r.cuda()).cpu();
        CHECK(at::equal(cpu, gpu));
        CHECK(cpu.narrow(0, 0, 5).eq(99).all().item<bool>());
        // The KD-tree path (CPU) agrees up to exact ties of distance.
        auto kd = mash::ops::nearest::nearest_indices(q, r);
        auto dk = (q - r.index_select(0, kd)).pow(2).sum(1), db = (q - r.index_select(0, cpu)).pow(2).sum(1);
        CHECK(mash::test::max_abs_diff(dk, db) < 1e-6);
        at::Tensor group = at::randint(0, 40, {3000}, gen, at::TensorOptions().dtype(at::kLong));
        auto og_cpu = mash::ops::nearest::nearest_other_group_brute(q, group);
        auto og_gpu = mash::ops::nearest::nearest_other_group_brute(q.cuda(), group.cuda()).cpu();
        CHECK(at::equal(og_cpu, og_gpu));
        CHECK((group.index_select(0, og_cpu) != group).all().item<bool>());
    }
}

namespace {
/// Random inputs of the world-points op: A anchors (one with ρ clamped), P samples.
struct PointsInputs {
    at::Tensor sh, r, pos, aidx, theta, phi;
};
PointsInputs random_points_inputs(at::Generator& gen, at::ScalarType dtype, int64_t A, int64_t P, int64_t L) {
    auto o = at::TensorOptions().dtype(dtype);
    PointsInputs in;
    in.sh = at::randn({A, (L + 1) * (L + 1)}, gen, o) * 0.1;
    in.sh.select(1, 0).fill_(0.2);
    in.sh[std::min<int64_t>(3, A - 1)][0] = -0.05;
    in.r = at::randn({A, 3}, gen, o);
    in.pos = at::randn({A, 3}, gen, o);
    in.aidx = at::randint(0, A, {P}, gen, at::TensorOptions().dtype(at::kLong));
    in.theta = at::rand({P}, gen, o) * M_PI;
    in.phi = at::rand({P}, gen, o) * 20.0;
    return in;
}
}  // namespace

TEST_CASE("cuda: fused world-points kernel gives the CPU kernel's values and gradients", "[cuda][points]") {
    MASH_REQUIRE_CUDA_DEVICE();
    // The anchored inversion is ill-conditioned near θ ≈ π with r ≈ ρ: it amplifies last-bit
    // differences (nvcc's FMA contraction, CUDA's sin/cos vs glibc's) by about 4ρ²/|v|². So each
    // sample is compared within a tolerance scaled by its own condition number κ, estimated from
    // the CPU kernel itself: κ = |CPU float32 − CPU float64| / (ε₃₂·max(1, |x|)). Gradients are
    // compared on the well-conditioned samples (κ ≤ 64; the others get zero upstream gradient).
    auto gen = mash::test::make_gen(41);
    for (int64_t L : {0, 2, 6})
        for (bool inv : {false, true}) {
            auto in64 = random_points_inputs(gen, at::kDouble, 400, 200000, L);
            auto u64 = at::randn({in64.aidx.size(0), 3}, gen, at::TensorOptions().dtype(at::kDouble));
            auto run = [&](c10::Device dev, at::ScalarType dtype, const at::Tensor& u) {
                auto cast = [&](const at::Tensor& t) { return t.to(dev, dtype); };
                auto sh = cast(in64.sh).requires_grad_(true), r = cast(in64.r).requires_grad_(true);
                auto pos = cast(in64.pos).requires_grad_(true), theta = cast(in64.theta).requires_grad_(true);
                auto out = ops::points::world_points(sh, ops::rotation::matrix_from_axis_angle(r), pos, in64.aidx.to(dev), theta,
                                                     cast(in64.phi), L, inv, true);
                if (u.defined()) (out * cast(u)).sum().backward();
                std::vector<at::Tensor> res{out.detach().cpu().to(at::kDouble)};
                if (u.defined())
                    for (auto* t : {&sh, &r, &pos, &theta}) res.push_back(t->grad().cpu().to(at::kDouble));
                return res;
            };
            const at::Tensor ref = run(at::kCPU, at::kDouble, {})[0];
            const at::Tensor mag = ref.abs().clamp_min(1.0);
            const at::Tensor kappa =
                ((run(at::kCPU, at::kFloat, {})[0] - ref).abs() / (mag * 1.1920929e-7)).amax(1).clamp_min(1.0);
            const at::Tensor u = u64 * (kappa <= 64).to(at::kDouble).unsqueeze(1);
            INFO("L " << L << ", inversion " << inv << ", samples with κ > 64: " << (kappa > 64).sum().item<int64_t>()
                      << ", max κ " << kappa.max().item<double>());
            for (auto dtype : {at::kFloat, at::kDouble}) {
                INFO("dtype " << dtype);
                auto cpu = run(at::kCPU, dtype, u), gpu = run(at::kCUDA, dtype, u);
                const double eps = dtype == at::kFloat ? 1.1920929e-7 : 2.220446e-16;
                // Values: within 64 ε·κ·max(1, |x|) of the CPU kernel, sample by sample.
                const at::Tensor excess = (cpu[0] - gpu[0]).abs() - 64 * eps * kappa.unsqueeze(1) * mag;
                CHECK(excess.max().item<double>() <= 0);
                for (size_t k = 1; k < cpu.size(); ++k) {
                    INFO("gradient " << k);
                    const double scale = std::max(1.0, cpu[k].abs().max().item<double>());
                    CHECK(mash::test::max_abs_diff(cpu[k], gpu[k]) < (dtype == at::kFloat ? 1e-5 : 1e-11) * scale);
                }
            }
        }
}

TEST_CASE("cuda: float64 gradcheck of the CUDA world-points backward", "[cuda][points][grad]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(43);
    for (bool inv : {false, true}) {
        auto in = random_points_inputs(gen, at::kDouble, 4, 60, 3);
        auto aidx = in.aidx.cuda();
        auto phi = in.phi.cuda();
        auto res = mash::test::gradcheck(
            [&](const std::vector<at::Tensor>& x) {  // CPU inputs, the op on the GPU, CPU output
                return ops::points::world_points(x[0].cuda(), ops::rotation::matrix_from_axis_angle(x[1].cuda()), x[2].cuda(),
                                                 aidx, x[3].cuda(), phi, 3, inv, true)
                    .cpu();
            },
            {in.sh, in.r, in.pos, in.theta});
        INFO("inversion " << inv << ": " << res.worst);
        CHECK(res.ok);
    }
}

TEST_CASE("cuda: the whole sampling pass on the GPU gives the CPU's samples", "[cuda][mash]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(45);
    MashParams p = MashParams::zeros(64, 3, 2);
    auto fill = [&](std::vector<double>& v, double scale, double add0, int64_t stride) {
        auto r = at::randn({int64_t(v.size())}, gen, at::kDouble) * scale;
        std::copy(r.data_ptr<double>(), r.data_ptr<double>() + r.numel(), v.begin());
        if (stride > 0)
            for (size_t i = 0; i < v.size(); i += size_t(stride)) v[i] += add0;
    };
    fill(p.mask_params, 0.3, 0.0, 0);
    fill(p.sh_params, 0.01, 0.1, 9);
    fill(p.rotate_vectors, 1.0, 0.0, 0);
    fill(p.positions, 0.3, 0.0, 0);
    auto cpu = make_mash(p, {}, at::TensorOptions().dtype(at::kDouble))->forward(true);
    auto gpu = make_mash(p, {}, at::TensorOptions().dtype(at::kDouble).device(at::kCUDA))->forward(true);
    REQUIRE(gpu.inner_points.is_cuda());
    CHECK(at::equal(cpu.inner_anchor_idx, gpu.inner_anchor_idx.cpu()));
    CHECK(at::equal(cpu.inner_direction_idx, gpu.inner_direction_idx.cpu()));  // same masks, same FPS order
    CHECK(mash::test::max_abs_diff(cpu.points(), gpu.points().cpu()) < 1e-10);
}

TEST_CASE("cuda: the surfel distance and its gradient equal the CPU's", "[cuda][losses]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(11);
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    auto sf = mash::test::random_surfels(gen, 500, 0.2);
    auto q = at::randn({2000, 3}, gen, f64);
    auto idx = ops::nearest::nearest_indices(q, sf.points);
    auto run = [&](c10::Device d) {
        auto x = q.to(d).requires_grad_(true);
        auto l = losses::soft_l1(losses::surfel_dist2(x, sf.points.to(d), idx.to(d), sf.normals.to(d), sf.radii.to(d)));
        l.backward();
        return std::make_pair(l.detach().cpu(), x.grad().cpu());
    };
    auto [lc, gc] = run(c10::kCPU);
    auto [lg, gg] = run(c10::Device(c10::kCUDA, 0));
    CHECK(std::abs(lc.item<double>() - lg.item<double>()) < 1e-12);
    CHECK(mash::test::max_abs_diff(gc, gg) < 1e-12);
}

TEST_CASE("cuda: mash fit --device cuda of the bundled bunny reaches the CPU fit's quality", "[cuda][fit][slow]") {
    MASH_REQUIRE_CUDA_DEVICE();
    fitting::FitOptions o;  // default settings
    const auto bunny = mash::test::test_data("npm-bunny.obj");
    auto cpu = fitting::fit_file(bunny, o, 0, {}, "cpu");
    auto gpu = fitting::fit_file(bunny, o, 0, {}, "cuda");
    INFO("CPU: " << cpu.fit.steps << " steps, " << cpu.fit.seconds << " s, L1-CD " << cpu.fit.metrics.l1_cd << ", F "
                 << cpu.fit.metrics.fscore << "; GPU: " << gpu.fit.steps << " steps, " << gpu.fit.seconds << " s, L1-CD "
                 << gpu.fit.metrics.l1_cd << ", F " << gpu.fit.metrics.fscore);
    CHECK(gpu.fit.metrics.l1_cd <= 1.05 * cpu.fit.metrics.l1_cd);
    CHECK(gpu.fit.metrics.fscore >= cpu.fit.metrics.fscore - 0.005);
    WARN("bunny fit: CPU " << cpu.fit.seconds << " s (L1-CD " << cpu.fit.metrics.l1_cd << "), GPU " << gpu.fit.seconds
                           << " s (L1-CD " << gpu.fit.metrics.l1_cd << ")");
}

TEST_CASE("cuda: two GPU fits from the same seed are bit-identical", "[cuda][fit][slow]") {
    MASH_REQUIRE_CUDA_DEVICE();
    fitting::FitOptions o;
    o.max_steps = 200;
    const auto bunny = mash::test::test_data("npm-bunny.obj");
    auto a = fitting::fit_file(bunny, o, 0, {}, "cuda");
    auto b = fitting::fit_file(bunny, o, 0, {}, "cuda");
    CHECK(a.fit.steps == b.fit.steps);
    CHECK(a.fit.metrics.l1_cd == b.fit.metrics.l1_cd);
    CHECK(a.params.positions == b.params.positions);
    CHECK(a.params.sh_params == b.params.sh_params);
}

TEST_CASE("cuda: a KdTree on the GPU answers CPU queries on the CPU", "[cuda][nn]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(47);
    auto ref = at::rand({5000, 3}, gen, at::TensorOptions().dtype(at::kFloat));
    auto q = at::rand({700, 3}, gen, at::TensorOptions().dtype(at::kFloat));
    ops::nearest::KdTree gpu_tree(ref.to(at::kCUDA));
    auto idx = gpu_tree.nearest(q);
    CHECK(idx.device().is_cpu());
    CHECK(at::equal(idx, ops::nearest::KdTree(ref).nearest(q)));
    auto idx2 = ops::nearest::nearest_indices(q, ref.to(at::kCUDA));
    CHECK(idx2.device().is_cpu());
    CHECK(at::equal(idx2, idx));
}

TEST_CASE("cuda: the grid search kernel gives the CPU twin's indices, a KdTree on the GPU is exact", "[cuda][nn]") {
    MASH_REQUIRE_CUDA_DEVICE();
    auto gen = mash::test::make_gen(9);
    for (auto dtype : {at::kFloat, at::kDouble}) {
        auto o = at::TensorOptions().dtype(dtype);
        auto gt = mash::test::noisy_sphere_shell(gen, 100000, dtype);
        auto samples = at::cat({gt.narrow(0, 0, 150000 / 2) + at::randn({75000, 3}, gen, o) * 0.01,
                                at::randn({1000, 3}, gen, o) * 3.0, gt.narrow(0, 490, 40)});
        auto cpu = mash::ops::nearest::nearest_indices_grid(samples, gt);
        auto gpu = mash::ops::nearest::nearest_indices_grid(samples.cuda(), gt.cuda());
        REQUIRE(gpu.is_cuda());
        CHECK(at::equal(gpu.cpu(), cpu));
        CHECK(at::equal(cpu, mash::ops::nearest::nearest_indices_brute(samples, gt)));
        // The fit's two directions through a KdTree on the GPU (grid) vs the CPU KD-tree.
        mash::ops::nearest::KdTree tree(gt.cuda());
        auto fit_dir = tree.nearest(samples.cuda()).cpu(), cov_dir = tree.nearest_in(samples.cuda()).cpu();
        auto d_fit = (samples - gt.index_select(0, fit_dir)).pow(2).sum(1);
        auto d_fit_cpu = (samples - gt.index_select(0, mash::ops::nearest::KdTree(gt).nearest(samples))).pow(2).sum(1);
        CHECK(mash::test::max_abs_diff(d_fit, d_fit_cpu) == 0);
        CHECK(at::equal(cov_dir, mash::ops::nearest::nearest_indices_brute(gt, samples)));
    }
}
