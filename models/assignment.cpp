// SPDX-License-Identifier: MIT
#include "models/assignment.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace mash::models {

namespace {

// Shortest-augmenting-path phase (Kuhn–Munkres with potentials) for every row still free.
// Invariants on entry: c_ij − u_i − v_j ≥ 0 for all i, j, and = 0 on matched edges; p[j] is the
// (1-based) row matched to column j, 0 if free; row_match[i] likewise.
void augment_free_rows(const double* a, int64_t n, std::vector<double>& u, std::vector<double>& v, std::vector<int64_t>& p,
                       const std::vector<int64_t>& row_match) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> minv(n + 1);
    std::vector<int64_t> way(n + 1, 0);
    std::vector<char> used(n + 1);
    for (int64_t i = 1; i <= n; ++i) {
        if (row_match[i] != 0) continue;
        p[0] = i;
        int64_t j0 = 0;
        std::fill(minv.begin(), minv.end(), inf);
        std::fill(used.begin(), used.end(), 0);
        do {
            used[j0] = 1;
            const int64_t i0 = p[j0];
            const double* row = a + (i0 - 1) * n;
            const double ui0 = u[i0];
            double delta = inf;
            int64_t j1 = 0;
            for (int64_t j = 1; j <= n; ++j) {
                if (used[j]) continue;
                double cur = row[j - 1] - ui0 - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int64_t j = 0; j <= n; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int64_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
}

std::vector<int64_t> columns_of(const std::vector<int64_t>& p, int64_t n) {
    std::vector<int64_t> assign(n);
    for (int64_t j = 1; j <= n; ++j) assign[p[j] - 1] = j - 1;
    return assign;
}

}  // namespace

std::vector<int64_t> linear_assignment_ref(const double* a, int64_t n) {
    std::vector<double> u(n + 1, 0), v(n + 1, 0);
    std::vector<int64_t> p(n + 1, 0), row_match(n + 1, 0);
    augment_free_rows(a, n, u, v, p, row_match);
    return columns_of(p, n);
}

std::vector<int64_t> linear_assignment(const double* a, int64_t n) {
    // Jonker–Volgenant initialization, then the augmenting-path phase above for what is left.
    // 1. Column reduction: v_j = min_i c_ij; the minimizing row takes column j if still free.
    // 2. Two passes of augmenting row reduction: a free row takes its cheapest column j1 (by
    //    reduced cost c_ij − v_j), lowering v_j1 by the gap to its second cheapest so the choice is
    //    stable, and evicts j1's previous row, which is retried. Most rows end up matched in O(n)
    //    each, leaving few expensive searches.
    // 3. Row potentials u_i = min_j (c_ij − v_j) make the state feasible; matched edges are tight
    //    (to rounding), as the augmenting phase needs.
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> u(n + 1, 0), v(n + 1, 0);
    std::vector<int64_t> p(n + 1, 0), row_match(n + 1, 0);
    auto c = [&](int64_t i, int64_t j) { return a[(i - 1) * n + (j - 1)]; };
    for (int64_t j = n; j >= 1; --j) {
        int64_t best = 1;
        for (int64_t i = 2; i <= n; ++i)
            if (c(i, j) < c(best, j)) best = i;
        v[j] = c(best, j);
        if (row_match[best] == 0) {
            row_match[best] = j;
            p[j] = best;
        }
    }
    std::vector<int64_t> free_rows;
    for (int64_t i = 1; i <= n; ++i)
        if (row_match[i] == 0) free_rows.push_back(i);
    for (int pass = 0; pass < 2 && !free_rows.empty() && n > 1; ++pass) {
        std::vector<int64_t> todo = std::move(free_rows), next;
        size_t k = 0;
        int64_t guard = 0;
        while (k < todo.size()) {
            const int64_t i = todo[k++];
            double u1 = inf, u2 = inf;
            int64_t j1 = 0, j2 = 0;
            for (int64_t j = 1; j <= n; ++j) {
                const double h = c(i, j) - v[j];
                if (h < u2) {
                    if (h >= u1) {
                        u2 = h;
                        j2 = j;
                    } else {
                        u2 = u1;
                        j2 = j1;
                        u1 = h;
                        j1 = j;
                    }
                }
            }
            int64_t i0 = p[j1];
            const bool strict = u1 < u2;
            if (strict) {
                v[j1] -= u2 - u1;
            } else if (i0 != 0) {  // tie: take the second column instead
                j1 = j2;
                i0 = p[j1];
            }
            if (i0 != 0) row_match[i0] = 0;
            p[j1] = i;
            row_match[i] = j1;
            if (i0 != 0) {
                if (strict && ++guard < 8 * n)
                    todo[--k] = i0;  // retry the evicted row at once
                else
                    next.push_back(i0);
            }
        }
        free_rows = std::move(next);
    }
    for (int64_t i = 1; i <= n; ++i) {
        double m = inf;
        for (int64_t j = 1; j <= n; ++j) m = std::min(m, c(i, j) - v[j]);
        u[i] = m;
    }
    augment_free_rows(a, n, u, v, p, row_match);
    return columns_of(p, n);
}

}  // namespace mash::models
