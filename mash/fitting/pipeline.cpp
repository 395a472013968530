// SPDX-License-Identifier: MIT
#include "mash/fitting/pipeline.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>

#include "mash/core/errors.h"
#include "mash/io/geometry_io.h"

namespace mash::fitting {
FileFitResult fit_file(const std::string& input, const FitOptions& o, uint64_t seed,
                       const std::function<void(const FitStep&)>& on_step, const std::string& device) {
    o.validate();
    const c10::Device dev(device);
    at::manual_seed(seed);
    const auto t0 = std::chrono::steady_clock::now();
    io::PointCloud pc = io::load_points(input, o.num_gt_points, seed);
    io::random_subset(pc, o.num_gt_points, seed);
    if (pc.size() < o.num_anchors)
        throw InputError(input + ": has " + std::to_string(pc.size()) + " points, fewer than the " +
                         std::to_string(o.num_anchors) + " anchors requested (use --anchors or a denser input)");
    FileFitResult r;
    for (int k = 0; k < 3; ++k) {
        r.bbox_min[k] = std::numeric_limits<double>::infinity();
        r.bbox_max[k] = -std::numeric_limits<double>::infinity();
    }
    for (size_t i = 0; i < pc.points.size(); ++i) {
        r.bbox_min[i % 3] = std::min(r.bbox_min[i % 3], pc.points[i]);
        r.bbox_max[i % 3] = std::max(r.bbox_max[i % 3], pc.points[i]);
    }
    r.normalization = compute_normalization(pc.points, input);
    apply_normalization(pc.points, r.normalization);
    std::vector<double> normals = pc.normals;
    if (normals.empty()) normals = estimate_normals(pc.points, o.normal_knn);
    MashParams init = initial_mash_from_cloud(pc.points, normals, o);
    auto gt = at::from_blob(pc.points.data(), {pc.size(), 3}, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat);
    r.input_points = pc.size();
    r.input_is_mesh = pc.from_mesh;
    r.prep_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    at::Tensor gt_normals;  // the input's or PCA normals, for the surfel distance (FitOptions::surfel_radius)
    if (o.surfel_radius > 0)
        gt_normals = at::from_blob(normals.data(), {pc.size(), 3}, at::TensorOptions().dtype(at::kDouble)).clone();
    r.fit = fit_mash(gt, init, o, on_step, dev, gt_normals);
    r.params = r.fit.params;
    undo_normalization(r.params, r.normalization);
    return r;
}

}  // namespace mash::fitting
