// SPDX-License-Identifier: MIT
// The Mash module: hand-derived goldens, invariants, FPS kernel vs reference, gradient checks.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "mash/core/errors.h"
#include "mash/ops/mask/mask.h"
#include "mash/ops/points/points.h"
#include "mash/ops/rotation/rotation.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"
#include "tests/support/support.h"

using namespace mash;
using mash::test::gradcheck;
using mash::test::max_abs_diff;

namespace {
const auto kF64 = at::TensorOptions().dtype(at::kDouble);
const double kW0 = 0.5 / std::sqrt(M_PI);

MashParams random_params(int64_t A, int64_t K, int64_t L, uint64_t seed, double mask_scale = 0.5) {
    auto gen = mash::test::make_gen(seed);
    MashParams p = MashParams::zeros(A, K, L);
    auto fill = [&](std::vector<double>& v, double s) {
        auto t = at::randn({int64_t(v.size())}, gen, kF64) * s;
        std::copy(t.data_ptr<double>(), t.data_ptr<double>() + v.size(), v.begin());
    };
    fill(p.mask_params, mask_scale);
    fill(p.sh_params, 0.02);
    fill(p.rotate_vectors, 1.0);
    fill(p.positions, 0.3);
    for (int64_t a = 0; a < A; ++a) p.sh_params[a * p.sh_dim()] = (0.05 + 0.01 * a) / kW0;
    return p;
}

MashOptions tiny_options() {
    MashOptions o;
    o.num_directions = 64;
    o.num_boundary = 8;
    return o;
}
}  // namespace

TEST_CASE("mash: constant-SH hemisphere patch is the flat disk of radius 2ρ at z = ρ", "[mash][golden]") {
    const double d = 0.01;
    MashParams p = MashParams::zeros(1, 3, 2);
    p.sh_params[0] = d / kW0;
    Mash m = make_mash(p, {}, kF64);
    auto s = m->forward(true);
    // 90 boundary points at (2d cos φ_j, 2d sin φ_j, d).
    auto phi_b = ops::sampling::boundary_phis(90, kF64);
    auto expect_b = at::stack({2 * d * at::cos(phi_b), 2 * d * at::sin(phi_b), at::full_like(phi_b, d)}, 1);
    CHECK(max_abs_diff(s.boundary_points, expect_b) < 1e-15);
    // 500 in-mask rays, 400 kept; the ray at θ lands at (2d tan(θ/2) cos φ, 2d tan(θ/2) sin φ, d).
    CHECK(s.inner_counts.item<int64_t>() == 500);
    REQUIRE(s.inner_points.size(0) == 400);
    auto dirs = ops::sampling::fibonacci(1000, kF64);
    auto th = dirs.thetas.index_select(0, s.inner_direction_idx);
    auto ph = dirs.phis.index_select(0, s.inner_direction_idx);
    auto rad = 2 * d * at::tan(th / 2);
    auto expect_i = at::stack({rad * at::cos(ph), rad * at::sin(ph), at::full_like(th, d)}, 1);
    CHECK(max_abs_diff(s.inner_points, expect_i) < 1e-15);
    CHECK(s.points().size(0) == 490);
    // The face-to point is the disk centre.
    CHECK(max_abs_diff(m->face_to_points(), at::tensor({0.0, 0.0, d}, kF64).view({1, 3})) < 1e-15);
}

TEST_CASE("mash: default module samples 196000 points at initialization", "[mash][golden]") {
    Mash m(MashOptions{}, kF64);
    at::NoGradGuard ng;
    auto s = m->forward(true);
    CHECK(s.boundary_points.size(0) == 400 * 90);
    CHECK(s.inner_points.size(0) == 400 * 400);
    CHECK(s.inner_counts.min().item<int64_t>() == 500);
    CHECK(s.inner_counts.max().item<int64_t>() == 500);
}

