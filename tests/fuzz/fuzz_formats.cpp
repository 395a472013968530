// SPDX-License-Identifier: MIT
// libFuzzer target for the readers exposed to files from anywhere: .npy, .npz (zip + deflate)
// and pickled-dict .npy. Any input must either parse or throw mash::Error — never crash, leak,
// overflow or hang. Build and run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "mash/core/errors.h"
#include "mash/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace mash::io;
    try {
        auto a = parse_npy(data, size, "fuzz");
        (void)a.to_double();
        (void)serialize_npy(a);
    } catch (const mash::Error&) {
    }
    try {
        auto arrays = parse_npz(data, size, "fuzz");
        (void)serialize_npz(arrays, false);
    } catch (const mash::Error&) {
    }
    try {
        auto d = parse_pickled_dict_npy(data, size, "fuzz");
        (void)serialize_pickled_dict_npy(d);
    } catch (const mash::Error&) {
    }
    return 0;
}
