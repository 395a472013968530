// SPDX-License-Identifier: MIT
// Launchers of the exact nearest-neighbour CUDA kernels (torch-free: raw device pointers; the ATen
// glue is in mash/ops/nearest/nearest.cpp). Only declared in CUDA builds (MASH_WITH_CUDA). Tiled brute
// force: one thread per query, reference points staged through shared memory; math and tie rule
// from nn_math.h. `stream` is a cudaStream_t; a launch error throws std::runtime_error.
#pragma once
#include <cstdint>

#include "mash/ops/nearest/nn_math.h"

namespace mash::ops::nearest {

/// out[q] = index of the nearest of ref[0..R) to queries[q] (Q ≥ 0, R ≥ 1).
template <typename T>
void nearest_cuda(const T* queries, int64_t Q, const T* ref, int64_t R, int64_t* out, void* stream);

/// out[i] = index of the nearest point j with group[j] != group[i], or −1 if there is none.
template <typename T>
void nearest_other_group_cuda(const T* points, const int64_t* group, int64_t P, int64_t* out, void* stream);

/// out[q] = nn_grid_query(queries[q], ...): the grid search, one thread per query (R ≥ 1).
template <typename T>
void nearest_grid_cuda(const T* queries, int64_t Q, const T* sorted, const int64_t* perm, const int64_t* cell_start, int64_t R,
                       const NnGrid<T>& grid, int64_t* out, void* stream);

}  // namespace mash::ops::nearest
