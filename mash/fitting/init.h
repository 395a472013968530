// SPDX-License-Identifier: MIT
// Input preparation and initialization for fitting (spec §7–8). No Open3D.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/core/mash_params.h"
#include "mash/fitting/fit_options.h"

namespace mash::fitting {

/// x̂ = (x − center)·scale with center = bbox centre, scale = 0.9 / longest bbox side (spec §8).
struct Normalization {
    double center[3] = {0, 0, 0};
    double scale = 1.0;
};

/// Computes the normalization and checks the geometry: throws InputError naming `what` if all
/// points coincide, or the cloud is flat (a plane or a line: smallest PCA extent < 1e-6 of the
/// largest) — MASH fits the surface of a solid.
Normalization compute_normalization(const std::vector<double>& points, const std::string& what);
void apply_normalization(std::vector<double>& points, const Normalization& n);
/// Maps a MASH fitted in the normalized frame back to the input's coordinates (exact).
void undo_normalization(MashParams& params, const Normalization& n);

/// Unoriented PCA normals of the `knn` nearest points, [P*3]: Open3D 0.16's EstimateNormals
/// (KNN, exact eigen solver) reimplemented without Open3D (tested against it where it is built).
std::vector<double> estimate_normals(const std::vector<double>& points, int64_t knn);

/// Mean distance of each point to its k nearest other points, [P] (its local sample spacing;
/// 0 for a point with no other). Repeated points count as neighbours at distance 0.
std::vector<double> local_spacing(const std::vector<double>& points, int64_t k);

/// The paper's initial MASH (spec §7): anchor a sits at x_a + d·n_a and looks at x_a (face-forward
/// −n_a); c0 = d/W0 (so ρ = d), other SH and mask parameters 0: a flat disk of radius 2d in the
/// tangent plane through x_a. anchor_points/normals: [A*3].
MashParams initial_mash(const std::vector<double>& anchor_points, const std::vector<double>& anchor_normals,
                        const FitOptions& options);
/// initial_mash at the farthest-point subset of `points` (num_anchors of them, starting at index 0)
/// with their `normals` (both [P*3]): the start of every fit (spec §7).
MashParams initial_mash_from_cloud(const std::vector<double>& points, const std::vector<double>& normals,
                                   const FitOptions& options);

}  // namespace mash::fitting
