// SPDX-License-Identifier: MIT
// Launcher of the CUDA FPS kernel (torch-free: raw device pointers; the ATen glue is in
// mash/ops/sampling/sampling.cpp). Only declared in CUDA builds (MASH_WITH_CUDA).
#pragma once
#include <cstdint>

namespace mash::ops::sampling {

/// Per-segment FPS on the GPU, same contract as mash::ops::sampling::fps_packed: pts [P,3] (device,
/// contiguous), offsets [A+1], keep [A], out_offsets [A+1] (exclusive cumsum of min(keep, n)),
/// out [Σ] global indices in selection order. scratch: P elements of T. `stream` is a
/// cudaStream_t. Throws std::runtime_error on a launch error.
template <typename T>
void fps_segments_cuda(const T* pts, const int64_t* offsets, const int64_t* keep, const int64_t* out_offsets, int64_t* out,
                       T* scratch, int64_t num_segments, void* stream);

}  // namespace mash::ops::sampling
