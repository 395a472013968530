// SPDX-License-Identifier: MIT
// Generalized winding number of an oriented point set (Barill et al. 2018): each sample is a
// dipole μ = area · normal, and w(q) = Σ_j μ_j·(p_j − q) / (4π |p_j − q|³). The per-term math,
// written once for the CPU treecode (mash/mesh/winding.cpp) and a future CUDA launch.
#pragma once
#include <cmath>

#include "mash/ops/host_device.h"

namespace mash::mesh {

constexpr double kInvFourPi = 0.079577471545947667884;  // 1 / (4π)

/// One dipole's contribution at q, regularized inside radius eps (|p − q| is replaced by
/// max(|p − q|, eps), as in WNNC, Lin et al. 2024): a sample contributes 0 at its own position.
template <typename T>
MASH_HOST_DEVICE T winding_dipole(T px, T py, T pz, T mx, T my, T mz, T qx, T qy, T qz, T eps) {
    const T dx = px - qx, dy = py - qy, dz = pz - qz;
    T r2 = dx * dx + dy * dy + dz * dz;
    if (r2 < eps * eps) r2 = eps * eps;
    if (!(r2 > T(0))) return T(0);
    const T r = std::sqrt(r2);
    return (mx * dx + my * dy + mz * dz) / (r2 * r) * T(kInvFourPi);
}

/// A cluster's far field at q to second order in the offsets d_j = p_j − c from its centre c
/// (Barill et al.'s order 2): M·F(x) + Σ_kl J_kl C_kl + ½ Σ_klm H_klm D_klm with x = c − q,
/// M = Σ μ_j, C_kl = Σ_j μ_jk d_jl, D_klm = Σ_j μ_jk d_jl d_jm, F(x) = x / (4π|x|³),
/// J = ∂F/∂x = (I/|x|³ − 3 x xᵀ/|x|⁵) / (4π) and H_klm = ∂²F_k/∂x_l∂x_m. D may be null (first order).
template <typename T>
MASH_HOST_DEVICE T winding_cluster(const T* c, const T* M, const T* C, const T* D, T qx, T qy, T qz) {
    const T x0 = c[0] - qx, x1 = c[1] - qy, x2 = c[2] - qz;
    const T r2 = x0 * x0 + x1 * x1 + x2 * x2;
    const T r = std::sqrt(r2);
    const T ir3 = T(1) / (r2 * r), ir5 = ir3 / r2;
    const T dip = (M[0] * x0 + M[1] * x1 + M[2] * x2) * ir3;
    const T tr = C[0] + C[4] + C[8];
    const T xCx = x0 * (C[0] * x0 + C[1] * x1 + C[2] * x2) + x1 * (C[3] * x0 + C[4] * x1 + C[5] * x2) +
                  x2 * (C[6] * x0 + C[7] * x1 + C[8] * x2);
    T second = T(0);
    if (D) {
        // ½[−6 Σ_km x_m D_kkm − 3 Σ_k x_k Σ_l D_kll] / |x|⁵ + ½·15 Σ_klm x_k x_l x_m D_klm / |x|⁷
        const T x[3] = {x0, x1, x2};
        T a = T(0), b = T(0), cub = T(0);
        for (int k = 0; k < 3; ++k) {
            T trk = T(0);
            for (int l = 0; l < 3; ++l) {
                a += x[l] * D[9 * k + 3 * k + l];
                trk += D[9 * k + 3 * l + l];
                T inner = T(0);
                for (int m = 0; m < 3; ++m) inner += D[9 * k + 3 * l + m] * x[m];
                cub += x[k] * x[l] * inner;
            }
            b += x[k] * trk;
        }
        second = T(0.5) * ((T(-6) * a - T(3) * b) * ir5 + T(15) * cub * ir5 / r2);
    }
    return (dip + tr * ir3 - T(3) * xCx * ir5 + second) * T(kInvFourPi);
}

}  // namespace mash::mesh
