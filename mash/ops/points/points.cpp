// SPDX-License-Identifier: MIT
#include "mash/ops/points/points.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <vector>

#include "mash/core/errors.h"
#include "mash/ops/points/points_math.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/ops/sh/sh.h"

#ifdef MASH_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "mash/ops/points/points_cuda.h"
#endif

namespace mash::ops::points {
namespace {

using ops::points::PointsFlags;
using ops::points::ShTermT;

template <typename T>
ops::points::PointsTermTable<T> make_terms(int64_t L) {
    ops::points::PointsTermTable<T> tab{};
    const auto terms = ops::sh::terms(L);
    TORCH_CHECK(int64_t(terms.size()) <= kPointsMaxCoeffs, "world_points: SH degree ", L, " above ", kPointsMaxDegree);
    for (size_t k = 0; k < terms.size(); ++k) {
        ShTermT<T>& u = tab.t[k];
        u.m = terms[k].m;
        u.am = std::abs(terms[k].m);
        u.w = T(terms[k].w);
        for (int j = 0; j <= kPointsMaxDegree; ++j) u.c[j] = T(terms[k].c[j]);
    }
    return tab;
}

template <typename T>
PointsFlags<T> make_flags(int64_t L, bool inv, bool relu) {
    return PointsFlags<T>{int(L), inv, relu, T(ops::sh::weight(0, 0)), T(ops::sampling::kMinInversionRho)};
}

template <typename T>
void forward_kernel(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                    const at::Tensor& theta, const at::Tensor& phi, const PointsFlags<T>& f, at::Tensor& out) {
    const int64_t P = aidx.size(0), K = sh.size(1);
    const auto tab = make_terms<T>(f.L);
    const T* shp = sh.data_ptr<T>();
    const T* Rp = R.data_ptr<T>();
    const T* pp = pos.data_ptr<T>();
    const int64_t* ap = aidx.data_ptr<int64_t>();
    const T* thp = theta.data_ptr<T>();
    const T* php = phi.data_ptr<T>();
    T* op = out.data_ptr<T>();
    at::parallel_for(0, P, 4096, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            const int64_t a = ap[i];
            ops::points::pm_forward<T>(shp + a * K, Rp + 9 * a, pp + 3 * a, thp[i], php[i], tab.t, int(K), f, op + 3 * i);
        }
    });
}

template <typename T>
void backward_kernel(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& aidx, const at::Tensor& theta,
                     const at::Tensor& phi, const at::Tensor& grad, const PointsFlags<T>& f, at::Tensor& acc,
                     at::Tensor& g_theta) {
    const int64_t P = aidx.size(0), K = sh.size(1);
    const auto tab = make_terms<T>(f.L);
    const T* shp = sh.data_ptr<T>();
    const T* Rp = R.data_ptr<T>();
    const int64_t* ap = aidx.data_ptr<int64_t>();
    const T* thp = theta.data_ptr<T>();
    const T* php = phi.data_ptr<T>();
    const T* gp = grad.data_ptr<T>();
    // acc [threads, A, K + 9 + 3]: per-thread sums over points (no atomics, no index_add).
    const int64_t A = acc.size(1), S = acc.size(2);
    T* accp = acc.data_ptr<T>();
    T* gth = g_theta.data_ptr<T>();
    at::parallel_for(0, P, 4096, [&](int64_t b, int64_t e) {
        T* mine = accp + int64_t(at::get_thread_num()) * A * S;
        for (int64_t i = b; i < e; ++i) {
            const int64_t a = ap[i];
            T* gc = mine + a * S;  // [K] SH grads, then [9] R grads, then [3] position grads
            gth[i] = ops::points::pm_backward<T>(shp + a * K, Rp + 9 * a, thp[i], php[i], gp + 3 * i, tab.t, int(K), f, gc,
                                                 gc + K, gc + K + 9);
        }
    });
}

