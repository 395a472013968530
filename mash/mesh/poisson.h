// SPDX-License-Identifier: MIT
// Screened Poisson (Open3D) on oriented samples, with the steps around it that make its mesh
// closed and true to thin parts: thin samples doubled into slabs, the open-sheet (membrane) check,
// one sample per cell, and the clean-up to a watertight 2-manifold (topology.h).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mash/mesh/topology.h"

namespace mash::mesh {

struct PoissonOptions {
    int depth = 8;
    double trim_quantile = 0.0;  ///< remove vertices below this density quantile (0 = watertight)
    /// Samples that do not bound a solid (winding.h::thin_mask: open sheets, walls thinner than the
    /// samples resolve, parts left inconsistently oriented) are doubled into slabs of ± this many
    /// Poisson voxels (1.1 × the points' longest side / 2^depth) before Poisson, so that they come
    /// out as thin closed shells instead of capped volumes or blobs; 0 leaves them as they are.
    double thin_offset_voxels = 1.0;
    /// Open sheets shaped like a cup (a bowl whose two walls the samples do not resolve) look
    /// nearly enclosed to the thin test (threshold 0.3, winding.h::ThinOptions) and Poisson would
    /// span a membrane across their opening. If more than this share of the field's ½-level set
    /// lies away from every sample (winding.h::membrane_fraction, support radius max(4 voxels,
    /// 3 median sample spacings)), the thin step's threshold is lowered in steps of `open_step`
    /// until it is not (at worst to 0, where the field and its membrane vanish); 0 never does.
    double open_membrane = 0.15;
    double open_step = 0.05;
    /// Poisson's input keeps one sample per cell of this many voxels on each side of the surface
    /// (the one nearest the cell's centre): a MASH's overlapping patches sample the surface far
    /// more densely than depth 8 resolves, and at full density Poisson fits their small offsets
    /// at its finest level (more triangles and time, no gain); 0 keeps every sample.
    double cell_voxels = 2.0;
};
/// What poisson() did beyond the mesh.
struct PoissonReport {
    int64_t thin_samples = 0;     ///< samples doubled by the thin step
    double membrane_first = 0.0;  ///< predicted unsupported share of the ½-level set (membrane_fraction)
    bool open_sheet = false;      ///< ... above PoissonOptions::open_membrane: the threshold was lowered
    double threshold = 0.0;       ///< the thin step's threshold used
    double membrane = 0.0;        ///< the predicted share at that threshold
    double support_radius = 0.0;  ///< the support radius of both checks
    double unsupported = 0.0;     ///< area share of the final mesh farther than it from every sample
    int64_t poisson_samples = 0;  ///< oriented samples given to Poisson (after thickening and cells)
};
/// Screened Poisson on oriented points. Without trimming the result is cleaned so that it is
/// watertight and 2-manifold (topology.h: non-manifold edges and vertices split; components that
/// reach beyond the points' bounding box by more than 5 % of its diagonal — Poisson's outer-box
/// sheets — removed whole; holes where the surface ran into Poisson's box closed; components whose
/// orientation contradicts their nesting — inverted or doubled bubbles — and specks removed whole). Throws InputError if fewer
/// than 10 points.
TriangleMesh poisson(const std::vector<double>& points, const std::vector<double>& normals, const PoissonOptions& o,
                     std::vector<std::pair<std::string, double>>* stages = nullptr, PoissonReport* report = nullptr);

}  // namespace mash::mesh
