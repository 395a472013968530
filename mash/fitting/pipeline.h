// SPDX-License-Identifier: MIT
// The whole "file → MASH" job shared by `mash fit` and `mash fit-dataset`: load, subsample,
// check, normalize, estimate normals, initialize, fit, and map back to the input's coordinates.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "mash/core/mash_params.h"
#include "mash/fitting/fit_options.h"
#include "mash/fitting/fitter.h"
#include "mash/fitting/init.h"

namespace mash::fitting {

struct FileFitResult {
    MashParams params;  ///< in the input's original coordinates
    FitResult fit;      ///< fit.params are in the normalized frame
    Normalization normalization;
    int64_t input_points = 0;
    bool input_is_mesh = false;
    double bbox_min[3] = {0, 0, 0}, bbox_max[3] = {0, 0, 0};  ///< of the points read, in the file's coordinates
    double prep_seconds = 0;
};

/// Loading, normalization, normals and the initialization run on the CPU; the optimization on
/// `device` ("cpu", "cuda", "cuda:1", ...). Throws IoError / InputError for bad input (naming
/// `input`), FitDivergedError on divergence.
FileFitResult fit_file(const std::string& input, const FitOptions& options, uint64_t seed,
                       const std::function<void(const FitStep&)>& on_step = {}, const std::string& device = "cpu");

}  // namespace mash::fitting
