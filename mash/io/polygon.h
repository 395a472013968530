// SPDX-License-Identifier: MIT
// Triangulation of one polygon face of a mesh file (OBJ, OFF, PLY): ear clipping in the polygon's
// best-fit plane (Newell normal), so concave and ring-like faces (a slit joining an outer and an
// inner loop) give triangles that cover the polygon exactly, never its convex hull. Torch-free.
#pragma once
#include <cstdint>
#include <vector>

namespace mash::io {

/// Appends the triangles of polygon `poly` (vertex indices into `vertices` [V*3], in boundary
/// order, at least 3) to `triangles`, oriented as the polygon. Triangles and convex polygons give
/// the fan of the first vertex; others are ear-clipped (O(n²)). A polygon with no area (all
/// corners collinear) or no valid ear left (self-intersecting) falls back to a fan of what
/// remains, so every face still gives n − 2 triangles.
void triangulate_polygon(const std::vector<double>& vertices, const std::vector<int64_t>& poly, std::vector<int64_t>& triangles);

}  // namespace mash::io
