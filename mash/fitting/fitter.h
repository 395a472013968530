// SPDX-License-Identifier: MIT
// Fitting a MASH to a point set by differentiable optimization (spec §6): the optimizer, the
// loss schedule and the NaN policy. Works in the normalized frame; the caller maps back.
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/mash_params.h"
#include "mash/fitting/fit_options.h"

namespace mash::fitting {

/// Thrown when the loss becomes non-finite: names the step and the last finite loss.
class FitDivergedError : public Error {
public:
    explicit FitDivergedError(const std::string& msg) : Error(msg) {}
};

/// One optimization step, for progress output and the loss curve.
struct FitStep {
    int64_t step = 0;   ///< 1-based
    std::string stage;  ///< "warmup", "adapt i/n", "decay k"
    double lr = 0;
    double loss = 0;                                  ///< weighted total
    double fit = 0, coverage_loss = 0, boundary = 0;  ///< soft-L1 terms (with the ε floor)
    double w_fit = 0, w_cov = 0, w_bc = 0;
    double coverage = 0;  ///< fraction of GT points within coverage_tau of a sample
    int64_t num_samples = 0;
    double elapsed = 0;   ///< seconds since the start
    double progress = 0;  ///< rough fraction of the schedule done (for ETA)
};

/// Chamfer metrics between point sets (normalized frame).
struct PointMetrics {
    double l1_cd = 0;                              ///< ½(mean‖s−g‖ + mean‖g−s‖)
    double l2_cd = 0;                              ///< ½(mean‖s−g‖² + mean‖g−s‖²)
    double precision = 0, recall = 0, fscore = 0;  ///< at tau
    double tau = 0;
};
/// Exact metrics between two point sets [N,3], [M,3] (KD-tree on CPU).
PointMetrics point_metrics(const at::Tensor& pred, const at::Tensor& gt, double tau);

struct FitResult {
    MashParams params;  ///< fitted, normalized frame
    int64_t steps = 0;
    double seconds = 0;
    FitStep last;
    std::vector<FitStep> history;
    PointMetrics metrics;                                                              ///< MASH samples vs GT, normalized frame
    double time_sampling = 0, time_chamfer = 0, time_boundary = 0, time_backward = 0;  ///< seconds
};

/// gt: [G,3] float32 normalized GT points (any device); init: the initial MASH (normalized frame).
/// The optimization runs on `device` (the module, the GT copy, the nearest-neighbour searches:
/// KD-tree on the CPU, the exact CUDA kernels on a GPU); one host synchronisation per step reads
/// the loss and the progress scalars the schedule needs. On a GPU the per-phase times in
/// FitResult are host launch times, not kernel times (only `seconds` is wall time).
/// on_step is called after every step (may be empty). Throws FitDivergedError.
/// gt_normals [G,3] (any sign) serve the surfel distance (options.surfel_radius > 0); when not
/// given they are PCA normals of gt (options.normal_knn neighbours).
FitResult fit_mash(const at::Tensor& gt, const MashParams& init, const FitOptions& options,
                   const std::function<void(const FitStep&)>& on_step = {}, c10::Device device = c10::kCPU,
                   const at::Tensor& gt_normals = {});

/// fit_mash one step at a time, for callers that drive the loop themselves:
///   Fitter f(gt, init, options);
///   while (auto s = f.step()) show(*s);
///   FitResult r = f.finish();
/// The same arguments, steps and results as fit_mash (which is this loop).
class Fitter {
public:
    Fitter(const at::Tensor& gt, const MashParams& init, const FitOptions& options, c10::Device device = c10::kCPU,
           const at::Tensor& gt_normals = {});
    ~Fitter();
    Fitter(const Fitter&) = delete;
    Fitter& operator=(const Fitter&) = delete;
    /// One optimization step of the schedule (spec §6.5); nothing once the schedule is over
    /// (max_steps, or the last stage ended). Throws FitDivergedError.
    std::optional<FitStep> step();
    /// The fitted MASH, its metrics against gt, the history and the timings.
    FitResult finish();

private:
    struct State;
    std::unique_ptr<State> s_;
};

/// Farthest-point subset of `points` [P,3]: k indices, starting at index 0 (spec §7).
std::vector<int64_t> farthest_point_indices(const std::vector<double>& points, int64_t k);

}  // namespace mash::fitting
