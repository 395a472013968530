// SPDX-License-Identifier: MIT
#include "mash/losses/losses.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <tuple>

#include "mash/ops/nearest/nearest.h"

namespace mash::losses {
namespace {

// The nearest-neighbour searches through the dispatcher (torch.ops.mash.*), so that the losses
// below also trace under torch.compile (fake tensors reach the ops' Meta kernels).
at::Tensor call_nearest(const at::Tensor& queries, const at::Tensor& ref) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("mash::nearest", "")
                         .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
    return op.call(queries.detach(), ref.detach());
}

at::Tensor call_nearest_other_group(const at::Tensor& points, const at::Tensor& group) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("mash::nearest_other_group", "")
                         .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
    return op.call(points.detach(), group);
}

}  // namespace

ChamferResult chamfer(const at::Tensor& samples, const at::Tensor& gt, const KdTree* gt_tree) {
    // Sizes as SymInts: under torch.compile N may be data-dependent (a MASH's sample count).
    TORCH_CHECK(samples.dim() == 2 && samples.sym_size(1) == 3 && gt.dim() == 2 && gt.sym_size(1) == 3,
                "chamfer: samples and gt must be [N, 3], got ", samples.sym_sizes(), " and ", gt.sym_sizes());
    TORCH_SYM_CHECK(samples.sym_size(0).sym_gt(0), "chamfer: empty point set");
    TORCH_SYM_CHECK(gt.sym_size(0).sym_gt(0), "chamfer: empty point set");
    ChamferResult r;
    r.idx_fit = gt_tree ? gt_tree->nearest(samples) : call_nearest(samples, gt);
    r.idx_cov = gt_tree ? gt_tree->nearest_in(samples) : call_nearest(gt, samples);
    auto g = gt.to(samples.scalar_type());
    r.dist2_fit = (samples - g.index_select(0, r.idx_fit)).pow(2).sum(-1);
    r.dist2_cov = (samples.index_select(0, r.idx_cov) - g).pow(2).sum(-1);
    // The original replaces NaN squared distances by 0 (chamfer.cpp nan_to_num).
    r.dist2_fit = at::nan_to_num(r.dist2_fit, 0.0);
    r.dist2_cov = at::nan_to_num(r.dist2_cov, 0.0);
    return r;
}

at::Tensor surfel_dist2(const at::Tensor& samples, const at::Tensor& gt, const at::Tensor& idx, const at::Tensor& normals,
                        const at::Tensor& radii) {
    auto d = samples - gt.index_select(0, idx);
    auto n = normals.index_select(0, idx);
    auto h = (d * n).sum(1);
    // +1e-12 inside the sqrt: a finite gradient where the tangential offset is 0.
    auto t = (d - h.unsqueeze(1) * n).pow(2).sum(1).add(1e-12).sqrt();
    auto out = (t - radii.index_select(0, idx)).clamp_min(0);
    return h * h + out * out;
}

at::Tensor soft_l1(const at::Tensor& dist2, double eps) { return at::sqrt(dist2 + eps).mean(); }

at::Tensor boundary_continuity(const at::Tensor& boundary_points, const at::Tensor& anchor_idx, double eps) {
    if (TORCH_GUARD_OR_FALSE(boundary_points.sym_size(0).sym_eq(0))) return at::zeros({}, boundary_points.options());
    // Every point has a neighbour of another anchor, or (a single anchor) none has: all or nothing,
    // so the loss is the full mean times "the first point has one" (no host synchronisation).
    auto nn = call_nearest_other_group(boundary_points, anchor_idx);
    auto o = boundary_points.index_select(0, nn.clamp_min(0));
    auto has_other = (nn.select(0, 0) >= 0).to(boundary_points.scalar_type());
    return soft_l1((boundary_points - o).pow(2).sum(-1), eps) * has_other;
}

}  // namespace mash::losses

// The losses as torch operators (torch.ops.mash.*): compositions of the nearest-neighbour ops and
// ATen, so autograd and torch.compile go through their parts.
namespace {
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> chamfer_op(const at::Tensor& samples, const at::Tensor& gt) {
    auto r = mash::losses::chamfer(samples, gt, nullptr);
    return {r.dist2_fit, r.dist2_cov, r.idx_fit, r.idx_cov};
}
}  // namespace

TORCH_LIBRARY_FRAGMENT(mash, m) {
    m.def("chamfer(Tensor samples, Tensor gt) -> (Tensor dist2_fit, Tensor dist2_cov, Tensor idx_fit, Tensor idx_cov)");
    m.def("surfel_dist2(Tensor samples, Tensor gt, Tensor idx, Tensor normals, Tensor radii) -> Tensor");
    m.def("boundary_continuity(Tensor boundary_points, Tensor anchor_idx, float eps=1e-06) -> Tensor");
}
TORCH_LIBRARY_IMPL(mash, CompositeImplicitAutograd, m) {
    m.impl("chamfer", &chamfer_op);
    m.impl("surfel_dist2", &mash::losses::surfel_dist2);
    m.impl("boundary_continuity", &mash::losses::boundary_continuity);
}
