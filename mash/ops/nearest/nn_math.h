// SPDX-License-Identifier: MIT
// Exact nearest neighbours (chamfer terms, the boundary loss's "nearest point of another
// anchor"), per-element math shared by the CPU brute-force twin (mash/ops/nearest/nearest.cpp) and the
// CUDA kernel (nn_cuda.cu): the same distance rounding (no FMA) and the same tie rule, so both
// return the same index for every query.
#pragma once
#include <cstdint>

#include "mash/ops/host_device.h"

namespace mash::ops::nearest {

/// Squared distance, the same rounding as the FPS kernels (host_device.h).
template <typename T>
MASH_HOST_DEVICE T nn_sq_dist(T x, T y, T z, T rx, T ry, T rz) {
    return sq_dist_rn(x, y, z, rx, ry, rz);
}

/// Candidate (d, j) beats the best so far (bd, bj) iff it is nearer, or as near with a smaller
/// index ("argmin, first index on ties"; bj < 0 means no candidate yet).
template <typename T>
MASH_HOST_DEVICE bool nn_better(T d, int64_t j, T bd, int64_t bj) {
    return bj < 0 || d < bd || (d == bd && j < bj);
}

/// A uniform grid over a box (the reference points are sorted by cell): cell (x, y, z) holds the
/// sorted points cell_start[c] .. cell_start[c + 1] − 1, c = (z·dims[1] + y)·dims[0] + x. Points
/// outside the box belong to the cell of their projection onto it.
template <typename T>
struct NnGrid {
    T lo[3];
    T h, inv_h;
    int dims[3];
};

/// The grid cell index of coordinate v on one axis (clamped into the box).
template <typename T>
MASH_HOST_DEVICE int nn_cell_coord(T v, T lo, T inv_h, int dim) {
    const T f = (v - lo) * inv_h;
    if (!(f >= T(0))) return 0;  // also NaN
    if (f >= T(dim)) return dim - 1;
    const int c = int(f);
    return c < dim ? c : dim - 1;
}

/// Rings of cells searched before a query falls back to scanning every point (far queries).
constexpr int kNnGridMaxRing = 6;

/// Exact nearest reference point of q by the grid: rings of cells at Chebyshev distance r = 0,
/// 1, 2, ... around q's cell, stopping once the best squared distance is below ((r − 0.01)·h)²
/// (every unvisited point is at least r·h away: projections onto a box do not increase distances;
/// the 1 % covers rounding in the cell of a point on a cell face); after kNnGridMaxRing rings every
/// point is scanned. Candidates are compared with nn_better on their original index, so the
/// answer is brute force's, ties included. Returns the original index (−1 if R = 0).
template <typename T>
MASH_HOST_DEVICE int64_t nn_grid_query(T x, T y, T z, const T* sorted, const int64_t* perm, const int64_t* cell_start, int64_t R,
                                       const NnGrid<T>& g) {
    const int cx = nn_cell_coord(x, g.lo[0], g.inv_h, g.dims[0]);
    const int cy = nn_cell_coord(y, g.lo[1], g.inv_h, g.dims[1]);
    const int cz = nn_cell_coord(z, g.lo[2], g.inv_h, g.dims[2]);
    T bd = T(0);
    int64_t bj = -1;
    auto scan = [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
            const T d = nn_sq_dist(x, y, z, sorted[3 * k], sorted[3 * k + 1], sorted[3 * k + 2]);
            const int64_t j = perm[k];
            if (nn_better(d, j, bd, bj)) {
                bd = d;
                bj = j;
            }
        }
    };
    int maxdim = g.dims[0] > g.dims[1] ? g.dims[0] : g.dims[1];
    maxdim = maxdim > g.dims[2] ? maxdim : g.dims[2];
    for (int r = 0; r <= maxdim; ++r) {
        if (r > kNnGridMaxRing) {  // far from everything: scan all points
            scan(0, R);
            return bj;
        }
        for (int dz = -r; dz <= r; ++dz) {
            const int zz = cz + dz;
            if (zz < 0 || zz >= g.dims[2]) continue;
            for (int dy = -r; dy <= r; ++dy) {
                const int yy = cy + dy;
                if (yy < 0 || yy >= g.dims[1]) continue;
                const bool shell = dz == -r || dz == r || dy == -r || dy == r;
                for (int dx = -r; dx <= r; dx += (shell || r == 0) ? 1 : 2 * r) {
                    const int xx = cx + dx;
                    if (xx < 0 || xx >= g.dims[0]) continue;
                    const int64_t c = (int64_t(zz) * g.dims[1] + yy) * g.dims[0] + xx;
                    scan(cell_start[c], cell_start[c + 1]);
                }
            }
        }
        const T bound = (T(r) - T(0.01)) * g.h;
        if (bj >= 0 && r > 0 && bd < bound * bound) return bj;
    }
    return bj;  // every cell visited
}

}  // namespace mash::ops::nearest
