// SPDX-License-Identifier: MIT
// Triangle-mesh topology: edge statistics, connected components, splitting of non-manifold edges
// and vertices, removal of Poisson's outer-box components; volume, area, closedness. Torch-free.
#pragma once
#include <cstdint>
#include <vector>

#include "mash/io/geometry_io.h"

namespace mash::mesh {

using io::TriangleMesh;  // the package's mesh type

/// Disjoint sets over 0 … n−1 (path halving; the smaller index is the root).
struct UnionFind {
    std::vector<int64_t> parent;
    explicit UnionFind(int64_t n);
    int64_t find(int64_t x);
    void unite(int64_t a, int64_t b);
};

struct EdgeStats {
    int64_t edges = 0;
    int64_t boundary = 0;      ///< edges of one triangle
    int64_t non_manifold = 0;  ///< edges of three or more triangles
    int64_t inconsistent = 0;  ///< two-triangle edges traversed in the same direction by both
};
EdgeStats edge_stats(const TriangleMesh& m);

/// Watertight and 2-manifold: at least one triangle, every edge shared by exactly two
/// triangles, traversed in opposite directions.
bool is_closed_manifold(const TriangleMesh& m);

/// Component id of every triangle (triangles connected through shared edges; at a non-manifold
/// edge all its triangles join). Returns the number of components.
int64_t triangle_components(const TriangleMesh& m, std::vector<int64_t>& component);

/// Makes the mesh 2-manifold without opening it: the triangles around an edge of more than two
/// are paired in their angular order around the edge (each pair encloses the solid between
/// them, so touching sheets come apart), and each vertex is split into one copy per fan of
/// triangles still connected through paired edges (which also separates sheets meeting at a
/// single vertex). Degenerate triangles (a repeated vertex) are removed, and so are coincident
/// triangles (the same three vertices: one of a same-facing pair, both of an opposite-facing
/// pair, which is a zero-thickness fin). Returns the number of vertices added.
int64_t make_manifold(TriangleMesh& m);

/// Removes whole components that reach farther than `margin` outside the box [lo, hi] (the
/// sheets Poisson grows along its bounding box when the data leave a region unconstrained).
/// Never removes the largest component. Returns the number of components removed.
int64_t remove_outside_components(TriangleMesh& m, const double lo[3], const double hi[3], double margin);

/// Closes every boundary loop with a fan around the loop's centroid (one new vertex per loop).
/// Returns the number of loops filled.
int64_t fill_holes(TriangleMesh& m);

/// make_manifold, then, where an edge is still shared by more than two triangles (Poisson's
/// doubled, opposite-facing quads), the triangles around its vertices are removed and the holes
/// filled (up to `rounds` times). Afterwards every edge is shared by exactly two triangles
/// unless the input had boundaries. Returns the number of repaired edges.
int64_t repair_manifold(TriangleMesh& m, int rounds = 3);

/// Removes whole components whose orientation contradicts their nesting: in a consistent solid the
/// shells at an even depth (inside 0, 2, … others, measured by the winding number of the other
/// components at their surface) enclose positive volume and those at an odd depth (hollows)
/// negative volume. Poisson's inverted or doubled bubbles fail this. Specks (components with
/// fewer than `min_fraction` of all triangles, or than 16: a closed blob of a voxel or two, such
/// as Poisson leaves beside noisy samples) go too. The largest component is always kept.
/// Returns the number of components removed.
int64_t remove_inconsistent_components(TriangleMesh& m, double min_fraction = 1e-3);

/// Removes stray slabs: components with fewer than `max_fraction` of all triangles, a mean
/// thickness 2|V|/A (volume over area, both sides counted) below `max_thickness`, and most of
/// their vertices (median) within `max_gap` of another component — the pieces a thickened thin
/// part (thicken_thin) leaves right beside the surface. A small thin part of the shape standing
/// on its own (a chair's rung) is kept. The largest component is always kept. Returns the
/// number of components removed.
int64_t remove_thin_specks(TriangleMesh& m, double max_fraction, double max_thickness, double max_gap);

/// Signed volume of each component (divergence theorem) and its triangle count.
std::vector<double> component_volumes(const TriangleMesh& m, const std::vector<int64_t>& component, int64_t C);

/// Drops vertices no triangle uses (indices remapped).
void compact_vertices(TriangleMesh& m);

/// The fraction of the mesh's area whose triangles have all three vertices farther than `radius`
/// from every one of `points` ([N*3]): surface no sample supports — the membrane Poisson spans
/// across the opening of a cup-shaped open sheet (a bowl whose two walls the samples do not
/// resolve). 0 for an empty mesh or no points.
double unsupported_area_fraction(const TriangleMesh& m, const std::vector<double>& points, double radius);

/// Volume (divergence theorem; meaningful for closed, consistently oriented meshes) and area.
double mesh_volume(const TriangleMesh& m);
double mesh_area(const TriangleMesh& m);
/// Watertight: no boundary edges — every edge is shared by an even number (>= 2) of triangles.
/// (is_closed_manifold above is the stricter test the default meshes pass.)
bool is_closed(const TriangleMesh& m);

}  // namespace mash::mesh
