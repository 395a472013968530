// SPDX-License-Identifier: MIT
// The generator's trainer: data-parallel steps over a MashSet (models/train_data.h); the
// `mash train` loop around it is models/train_run.h.
//
// Randomness: step s draws everything (batch, anchor permutations, noise, t / σ, OT resampling,
// completion replacement, condition dropout) for the GLOBAL batch (batch_size × world_size) from a
// generator seeded by (seed, s); rank r takes rows [r·B, (r+1)·B). Hence N processes give the same
// updates as 1 process with the same global batch, and a resumed run continues exactly.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "models/train_config.h"
#include "models/train_data.h"

namespace mash::models {

struct Generator;

/// In-process trainer (tests, benchmarks). out_dir "" writes nothing.
class Trainer {
public:
    /// device: "cpu", "cuda" or "cuda:K". Data and random draws stay on the CPU (so runs are
    /// reproducible across devices up to float rounding); each step's batch is moved to the device.
    Trainer(const TrainConfig& cfg, const MashSet& train, const MashSet& val, const std::string& out_dir, int rank = 0,
            int world_size = 1, class ProcessGroup* pg = nullptr, const std::string& device = "cpu");
    ~Trainer();
    /// One optimizer step; returns the global mean loss of the step.
    double step();
    /// Mean validation loss (fixed seed, EMA weights).
    double validation_loss();
    int64_t steps_done() const;
    struct Timing {
        double data = 0, network = 0, ot = 0;  ///< seconds in the last step
    };
    Timing last_timing() const;
    void save_checkpoint(const std::string& path);
    void load_checkpoint(const std::string& path);  ///< weights, EMA, optimizer, step
    /// The model being trained (config, normalizer, raw and EMA weights).
    Generator& generator();
    /// The learning rate and EMA decay of optimizer step `step` (warm-up, schedule, ramp).
    double lr_at(int64_t step) const;
    double ema_decay_at(int64_t step) const;
    /// Image models: the condition tokens [num, T, C] of the first view of the first validation
    /// shapes (cycled), for preview samples.
    at::Tensor validation_image_tokens(int64_t num) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mash::models
