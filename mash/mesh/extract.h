// SPDX-License-Identifier: MIT
// From MASH to surfaces (spec §9.3, "M+M"): dense oriented patch samples, globally consistent
// orientation, normal blending near patch boundaries, screened Poisson (Open3D).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/representation/mash_params.h"

namespace mash::mesh {

/// Dense samples of every patch on the SimpleMash grid (φ_p = 2π(p+1)/P, θ = (q+1)/T·θmax(φ_p),
/// ReLU distances) with patch normals ∂P/∂θ × ∂P/∂φ from central differences on the grid
/// (consistent within a patch, arbitrary between patches).
struct OrientedSamples {
    std::vector<double> points;    ///< [S*3]
    std::vector<double> normals;   ///< [S*3] unit (0 where degenerate)
    std::vector<int64_t> anchor;   ///< [S]
    std::vector<double> fraction;  ///< [S] (q+1)/T: 1 on the patch boundary
    int64_t size() const { return int64_t(anchor.size()); }
};
OrientedSamples patch_samples(const MashParams& params, int64_t num_phi = 24, int64_t num_theta = 16);

struct OrientOptions {
    int64_t subset = 4000;     ///< FPS subset oriented by Open3D (the reference for the group votes)
    int64_t knn = 15;          ///< neighbours of Open3D's tangent-plane graph
    double blend_start = 0.7;  ///< blend normals with the nearest other patch for fraction > this
};
/// Makes orientations consistent across patches. Patches, not points, are the unit: each sample
/// votes n_i·n_j with its nearest sample on another patch (close pairs only), giving a signed
/// agreement per pair of patches (only neighbours in the tangent plane vote, so the two sides of a
/// thin sheet do not); a maximum spanning forest over |agreement| fixes each patch's sign relative
/// to its neighbours; each connected group then takes the sign that most of its samples share with
/// a reference orientation (Open3D's consistent tangent planes on an FPS subset) — a vote over
/// thousands of samples, robust to the reference's local mistakes at sharp creases; finally the
/// result is pointed outward (Σ n·(p − centroid) > 0) and normals near patch boundaries are
/// blended with the nearest point of another patch. Returns the number of patches flipped.
int64_t orient(OrientedSamples& samples, const OrientOptions& options = {});

struct PoissonOptions {
    int depth = 8;
    double trim_quantile = 0.0;  ///< remove vertices below this density quantile (0 = watertight)
};
struct TriangleMesh {
    std::vector<double> vertices;   ///< [V*3]
    std::vector<int64_t> triangles; ///< [F*3]
};
/// Screened Poisson on oriented points. Throws InputError if fewer than 10 points.
TriangleMesh poisson(const std::vector<double>& points, const std::vector<double>& normals, const PoissonOptions& o);

/// Unoriented PCA normals oriented consistently (Open3D), for the raw-point-cloud SPR baseline.
std::vector<double> oriented_normals_for_cloud(const std::vector<double>& points, int64_t knn = 30);

/// Writes a mesh atomically (.ply .obj .off .stl via Open3D).
void save_mesh(const std::string& path, const TriangleMesh& mesh);
/// Reads a mesh (vertices + triangles) through Open3D; throws IoError.
TriangleMesh load_mesh(const std::string& path);

/// Volume (divergence theorem; meaningful for closed, consistently oriented meshes) and area.
double mesh_volume(const TriangleMesh& m);
double mesh_area(const TriangleMesh& m);
/// Watertight: no boundary edges — every edge is shared by an even number (>= 2) of triangles.
/// (Poisson meshes can have a handful of 4-face edges where two sheets touch; they stay closed.)
bool is_closed(const TriangleMesh& m);

}  // namespace mash::mesh
