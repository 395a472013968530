// SPDX-License-Identifier: MIT
// Pictures of generated shapes: MASH → sampled surface points → CPU render, several shapes tiled
// into one PNG (rows of `views` views each).
#pragma once
#include <string>
#include <vector>

#include "mash/core/mash_params.h"

namespace mash::models {

/// Points of a MASH (surface samples, anchor-major) as a flat [P*3] array, at most max_points
/// (a uniform stride subset).
std::vector<double> mash_points(const MashParams& p, int64_t max_points);
/// Renders each shape as a strip of `views` views (size×size each), `columns` strips per row.
void render_mash_grid(const std::string& path, const std::vector<MashParams>& shapes, int views, int size, int columns,
                      int64_t max_points = 20000);

}  // namespace mash::models