void check_args(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx, const at::Tensor& theta,
                const at::Tensor& phi, int64_t L) {
    const int64_t A = sh.size(0);
    TORCH_CHECK(sh.dim() == 2 && sh.size(1) == (L + 1) * (L + 1), "world_points: sh must be [A, ", (L + 1) * (L + 1), "], got ",
                sh.sizes());
    TORCH_CHECK(R.dim() == 3 && R.size(0) == A && R.size(1) == 3 && R.size(2) == 3, "world_points: R must be [A, 3, 3], got ",
                R.sizes());
    TORCH_CHECK(pos.dim() == 2 && pos.size(0) == A && pos.size(1) == 3, "world_points: positions must be [A, 3], got ",
                pos.sizes());
    // sym_sizes: under torch.compile P may be a symbolic (data-dependent) size.
    TORCH_CHECK(aidx.dim() == 1 && theta.sym_sizes() == aidx.sym_sizes() && phi.sym_sizes() == aidx.sym_sizes(),
                "world_points: anchor_idx, theta, phi must be [P], got ", aidx.sym_sizes(), theta.sym_sizes(), phi.sym_sizes());
    for (const at::Tensor* t : {&R, &pos, &aidx, &theta, &phi})
        if (t->device() != sh.device())
            throw InputError("world_points: all inputs must be on one device (sh is on " + sh.device().str() + ", " +
                             (t == &R       ? "R"
                              : t == &pos   ? "positions"
                              : t == &aidx  ? "anchor_idx"
                              : t == &theta ? "theta"
                                            : "phi") +
                             " on " + t->device().str() + ")");
    TORCH_CHECK(
        R.scalar_type() == sh.scalar_type() && pos.scalar_type() == sh.scalar_type() && theta.scalar_type() == sh.scalar_type(),
        "world_points: sh, R, positions and theta must share a dtype");
}

// The two kernels behind the dispatcher ops mash::world_points_forward / _backward (CPU and CUDA),
// and their shape-only (Meta) twins for tracing (torch.compile).
at::Tensor wp_forward(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                      const at::Tensor& theta, const at::Tensor& phi, int64_t L, bool inv, bool relu) {
    auto shc = sh.contiguous(), Rc = R.contiguous(), pc = pos.contiguous();
    auto ac = aidx.to(at::kLong).contiguous(), tc = theta.contiguous(), phc = phi.to(sh.scalar_type()).contiguous();
    auto out = at::empty({ac.size(0), 3}, sh.options());
    AT_DISPATCH_FLOATING_TYPES(shc.scalar_type(), "world_points", [&] {
        const auto f = make_flags<scalar_t>(L, inv, relu);
#ifdef MASH_WITH_CUDA
        if (shc.is_cuda()) {
            const c10::cuda::CUDAGuard guard(shc.device());
            ops::points::world_points_forward_cuda<scalar_t>(
                shc.data_ptr<scalar_t>(), Rc.data_ptr<scalar_t>(), pc.data_ptr<scalar_t>(), ac.data_ptr<int64_t>(),
                tc.data_ptr<scalar_t>(), phc.data_ptr<scalar_t>(), ac.size(0), int(shc.size(1)), make_terms<scalar_t>(L), f,
                out.data_ptr<scalar_t>(), c10::cuda::getCurrentCUDAStream().stream());
            return;
        }
#endif
        forward_kernel<scalar_t>(shc, Rc, pc, ac, tc, phc, f, out);
    });
    return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> wp_backward(const at::Tensor& grad, const at::Tensor& sh_in,
                                                                       const at::Tensor& R_in, const at::Tensor& aidx_in,
                                                                       const at::Tensor& theta_in, const at::Tensor& phi_in,
                                                                       int64_t A, int64_t L, bool inv, bool relu) {
    auto sh = sh_in.contiguous(), R = R_in.contiguous(), aidx = aidx_in.to(at::kLong).contiguous(), theta = theta_in.contiguous();
    auto phi = phi_in.to(sh.scalar_type()).contiguous();
    const int64_t P = aidx.size(0), K = sh.size(1);
    auto g = grad.contiguous().to(sh.scalar_type());
    auto g_theta = at::empty({P}, sh.options());
    at::Tensor total;  // [A, K + 12]
    AT_DISPATCH_FLOATING_TYPES(sh.scalar_type(), "world_points_backward", [&] {
        const auto f = make_flags<scalar_t>(L, inv, relu);
#ifdef MASH_WITH_CUDA
        if (sh.is_cuda()) {  // per-sample rows, summed per anchor without atomics
            const c10::cuda::CUDAGuard guard(sh.device());
            auto contrib = at::empty({P, K + 12}, sh.options());
            ops::points::world_points_backward_cuda<scalar_t>(
                sh.data_ptr<scalar_t>(), R.data_ptr<scalar_t>(), aidx.data_ptr<int64_t>(), theta.data_ptr<scalar_t>(),
                phi.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), P, int(K), make_terms<scalar_t>(L), f,
                contrib.data_ptr<scalar_t>(), g_theta.data_ptr<scalar_t>(), c10::cuda::getCurrentCUDAStream().stream());
            total = segment_sum_rows(contrib, aidx, A);
            return;
        }
#endif
        auto acc = at::zeros({at::get_num_threads(), A, K + 12}, sh.options());
        backward_kernel<scalar_t>(sh, R, aidx, theta, phi, g, f, acc, g_theta);
        total = acc.sum(0);
    });
    return {total.narrow(1, 0, K).contiguous(), total.narrow(1, K, 9).contiguous().view({A, 3, 3}),
            total.narrow(1, K + 9, 3).contiguous(), g_theta};
}

