// SPDX-License-Identifier: MIT
// SH basis, mask and rotation ops: goldens, properties and float64 gradient checks.
#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "mash/core/errors.h"
#include "mash/ops/mask/mask.h"
#include "mash/ops/rotation/rotation.h"
#include "mash/ops/sh/sh.h"
#include "tests/support/support.h"

using namespace mash;
using mash::test::gradcheck;
using mash::test::max_abs_diff;

namespace {
const auto kF64 = at::TensorOptions().dtype(at::kDouble);
at::Tensor t1(std::vector<double> v) { return at::tensor(v, kF64); }

/// Legendre polynomial coefficients by the recurrence (l+1)P_{l+1} = (2l+1)xP_l − lP_{l−1}.
std::vector<std::vector<double>> legendre(int L) {
    std::vector<std::vector<double>> P = {{1.0}, {0.0, 1.0}};
    for (int l = 1; l < L; ++l) {
        std::vector<double> next(l + 2, 0.0);
        for (int j = 0; j <= l; ++j) next[j + 1] += (2 * l + 1) * P[l][j] / (l + 1);
        for (int j = 0; j < l; ++j) next[j] -= l * P[l - 1][j] / (l + 1);
        P.push_back(next);
    }
    return P;
}
}  // namespace

TEST_CASE("sh: golden values by hand", "[sh][golden]") {
    // Y00 = 1/(2√π) everywhere.
    auto th = t1({0.0, 0.7, 2.0, M_PI}), ph = t1({0.0, 1.3, -2.0, 5.0});
    auto Y = ops::sh::basis(th, ph, 0);
    CHECK(max_abs_diff(Y.squeeze(1), at::full({4}, 0.5 / std::sqrt(M_PI), kF64)) < 1e-15);
    // At θ = 0 (L = 2) only k0, k2, k6 are non-zero: 0.28209, 0.34549, 2·0.31539 (spec App. B).
    auto Y0 = ops::sh::basis(t1({0.0}), t1({0.4}), 2).squeeze(0);
    std::vector<double> expect = {0.28209479177, 0, 0.34549414947, 0, 0, 0, 2 * 0.31539156525, 0, 0};
    for (int k = 0; k < 9; ++k) CHECK(Y0[k].item<double>() == Approx(expect[k]).margin(1e-10));
    // k7 (2,+1) = 0.77254840 · cosφ · sinθ · cosθ at a generic point.
    double t = 0.9, p = 2.1;
    auto Yg = ops::sh::basis(t1({t}), t1({p}), 2).squeeze(0);
    CHECK(Yg[7].item<double>() == Approx(0.77254840405 * std::cos(p) * std::sin(t) * std::cos(t)).epsilon(1e-10));
    CHECK(Yg[4].item<double>() == Approx(0.38627420202 * std::sin(2 * p) * std::sin(t) * std::sin(t)).epsilon(1e-10));
    CHECK(Yg[2].item<double>() == Approx(0.34549414947 * std::cos(t)).epsilon(1e-10));  // not 0.4886
}

TEST_CASE("sh: table polynomials are scaled Legendre derivatives (recurrence check)", "[sh][property]") {
    auto P = legendre(6);
    for (int l = 0; l <= 6; ++l) {
        for (int m = 0; m <= l; ++m) {
            // m-th derivative of P_l.
            std::vector<double> d = P[l];
            for (int k = 0; k < m; ++k) {
                std::vector<double> dd(std::max<size_t>(1, d.size() - 1), 0.0);
                for (size_t j = 1; j < d.size(); ++j) dd[j - 1] = j * d[j];
                d = dd;
            }
            // Q = c · d for one constant c.
            double c = 0;
            for (size_t j = 0; j < d.size(); ++j)
                if (d[j] != 0) {
                    c = ops::sh::legendre_table_coeff(l, m, j) / d[j];
                    break;
                }
            REQUIRE(c != 0);
            for (int j = 0; j <= 6; ++j) {
                double dj = j < int(d.size()) ? d[j] : 0.0;
                INFO("l=" << l << " m=" << m << " j=" << j);
                CHECK(ops::sh::legendre_table_coeff(l, m, j) == Approx(c * dj).margin(1e-12));
            }
        }
    }
}

