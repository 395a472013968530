// SPDX-License-Identifier: MIT
// Exact linear assignment (the optimal-transport pairing of flow matching, generation-spec §3):
// cost [n, n] row-major → assignment[row] = column minimizing the total cost.
#pragma once
#include <cstdint>
#include <vector>

namespace mash::models {

/// Jonker–Volgenant initialization (column reduction, augmenting row reduction) followed by
/// shortest augmenting paths with potentials (O(n³) worst case).
std::vector<int64_t> linear_assignment(const double* cost, int64_t n);
/// Reference: plain Kuhn–Munkres (shortest augmenting paths from an empty matching), for tests.
std::vector<int64_t> linear_assignment_ref(const double* cost, int64_t n);

}  // namespace mash::models
