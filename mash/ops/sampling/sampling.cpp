// SPDX-License-Identifier: MIT
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/library.h>
#pragma GCC diagnostic ignored "-Wpsabi"  // inline vector-extension helpers (fps_math.h): no ABI crosses a call
#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include "mash/ops/sampling/fps_math.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/ops/sh/sh.h"

#ifdef MASH_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "mash/ops/sampling/fps_cuda.h"
#endif

namespace mash::ops::sampling {

#ifdef MASH_WITH_CUDA
constexpr bool kHaveCudaKernels = true;
#else
constexpr bool kHaveCudaKernels = false;
#endif

Directions fibonacci(int64_t n, const c10::TensorOptions& options) {
    TORCH_CHECK(n > 0, "fibonacci: need at least one direction, got ", n);
    // float32 arithmetic exactly as the original sample.cpp (φ matches its stored table bit for bit).
    const float w = float(M_PI * (1.0 + std::sqrt(5.0)));
    std::vector<float> phis(n), cz(n);
    for (int64_t i = 0; i < n; ++i) {
        phis[i] = w * (float(i) + 0.5f);
        cz[i] = 1.0f - (2.0f * float(i) + 1.0f) / float(n);
    }
    auto f32 = at::TensorOptions().dtype(at::kFloat);
    auto phi = at::from_blob(phis.data(), {n}, f32).clone();
    auto theta = at::acos(at::from_blob(cz.data(), {n}, f32));
    return {phi.to(options), theta.to(options)};
}

at::Tensor boundary_phis(int64_t b, const c10::TensorOptions& options) {
    TORCH_CHECK(b > 0, "boundary_phis: need at least one boundary sample, got ", b);
    std::vector<float> v(b);
    const float two_pi = float(2.0 * M_PI);
    for (int64_t j = 0; j < b; ++j) v[j] = two_pi * float(j) / float(b);
    return at::from_blob(v.data(), {b}, at::TensorOptions().dtype(at::kFloat)).clone().to(options);
}

at::Tensor directions(const at::Tensor& theta, const at::Tensor& phi) {
    auto st = at::sin(theta);
    return at::stack({at::cos(phi) * st, at::sin(phi) * st, at::cos(theta)}, -1);
}

at::Tensor local_points(const at::Tensor& sh_coeffs, const at::Tensor& theta, const at::Tensor& phi, int64_t sh_degree,
                        bool use_inverse, bool relu) {
    TORCH_CHECK(sh_coeffs.dim() == 2 && sh_coeffs.size(1) == ops::sh::num_coeffs(sh_degree),
                "local_points: sh_coeffs must be [P, ", ops::sh::num_coeffs(sh_degree), "], got ", sh_coeffs.sizes());
    auto Y = ops::sh::basis(theta, phi, sh_degree);
    auto r = (sh_coeffs * Y).sum(-1);
    if (relu) r = at::relu(r);
    auto q = r.unsqueeze(-1) * directions(theta, phi);
    if (!use_inverse) return q;
    // Anchored inversion (spec §5.1): C = (0,0,−ρ), q' = C + 4ρ²·v/‖v‖², v = q − C.
    auto rho = (sh_coeffs.select(1, 0) * ops::sh::weight(0, 0)).clamp_min(kMinInversionRho).unsqueeze(-1);
    auto zeros = at::zeros_like(rho);
    auto center = at::cat({zeros, zeros, -rho}, -1);
    auto v = q - center;
    auto d2 = (v * v).sum(-1, true).clamp_min(std::numeric_limits<float>::min());
    return center + (4.0 * rho * rho) * v / d2;
}

namespace {

/// FPS over one segment stored as SoA (xs, ys, zs; padded to a multiple of the SIMD width with
/// mind = −1 so padding is never chosen), writing k local indices to `o`. Each step is a
/// branch-free SIMD min-update + max-reduction (GCC vector extensions: SSE2 by default, AVX2 via a
/// target clone), then a scan for the first index holding the max — so the result is exactly
/// "argmax, first index on ties", identical to the scalar reference.
template <typename scalar_t>
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void fps_one(const scalar_t* __restrict xs, const scalar_t* __restrict ys, const scalar_t* __restrict zs,
             scalar_t* __restrict mind, int64_t n, int64_t n_padded, int64_t k, int64_t* __restrict o) {
    constexpr int W = 32 / sizeof(scalar_t);
    typedef scalar_t vec __attribute__((vector_size(32)));
    typedef std::conditional_t<sizeof(scalar_t) == 4, int32_t, int64_t> index_t;
    typedef index_t ivec __attribute__((vector_size(32)));
    for (int64_t j = 0; j < n; ++j) mind[j] = std::numeric_limits<scalar_t>::infinity();
    for (int64_t j = n; j < n_padded; ++j) mind[j] = scalar_t(-1);
    int64_t cur = 0;
    o[0] = 0;
    for (int64_t t = 1; t < k; ++t) {
        vec cx, cy, cz, bv;
        ivec bi, jv;
        for (int l = 0; l < W; ++l) {
            cx[l] = xs[cur];
            cy[l] = ys[cur];
            cz[l] = zs[cur];
            bv[l] = scalar_t(-1);
            bi[l] = 0;
            jv[l] = 0;
        }
        // Per lane: the running max and the first block where it occurs (strict >).
        for (int64_t j = 0; j < n_padded; j += W) {
            vec x, y, z, m;
            std::memcpy(&x, xs + j, sizeof(vec));
            std::memcpy(&y, ys + j, sizeof(vec));
            std::memcpy(&z, zs + j, sizeof(vec));
            std::memcpy(&m, mind + j, sizeof(vec));
            m = ops::sampling::fps_min(ops::sampling::fps_sq_dist(x, y, z, cx, cy, cz), m);
            std::memcpy(mind + j, &m, sizeof(vec));
            const auto gt = m > bv;
            bv = gt ? m : bv;
            bi = gt ? jv : bi;
            jv += index_t(W);
        }
        // First index holding the overall max: smallest (block + lane) among lanes at the max.
        int64_t arg = n_padded;
        scalar_t arg_d = scalar_t(-1);
        for (int l = 0; l < W; ++l)
            if (ops::sampling::fps_better(bv[l], int64_t(bi[l]) + l, arg_d, arg)) {
                arg_d = bv[l];
                arg = int64_t(bi[l]) + l;
            }
        cur = arg < n ? arg : 0;
        o[t] = cur;
    }
}

template <typename scalar_t>
void fps_segments(const scalar_t* pts, const int64_t* offsets, const int64_t* keep, const int64_t* out_offsets, int64_t* out,
                  int64_t num_segments) {
    at::parallel_for(0, num_segments, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> xs, ys, zs, mind;
        for (int64_t a = begin; a < end; ++a) {
            const int64_t start = offsets[a], n = offsets[a + 1] - start, k = keep[a];
            if (k <= 0 || n <= 0) continue;
            const int64_t W = 32 / sizeof(scalar_t), n_padded = (n + W - 1) / W * W;
            xs.assign(n_padded, scalar_t(0));
            ys.assign(n_padded, scalar_t(0));
            zs.assign(n_padded, scalar_t(0));
            mind.resize(n_padded);
            for (int64_t j = 0; j < n; ++j) {
                xs[j] = pts[3 * (start + j)];
                ys[j] = pts[3 * (start + j) + 1];
                zs[j] = pts[3 * (start + j) + 2];
            }
            int64_t* o = out + out_offsets[a];
            fps_one<scalar_t>(xs.data(), ys.data(), zs.data(), mind.data(), n, n_padded, std::min(k, n), o);
            for (int64_t t = 0; t < std::min(k, n); ++t) o[t] += start;
        }
    });
}

void check_fps_args(const at::Tensor& points, const at::Tensor& offsets, const at::Tensor& keep) {
    TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "fps_packed: points must be [P, 3], got ", points.sizes());
    TORCH_CHECK(offsets.dim() == 1 && keep.dim() == 1 && offsets.size(0) == keep.size(0) + 1,
                "fps_packed: offsets must be [A+1] and keep [A], got ", offsets.sizes(), " and ", keep.sizes());
}

}  // namespace

