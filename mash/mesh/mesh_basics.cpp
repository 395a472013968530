// SPDX-License-Identifier: MIT
// The Open3D-free part of extract.h: MASH patch samples, mesh files (our own writers and
// readers), volume, area, the names of the normal sources. Built with and without Open3D.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "mash/core/cloud.h"
#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/io/geometry_formats.h"
#include "mash/io/geometry_io.h"
#include "mash/mesh/extract.h"
#include "mash/representation/mash.h"

namespace mash::mesh {
namespace {
const auto kF64 = at::TensorOptions().dtype(at::kDouble);
std::vector<double> as_vector(const at::Tensor& t) {
    auto c = t.to(at::kDouble).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
}  // namespace

NormalSource parse_normal_source(const std::string& s) {
    if (s == "points") return NormalSource::points;
    if (s == "patches") return NormalSource::patches;
    throw ConfigError("--normals '" + s + "': unknown normal source (expected points or patches)");
}

const char* normal_source_name(NormalSource n) { return n == NormalSource::points ? "points" : "patches"; }

int64_t remove_duplicate_points(std::vector<double>& points, std::vector<double>* normals) {
    const int64_t n = int64_t(points.size() / 3);
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
    auto key = [&](int64_t i) { return std::make_tuple(points[3 * i], points[3 * i + 1], points[3 * i + 2]); };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
    std::vector<char> drop(static_cast<size_t>(n), 0);
    int64_t dropped = 0;
    for (size_t j = 1; j < order.size(); ++j)
        if (key(order[j]) == key(order[j - 1])) drop[size_t(order[j])] = 1, ++dropped;
    if (dropped == 0) return 0;
    const bool with_normals = normals && normals->size() == points.size();
    std::vector<double> kept, kept_n;
    kept.reserve(size_t(3 * (n - dropped)));
    for (int64_t i = 0; i < n; ++i)
        if (!drop[size_t(i)]) {
            kept.insert(kept.end(), &points[3 * i], &points[3 * i + 3]);
            if (with_normals) kept_n.insert(kept_n.end(), &(*normals)[size_t(3 * i)], &(*normals)[size_t(3 * i + 3)]);
        }
    points.swap(kept);
    if (with_normals) normals->swap(kept_n);
    return dropped;
}

std::string degenerate_cloud(const std::vector<double>& points) {
    const int64_t n = int64_t(points.size() / 3);
    if (n < 1000) {  // small clouds: count the distinct points (larger ones: the spread test below)
        std::vector<double> distinct = points;
        const int64_t d = n - remove_duplicate_points(distinct);
        if (d < 10) return std::to_string(d) + (d == 1 ? " distinct point" : " distinct points");
    }
    const PrincipalAxes pa = principal_axes(points);
    if (!pa.finite) return "non-finite coordinates";
    const Eigen::Vector3d& ev = pa.variances;
    if (!(ev(2) > 0)) return "all " + std::to_string(n) + " points coincide";
    if (ev(1) <= 1e-12 * ev(2)) return "all " + std::to_string(n) + " points lie on one line";
    return "";
}

OrientedSamples patch_samples(const MashParams& params, int64_t P, int64_t T) {
    params.validate("patch_samples");
    if (P < 3 || T < 2) throw InputError("patch_samples: need at least a 3x2 grid");
    Mash m = make_mash(params, {}, kF64);
    at::NoGradGuard ng;
    auto g = m->grid_points(P, T, true);  // [A, P, T, 3]
    const int64_t A = g.size(0);
    // Central differences: φ is periodic; θ one-sided at the ends.
    auto dphi = g.roll(-1, 1) - g.roll(1, 1);
    auto dth = at::cat({g.narrow(2, 1, 1) - g.narrow(2, 0, 1), g.narrow(2, 2, T - 2) - g.narrow(2, 0, T - 2),
                        g.narrow(2, T - 1, 1) - g.narrow(2, T - 2, 1)},
                       2);
    auto n = at::linalg_cross(dth, dphi, -1);
    auto norm = n.norm(2, -1, true);
    n = at::where(norm > 1e-20, n / norm.clamp_min(1e-300), at::zeros_like(n));
    OrientedSamples s;
    s.grid_phi = P;
    s.grid_theta = T;
    s.points = as_vector(g.reshape({-1, 3}));
    s.normals = as_vector(n.reshape({-1, 3}));
    s.anchor.resize(A * P * T);
    s.fraction.resize(A * P * T);
    for (int64_t a = 0; a < A; ++a)
        for (int64_t p = 0; p < P; ++p)
            for (int64_t q = 0; q < T; ++q) {
                const int64_t i = (a * P + p) * T + q;
                s.anchor[i] = a;
                s.fraction[i] = double(q + 1) / double(T);
            }
    return s;
}

double mesh_volume(const TriangleMesh& m) {
    double v = 0;
    for (size_t f = 0; f + 2 < m.triangles.size(); f += 3) {
        const double* a = &m.vertices[3 * m.triangles[f]];
        const double* b = &m.vertices[3 * m.triangles[f + 1]];
        const double* c = &m.vertices[3 * m.triangles[f + 2]];
        v += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0])) / 6.0;
    }
    return v;
}

double mesh_area(const TriangleMesh& m) {
    double s = 0;
    for (size_t f = 0; f + 2 < m.triangles.size(); f += 3) {
        Eigen::Vector3d a(&m.vertices[3 * m.triangles[f]]), b(&m.vertices[3 * m.triangles[f + 1]]),
            c(&m.vertices[3 * m.triangles[f + 2]]);
        s += 0.5 * (b - a).cross(c - a).norm();
    }
    return s;
}

bool is_closed(const TriangleMesh& m) {
    std::map<std::pair<int64_t, int64_t>, int> edges;
    for (size_t f = 0; f + 2 < m.triangles.size(); f += 3)
        for (int e = 0; e < 3; ++e) {
            int64_t u = m.triangles[f + e], v = m.triangles[f + (e + 1) % 3];
            edges[{std::min(u, v), std::max(u, v)}]++;
        }
    if (edges.empty()) return false;
    for (const auto& [e, c] : edges)
        if (c < 2 || c % 2 != 0) return false;  // a boundary (or odd, open) edge
    return true;
}

}  // namespace mash::mesh
