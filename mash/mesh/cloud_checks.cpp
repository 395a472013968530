// SPDX-License-Identifier: MIT
// The torch- and Open3D-free part of cloud_normals.h: degenerate clouds and repeated points.
#include <Eigen/Dense>
#include <algorithm>
#include <tuple>

#include "mash/core/cloud.h"
#include "mash/mesh/cloud_normals.h"

namespace mash::mesh {

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

}  // namespace mash::mesh
