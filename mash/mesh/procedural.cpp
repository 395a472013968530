// SPDX-License-Identifier: MIT
#include "mash/mesh/procedural.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "mash/core/errors.h"

namespace mash::mesh {
namespace {

/// Closed tube: rows of `around` vertices, rows periodic too (vertex (i, j) = i*around + j).
void tube_faces(TriangleMesh& m, int64_t rows, int64_t around, int64_t base = 0) {
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < around; ++j) {
            const int64_t a = base + i * around + j, b = base + i * around + (j + 1) % around;
            const int64_t c = base + ((i + 1) % rows) * around + j, d = base + ((i + 1) % rows) * around + (j + 1) % around;
            m.triangles.insert(m.triangles.end(), {a, b, c, b, d, c});
        }
}

/// Surface of revolution about z of a profile (r, z) that starts and ends on the axis (r = 0);
/// `flip` reverses the triangles' orientation.
void revolve(TriangleMesh& m, const std::vector<std::pair<double, double>>& profile, int64_t segments, double cx = 0,
             bool flip = false) {
    const int64_t base = m.num_vertices(), K = int64_t(profile.size());
    // Vertex 0: first pole; rows 1..K-2 of `segments` vertices; last: second pole.
    m.vertices.insert(m.vertices.end(), {cx, 0.0, profile.front().second});
    for (int64_t k = 1; k + 1 < K; ++k)
        for (int64_t s = 0; s < segments; ++s) {
            const double ph = 2 * M_PI * double(s) / double(segments);
            m.vertices.insert(m.vertices.end(),
                              {cx + profile[k].first * std::cos(ph), profile[k].first * std::sin(ph), profile[k].second});
        }
    const int64_t last = m.num_vertices();
    m.vertices.insert(m.vertices.end(), {cx, 0.0, profile.back().second});
    auto row = [&](int64_t k, int64_t s) { return base + 1 + (k - 1) * segments + (s % segments); };
    auto tri = [&](int64_t a, int64_t b, int64_t c) {
        if (flip) std::swap(b, c);
        m.triangles.insert(m.triangles.end(), {a, b, c});
    };
    for (int64_t s = 0; s < segments; ++s) {
        tri(base, row(1, s + 1), row(1, s));
        for (int64_t k = 1; k + 2 < K; ++k) {
            tri(row(k, s), row(k, s + 1), row(k + 1, s));
            tri(row(k, s + 1), row(k + 1, s + 1), row(k + 1, s));
        }
        tri(last, row(K - 2, s), row(K - 2, s + 1));
    }
}

/// Profile of a sphere of radius r centred at height 0, from the bottom pole to the top pole.
std::vector<std::pair<double, double>> sphere_profile(double r, int rings) {
    std::vector<std::pair<double, double>> p;
    for (int i = 0; i <= rings; ++i) {
        const double a = M_PI * double(i) / double(rings);
        p.push_back({r * std::sin(a), -r * std::cos(a)});
    }
    p.front().first = p.back().first = 0;
    return p;
}
}  // namespace

TriangleMesh rope_knot(int p, int q, double tube, int ridges, double ridge, int turns, int segments, int around) {
    TriangleMesh m;
    auto centre = [&](double t, double* c) {
        const double rr = 1.0 + 0.5 * std::cos(q * t);
        c[0] = rr * std::cos(p * t), c[1] = rr * std::sin(p * t), c[2] = 0.5 * std::sin(q * t);
    };
    for (int i = 0; i < segments; ++i) {
        const double t = 2 * M_PI * double(i) / double(segments), h = 1e-4;
        double c[3], a[3], b[3];
        centre(t, c), centre(t + h, a), centre(t - h, b);
        double T[3], Acc[3];
        for (int d = 0; d < 3; ++d) T[d] = (a[d] - b[d]) / (2 * h), Acc[d] = (a[d] - 2 * c[d] + b[d]) / (h * h);
        const double tl = std::sqrt(T[0] * T[0] + T[1] * T[1] + T[2] * T[2]);
        for (double& x : T) x /= tl;
        // Frenet frame (torus knots have no inflection): N ∝ acceleration ⊥ T, B = T × N.
        const double at = Acc[0] * T[0] + Acc[1] * T[1] + Acc[2] * T[2];
        double N[3] = {Acc[0] - at * T[0], Acc[1] - at * T[1], Acc[2] - at * T[2]};
        const double nl = std::sqrt(N[0] * N[0] + N[1] * N[1] + N[2] * N[2]);
        for (double& x : N) x /= nl;
        const double B[3] = {T[1] * N[2] - T[2] * N[1], T[2] * N[0] - T[0] * N[2], T[0] * N[1] - T[1] * N[0]};
        for (int j = 0; j < around; ++j) {
            const double ph = 2 * M_PI * double(j) / double(around);
            const double rad = tube * (1.0 + ridge * std::cos(ridges * (ph + turns * t)));
            for (int d = 0; d < 3; ++d) m.vertices.push_back(c[d] + rad * (std::cos(ph) * N[d] + std::sin(ph) * B[d]));
        }
    }
    tube_faces(m, segments, around);
    return m;
}

