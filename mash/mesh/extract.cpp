// SPDX-License-Identifier: MIT
#include "mash/mesh/extract.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "mash/core/errors.h"
#include "mash/core/timing.h"
#include "mash/mesh/surface_detail.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"

namespace mash::mesh {
using detail::as_vector;
using detail::kF64;

OrientedCloud mash_oriented_samples(const MashParams& params, const MashSurfaceOptions& o, OrientReport* report) {
    OrientedCloud out;
    if (o.normals == NormalSource::patches) {
        auto s = patch_samples(params, o.grid_phi, o.grid_theta);
        OrientOptions oo;
        oo.method = o.orient;
        orient(s, oo, report);
        out.points = std::move(s.points);
        out.normals = std::move(s.normals);
        out.sampled = int64_t(out.points.size() / 3);
        return out;
    }
    if (o.num_points < 10) throw ConfigError("--num-points " + std::to_string(o.num_points) + ": expected at least 10");
    std::vector<std::pair<std::string, double>> stages;
    StageTimer timer{&stages};
    at::NoGradGuard no_grad;
    Mash mash = make_mash(params, {}, kF64);
    auto pts = mash->forward(true).points();
    pts = pts.index_select(0, at::isfinite(pts).all(1).nonzero().squeeze(1));
    out.sampled = pts.size(0);
    if (out.sampled > o.num_points) pts = pts.index_select(0, ops::sampling::fps(pts.to(at::kFloat), o.num_points));
    out.points = as_vector(pts);
    timer.lap("MASH samples (FPS)");
    if (out.points.size() / 3 < 10)
        throw InputError("MASH: " + std::to_string(out.points.size() / 3) + " finite samples (expected at least 10 to mesh)");
    out.normals = oriented_normals_for_cloud(out.points, 30, o.orient);
    timer.lap(o.orient == OrientMethod::winding ? "point normals (PCA, winding numbers)" : "point normals (PCA, graph)");
    if (report) {
        *report = OrientReport{};
        report->stages = std::move(stages);
    }
    return out;
}

}  // namespace mash::mesh
