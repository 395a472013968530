// SPDX-License-Identifier: MIT
// Point clouds on their way to Poisson: the checks that a cloud spans a surface, removal of
// repeated points, and consistently oriented PCA normals (Open3D's tangent-plane propagation, then
// the winding-number orientation of orientation.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/mesh/patches.h"

namespace mash::mesh {

/// Why a point cloud cannot be meshed, or "" if it can: fewer than 10 distinct points, all points
/// in one place, or all on one line (no surface to estimate normals of). Flat clouds can be.
std::string degenerate_cloud(const std::vector<double>& points);
/// Removes points that repeat an earlier one exactly (keeps the first, in order); returns how
/// many. Repeated points make nearest-neighbour spacings 0, which the meshing steps read as scale.
int64_t remove_duplicate_points(std::vector<double>& points, std::vector<double>* normals = nullptr);
/// (`normals`, when given with one normal per point, is compacted alongside.)

/// PCA normals (Open3D, k nearest) oriented consistently, for the raw-point-cloud SPR baseline:
/// Open3D's tangent-plane propagation, then (OrientMethod::winding, the default) the winding-number
/// orientation of winding.h::orient_cloud_by_winding (a flat cloud, on which the propagation's 3-D
/// Delaunay graph fails, is first signed along its axis of least spread). Clouds of more than `max_oriented` points
/// (0: no limit) are oriented on an FPS subset of that many; every other point takes the sign of
/// its nearest subset point in its tangent plane with a similar normal (the nearest at all where
/// none is). The sign search grows with the cloud's clusters, and dense layered clouds (a MASH's
/// overlapping patches sampled at 100 000 points) break into thousands of them (README).
constexpr int64_t kMaxOrientedPoints = 20000;
std::vector<double> oriented_normals_for_cloud(const std::vector<double>& points, int64_t knn = 30,
                                               OrientMethod method = OrientMethod::winding,
                                               int64_t max_oriented = kMaxOrientedPoints);

}  // namespace mash::mesh