TEST_CASE("sh: Gram matrix on the sphere matches the original's non-uniform norms", "[sh][property]") {
    // Midpoint quadrature in (θ, φ); orthogonal with the norms of spec §2.
    const int nt = 400, np = 800, L = 6;
    auto th = (at::arange(nt, kF64) + 0.5) * (M_PI / nt);
    auto ph = (at::arange(np, kF64) + 0.5) * (2 * M_PI / np);
    auto T = th.repeat_interleave(np), Ph = ph.repeat({nt});
    auto Y = ops::sh::basis(T, Ph, L);
    auto w = at::sin(T) * (M_PI / nt) * (2 * M_PI / np);
    auto G = at::matmul(Y.t() * w, Y);
    auto expected_norm = [](int l, int m) {
        if (l == 1) return 0.5;
        if ((l == 2 || l == 5 || l == 6) && m != 0) return 0.5;
        return 1.0;
    };
    for (int l = 0; l <= L; ++l)
        for (int m = -l; m <= l; ++m) {
            int k = l * l + m + l;
            INFO("l=" << l << " m=" << m);
            CHECK(G[k][k].item<double>() == Approx(expected_norm(l, std::abs(m))).epsilon(2e-4));
        }
    auto off = G - at::diag(at::diagonal(G));
    CHECK(off.abs().max().item<double>() < 2e-4);
}

TEST_CASE("sh: float64 gradcheck in θ and φ, including θ = π/2 and the poles", "[sh][grad]") {
    for (int L : {0, 2, 6}) {
        auto th = t1({0.3, M_PI / 2, 1e-4, M_PI - 1e-4, 2.2});
        auto ph = t1({0.1, 2.0, 4.0, -1.0, 6.28});
        auto r = gradcheck([&](const std::vector<at::Tensor>& x) { return ops::sh::basis(x[0], x[1], L); }, {th, ph});
        INFO("L=" << L << " " << r.worst);
        CHECK(r.ok);
    }
}

TEST_CASE("sh: degree out of range is an error", "[sh][errors]") {
    CHECK_THROWS_AS(ops::sh::basis(t1({0.1}), t1({0.1}), 7), InputError);
    CHECK_THROWS_AS(ops::sh::basis(t1({0.1}), t1({0.1}), -1), InputError);
}

TEST_CASE("mask: basis order, hemisphere at zero, range and periodicity", "[mask][property]") {
    auto B = ops::mask::basis(t1({0.3}), 2).squeeze(0);
    std::vector<double> expect = {1, std::cos(0.3), std::sin(0.3), std::cos(0.6), std::sin(0.6)};
    for (int k = 0; k < 5; ++k) CHECK(B[k].item<double>() == Approx(expect[k]).epsilon(1e-14));
    auto phi = at::linspace(-10.0, 10.0, 257, kF64);
    auto zero = ops::mask::thetas(at::zeros({2, 7}, kF64), ops::mask::basis(phi, 3));
    CHECK(max_abs_diff(zero, at::full_like(zero, M_PI / 2)) < 1e-15);
    auto gen = mash::test::make_gen(7);
    auto m = at::randn({5, 7}, gen, kF64) * 3.0;
    auto th = ops::mask::thetas(m, ops::mask::basis(phi, 3));
    CHECK(th.min().item<double>() > 0.0);
    CHECK(th.max().item<double>() < M_PI);
    auto th2 = ops::mask::thetas(m, ops::mask::basis(phi + 2 * M_PI, 3));
    CHECK(max_abs_diff(th, th2) < 1e-12);
}

TEST_CASE("mask: float64 gradcheck", "[mask][grad]") {
    auto gen = mash::test::make_gen(3);
    auto m = at::randn({3, 7}, gen, kF64);
    auto phi = at::linspace(0.0, 6.0, 11, kF64);
    auto r =
        gradcheck([&](const std::vector<at::Tensor>& x) { return ops::mask::thetas(x[0], ops::mask::basis(x[1], 3)); }, {m, phi});
    INFO(r.worst);
    CHECK(r.ok);
    CHECK_THROWS_AS(ops::mask::basis(phi, 11), InputError);
}

