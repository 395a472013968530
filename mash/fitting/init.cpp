// SPDX-License-Identifier: MIT
#include "mash/fitting/init.h"

#include <ATen/Parallel.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "mash/core/cloud.h"
#include "mash/core/errors.h"
#include "mash/core/kdtree.h"
#include "mash/fitting/fitter.h"

namespace mash::fitting {

Normalization compute_normalization(const std::vector<double>& pts, const std::string& what) {
    const size_t n = pts.size() / 3;
    if (n == 0) throw InputError(what + ": no points");
    double lo[3], hi[3];
    for (int k = 0; k < 3; ++k) lo[k] = hi[k] = pts[k];
    for (size_t i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k) {
            lo[k] = std::min(lo[k], pts[3 * i + k]);
            hi[k] = std::max(hi[k], pts[3 * i + k]);
        }
    const double extent = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]});
    if (!(extent > 0)) throw InputError(what + ": all points are identical (expected a 3D surface)");
    const Eigen::Vector3d ev = principal_axes(pts).variances;
    const double smallest = std::sqrt(std::max(0.0, ev[0]));
    const double largest = std::sqrt(std::max(0.0, ev[2]));
    if (smallest < 1e-6 * largest)
        throw InputError(what + ": the points are flat (they lie on a plane or a line; expected the surface of a 3D shape)");
    Normalization nm;
    for (int k = 0; k < 3; ++k) nm.center[k] = 0.5 * (lo[k] + hi[k]);
    nm.scale = 0.9 / extent;
    return nm;
}

void apply_normalization(std::vector<double>& pts, const Normalization& n) {
    for (size_t i = 0; i < pts.size(); ++i) pts[i] = (pts[i] - n.center[i % 3]) * n.scale;
}

void undo_normalization(MashParams& params, const Normalization& n) {
    params.scale(1.0 / n.scale);
    params.translate(n.center[0], n.center[1], n.center[2]);
}

std::vector<double> estimate_normals(const std::vector<double>& pts, int64_t knn) {
    // Open3D 0.16's EstimateNormals(KNN, fast_normal_computation = false), step for step: the k
    // nearest points (the point itself included, nearest first), their covariance from the
    // running sums (identity below 3 neighbours), the eigenvector of its smallest eigenvalue
    // (Eigen's SelfAdjointEigenSolver); a zero vector becomes +z. No orientation.
    const size_t n = pts.size() / 3;
    std::vector<double> out(3 * n, 0.0);
    if (n == 0) return out;
    PackedCloud<double> cloud{pts.data(), n};
    PackedKdTree<double> tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(15));
    const size_t k = size_t(std::max<int64_t>(1, std::min<int64_t>(knn, int64_t(n))));
    at::parallel_for(0, int64_t(n), 1024, [&](int64_t b, int64_t e) {
        std::vector<uint32_t> idx(k);
        std::vector<double> d2(k);
        for (int64_t i = b; i < e; ++i) {
            const size_t found = tree.knnSearch(&pts[3 * size_t(i)], k, idx.data(), d2.data());
            Eigen::Matrix3d cov = Eigen::Matrix3d::Identity();
            if (found >= 3) {
                Eigen::Matrix<double, 9, 1> c = Eigen::Matrix<double, 9, 1>::Zero();
                for (size_t j = 0; j < found; ++j) {
                    const double* p = &pts[3 * size_t(idx[j])];
                    c(0) += p[0];
                    c(1) += p[1];
                    c(2) += p[2];
                    c(3) += p[0] * p[0];
                    c(4) += p[0] * p[1];
                    c(5) += p[0] * p[2];
                    c(6) += p[1] * p[1];
                    c(7) += p[1] * p[2];
                    c(8) += p[2] * p[2];
                }
                c /= double(found);
                cov(0, 0) = c(3) - c(0) * c(0);
                cov(1, 1) = c(6) - c(1) * c(1);
                cov(2, 2) = c(8) - c(2) * c(2);
                cov(0, 1) = cov(1, 0) = c(4) - c(0) * c(1);
                cov(0, 2) = cov(2, 0) = c(5) - c(0) * c(2);
                cov(1, 2) = cov(2, 1) = c(7) - c(1) * c(2);
            }
            Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver;
            solver.compute(cov, Eigen::ComputeEigenvectors);
            Eigen::Vector3d nrm = solver.eigenvectors().col(0);
            if (nrm.norm() == 0.0) nrm = Eigen::Vector3d::UnitZ();
            for (int q = 0; q < 3; ++q) out[3 * size_t(i) + q] = nrm[q];
        }
    });
    return out;
}

std::vector<double> local_spacing(const std::vector<double>& pts, int64_t k) {
    const size_t n = pts.size() / 3;
    std::vector<double> out(n, 0.0);
    if (n < 2 || k < 1) return out;
    const int kk = int(std::min<int64_t>(k, int64_t(n) - 1));  // every point has kk others
    std::vector<uint32_t> idx;
    std::vector<double> d2;
    knn(pts, kk, idx, d2);
    for (size_t i = 0; i < n; ++i) {
        double sum = 0;
        for (int j = 0; j < kk; ++j) sum += std::sqrt(d2[i * size_t(kk) + size_t(j)]);
        out[i] = sum / double(kk);
    }
    return out;
}

MashParams initial_mash(const std::vector<double>& anchor_points, const std::vector<double>& anchor_normals,
                        const FitOptions& o) {
    const int64_t A = int64_t(anchor_points.size() / 3);
    MashParams p = MashParams::zeros(A, o.mask_degree, o.sh_degree);
    p.use_inverse = o.use_inverse;
    const double w0 = 0.5 / std::sqrt(M_PI);
    const double d = o.surface_dist;
    for (int64_t a = 0; a < A; ++a) {
        Eigen::Vector3d x(anchor_points[3 * a], anchor_points[3 * a + 1], anchor_points[3 * a + 2]);
        Eigen::Vector3d nrm(anchor_normals[3 * a], anchor_normals[3 * a + 1], anchor_normals[3 * a + 2]);
        if (!(nrm.norm() > 1e-12)) nrm = Eigen::Vector3d::UnitZ();
        nrm.normalize();
        Eigen::Vector3d pos = x + d * nrm;
        // Face-forward f = −n: axis ẑ × f, angle acos(f_z) (spec §5.3), written out in double.
        Eigen::Vector3d f = -nrm;
        Eigen::Vector3d axis = Eigen::Vector3d::UnitZ().cross(f);
        if (axis.norm() < 1e-12) axis = Eigen::Vector3d::UnitX();
        axis.normalize();
        Eigen::Vector3d r = axis * std::acos(std::clamp(f.z(), -1.0, 1.0));
        for (int k = 0; k < 3; ++k) {
            p.positions[3 * a + k] = pos[k];
            p.rotate_vectors[3 * a + k] = r[k];
        }
        p.sh_params[a * p.sh_dim()] = d / w0;
    }
    return p;
}

MashParams initial_mash_from_cloud(const std::vector<double>& points, const std::vector<double>& normals, const FitOptions& o) {
    std::vector<double> ap, an;
    for (int64_t i : farthest_point_indices(points, o.num_anchors)) {
        ap.insert(ap.end(), points.begin() + 3 * i, points.begin() + 3 * i + 3);
        an.insert(an.end(), normals.begin() + 3 * i, normals.begin() + 3 * i + 3);
    }
    return initial_mash(ap, an, o);
}

}  // namespace mash::fitting
