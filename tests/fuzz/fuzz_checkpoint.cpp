// SPDX-License-Identifier: MIT
// libFuzzer target for the generator checkpoint loader (`mash generate/eval-net/train --resume`):
// a LibTorch archive holding the weights, the stored config, the normalizer and the categories.
// Any input must load or throw an IoError whose text says "not a usable mash generator
// checkpoint" — never a crash, an abort or another exception. Build and run with
// scripts/fuzz.sh checkpoint.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mash/core/errors.h"
#include "models/generator.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = mash::fuzz::scratch_file(data, size, ".pt");
    try {
        auto g = mash::models::Generator::load(path);
        (void)g.num_anchors;
    } catch (const mash::IoError& e) {
        if (std::string(e.what()).find("not a usable mash generator checkpoint") == std::string::npos) __builtin_trap();
    }
    return 0;
}
