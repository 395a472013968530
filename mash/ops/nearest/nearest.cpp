// SPDX-License-Identifier: MIT
#include "mash/ops/nearest/nearest.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nanoflann.hpp>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "mash/core/kdtree.h"
#include "mash/ops/nearest/nn_math.h"

#ifdef MASH_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "mash/ops/nearest/nn_cuda.h"
#endif

namespace mash::ops::nearest {
namespace {

template <typename T>
using Cloud = PackedCloud<T>;
template <typename T>
using Tree = PackedKdTree<T>;

/// Result set keeping the single nearest point whose group differs from the query's.
template <typename T>
struct OtherGroupResult {
    const int64_t* group;
    int64_t own;
    T best = std::numeric_limits<T>::max();
    int64_t best_idx = -1;
    bool full() const { return best_idx >= 0; }
    T worstDist() const { return best; }
    bool addPoint(T dist, uint32_t idx) {
        if (group[idx] != own && (dist < best || (dist == best && int64_t(idx) < best_idx))) {
            best = dist;
            best_idx = idx;
        }
        return true;
    }
};

void check_points(const at::Tensor& p, const char* name) {
    TORCH_CHECK(p.dim() == 2 && p.size(1) == 3, "nearest: ", name, " must be [N, 3], got ", p.sizes());
    TORCH_CHECK(p.is_floating_point(), "nearest: ", name, " must be floating point, got ", p.scalar_type());
}

template <typename T>
void query_all(const Tree<T>& tree, const T* q, int64_t nq, int64_t* out) {
    at::parallel_for(0, nq, 2048, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = nearest_point(tree, q + 3 * i);
    });
}

/// Grid geometry over the box [lo, hi] for n reference points: about cbrt(n) cells along the
/// longest side (4 .. 256), cubic cells.
template <typename T>
ops::nearest::NnGrid<T> make_grid(const double lo[3], const double hi[3], int64_t n) {
    double ext = 0;
    for (int k = 0; k < 3; ++k) ext = std::max(ext, hi[k] - lo[k]);
    if (!(ext > 0)) ext = 1e-6;
    const int D = int(std::clamp(std::cbrt(double(std::max<int64_t>(n, 1))), 4.0, 256.0));
    const double h = ext / D * (1 + 1e-6);
    ops::nearest::NnGrid<T> g;
    for (int k = 0; k < 3; ++k) {
        g.lo[k] = T(lo[k]);
        g.dims[k] = int(std::clamp(std::ceil((hi[k] - lo[k]) / h), 1.0, 256.0));
    }
    g.h = T(h);
    g.inv_h = T(1.0 / h);
    return g;
}

/// The bounding box of p [N, 3] on the host (one synchronisation).
void bounding_box(const at::Tensor& p, double lo[3], double hi[3]) {
    auto q = p.detach().to(at::kDouble);
    auto mn = std::get<0>(q.min(0)).cpu(), mx = std::get<0>(q.max(0)).cpu();
    for (int k = 0; k < 3; ++k) {
        lo[k] = mn[k].item<double>();
        hi[k] = mx[k].item<double>();
    }
}

/// Reference points sorted by grid cell: sorted [R, 3], perm [R] (original index of each),
/// cell_start [cells + 1]. ATen only (any device, no host synchronisation).
struct GridIndex {
    at::Tensor sorted, perm, cell_start;
};

template <typename T>
GridIndex build_grid(const at::Tensor& ref, const ops::nearest::NnGrid<T>& g) {
    at::NoGradGuard ng;
    at::Tensor r = ref.detach().to(c10::CppTypeToScalarType<T>::value).contiguous();
    auto lo = at::tensor(std::vector<T>{g.lo[0], g.lo[1], g.lo[2]}, r.options().device(at::kCPU)).to(r.device());
    auto f = at::nan_to_num((r - lo) * g.inv_h, 0.0);  // the kernel's (v − lo)·inv_h, in T
    at::Tensor key = at::zeros({r.size(0)}, r.options().dtype(at::kLong));
    for (int k = 2; k >= 0; --k) key = key * g.dims[k] + f.select(1, k).floor().clamp(0, g.dims[k] - 1).to(at::kLong);
    auto [skey, perm] = at::sort(key, /*stable=*/true, 0, false);
    const int64_t cells = int64_t(g.dims[0]) * g.dims[1] * g.dims[2];
    GridIndex gi;
    gi.perm = perm.contiguous();
    gi.sorted = r.index_select(0, gi.perm).contiguous();
    gi.cell_start = at::searchsorted(skey.contiguous(), at::arange(cells + 1, skey.options())).contiguous();
    return gi;
}

template <typename T>
at::Tensor query_grid(const at::Tensor& queries, const GridIndex& gi, const ops::nearest::NnGrid<T>& g) {
    at::NoGradGuard ng;
    at::Tensor q = queries.detach().to(gi.sorted.device(), c10::CppTypeToScalarType<T>::value).contiguous();
    at::Tensor out = at::empty({q.size(0)}, q.options().dtype(at::kLong));
    const int64_t Q = q.size(0), R = gi.sorted.size(0);
    if (Q == 0) return out;
    const T* qp = q.data_ptr<T>();
    const T* sp = gi.sorted.data_ptr<T>();
    const int64_t* pp = gi.perm.data_ptr<int64_t>();
    const int64_t* cp = gi.cell_start.data_ptr<int64_t>();
    int64_t* op = out.data_ptr<int64_t>();
#ifdef MASH_WITH_CUDA
    if (q.is_cuda()) {
        const c10::cuda::CUDAGuard guard(q.device());
        ops::nearest::nearest_grid_cuda<T>(qp, Q, sp, pp, cp, R, g, op, c10::cuda::getCurrentCUDAStream().stream());
        return out;
    }
#endif
    TORCH_CHECK(q.device().is_cpu(), "nearest (grid): no kernel for device ", q.device());
    at::parallel_for(0, Q, 256, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i)
            op[i] = ops::nearest::nn_grid_query<T>(qp[3 * i], qp[3 * i + 1], qp[3 * i + 2], sp, pp, cp, R, g);
    });
    return out;
}

}  // namespace

