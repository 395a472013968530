// SPDX-License-Identifier: MIT
#include "mash/ops/rotation/rotation.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>

namespace mash::ops::rotation {
namespace {
at::Tensor cross3(const at::Tensor& a, const at::Tensor& b) { return at::linalg_cross(a, b, -1); }
at::Tensor safe_normalize(const at::Tensor& v) { return v / at::linalg_vector_norm(v, 2, {-1}, true).clamp_min(1e-30); }
}  // namespace

at::Tensor matrix_from_axis_angle(const at::Tensor& r) {
    TORCH_CHECK(r.size(-1) == 3, "matrix_from_axis_angle: r must be [..., 3], got ", r.sizes());
    auto t2 = (r * r).sum(-1, true).unsqueeze(-1);  // [..., 1, 1]
    auto small = t2 < 1e-6;
    auto t2_safe = at::where(small, at::ones_like(t2), t2);
    auto t = at::sqrt(t2_safe);
    // a = sinθ/θ, b = (1−cosθ)/θ²; Taylor terms up to θ⁴ below the threshold (error < 1e-18).
    auto a = at::where(small, 1.0 - t2 / 6.0 + t2 * t2 / 120.0, at::sin(t) / t);
    auto b = at::where(small, 0.5 - t2 / 24.0 + t2 * t2 / 720.0, (1.0 - at::cos(t)) / t2_safe);
    auto x = r.select(-1, 0), y = r.select(-1, 1), z = r.select(-1, 2);
    auto zero = at::zeros_like(x);
    auto Kx = at::stack({at::stack({zero, -z, y}, -1), at::stack({z, zero, -x}, -1), at::stack({-y, x, zero}, -1)}, -2);
    auto eye = at::eye(3, r.options()).expand_as(Kx);
    return eye + a * Kx + b * at::matmul(Kx, Kx);
}

at::Tensor axis_angle_from_matrix(const at::Tensor& R_in) {
    TORCH_CHECK(R_in.dim() >= 2 && R_in.size(-1) == 3 && R_in.size(-2) == 3,
                "axis_angle_from_matrix: R must be [..., 3, 3], got ", R_in.sizes());
    auto out_shape = R_in.sizes().vec();
    out_shape.pop_back();
    auto R = R_in.reshape({-1, 3, 3});
    auto tr = R.diagonal(0, -2, -1).sum(-1);  // [N]
    auto c = ((tr - 1.0) * 0.5).clamp(-1.0, 1.0);
    // vee(R − Rᵀ) = 2 sinθ · n
    auto e = [&](int i, int j) { return R.select(-2, i).select(-1, j); };
    auto v = at::stack({e(2, 1) - e(1, 2), e(0, 2) - e(2, 0), e(1, 0) - e(0, 1)}, -1);  // [N, 3]
    // θ = atan2(sinθ, cosθ) is well conditioned everywhere (acos of the trace loses half the
    // digits near 0 and π).
    auto theta = at::atan2(0.5 * at::linalg_vector_norm(v, 2, {-1}), c);
    // Small/medium angles: r = θ/(2 sinθ) · v, with θ/sinθ → 1 + θ²/6 at 0.
    auto s = at::sin(theta);
    auto small = theta < 1e-4;
    auto factor = at::where(small, 0.5 * (1.0 + theta * theta / 6.0), theta / (2.0 * at::where(small, at::ones_like(s), s)));
    auto r_antisym = v * factor.unsqueeze(-1);
    // Large angles: n nᵀ = ((R+Rᵀ)/2 − cosθ I)/(1 − cosθ); take the column with the largest
    // diagonal entry, normalize it, and orient it along v (v = 2 sinθ n, sinθ ≥ 0).
    auto eye = at::eye(3, R.options());
    auto S = (R + R.transpose(-1, -2)) * 0.5 - c.view({-1, 1, 1}) * eye;
    auto col = S.diagonal(0, -2, -1).argmax(-1);  // [N]
    auto n = at::take_along_dim(S, col.view({-1, 1, 1}).expand({-1, 3, 1}), -1).squeeze(-1);
    n = safe_normalize(n);
    auto sign =
        at::where((n * v).sum(-1, true) < 0, at::full_like(theta.unsqueeze(-1), -1.0), at::ones_like(theta.unsqueeze(-1)));
    auto r_sym = n * sign * theta.unsqueeze(-1);
    auto use_sym = (theta > M_PI / 2).unsqueeze(-1);
    return at::where(use_sym, r_sym, r_antisym).reshape(out_shape);
}

at::Tensor matrix_from_ortho6d(const at::Tensor& o) {
    TORCH_CHECK(o.size(-1) == 6, "matrix_from_ortho6d: o must be [..., 6], got ", o.sizes());
    auto a = o.narrow(-1, 0, 3), b = o.narrow(-1, 3, 3);
    auto x = a / at::linalg_vector_norm(a, 2, {-1}, true);
    auto y = b - (x * b).sum(-1, true) * x;
    y = y / at::linalg_vector_norm(y, 2, {-1}, true);
    auto z = cross3(x, y);
    return at::stack({x, y, z}, -1);
}

at::Tensor ortho6d_from_matrix(const at::Tensor& M) {
    TORCH_CHECK(M.dim() >= 2 && M.size(-1) == 3 && M.size(-2) == 3, "ortho6d_from_matrix: M must be [..., 3, 3], got ",
                M.sizes());
    return at::cat({M.select(-1, 0), M.select(-1, 1)}, -1);
}

at::Tensor axis_angle_from_view_direction(const at::Tensor& f) {
    TORCH_CHECK(f.size(-1) == 3, "axis_angle_from_view_direction: f must be [..., 3], got ", f.sizes());
    auto norm = at::linalg_vector_norm(f, 2, {-1}, true);
    auto zero_f = norm < 1e-30;
    auto u = f / norm.clamp_min(1e-30);
    auto ux = u.select(-1, 0), uy = u.select(-1, 1), uz = u.select(-1, 2);
    auto axis = at::stack({-uy, ux, at::zeros_like(ux)}, -1);  // ẑ × u
    auto an = at::linalg_vector_norm(axis, 2, {-1}, true);
    auto fallback = at::zeros_like(axis);
    fallback.select(-1, 0).fill_(1.0);
    axis = at::where(an < 1e-12, fallback, axis / an.clamp_min(1e-30));
    auto angle = at::acos(uz.clamp(-1.0, 1.0)).unsqueeze(-1);
    return at::where(zero_f, at::zeros_like(axis), axis * angle);
}

}  // namespace mash::ops::rotation

// torch.ops.mash.axis_angle_to_matrix(r): Rodrigues as a torch operator (an ATen composition:
// autograd and torch.compile go through its parts), for the Python sampling pass.
TORCH_LIBRARY_FRAGMENT(mash, m) { m.def("axis_angle_to_matrix(Tensor r) -> Tensor"); }
TORCH_LIBRARY_IMPL(mash, CompositeImplicitAutograd, m) {
    m.impl("axis_angle_to_matrix", &mash::ops::rotation::matrix_from_axis_angle);
}
