// SPDX-License-Identifier: MIT
// Fitting losses (spec §6.1–6.3). Nearest neighbours are found without gradient (KD-tree or
// brute force, nearest.h); distances are recomputed with ATen from the gathered points, so
// gradients flow to the MASH samples — and, for the boundary loss, to both ends of each pair.
#pragma once
#include <ATen/core/Tensor.h>

#include "mash/ops/nearest/nearest.h"

namespace mash::losses {

using ops::nearest::KdTree;

/// Squared nearest distances both ways between samples S [S,3] and ground truth G [G,3].
struct ChamferResult {
    at::Tensor dist2_fit;  ///< [S] min_g ‖s − g‖² (differentiable in samples)
    at::Tensor dist2_cov;  ///< [G] min_s ‖s − g‖² (differentiable in samples)
    at::Tensor idx_fit;    ///< [S] index into G
    at::Tensor idx_cov;    ///< [G] index into S
};

/// gt_tree, if given, must be built on `gt` (reused across steps); otherwise one is built.
ChamferResult chamfer(const at::Tensor& samples, const at::Tensor& gt, const KdTree* gt_tree = nullptr);

/// Squared distance of each sample [S,3] to the surfel of its GT point idx [S] (into gt [G,3]):
/// the disc through that point with unit normal normals[idx] and radius radii[idx] ([G,3], [G]).
/// h² + max(0, t − r)² with h the offset along the normal and t the tangential one; differentiable
/// in the samples (fitting::FitOptions::surfel_radius). r = 0 gives the point distance ‖s − g‖² (+ 1e-12).
at::Tensor surfel_dist2(const at::Tensor& samples, const at::Tensor& gt, const at::Tensor& idx, const at::Tensor& normals,
                        const at::Tensor& radii);

/// mean(sqrt(d² + eps)): the L1 chamfer term with ε inside the sqrt (every term ≥ sqrt(eps)).
at::Tensor soft_l1(const at::Tensor& dist2, double eps = 1e-6);

/// Boundary-continuity loss (spec §6.2): boundary points [A·B, 3] with anchor ids [A·B]; for each,
/// the squared distance to the nearest boundary point of another anchor; returns soft_l1 of it
/// (0 when fewer than two anchors).
at::Tensor boundary_continuity(const at::Tensor& boundary_points, const at::Tensor& anchor_idx, double eps = 1e-6);

}  // namespace mash::losses
