// SPDX-License-Identifier: MIT
// Every knob of `mash fit`, with its default. This struct is the one source of truth: YAML files
// under configs/fit/ list only overrides (section `fit:`, keys spelled as the fields below) and
// `--set key=value` edits single fields. Defaults follow the paper-era code (spec §1.3, §6, §7)
// except where noted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mash::fitting {

struct FitOptions {
    // Representation (spec §1.3).
    int64_t num_anchors = 400;      ///< A
    int64_t mask_degree = 3;        ///< K
    int64_t sh_degree = 2;          ///< L
    int64_t num_directions = 1000;  ///< N Fibonacci directions
    int64_t num_boundary = 90;      ///< B boundary samples per anchor
    double fps_scale = 0.8;         ///< in-mask rays kept per anchor
    bool use_inverse = true;

    // Input. The original samples 400k GT points; 100k keeps the L1-CD within noise of it on our
    // benchmark shapes at a quarter of the nearest-neighbour cost.
    int64_t num_gt_points = 100000;  ///< surface samples of a mesh; clouds above this are FPS-reduced
    double surface_dist = 1e-3;      ///< initial anchor offset along the normal (paper-era 1e-3)
    int64_t normal_knn = 30;         ///< neighbours for PCA normals of point clouds (init.h estimate_normals)

    // Optimizer: AdamW (β = 0.9, 0.999; ε = 1e-8).
    double lr = 2e-3;
    double min_lr = 1e-3;
    double weight_decay = 0.01;

    // Schedule (spec §6.5): warm-up, adaptive-loss epochs, lr-decay epochs; an epoch ends after
    // `patience` consecutive steps that do not improve its best loss (or max_epoch_steps).
    int64_t warmup_steps = 80;
    int64_t adaptive_epochs = 4;
    double lr_decay = 0.8;
    int64_t patience = 2;
    int64_t max_epoch_steps = 500;
    int64_t max_steps = 10000;  ///< hard cap on the total number of steps
    double fit_weight = 1.0;
    double coverage_weight_start = 0.5;  ///< rises linearly to 1 over the adaptive epochs
    double boundary_weight_max = 0.1;    ///< w_bc = (0.1 + 0.9 t)·max, then max/k while decaying
    double eps = 1e-6;                   ///< ε inside every sqrt of the L1 terms
    /// 0 (the paper): the fit term is each sample's distance to its nearest GT point. r > 0: its
    /// distance to that point's surfel — the disc in the GT point's tangent plane (normal: the
    /// input's, else PCA over normal_knn) of radius r × the point's local spacing (mean distance
    /// to its 4 nearest GT points). A sample then is not pulled along the surface toward the GT
    /// point itself, only onto the surface the points sample (for sparse inputs). Not the default.
    double surfel_radius = 0.0;

    // Reporting.
    double coverage_tau = 0.01;  ///< GT point is "covered" if a sample lies within this distance
    double fscore_tau = 0.01;    ///< F-score threshold in the normalized frame (report)
    int64_t log_every = 20;      ///< steps between plain-text progress lines (non-TTY)

    /// Throws ConfigError naming the field and the expected range.
    void validate() const;
};

/// Reads `fit:` overrides from a YAML file onto `options`. Unknown keys are errors; so are
/// sections other than `fit` and those listed in `other_sections` (read by other parsers).
void load_fit_config(const std::string& path, FitOptions& options, const std::vector<std::string>& other_sections = {});
/// The same from YAML text; `what` names the source in errors.
void parse_fit_config(const std::string& text, const std::string& what, FitOptions& options,
                      const std::vector<std::string>& other_sections = {});
/// Applies one "key=value" (or "fit.key=value") override; unknown keys / bad values are errors.
void apply_fit_override(const std::string& assignment, FitOptions& options);
/// The options as YAML (all fields), e.g. for the resolved config written next to outputs.
std::string fit_options_yaml(const FitOptions& options);
/// Names of every field, in declaration order.
std::vector<std::string> fit_option_names();

}  // namespace mash::fitting
