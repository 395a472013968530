// SPDX-License-Identifier: MIT
#include "mash/core/files.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mash/core/errors.h"

namespace mash {

std::vector<uint8_t> read_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw IoError(path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a directory, expected a file");
    std::ifstream f(path, std::ios::binary);
    if (!f) throw IoError(path + ": cannot open for reading");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) throw IoError(path + ": read error");
    return bytes;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
    write_atomically(path, "file (disk full?)", [&](const std::string& tmp) {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        f.flush();
        return bool(f);
    });
}

void write_atomically(const std::string& path, const std::string& what, const std::function<bool(const std::string&)>& writer) {
    namespace fs = std::filesystem;
    fs::path target(path), dir = target.parent_path();
    std::error_code ec;
    if (!dir.empty() && !fs::exists(dir, ec)) throw IoError(path + ": directory " + dir.string() + " does not exist");
    if (!dir.empty() && !fs::is_directory(dir, ec))
        throw IoError(path + ": " + dir.string() + " is not a directory (expected an output folder)");
    fs::path tmp = dir / (".tmp" + std::to_string(::getpid()) + "-" + target.filename().string());
    bool ok = false;
    try {
        ok = writer(tmp.string());
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    if (ok) fs::rename(tmp, target, ec);
    if (!ok || ec) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw IoError(path + ": cannot write " + what + (ec ? " (" + ec.message() + ")" : ""));
    }
}

std::string lower_extension(const std::string& path) {
    std::string e = std::filesystem::path(path).extension().string();
    for (auto& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
    return e;
}

}  // namespace mash
