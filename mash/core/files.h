// SPDX-License-Identifier: MIT
// Whole-file helpers used by every command (torch-free): reading, atomic writing, extensions.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mash {

/// Whole-file helpers. read_file throws IoError naming the path; write_file_atomic writes to a
/// temporary file in the same directory and renames it, so readers never see a partial file.
std::vector<uint8_t> read_file(const std::string& path);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);
/// Atomic write through a writer that takes a file name (e.g. an Open3D writer): `writer` gets a
/// temporary path in the target's directory with the same extension and returns success; the
/// file is then renamed over `path`. Throws IoError("<path>: cannot write <what>") on failure and
/// leaves nothing behind.
void write_atomically(const std::string& path, const std::string& what,
                      const std::function<bool(const std::string& tmp_path)>& writer);
/// The lower-cased extension with its dot (".ply"), or "".
std::string lower_extension(const std::string& path);

}  // namespace mash