InMask in_mask(const at::Tensor& boundary_thetas, const at::Tensor& theta_hat, const at::Tensor& dir_thetas) {
    TORCH_CHECK(boundary_thetas.dim() == 2 && theta_hat.dim() == 2 && dir_thetas.dim() == 1 &&
                    boundary_thetas.size(0) == theta_hat.size(0) && theta_hat.size(1) == dir_thetas.size(0),
                "in_mask: boundary_thetas [A, B], theta_hat [A, N] and dir_thetas [N] expected, got ", boundary_thetas.sizes(),
                ", ", theta_hat.sizes(), " and ", dir_thetas.sizes());
    at::NoGradGuard no_grad;
    auto tmax = boundary_thetas.detach().amax(1, true);               // [A, 1]
    auto ti = dir_thetas.detach().unsqueeze(0);                       // [1, N]
    auto keep = (ti <= tmax).logical_and_(ti <= theta_hat.detach());  // [A, N]
    auto nz = keep.nonzero();                                         // row-major: anchor, then i
    // Copies, not views of nz: the outputs never alias (an operator's schema promises it).
    return {nz.select(1, 0).clone(at::MemoryFormat::Contiguous), nz.select(1, 1).clone(at::MemoryFormat::Contiguous),
            keep.sum(1)};
}

