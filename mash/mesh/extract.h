// SPDX-License-Identifier: MIT
// From MASH to surfaces (spec §9.3, "M+M"): dense oriented patch samples, globally consistent
// orientation, normal blending near patch boundaries, screened Poisson (Open3D).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mash/core/mash_params.h"
#include "mash/mesh/topology.h"

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
OrientMethod parse_orient_method(const std::string& s);  ///< "winding" | "graph"; ConfigError otherwise

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

/// Where the normals of a MASH's mesh come from (`mash mesh --normals`):
///  * points (default): the MASH's own samples (its §4.2 sampler, FPS-thinned to num_points) as a
///    point cloud, with PCA normals oriented as for the SPR baseline (oriented_normals_for_cloud) —
///    what the original's later M+M did (spec §9.3 step 4: WNNC normals of the MASH points). Thin
///    parts (legs, slats, blades) come out as rods and plates, not lumps: the patch normals there
///    are rough where overlapping patches cover the part in blotches (docs/meshing.md).
///  * patches: the patch normals, one sign per patch sheet (orient()), blended at seams.
enum class NormalSource { points, patches };
NormalSource parse_normal_source(const std::string& s);  ///< "points" | "patches"; ConfigError otherwise
const char* normal_source_name(NormalSource n);

struct MashSurfaceOptions {
    NormalSource normals = NormalSource::points;
    OrientMethod orient = OrientMethod::winding;
    int64_t num_points = 20000;              ///< points: samples kept (FPS over all the MASH's samples)
    int64_t grid_phi = 24, grid_theta = 16;  ///< patches: the per-patch grid of patch_samples()
    /// The polar count that goes with an azimuth count (2/3 of it, at least 2; 24 → 16).
    static int64_t polar_for(int64_t grid_phi) { return grid_phi * 2 / 3 > 2 ? grid_phi * 2 / 3 : 2; }
};
struct OrientedCloud {
    std::vector<double> points, normals;  ///< [S*3] each; normals unit and consistently oriented
    int64_t sampled = 0;                  ///< points: samples the MASH yielded before thinning
};
/// A MASH → oriented samples for poisson(). `report` gets orient()'s report (patches) or the
/// stage times (points).
OrientedCloud mash_oriented_samples(const MashParams& params, const MashSurfaceOptions& options = {},
                                    OrientReport* report = nullptr);

using io::read_mesh;  // meshes are read and written by mash/io
using io::save_mesh;

/// Volume (divergence theorem; meaningful for closed, consistently oriented meshes) and area.
double mesh_volume(const TriangleMesh& m);
double mesh_area(const TriangleMesh& m);
/// Watertight: no boundary edges — every edge is shared by an even number (>= 2) of triangles.
/// (is_closed_manifold in topology.h is the stricter test the default meshes pass.)
bool is_closed(const TriangleMesh& m);

}  // namespace mash::mesh
