// SPDX-License-Identifier: MIT
// The fused world-points chain on the GPU (SH distance → inversion → rotation → translation),
// forward and analytic backward: one thread per sample, the per-sample math of points_math.h
// (the CPU kernel's). The term table travels as a kernel parameter (constant bank, read
// uniformly by a warp).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "mash/ops/points/points_cuda.h"

namespace mash::ops::points {
namespace {

constexpr int kThreads = 128;

template <typename T>
__global__ void forward_kernel(const T* __restrict__ sh, const T* __restrict__ R, const T* __restrict__ pos,
                               const int64_t* __restrict__ aidx, const T* __restrict__ theta, const T* __restrict__ phi,
                               int64_t P, int K, const PointsTermTable<T> terms, const PointsFlags<T> f, T* __restrict__ out) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= P) return;
    const int64_t a = aidx[i];
    pm_forward<T>(sh + a * K, R + 9 * a, pos + 3 * a, theta[i], phi[i], terms.t, K, f, out + 3 * i);
}

template <typename T>
__global__ void backward_kernel(const T* __restrict__ sh, const T* __restrict__ R, const int64_t* __restrict__ aidx,
                                const T* __restrict__ theta, const T* __restrict__ phi, const T* __restrict__ grad, int64_t P,
                                int K, const PointsTermTable<T> terms, const PointsFlags<T> f, T* __restrict__ contrib,
                                T* __restrict__ g_theta) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= P) return;
    const int64_t a = aidx[i];
    T acc[kPointsMaxCoeffs + 12];
    for (int k = 0; k < K + 12; ++k) acc[k] = T(0);
    g_theta[i] = pm_backward<T>(sh + a * K, R + 9 * a, theta[i], phi[i], grad + 3 * i, terms.t, K, f, acc, acc + K, acc + K + 9);
    T* row = contrib + i * int64_t(K + 12);
    for (int k = 0; k < K + 12; ++k) row[k] = acc[k];
}

void check(const char* what) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

}  // namespace

template <typename T>
void world_points_forward_cuda(const T* sh, const T* R, const T* pos, const int64_t* aidx, const T* theta, const T* phi,
                               int64_t P, int K, const PointsTermTable<T>& terms, const PointsFlags<T>& flags, T* out,
                               void* stream) {
    if (P <= 0) return;
    forward_kernel<T><<<blocks_for(P), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(sh, R, pos, aidx, theta, phi, P, K,
                                                                                         terms, flags, out);
    check("world_points_forward_cuda");
}

template <typename T>
void world_points_backward_cuda(const T* sh, const T* R, const int64_t* aidx, const T* theta, const T* phi, const T* grad,
                                int64_t P, int K, const PointsTermTable<T>& terms, const PointsFlags<T>& flags, T* contrib,
                                T* g_theta, void* stream) {
    if (P <= 0) return;
    backward_kernel<T><<<blocks_for(P), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(sh, R, aidx, theta, phi, grad, P, K,
                                                                                          terms, flags, contrib, g_theta);
    check("world_points_backward_cuda");
}

#define MASH_POINTS_INSTANTIATE(T)                                                                                              \
    template void world_points_forward_cuda<T>(const T*, const T*, const T*, const int64_t*, const T*, const T*, int64_t, int,  \
                                               const PointsTermTable<T>&, const PointsFlags<T>&, T*, void*);                    \
    template void world_points_backward_cuda<T>(const T*, const T*, const int64_t*, const T*, const T*, const T*, int64_t, int, \
                                                const PointsTermTable<T>&, const PointsFlags<T>&, T*, T*, void*);
MASH_POINTS_INSTANTIATE(float)
MASH_POINTS_INSTANTIATE(double)

}  // namespace mash::ops::points