TEST_CASE("rotation: Rodrigues goldens", "[rotation][golden]") {
    auto R = ops::rotation::matrix_from_axis_angle(t1({0, 0, M_PI / 2}).view({1, 3})).squeeze(0);
    CHECK(max_abs_diff(at::matmul(R, t1({1, 0, 0})), t1({0, 1, 0})) < 1e-15);
    // Face-forward f = (1,0,0) ↔ r = (0, π/2, 0) and R·ẑ = f (spec App. B).
    auto r = ops::rotation::axis_angle_from_view_direction(t1({1, 0, 0}).view({1, 3}));
    CHECK(max_abs_diff(r, t1({0, M_PI / 2, 0}).view({1, 3})) < 1e-15);
    auto Rf = ops::rotation::matrix_from_axis_angle(r).squeeze(0);
    CHECK(max_abs_diff(at::matmul(Rf, t1({0, 0, 1})), t1({1, 0, 0})) < 1e-15);
    // r = 0 is exactly the identity; π about x flips y and z.
    CHECK(max_abs_diff(ops::rotation::matrix_from_axis_angle(at::zeros({1, 3}, kF64)).squeeze(0), at::eye(3, kF64)) == 0);
    auto Rpi = ops::rotation::matrix_from_axis_angle(t1({M_PI, 0, 0}).view({1, 3})).squeeze(0);
    CHECK(max_abs_diff(Rpi, at::diag(t1({1, -1, -1}))) < 1e-15);
}

TEST_CASE("rotation: Rodrigues gradcheck, at 0, tiny, generic and near π", "[rotation][grad]") {
    auto r = t1({0, 0, 0, 1e-5, -2e-5, 3e-6, 0.3, -0.8, 1.1, 0, 3.1, 0.2}).view({4, 3});
    auto res = gradcheck([](const std::vector<at::Tensor>& x) { return ops::rotation::matrix_from_axis_angle(x[0]); }, {r});
    INFO(res.worst);
    CHECK(res.ok);
    // d R / d r_x at 0 is the generator [e_x]×.
    auto x = at::zeros({1, 3}, kF64).requires_grad_(true);
    auto R = ops::rotation::matrix_from_axis_angle(x);
    auto g = at::zeros({1, 3, 3}, kF64);
    g[0][2][1] = 1.0;  // pick R[2][1] = +r_x
    R.backward(g);
    CHECK(max_abs_diff(x.grad(), t1({1, 0, 0}).view({1, 3})) < 1e-15);
}

TEST_CASE("rotation: log map inverts Rodrigues, including θ ≈ 0 and θ ≈ π", "[rotation][property]") {
    auto gen = mash::test::make_gen(11);
    auto axes = at::randn({9, 3}, gen, kF64);
    axes = axes / axes.norm(2, 1, true);
    auto angles = t1({0.0, 1e-9, 1e-5, 0.5, 1.5, 2.5, 3.0, M_PI - 1e-7, M_PI - 1e-12}).view({9, 1});
    auto r = axes * angles;
    auto R = ops::rotation::matrix_from_axis_angle(r);
    auto r2 = ops::rotation::axis_angle_from_matrix(R);
    auto R2 = ops::rotation::matrix_from_axis_angle(r2);
    CHECK(max_abs_diff(R, R2) < 1e-12);
    CHECK(max_abs_diff(r.narrow(0, 0, 7), r2.narrow(0, 0, 7)) < 1e-9);
    CHECK(r2.norm(2, 1).max().item<double>() <= M_PI + 1e-12);
}

