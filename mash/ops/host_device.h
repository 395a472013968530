// SPDX-License-Identifier: MIT
// mash/ops: one folder per op. A hot op's per-element math is written once as MASH_HOST_DEVICE
// functions in its folder's *_math.h (torch-free headers), included by both its CPU kernel (.cpp)
// and its CUDA kernel (.cu); only the launch and the parallel decomposition differ between
// devices. This header: the macro and the unfused float helpers every *_math.h uses.
#pragma once

#if defined(__CUDACC__)
#define MASH_HOST_DEVICE __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Always inlined on the host: the CPU kernels call these on GCC vector types inside
// target_clones (AVX2) functions, where an out-of-line call would pass vectors by memory.
#define MASH_HOST_DEVICE inline __attribute__((always_inline))
#else
#define MASH_HOST_DEVICE inline
#endif

namespace mash::ops {

/// Products and sums rounded exactly as written (no fused multiply-add): nvcc contracts a*b+c
/// into an FMA by default, g++ (-std=c++17) does not, and kernels whose CPU and CUDA versions
/// must agree bit for bit (FPS selection order) use these.
#if defined(__CUDA_ARCH__)
__device__ inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
#else
template <typename T>
MASH_HOST_DEVICE T mul_rn(T a, T b) {
    return a * b;
}
template <typename T>
MASH_HOST_DEVICE T add_rn(T a, T b) {
    return a + b;
}
#endif

/// Squared distance ((dx·dx + dy·dy) + dz·dz), rounded as written on every device (FPS, NN).
template <typename T>
MASH_HOST_DEVICE T sq_dist_rn(T x, T y, T z, T cx, T cy, T cz) {
    const T dx = x - cx, dy = y - cy, dz = z - cz;
    return add_rn(add_rn(mul_rn(dx, dx), mul_rn(dy, dy)), mul_rn(dz, dz));
}

}  // namespace mash::ops
