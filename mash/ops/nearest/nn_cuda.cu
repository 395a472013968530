// SPDX-License-Identifier: MIT
// Exact nearest neighbours on the GPU: one thread per query; each block stages kTile reference
// points in shared memory at a time and every thread scans the tile with nn_math.h's distance
// and tie rule, so the result is the CPU twin's index for every query.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "mash/ops/nearest/nn_cuda.h"
#include "mash/ops/nearest/nn_math.h"

namespace mash::ops::nearest {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 512;

template <typename T, bool kOtherGroup>
__global__ void nn_kernel(const T* __restrict__ q, int64_t Q, const T* __restrict__ r, int64_t R,
                          const int64_t* __restrict__ group, int64_t* __restrict__ out) {
    __shared__ T tile[3 * kTile];
    __shared__ int64_t tile_group[kOtherGroup ? kTile : 1];
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const bool active = i < Q;
    T x = 0, y = 0, z = 0;
    int64_t g = 0;
    if (active) {
        x = q[3 * i];
        y = q[3 * i + 1];
        z = q[3 * i + 2];
        if (kOtherGroup) g = group[i];
    }
    T bd = T(0);
    int64_t bj = -1;
    for (int64_t base = 0; base < R; base += kTile) {
        const int64_t n = R - base < kTile ? R - base : kTile;
        __syncthreads();
        for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
            tile[3 * k] = r[3 * (base + k)];
            tile[3 * k + 1] = r[3 * (base + k) + 1];
            tile[3 * k + 2] = r[3 * (base + k) + 2];
            if (kOtherGroup) tile_group[k] = group[base + k];
        }
        __syncthreads();
        if (!active) continue;
        for (int64_t k = 0; k < n; ++k) {
            if (kOtherGroup && tile_group[k] == g) continue;
            const T d = nn_sq_dist(x, y, z, tile[3 * k], tile[3 * k + 1], tile[3 * k + 2]);
            if (nn_better(d, base + k, bd, bj)) {
                bd = d;
                bj = base + k;
            }
        }
    }
    if (active) out[i] = bj;
}

template <typename T>
__global__ void grid_kernel(const T* __restrict__ q, int64_t Q, const T* __restrict__ sorted, const int64_t* __restrict__ perm,
                            const int64_t* __restrict__ cell_start, int64_t R, const NnGrid<T> g, int64_t* __restrict__ out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= Q) return;
    out[i] = nn_grid_query<T>(q[3 * i], q[3 * i + 1], q[3 * i + 2], sorted, perm, cell_start, R, g);
}

void check(const char* what) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace

template <typename T>
void nearest_cuda(const T* queries, int64_t Q, const T* ref, int64_t R, int64_t* out, void* stream) {
    if (Q <= 0) return;
    const int64_t blocks = (Q + kThreads - 1) / kThreads;
    nn_kernel<T, false><<<unsigned(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(queries, Q, ref, R, nullptr, out);
    check("nearest_cuda");
}

template <typename T>
void nearest_other_group_cuda(const T* points, const int64_t* group, int64_t P, int64_t* out, void* stream) {
    if (P <= 0) return;
    const int64_t blocks = (P + kThreads - 1) / kThreads;
    nn_kernel<T, true><<<unsigned(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(points, P, points, P, group, out);
    check("nearest_other_group_cuda");
}

template <typename T>
void nearest_grid_cuda(const T* queries, int64_t Q, const T* sorted, const int64_t* perm, const int64_t* cell_start, int64_t R,
                       const NnGrid<T>& grid, int64_t* out, void* stream) {
    if (Q <= 0) return;
    const int64_t blocks = (Q + kThreads - 1) / kThreads;
    grid_kernel<T><<<unsigned(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(queries, Q, sorted, perm, cell_start, R,
                                                                                         grid, out);
    check("nearest_grid_cuda");
}

template void nearest_grid_cuda<float>(const float*, int64_t, const float*, const int64_t*, const int64_t*, int64_t,
                                       const NnGrid<float>&, int64_t*, void*);
template void nearest_grid_cuda<double>(const double*, int64_t, const double*, const int64_t*, const int64_t*, int64_t,
                                        const NnGrid<double>&, int64_t*, void*);
template void nearest_cuda<float>(const float*, int64_t, const float*, int64_t, int64_t*, void*);
template void nearest_cuda<double>(const double*, int64_t, const double*, int64_t, int64_t*, void*);
template void nearest_other_group_cuda<float>(const float*, const int64_t*, int64_t, int64_t*, void*);
template void nearest_other_group_cuda<double>(const double*, const int64_t*, int64_t, int64_t*, void*);

}  // namespace mash::ops::nearest
