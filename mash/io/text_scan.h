// SPDX-License-Identifier: MIT
// Internal to the geometry readers (mash/io/*.cpp): lines of a byte buffer, the numbers and words
// of a line, declared counts, binary values in the machine's byte order, and the one-line IoError
// "<path>: <what>".
#pragma once
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mash/core/errors.h"

namespace mash::io::detail {

/// The value of type T stored at p in the machine's byte order (no alignment needed).
template <class T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

/// Iterates the lines of a byte buffer ('\n', '\r\n' or '\r' endings), with 1-based numbers.
class Lines {
public:
    explicit Lines(const std::vector<uint8_t>& b, size_t start = 0) : b_(b), pos_(start) {}
    bool next(std::string& line) {
        if (pos_ >= b_.size()) return false;
        size_t e = pos_;
        while (e < b_.size() && b_[e] != '\n' && b_[e] != '\r') ++e;
        line.assign(reinterpret_cast<const char*>(b_.data()) + pos_, e - pos_);
        if (e < b_.size() && b_[e] == '\r' && e + 1 < b_.size() && b_[e + 1] == '\n') ++e;
        pos_ = e + 1;
        ++number_;
        return true;
    }
    int64_t number() const { return number_; }
    size_t offset() const { return pos_; }
    /// Lines left, counted (an upper bound on what a declared count may claim).
    int64_t remaining() const {
        int64_t n = 0;
        for (size_t i = pos_; i < b_.size(); ++i) n += b_[i] == '\n';
        return n + 1;
    }

private:
    const std::vector<uint8_t>& b_;
    size_t pos_;
    int64_t number_ = 0;
};

/// Whitespace-separated numbers of one line (after a '#' comment is cut off when `comments`).
/// Returns false if a token is not a number.
inline bool numbers(std::string line, std::vector<double>& out, bool comments = true) {
    out.clear();
    if (comments) {
        auto h = line.find('#');
        if (h != std::string::npos) line.resize(h);
    }
    const char* p = line.c_str();
    const char* end = p + line.size();
    while (true) {
        while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
        if (p >= end) return true;
        if (*p == '\0') return false;
        char* q = nullptr;
        errno = 0;
        double v = std::strtod(p, &q);
        if (q == p || (q < end && !std::isspace(static_cast<unsigned char>(*q)))) return false;
        out.push_back(v);
        p = q;
    }
}

/// The whitespace-separated words of a line.
inline std::vector<std::string> words(const std::string& l) {
    std::vector<std::string> w;
    size_t i = 0;
    while (i < l.size()) {
        while (i < l.size() && std::isspace(static_cast<unsigned char>(l[i]))) ++i;
        size_t j = i;
        while (j < l.size() && !std::isspace(static_cast<unsigned char>(l[j]))) ++j;
        if (j > i) w.push_back(l.substr(i, j - i));
        i = j;
    }
    return w;
}

inline bool blank(const std::string& line) {
    for (char c : line) {
        if (c == '#') return true;
        if (!std::isspace(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

/// An integer count (non-negative, below `limit`) or -1.
inline int64_t as_count(double v, int64_t limit) {
    if (!(v >= 0) || v > double(limit) || v != std::floor(v)) return -1;
    return int64_t(v);
}

[[noreturn]] inline void fail(const std::string& path, const std::string& what) { throw IoError(path + ": " + what); }

/// A count or index read as a number, printed as an integer when it is one ("353535235358", not
/// "353535235358.000000").
inline std::string count_text(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e18) return std::to_string(static_cast<long long>(v));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace mash::io::detail
