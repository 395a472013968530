// SPDX-License-Identifier: MIT
// ATen reference implementations of the SH basis, mask and rotation ops. They are device-agnostic
// and differentiable through autograd; they stay the reference for any fused kernel.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/ops/limits.h"
#include "mash/ops/mask.h"
#include "mash/ops/rotation.h"
#include "mash/ops/sh.h"

namespace mash {
namespace sh {
namespace {

constexpr double kPi = 3.14159265358979323846;

/// One row per (l, |m|): the original W constant and the polynomial Q_l^{|m|}(x) = Σ c_j x^j.
struct ShRow {
    int l, m;
    double num, den;  ///< W = num · sqrt(den / π)
    double c[7];
};
// clang-format off
const ShRow kShTable[] = {
    {0, 0, 1.0 / 2,  1.0,          {1}},
    {1, 0, 1.0 / 2,  1.5,          {0, 1}},
    {1, 1, 1.0 / 2,  1.5,          {1}},
    {2, 0, 1.0 / 4,  5.0,          {-1, 0, 3}},
    {2, 1, 1.0 / 2,  7.5,          {0, 1}},
    {2, 2, 1.0 / 4,  7.5,          {1}},
    {3, 0, 1.0 / 4,  7.0,          {0, -3, 0, 5}},
    {3, 1, 1.0 / 8,  42.0,         {-1, 0, 5}},
    {3, 2, 1.0 / 4,  105.0,        {0, 1}},
    {3, 3, 1.0 / 8,  70.0,         {1}},
    {4, 0, 3.0 / 16, 1.0,          {3, 0, -30, 0, 35}},
    {4, 1, 3.0 / 8,  10.0,         {0, -3, 0, 7}},
    {4, 2, 3.0 / 8,  5.0,          {-1, 0, 7}},
    {4, 3, 3.0 / 8,  70.0,         {0, 1}},
    {4, 4, 3.0 / 16, 35.0,         {1}},
    {5, 0, 1.0 / 16, 11.0,         {0, 15, 0, -70, 0, 63}},
    {5, 1, 1.0 / 16, 165.0 / 2,    {1, 0, -14, 0, 21}},
    {5, 2, 1.0 / 8,  1155.0 / 2,   {0, -1, 0, 3}},
    {5, 3, 1.0 / 32, 385.0,        {-1, 0, 9}},
    {5, 4, 3.0 / 16, 385.0 / 2,    {0, 1}},
    {5, 5, 3.0 / 32, 77.0,         {1}},
    {6, 0, 1.0 / 32, 13.0,         {-5, 0, 105, 0, -315, 0, 231}},
    {6, 1, 1.0 / 16, 273.0 / 2,    {0, 5, 0, -30, 0, 33}},
    {6, 2, 1.0 / 64, 1365.0,       {1, 0, -18, 0, 33}},
    {6, 3, 1.0 / 32, 1365.0,       {0, -3, 0, 11}},
    {6, 4, 3.0 / 32, 91.0 / 2,     {-1, 0, 11}},
    {6, 5, 3.0 / 32, 1001.0,       {0, 1}},
    {6, 6, 1.0 / 64, 3003.0,       {1}},
};
// clang-format on

const ShRow& row(int64_t l, int64_t abs_m) {
    if (l < 0 || l > kMaxShDegree || abs_m < 0 || abs_m > l)
        throw InputError("sh: (l, |m|) = (" + std::to_string(l) + ", " + std::to_string(abs_m) +
                         ") out of range (expected 0 <= |m| <= l <= 6)");
    return kShTable[l * (l + 1) / 2 + abs_m];
}

void check_degree(int64_t degree) {
    if (degree < 0 || degree > kMaxShDegree)
        throw InputError("sh: degree " + std::to_string(degree) + " out of range (expected 0..6)");
}

}  // namespace

double weight(int64_t l, int64_t abs_m) {
    const ShRow& r = row(l, abs_m);
    return r.num * std::sqrt(r.den / kPi);
}

double legendre_table_coeff(int64_t l, int64_t abs_m, int64_t j) {
    if (j < 0 || j > 6) return 0.0;
    return row(l, abs_m).c[j];
}

std::vector<ShTerm> terms(int64_t degree) {
    check_degree(degree);
    std::vector<ShTerm> out;
    for (int64_t l = 0; l <= degree; ++l)
        for (int64_t m = -l; m <= l; ++m) {
            ShTerm t;
            t.l = int(l);
            t.m = int(m);
            t.w = weight(l, std::abs(m));
            for (int j = 0; j < 7; ++j) t.c[j] = legendre_table_coeff(l, std::abs(m), j);
            out.push_back(t);
        }
    return out;
}

at::Tensor basis(const at::Tensor& theta, const at::Tensor& phi, int64_t degree) {
    check_degree(degree);
    TORCH_CHECK(theta.dim() == 1 && phi.sizes() == theta.sizes(), "sh::basis: theta and phi must be [S] of the same size, got ",
                theta.sizes(), " and ", phi.sizes());
    const int64_t L = degree, K = num_coeffs(L);
    auto opts = theta.options();
    auto x = at::cos(theta);
    auto s = at::sin(theta);
    // Powers by repeated multiplication (pow(x, 0) has a NaN gradient at x = 0).
    std::vector<at::Tensor> xp{at::ones_like(x)}, sp{at::ones_like(s)};
    for (int64_t j = 1; j <= L; ++j) {
        xp.push_back(xp.back() * x);
        sp.push_back(sp.back() * s);
    }
    auto xpow = at::stack(xp, 1);  // [S, L+1]
    // Polynomial and weight tables in storage order k = l² + m + l.
    std::vector<double> coeff((L + 1) * K, 0.0), w(K);
    std::vector<int64_t> trig_col(K);
    for (int64_t l = 0; l <= L; ++l) {
        for (int64_t m = -l; m <= l; ++m) {
            const int64_t k = l * l + m + l;
            const int64_t am = std::abs(m);
            for (int64_t j = 0; j <= L; ++j) coeff[j * K + k] = legendre_table_coeff(l, am, j);
            w[k] = weight(l, am);
            trig_col[k] = m + L;  // column of T_m in the [S, 2L+1] matrix below
        }
    }
    auto cpu64 = at::TensorOptions().dtype(at::kDouble);
    auto coeff_t = at::from_blob(coeff.data(), {L + 1, K}, cpu64).clone().to(opts);
    auto w_t = at::from_blob(w.data(), {K}, cpu64).clone().to(opts);
    auto q = at::matmul(xpow, coeff_t);  // [S, K]
    // T_m for m = −L..L: sin(|m|φ)·s^|m| (m<0), 1 (m=0), cos(mφ)·s^m (m>0).
    std::vector<at::Tensor> trig(2 * L + 1);
    trig[L] = at::ones_like(phi);
    for (int64_t m = 1; m <= L; ++m) {
        auto mphi = phi * double(m);
        trig[L + m] = at::cos(mphi) * sp[m];
        trig[L - m] = at::sin(mphi) * sp[m];
    }
    auto trig_t = at::stack(trig, 1);  // [S, 2L+1]
    auto idx = at::tensor(trig_col, at::TensorOptions().dtype(at::kLong)).to(opts.device());
    return trig_t.index_select(1, idx) * q * w_t;
}

}  // namespace sh

namespace mask {

at::Tensor basis(const at::Tensor& phi, int64_t degree) {
    if (degree < 0 || degree > kMaxMaskDegree)
        throw InputError("mask: degree " + std::to_string(degree) + " out of range (expected 0..10)");
    TORCH_CHECK(phi.dim() == 1, "mask::basis: phi must be [S], got ", phi.sizes());
    std::vector<at::Tensor> cols{at::ones_like(phi)};
    for (int64_t k = 1; k <= degree; ++k) {
        auto kphi = phi * double(k);
        cols.push_back(at::cos(kphi));
        cols.push_back(at::sin(kphi));
    }
    return at::stack(cols, 1);
}

at::Tensor thetas(const at::Tensor& params, const at::Tensor& basis) {
    TORCH_CHECK(params.dim() == 2 && basis.dim() == 2 && params.size(1) == basis.size(1),
                "mask::thetas: params [A, M] and basis [S, M] must agree in M, got ", params.sizes(), " and ", basis.sizes());
    return at::sigmoid(at::matmul(params, basis.t())) * M_PI;
}

}  // namespace mask

namespace rotation {
namespace {
at::Tensor cross3(const at::Tensor& a, const at::Tensor& b) { return at::linalg_cross(a, b, -1); }
at::Tensor safe_normalize(const at::Tensor& v) { return v / at::linalg_vector_norm(v, 2, {-1}, true).clamp_min(1e-30); }
}  // namespace

at::Tensor matrix_from_axis_angle(const at::Tensor& r) {
    TORCH_CHECK(r.size(-1) == 3, "matrix_from_axis_angle: r must be [..., 3], got ", r.sizes());
    auto t2 = (r * r).sum(-1, true).unsqueeze(-1);  // [..., 1, 1]
    auto small = t2 < 1e-6;
    auto t2_safe = at::where(small, at::ones_like(t2), t2);
    auto t = at::sqrt(t2_safe);
    // a = sinθ/θ, b = (1−cosθ)/θ²; Taylor terms up to θ⁴ below the threshold (error < 1e-18).
    auto a = at::where(small, 1.0 - t2 / 6.0 + t2 * t2 / 120.0, at::sin(t) / t);
    auto b = at::where(small, 0.5 - t2 / 24.0 + t2 * t2 / 720.0, (1.0 - at::cos(t)) / t2_safe);
    auto x = r.select(-1, 0), y = r.select(-1, 1), z = r.select(-1, 2);
    auto zero = at::zeros_like(x);
    auto Kx = at::stack({at::stack({zero, -z, y}, -1), at::stack({z, zero, -x}, -1), at::stack({-y, x, zero}, -1)}, -2);
    auto eye = at::eye(3, r.options()).expand_as(Kx);
    return eye + a * Kx + b * at::matmul(Kx, Kx);
}

at::Tensor axis_angle_from_matrix(const at::Tensor& R_in) {
    TORCH_CHECK(R_in.dim() >= 2 && R_in.size(-1) == 3 && R_in.size(-2) == 3,
                "axis_angle_from_matrix: R must be [..., 3, 3], got ", R_in.sizes());
    auto out_shape = R_in.sizes().vec();
    out_shape.pop_back();
    auto R = R_in.reshape({-1, 3, 3});
    auto tr = R.diagonal(0, -2, -1).sum(-1);  // [N]
    auto c = ((tr - 1.0) * 0.5).clamp(-1.0, 1.0);
    // vee(R − Rᵀ) = 2 sinθ · n
    auto e = [&](int i, int j) { return R.select(-2, i).select(-1, j); };
    auto v = at::stack({e(2, 1) - e(1, 2), e(0, 2) - e(2, 0), e(1, 0) - e(0, 1)}, -1);  // [N, 3]
    // θ = atan2(sinθ, cosθ) is well conditioned everywhere (acos of the trace loses half the
    // digits near 0 and π).
    auto theta = at::atan2(0.5 * at::linalg_vector_norm(v, 2, {-1}), c);
    // Small/medium angles: r = θ/(2 sinθ) · v, with θ/sinθ → 1 + θ²/6 at 0.
    auto s = at::sin(theta);
    auto small = theta < 1e-4;
    auto factor = at::where(small, 0.5 * (1.0 + theta * theta / 6.0), theta / (2.0 * at::where(small, at::ones_like(s), s)));
    auto r_antisym = v * factor.unsqueeze(-1);
    // Large angles: n nᵀ = ((R+Rᵀ)/2 − cosθ I)/(1 − cosθ); take the column with the largest
    // diagonal entry, normalize it, and orient it along v (v = 2 sinθ n, sinθ ≥ 0).
    auto eye = at::eye(3, R.options());
    auto S = (R + R.transpose(-1, -2)) * 0.5 - c.view({-1, 1, 1}) * eye;
    auto col = S.diagonal(0, -2, -1).argmax(-1);  // [N]
    auto n = at::take_along_dim(S, col.view({-1, 1, 1}).expand({-1, 3, 1}), -1).squeeze(-1);
    n = safe_normalize(n);
    auto sign =
        at::where((n * v).sum(-1, true) < 0, at::full_like(theta.unsqueeze(-1), -1.0), at::ones_like(theta.unsqueeze(-1)));
    auto r_sym = n * sign * theta.unsqueeze(-1);
    auto use_sym = (theta > M_PI / 2).unsqueeze(-1);
    return at::where(use_sym, r_sym, r_antisym).reshape(out_shape);
}

at::Tensor matrix_from_ortho6d(const at::Tensor& o) {
    TORCH_CHECK(o.size(-1) == 6, "matrix_from_ortho6d: o must be [..., 6], got ", o.sizes());
    auto a = o.narrow(-1, 0, 3), b = o.narrow(-1, 3, 3);
    auto x = a / at::linalg_vector_norm(a, 2, {-1}, true);
    auto y = b - (x * b).sum(-1, true) * x;
    y = y / at::linalg_vector_norm(y, 2, {-1}, true);
    auto z = cross3(x, y);
    return at::stack({x, y, z}, -1);
}

at::Tensor ortho6d_from_matrix(const at::Tensor& M) {
    TORCH_CHECK(M.dim() >= 2 && M.size(-1) == 3 && M.size(-2) == 3, "ortho6d_from_matrix: M must be [..., 3, 3], got ",
                M.sizes());
    return at::cat({M.select(-1, 0), M.select(-1, 1)}, -1);
}

at::Tensor axis_angle_from_view_direction(const at::Tensor& f) {
    TORCH_CHECK(f.size(-1) == 3, "axis_angle_from_view_direction: f must be [..., 3], got ", f.sizes());
    auto norm = at::linalg_vector_norm(f, 2, {-1}, true);
    auto zero_f = norm < 1e-30;
    auto u = f / norm.clamp_min(1e-30);
    auto ux = u.select(-1, 0), uy = u.select(-1, 1), uz = u.select(-1, 2);
    auto axis = at::stack({-uy, ux, at::zeros_like(ux)}, -1);  // ẑ × u
    auto an = at::linalg_vector_norm(axis, 2, {-1}, true);
    auto fallback = at::zeros_like(axis);
    fallback.select(-1, 0).fill_(1.0);
    axis = at::where(an < 1e-12, fallback, axis / an.clamp_min(1e-30));
    auto angle = at::acos(uz.clamp(-1.0, 1.0)).unsqueeze(-1);
    return at::where(zero_f, at::zeros_like(axis), axis * angle);
}

}  // namespace rotation
}  // namespace mash

// The rotation and mask maps as torch operators (compositions of ATen: autograd and torch.compile
// go through their parts), for the Python sampling pass (mash.Mash.sample).
TORCH_LIBRARY_FRAGMENT(mash, m) {
    m.def("axis_angle_to_matrix(Tensor r) -> Tensor");
    m.def("mask_thetas(Tensor params, Tensor basis) -> Tensor");
}
TORCH_LIBRARY_IMPL(mash, CompositeImplicitAutograd, m) {
    m.impl("axis_angle_to_matrix", &mash::rotation::matrix_from_axis_angle);
    m.impl("mask_thetas", &mash::mask::thetas);
}
