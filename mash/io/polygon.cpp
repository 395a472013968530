// SPDX-License-Identifier: MIT
#include "mash/io/polygon.h"

#include <cmath>

namespace mash::io {
namespace {

struct P2 {
    double x, y;
};

double cross(const P2& o, const P2& a, const P2& b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

/// p inside or on the triangle abc (counter-clockwise).
bool in_triangle(const P2& p, const P2& a, const P2& b, const P2& c) {
    return cross(a, b, p) >= 0 && cross(b, c, p) >= 0 && cross(c, a, p) >= 0;
}

void fan(const std::vector<int64_t>& idx, std::vector<int64_t>& out) {
    for (size_t k = 2; k < idx.size(); ++k) out.insert(out.end(), {idx[0], idx[k - 1], idx[k]});
}

}  // namespace

void triangulate_polygon(const std::vector<double>& v, const std::vector<int64_t>& poly, std::vector<int64_t>& out) {
    const size_t n = poly.size();
    if (n <= 3) {
        fan(poly, out);
        return;
    }
    // Newell normal: robust for non-planar and concave polygons.
    double nx = 0, ny = 0, nz = 0;
    for (size_t i = 0; i < n; ++i) {
        const double* a = &v[size_t(3 * poly[i])];
        const double* b = &v[size_t(3 * poly[(i + 1) % n])];
        nx += (a[1] - b[1]) * (a[2] + b[2]);
        ny += (a[2] - b[2]) * (a[0] + b[0]);
        nz += (a[0] - b[0]) * (a[1] + b[1]);
    }
    const double len = std::sqrt(nx * nx + ny * ny + nz * nz);
    if (!(len > 0)) {  // no area
        fan(poly, out);
        return;
    }
    nx /= len, ny /= len, nz /= len;
    // An orthonormal basis (u, w) of the plane with u × w = n: the polygon is counter-clockwise in it.
    double ux, uy, uz;
    if (std::abs(nx) < 0.9)
        ux = 0, uy = -nz, uz = ny;  // e_x × n
    else
        ux = nz, uy = 0, uz = -nx;  // e_y × n
    const double ul = std::sqrt(ux * ux + uy * uy + uz * uz);
    ux /= ul, uy /= ul, uz /= ul;
    const double wx = ny * uz - nz * uy, wy = nz * ux - nx * uz, wz = nx * uy - ny * ux;
    std::vector<P2> p(n);
    for (size_t i = 0; i < n; ++i) {
        const double* a = &v[size_t(3 * poly[i])];
        p[i] = {a[0] * ux + a[1] * uy + a[2] * uz, a[0] * wx + a[1] * wy + a[2] * wz};
    }
    bool convex = true;
    for (size_t i = 0; i < n && convex; ++i)
        if (cross(p[i], p[(i + 1) % n], p[(i + 2) % n]) < 0) convex = false;
    if (convex) {
        fan(poly, out);
        return;
    }
    std::vector<size_t> ring(n);
    for (size_t i = 0; i < n; ++i) ring[i] = i;
    // Clip ears: a convex corner whose triangle holds no other remaining corner (a corner on a
    // slit's far side coincides with one on its near side; only strictly inside points block).
    while (ring.size() > 3) {
        const size_t m = ring.size();
        bool clipped = false;
        for (size_t k = 0; k < m; ++k) {
            const size_t ia = ring[(k + m - 1) % m], ib = ring[k], ic = ring[(k + 1) % m];
            const P2 &a = p[ia], &b = p[ib], &c = p[ic];
            if (cross(a, b, c) <= 0) continue;  // reflex or degenerate corner
            bool ear = true;
            for (size_t j = 0; j < m && ear; ++j) {
                const size_t q = ring[j];
                if (q == ia || q == ib || q == ic) continue;
                const P2& r = p[q];
                if ((r.x == a.x && r.y == a.y) || (r.x == b.x && r.y == b.y) || (r.x == c.x && r.y == c.y)) continue;
                if (in_triangle(r, a, b, c)) ear = false;
            }
            if (!ear) continue;
            out.insert(out.end(), {poly[ia], poly[ib], poly[ic]});
            ring.erase(ring.begin() + std::ptrdiff_t(k));
            clipped = true;
            break;
        }
        if (!clipped) {  // no ear left (self-intersecting, or only collinear corners): drop a degenerate corner or stop
            bool dropped = false;
            for (size_t k = 0; k < ring.size(); ++k) {
                const size_t mm = ring.size();
                const size_t ia = ring[(k + mm - 1) % mm], ib = ring[k], ic = ring[(k + 1) % mm];
                if (cross(p[ia], p[ib], p[ic]) == 0) {
                    out.insert(out.end(), {poly[ia], poly[ib], poly[ic]});
                    ring.erase(ring.begin() + std::ptrdiff_t(k));
                    dropped = true;
                    break;
                }
            }
            if (!dropped) break;
        }
    }
    std::vector<int64_t> rest;
    for (size_t i : ring) rest.push_back(poly[i]);
    fan(rest, out);
}

}  // namespace mash::io
