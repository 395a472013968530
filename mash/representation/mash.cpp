// SPDX-License-Identifier: MIT
#include "mash/representation/mash.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <string>

#include "mash/core/errors.h"
#include "mash/core/limits.h"
#include "mash/ops/mask/mask.h"
#include "mash/ops/points/points.h"
#include "mash/ops/rotation/rotation.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/ops/sh/sh.h"

namespace mash::representation {

void MashOptions::validate() const {
    auto bad = [](const std::string& key, const std::string& expected, const std::string& got) {
        throw ConfigError("mash option '" + key + "' = " + got + ": expected " + expected);
    };
    if (num_anchors < 1) bad("num_anchors", ">= 1", std::to_string(num_anchors));
    if (mask_degree < 0 || mask_degree > kMaxMaskDegree) bad("mask_degree", "0..10", std::to_string(mask_degree));
    if (sh_degree < 0 || sh_degree > kMaxShDegree) bad("sh_degree", "0..6", std::to_string(sh_degree));
    if (num_directions < 1) bad("num_directions", ">= 1", std::to_string(num_directions));
    if (num_boundary < 1) bad("num_boundary", ">= 1", std::to_string(num_boundary));
    if (!(fps_scale > 0.0 && fps_scale <= 1.0)) bad("fps_scale", "in (0, 1]", std::to_string(fps_scale));
}

at::Tensor MashSamples::points() const { return at::cat({boundary_points, inner_points}, 0); }
at::Tensor MashSamples::anchor_idx() const { return at::cat({boundary_anchor_idx, inner_anchor_idx}, 0); }

MashImpl::MashImpl(const MashOptions& options, const c10::TensorOptions& tensor_options) : options_(options) {
    options_.validate();
    const int64_t A = options_.num_anchors;
    auto opts = tensor_options.requires_grad(false);
    auto sh0 = at::zeros({A, ops::sh::num_coeffs(options_.sh_degree)}, opts);
    sh0.select(1, 0).fill_(1e-3 / ops::sh::weight(0, 0));
    mask_params = register_parameter("mask_params", at::zeros({A, 2 * options_.mask_degree + 1}, opts));
    sh_params = register_parameter("sh_params", sh0);
    rotate_vectors = register_parameter("rotate_vectors", at::zeros({A, 3}, opts));
    positions = register_parameter("positions", at::zeros({A, 3}, opts));
    auto dirs = ops::sampling::fibonacci(options_.num_directions, opts);
    set_directions(dirs.phis, dirs.thetas);
    bnd_phis_ = register_buffer("boundary_phis", ops::sampling::boundary_phis(options_.num_boundary, opts));
    bnd_basis_ = register_buffer("boundary_basis", ops::mask::basis(bnd_phis_, options_.mask_degree));
}

void MashImpl::set_directions(const at::Tensor& phis, const at::Tensor& thetas) {
    TORCH_CHECK(phis.dim() == 1 && phis.sizes() == thetas.sizes(), "set_directions: phis and thetas must be [N], got ",
                phis.sizes(), " and ", thetas.sizes());
    auto opts = mask_params.options().requires_grad(false);
    at::Tensor p = phis.to(opts), t = thetas.to(opts);
    at::Tensor b = ops::mask::basis(p, options_.mask_degree);
    if (dir_phis_.defined()) {
        dir_phis_.set_(p);
        dir_thetas_.set_(t);
        dir_basis_.set_(b);
    } else {
        dir_phis_ = register_buffer("direction_phis", p);
        dir_thetas_ = register_buffer("direction_thetas", t);
        dir_basis_ = register_buffer("direction_basis", b);
    }
    options_.num_directions = p.size(0);
}

at::Tensor MashImpl::rotation_matrices() const { return ops::rotation::matrix_from_axis_angle(rotate_vectors); }

at::Tensor MashImpl::world_points(const at::Tensor& anchor_idx, const at::Tensor& theta, const at::Tensor& phi,
                                  const at::Tensor& R, bool relu) const {
    return ops::points::world_points(sh_params, R, positions, anchor_idx, theta, phi, options_.sh_degree, options_.use_inverse,
                                     relu);
}

MashSamples MashImpl::forward(bool subsample) {
    const int64_t A = options_.num_anchors, B = options_.num_boundary, N = options_.num_directions;
    auto lopts = mask_params.options().dtype(at::kLong).requires_grad(false);
    MashSamples out;
    auto R = rotation_matrices();

    // Boundary: θb = π·sigmoid(s_a(φ_j)), differentiable.
    out.boundary_thetas = ops::mask::thetas(mask_params, bnd_basis_);  // [A, B]
    out.boundary_anchor_idx = at::arange(A, lopts).repeat_interleave(B);
    out.boundary_points =
        world_points(out.boundary_anchor_idx, out.boundary_thetas.reshape({-1}), bnd_phis_.repeat({A}), R, true);

    // In-mask selection (no grad): prefilter by the max sampled boundary θ, then the exact test.
    auto theta_hat = ops::mask::thetas(mask_params, dir_basis_);  // [A, N], differentiable
    at::Tensor ai, ii, w;
    {
        at::NoGradGuard no_grad;
        auto sel = ops::sampling::in_mask(out.boundary_thetas, theta_hat, dir_thetas_);
        ai = sel.anchor_idx;
        ii = sel.dir_idx;
        out.inner_counts = sel.counts;
        w = dir_thetas_.index_select(0, ii) / theta_hat.detach().reshape({-1}).index_select(0, ai * N + ii);
    }
    // θ' = θ_i in value, w·θmax(φ_i) in gradient (spec §4.2 step 5, the paper's slerp).
    auto slide = w * ops::points::gather_unique(theta_hat.reshape({-1}), ai * N + ii);
    auto theta_inner = dir_thetas_.index_select(0, ii) + (slide - slide.detach());
    auto inner = world_points(ai, theta_inner, dir_phis_.index_select(0, ii), R, true);

    if (subsample) {
        at::Tensor sel;
        {
            at::NoGradGuard no_grad;
            auto offsets = at::zeros({A + 1}, lopts);
            offsets.narrow(0, 1, A).copy_(at::cumsum(out.inner_counts, 0));
            auto keep = at::ceil(out.inner_counts.to(at::kDouble) * options_.fps_scale - 1e-9).to(at::kLong);
            sel = ops::sampling::fps_packed(inner.detach(), offsets, keep);
        }
        inner = ops::points::gather_unique(inner, sel);
        ai = ai.index_select(0, sel);
        ii = ii.index_select(0, sel);
        w = w.index_select(0, sel);
    }
    out.inner_points = inner;
    out.inner_anchor_idx = ai;
    out.inner_direction_idx = ii;
    out.inner_theta_weights = w;
    return out;
}

at::Tensor MashImpl::grid_points(int64_t num_phi, int64_t num_theta, bool relu) const {
    TORCH_CHECK(num_phi > 0 && num_theta > 0, "grid_points: need positive grid sizes, got ", num_phi, "x", num_theta);
    const int64_t A = options_.num_anchors, P = num_phi, T = num_theta;
    auto opts = mask_params.options().requires_grad(false);
    auto phis = at::linspace(2.0 * M_PI / double(P), 2.0 * M_PI, P, opts);                              // [P]
    auto fracs = at::linspace(M_PI / double(T), M_PI, T, opts);                                         // [T]
    auto sig = at::sigmoid(at::matmul(mask_params, ops::mask::basis(phis, options_.mask_degree).t()));  // [A, P]
    auto theta = (sig.unsqueeze(-1) * fracs.view({1, 1, T})).reshape({-1});                             // [A·P·T]
    auto phi = phis.view({1, P, 1}).expand({A, P, T}).reshape({-1});
    auto lopts = opts.dtype(at::kLong);
    auto aidx = at::arange(A, lopts).repeat_interleave(P * T);
    return world_points(aidx, theta, phi, rotation_matrices(), relu).view({A, P, T, 3});
}

at::Tensor MashImpl::face_to_points() const {
    const int64_t A = options_.num_anchors;
    auto opts = mask_params.options().requires_grad(false);
    auto zeros = at::zeros({A}, opts);
    return world_points(at::arange(A, opts.dtype(at::kLong)), zeros, zeros, rotation_matrices(), true);
}

void MashImpl::set_params(const MashParams& p) {
    p.validate("set_params");
    const MashOptions& o = options_;
    if (p.num_anchors != o.num_anchors || p.mask_degree != o.mask_degree || p.sh_degree != o.sh_degree)
        throw InputError("set_params: MASH has A=" + std::to_string(p.num_anchors) + " K=" + std::to_string(p.mask_degree) +
                         " L=" + std::to_string(p.sh_degree) +
                         " but the module was built for A=" + std::to_string(o.num_anchors) +
                         " K=" + std::to_string(o.mask_degree) + " L=" + std::to_string(o.sh_degree));
    at::NoGradGuard no_grad;
    auto f64 = at::TensorOptions().dtype(at::kDouble);
    auto copy = [&](at::Tensor& dst, const std::vector<double>& src) {
        dst.copy_(at::from_blob(const_cast<double*>(src.data()), dst.sizes(), f64));
    };
    copy(mask_params, p.mask_params);
    copy(sh_params, p.sh_params);
    copy(rotate_vectors, p.rotate_vectors);
    copy(positions, p.positions);
    options_.use_inverse = p.use_inverse;
}

MashParams MashImpl::to_params() const {
    MashParams p = MashParams::zeros(options_.num_anchors, options_.mask_degree, options_.sh_degree);
    p.use_inverse = options_.use_inverse;
    auto get = [](const at::Tensor& t, std::vector<double>& dst) {
        auto c = t.detach().to(at::kCPU, at::kDouble).contiguous();
        std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), dst.begin());
    };
    get(mask_params, p.mask_params);
    get(sh_params, p.sh_params);
    get(rotate_vectors, p.rotate_vectors);
    get(positions, p.positions);
    return p;
}

Mash make_mash(const MashParams& params, MashOptions sampling, const c10::TensorOptions& tensor_options) {
    sampling.num_anchors = params.num_anchors;
    sampling.mask_degree = params.mask_degree;
    sampling.sh_degree = params.sh_degree;
    sampling.use_inverse = params.use_inverse;
    Mash m(sampling, tensor_options);
    m->set_params(params);
    return m;
}

}  // namespace mash::representation
