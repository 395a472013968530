// SPDX-License-Identifier: MIT
// Generative objectives over normalized token sets x [B, A, C] and the EDM sampler
// (generation-spec §3, §4.3, §4.4); the OT pairing is assignment.h, the flow-matching ODE
// solvers ode.h.
//
// Flow matching (the paper's): per shape, exact OT between its A noise tokens and A data tokens
// (cost ‖x0_i − x1_j‖² over all channels, a linear assignment), then A pairs drawn uniformly WITH
// replacement from the A matched pairs; x_t = t·x1' + (1−t)·x0', target u = x1' − x0', loss =
// mean (v − u)² (pair_draws = 0..A−1 in every row gives each matched pair once; ot = false pairs
// row i with row i, for models whose anchor rows are ordered slots). Completion trick: before the pairing, with p = clip(1.25U −
// 0.25, 0, 1) once per batch, every scalar of x0 whose uniform is < p is replaced by the data value. EDM (3DShape2VecSet): Karras
// preconditioning with σ_data = 1, ln σ ~ N(P_mean, P_std²), λ(σ) = (σ² + 1)/σ², Heun sampler with N steps and σ_N = 0 (2N − 1
// network calls).
//
// Every random number is an explicit input, so a data-parallel run can draw one global batch of
// randomness and give each rank its slice (which makes N processes equal to 1 process).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "models/ode.h"

namespace mash::models {

struct CfmDraws {
    at::Tensor x0;          ///< [B, A, C] standard normal
    at::Tensor t;           ///< [B] uniform [0,1)
    at::Tensor pair_draws;  ///< [B, A] int64 uniform in [0, A): which matched pair each slot takes
    at::Tensor replace_u;   ///< [B, A, C] uniform, or undefined (no completion trick)
    double replace_p = 0;   ///< p of the completion trick for this (global) batch
    bool ot = true;         ///< false: x0 row i is paired with x1 row i (no assignment, pair_draws unused)
};
struct CfmPairs {
    at::Tensor x_t, target, t;
    double ot_seconds = 0;  ///< time spent in the assignment (for the overhead benchmark)
};
/// x1 [B, A, C] normalized data → the flow-matching input/target pairs.
CfmPairs cfm_pairs(const at::Tensor& x1, const CfmDraws& draws);
/// p = clip(1.25·u − 0.25, 0, 1) (the "80 % of steps" rule).
double completion_probability(double u);

struct EdmOptions {
    double p_mean = -1.2, p_std = 1.2, sigma_data = 1.0;
    double sigma_min = 0.002, sigma_max = 80.0, rho = 7.0;
};
struct EdmScalings {
    at::Tensor c_skip, c_out, c_in, c_noise;
};
EdmScalings edm_scalings(const at::Tensor& sigma, double sigma_data);
/// λ(σ) = (σ² + σ_data²)/(σ·σ_data)²
at::Tensor edm_loss_weight(const at::Tensor& sigma, double sigma_data);
/// Karras σ schedule: N values from σ_max down to σ_min, then a final 0 (N+1 values, float64).
std::vector<double> edm_sigmas(int64_t steps, const EdmOptions& o);

/// EDM Heun sampler (deterministic, S_churn = 0). `denoise(x, sigma)` returns D(x; σ) for x in
/// float32; the state is float64. x_T = σ_max·noise. If fixed_values [K, C] is given, rows [0, K)
/// are re-noised before each call (GT + σ·fixed_noise) and set to GT at the end.
at::Tensor edm_sample(const std::function<at::Tensor(const at::Tensor&, double)>& denoise, const at::Tensor& noise, int64_t steps,
                      const EdmOptions& o, const at::Tensor& fixed_values = {}, const at::Tensor& fixed_noise = {},
                      OdeStats* stats = nullptr);

}  // namespace mash::models