at::Tensor nearest_on_device(const at::Tensor& queries, const at::Tensor& ref);  // below

struct KdTree::Impl {
    at::Tensor points;  // contiguous copy (its device)
    std::variant<std::monostate, Cloud<float>, Cloud<double>> cloud;
    std::unique_ptr<Tree<float>> tf;
    std::unique_ptr<Tree<double>> td;
    // CUDA: the grid over the points' bounding box (in the points' dtype), the points sorted into it.
    std::variant<std::monostate, ops::nearest::NnGrid<float>, ops::nearest::NnGrid<double>> grid;
    GridIndex own;
    bool has_grid() const { return !std::holds_alternative<std::monostate>(grid); }
    /// `ref` sorted into this grid; the nearest point of an index for each query.
    GridIndex rebin(const at::Tensor& ref) const {
        return std::visit(
            [&](const auto& g) -> GridIndex {
                if constexpr (std::is_same_v<std::decay_t<decltype(g)>, std::monostate>)
                    throw std::logic_error("KdTree: no grid");
                else
                    return build_grid(ref, g);
            },
            grid);
    }
    at::Tensor query(const at::Tensor& queries, const GridIndex& index) const {
        return std::visit(
            [&](const auto& g) -> at::Tensor {
                if constexpr (std::is_same_v<std::decay_t<decltype(g)>, std::monostate>)
                    throw std::logic_error("KdTree: no grid");
                else
                    return query_grid(queries, index, g);
            },
            grid);
    }
};