at::Tensor fps(const at::Tensor& points, int64_t keep) {
    auto lopts = at::TensorOptions().dtype(at::kLong).device(points.device());
    const int64_t n = points.size(0);
    return fps_packed(points, at::tensor({int64_t(0), n}, lopts), at::tensor({std::min(keep, n)}, lopts));
}

at::Tensor fps_packed(const at::Tensor& points, const at::Tensor& offsets, const at::Tensor& keep) {
    check_fps_args(points, offsets, keep);
    const bool cuda = points.is_cuda();
    if (!points.device().is_cpu() && !(cuda && kHaveCudaKernels)) return fps_packed_ref(points, offsets, keep);
    auto pts = points.detach().contiguous();
    auto off = offsets.to(points.device(), at::kLong).contiguous();
    auto kp = keep.to(points.device(), at::kLong).contiguous();
    const int64_t A = kp.size(0);
    auto out_off = at::zeros({A + 1}, off.options());
    if (A > 0)
        out_off.narrow(0, 1, A).copy_(at::cumsum(at::minimum(kp, off.narrow(0, 1, A) - off.narrow(0, 0, A)).clamp_min(0), 0));
    const int64_t total = out_off[A].item<int64_t>();  // the one host sync: the output size
    auto out = at::empty({total}, off.options());
#ifdef MASH_WITH_CUDA
    if (cuda) {
        const c10::cuda::CUDAGuard guard(points.device());
        auto scratch = at::empty({pts.size(0)}, pts.options());
        AT_DISPATCH_FLOATING_TYPES(pts.scalar_type(), "fps_packed_cuda", [&] {
            ops::sampling::fps_segments_cuda<scalar_t>(
                pts.data_ptr<scalar_t>(), off.data_ptr<int64_t>(), kp.data_ptr<int64_t>(), out_off.data_ptr<int64_t>(),
                out.data_ptr<int64_t>(), scratch.data_ptr<scalar_t>(), A, c10::cuda::getCurrentCUDAStream().stream());
        });
        return out;
    }
#endif
    AT_DISPATCH_FLOATING_TYPES(pts.scalar_type(), "fps_packed", [&] {
        fps_segments<scalar_t>(pts.data_ptr<scalar_t>(), off.data_ptr<int64_t>(), kp.data_ptr<int64_t>(),
                               out_off.data_ptr<int64_t>(), out.data_ptr<int64_t>(), A);
    });
    return out;
}

