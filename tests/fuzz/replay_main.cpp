// SPDX-License-Identifier: MIT
// Runs a fuzz target's LLVMFuzzerTestOneInput on saved inputs, without libFuzzer: the default
// test suite replays every crash input found so far (tests/fuzz/regressions/<target>/) and the
// seed corpus (tests/fuzz/seeds/<target>/) this way, compiled with the normal compiler.
//   replay_<target> FILE_OR_FOLDER...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    int64_t n = 0;
    for (int i = 1; i < argc; ++i) {
        std::vector<fs::path> files;
        if (fs::is_directory(argv[i])) {
            for (const auto& e : fs::recursive_directory_iterator(argv[i]))
                if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
        } else if (fs::is_regular_file(argv[i])) {
            files.push_back(argv[i]);
        } else {
            std::fprintf(stderr, "error: %s: no such file or folder (expected saved fuzz inputs)\n", argv[i]);
            return 2;
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::printf("replay %s (%zu bytes)\n", f.string().c_str(), bytes.size());
            std::fflush(stdout);
            LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
            ++n;
        }
    }
    std::printf("replayed %ld inputs, no finding\n", long(n));
    return n > 0 ? 0 : 1;
}
