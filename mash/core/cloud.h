// SPDX-License-Identifier: MIT
// Point-cloud statistics shared by fitting and meshing, over packed [N*3] coordinates.
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace mash {

/// k nearest neighbours (excluding the point itself) of every point: [N*k] indices and squared
/// distances, nearest first (exact, KD-tree, parallel over points). A point with fewer than k
/// others repeats the farthest found (itself at distance 0 when alone).
void knn(const std::vector<double>& points, int k, std::vector<uint32_t>& idx, std::vector<double>& d2);

/// The points' mean and the eigen-decomposition of their covariance (Σ (p − mean)(p − mean)ᵀ / N):
/// variances along the principal axes, ascending, and the axes as columns in that order.
struct PrincipalAxes {
    Eigen::Vector3d mean = Eigen::Vector3d::Zero();
    Eigen::Vector3d variances = Eigen::Vector3d::Zero();
    Eigen::Matrix3d axes = Eigen::Matrix3d::Identity();
    bool finite = true;  ///< false when the covariance is not finite (the rest is then meaningless)
};
/// Needs at least one point.
PrincipalAxes principal_axes(const std::vector<double>& points);

}  // namespace mash