KdTree::KdTree(const at::Tensor& points) : impl_(std::make_unique<Impl>()) {
    check_points(points, "points");
    TORCH_CHECK(points.size(0) > 0, "KdTree: empty point set");
    impl_->points = points.detach().contiguous();
#ifdef MASH_WITH_CUDA
    if (impl_->points.is_cuda()) {  // the exact grid search (one host synchronisation, here)
        if (impl_->points.scalar_type() != at::kDouble) impl_->points = impl_->points.to(at::kFloat);
        double lo[3], hi[3];
        bounding_box(impl_->points, lo, hi);
        if (impl_->points.scalar_type() == at::kDouble)
            impl_->grid = make_grid<double>(lo, hi, impl_->points.size(0));
        else
            impl_->grid = make_grid<float>(lo, hi, impl_->points.size(0));
        impl_->own = impl_->rebin(impl_->points);
        return;
    }
#endif
    if (!impl_->points.device().is_cpu()) return;  // brute force on other devices
    const nanoflann::KDTreeSingleIndexAdaptorParams params(16);
    if (impl_->points.scalar_type() == at::kDouble) {
        auto& c = impl_->cloud.emplace<Cloud<double>>();
        c.pts = impl_->points.data_ptr<double>();
        c.n = size_t(impl_->points.size(0));
        impl_->td = std::make_unique<Tree<double>>(3, c, params);
    } else {
        impl_->points = impl_->points.to(at::kFloat);
        auto& c = impl_->cloud.emplace<Cloud<float>>();
        c.pts = impl_->points.data_ptr<float>();
        c.n = size_t(impl_->points.size(0));
        impl_->tf = std::make_unique<Tree<float>>(3, c, params);
    }
}

KdTree::~KdTree() = default;

int64_t KdTree::size() const { return impl_->points.size(0); }

at::Tensor KdTree::nearest(const at::Tensor& queries) const {
    check_points(queries, "queries");
    // Queries on another device than the tree are moved to it; results come back on theirs.
    const at::Tensor q = queries.device() == impl_->points.device() ? queries : queries.detach().to(impl_->points.device());
    if (impl_->has_grid()) return impl_->query(q, impl_->own).to(queries.device());
    if (!impl_->points.device().is_cpu()) return nearest_on_device(q, impl_->points).to(queries.device());
    auto out = at::empty({queries.size(0)}, at::TensorOptions().dtype(at::kLong));
    if (impl_->td) {
        auto q = queries.detach().to(at::kCPU, at::kDouble).contiguous();
        query_all<double>(*impl_->td, q.data_ptr<double>(), q.size(0), out.data_ptr<int64_t>());
    } else {
        auto q = queries.detach().to(at::kCPU, at::kFloat).contiguous();
        query_all<float>(*impl_->tf, q.data_ptr<float>(), q.size(0), out.data_ptr<int64_t>());
    }
    return out.to(queries.device());
}

at::Tensor KdTree::nearest_in(const at::Tensor& others) const {
    check_points(others, "others");
    TORCH_CHECK(others.size(0) > 0, "KdTree::nearest_in: empty point set");
    if (impl_->has_grid()) return impl_->query(impl_->points, impl_->rebin(others));
    return nearest_indices(impl_->points.to(others.scalar_type()), others);
}

at::Tensor nearest_indices_grid(const at::Tensor& queries, const at::Tensor& ref, const at::Tensor& box) {
    check_points(queries, "queries");
    check_points(ref, "ref");
    TORCH_CHECK(ref.size(0) > 0, "nearest_indices_grid: empty reference set");
    double lo[3], hi[3];
    bounding_box(box.defined() ? box : ref, lo, hi);
    if (ref.scalar_type() == at::kDouble) {
        const auto g = make_grid<double>(lo, hi, ref.size(0));
        return query_grid<double>(queries, build_grid<double>(ref, g), g);
    }
    const auto g = make_grid<float>(lo, hi, ref.size(0));
    return query_grid<float>(queries, build_grid<float>(ref, g), g);
}

at::Tensor nearest_indices(const at::Tensor& queries, const at::Tensor& ref) {
    if (!ref.device().is_cpu())
        return nearest_on_device(queries.device() == ref.device() ? queries : queries.detach().to(ref.device()), ref)
            .to(queries.device());
    return KdTree(ref).nearest(queries);
}

at::Tensor nearest_other_group(const at::Tensor& points, const at::Tensor& group) {
    check_points(points, "points");
    TORCH_CHECK(group.dim() == 1 && group.size(0) == points.size(0),
                "nearest_other_group: group must be [P] matching points, got ", group.sizes());
#ifdef MASH_WITH_CUDA
    if (points.is_cuda()) return nearest_other_group_brute(points, group);
#endif
    if (!points.device().is_cpu()) return nearest_other_group_ref(points, group);
    const int64_t P = points.size(0);
    auto out = at::full({P}, -1, at::TensorOptions().dtype(at::kLong));
    if (P == 0) return out;
    auto g = group.to(at::kLong).contiguous();
    auto run = [&](auto tag) {
        using T = decltype(tag);
        auto pts = points.detach().to(at::kCPU, c10::CppTypeToScalarType<T>::value).contiguous();
        Cloud<T> cloud{pts.template data_ptr<T>(), size_t(P)};
        Tree<T> tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16));
        const T* q = pts.template data_ptr<T>();
        const int64_t* gp = g.data_ptr<int64_t>();
        int64_t* o = out.data_ptr<int64_t>();
        at::parallel_for(0, P, 1024, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                OtherGroupResult<T> rs{gp, gp[i]};
                tree.findNeighbors(rs, q + 3 * i, nanoflann::SearchParams(32, 0.0f, false));
                o[i] = rs.best_idx;
            }
        });
    };
    if (points.scalar_type() == at::kDouble)
        run(double());
    else
        run(float());
    return out;
}

