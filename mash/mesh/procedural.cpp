// SPDX-License-Identifier: MIT
#include "mash/mesh/procedural.h"

#include <algorithm>
#include <cmath>

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
            m.vertices.insert(m.vertices.end(), {cx + profile[k].first * std::cos(ph), profile[k].first * std::sin(ph), profile[k].second});
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

std::vector<std::string> procedural_shape_names() { return {"rope_knot", "thin_bowl", "nested_spheres", "touching_spheres"}; }

TriangleMesh procedural_shape(const std::string& name, int64_t* components) {
    int64_t c = 1;
    TriangleMesh m;
    if (name == "rope_knot") m = rope_knot();
    else if (name == "thin_bowl") m = thin_bowl();
    else if (name == "nested_spheres") m = nested_spheres(), c = 2;
    else if (name == "touching_spheres") m = touching_spheres(), c = 2;
    else throw ConfigError("unknown procedural shape '" + name + "' (expected rope_knot, thin_bowl, nested_spheres or touching_spheres)");
    if (components) *components = c;
    return m;
}


}  // namespace mash::mesh
