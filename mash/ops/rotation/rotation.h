// SPDX-License-Identifier: MIT
// Rotations (spec §5.3). Canonical: R is local→world and a point maps as q_w = R·q (column
// vectors). Axis-angle r: angle ‖r‖, axis r/‖r‖. All functions take batches [..., 3] / [..., 3, 3]
// and keep dtype/device.
//
// ortho6d (Zhou et al.): o = (a, b) two 3-vectors; M = gram_schmidt(o) has COLUMNS
//   x = a/‖a‖, y = normalize(b − (x·b)x), z = x × y.
// Two conventions use it:
//   * HEAD MASH files store the first two ROWS of R:   R = matrix_from_ortho6d(o)ᵀ
//   * generator tokens store the first two COLUMNS of R: R = matrix_from_ortho6d(o)
#pragma once
#include <ATen/core/Tensor.h>

namespace mash::ops::rotation {

/// Rodrigues: r [..., 3] → R [..., 3, 3]. Exact and differentiable everywhere, including r = 0
/// (Taylor series of sinθ/θ and (1−cosθ)/θ² below θ² < 1e-6, with a safe denominator so no NaN
/// gradient is produced), and correct up to and beyond θ = π.
at::Tensor matrix_from_axis_angle(const at::Tensor& r);

/// Log map: R [..., 3, 3] (orthonormal) → r [..., 3] with ‖r‖ ∈ [0, π]. Well conditioned at 0
/// (antisymmetric part) and near π (symmetric part (R+Rᵀ)/2 − cosθ·I = (1−cosθ)·n nᵀ, sign taken
/// from the antisymmetric part). Not meant for autograd through θ ≈ 0 or π.
at::Tensor axis_angle_from_matrix(const at::Tensor& R);

/// Gram–Schmidt: o [..., 6] → M [..., 3, 3] with columns x, y, z (see above). Zero or parallel
/// input vectors give non-finite or degenerate output: validate before (see mash_file.cpp).
at::Tensor matrix_from_ortho6d(const at::Tensor& o);
/// The first two columns of M: M [..., 3, 3] → o [..., 6] = (M[:,0], M[:,1]).
at::Tensor ortho6d_from_matrix(const at::Tensor& M);

/// Axis-angle r with Rodrigues(r)·ẑ = f/‖f‖ (spec §5.3 "view direction from a normal"):
/// axis ẑ × f normalized ((1,0,0) when f = ±ẑ), angle acos(f_z). f = 0 gives r = 0.
at::Tensor axis_angle_from_view_direction(const at::Tensor& f);

}  // namespace mash::ops::rotation