namespace {
/// The CPU twin of the CUDA kernel: brute force with nn_math.h, parallel over queries.
template <typename T>
void brute_cpu(const T* q, int64_t Q, const T* r, int64_t R, const int64_t* group, int64_t* out) {
    at::parallel_for(0, Q, 256, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            const T x = q[3 * i], y = q[3 * i + 1], z = q[3 * i + 2];
            T bd = T(0);
            int64_t bj = -1;
            for (int64_t j = 0; j < R; ++j) {
                if (group && group[j] == group[i]) continue;
                const T d = ops::nearest::nn_sq_dist(x, y, z, r[3 * j], r[3 * j + 1], r[3 * j + 2]);
                if (ops::nearest::nn_better(d, j, bd, bj)) {
                    bd = d;
                    bj = j;
                }
            }
            out[i] = bj;
        }
    });
}

at::Tensor brute(const at::Tensor& queries, const at::Tensor& ref, const at::Tensor& group) {
    at::NoGradGuard ng;
    const bool dbl = queries.scalar_type() == at::kDouble;
    auto q = queries.detach().to(dbl ? at::kDouble : at::kFloat).contiguous();
    auto r = group.defined() ? q : ref.detach().to(q.device(), q.scalar_type()).contiguous();
    auto g = group.defined() ? group.to(q.device(), at::kLong).contiguous() : at::Tensor();
    auto out = at::empty({q.size(0)}, q.options().dtype(at::kLong));
    if (q.size(0) == 0) return out;
#ifdef MASH_WITH_CUDA
    if (q.is_cuda()) {
        const c10::cuda::CUDAGuard guard(q.device());
        auto stream = c10::cuda::getCurrentCUDAStream().stream();
        AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "nearest_cuda", [&] {
            if (g.defined())
                ops::nearest::nearest_other_group_cuda<scalar_t>(q.data_ptr<scalar_t>(), g.data_ptr<int64_t>(), q.size(0),
                                                                 out.data_ptr<int64_t>(), stream);
            else
                ops::nearest::nearest_cuda<scalar_t>(q.data_ptr<scalar_t>(), q.size(0), r.data_ptr<scalar_t>(), r.size(0),
                                                     out.data_ptr<int64_t>(), stream);
        });
        return out;
    }
#endif
    TORCH_CHECK(q.device().is_cpu(), "nearest (brute force): no kernel for device ", q.device());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "nearest_brute", [&] {
        brute_cpu<scalar_t>(q.data_ptr<scalar_t>(), q.size(0), r.data_ptr<scalar_t>(), r.size(0),
                            g.defined() ? g.data_ptr<int64_t>() : nullptr, out.data_ptr<int64_t>());
    });
    return out;
}
}  // namespace

at::Tensor nearest_indices_brute(const at::Tensor& queries, const at::Tensor& ref) {
    check_points(queries, "queries");
    check_points(ref, "ref");
    TORCH_CHECK(ref.size(0) > 0, "nearest_indices_brute: empty reference set");
    return brute(queries, ref, at::Tensor());
}

at::Tensor nearest_other_group_brute(const at::Tensor& points, const at::Tensor& group) {
    check_points(points, "points");
    TORCH_CHECK(group.dim() == 1 && group.size(0) == points.size(0),
                "nearest_other_group_brute: group must be [P] matching points, got ", group.sizes());
    return brute(points, points, group);
}

