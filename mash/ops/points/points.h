// SPDX-License-Identifier: MIT
// World points of (anchor, θ, φ) samples — spec §5 steps 1–5 in one op:
//   r = [relu](Σ_k c_{a,k} Y_k(θ,φ)),  q = r·u(θ,φ),  [q ← anchored inversion],  P = p_a + R_a·q.
// The fused kernels (a profiled hot spot: ~200k samples per fitting step) compute forward and an
// analytic backward in one pass per point, on the CPU and (CUDA builds) on NVIDIA GPUs, with the
// per-sample math of points_math.h; world_points_ref is the ATen composition they
// are tested against (and the path used on other devices).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mash::ops::points {

/// sh [A,(L+1)²], R [A,3,3] (local→world), positions [A,3], anchor_idx int64 [P], theta/phi [P]
/// → [P,3]. Differentiable w.r.t. sh, R, positions and theta (φ is never differentiated).
/// Degenerate policy as ops::sampling::local_points (ρ clamped to kMinInversionRho). No double backward.
at::Tensor world_points(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& positions, const at::Tensor& anchor_idx,
                        const at::Tensor& theta, const at::Tensor& phi, int64_t sh_degree, bool use_inverse, bool relu = true);

/// The ATen reference (autograd composition of ops::sh::basis, local_points, rotation, translation).
at::Tensor world_points_ref(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& positions, const at::Tensor& anchor_idx,
                            const at::Tensor& theta, const at::Tensor& phi, int64_t sh_degree, bool use_inverse,
                            bool relu = true);

/// x.index_select(0, idx) for indices meant to be distinct; its backward is a plain scatter
/// instead of index_add (which is serial on CPU and dominated the sampling backward), so a
/// repeated index passes back one of its rows' gradients, not their sum. Also the torch operator
/// mash::gather_unique (the Python sampling pass uses it, for the same gradients).
at::Tensor gather_unique(const at::Tensor& x, const at::Tensor& idx);

/// Per-segment row sums: out[a] = Σ_{p: idx[p] = a} rows[p] for a in [0, n), rows [P, ...], idx
/// int64 [P] on rows' device. Deterministic on every device (a stable sort of idx, then a
/// segmented reduction in that order; no atomics), unlike index_add_ on CUDA.
at::Tensor segment_sum_rows(const at::Tensor& rows, const at::Tensor& idx, int64_t n);

}  // namespace mash::ops::points
