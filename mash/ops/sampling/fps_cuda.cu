// SPDX-License-Identifier: MIT
// CUDA farthest-point sampling: one block per segment (anchor); each step every thread updates
// the running minimum of its points and proposes its best (distance, index); a warp-shuffle then
// shared-memory reduction applies the same rule as the CPU kernel (fps_math.h), so the selection
// order is identical.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "mash/ops/sampling/fps_cuda.h"
#include "mash/ops/sampling/fps_math.h"

namespace mash::ops::sampling {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

template <typename T>
__device__ inline void better_of(T& bd, int64_t& bj, T d, int64_t j) {
    if (fps_better(d, j, bd, bj)) {
        bd = d;
        bj = j;
    }
}

template <typename T>
__global__ void fps_kernel(const T* __restrict__ pts, const int64_t* __restrict__ offsets, const int64_t* __restrict__ keep,
                           const int64_t* __restrict__ out_offsets, int64_t* __restrict__ out, T* __restrict__ mind) {
    __shared__ T warp_d[kWarps];
    __shared__ int64_t warp_j[kWarps];
    __shared__ int64_t cur_s;
    const int64_t a = blockIdx.x;
    const int64_t start = offsets[a], n = offsets[a + 1] - start;
    const int64_t k = keep[a] < n ? keep[a] : n;
    if (k <= 0 || n <= 0) return;
    const T* p = pts + 3 * start;
    T* m = mind + start;
    int64_t* o = out + out_offsets[a];
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m[j] = T(INFINITY);
    if (threadIdx.x == 0) {
        o[0] = start;
        cur_s = 0;
    }
    __syncthreads();
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int64_t t = 1; t < k; ++t) {
        const int64_t cur = cur_s;
        const T cx = p[3 * cur], cy = p[3 * cur + 1], cz = p[3 * cur + 2];
        T bd = T(-1);
        int64_t bj = n;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            const T d = fps_min(fps_sq_dist(p[3 * j], p[3 * j + 1], p[3 * j + 2], cx, cy, cz), m[j]);
            m[j] = d;
            better_of(bd, bj, d, j);
        }
        for (int off = 16; off > 0; off /= 2) {
            const T d = __shfl_down_sync(0xffffffffu, bd, off);
            const int64_t j = __shfl_down_sync(0xffffffffu, bj, off);
            better_of(bd, bj, d, j);
        }
        if (lane == 0) {
            warp_d[warp] = bd;
            warp_j[warp] = bj;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            T d0 = warp_d[0];
            int64_t j0 = warp_j[0];
            for (int w = 1; w < kWarps; ++w) better_of(d0, j0, warp_d[w], warp_j[w]);
            const int64_t next = j0 < n ? j0 : 0;
            cur_s = next;
            o[t] = start + next;
        }
        __syncthreads();
    }
}

}  // namespace

template <typename T>
void fps_segments_cuda(const T* pts, const int64_t* offsets, const int64_t* keep, const int64_t* out_offsets, int64_t* out,
                       T* scratch, int64_t num_segments, void* stream) {
    if (num_segments <= 0) return;
    fps_kernel<T><<<static_cast<unsigned>(num_segments), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        pts, offsets, keep, out_offsets, out, scratch);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) throw std::runtime_error(std::string("fps_segments_cuda: ") + cudaGetErrorString(err));
}

template void fps_segments_cuda<float>(const float*, const int64_t*, const int64_t*, const int64_t*, int64_t*, float*, int64_t,
                                       void*);
template void fps_segments_cuda<double>(const double*, const int64_t*, const int64_t*, const int64_t*, int64_t*, double*, int64_t,
                                        void*);

}  // namespace mash::ops::sampling
