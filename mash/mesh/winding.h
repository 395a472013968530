// SPDX-License-Identifier: MIT
// Fast generalized winding numbers of oriented point sets (dipole treecode, Barill et al. 2018),
// and the per-sample areas and spacings they are built from. What uses them: orientation.h (the
// global orientation cue), thin_parts.h (open sheets and thin walls). Torch-free.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace mash::mesh {

/// Barnes–Hut treecode over dipoles μ_j = a_j n_j at p_j (KD-tree, leaves of ≤ 8 samples, far
/// field to second order about each node's centre, used when |c − q| > β·radius).
class WindingTree {
public:
    /// points, dipoles: [N*3]. eps: regularization radius (see mesh::winding_dipole).
    WindingTree(const std::vector<double>& points, const std::vector<double>& dipoles, double eps, double beta = 2.5);
    double at(const double* q) const;
    int64_t size() const { return int64_t(pts_.size() / 3); }

private:
    struct Node {
        int64_t begin = 0, end = 0, left = -1, right = -1;
        double c[3], M[3], C[9], D[27], radius;
    };
    int64_t build(int64_t begin, int64_t end, std::vector<int64_t>& order, const std::vector<double>& p,
                  const std::vector<double>& m);
    std::vector<double> pts_, mu_;
    std::vector<Node> nodes_;
    double eps_, beta_;
};

/// The exact sum (the reference of the treecode's tests).
double winding_direct(const std::vector<double>& points, const std::vector<double>& dipoles, const double* q, double eps);
/// Winding numbers at many queries ([Q*3]), treecode, parallel.
std::vector<double> winding_numbers(const WindingTree& tree, const std::vector<double>& queries);

/// Area per sample from the k-th nearest neighbour distance d_k: π d_k² / k (a sample's share of
/// a locally uniform surface; overlapping patches share the area). Points: [N*3].
std::vector<double> sample_areas(const std::vector<double>& points, int k = 8);
/// The median distance from a sample to its nearest other sample ([N*3]; 0 below two points).
double median_spacing(const std::vector<double>& points);

}  // namespace mash::mesh
