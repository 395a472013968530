// SPDX-License-Identifier: MIT
// libFuzzer target for the JSON readers: the generator's normalizer.json and the fit-dataset
// manifest (resume, --merge). Any input must parse or throw mash::Error; what parses must
// survive a write/read round trip. Build and run with scripts/fuzz.sh json.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mash/core/errors.h"
#include "mash/dataset/dataset.h"
#include "models/normalizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        auto q = mash::models::QuantileNormalizer::from_json(text, "fuzz.json");
        auto again = mash::models::QuantileNormalizer::from_json(q.to_json(), "round trip");
        if (again.to_json() != q.to_json()) __builtin_trap();
    } catch (const mash::Error&) {
    }
    int64_t malformed = 0;
    auto lines = mash::dataset::parse_manifest(text, &malformed);
    std::string out;
    for (const auto& l : lines) out += l.to_json() + "\n";
    int64_t malformed2 = 0;
    auto again = mash::dataset::parse_manifest(out, &malformed2);
    if (malformed2 != 0 || again.size() != lines.size()) __builtin_trap();  // what we write, we read
    return 0;
}
