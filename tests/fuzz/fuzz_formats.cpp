// SPDX-License-Identifier: MIT
// libFuzzer target for the readers exposed to files from anywhere: .npy, .npz (zip + deflate),
// pickled-dict .npy, torch.save archives (the input as a zip, and as the data.pkl of a zip
// with fixed storage records) and the original's joblib normalizer files. Any input must either parse or throw mash::Error —
// never crash, leak, overflow or hang. Build and run with scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/formats/npy.h"
#include "mash/formats/pickle.h"
#include "mash/formats/zip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace mash::formats;
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
    try {
        auto t = parse_torch_archive(data, size, "fuzz");
        (void)t.entries.size();
    } catch (const mash::Error&) {
    }
    try {  // the pickle VM in torch mode, with storages "0".."2" of 64 bytes each
        std::vector<ZipEntry> z;
        z.push_back({"archive/data.pkl", std::vector<uint8_t>(data, data + size)});
        for (const char* k : {"0", "1", "2"}) z.push_back({std::string("archive/data/") + k, std::vector<uint8_t>(64, 0x3f)});
        auto zip = write_zip(z, false);
        auto t = parse_torch_archive(zip.data(), zip.size(), "fuzz");
        (void)t.entries.size();
    } catch (const mash::Error&) {
    }
    try {
        check_pickle(data, size, "fuzz");
    } catch (const mash::Error&) {
    }
    try {
        auto cols = parse_joblib_multi_linear(data, size, "fuzz");
        (void)cols.size();
    } catch (const mash::Error&) {
    }
    return 0;
}