at::Tensor wp_forward_meta(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                           const at::Tensor& theta, const at::Tensor& phi, int64_t L, bool inv, bool relu) {
    return at::empty_symint({aidx.sym_size(0), 3}, sh.options());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> wp_backward_meta(const at::Tensor& grad, const at::Tensor& sh,
                                                                            const at::Tensor& R, const at::Tensor& aidx,
                                                                            const at::Tensor& theta, const at::Tensor& phi,
                                                                            int64_t A, int64_t L, bool inv, bool relu) {
    return {at::empty({A, sh.size(1)}, sh.options()), at::empty({A, 3, 3}, sh.options()), at::empty({A, 3}, sh.options()),
            at::empty_symint({aidx.sym_size(0)}, sh.options())};
}

at::Tensor call_forward(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                        const at::Tensor& theta, const at::Tensor& phi, int64_t L, bool inv, bool relu) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("mash::world_points_forward", "")
                         .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const at::Tensor&, const at::Tensor&, int64_t, bool, bool)>();
    return op.call(sh, R, pos, aidx, theta, phi, L, inv, relu);
}

// The backward of mash::world_points: the fused kernels through the dispatcher (so that tracing
// sees the ops), shared by the C++ library and Python.
class WorldPointsFunction : public torch::autograd::Function<WorldPointsFunction> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& sh, const at::Tensor& R,
                              const at::Tensor& pos, const at::Tensor& aidx, const at::Tensor& theta, const at::Tensor& phi,
                              int64_t L, bool inv, bool relu) {
        auto shc = sh.contiguous(), Rc = R.contiguous(), pc = pos.contiguous();
        auto ac = aidx.to(at::kLong).contiguous(), tc = theta.contiguous(), phc = phi.to(sh.scalar_type()).contiguous();
        at::Tensor out = call_forward(shc, Rc, pc, ac, tc, phc, L, inv, relu);
        ctx->save_for_backward({shc, Rc, ac, tc, phc});
        ctx->saved_data["L"] = L;
        ctx->saved_data["inv"] = inv;
        ctx->saved_data["relu"] = relu;
        ctx->saved_data["A"] = pos.size(0);
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        static auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("mash::world_points_backward", "")
                             .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
                                 const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                 const at::Tensor&, int64_t, int64_t, bool, bool)>();
        auto saved = ctx->get_saved_variables();
        auto [g_sh, g_R, g_pos, g_theta] =
            op.call(grad_out[0], saved[0], saved[1], saved[2], saved[3], saved[4], ctx->saved_data["A"].toInt(),
                    ctx->saved_data["L"].toInt(), ctx->saved_data["inv"].toBool(), ctx->saved_data["relu"].toBool());
        return {g_sh, g_R, g_pos, at::Tensor(), g_theta, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

at::Tensor wp_autograd(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                       const at::Tensor& theta, const at::Tensor& phi, int64_t L, bool inv, bool relu) {
    check_args(sh, R, pos, aidx, theta, phi, L);
    return WorldPointsFunction::apply(sh, R, pos, aidx, theta, phi, L, inv, relu);
}

at::Tensor wp_no_autograd(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                          const at::Tensor& theta, const at::Tensor& phi, int64_t L, bool inv, bool relu) {
    check_args(sh, R, pos, aidx, theta, phi, L);
    return call_forward(sh, R, pos, aidx, theta, phi, L, inv, relu);
}

class GatherUniqueFunction : public torch::autograd::Function<GatherUniqueFunction> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& idx) {
        ctx->save_for_backward({idx});
        ctx->saved_data["n"] = x.sym_size(0);  // symbolic under torch.compile
        return x.index_select(0, idx);
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        auto idx = ctx->get_saved_variables()[0];
        auto g = grad_out[0];
        auto sizes = g.sym_sizes().vec();
        sizes[0] = ctx->saved_data["n"].toSymInt();
        auto out = at::zeros_symint(sizes, g.options());
        // A plain parallel scatter. A repeated index (FPS repeats one when a segment's points
        // coincide, the rays of a collapsed anchor) keeps one row's gradient, not their sum.
        out.index_put_({idx}, g);
        return {out, at::Tensor()};
    }
};

}  // namespace

at::Tensor world_points(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& positions, const at::Tensor& anchor_idx,
                        const at::Tensor& theta, const at::Tensor& phi, int64_t sh_degree, bool use_inverse, bool relu) {
    // Both paths check the arguments: the operator at its entry, world_points_ref itself.
#ifdef MASH_WITH_CUDA
    const bool fused = sh.device().is_cpu() || sh.is_cuda();
#else
    const bool fused = sh.device().is_cpu();
#endif
    if (!fused) return world_points_ref(sh, R, positions, anchor_idx, theta, phi, sh_degree, use_inverse, relu);
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("mash::world_points", "")
                         .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                           const at::Tensor&, const at::Tensor&, int64_t, bool, bool)>();
    return op.call(sh, R, positions, anchor_idx, theta, phi, sh_degree, use_inverse, relu);
}

