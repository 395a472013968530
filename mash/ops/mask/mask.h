// SPDX-License-Identifier: MIT
// The anchor mask (spec §3): θmax_a(φ) = π·sigmoid(s_a(φ)),
//   s_a(φ) = m0 + Σ_{k=1..K} (m_{2k−1} cos kφ + m_{2k} sin kφ),
// basis order [1, cos φ, sin φ, cos 2φ, sin 2φ, ...]. m = 0 is the hemisphere θmax = π/2.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mash::ops::mask {

/// Trigonometric basis. phi: [S]. Returns [S, 2K+1]. Throws if K is not in [0, 10].
at::Tensor basis(const at::Tensor& phi, int64_t degree);

/// θmax for every anchor and every basis row: params [A, 2K+1], basis [S, 2K+1] → [A, S] in (0, π).
at::Tensor thetas(const at::Tensor& params, const at::Tensor& basis);

}  // namespace mash::ops::mask
