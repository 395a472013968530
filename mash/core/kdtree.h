// SPDX-License-Identifier: MIT
// nanoflann over packed [N*3] coordinates (no copy): the adaptor and tree type shared by the
// nearest-neighbour losses and the meshing code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <nanoflann.hpp>

namespace mash {

template <typename T>
struct PackedCloud {
    const T* pts = nullptr;
    size_t n = 0;
    size_t kdtree_get_point_count() const { return n; }
    T kdtree_get_pt(size_t i, size_t d) const { return pts[3 * i + d]; }
    template <class BBox>
    bool kdtree_get_bbox(BBox&) const {
        return false;
    }
};

template <typename T>
using PackedKdTree =
    nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<T, PackedCloud<T>>, PackedCloud<T>, 3, uint32_t>;

/// The index of the nearest point of `tree` to q (exact); its squared distance in *d2 if given.
template <typename T>
uint32_t nearest_point(const PackedKdTree<T>& tree, const T* q, T* d2 = nullptr) {
    uint32_t idx = 0;
    T d = 0;
    nanoflann::KNNResultSet<T, uint32_t> rs(1);
    rs.init(&idx, &d);
    tree.findNeighbors(rs, q, nanoflann::SearchParams(32, 0.0f, false));
    if (d2) *d2 = d;
    return idx;
}

}  // namespace mash
