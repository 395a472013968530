// SPDX-License-Identifier: MIT
// Farthest-point sampling, per-element math shared by the CPU kernel (sampling.cpp,
// SIMD over GCC vector types) and the CUDA kernel (fps_cuda.cu, one block per segment).
// T is a scalar (float, double) or, on the CPU, a GCC vector of them.
#pragma once
#include <cstdint>

#include "mash/ops/host_device.h"

namespace mash::ops::sampling {

/// Squared distance, evaluated as ((dx·dx + dy·dy) + dz·dz) without FMA on every device.
template <typename T>
MASH_HOST_DEVICE T fps_sq_dist(T x, T y, T z, T cx, T cy, T cz) {
    return sq_dist_rn(x, y, z, cx, cy, cz);
}

/// The running minimum distance to the selected set after adding one point.
template <typename T>
MASH_HOST_DEVICE T fps_min(T d, T m) {
    return d < m ? d : m;
}

/// The selection rule: candidate (d, j) beats the best so far (bd, bj) iff it is farther, or as
/// far with a smaller index ("argmax, first index on ties").
template <typename T>
MASH_HOST_DEVICE bool fps_better(T d, int64_t j, T bd, int64_t bj) {
    return d > bd || (d == bd && j < bj);
}

}  // namespace mash::ops::sampling