TriangleMesh thin_bowl(double radius, double thickness, int rings, int segments) {
    std::vector<std::pair<double, double>> prof;
    const double ri = radius - thickness;
    for (int i = 0; i <= rings; ++i) {  // outer wall, bottom pole → rim (equator)
        const double a = 0.5 * M_PI * double(i) / double(rings);
        prof.push_back({radius * std::sin(a), -radius * std::cos(a)});
    }
    const int rim = 8;  // rounded rim: half circle of diameter `thickness` above the equator
    for (int i = 1; i < rim; ++i) {
        const double a = M_PI * double(i) / double(rim);
        prof.push_back({radius - 0.5 * thickness * (1 - std::cos(a)), 0.5 * thickness * std::sin(a)});
    }
    for (int i = rings; i >= 0; --i) {  // inner wall, rim → bottom
        const double a = 0.5 * M_PI * double(i) / double(rings);
        prof.push_back({ri * std::sin(a), -ri * std::cos(a)});
    }
    prof.front().first = prof.back().first = 0;
    TriangleMesh m;
    revolve(m, prof, segments);
    return m;
}

TriangleMesh nested_spheres(double r_outer, double r_inner, double offset, int rings, int segments) {
    TriangleMesh m;
    revolve(m, sphere_profile(r_outer, rings), segments);
    revolve(m, sphere_profile(r_inner, rings * 3 / 5), segments, offset, /*flip=*/true);
    return m;
}

TriangleMesh touching_spheres(double r, double gap, int rings, int segments) {
    TriangleMesh m;
    revolve(m, sphere_profile(r, rings), segments, -(r + 0.5 * gap));
    revolve(m, sphere_profile(r, rings), segments, r + 0.5 * gap);
    return m;
}