TEST_CASE("mash: every inner sample lies inside its anchor's mask (and the prefilter)", "[mash][property]") {
    MashParams p = random_params(20, 3, 2, 1, 1.5);
    Mash m = make_mash(p, {}, kF64);
    at::NoGradGuard ng;
    auto s = m->forward(false);
    auto dirs = ops::sampling::fibonacci(1000, kF64);
    auto th = dirs.thetas.index_select(0, s.inner_direction_idx);
    auto ph = dirs.phis.index_select(0, s.inner_direction_idx);
    auto ai = s.inner_anchor_idx;
    auto tmax = ops::mask::thetas(m->mask_params, ops::mask::basis(ph, 3));  // [A, P]
    auto own = tmax.gather(0, ai.view({1, -1})).squeeze(0);
    CHECK((th <= own).all().item<bool>());
    CHECK((th <= s.boundary_thetas.amax(1).index_select(0, ai)).all().item<bool>());
    // Weights are θ/θmax in (0, 1].
    CHECK(s.inner_theta_weights.max().item<double>() <= 1.0);
    CHECK(max_abs_diff(s.inner_theta_weights, th / own) < 1e-12);
    // Completeness: no ray that passes both tests is missing.
    auto all_t = ops::mask::thetas(m->mask_params, ops::mask::basis(dirs.phis, 3));  // [A, N]
    auto pass = (dirs.thetas.unsqueeze(0) <= all_t) & (dirs.thetas.unsqueeze(0) <= s.boundary_thetas.amax(1, true));
    CHECK(pass.sum().item<int64_t>() == s.inner_points.size(0));
    // Anchor-major order, ascending Fibonacci index.
    auto key = ai * 1000 + s.inner_direction_idx;
    CHECK((key.narrow(0, 1, key.size(0) - 1) > key.narrow(0, 0, key.size(0) - 1)).all().item<bool>());
}

TEST_CASE("mash: translating and rotating the anchors moves the samples rigidly", "[mash][property]") {
    MashParams p = random_params(12, 3, 2, 2);
    Mash m = make_mash(p, {}, kF64);
    at::NoGradGuard ng;
    auto s0 = m->forward(true);
    MashParams q = p;
    q.translate(0.3, -0.2, 0.7);
    auto s1 = make_mash(q, {}, kF64)->forward(true);
    CHECK(max_abs_diff(s1.points(), s0.points() + at::tensor({0.3, -0.2, 0.7}, kF64)) < 1e-14);
    // Rotate the world by Q: positions ← Q p, R ← Q R.
    auto Q = ops::rotation::matrix_from_axis_angle(at::tensor({0.4, -1.1, 0.8}, kF64).view({1, 3})).squeeze(0);
    auto pos = at::from_blob(p.positions.data(), {12, 3}, kF64);
    auto R = ops::rotation::matrix_from_axis_angle(at::from_blob(p.rotate_vectors.data(), {12, 3}, kF64));
    auto new_pos = at::matmul(pos, Q.t()).contiguous();
    auto new_r = ops::rotation::axis_angle_from_matrix(at::matmul(Q, R)).contiguous();
    MashParams r = p;
    r.positions.assign(new_pos.data_ptr<double>(), new_pos.data_ptr<double>() + 36);
    r.rotate_vectors.assign(new_r.data_ptr<double>(), new_r.data_ptr<double>() + 36);
    auto s2 = make_mash(r, {}, kF64)->forward(true);
    CHECK(max_abs_diff(s2.points(), at::matmul(s0.points(), Q.t())) < 1e-12);
    // Scaling positions and all SH coefficients scales the samples (positive homogeneity).
    MashParams sc = p;
    sc.scale(2.5);
    auto s3 = make_mash(sc, {}, kF64)->forward(true);
    CHECK(max_abs_diff(s3.points(), 2.5 * s0.points()) < 1e-13);
}

