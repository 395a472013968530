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
    bool kdtree_get_bbox(BBox&) const { return false; }
};

template <typename T>
using PackedKdTree =
    nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<T, PackedCloud<T>>, PackedCloud<T>, 3, uint32_t>;

}  // namespace mash
