// SPDX-License-Identifier: MIT
// Exact nearest neighbours (chamfer terms, the boundary loss's "nearest point of another
// anchor"), per-element math shared by the CPU brute-force twin (mash/losses/nearest.cpp) and the
// CUDA kernel (nn_cuda.cu): the same distance rounding (no FMA) and the same tie rule, so both
// return the same index for every query.
#pragma once
#include <cstdint>

#include "mash/kernels/host_device.h"

namespace mash::kernels {

/// Squared distance, the same rounding as the FPS kernels (host_device.h).
template <typename T>
MASH_HOST_DEVICE T nn_sq_dist(T x, T y, T z, T rx, T ry, T rz) {
    return sq_dist_rn(x, y, z, rx, ry, rz);
}

/// Candidate (d, j) beats the best so far (bd, bj) iff it is nearer, or as near with a smaller
/// index ("argmin, first index on ties"; bj < 0 means no candidate yet).
template <typename T>
MASH_HOST_DEVICE bool nn_better(T d, int64_t j, T bd, int64_t bj) {
    return bj < 0 || d < bd || (d == bd && j < bj);
}

}  // namespace mash::kernels
