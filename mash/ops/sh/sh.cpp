// SPDX-License-Identifier: MIT
// The SH basis as an ATen composition: device-agnostic, differentiable through autograd, and the
// reference for the fused kernels (mash/ops/points).
#include "mash/ops/sh/sh.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/limits.h"

namespace mash::ops::sh {
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
    TORCH_CHECK(theta.dim() == 1 && phi.sizes() == theta.sizes(),
                "ops::sh::basis: theta and phi must be [S] of the same size, got ", theta.sizes(), " and ", phi.sizes());
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

}  // namespace mash::ops::sh
