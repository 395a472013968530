// SPDX-License-Identifier: MIT
// Wall time for progress output and reports.
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace mash {

/// Seconds elapsed since `t` on the steady clock.
inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// Appends (stage, seconds since the previous lap) to `out` when it is given.
struct StageTimer {
    std::vector<std::pair<std::string, double>>* out;
    std::chrono::steady_clock::time_point t = std::chrono::steady_clock::now();
    void lap(const char* what) {
        const auto now = std::chrono::steady_clock::now();
        if (out) out->push_back({what, std::chrono::duration<double>(now - t).count()});
        t = now;
    }
};

}  // namespace mash
