// SPDX-License-Identifier: MIT
#include "mash/mesh/patches.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "mash/core/errors.h"
#include "mash/mesh/surface_detail.h"
#include "mash/representation/mash.h"

namespace mash::mesh {
using detail::as_vector;
using detail::kF64;

OrientedSamples patch_samples(const MashParams& params, int64_t P, int64_t T) {
    params.validate("patch_samples");
    if (P < 3 || T < 2) throw InputError("patch_samples: need at least a 3x2 grid");
    Mash m = make_mash(params, {}, kF64);
    at::NoGradGuard ng;
    auto g = m->grid_points(P, T, true);  // [A, P, T, 3]
    const int64_t A = g.size(0);
    // Central differences: φ is periodic; θ one-sided at the ends.
    auto dphi = g.roll(-1, 1) - g.roll(1, 1);
    auto dth = at::cat({g.narrow(2, 1, 1) - g.narrow(2, 0, 1), g.narrow(2, 2, T - 2) - g.narrow(2, 0, T - 2),
                        g.narrow(2, T - 1, 1) - g.narrow(2, T - 2, 1)},
                       2);
    auto n = at::linalg_cross(dth, dphi, -1);
    auto norm = n.norm(2, -1, true);
    n = at::where(norm > 1e-20, n / norm.clamp_min(1e-300), at::zeros_like(n));
    OrientedSamples s;
    s.grid_phi = P;
    s.grid_theta = T;
    s.points = as_vector(g.reshape({-1, 3}));
    s.normals = as_vector(n.reshape({-1, 3}));
    s.anchor.resize(A * P * T);
    s.fraction.resize(A * P * T);
    for (int64_t a = 0; a < A; ++a)
        for (int64_t p = 0; p < P; ++p)
            for (int64_t q = 0; q < T; ++q) {
                const int64_t i = (a * P + p) * T + q;
                s.anchor[i] = a;
                s.fraction[i] = double(q + 1) / double(T);
            }
    return s;
}

}  // namespace mash::mesh