namespace {

/// Uniform doubles in [lo, hi) from a fully specified engine (the same shapes on every platform).
struct Draw {
    std::mt19937_64 eng;
    explicit Draw(uint64_t seed) : eng(seed * 0x9E3779B97F4A7C15ull + 0x1234567ull) {}
    double operator()(double lo, double hi) { return lo + (hi - lo) * double(eng() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return (*this)(0, 1) < p; }
};

/// Closed axis-aligned box: centre, half sizes (outward faces).
void add_box(TriangleMesh& m, double cx, double cy, double cz, double hx, double hy, double hz) {
    const int64_t b = m.num_vertices();
    for (int i = 0; i < 8; ++i)
        m.vertices.insert(m.vertices.end(), {cx + (i & 1 ? hx : -hx), cy + (i & 2 ? hy : -hy), cz + (i & 4 ? hz : -hz)});
    const int q[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
    for (const auto& f : q) m.triangles.insert(m.triangles.end(), {b + f[0], b + f[1], b + f[2], b + f[0], b + f[2], b + f[3]});
}

/// Closed frustum along y from y0 (radius r0) to y1 (radius r1), axis through (cx, cz), with caps.
void add_frustum(TriangleMesh& m, double cx, double cz, double y0, double r0, double y1, double r1, int segments = 40) {
    const int64_t b = m.num_vertices();
    m.vertices.insert(m.vertices.end(), {cx, y0, cz});
    m.vertices.insert(m.vertices.end(), {cx, y1, cz});
    for (int ring = 0; ring < 2; ++ring)
        for (int s = 0; s < segments; ++s) {
            const double a = 2 * M_PI * double(s) / double(segments), r = ring ? r1 : r0;
            m.vertices.insert(m.vertices.end(), {cx + r * std::cos(a), ring ? y1 : y0, cz + r * std::sin(a)});
        }
    auto v = [&](int ring, int s) { return b + 2 + ring * segments + (s % segments); };
    for (int s = 0; s < segments; ++s) {
        m.triangles.insert(m.triangles.end(), {b, v(0, s), v(0, s + 1)});
        m.triangles.insert(m.triangles.end(), {b + 1, v(1, s + 1), v(1, s)});
        m.triangles.insert(m.triangles.end(), {v(0, s), v(1, s), v(1, s + 1), v(0, s), v(1, s + 1), v(0, s + 1)});
    }
}

/// Closed ellipsoid: centre, semi-axes.
void add_ellipsoid(TriangleMesh& m, double cx, double cy, double cz, double rx, double ry, double rz, int rings = 24,
                   int segments = 40) {
    TriangleMesh u;
    revolve(u, sphere_profile(1.0, rings), segments);
    const int64_t b = m.num_vertices();
    for (int64_t i = 0; i < u.num_vertices(); ++i)
        m.vertices.insert(m.vertices.end(),
                          {cx + rx * u.vertices[3 * i], cy + ry * u.vertices[3 * i + 1], cz + rz * u.vertices[3 * i + 2]});
    for (int64_t t : u.triangles) m.triangles.push_back(b + t);
}

/// Closed torus in the xy plane: centre, major radius R, tube radius r.
void add_torus_xy(TriangleMesh& m, double cx, double cy, double cz, double R, double r, int segments = 48, int around = 16) {
    const int64_t b = m.num_vertices();
    for (int i = 0; i < segments; ++i) {
        const double t = 2 * M_PI * double(i) / double(segments);
        for (int j = 0; j < around; ++j) {
            const double p = 2 * M_PI * double(j) / double(around), rr = R + r * std::cos(p);
            m.vertices.insert(m.vertices.end(), {cx + rr * std::cos(t), cy + rr * std::sin(t), cz + r * std::sin(p)});
        }
    }
    const size_t first = m.triangles.size();
    tube_faces(m, segments, around, b);
    for (size_t i = first; i < m.triangles.size(); i += 3) std::swap(m.triangles[i + 1], m.triangles[i + 2]);  // outward
}

TriangleMesh chair(Draw& d) {
    TriangleMesh m;
    const double w = d(0.8, 1.2), dep = d(0.8, 1.1), th = d(0.08, 0.14), h = d(0.8, 1.1), leg = d(0.06, 0.12);
    add_box(m, 0, h + th / 2, 0, w / 2, th / 2, dep / 2);
    for (int i = 0; i < 4; ++i)
        add_box(m, (i & 1 ? 1 : -1) * (w / 2 - leg / 2), h / 2, (i & 2 ? 1 : -1) * (dep / 2 - leg / 2), leg / 2, h / 2, leg / 2);
    const double bh = d(0.8, 1.3), bt = d(0.06, 0.1);
    add_box(m, 0, h + th + bh / 2, -dep / 2 + bt / 2, w / 2, bh / 2, bt / 2);
    if (d.chance(0.5))  // armrests
        for (int s : {-1, 1}) {
            const double ah = d(0.25, 0.35);
            add_box(m, s * (w / 2 - 0.04), h + th + ah / 2, 0.02, 0.04, ah / 2, dep / 2 - bt - 0.02);
        }
    return m;
}

TriangleMesh table(Draw& d) {
    TriangleMesh m;
    const double w = d(1.4, 2.2), dep = d(0.8, 1.2), th = d(0.06, 0.1), h = d(0.9, 1.2);
    add_box(m, 0, h - th / 2, 0, w / 2, th / 2, dep / 2);
    if (d.chance(0.6)) {
        const double leg = d(0.07, 0.12), in = d(0.0, 0.1);
        for (int i = 0; i < 4; ++i)
            add_box(m, (i & 1 ? 1 : -1) * (w / 2 - leg / 2 - in), (h - th) / 2, (i & 2 ? 1 : -1) * (dep / 2 - leg / 2 - in),
                    leg / 2, (h - th) / 2, leg / 2);
    } else {  // pedestal and base
        const double pr = d(0.06, 0.12), br = d(0.35, 0.5), bh = d(0.05, 0.09);
        add_frustum(m, 0, 0, 0, br, bh, br);
        add_frustum(m, 0, 0, bh, pr, h - th, pr);
    }
    return m;
}

TriangleMesh mug(Draw& d) {
    TriangleMesh m;
    const double r = d(0.35, 0.5), h = d(0.7, 1.1), taper = d(0.85, 1.1);
    add_frustum(m, 0, 0, 0, r * taper, h, r);
    const double R = d(0.18, 0.3) * h, tr = d(0.04, 0.07);
    add_torus_xy(m, r * (0.5 * (1 + taper)) + 0.5 * R, h * d(0.45, 0.55), 0, R, tr);
    return m;
}

TriangleMesh lamp(Draw& d) {
    TriangleMesh m;
    const double br = d(0.3, 0.45), bh = d(0.05, 0.1), pr = d(0.03, 0.05), ph = d(0.8, 1.4);
    add_frustum(m, 0, 0, 0, br, bh, br * d(0.7, 1.0));
    add_frustum(m, 0, 0, bh, pr, bh + ph, pr);
    const double sb = d(0.3, 0.5), st = d(0.15, 0.3), sh = d(0.3, 0.5), y0 = bh + ph - d(0.1, 0.25) * sh;
    add_frustum(m, 0, 0, y0, sb, y0 + sh, st);
    return m;
}

TriangleMesh airplane(Draw& d) {
    TriangleMesh m;
    const double L = d(2.0, 3.0), fr = d(0.15, 0.25);
    add_ellipsoid(m, 0, 0, 0, fr, fr, L / 2);
    const double span = d(1.8, 3.0), chord = d(0.3, 0.6), wz = d(-0.1, 0.15) * L;
    add_box(m, 0, -fr * d(0.0, 0.5), wz, span / 2, 0.02, chord / 2);
    const double tspan = d(0.6, 1.0), tchord = d(0.15, 0.3), tz = -L / 2 + tchord / 2 + 0.1 * L;
    add_box(m, 0, 0, tz, tspan / 2, 0.015, tchord / 2);
    const double fh = d(0.3, 0.5);
    add_box(m, 0, fr * 0.5 + fh / 2, tz, 0.015, fh / 2, tchord / 2);
    return m;
}

}  // namespace

std::vector<std::string> shape_family_names() { return {"chair", "table", "mug", "lamp", "airplane"}; }

TriangleMesh family_shape(const std::string& family, uint64_t seed) {
    Draw d(seed);
    if (family == "chair") return chair(d);
    if (family == "table") return table(d);
    if (family == "mug") return mug(d);
    if (family == "lamp") return lamp(d);
    if (family == "airplane") return airplane(d);
    throw ConfigError("unknown shape family '" + family + "' (expected chair, table, mug, lamp or airplane)");
}

std::vector<std::string> procedural_shape_names() { return {"rope_knot", "thin_bowl", "nested_spheres", "touching_spheres"}; }

TriangleMesh procedural_shape(const std::string& name, int64_t* components) {
    int64_t c = 1;
    TriangleMesh m;
    if (name == "rope_knot")
        m = rope_knot();
    else if (name == "thin_bowl")
        m = thin_bowl();
    else if (name == "nested_spheres")
        m = nested_spheres(), c = 2;
    else if (name == "touching_spheres")
        m = touching_spheres(), c = 2;
    else
        throw ConfigError("unknown procedural shape '" + name +
                          "' (expected rope_knot, thin_bowl, nested_spheres or touching_spheres)");
    if (components) *components = c;
    return m;
}

}  // namespace mash::mesh
