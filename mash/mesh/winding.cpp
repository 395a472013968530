// SPDX-License-Identifier: MIT
#include "mash/mesh/winding.h"

#include <ATen/Parallel.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <nanoflann.hpp>
#include <numeric>
#include <queue>
#include <random>
#include <stdexcept>
#include <tuple>

#include "mash/core/cloud.h"
#include "mash/mesh/winding_detail.h"
#include "mash/mesh/winding_math.h"

namespace mash::mesh {

using namespace detail;

// ---------------------------------------------------------------------------------------------
WindingTree::WindingTree(const std::vector<double>& points, const std::vector<double>& dipoles, double eps, double beta)
    : eps_(eps), beta_(beta) {
    if (points.size() != dipoles.size() || points.size() % 3 != 0)
        throw std::invalid_argument("WindingTree: points and dipoles must both be [N*3]");
    const int64_t n = int64_t(points.size() / 3);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    nodes_.reserve(size_t(2 * n / kLeaf + 2));
    if (n > 0) build(0, n, order, points, dipoles);
    pts_.resize(points.size());
    mu_.resize(points.size());
    for (int64_t i = 0; i < n; ++i)
        for (int d = 0; d < 3; ++d) {
            pts_[3 * i + d] = points[3 * order[i] + d];
            mu_[3 * i + d] = dipoles[3 * order[i] + d];
        }
}

int64_t WindingTree::build(int64_t begin, int64_t end, std::vector<int64_t>& order, const std::vector<double>& p,
                           const std::vector<double>& m) {
    const int64_t id = int64_t(nodes_.size());
    nodes_.push_back(Node{});
    // Centre: the mean of |μ|-weighted positions (plain mean when all dipoles vanish).
    double c[3] = {0, 0, 0}, wsum = 0, lo[3], hi[3];
    for (int d = 0; d < 3; ++d) lo[d] = std::numeric_limits<double>::max(), hi[d] = -lo[d];
    for (int64_t k = begin; k < end; ++k) {
        const double* q = &p[3 * order[k]];
        const double* u = &m[3 * order[k]];
        const double w = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        for (int d = 0; d < 3; ++d) {
            c[d] += w * q[d];
            lo[d] = std::min(lo[d], q[d]);
            hi[d] = std::max(hi[d], q[d]);
        }
        wsum += w;
    }
    for (int d = 0; d < 3; ++d) c[d] = wsum > 0 ? c[d] / wsum : 0.5 * (lo[d] + hi[d]);
    Node nd{};
    nd.begin = begin;
    nd.end = end;
    nd.left = nd.right = -1;
    double r2 = 0;
    std::fill(nd.M, nd.M + 3, 0.0);
    std::fill(nd.C, nd.C + 9, 0.0);
    std::fill(nd.D, nd.D + 27, 0.0);
    for (int64_t k = begin; k < end; ++k) {
        const double* q = &p[3 * order[k]];
        const double* u = &m[3 * order[k]];
        const double dv[3] = {q[0] - c[0], q[1] - c[1], q[2] - c[2]};
        r2 = std::max(r2, dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]);
        for (int a = 0; a < 3; ++a) {
            nd.M[a] += u[a];
            for (int b = 0; b < 3; ++b) {
                nd.C[3 * a + b] += u[a] * dv[b];
                for (int e = 0; e < 3; ++e) nd.D[9 * a + 3 * b + e] += u[a] * dv[b] * dv[e];
            }
        }
    }
    std::copy(c, c + 3, nd.c);
    nd.radius = std::sqrt(r2);
    if (end - begin > kLeaf) {
        int axis = 0;
        for (int d = 1; d < 3; ++d)
            if (hi[d] - lo[d] > hi[axis] - lo[axis]) axis = d;
        const int64_t mid = begin + (end - begin) / 2;
        std::nth_element(order.begin() + begin, order.begin() + mid, order.begin() + end,
                         [&](int64_t x, int64_t y) { return p[3 * x + axis] < p[3 * y + axis]; });
        nd.left = build(begin, mid, order, p, m);
        nd.right = build(mid, end, order, p, m);
    }
    nodes_[size_t(id)] = nd;
    return id;
}

double WindingTree::at(const double* q) const {
    if (nodes_.empty()) return 0.0;
    double w = 0;
    int64_t stack[128];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
        const Node& nd = nodes_[size_t(stack[--top])];
        const double dx = nd.c[0] - q[0], dy = nd.c[1] - q[1], dz = nd.c[2] - q[2];
        const double dist = std::sqrt(dx * dx + dy * dy + dz * dz);
        if (dist > beta_ * nd.radius && dist > nd.radius + eps_) {
            w += mesh::winding_cluster(nd.c, nd.M, nd.C, nd.D, q[0], q[1], q[2]);
        } else if (nd.left < 0) {
            for (int64_t k = nd.begin; k < nd.end; ++k)
                w += mesh::winding_dipole(pts_[3 * k], pts_[3 * k + 1], pts_[3 * k + 2], mu_[3 * k], mu_[3 * k + 1],
                                          mu_[3 * k + 2], q[0], q[1], q[2], eps_);
        } else {
            stack[top++] = nd.left;
            stack[top++] = nd.right;
        }
    }
    return w;
}

double winding_direct(const std::vector<double>& p, const std::vector<double>& m, const double* q, double eps) {
    double w = 0;
    for (size_t j = 0; j + 2 < p.size(); j += 3)
        w += mesh::winding_dipole(p[j], p[j + 1], p[j + 2], m[j], m[j + 1], m[j + 2], q[0], q[1], q[2], eps);
    return w;
}

std::vector<double> winding_numbers(const WindingTree& tree, const std::vector<double>& queries) {
    std::vector<double> out(queries.size() / 3);
    at::parallel_for(0, int64_t(out.size()), 256, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[size_t(i)] = tree.at(&queries[3 * i]);
    });
    return out;
}

double median_spacing(const std::vector<double>& points) {
    if (points.size() / 3 < 2) return 0.0;
    std::vector<uint32_t> nb;
    std::vector<double> d2;
    knn(points, 1, nb, d2);
    for (double& d : d2) d = std::sqrt(d);
    return median(std::move(d2));
}

std::vector<double> sample_areas(const std::vector<double>& points, int k) {
    const size_t n = points.size() / 3;
    if (n < 2) return std::vector<double>(n, 0.0);
    k = int(std::min<size_t>(size_t(k), n - 1));
    std::vector<uint32_t> idx;
    std::vector<double> d2;
    knn(points, k, idx, d2);
    std::vector<double> a(n);
    for (size_t i = 0; i < n; ++i) a[i] = M_PI * d2[i * size_t(k) + size_t(k) - 1] / double(k);
    return a;
}

}  // namespace mash::mesh
