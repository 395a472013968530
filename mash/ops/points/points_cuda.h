// SPDX-License-Identifier: MIT
// Launchers of the fused world-points CUDA kernels (torch-free: raw device pointers; the ATen and
// autograd glue is in mash/ops/points/points.cpp). Only declared in CUDA builds (MASH_WITH_CUDA). One
// thread per sample; the math is points_math.h's, shared with the CPU kernel. `stream` is a
// cudaStream_t; a launch error throws std::runtime_error.
#pragma once
#include <cstdint>

#include "mash/ops/points/points_math.h"

namespace mash::ops::points {

/// out[i] = p[a] + R[a]·q(c[a], θ_i, φ_i), a = aidx[i]; sh [A, K], R [A, 9], pos [A, 3], out [P, 3].
template <typename T>
void world_points_forward_cuda(const T* sh, const T* R, const T* pos, const int64_t* aidx, const T* theta, const T* phi,
                               int64_t P, int K, const PointsTermTable<T>& terms, const PointsFlags<T>& flags, T* out,
                               void* stream);

/// Per-sample gradients: contrib [P, K + 12] (∂c [K], ∂R [9], ∂p [3] of sample i; the caller sums
/// rows per anchor) and g_theta [P], for the upstream gradient grad [P, 3].
template <typename T>
void world_points_backward_cuda(const T* sh, const T* R, const int64_t* aidx, const T* theta, const T* phi, const T* grad,
                                int64_t P, int K, const PointsTermTable<T>& terms, const PointsFlags<T>& flags, T* contrib,
                                T* g_theta, void* stream);

}  // namespace mash::ops::points
