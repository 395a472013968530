// SPDX-License-Identifier: MIT
// Shared by the libFuzzer targets: readers that take a path get the input through a file in
// /dev/shm (one per process and extension), and anything but mash::Error escaping is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace mash::fuzz {

/// Writes the bytes to a per-process scratch file with the given extension; returns its path.
inline std::string scratch_file(const uint8_t* data, size_t size, const std::string& ext) {
    const std::string path = "/dev/shm/mash_fuzz_" + std::to_string(::getpid()) + ext;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) __builtin_trap();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}

}  // namespace mash::fuzz
