// SPDX-License-Identifier: MIT
// FNV-1a, 64-bit: a hash that is the same on every machine, run and library version (shard
// assignment, cache keys).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mash {

inline constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ull;
inline constexpr uint64_t kFnvPrime = 1099511628211ull;

/// Continues the hash `h` over `n` bytes (FNV-1a from the offset basis by default).
inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvOffsetBasis) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= kFnvPrime;
    }
    return h;
}

}  // namespace mash
