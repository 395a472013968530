// SPDX-License-Identifier: MIT
// Oriented PCA normals of a point cloud (cloud_normals.h). Needs Open3D.
#include "mash/mesh/cloud_normals.h"

#include <ATen/ATen.h>
#include <open3d/geometry/KDTreeFlann.h>
#include <open3d/geometry/KDTreeSearchParam.h>
#include <open3d/geometry/PointCloud.h>

#include <Eigen/Dense>
#include <cmath>
#include <tuple>

#include "mash/mesh/orientation.h"
#include "mash/mesh/surface_detail.h"
#include "mash/ops/sampling/sampling.h"

namespace mash::mesh {
using detail::quiet_open3d;

namespace {
std::vector<double> orient_whole_cloud(const std::vector<double>& points, int64_t knn, OrientMethod method) {
    open3d::geometry::PointCloud pc;
    const size_t n = points.size() / 3;
    for (size_t i = 0; i < n; ++i) pc.points_.emplace_back(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
    pc.EstimateNormals(open3d::geometry::KDTreeSearchParamKNN(int(knn)), false);
    try {
        pc.OrientNormalsConsistentTangentPlane(15);
    } catch (const std::exception&) {
        // Its graph starts from a 3-D Delaunay triangulation (Qhull), which fails on a flat cloud:
        // sign every normal along the cloud's axis of least spread (exact for a plane).
        const Eigen::Matrix3d cov = std::get<1>(pc.ComputeMeanAndCovariance());
        const Eigen::Vector3d axis = Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d>(cov).eigenvectors().col(0);
        for (auto& v : pc.normals_)
            if (v.dot(axis) < 0) v = -v;
    }
    std::vector<double> out;
    if (method == OrientMethod::winding) {
        for (const auto& v : pc.normals_) out.insert(out.end(), {v.x(), v.y(), v.z()});
        orient_cloud_by_winding(points, out);
        return out;
    }
    Eigen::Vector3d c = pc.GetCenter();
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += pc.normals_[i].dot(pc.points_[i] - c);
    for (auto& v : pc.normals_) {
        if (s < 0) v = -v;
        out.insert(out.end(), {v.x(), v.y(), v.z()});
    }
    return out;
}
}  // namespace

std::vector<double> oriented_normals_for_cloud(const std::vector<double>& points, int64_t knn, OrientMethod method,
                                               int64_t max_oriented) {
    quiet_open3d();
    const int64_t N = int64_t(points.size() / 3);
    if (max_oriented <= 0 || N <= max_oriented) return orient_whole_cloud(points, knn, method);
    // An FPS subset, oriented in full.
    auto all = at::from_blob(const_cast<double*>(points.data()), {N, 3}, at::TensorOptions().dtype(at::kDouble));
    auto idx = ops::sampling::fps(all.to(at::kFloat), max_oriented);
    const auto* ip = idx.data_ptr<int64_t>();
    std::vector<double> sub;
    sub.reserve(size_t(3 * max_oriented));
    for (int64_t j = 0; j < idx.size(0); ++j) sub.insert(sub.end(), &points[3 * ip[j]], &points[3 * ip[j] + 3]);
    const std::vector<double> sub_n = orient_whole_cloud(sub, knn, method);
    // Every point's PCA normal, signed like a nearby subset point.
    open3d::geometry::PointCloud pc, spc;
    for (int64_t i = 0; i < N; ++i) pc.points_.emplace_back(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
    pc.EstimateNormals(open3d::geometry::KDTreeSearchParamKNN(int(knn)), false);
    for (size_t j = 0; j < sub.size() / 3; ++j) spc.points_.emplace_back(sub[3 * j], sub[3 * j + 1], sub[3 * j + 2]);
    open3d::geometry::KDTreeFlann tree(spc);
    std::vector<double> out(points.size());
    std::vector<int> nb;
    std::vector<double> d2;
    for (int64_t i = 0; i < N; ++i) {
        const Eigen::Vector3d& p = pc.points_[size_t(i)];
        const Eigen::Vector3d& n = pc.normals_[size_t(i)];
        tree.SearchKNN(p, 8, nb, d2);
        auto sub_normal = [&](int j) { return Eigen::Map<const Eigen::Vector3d>(&sub_n[3 * size_t(j)]); };
        int pick = nb.empty() ? -1 : nb[0];
        for (int j : nb) {  // nearest first: the first one in the tangent plane with a similar normal
            const Eigen::Vector3d d = spc.points_[size_t(j)] - p;
            if (std::abs(n.dot(sub_normal(j))) >= 0.7 && std::abs(d.dot(n)) <= 0.5 * d.norm()) {
                pick = j;
                break;
            }
        }
        const double sign = pick >= 0 && n.dot(sub_normal(pick)) < 0 ? -1.0 : 1.0;
        for (int e = 0; e < 3; ++e) out[size_t(3 * i + e)] = sign * n[e];
    }
    // The subset points keep their own orientation.
    for (int64_t j = 0; j < idx.size(0); ++j)
        for (int e = 0; e < 3; ++e) out[size_t(3 * ip[j] + e)] = sub_n[size_t(3 * j + e)];
    return out;
}

}  // namespace mash::mesh