TEST_CASE("rotation: ortho6d Gram–Schmidt round trip and orthonormalization", "[rotation][property]") {
    auto gen = mash::test::make_gen(5);
    auto R = ops::rotation::matrix_from_axis_angle(at::randn({6, 3}, gen, kF64));
    auto o = ops::rotation::ortho6d_from_matrix(R);
    CHECK(max_abs_diff(ops::rotation::matrix_from_ortho6d(o), R) < 1e-14);
    // Non-orthonormal input (scaled and sheared like the official fixture) recovers R.
    auto x = R.select(-1, 0), y = R.select(-1, 1);
    auto o2 = at::cat({1.3 * x, 0.7 * y + 0.4 * x}, -1);
    CHECK(max_abs_diff(ops::rotation::matrix_from_ortho6d(o2), R) < 1e-14);
    auto M = ops::rotation::matrix_from_ortho6d(at::randn({4, 6}, gen, kF64));
    CHECK(max_abs_diff(at::matmul(M, M.transpose(1, 2)), at::eye(3, kF64).expand({4, 3, 3})) < 1e-14);
    CHECK(max_abs_diff(at::linalg_det(M), at::ones({4}, kF64)) < 1e-14);
}

TEST_CASE("rotation: view direction maps ẑ to f, including ±ẑ and 0", "[rotation][property]") {
    auto f = t1({0.3, -0.2, 0.9, 0, 0, 1, 0, 0, -1, 0, 0, 0, -1, 2, 0.5}).view({5, 3});
    auto r = ops::rotation::axis_angle_from_view_direction(f);
    auto z = at::matmul(ops::rotation::matrix_from_axis_angle(r), t1({0, 0, 1}));
    auto fn = f / f.norm(2, 1, true).clamp_min(1e-30);
    CHECK(max_abs_diff(z.narrow(0, 0, 3), fn.narrow(0, 0, 3)) < 1e-14);
    CHECK(max_abs_diff(z.narrow(0, 4, 1), fn.narrow(0, 4, 1)) < 1e-14);
    CHECK(max_abs_diff(r[3], at::zeros({3}, kF64)) == 0);  // f = 0 → r = 0
}

#include "mash/ops/points/points.h"

TEST_CASE("segment_sum_rows equals index_add_ (unsorted indices, empty segments)", "[ops][points]") {
    auto gen = mash::test::make_gen(5);
    auto rows = at::randn({1000, 7}, gen, kF64);
    auto idx = at::randint(0, 40, {1000}, gen, at::TensorOptions().dtype(at::kLong));
    idx.masked_fill_(idx == 17, 3);                           // segment 17 empty
    auto got = ops::points::segment_sum_rows(rows, idx, 45);  // 40..44 empty too
    auto want = at::zeros({45, 7}, kF64).index_add_(0, idx, rows);
    CHECK(got.sizes() == want.sizes());
    CHECK(max_abs_diff(got, want) < 1e-12);
    CHECK(got[17].abs().max().item<double>() == 0);
    CHECK_THROWS(ops::points::segment_sum_rows(rows, idx.clamp_max(50) + 10, 45));  // an index >= n
}

TEST_CASE("world_points refuses inputs on different devices with one line", "[ops][points][errors]") {
    const int64_t A = 2, P = 5, L = 1;
    auto sh = at::full({A, (L + 1) * (L + 1)}, 0.3, kF64);
    auto R = at::eye(3, kF64).expand({A, 3, 3}).contiguous();
    auto pos = at::zeros({A, 3}, kF64);
    auto aidx = at::zeros({P}, at::TensorOptions().dtype(at::kLong));
    auto theta = at::full({P}, 0.5, kF64), phi = at::zeros({P}, kF64);
    // A meta tensor stands for a tensor on another device (no GPU is needed to check the refusal).
    auto meta = [](const at::Tensor& t) { return at::empty(t.sizes(), t.options().device(at::kMeta)); };
    for (int which = 0; which < 3; ++which) {
        try {
            ops::points::world_points(sh, R, which == 0 ? meta(pos) : pos, which == 1 ? meta(aidx) : aidx,
                                      which == 2 ? meta(theta) : theta, phi, L, true);
            FAIL("no error for mixed devices");
        } catch (const InputError& e) {
            const std::string w = e.what();
            CHECK(w.find("one device") != std::string::npos);
            CHECK(w.find("meta") != std::string::npos);
            CHECK(w.find('\n') == std::string::npos);
        }
    }
    CHECK(ops::points::world_points(sh, R, pos, aidx, theta, phi, L, true).sizes() == at::IntArrayRef({P, 3}));
}
