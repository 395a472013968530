// SPDX-License-Identifier: MIT
// Zip archives (stored or deflate, CRC-32 checked, zip64 extra fields read; written without zip64).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mash::formats {

struct ZipEntry {
    std::string name;
    std::vector<uint8_t> data;
};
/// Reads every member of a zip archive (stored or deflate), verifying sizes and CRC-32.
std::vector<ZipEntry> read_zip(const uint8_t* bytes, size_t size, const std::string& what);
/// Writes a zip archive (no zip64: each member and the archive must stay below 4 GiB).
std::vector<uint8_t> write_zip(const std::vector<ZipEntry>& entries, bool deflate);

}  // namespace mash::formats
