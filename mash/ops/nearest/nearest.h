// SPDX-License-Identifier: MIT
// Exact nearest-neighbour search for point sets [P, 3] (no gradient: indices only; losses gather
// the neighbours and differentiate through them with autograd).
//   * CPU float/double: nanoflann KD-trees, queries parallel over at::parallel_for.
//   * CUDA: tiled brute-force kernels (mash/ops/nearest/nn_cuda.cu) whose distance rounding and tie
//     rule (nn_math.h) are shared with a CPU twin (*_brute on CPU tensors), so both
//     give the same index for every query; and an exact uniform-grid search (nn_grid_query, also
//     with a CPU twin: *_grid) that a KdTree on a GPU uses for the chamfer terms of a fit.
//   * other devices, and the test oracle: brute force in ATen (*_ref), exact (x − y)² distances.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>

namespace mash::ops::nearest {

/// A search structure over a fixed point set, built once and queried many times (e.g. the GT
/// points of a fit): a KD-tree on the CPU; on a CUDA device a uniform grid over the points'
/// bounding box (exact); ATen brute force on other devices. Keeps its own copy of the points.
class KdTree {
public:
    explicit KdTree(const at::Tensor& points);  ///< points [R, 3], float or double
    ~KdTree();
    KdTree(const KdTree&) = delete;
    KdTree& operator=(const KdTree&) = delete;

    /// Index (int64 [Q]) of the nearest reference point of each query [Q, 3].
    at::Tensor nearest(const at::Tensor& queries) const;
    /// The other direction: for each of this set's points, the index (int64 [R]) of the nearest of
    /// `others` [Q, 3] (e.g. GT → samples). CPU: a KD-tree on `others`; CUDA: `others` binned into
    /// this set's grid (no host synchronisation).
    at::Tensor nearest_in(const at::Tensor& others) const;
    int64_t size() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Nearest point of `ref` [R, 3] for each query [Q, 3] → int64 [Q]. Builds a tree on ref.
at::Tensor nearest_indices(const at::Tensor& queries, const at::Tensor& ref);

/// For each point [P, 3], the nearest point carrying a different group id (group: int64 [P]).
/// Returns int64 [P]; −1 where no other group exists.
at::Tensor nearest_other_group(const at::Tensor& points, const at::Tensor& group);

/// Exact brute force with the kernel math: the CUDA kernel on CUDA tensors (CUDA builds), its CPU
/// twin on CPU tensors. First index wins ties. O(Q·R) time, O(1) extra memory.
at::Tensor nearest_indices_brute(const at::Tensor& queries, const at::Tensor& ref);
at::Tensor nearest_other_group_brute(const at::Tensor& points, const at::Tensor& group);

/// The exact uniform-grid search: the CUDA kernel on CUDA tensors (CUDA builds), its CPU twin on
/// CPU tensors; the grid covers the bounding box of `box` (default: ref), points outside it are
/// binned by their projection. Returns brute force's indices (first index on ties).
at::Tensor nearest_indices_grid(const at::Tensor& queries, const at::Tensor& ref, const at::Tensor& box = {});

/// Brute-force references (exact, chunked; O(Q·R) memory per chunk). First index wins ties.
at::Tensor nearest_indices_ref(const at::Tensor& queries, const at::Tensor& ref);
at::Tensor nearest_other_group_ref(const at::Tensor& points, const at::Tensor& group);

}  // namespace mash::ops::nearest
