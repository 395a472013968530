// SPDX-License-Identifier: MIT
// From MASH to surfaces (spec §9.3, "M+M"): a MASH → oriented samples (its own samples with PCA
// normals, or its patch normals) → screened Poisson. The steps live in patches.h (patch samples and
// their orientation), cloud_normals.h (point-cloud normals), poisson.h and topology.h (the mesh,
// its clean-up and measures); this header gathers them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/mash_params.h"
#include "mash/mesh/cloud_normals.h"  // IWYU pragma: export
#include "mash/mesh/patches.h"        // IWYU pragma: export
#include "mash/mesh/poisson.h"        // IWYU pragma: export
#include "mash/mesh/topology.h"       // IWYU pragma: export

namespace mash::mesh {

/// Where the normals of a MASH's mesh come from (`mash mesh --normals`):
///  * points (default): the MASH's own samples (its §4.2 sampler, FPS-thinned to num_points) as a
///    point cloud, with PCA normals oriented as for the SPR baseline (oriented_normals_for_cloud) —
///    what the original's later M+M did (spec §9.3 step 4: WNNC normals of the MASH points). Thin
///    parts (legs, slats, blades) come out as rods and plates, not lumps: the patch normals there
///    are rough where overlapping patches cover the part in blotches (docs/meshing.md).
///  * patches: the patch normals, one sign per patch sheet (orient()), blended at seams.
enum class NormalSource { points, patches };
/// "points" | "patches" (`--normals`); ConfigError otherwise.
inline NormalSource parse_normal_source(const std::string& s) {
    if (s == "points") return NormalSource::points;
    if (s == "patches") return NormalSource::patches;
    throw ConfigError("--normals '" + s + "': unknown normal source (expected points or patches)");
}
inline const char* normal_source_name(NormalSource n) { return n == NormalSource::points ? "points" : "patches"; }

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

}  // namespace mash::mesh
