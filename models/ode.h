// SPDX-License-Identifier: MIT
// ODE solvers of the flow-matching sampler (generation-spec §4.3): Euler, Heun, and torchdiffeq
// 0.2.5's adaptive dopri5 reproduced operation for operation; frozen rows for completion (§4.4).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/train_config.h"

namespace mash::models {

/// dx/dt = f(x, t)
using VelocityFn = std::function<at::Tensor(const at::Tensor& x, double t)>;
struct OdeStats {
    int64_t nfe = 0, accepted = 0, rejected = 0;
};
/// Integrates from t = 0 to 1. Euler/Heun: `steps` fixed steps. Dopri5: odeint_dopri5 with the
/// query times {0, 1}. Throws InputError if dopri5 needs more than max_steps steps.
at::Tensor integrate(const VelocityFn& f, const at::Tensor& x0, Solver solver, int64_t steps, double rtol, double atol,
                     OdeStats* stats = nullptr, int64_t max_steps = 10000);
/// torchdiffeq 0.2.5's `odeint(f, x0, query_t, rtol, atol, method='dopri5')`: adaptive Dormand–Prince
/// 5(4) with its error weights, initial step, step-size controller (RMS norm, safety 0.9, growth
/// <= 10x, shrink >= 0.2x) and dense output, stepping past a query time and interpolating there.
/// Returns the state at each query time (the first is x0). f sees t rounded to x0's dtype.
std::vector<at::Tensor> odeint_dopri5(const VelocityFn& f, const at::Tensor& x0, const at::Tensor& query_t, double rtol,
                                      double atol, OdeStats* stats = nullptr, int64_t max_steps = 10000);

/// Fixed anchors: rows [0, K) of every sample are frozen. For flow matching the velocity rows are
/// zeroed (Euler/Heun keep them bit-exact, dopri5's interpolation moves them by rounding, a few
/// ulp; samplers copy them back); EDM re-noises them to GT + σ·ε before each call and restores
/// them exactly at the end.
VelocityFn freeze_rows(VelocityFn f, int64_t K);

}  // namespace mash::models
