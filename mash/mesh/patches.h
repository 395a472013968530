// SPDX-License-Identifier: MIT
// A MASH's patches as dense oriented samples (spec §9.3 step 1) and one consistent orientation
// across them: per-patch sheets, a patch graph, reference votes and the winding-number sign search,
// normals blended at seams. The samples need LibTorch only; orient() needs Open3D.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/mash_params.h"

namespace mash::mesh {

/// Dense samples of every patch on the SimpleMash grid (φ_p = 2π(p+1)/P, θ = (q+1)/T·θmax(φ_p),
/// ReLU distances) with patch normals ∂P/∂θ × ∂P/∂φ from central differences on the grid
/// (consistent within a patch, arbitrary between patches).
struct OrientedSamples {
    std::vector<double> points;            ///< [S*3]
    std::vector<double> normals;           ///< [S*3] unit (0 where degenerate)
    std::vector<int64_t> anchor;           ///< [S]
    std::vector<double> fraction;          ///< [S] (q+1)/T: 1 on the patch boundary
    int64_t grid_phi = 0, grid_theta = 0;  ///< P, T: sample (a, p, q) is at index (a·P + p)·T + q
    int64_t size() const { return int64_t(anchor.size()); }
};
OrientedSamples patch_samples(const MashParams& params, int64_t num_phi = 24, int64_t num_theta = 16);

/// How patch (or point) signs are chosen: `winding` (default) picks the signs that make the
/// winding-number field of the oriented samples most nearly constant on the surface (a global
/// cue, mash/mesh/winding.h), starting among others from the `graph` answer; `graph` is the
/// earlier local method (patch graph + reference votes + ICM; for point clouds Open3D's
/// tangent-plane propagation), kept for comparison.
enum class OrientMethod { winding, graph };
/// "winding" | "graph" (`--orient`); ConfigError otherwise.
inline OrientMethod parse_orient_method(const std::string& s) {
    if (s == "winding") return OrientMethod::winding;
    if (s == "graph") return OrientMethod::graph;
    throw ConfigError("--orient '" + s + "': unknown orientation method (expected winding or graph)");
}

struct OrientOptions {
    OrientMethod method = OrientMethod::winding;
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
/// blended with the nearest point of another patch. With OrientMethod::winding (the default) those
/// signs are one start of the global winding-number search (winding.h::orient_groups), whose
/// answer is used instead. The unit of that search is a sheet: a patch split where its grid jumps
/// along the normal (a patch fitted across both walls of a thin shell lies on two sheets that
/// need opposite signs). Returns the number of samples whose normal was reversed.
struct OrientReport {
    int64_t flipped = 0;                                 ///< samples whose normal was reversed
    double objective_graph = 0;                          ///< winding field constancy R/Q of the graph signs (1 = constant)
    double objective = 0;                                ///< ... of the signs used
    double mean_winding = 0;                             ///< mean w at the surface samples (≈ ½ when consistent)
    int64_t changed_from_graph = 0;                      ///< sheets whose sign differs from the graph method's
    int64_t sheets = 0;                                  ///< sign variables of the winding search (≥ patches)
    std::vector<std::pair<std::string, double>> stages;  ///< (stage, seconds)
};
int64_t orient(OrientedSamples& samples, const OrientOptions& options = {}, OrientReport* report = nullptr);

}  // namespace mash::mesh
