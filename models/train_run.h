// SPDX-License-Identifier: MIT
// `mash train`: the run loop around the Trainer (all ranks call run_training).
#pragma once
#include <string>
#include <vector>

namespace mash::models {

struct TrainRun {
    std::string config_path;  ///< YAML (may be empty when resuming: the checkpoint's config is used)
    std::string output_dir;   ///< "" = <config folder>/out
    bool resume = false;
    std::vector<std::string> overrides;  ///< section.key=value
    std::string device = "cpu";          ///< "cpu" or "cuda" (with several processes: cuda:LOCAL_RANK)
};
/// Runs training (all ranks call it). Returns the process exit code.
int run_training(const TrainRun& run);

}  // namespace mash::models