TEST_CASE("mash: float64 gradcheck of the whole sampling pass", "[mash][grad]") {
    MashParams p = random_params(3, 2, 3, 4, 0.8);
    MashOptions o = tiny_options();
    Mash m = make_mash(p, o, kF64);
    auto base = [&] {
        return std::vector<at::Tensor>{m->mask_params.detach().clone(), m->sh_params.detach().clone(),
                                       m->rotate_vectors.detach().clone(), m->positions.detach().clone()};
    };
    auto set = [&](const std::vector<at::Tensor>& x) {
        // Rebind the module's parameters to the checker's tensors (keeps autograd edges).
        m->mask_params = x[0];
        m->sh_params = x[1];
        m->rotate_vectors = x[2];
        m->positions = x[3];
    };
    SECTION("all points w.r.t. SH, rotation and position (membership fixed)") {
        auto mask0 = m->mask_params.detach().clone();
        auto b = base();
        auto r = gradcheck(
            [&](const std::vector<at::Tensor>& x) {
                set({mask0, x[0], x[1], x[2]});
                return m->forward(false).points();
            },
            {b[1], b[2], b[3]});
        INFO(r.worst);
        CHECK(r.ok);
    }
    SECTION("boundary points w.r.t. everything") {
        auto r = gradcheck(
            [&](const std::vector<at::Tensor>& x) {
                set(x);
                return m->forward(false).boundary_points;
            },
            base());
        INFO(r.worst);
        CHECK(r.ok);
    }
    SECTION("inner points w.r.t. the mask follow the sliding ray θ = w·θmax(φ)") {
        auto s = m->forward(false);
        auto w = s.inner_theta_weights.detach();
        auto dirs = ops::sampling::fibonacci(o.num_directions, kF64);
        auto ph = dirs.phis.index_select(0, s.inner_direction_idx);
        auto ai = s.inner_anchor_idx;
        auto R = m->rotation_matrices().detach().index_select(0, ai);
        auto sh = m->sh_params.detach().index_select(0, ai);
        auto pos = m->positions.detach().index_select(0, ai);
        // Reference: the same world point as an explicit function of the mask parameters.
        auto sliding = [&](const at::Tensor& mp) {
            auto tmax = (mp.index_select(0, ai) * ops::mask::basis(ph, 2)).sum(-1).sigmoid() * M_PI;
            auto q = ops::sampling::local_points(sh, w * tmax, ph, 3, true);
            return pos + at::matmul(R, q.unsqueeze(-1)).squeeze(-1);
        };
        auto u = at::randn({s.inner_points.size(0), 3}, mash::test::make_gen(9), kF64);
        auto mp = m->mask_params.detach().clone().requires_grad_(true);
        set({mp, m->sh_params.detach(), m->rotate_vectors.detach(), m->positions.detach()});
        (m->forward(false).inner_points * u).sum().backward();
        auto mp2 = mp.detach().clone().requires_grad_(true);
        (sliding(mp2) * u).sum().backward();
        CHECK(max_abs_diff(mp.grad(), mp2.grad()) < 1e-12);
        CHECK(mp.grad().abs().max().item<double>() > 1e-3);  // the mask does receive gradient
        // And the reference itself agrees with finite differences.
        auto r = gradcheck([&](const std::vector<at::Tensor>& x) { return sliding(x[0]); }, {mp.detach()});
        INFO(r.worst);
        CHECK(r.ok);
    }
}

TEST_CASE("mash: FPS keeps a gather, so gradients reach exactly the selected points", "[mash][grad]") {
    MashParams p = random_params(4, 3, 2, 5);
    Mash m = make_mash(p, tiny_options(), kF64);
    auto s = m->forward(true);
    (s.inner_points.sum() * 0 + s.inner_points.select(1, 2).sum()).backward();
    auto g_fps = m->positions.grad().clone();
    // Each selected inner point contributes d z/d p_a = 1 to its anchor's z.
    auto counts = at::bincount(s.inner_anchor_idx, {}, 4).to(at::kDouble);
    CHECK(max_abs_diff(g_fps.select(1, 2), counts) < 1e-12);
    CHECK(max_abs_diff(counts, at::ceil(s.inner_counts.to(at::kDouble) * 0.8)) == 0);
}

