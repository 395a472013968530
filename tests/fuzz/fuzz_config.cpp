// SPDX-License-Identifier: MIT
// libFuzzer target for the strict YAML config loaders: `fit:` (mash fit, fit-dataset),
// `dataset:` (fit-dataset) and the generator's train config (data/model/objective/train/sample).
// Any input must parse or throw mash::Error (ConfigError naming the source) — a yaml-cpp
// exception, crash, leak or hang is a finding. Build and run with scripts/fuzz.sh config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mash/core/errors.h"
#include "mash/dataset/dataset.h"
#include "mash/fitting/fit_options.h"
#include "models/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        mash::fitting::FitOptions o;
        mash::fitting::parse_fit_config(text, "fuzz.yaml", o, {"dataset"});
        (void)mash::fitting::fit_options_yaml(o);
    } catch (const mash::Error&) {
    }
    try {
        auto d = mash::dataset::parse_dataset_section(text, "fuzz.yaml");
        (void)d.categories.has_value();
    } catch (const mash::Error&) {
    }
    try {
        auto c = mash::models::parse_train_config(text, "fuzz.yaml", "/nonexistent");
        auto again = mash::models::parse_train_config(c.to_yaml(), "round trip", "/nonexistent");
        if (again.to_yaml() != c.to_yaml()) __builtin_trap();  // the resolved config must round-trip
    } catch (const mash::Error&) {
    }
    return 0;
}
