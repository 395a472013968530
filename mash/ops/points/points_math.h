// SPDX-License-Identifier: MIT
// The per-sample math of the fused world-points op (spec §5 steps 1–5), written once for the CPU
// kernel (points.cpp) and the CUDA kernel (points_cuda.cu):
//   r = [relu](Σ_k c_k Y_k(θ,φ)),  q = r·u(θ,φ),  [q ← anchored inversion],  P = p + R·q,
// forward and analytic backward (gradients to c, R, p and θ; φ is never differentiated).
// Degenerate policy: ρ = W0·c0 is clamped to rho_min; ‖q − C‖² to FLT_MIN.
#pragma once
#include <cmath>
#include <cstdint>

#include "mash/ops/host_device.h"

namespace mash::ops::points {

constexpr int kPointsMaxDegree = 6;                                                ///< L ≤ 6
constexpr int kPointsMaxCoeffs = (kPointsMaxDegree + 1) * (kPointsMaxDegree + 1);  ///< 49

/// One real SH basis function as a polynomial in cos θ times sin^|m| θ · trig(mφ), weight w
/// (the terms of mash/ops/sh/sh.h, converted to T).
template <typename T>
struct ShTermT {
    int m, am;
    T w;
    T c[kPointsMaxDegree + 1];
};

/// The (L+1)² terms of one degree, by value (a CUDA kernel takes it as a parameter: ≤ 3.6 KB).
template <typename T>
struct PointsTermTable {
    ShTermT<T> t[kPointsMaxCoeffs];
};

/// Settings of one call. W0 = the weight of Y_00, rho_min = the inversion clamp.
template <typename T>
struct PointsFlags {
    int L;
    bool inv, relu;
    T W0, rho_min;
};

template <typename T>
MASH_HOST_DEVICE T pm_cos(T x) {
#if defined(__CUDA_ARCH__)
    return ::cos(x);
#else
    return std::cos(x);
#endif
}
template <typename T>
MASH_HOST_DEVICE T pm_sin(T x) {
#if defined(__CUDA_ARCH__)
    return ::sin(x);
#else
    return std::sin(x);
#endif
}

/// Basis values Y[k] (and dY/dθ if dY != nullptr) at one direction (cos/sin of θ and φ).
template <typename T>
MASH_HOST_DEVICE void pm_basis(T ct, T st, T cp, T sp, int L, const ShTermT<T>* terms, int K, T* Y, T* dY) {
    T xp[kPointsMaxDegree + 2], sp_[kPointsMaxDegree + 2], cm[kPointsMaxDegree + 2], sm[kPointsMaxDegree + 2];
    xp[0] = 1;
    sp_[0] = 1;
    cm[0] = 1;
    sm[0] = 0;
    for (int j = 1; j <= L; ++j) {
        xp[j] = xp[j - 1] * ct;
        sp_[j] = sp_[j - 1] * st;
        cm[j] = cm[j - 1] * cp - sm[j - 1] * sp;
        sm[j] = sm[j - 1] * cp + cm[j - 1] * sp;
    }
    for (int k = 0; k < K; ++k) {
        const ShTermT<T>& t = terms[k];
        T Q = 0, Qp = 0;
        for (int j = 0; j <= L; ++j) Q += t.c[j] * xp[j];
        const T trig = t.m > 0 ? cm[t.am] : (t.m < 0 ? sm[t.am] : T(1));
        const T Tv = trig * sp_[t.am];
        Y[k] = t.w * Tv * Q;
        if (dY) {
            for (int j = 1; j <= L; ++j) Qp += T(j) * t.c[j] * xp[j - 1];
            const T dT = t.am > 0 ? trig * T(t.am) * sp_[t.am - 1] * ct : T(0);
            dY[k] = t.w * (dT * Q - Tv * Qp * st);
        }
    }
}

/// Steps 1–3 for one sample, with the intermediates the backward pass needs.
template <typename T>
struct LocalPointT {
    T s, r;           ///< raw SH sum and the (ReLU'd) distance
    T u[3];           ///< direction
    T v[3], d2, fac;  ///< inversion: v = q − C, ‖v‖², 4ρ²/‖v‖²
    T rho;
    bool rho_active;  ///< ρ = W0·c0 (not clamped), so ∂ρ/∂c0 = W0
    T qf[3];          ///< final local point
};

template <typename T>
MASH_HOST_DEVICE LocalPointT<T> pm_local_point(const T* c, const T* Y, int K, T ct, T st, T cp, T sp, const PointsFlags<T>& f) {
    const T d2_min = T(1.17549435082228750797e-38);  // FLT_MIN
    LocalPointT<T> lp;
    lp.s = 0;
    for (int k = 0; k < K; ++k) lp.s += c[k] * Y[k];
    lp.r = f.relu ? (lp.s > 0 ? lp.s : T(0)) : lp.s;
    lp.u[0] = cp * st;
    lp.u[1] = sp * st;
    lp.u[2] = ct;
    for (int l = 0; l < 3; ++l) lp.qf[l] = lp.r * lp.u[l];
    lp.rho = 0;
    lp.d2 = 1;
    lp.fac = 1;
    lp.v[0] = lp.v[1] = lp.v[2] = 0;
    lp.rho_active = f.inv && f.W0 * c[0] > f.rho_min;
    if (f.inv) {
        const T rho = f.W0 * c[0];
        lp.rho = rho > f.rho_min ? rho : f.rho_min;
        lp.v[0] = lp.qf[0];
        lp.v[1] = lp.qf[1];
        lp.v[2] = lp.qf[2] + lp.rho;
        const T d2 = lp.v[0] * lp.v[0] + lp.v[1] * lp.v[1] + lp.v[2] * lp.v[2];
        lp.d2 = d2 > d2_min ? d2 : d2_min;
        lp.fac = T(4) * lp.rho * lp.rho / lp.d2;
        lp.qf[0] = lp.fac * lp.v[0];
        lp.qf[1] = lp.fac * lp.v[1];
        lp.qf[2] = lp.fac * lp.v[2] - lp.rho;
    }
    return lp;
}

/// Forward of one sample: c = the anchor's SH coefficients [K], Ra = its rotation (row-major
/// 3×3, local → world), pa = its position [3]; writes the world point to out[3].
template <typename T>
MASH_HOST_DEVICE void pm_forward(const T* c, const T* Ra, const T* pa, T th, T ph, const ShTermT<T>* terms, int K,
                                 const PointsFlags<T>& f, T* out) {
    T Y[kPointsMaxCoeffs];
    const T ct = pm_cos(th), st = pm_sin(th), cp = pm_cos(ph), sp = pm_sin(ph);
    pm_basis<T>(ct, st, cp, sp, f.L, terms, K, Y, nullptr);
    const auto lp = pm_local_point<T>(c, Y, K, ct, st, cp, sp, f);
    const T* q = lp.qf;
    for (int j = 0; j < 3; ++j) out[j] = pa[j] + Ra[3 * j] * q[0] + Ra[3 * j + 1] * q[1] + Ra[3 * j + 2] * q[2];
}

/// Backward of one sample with upstream gradient g[3]: adds ∂/∂c to gc[K], ∂/∂R to gR[9] and
/// ∂/∂p to gpos[3] (accumulators), and returns ∂/∂θ.
template <typename T>
MASH_HOST_DEVICE T pm_backward(const T* c, const T* Ra, T th, T ph, const T* g, const ShTermT<T>* terms, int K,
                               const PointsFlags<T>& f, T* gc, T* gR, T* gpos) {
    T Y[kPointsMaxCoeffs], dY[kPointsMaxCoeffs];
    const T ct = pm_cos(th), st = pm_sin(th), cp = pm_cos(ph), sp = pm_sin(ph);
    pm_basis<T>(ct, st, cp, sp, f.L, terms, K, Y, dY);
    const auto lp = pm_local_point<T>(c, Y, K, ct, st, cp, sp, f);
    const T s = lp.s, r = lp.r, rho = lp.rho, d2 = lp.d2, fac = lp.fac;
    const T* u = lp.u;
    const T* v = lp.v;
    const T* qf = lp.qf;
    for (int j = 0; j < 3; ++j) {
        gpos[j] += g[j];
        for (int l = 0; l < 3; ++l) gR[3 * j + l] += g[j] * qf[l];
    }
    T gq[3];
    for (int l = 0; l < 3; ++l) gq[l] = Ra[l] * g[0] + Ra[3 + l] * g[1] + Ra[6 + l] * g[2];  // Rᵀ g
    T g_rho = 0;
    if (f.inv) {
        const T vg = v[0] * gq[0] + v[1] * gq[1] + v[2] * gq[2];
        T gv[3];
        for (int l = 0; l < 3; ++l) gv[l] = fac * (gq[l] - T(2) * v[l] * vg / d2);
        g_rho = -gq[2] + T(8) * rho / d2 * vg + gv[2];
        for (int l = 0; l < 3; ++l) gq[l] = gv[l];
    }
    const T gr = u[0] * gq[0] + u[1] * gq[1] + u[2] * gq[2];
    const T gs = f.relu ? (s > 0 ? gr : T(0)) : gr;
    T gtheta = 0;
    for (int k = 0; k < K; ++k) {
        gc[k] += gs * Y[k];
        gtheta += c[k] * dY[k];
    }
    if (lp.rho_active) gc[0] += g_rho * f.W0;
    gtheta *= gs;
    gtheta += r * (gq[0] * cp * ct + gq[1] * sp * ct - gq[2] * st);
    return gtheta;
}

}  // namespace mash::ops::points
