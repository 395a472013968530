// SPDX-License-Identifier: MIT
// Generative objectives and samplers over normalized token sets x [B, A, C]
// (generation-spec §3, §4.3, §4.4).
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

namespace mash::models {

enum class Objective { kFlowMatching, kEdm };
Objective parse_objective(const std::string& s, const std::string& what);
std::string to_string(Objective o);

/// Exact linear assignment: cost [n, n] row-major → assignment[row] = column minimizing the total
/// cost. Jonker–Volgenant initialization (column reduction, augmenting row reduction) followed by
/// shortest augmenting paths with potentials (O(n³) worst case).
std::vector<int64_t> linear_assignment(const double* cost, int64_t n);
/// Reference: plain Kuhn–Munkres (shortest augmenting paths from an empty matching), for tests.
std::vector<int64_t> linear_assignment_ref(const double* cost, int64_t n);

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

/// dx/dt = f(x, t)
using VelocityFn = std::function<at::Tensor(const at::Tensor& x, double t)>;
struct OdeStats {
    int64_t nfe = 0, accepted = 0, rejected = 0;
};
enum class Solver { kEuler, kHeun, kDopri5 };
Solver parse_solver(const std::string& s, const std::string& what);
std::string to_string(Solver s);
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

/// EDM Heun sampler (deterministic, S_churn = 0). `denoise(x, sigma)` returns D(x; σ) for x in
/// float32; the state is float64. x_T = σ_max·noise. If fixed_values [K, C] is given, rows [0, K)
/// are re-noised before each call (GT + σ·fixed_noise) and set to GT at the end.
at::Tensor edm_sample(const std::function<at::Tensor(const at::Tensor&, double)>& denoise, const at::Tensor& noise, int64_t steps,
                      const EdmOptions& o, const at::Tensor& fixed_values = {}, const at::Tensor& fixed_noise = {},
                      OdeStats* stats = nullptr);

}  // namespace mash::models
