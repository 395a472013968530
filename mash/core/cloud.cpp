// SPDX-License-Identifier: MIT
#include "mash/core/cloud.h"

#include <Eigen/Dense>
#include <algorithm>

#include "mash/core/kdtree.h"

namespace mash {

void knn(const std::vector<double>& p, int k, std::vector<uint32_t>& idx, std::vector<double>& d2) {
    const size_t n = p.size() / 3;
    PackedCloud<double> c{p.data(), n};
    PackedKdTree<double> tree(3, c, nanoflann::KDTreeSingleIndexAdaptorParams(16));
    tree.buildIndex();
    const int kk = int(std::min<size_t>(size_t(k) + 1, n));
    idx.assign(n * size_t(k), 0);
    d2.assign(n * size_t(k), 0.0);
    // One query per point, each writing its own rows: the result does not depend on the threads
    // (OpenMP's, which LibTorch's set_num_threads also sets; serial below 1024 points).
#pragma omp parallel if (n >= 1024)
    {
        std::vector<uint32_t> ri(kk);
        std::vector<double> rd(kk);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < int64_t(n); ++i) {
            nanoflann::KNNResultSet<double, uint32_t> rs(kk);
            rs.init(ri.data(), rd.data());
            tree.findNeighbors(rs, &p[3 * i], nanoflann::SearchParams(32, 0.0, true));
            const size_t got = rs.size();
            int out = 0;
            for (size_t j = 0; j < got && out < k; ++j) {
                if (ri[j] == uint32_t(i)) continue;
                idx[size_t(i) * k + out] = ri[j];
                d2[size_t(i) * k + out] = rd[j];
                ++out;
            }
            for (; out < k; ++out) {  // fewer than k other points: repeat the farthest found
                idx[size_t(i) * k + out] = out > 0 ? idx[size_t(i) * k + out - 1] : uint32_t(i);
                d2[size_t(i) * k + out] = out > 0 ? d2[size_t(i) * k + out - 1] : 0.0;
            }
        }
    }
}

PrincipalAxes principal_axes(const std::vector<double>& points) {
    const int64_t n = int64_t(points.size() / 3);
    PrincipalAxes r;
    for (int64_t i = 0; i < n; ++i) r.mean += Eigen::Vector3d(points[3 * i], points[3 * i + 1], points[3 * i + 2]);
    r.mean /= double(n);
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
    for (int64_t i = 0; i < n; ++i) {
        const Eigen::Vector3d d = Eigen::Vector3d(points[3 * i], points[3 * i + 1], points[3 * i + 2]) - r.mean;
        cov += d * d.transpose();
    }
    r.finite = cov.allFinite();
    if (!r.finite) return r;
    const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(cov / double(n));
    r.variances = es.eigenvalues();
    r.axes = es.eigenvectors();
    return r;
}

}  // namespace mash
