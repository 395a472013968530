// SPDX-License-Identifier: MIT
// Internal to the winding-number code (winding.cpp, orientation.cpp, thin_parts.cpp): the k-d tree
// over packed samples, medians and the kernel's regularization radius.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "mash/core/kdtree.h"

namespace mash::mesh::detail {

constexpr int64_t kLeaf = 8;

using Cloud = PackedCloud<double>;
using KdTree = PackedKdTree<double>;

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    auto mid = v.begin() + v.size() / 2;
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
}

/// The regularization radius: `spacings` median sample spacings, the spacing of a sample being
/// the radius of the disc of its area (sample_areas).
inline double regularization_radius(const std::vector<double>& area, double spacings) {
    std::vector<double> spacing(area.size());
    for (size_t i = 0; i < area.size(); ++i) spacing[i] = std::sqrt(area[i] / M_PI);
    return spacings * median(spacing);
}

inline bool has_normal(const double* n) { return n[0] * n[0] + n[1] * n[1] + n[2] * n[2] > 0.25; }

}  // namespace mash::mesh::detail