at::Tensor segment_sum_rows(const at::Tensor& rows, const at::Tensor& idx, int64_t n) {
    TORCH_CHECK(idx.dim() == 1 && rows.dim() >= 1 && rows.size(0) == idx.size(0),
                "segment_sum_rows: rows [P, ...] and idx [P] expected, got ", rows.sizes(), " and ", idx.sizes());
    auto sorted = idx.to(at::kLong).sort(/*stable=*/true, 0, false);
    at::Tensor key = std::get<0>(sorted), perm = std::get<1>(sorted);
    at::Tensor lengths = at::bincount(key, {}, n);
    TORCH_CHECK(lengths.size(0) == n, "segment_sum_rows: an index is >= ", n);
    return at::segment_reduce(rows.index_select(0, perm), "sum", lengths, {}, {}, 0, false, at::Scalar(0));
}

namespace {
at::Tensor gather_no_autograd(const at::Tensor& x, const at::Tensor& idx) {
    TORCH_CHECK(idx.dim() == 1, "gather_unique: idx must be [n], got ", idx.sizes());
    return x.index_select(0, idx.to(at::kLong));
}
}  // namespace

at::Tensor gather_unique(const at::Tensor& x, const at::Tensor& idx) {
    TORCH_CHECK(idx.dim() == 1, "gather_unique: idx must be [n], got ", idx.sizes());
    return GatherUniqueFunction::apply(x, idx.to(at::kLong));
}

at::Tensor world_points_ref(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& positions, const at::Tensor& anchor_idx,
                            const at::Tensor& theta, const at::Tensor& phi, int64_t sh_degree, bool use_inverse, bool relu) {
    check_args(sh, R, positions, anchor_idx, theta, phi, sh_degree);
    auto q = ops::sampling::local_points(sh.index_select(0, anchor_idx), theta, phi, sh_degree, use_inverse, relu);
    auto Rg = R.index_select(0, anchor_idx);
    return positions.index_select(0, anchor_idx) + (Rg * q.unsqueeze(-2)).sum(-1);
}

}  // namespace mash::ops::points

// The torch operators (torch.ops.mash.* in Python). world_points is differentiable in sh, R,
// positions and theta through WorldPointsFunction; its forward and backward are ops of their own
// with CPU, CUDA and Meta kernels.
TORCH_LIBRARY(mash, m) {
    m.def(
        "world_points(Tensor sh, Tensor R, Tensor positions, Tensor anchor_idx, Tensor theta, Tensor phi, int sh_degree, "
        "bool use_inverse, bool relu=True) -> Tensor");
    m.def(
        "world_points_forward(Tensor sh, Tensor R, Tensor positions, Tensor anchor_idx, Tensor theta, Tensor phi, "
        "int sh_degree, bool use_inverse, bool relu) -> Tensor");
    m.def(
        "world_points_backward(Tensor grad, Tensor sh, Tensor R, Tensor anchor_idx, Tensor theta, Tensor phi, "
        "int num_anchors, int sh_degree, bool use_inverse, bool relu) -> (Tensor, Tensor, Tensor, Tensor)");
    m.def("gather_unique(Tensor x, Tensor idx) -> Tensor");
}

TORCH_LIBRARY_IMPL(mash, CPU, m) {
    m.impl("world_points_forward", &mash::ops::points::wp_forward);
    m.impl("world_points_backward", &mash::ops::points::wp_backward);
}
#ifdef MASH_WITH_CUDA
TORCH_LIBRARY_IMPL(mash, CUDA, m) {
    m.impl("world_points_forward", &mash::ops::points::wp_forward);
    m.impl("world_points_backward", &mash::ops::points::wp_backward);
}
#endif
TORCH_LIBRARY_IMPL(mash, Meta, m) {
    m.impl("world_points_forward", &mash::ops::points::wp_forward_meta);
    m.impl("world_points_backward", &mash::ops::points::wp_backward_meta);
}
TORCH_LIBRARY_IMPL(mash, Autograd, m) {
    m.impl("world_points", &mash::ops::points::wp_autograd);
    m.impl("gather_unique", &mash::ops::points::gather_unique);
}
TORCH_LIBRARY_IMPL(mash, CompositeExplicitAutograd, m) {
    m.impl("world_points", &mash::ops::points::wp_no_autograd);
    m.impl("gather_unique", &mash::ops::points::gather_no_autograd);
}