TEST_CASE("fps: CPU kernel matches the ATen reference exactly", "[fps]") {
    auto gen = mash::test::make_gen(21);
    for (auto dtype : {at::kFloat, at::kDouble}) {
        auto counts = at::tensor(std::vector<int64_t>{0, 1, 5, 37, 120, 64}, at::kLong);
        auto offsets = at::cat({at::zeros({1}, at::kLong), at::cumsum(counts, 0)});
        auto keep = at::ceil(counts.to(at::kDouble) * 0.8).to(at::kLong);
        auto pts = at::randn({counts.sum().item<int64_t>(), 3}, gen, at::TensorOptions().dtype(dtype));
        // Add exact duplicates to exercise tie-breaking (first index wins).
        pts.narrow(0, 50, 10).copy_(pts.narrow(0, 40, 1).expand({10, 3}));
        auto a = ops::sampling::fps_packed(pts, offsets, keep);
        auto b = ops::sampling::fps_packed_ref(pts, offsets, keep);
        REQUIRE(a.sizes() == b.sizes());
        CHECK(at::equal(a, b));
        CHECK(a.size(0) == keep.sum().item<int64_t>());
    }
}

TEST_CASE("fps: selection starts at each segment's first point and stays in its segment", "[fps][property]") {
    auto gen = mash::test::make_gen(22);
    auto counts = at::tensor(std::vector<int64_t>{10, 20, 30}, at::kLong);
    auto offsets = at::cat({at::zeros({1}, at::kLong), at::cumsum(counts, 0)});
    auto keep = at::tensor(std::vector<int64_t>{10, 5, 1}, at::kLong);
    auto pts = at::randn({60, 3}, gen, kF64);
    auto idx = ops::sampling::fps_packed(pts, offsets, keep);
    REQUIRE(idx.size(0) == 16);
    CHECK(idx[0].item<int64_t>() == 0);
    CHECK(idx[10].item<int64_t>() == 10);
    CHECK(idx[15].item<int64_t>() == 30);
    auto first = idx.narrow(0, 0, 10);
    CHECK(std::get<0>(at::sort(first)).equal(at::arange(10, at::kLong)));  // all points, no repeats
    // The second pick of segment 1 is its farthest point from the first one.
    auto seg = pts.narrow(0, 10, 20);
    auto far = (seg - seg[0]).pow(2).sum(1).argmax().item<int64_t>() + 10;
    CHECK(idx[11].item<int64_t>() == far);
}

TEST_CASE("mash: degenerate anchors (c0 <= 0, zero rotation) give finite points and gradients", "[mash][errors]") {
    MashParams p = random_params(3, 3, 2, 6);
    p.sh_params[0] = -0.1;          // ρ < 0
    p.sh_params[p.sh_dim()] = 0.0;  // ρ = 0
    std::fill(p.rotate_vectors.begin(), p.rotate_vectors.begin() + 3, 0.0);
    CHECK(p.count_nonpositive_rho() == 2);
    Mash m = make_mash(p, tiny_options(), kF64);
    auto s = m->forward(true);
    auto pts = s.points();
    CHECK(at::isfinite(pts).all().item<bool>());
    pts.sum().backward();
    for (auto& t : m->parameters()) CHECK(at::isfinite(t.grad()).all().item<bool>());
}

TEST_CASE("mash: options and parameter validation", "[mash][errors]") {
    MashOptions o;
    o.sh_degree = 7;
    CHECK_THROWS_WITH(Mash(o), Catch::Contains("sh_degree"));
    o = MashOptions{};
    o.num_anchors = 0;
    CHECK_THROWS_WITH(Mash(o), Catch::Contains("num_anchors"));
    o = MashOptions{};
    o.fps_scale = 1.5;
    CHECK_THROWS_AS(Mash(o), ConfigError);
    Mash m(tiny_options(), kF64);
    CHECK_THROWS_WITH(m->set_params(random_params(3, 3, 2, 1)), Catch::Contains("built for A=400"));
    MashParams bad = random_params(400, 3, 2, 1);
    bad.sh_params[17] = std::nan("");
    CHECK_THROWS_WITH(m->set_params(bad), Catch::Contains("sh_params has a non-finite value"));
}

