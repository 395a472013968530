// SPDX-License-Identifier: MIT
// Sampling primitives of the paper-era MASH model (spec §4–5). Ragged per-anchor data is packed:
// a [P, ...] tensor plus an anchor index [P] (sorted by anchor), never a vector over anchors.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>

namespace mash::ops::sampling {

/// Fibonacci sphere directions (spec §4.1): φ_i = π(1+√5)(i+½) (not wrapped), cos θ_i = 1 −
/// (2i+1)/N. Computed in float32 exactly like the original code, then cast to `options`' dtype
/// (so files sampled by the original implementation reproduce to 1e-10). Returns [N] each.
struct Directions {
    at::Tensor phis;
    at::Tensor thetas;
};
Directions fibonacci(int64_t n, const c10::TensorOptions& options);

/// Boundary azimuths φ_j = 2πj/B (computed in float32 like the original), [B].
at::Tensor boundary_phis(int64_t b, const c10::TensorOptions& options);

/// Unit directions u(θ,φ) = (cos φ sin θ, sin φ sin θ, cos θ): [S] → [S, 3].
at::Tensor directions(const at::Tensor& theta, const at::Tensor& phi);

/// Minimum inversion radius used when W0·c0 ≤ 0 (a degenerate anchor; see MashImpl docs).
inline constexpr double kMinInversionRho = 1e-9;

/// Local points of spec §5 steps 1–3: r = relu(Σ c_k Y_k(θ,φ)), q = r·u(θ,φ), then (if
/// use_inverse) the anchored inversion with ρ = max(W0·c0, kMinInversionRho), centre (0,0,−ρ),
/// radius 2ρ. sh_coeffs [P, (L+1)²] (already gathered per point), theta/phi [P] → [P, 3].
/// relu=false reproduces the HEAD SimpleMash (raw SH sum).
at::Tensor local_points(const at::Tensor& sh_coeffs, const at::Tensor& theta, const at::Tensor& phi, int64_t sh_degree,
                        bool use_inverse, bool relu = true);

/// The in-mask selection of spec §4.2 (no gradient): direction i of anchor a is kept when
/// θ_i ≤ max_j θb_{a,j} (a prefilter) and θ_i ≤ θmax_a(φ_i). boundary_thetas [A, B], theta_hat
/// [A, N] (θmax at every direction), dir_thetas [N] → anchor_idx and dir_idx int64 [M] (row-major:
/// anchor, then direction) and counts int64 [A] (M = Σ counts).
struct InMask {
    at::Tensor anchor_idx, dir_idx, counts;
};
InMask in_mask(const at::Tensor& boundary_thetas, const at::Tensor& theta_hat, const at::Tensor& dir_thetas);

/// Per-segment farthest-point sampling (spec §4.2 step 7). points [P, 3] (no grad needed),
/// segments given by `offsets` [A+1] (int64, ascending, offsets[A] = P) and `keep` [A] (int64,
/// keep_a ≤ n_a). Each segment starts at its first point, then repeatedly takes the argmax of the
/// running minimum squared distance (first index on ties). Returns global indices [Σ keep] in
/// selection order, segment by segment. CPU: a parallel kernel; other devices: the reference.
at::Tensor fps_packed(const at::Tensor& points, const at::Tensor& offsets, const at::Tensor& keep);
/// fps_packed over one segment: the first min(keep, P) indices of FPS over all of `points`
/// [P, 3], on their device and in their dtype (callers pass float32 for speed where float64 is not needed).
at::Tensor fps(const at::Tensor& points, int64_t keep);
/// The pure-ATen reference of fps_packed (padded, batched over segments): the test oracle.
at::Tensor fps_packed_ref(const at::Tensor& points, const at::Tensor& offsets, const at::Tensor& keep);

}  // namespace mash::ops::sampling