/// What runs on a non-CPU device: the CUDA kernels where built, else ATen brute force.
at::Tensor nearest_on_device(const at::Tensor& queries, const at::Tensor& ref) {
#ifdef MASH_WITH_CUDA
    if (queries.is_cuda() && ref.is_cuda()) return nearest_indices_brute(queries, ref);
#endif
    return nearest_indices_ref(queries, ref);
}

at::Tensor nearest_indices_ref(const at::Tensor& queries, const at::Tensor& ref) {
    check_points(queries, "queries");
    check_points(ref, "ref");
    at::NoGradGuard ng;
    auto q = queries.detach(), r = ref.detach().to(q.scalar_type());
    std::vector<at::Tensor> parts;
    const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 24) / std::max<int64_t>(1, r.size(0)));
    for (int64_t s = 0; s < q.size(0); s += chunk) {
        auto qc = q.narrow(0, s, std::min(chunk, q.size(0) - s));
        auto d = (qc.unsqueeze(1) - r.unsqueeze(0)).pow(2).sum(-1);
        parts.push_back(d.argmin(1));
    }
    if (parts.empty()) return at::empty({0}, q.options().dtype(at::kLong));
    return at::cat(parts);
}

at::Tensor nearest_other_group_ref(const at::Tensor& points, const at::Tensor& group) {
    check_points(points, "points");
    at::NoGradGuard ng;
    auto p = points.detach();
    auto g = group.to(p.device(), at::kLong);
    std::vector<at::Tensor> parts;
    const int64_t P = p.size(0);
    const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 24) / std::max<int64_t>(1, P));
    for (int64_t s = 0; s < P; s += chunk) {
        const int64_t n = std::min(chunk, P - s);
        auto d = (p.narrow(0, s, n).unsqueeze(1) - p.unsqueeze(0)).pow(2).sum(-1);
        auto same = g.narrow(0, s, n).unsqueeze(1) == g.unsqueeze(0);
        d = d.masked_fill(same, std::numeric_limits<double>::infinity());
        auto idx = d.argmin(1);
        auto none = std::get<0>(d.min(1)).isinf();
        parts.push_back(idx.masked_fill(none, -1));
    }
    if (parts.empty()) return at::empty({0}, p.options().dtype(at::kLong));
    return at::cat(parts);
}

}  // namespace mash::ops::nearest

// torch.ops.mash.nearest(queries [Q, 3], ref [R, 3]) -> int64 [Q]: the index of each query's
// nearest reference point (exact; k-d tree on the CPU, grid search on CUDA).
namespace {
at::Tensor nearest_op(const at::Tensor& queries, const at::Tensor& ref) {
    mash::ops::nearest::check_points(queries, "queries");
    mash::ops::nearest::check_points(ref, "ref");
    TORCH_CHECK(ref.size(0) > 0, "nearest: ref is empty");
    return mash::ops::nearest::nearest_indices(queries, ref);
}
at::Tensor nearest_other_group_meta(const at::Tensor& points, const at::Tensor& group) {
    return at::empty_symint({points.sym_size(0)}, points.options().dtype(at::kLong));
}
at::Tensor nearest_meta(const at::Tensor& queries, const at::Tensor& ref) {
    return at::empty_symint({queries.sym_size(0)}, queries.options().dtype(at::kLong));
}
}  // namespace
// torch.ops.mash.nearest_other_group(points [P, 3], group int64 [P]) -> int64 [P]: each point's
// nearest point of another group (-1 when there is none).
TORCH_LIBRARY_FRAGMENT(mash, m) {
    m.def("nearest(Tensor queries, Tensor ref) -> Tensor");
    m.def("nearest_other_group(Tensor points, Tensor group) -> Tensor");
}
TORCH_LIBRARY_IMPL(mash, CPU, m) {
    m.impl("nearest", &nearest_op);
    m.impl("nearest_other_group", &mash::ops::nearest::nearest_other_group);
}
#ifdef MASH_WITH_CUDA
TORCH_LIBRARY_IMPL(mash, CUDA, m) {
    m.impl("nearest", &nearest_op);
    m.impl("nearest_other_group", &mash::ops::nearest::nearest_other_group);
}
#endif
TORCH_LIBRARY_IMPL(mash, Meta, m) {
    m.impl("nearest", &nearest_meta);
    m.impl("nearest_other_group", &nearest_other_group_meta);
}