at::Tensor fps_packed_ref(const at::Tensor& points, const at::Tensor& offsets, const at::Tensor& keep) {
    check_fps_args(points, offsets, keep);
    at::NoGradGuard no_grad;
    auto pts = points.detach();
    auto lopts = offsets.options().dtype(at::kLong);
    auto off = offsets.to(at::kLong);
    auto kp = keep.to(at::kLong);
    const int64_t A = kp.size(0);
    if (A == 0) return at::empty({0}, lopts);
    auto counts = off.narrow(0, 1, A) - off.narrow(0, 0, A);
    const int64_t nmax = counts.max().item<int64_t>();
    const int64_t kmax = kp.max().item<int64_t>();
    if (nmax == 0 || kmax == 0) return at::empty({0}, lopts);
    auto seg = at::repeat_interleave(at::arange(A, lopts), counts);
    auto pos = at::arange(pts.size(0), lopts) - off.index_select(0, seg);
    auto padded = at::zeros({A, nmax, 3}, pts.options());
    padded.index_put_({seg, pos}, pts);
    auto valid = at::zeros({A, nmax}, pts.options().dtype(at::kBool));
    valid.index_put_({seg, pos}, at::ones_like(seg, valid.options()));
    auto mind = at::full({A, nmax}, std::numeric_limits<double>::infinity(), pts.options());
    auto cur = at::zeros({A}, lopts);
    auto rows = at::arange(A, lopts);
    std::vector<at::Tensor> sel;
    for (int64_t t = 0; t < kmax; ++t) {
        sel.push_back(cur);
        auto c = padded.index({rows, cur}).unsqueeze(1);  // [A,1,3]
        auto d = (padded - c).pow(2).sum(-1);
        mind = at::minimum(mind, d);
        mind = at::where(valid, mind, at::full_like(mind, -1.0));
        cur = mind.argmax(1);
    }
    auto sel_t = at::stack(sel, 1);  // [A, kmax]
    auto take = at::arange(kmax, lopts).unsqueeze(0) < kp.unsqueeze(1);
    auto global = sel_t + off.narrow(0, 0, A).unsqueeze(1);
    return global.masked_select(take);
}

}  // namespace mash::ops::sampling

// Torch operators (none differentiable: they return indices):
//   mash.fps(points [N, 3], keep) -> int64 [min(keep, N)]: farthest point sampling from point 0;
//   mash.fps_packed(points [P, 3], offsets [A+1], keep [A]) -> int64 [Σ min(keep_a, n_a)];
//   mash.in_mask(boundary_thetas, theta_hat, dir_thetas) -> (anchor_idx, dir_idx, counts).
// fps_packed and in_mask have data-dependent output sizes: their fake kernels are registered in
// Python (python/mash/_ops.py), where torch.compile's unbacked sizes can be made.
namespace {
at::Tensor fps_meta(const at::Tensor& points, int64_t keep) {
    return at::empty({std::min(keep, points.size(0))}, points.options().dtype(at::kLong));
}
std::tuple<at::Tensor, at::Tensor, at::Tensor> in_mask_op(const at::Tensor& boundary_thetas, const at::Tensor& theta_hat,
                                                          const at::Tensor& dir_thetas) {
    auto r = mash::ops::sampling::in_mask(boundary_thetas, theta_hat, dir_thetas);
    return {r.anchor_idx, r.dir_idx, r.counts};
}
}  // namespace
TORCH_LIBRARY_FRAGMENT(mash, m) {
    m.def("fps(Tensor points, int keep) -> Tensor");
    m.def("fps_packed(Tensor points, Tensor offsets, Tensor keep) -> Tensor");
    m.def("in_mask(Tensor boundary_thetas, Tensor theta_hat, Tensor dir_thetas) -> (Tensor, Tensor, Tensor)");
}
TORCH_LIBRARY_IMPL(mash, CPU, m) {
    m.impl("fps", &mash::ops::sampling::fps);
    m.impl("fps_packed", &mash::ops::sampling::fps_packed);
    m.impl("in_mask", &in_mask_op);
}
#ifdef MASH_WITH_CUDA
TORCH_LIBRARY_IMPL(mash, CUDA, m) {
    m.impl("fps", &mash::ops::sampling::fps);
    m.impl("fps_packed", &mash::ops::sampling::fps_packed);
    m.impl("in_mask", &in_mask_op);
}
#endif
TORCH_LIBRARY_IMPL(mash, Meta, m) { m.impl("fps", &fps_meta); }
