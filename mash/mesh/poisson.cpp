// SPDX-License-Identifier: MIT
#include "mash/mesh/poisson.h"

#include <open3d/geometry/PointCloud.h>
#include <open3d/geometry/TriangleMesh.h>
#include <open3d/utility/Logging.h>

#include <Eigen/Dense>
#include <algorithm>
#include <limits>

#include "mash/core/errors.h"
#include "mash/core/timing.h"
#include "mash/mesh/surface_detail.h"
#include "mash/mesh/thin_parts.h"
#include "mash/mesh/winding.h"

namespace mash::mesh {

void detail::quiet_open3d() { open3d::utility::SetVerbosityLevel(open3d::utility::VerbosityLevel::Error); }

TriangleMesh poisson(const std::vector<double>& points, const std::vector<double>& normals, const PoissonOptions& o,
                     std::vector<std::pair<std::string, double>>* stages, PoissonReport* report) {
    detail::quiet_open3d();
    const size_t n = points.size() / 3;
    if (n < 10) throw InputError("poisson: need at least 10 oriented points, got " + std::to_string(n));
    StageTimer timer{stages};
    std::vector<double> pts, nrm;
    for (size_t i = 0; i < n; ++i) {
        Eigen::Vector3d nv(normals[3 * i], normals[3 * i + 1], normals[3 * i + 2]);
        if (!(nv.norm() > 0.5)) continue;  // degenerate patch normals (e.g. collapsed rays) carry no orientation
        nv.normalize();
        pts.insert(pts.end(), {points[3 * i], points[3 * i + 1], points[3 * i + 2]});
        nrm.insert(nrm.end(), {nv.x(), nv.y(), nv.z()});
    }
    if (pts.size() < 30) throw InputError("poisson: fewer than 10 points with a valid normal");
    // Points' bounding box (before thickening): the voxel size and the clean-up's box.
    Eigen::Vector3d lo = Eigen::Vector3d::Constant(std::numeric_limits<double>::max()), hi = -lo;
    for (size_t i = 0; i < pts.size() / 3; ++i) {
        const Eigen::Vector3d p(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2]);
        lo = lo.cwiseMin(p);
        hi = hi.cwiseMax(p);
    }
    const double voxel = 1.1 * (hi - lo).maxCoeff() / double(int64_t(1) << o.depth);
    PoissonReport rep;
    std::vector<double> orig;  // the samples before thickening: the support check's reference
    if (o.thin_offset_voxels > 0) {
        const ThinField field(pts, nrm);
        rep.threshold = ThinOptions{}.threshold;
        auto mask = field.mask(rep.threshold);
        timer.lap("thin parts");
        // A cup-shaped open sheet (a bowl whose walls the samples do not resolve) looks nearly
        // enclosed to the thin test; the field's ½-level set then spans its opening far from every
        // sample, where Poisson would put a membrane. Then the thin threshold is lowered.
        orig = pts;
        const double radius = std::max(4.0 * voxel, 3.0 * median_spacing(pts));
        if (o.open_membrane > 0) {
            rep.membrane = rep.membrane_first = field.membrane_fraction(mask, radius);
            // Lower thresholds in steps until the predicted membrane is gone (at 0 every sample
            // with a deviation is marked and the field, hence the membrane, vanishes).
            for (double t = rep.threshold - o.open_step; rep.membrane > o.open_membrane && t > -0.5 * o.open_step;
                 t -= o.open_step) {
                rep.threshold = std::max(0.0, t);
                mask = field.mask(rep.threshold);
                rep.membrane = field.membrane_fraction(mask, radius);
                rep.open_sheet = true;
            }
            timer.lap("open-sheet check");
        }
        rep.support_radius = radius;
        rep.thin_samples = thicken_thin(pts, nrm, mask, o.thin_offset_voxels * voxel);
    }
    const int64_t doubled = rep.thin_samples;
    if (o.cell_voxels > 0) {
        rep.poisson_samples = one_sample_per_cell(pts, nrm, lo.data(), o.cell_voxels * voxel);
        timer.lap("one sample per cell");
    } else {
        rep.poisson_samples = int64_t(pts.size() / 3);
    }
    open3d::geometry::PointCloud pc;
    for (size_t i = 0; i < pts.size() / 3; ++i) {
        pc.points_.emplace_back(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2]);
        pc.normals_.emplace_back(nrm[3 * i], nrm[3 * i + 1], nrm[3 * i + 2]);
    }
    // One thread: Open3D 0.16's PoissonRecon races with more (isl-org/Open3D#6828; it segfaulted in
    // our CI and gave a different mesh on every run); one thread is deterministic and cost ~1.2x
    // here (thin bowl 2.4 -> 2.8 s).
    auto [mesh, dens] =
        open3d::geometry::TriangleMesh::CreateFromPointCloudPoisson(pc, size_t(o.depth), 0, 1.1, false, /*n_threads=*/1);
    timer.lap("Poisson");
    if (o.trim_quantile > 0 && !dens.empty()) {
        std::vector<double> sorted = dens;
        std::sort(sorted.begin(), sorted.end());
        const double thr = sorted[size_t(std::clamp(o.trim_quantile, 0.0, 1.0) * (sorted.size() - 1))];
        std::vector<bool> remove(dens.size());
        for (size_t i = 0; i < dens.size(); ++i) remove[i] = dens[i] < thr;
        mesh->RemoveVerticesByMask(remove);
    }
    TriangleMesh out;
    for (const auto& v : mesh->vertices_) out.vertices.insert(out.vertices.end(), {v.x(), v.y(), v.z()});
    for (const auto& t : mesh->triangles_) out.triangles.insert(out.triangles.end(), {t[0], t[1], t[2]});
    if (o.trim_quantile <= 0 && out.num_triangles() > 0) {
        remove_outside_components(out, lo.data(), hi.data(), 0.05 * (hi - lo).norm());
        timer.lap("clean-up: box sheets");
        repair_manifold(out);
        timer.lap("clean-up: manifold");
        // Where the surface ran into Poisson's bounding box (an orientation failure) it is open:
        // close it so that the default mesh is always watertight.
        if (edge_stats(out).boundary > 0) {
            fill_holes(out);
            repair_manifold(out);
            timer.lap("clean-up: holes");
        }
        remove_inconsistent_components(out);
        // Stray slabs right beside the surface, left by thickened thin parts: < 1 % of the
        // triangles, thinner than 3 voxels on average, most vertices within 5 voxels of another part.
        if (doubled > 0) remove_thin_specks(out, 0.01, 3.0 * voxel, 5.0 * voxel);
        timer.lap("clean-up: nesting, specks");
        if (!orig.empty()) {
            rep.unsupported = unsupported_area_fraction(out, orig, rep.support_radius);
            timer.lap("support check");
        }
    }
    if (report) *report = rep;
    return out;
}

}  // namespace mash::mesh
