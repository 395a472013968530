// SPDX-License-Identifier: MIT
// Real spherical-harmonic basis of the original MASH implementation (spec §2).
//
//   Y_k(θ,φ) = W_l[|m|] · T_m(θ,φ) · Q_l^{|m|}(cos θ),   k = l² + (m + l),  l = 0..L, m = −l..l
//   T_0 = 1,  T_m = cos(mφ)·sin^m θ (m > 0),  T_m = sin(|m|φ)·sin^{|m|} θ (m < 0)
//
// Q_l^m are scaled derivatives of Legendre polynomials and W_l[m] the original constants, NOT a
// textbook orthonormal basis (e.g. Y_1^0 uses ½√(1.5/π)); both live in one table (kShTable in
// sh.cpp) which tests check against the Legendre recurrence. θ is the polar angle from the
// anchor's local +Z (its view direction), φ the azimuth from local +X toward +Y, in radians.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace mash::ops::sh {

/// Number of coefficients (L+1)² for degree L.
inline int64_t num_coeffs(int64_t degree) { return (degree + 1) * (degree + 1); }

/// The constant W_l[|m|] (0 ≤ l ≤ 6, |m| ≤ l). Throws for out-of-range input.
double weight(int64_t l, int64_t abs_m);

/// Coefficient c_j of x^j in Q_l^{|m|}(x) (integer table of spec §2).
double legendre_table_coeff(int64_t l, int64_t abs_m, int64_t j);

/// One basis function in storage order, for fused kernels: Y_k = w · T_m(θ,φ) · Σ_j c[j] x^j.
struct ShTerm {
    int l = 0, m = 0;  ///< m in −l..l
    double w = 0;
    double c[7] = {0, 0, 0, 0, 0, 0, 0};
};
/// The (L+1)² terms of degree L, index k = l² + m + l.
std::vector<ShTerm> terms(int64_t degree);

/// Basis values. theta, phi: [S] (same dtype/device, any float dtype). Returns [S, (L+1)²].
/// Differentiable in theta and phi (no pow() with zero exponents, so finite gradients at θ = π/2
/// and at the poles). Throws if degree is not in [0, 6].
at::Tensor basis(const at::Tensor& theta, const at::Tensor& phi, int64_t degree);

}  // namespace mash::ops::sh