TEST_CASE("mash: to_params/set_params round trip and float32 module", "[mash]") {
    MashParams p = random_params(5, 2, 1, 8);
    Mash m = make_mash(p, tiny_options(), kF64);
    MashParams q = m->to_params();
    CHECK(q.sh_params == p.sh_params);
    CHECK(q.rotate_vectors == p.rotate_vectors);
    Mash m32 = make_mash(p, tiny_options(), at::TensorOptions().dtype(at::kFloat));
    at::NoGradGuard ng;
    auto a = m->forward(false).points(), b = m32->forward(false).points();
    REQUIRE(a.sizes() == b.sizes());
    CHECK(max_abs_diff(a, b) < 1e-5);
}

TEST_CASE("world_points: fused CPU kernel matches the ATen reference, forward and backward", "[mash][kernel][grad]") {
    for (auto dtype : {at::kDouble, at::kFloat}) {
        for (int L : {0, 2, 3}) {
            for (bool inv : {true, false}) {
                for (bool relu : {true, false}) {
                    auto gen = mash::test::make_gen(100 + L);
                    auto o = at::TensorOptions().dtype(dtype);
                    const int64_t A = 5, P = 300, K = (L + 1) * (L + 1);
                    auto sh = (at::randn({A, K}, gen, o) * 0.1).requires_grad_(true);
                    {
                        at::NoGradGuard ng;
                        sh.select(1, 0).fill_(0.2);
                        sh[3][0] = -0.05;  // one degenerate anchor (ρ clamped)
                    }
                    auto r = at::randn({A, 3}, gen, o).requires_grad_(true);
                    auto pos = at::randn({A, 3}, gen, o).requires_grad_(true);
                    auto aidx = at::randint(0, A, {P}, gen, at::TensorOptions().dtype(at::kLong));
                    auto theta = (at::rand({P}, gen, o) * M_PI).requires_grad_(true);
                    auto phi = at::rand({P}, gen, o) * 20.0;
                    auto u = at::randn({P, 3}, gen, o);
                    auto run = [&](bool fused) {
                        for (auto* t : {&sh, &r, &pos, &theta}) t->mutable_grad() = at::Tensor();
                        auto R = ops::rotation::matrix_from_axis_angle(r);
                        auto out = fused ? ops::points::world_points(sh, R, pos, aidx, theta, phi, L, inv, relu)
                                         : ops::points::world_points_ref(sh, R, pos, aidx, theta, phi, L, inv, relu);
                        (out * u).sum().backward();
                        return std::vector<at::Tensor>{out.detach(), sh.grad().clone(), r.grad().clone(), pos.grad().clone(),
                                                       theta.grad().clone()};
                    };
                    auto a = run(true), b = run(false);
                    const double tol = dtype == at::kDouble ? 1e-10 : 2e-3;
                    INFO("dtype=" << dtype << " L=" << L << " inv=" << inv << " relu=" << relu);
                    for (size_t k = 0; k < a.size(); ++k) {
                        INFO("output " << k);
                        double scale = std::max(1.0, b[k].abs().max().item<double>());
                        CHECK(max_abs_diff(a[k], b[k]) < tol * scale);
                    }
                }
            }
        }
    }
}

TEST_CASE("world_points: float64 gradcheck of the fused kernel", "[mash][kernel][grad]") {
    auto gen = mash::test::make_gen(77);
    const int64_t A = 3, P = 40, L = 3;
    auto sh = at::randn({A, 16}, gen, kF64) * 0.1;
    sh.select(1, 0).fill_(0.3);
    auto R = ops::rotation::matrix_from_axis_angle(at::randn({A, 3}, gen, kF64));
    auto pos = at::randn({A, 3}, gen, kF64);
    auto aidx = at::randint(0, A, {P}, gen, at::TensorOptions().dtype(at::kLong));
    auto theta = at::rand({P}, gen, kF64) * 3.0;
    auto phi = at::rand({P}, gen, kF64) * 6.0;
    auto res = gradcheck(
        [&](const std::vector<at::Tensor>& x) {
            return ops::points::world_points(x[0], x[1], x[2], aidx, x[3], phi, L, true, true);
        },
        {sh, R, pos, theta});
    INFO(res.worst);
    CHECK(res.ok);
}
