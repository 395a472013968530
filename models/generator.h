// SPDX-License-Identifier: MIT
// A trained generator: config, normalizer, category names, raw and EMA denoisers; checkpoints
// and sampling (flow matching: Euler/Heun/dopri5; EDM: Heun), with frozen anchors for completion
// and blending (generation-spec §4.4).
//
// Checkpoint (`checkpoint.pt`, a LibTorch archive written atomically): sub-archives `model`, `ema`,
// `optimizer` (AdamW moments and step counts), and `meta`: format "mash-generator-checkpoint",
// version, step, resolved config YAML, normalizer JSON, category names (JSON), anchors, token
// layout. Everything needed to resume exactly or to generate.
#pragma once
#include <torch/nn.h>
#include <torch/optim.h>

#include <string>
#include <vector>

#include "models/denoiser.h"
#include "models/normalizer.h"
#include "models/ode.h"
#include "models/tokens.h"
#include "models/train_config.h"

namespace mash::models {

struct Generator {
    TrainConfig config;
    QuantileNormalizer normalizer;
    std::vector<std::string> categories;
    TokenLayout layout;
    int64_t num_anchors = 400;
    int64_t step = 0;
    bool ema_only = false;  ///< loaded from an EMA-only file: `model` is a copy of `ema`
    Denoiser model{nullptr}, ema{nullptr};

    /// New (untrained) generator; EMA starts as a copy of the model. Seeded by config.seed.
    static Generator create(const TrainConfig& cfg, const TokenLayout& layout, int64_t num_anchors,
                            std::vector<std::string> categories, QuantileNormalizer normalizer);
    DenoiserOptions denoiser_options() const;
    /// Category index by name; throws InputError listing the known names.
    int64_t category_index(const std::string& name) const;

    /// Atomic save; `optimizer` may be null (then no optimizer state is stored). `ema_only`: the
    /// EMA weights alone (what sampling uses; a quarter of a resumable checkpoint's size), for
    /// sharing a trained model: it generates like the full checkpoint but cannot resume training.
    void save(const std::string& path, torch::optim::Optimizer* optimizer, bool ema_only = false) const;
    /// Loads; restores optimizer state when `optimizer` is given and the file has it. Throws
    /// IoError naming the file for anything that is not a complete generator checkpoint.
    static Generator load(const std::string& path);
    void load_optimizer(const std::string& path, torch::optim::Optimizer& optimizer) const;
};

struct SampleRequest {
    int64_t num = 1;
    std::vector<int64_t> categories;  ///< one per sample (category models), else empty
    at::Tensor image_tokens;          ///< [num, T, C] (image models)
    uint64_t seed = 0;
    at::Tensor fixed_tokens;       ///< [K, C] raw (un-normalized) float64 tokens of frozen anchors, or undefined
    std::optional<Solver> solver;  ///< unset: the config's
    int64_t steps = 0;             ///< 0 = config
    bool use_ema = true;
    at::Tensor noise;  ///< [num, A, C] starting noise (normalized space), or undefined: drawn from `seed`
};
struct SampleResult {
    at::Tensor tokens;      ///< [num, A, C] raw float64 (inverse-normalized)
    at::Tensor normalized;  ///< [num, A, C] float32 sampler output (fixed rows exact)
    OdeStats stats;
    double seconds = 0;
};
SampleResult sample(Generator& g, const SampleRequest& r);

/// The original's sampler on given noise: torchdiffeq's dopri5 (the checkpoint's rtol/atol) from
/// x_init [B, A, C] (normalized tokens) through query_t, with rows [0, fixed_rows) at zero velocity
/// (its sampleWithFixedAnchors; they keep x_init's values up to the dense output's rounding).
/// states[i] is the normalized state at query_t[i]. Flow-matching models without anchor slots.
struct OdeTrajectory {
    std::vector<at::Tensor> states;
    OdeStats stats;
};
OdeTrajectory sample_trajectory(Generator& g, const at::Tensor& x_init, const ConditionBatch& cond, const at::Tensor& query_t,
                                int64_t fixed_rows, bool use_ema);

}  // namespace mash::models
