// SPDX-License-Identifier: MIT
// Winding numbers (treecode vs exact sums), the sign solver (vs enumeration), winding-number
// orientation of groups and point clouds, mesh topology repair, procedural shapes.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "mash/core/errors.h"
#include "mash/mesh/cloud_normals.h"
#include "mash/mesh/orientation.h"
#include "mash/mesh/poisson.h"
#include "mash/mesh/procedural.h"
#include "mash/mesh/thin_parts.h"
#include "mash/mesh/topology.h"
#include "mash/mesh/winding.h"
#include "tests/support/support.h"

using namespace mash;

namespace {
/// Area-weighted outward dipoles of a closed mesh's surface samples (normal of the triangle).
void mesh_dipoles(const mesh::TriangleMesh& m, std::vector<double>& p, std::vector<double>& mu) {
    p.clear(), mu.clear();
    for (int64_t f = 0; f < m.num_triangles(); ++f) {
        const double* a = &m.vertices[3 * m.triangles[3 * f]];
        const double* b = &m.vertices[3 * m.triangles[3 * f + 1]];
        const double* c = &m.vertices[3 * m.triangles[3 * f + 2]];
        const double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        for (int d = 0; d < 3; ++d) p.push_back((a[d] + b[d] + c[d]) / 3);
        mu.insert(mu.end(),
                  {0.5 * (u[1] * v[2] - u[2] * v[1]), 0.5 * (u[2] * v[0] - u[0] * v[2]), 0.5 * (u[0] * v[1] - u[1] * v[0])});
    }
}
}  // namespace

TEST_CASE("winding: treecode matches the exact sum, 1 inside and 0 outside a closed surface", "[winding]") {
    auto m = mesh::nested_spheres(0.5, 0.3, 0.05, 48, 64);  // a hollow ball: 1 in the shell, 0 in the hollow
    std::vector<double> p, mu;
    mesh_dipoles(m, p, mu);
    mesh::WindingTree tree(p, mu, 0.0);
    const double queries[][4] = {{0.0, 0.0, 0.45, 1.0}, {0.0, 0.0, -0.45, 1.0}, {0.05, 0.0, 0.0, 0.0},
                                 {0.0, 0.0, 0.8, 0.0},  {2.0, 1.0, 0.0, 0.0},   {-0.4, 0.0, 0.0, 1.0}};
    double max_err = 0;
    for (const auto& q : queries) {
        const double exact = mesh::winding_direct(p, mu, q, 0.0);
        const double fast = tree.at(q);
        CHECK(exact == Approx(q[3]).margin(0.01));
        max_err = std::max(max_err, std::abs(fast - exact));
    }
    CHECK(max_err < 2e-2);  // two of these lie 0.05 from a surface of 0.04-wide triangles
    // Many random queries: the treecode's error stays small everywhere off the surface.
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> U(-0.8, 0.8);
    std::vector<double> qs;
    for (int i = 0; i < 300; ++i) qs.insert(qs.end(), {U(rng), U(rng), U(rng)});
    auto w = mesh::winding_numbers(tree, qs);
    double worst = 0;
    for (int i = 0; i < 300; ++i) worst = std::max(worst, std::abs(w[i] - mesh::winding_direct(p, mu, &qs[3 * i], 0.0)));
    CHECK(worst < 1e-2);  // β = 2.5, second order: about 0.7 % of the field here (measured)
}

TEST_CASE("winding: the sign solver finds the enumerated optimum", "[winding]") {
    for (uint64_t seed : {1, 2, 3, 4, 5}) {
        const int64_t Q = 40, G = 11;
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> N01;
        std::vector<double> K(size_t(Q * G));
        for (auto& x : K) x = N01(rng) + 0.3;
        double best = 0;
        for (int64_t mask = 0; mask < (1 << G); ++mask) {
            double H = 0, D = 0;
            for (int64_t q = 0; q < Q; ++q) {
                double w = 0;
                for (int64_t g = 0; g < G; ++g) w += ((mask >> g) & 1 ? 1.0 : -1.0) * K[size_t(q * G + g)];
                H += w, D += w * w;
            }
            if (H > 0 && D > 0) best = std::max(best, H * H / D / double(Q));
        }
        auto sol = mesh::solve_signs(K, Q, G, {});
        CHECK(sol.objective == Approx(best).epsilon(1e-9));
    }
}

TEST_CASE("winding: group signs of a scrambled sphere and of a hollow ball come out consistent", "[winding]") {
    // Samples of two concentric-ish spheres; the groups are octants of each sphere with
    // scrambled signs. Consistent: outer normals outward, inner (the hollow) normals inward.
    std::vector<double> pts, nrm;
    std::vector<int64_t> group;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> N01;
    for (int sphere = 0; sphere < 2; ++sphere) {
        const double R = sphere == 0 ? 0.5 : 0.3, cx = sphere == 0 ? 0.0 : 0.05;
        for (int i = 0; i < 6000; ++i) {
            double v[3] = {N01(rng), N01(rng), N01(rng)};
            const double l = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            for (double& x : v) x /= l;
            pts.insert(pts.end(), {cx + R * v[0], R * v[1], R * v[2]});
            const int oct = (v[0] > 0) + 2 * (v[1] > 0) + 4 * (v[2] > 0);
            const double s = ((oct * 5 + sphere * 3) % 3 == 0) ? -1.0 : 1.0;  // scrambled, known
            nrm.insert(nrm.end(), {s * v[0], s * v[1], s * v[2]});
            group.push_back(sphere * 8 + oct);
        }
    }
    auto r = mesh::orient_groups(pts, nrm, group, 16, std::vector<int>(16, 1));
    for (int64_t g = 0; g < 16; ++g) {
        const int sphere = int(g / 8), oct = int(g % 8);
        const int scrambled = ((oct * 5 + sphere * 3) % 3 == 0) ? -1 : 1;
        const int want = sphere == 0 ? scrambled : -scrambled;  // the hollow faces inward
        CHECK(r.signs[size_t(g)] == want);
    }
    CHECK(r.objective > 0.95);
    CHECK(r.mean_winding == Approx(0.5).margin(0.1));
}

TEST_CASE("winding: a point cloud of a knotted rope with random normal signs is oriented outward", "[winding]") {
    auto m = mesh::rope_knot(2, 3, 0.18, 5, 0.25, 3, 360, 32);
    // Points with their (outward) triangle normals; then random signs.
    std::vector<double> p, mu;
    mesh_dipoles(m, p, mu);
    std::vector<double> pts, nrm, truth;
    std::mt19937_64 rng(11);
    for (size_t i = 0; i < p.size() / 3; i += 2) {
        const double l = std::sqrt(mu[3 * i] * mu[3 * i] + mu[3 * i + 1] * mu[3 * i + 1] + mu[3 * i + 2] * mu[3 * i + 2]);
        const double s = (rng() & 1) ? 1.0 : -1.0;
        for (int d = 0; d < 3; ++d) {
            pts.push_back(p[3 * i + d]);
            truth.push_back(mu[3 * i + d] / l);
            nrm.push_back(s * mu[3 * i + d] / l);
        }
    }
    mesh::orient_cloud_by_winding(pts, nrm);
    int64_t right = 0, n = int64_t(pts.size() / 3);
    for (int64_t i = 0; i < n; ++i)
        right += nrm[3 * i] * truth[3 * i] + nrm[3 * i + 1] * truth[3 * i + 1] + nrm[3 * i + 2] * truth[3 * i + 2] > 0;
    CHECK(double(right) / double(n) > 0.995);
}

TEST_CASE("topology: touching tetrahedra are split into closed 2-manifold components", "[winding]") {
    // Two tetrahedra sharing the edge (0,1) (4 triangles on it), then two sharing only vertex 0.
    mesh::TriangleMesh m;
    m.vertices = {0, 0, 0, 1, 0, 0, 0.5, 1, 0.2, 0.5, 0.3, 1, 0.5, -1, 0.2, 0.5, -0.3, -1};
    auto tet = [&](int64_t a, int64_t b, int64_t c, int64_t d) {
        m.triangles.insert(m.triangles.end(), {a, c, b, a, b, d, a, d, c, b, c, d});
    };
    tet(0, 1, 2, 3);
    tet(0, 1, 5, 4);
    auto before = mesh::edge_stats(m);
    CHECK(before.non_manifold == 1);
    CHECK(before.boundary == 0);
    const int64_t added = mesh::make_manifold(m);
    CHECK(added == 2);
    CHECK(mesh::is_closed_manifold(m));
    std::vector<int64_t> comp;
    CHECK(mesh::triangle_components(m, comp) == 2);

    mesh::TriangleMesh v;
    v.vertices = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, -1, 0, 0, 0, -1, 0, 0, 0, -1};
    auto tet2 = [&](int64_t a, int64_t b, int64_t c, int64_t d) {
        v.triangles.insert(v.triangles.end(), {a, c, b, a, b, d, a, d, c, b, c, d});
    };
    tet2(0, 1, 2, 3);
    tet2(0, 4, 6, 5);
    CHECK(mesh::triangle_components(v, comp) == 2);
    CHECK(mesh::make_manifold(v) == 1);  // the shared vertex gets a second copy
    CHECK(mesh::is_closed_manifold(v));
    CHECK(mesh::triangle_components(v, comp) == 2);
}

TEST_CASE("topology: fill_holes closes real holes, not edges two triangles share the same way", "[winding]") {
    // A tetrahedron with one face removed: one triangular hole, closed by a 3-triangle fan.
    mesh::TriangleMesh t;
    t.vertices = {0, 0, 0, 1, 0, 0, 0.5, 1, 0.2, 0.5, 0.3, 1};
    t.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2};  // b, c, d of the tetrahedron (1, 2, 3 missing)
    CHECK(mesh::edge_stats(t).boundary == 3);
    CHECK(mesh::fill_holes(t) == 1);
    CHECK(mesh::is_closed_manifold(t));
    CHECK(t.num_triangles() == 6);
    // Two triangles with the edge 0→1 in the same direction (an orientation defect) and open
    // chains around them: no closed boundary loop, so nothing is added.
    mesh::TriangleMesh d;
    d.vertices = {0, 0, 0, 1, 0, 0, 0.5, 1, 0, 0.5, -1, 0};
    d.triangles = {0, 1, 2, 0, 1, 3};
    CHECK(mesh::fill_holes(d) == 0);
    CHECK(d.num_triangles() == 2);
}

TEST_CASE("procedural: the hard shapes are closed 2-manifolds with the stated components", "[winding]") {
    for (const auto& name : mesh::procedural_shape_names()) {
        int64_t want = 0;
        auto m = mesh::procedural_shape(name, &want);
        INFO(name);
        CHECK(mesh::is_closed_manifold(m));
        std::vector<int64_t> comp;
        CHECK(mesh::triangle_components(m, comp) == want);
        // Outward orientation: the winding number of the surface is 1 at an interior point.
        std::vector<double> p, mu;
        mesh_dipoles(m, p, mu);
        double inside[3] = {0, 0, 0};
        if (name == "rope_knot") inside[0] = 1.5, inside[2] = 0.0;  // on the centreline at t = 0
        if (name == "thin_bowl") inside[2] = -0.495;                // in the bottom wall
        if (name == "nested_spheres") inside[0] = -0.4;             // in the shell
        if (name == "touching_spheres") inside[0] = 0.26;           // centre of the right sphere
        mesh::WindingTree tree(p, mu, 0.0);
        // (in the bowl's wall the query is half a triangle size from both walls: the centroid
        // dipoles' discretization error is larger there)
        CHECK(tree.at(inside) == Approx(1.0).margin(name == "thin_bowl" ? 0.06 : 0.01));
        const double outside[3] = {3, 3, 3};
        CHECK(tree.at(outside) == Approx(0.0).margin(0.01));
    }
}

namespace {
/// Samples on a sphere (radius r, centre c) with outward normals; a Fibonacci lattice.
void sphere_samples(int n, double r, const double* c, std::vector<double>& p, std::vector<double>& nrm) {
    const double golden = M_PI * (3.0 - std::sqrt(5.0));
    for (int i = 0; i < n; ++i) {
        const double z = 1.0 - 2.0 * (i + 0.5) / n, s = std::sqrt(1.0 - z * z), phi = golden * i;
        const double u[3] = {s * std::cos(phi), s * std::sin(phi), z};
        for (int d = 0; d < 3; ++d) p.push_back(c[d] + r * u[d]), nrm.push_back(u[d]);
    }
}
double fraction(const std::vector<char>& m) {
    double s = 0;
    for (char c : m) s += c != 0;
    return m.empty() ? 0.0 : s / double(m.size());
}
}  // namespace

TEST_CASE("winding: thin_mask finds open sheets and misoriented parts, not closed surfaces", "[winding]") {
    const double c0[3] = {0, 0, 0}, c1[3] = {0.9, 0, 0};
    std::vector<double> p, n;
    SECTION("two closed spheres (one tiny, far apart), consistently oriented: nothing") {
        sphere_samples(6000, 0.4, c0, p, n);
        sphere_samples(1500, 0.1, c1, p, n);
        CHECK(fraction(mesh::thin_mask(p, n)) == 0.0);
    }
    SECTION("an open cylinder band: (almost) all of it") {
        test::band_samples(40, 150, 0.4, 0.4, p, n);
        CHECK(fraction(mesh::thin_mask(p, n)) > 0.9);
    }
    SECTION("a flat open disc: all of it, whichever way it faces") {
        std::mt19937 rng(3);
        std::uniform_real_distribution<double> U(-1, 1);
        while (p.size() < 3 * 4000) {
            const double x = U(rng), y = U(rng);
            if (x * x + y * y > 1) continue;
            p.insert(p.end(), {0.5 * x, 0.5 * y, 0.0});
            n.insert(n.end(), {0.0, 0.0, -1.0});
        }
        CHECK(fraction(mesh::thin_mask(p, n)) > 0.95);
    }
    SECTION("a sphere with one cap flipped inward: the cap and its rim, not the rest") {
        sphere_samples(8000, 0.4, c0, p, n);
        std::vector<char> cap(p.size() / 3, 0);
        for (size_t i = 0; i < cap.size(); ++i)
            if (p[3 * i + 2] > 0.25) {  // z > 0.25: a cap of ≈ 19 % of the samples
                cap[i] = 1;
                for (int d = 0; d < 3; ++d) n[3 * i + d] = -n[3 * i + d];
            }
        const auto m = mesh::thin_mask(p, n);
        int64_t in_cap = 0, cap_n = 0, far = 0;
        for (size_t i = 0; i < cap.size(); ++i) {
            cap_n += cap[i];
            in_cap += cap[i] && m[i];
            far += m[i] && p[3 * i + 2] < -0.1;  // well away from the cap
        }
        CHECK(double(in_cap) / double(cap_n) > 0.9);
        CHECK(far == 0);
    }
}

TEST_CASE("winding: membrane_fraction finds the opening of a cup-shaped sheet, not a closed surface", "[winding]") {
    std::vector<double> p, n;
    const double c0[3] = {0, 0, 0}, c1[3] = {0.9, 0, 0};
    SECTION("closed spheres, outward: the ½-level set is the surface") {
        sphere_samples(6000, 0.4, c0, p, n);
        sphere_samples(1500, 0.1, c1, p, n);
        const std::vector<char> none(p.size() / 3, 0);
        CHECK(mesh::membrane_fraction(p, n, none, 3.0 * mesh::median_spacing(p)) < 0.02);
    }
    SECTION("an open cup (a hemisphere, outward): the opening; the lower open-sheet threshold marks most of it") {
        test::cup_samples(4000, 0.4, p, n);
        const std::vector<char> none(p.size() / 3, 0);
        const double f = mesh::membrane_fraction(p, n, none, 3.0 * mesh::median_spacing(p));
        INFO("membrane " << f << ", marked at 0.3: " << fraction(mesh::thin_mask(p, n)));
        CHECK(f > mesh::PoissonOptions{}.open_membrane);  // the open-sheet step is taken
        CHECK(fraction(mesh::thin_mask(p, n)) < 0.5);     // the usual threshold misses most of it
        mesh::ThinOptions lower;
        lower.threshold = 0.15;
        CHECK(fraction(mesh::thin_mask(p, n, lower)) > 0.8);
        // Marked samples do not carry the field (a thickened slab's two sides cancel): none left, no membrane.
        const std::vector<char> all(p.size() / 3, 1);
        CHECK(mesh::membrane_fraction(p, n, all, 3.0 * mesh::median_spacing(p)) == 0.0);
    }
    std::vector<char> bad(3, 0);
    CHECK_THROWS(mesh::membrane_fraction(p, n, bad, 0.1));
}

TEST_CASE("winding: ThinField shares the thin test's work and gives the same answers", "[winding]") {
    std::vector<double> p, n;
    test::cup_samples(4000, 0.4, p, n);
    const double radius = 3.0 * mesh::median_spacing(p);
    const mesh::ThinField field(p, n);
    // Thresholds tried in any order, each the same as a thin_mask / membrane_fraction from scratch.
    for (double t : {0.3, 0.15, 0.25, 0.0}) {
        mesh::ThinOptions o;
        o.threshold = t;
        std::vector<double> dev_shared, dev_fresh;
        const auto shared = field.mask(t, &dev_shared);
        const auto fresh = mesh::thin_mask(p, n, o, &dev_fresh);
        INFO("threshold " << t);
        CHECK(shared == fresh);
        CHECK(dev_shared == dev_fresh);
        CHECK(field.membrane_fraction(shared, radius) == mesh::membrane_fraction(p, n, fresh, radius));
    }
    CHECK(fraction(field.mask(0.0)) > fraction(field.mask(0.3)));  // lower thresholds mark more
    std::vector<double> short_n(n.begin(), n.end() - 3);
    CHECK_THROWS(mesh::ThinField(p, short_n));
}

TEST_CASE("winding: one_sample_per_cell keeps one sample per cell and side, the one nearest the centre", "[winding]") {
    // A plane z = 0.25 sampled 10 × 10 per unit cell over 4 × 4 cells, normals +z; and (second
    // layer) the same plane 0.1 below with normals −z: a thin slab whose sides share their cells.
    std::vector<double> p, n;
    const double lo[3] = {0, 0, 0};
    for (int side = 0; side < 2; ++side)
        for (int i = 0; i < 40; ++i)
            for (int j = 0; j < 40; ++j) {
                p.insert(p.end(), {(i + 0.5) / 10.0, (j + 0.5) / 10.0, side ? 0.15 : 0.25});
                n.insert(n.end(), {0.0, 0.0, side ? -1.0 : 1.0});
            }
    std::vector<double> p1 = p, n1 = n;
    SECTION("one side: 16 cells, 16 samples, each the sample nearest its cell's centre") {
        p1.resize(3 * 1600), n1.resize(3 * 1600);
        CHECK(mesh::one_sample_per_cell(p1, n1, lo, 1.0) == 16);
        REQUIRE(p1.size() == 3 * 16);
        for (size_t k = 0; k < 16; ++k) {
            // Samples at (i + 0.5)/10: the nearest to a centre c + 0.5 lie at c + 0.45 or c + 0.55;
            // ties go to the first in order (c + 0.45).
            CHECK(std::fmod(p1[3 * k], 1.0) == Approx(0.45));
            CHECK(std::fmod(p1[3 * k + 1], 1.0) == Approx(0.45));
            CHECK(n1[3 * k + 2] == 1.0);
        }
    }
    SECTION("both sides of the slab in the same cells: both kept") {
        CHECK(mesh::one_sample_per_cell(p1, n1, lo, 1.0) == 32);
        int up = 0;
        for (size_t k = 0; k < 32; ++k) up += n1[3 * k + 2] > 0;
        CHECK(up == 16);
    }
    SECTION("cells smaller than the spacing keep everything, in order") {
        CHECK(mesh::one_sample_per_cell(p1, n1, lo, 0.05) == 3200);
        CHECK(p1 == p);
        CHECK(n1 == n);
    }
    std::vector<double> bad(3, 0.0);
    CHECK_THROWS(mesh::one_sample_per_cell(p1, bad, lo, 1.0));
    CHECK_THROWS(mesh::one_sample_per_cell(p1, n1, lo, 0.0));
}

TEST_CASE("topology: unsupported_area_fraction and median_spacing, by hand", "[winding]") {
    // Two triangles: one (area 0.5) whose corners are samples, one (area 2) 10 away from all of them.
    mesh::TriangleMesh m;
    m.vertices = {0, 0, 0, 1, 0, 0, 0, 1, 0, 10, 0, 10, 12, 0, 10, 10, 2, 10};
    m.triangles = {0, 1, 2, 3, 4, 5};
    const std::vector<double> pts = {0, 0, 0, 1, 0, 0, 0, 1, 0};
    CHECK(mesh::unsupported_area_fraction(m, pts, 0.5) == Approx(2.0 / 2.5).epsilon(1e-12));
    CHECK(mesh::unsupported_area_fraction(m, pts, 20.0) == 0.0);
    // A triangle with one supported corner is supported.
    m.triangles = {0, 4, 5};
    CHECK(mesh::unsupported_area_fraction(m, pts, 0.5) == 0.0);
    CHECK(mesh::unsupported_area_fraction(mesh::TriangleMesh{}, pts, 0.5) == 0.0);
    // Points along a line: 0, 0.1, 0.2, 0.5, 0.9 → nearest-neighbour distances 0.1 0.1 0.1 0.3 0.4.
    const std::vector<double> line = {0, 0, 0, 0.1, 0, 0, 0.2, 0, 0, 0.5, 0, 0, 0.9, 0, 0};
    CHECK(mesh::median_spacing(line) == Approx(0.1).epsilon(1e-12));
    CHECK(mesh::median_spacing({1, 2, 3}) == 0.0);
}

TEST_CASE("winding: thicken_thin doubles the masked samples into a slab, keeps the rest", "[winding]") {
    std::vector<double> p = {0, 0, 0, 1, 0, 0, 2, 0, 0}, n = {0, 0, 1, 0, 1, 0, 1, 0, 0};
    const std::vector<char> m = {1, 0, 1};
    CHECK(mesh::thicken_thin(p, n, m, 0.1) == 2);
    const std::vector<double> wp = {0, 0, 0.1, 1, 0, 0, 2.1, 0, 0, 0, 0, -0.1, 1.9, 0, 0};
    const std::vector<double> wn = {0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, -1, -1, 0, 0};
    REQUIRE(p.size() == wp.size());
    for (size_t i = 0; i < p.size(); ++i) {
        CHECK(p[i] == Approx(wp[i]).margin(1e-15));
        CHECK(n[i] == wn[i]);
    }
    std::vector<char> bad = {1};
    CHECK_THROWS(mesh::thicken_thin(p, n, bad, 0.1));
}

TEST_CASE("topology: remove_thin_specks drops a thin slab beside the surface, not a far one or a thick one", "[winding]") {
    auto m = mesh::touching_spheres(0.25, 0.02);  // two large spheres centred at x = ±0.26
    auto add_box = [&](double x0, double y0, double z0, double x1, double y1, double z1) {
        const int64_t b = m.num_vertices();
        for (int k = 0; k < 8; ++k) m.vertices.insert(m.vertices.end(), {k & 1 ? x1 : x0, k & 2 ? y1 : y0, k & 4 ? z1 : z0});
        // Outward-facing quads (two triangles each) of the box with corners k = x + 2y + 4z.
        const int q[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
        for (const auto& f : q) {
            m.triangles.insert(m.triangles.end(), {b + f[0], b + f[1], b + f[2]});
            m.triangles.insert(m.triangles.end(), {b + f[0], b + f[2], b + f[3]});
        }
    };
    add_box(0.21, -0.05, 0.255, 0.31, 0.05, 0.265);   // a thin slab just above the right sphere: removed
    add_box(0.21, -0.05, 0.8, 0.31, 0.05, 0.81);      // the same slab far away: kept (a thin part of its own)
    add_box(-0.3, -0.025, 0.26, -0.25, 0.025, 0.31);  // a small thick box beside the left sphere: kept
    REQUIRE(mesh::is_closed_manifold(m));
    std::vector<int64_t> comp;
    REQUIRE(mesh::triangle_components(m, comp) == 5);
    const int64_t before = m.num_triangles();
    CHECK(mesh::remove_thin_specks(m, 0.01, 0.012, 0.03) == 1);
    CHECK(mesh::triangle_components(m, comp) == 4);
    CHECK(m.num_triangles() == before - 12);
    double top = -1;  // the removed one is the near slab: nothing left between z = 0.252 and 0.27 at x > 0.2
    for (int64_t v = 0; v < m.num_vertices(); ++v)
        if (m.vertices[3 * v] > 0.2 && m.vertices[3 * v + 2] < 0.5) top = std::max(top, m.vertices[3 * v + 2]);
    CHECK(top < 0.252);
}

TEST_CASE("topology: closed specks of under 16 triangles go, even where they exceed 0.1 % of a small mesh", "[winding]") {
    // A coarse UV sphere of radius 0.3 (8 rings of 12): 168 triangles, outward.
    mesh::TriangleMesh m;
    const int R = 8, S = 12;
    m.vertices = {0, 0, 0.3};
    for (int i = 1; i < R; ++i)
        for (int j = 0; j < S; ++j) {
            const double th = M_PI * i / R, ph = 2 * M_PI * j / S;
            m.vertices.insert(m.vertices.end(),
                              {0.3 * std::sin(th) * std::cos(ph), 0.3 * std::sin(th) * std::sin(ph), 0.3 * std::cos(th)});
        }
    m.vertices.insert(m.vertices.end(), {0, 0, -0.3});
    auto at = [&](int i, int j) { return int64_t(1 + (i - 1) * S + (j % S)); };
    const int64_t south = 1 + (R - 1) * S;
    for (int j = 0; j < S; ++j) {
        m.triangles.insert(m.triangles.end(), {0, at(1, j), at(1, j + 1)});
        m.triangles.insert(m.triangles.end(), {south, at(R - 1, j + 1), at(R - 1, j)});
        for (int i = 1; i < R - 1; ++i) {
            m.triangles.insert(m.triangles.end(), {at(i, j), at(i + 1, j), at(i + 1, j + 1)});
            m.triangles.insert(m.triangles.end(), {at(i, j), at(i + 1, j + 1), at(i, j + 1)});
        }
    }
    REQUIRE(mesh::is_closed_manifold(m));
    REQUIRE(mesh::mesh_volume(m) > 0);
    const int64_t F = m.num_triangles();
    REQUIRE(8.0 > 1e-3 * double(F));  // the octahedron below is no speck by the share alone
    const int64_t b = m.num_vertices();
    const double c[3] = {0.0, 0.0, 0.6}, r = 0.004;  // a blob of a voxel, clear of the spheres
    for (int a = 0; a < 3; ++a)
        for (double s : {1.0, -1.0}) {
            double v[3] = {c[0], c[1], c[2]};
            v[a] += s * r;
            m.vertices.insert(m.vertices.end(), v, v + 3);
        }
    // Octahedron faces (vertices +x −x +y −y +z −z = 0..5), outward.
    const int f[8][3] = {{0, 2, 4}, {2, 1, 4}, {1, 3, 4}, {3, 0, 4}, {2, 0, 5}, {1, 2, 5}, {3, 1, 5}, {0, 3, 5}};
    for (const auto& t : f) m.triangles.insert(m.triangles.end(), {b + t[0], b + t[1], b + t[2]});
    REQUIRE(mesh::is_closed_manifold(m));
    REQUIRE(mesh::mesh_volume(m) > 0);
    std::vector<int64_t> comp;
    REQUIRE(mesh::triangle_components(m, comp) == 2);
    CHECK(mesh::remove_inconsistent_components(m) == 1);
    CHECK(mesh::triangle_components(m, comp) == 1);
    CHECK(m.num_triangles() == F);
}

TEST_CASE("mesh input: repeated points removed in order, and clouds on a line, in one place or too small named", "[winding]") {
    std::vector<double> p = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0};
    CHECK(mesh::remove_duplicate_points(p) == 3);
    CHECK(p == std::vector<double>{0, 0, 0, 1, 0, 0, 0, 1, 0});
    CHECK(mesh::remove_duplicate_points(p) == 0);
    std::vector<double> line, same, plane, few;
    for (int i = 0; i < 300; ++i) {
        line.insert(line.end(), {0.1 * i, 0.2 * i - 1, 3.0});
        same.insert(same.end(), {0.5, 0.5, 0.5});
        plane.insert(plane.end(), {std::cos(0.1 * i) * (1 + 0.003 * i), std::sin(0.1 * i) * (1 + 0.003 * i), 2.0});
    }
    for (int i = 0; i < 9; ++i) few.insert(few.end(), {double(i % 3), double(i / 3), double(i * i)});
    CHECK(mesh::degenerate_cloud(line) == "all 300 points lie on one line");
    CHECK(mesh::degenerate_cloud(same) == "1 distinct point");
    CHECK(mesh::degenerate_cloud(few) == "9 distinct points");
    CHECK(mesh::degenerate_cloud(plane).empty());  // flat clouds are meshed (as thin plates)
}

TEST_CASE("shape families: closed, outward, seeded members that differ", "[mesh][procedural]") {
    for (const auto& fam : mesh::shape_family_names()) {
        INFO("family " << fam);
        const auto a = mesh::family_shape(fam, 3), b = mesh::family_shape(fam, 3), c = mesh::family_shape(fam, 4);
        CHECK(a.vertices == b.vertices);
        CHECK(a.triangles == b.triangles);
        CHECK(a.vertices != c.vertices);
        const auto st = mesh::edge_stats(a);
        CHECK(st.boundary == 0);
        CHECK(st.non_manifold == 0);
        CHECK(st.inconsistent == 0);
        // every component encloses positive volume (outward faces): divergence theorem per component
        std::vector<int64_t> comp;
        const int64_t n = mesh::triangle_components(a, comp);
        std::vector<double> vol(size_t(n), 0.0);
        for (size_t t = 0; t < a.triangles.size() / 3; ++t) {
            const double* p = &a.vertices[size_t(3 * a.triangles[3 * t])];
            const double* q = &a.vertices[size_t(3 * a.triangles[3 * t + 1])];
            const double* r = &a.vertices[size_t(3 * a.triangles[3 * t + 2])];
            vol[size_t(comp[t])] +=
                (p[0] * (q[1] * r[2] - q[2] * r[1]) - p[1] * (q[0] * r[2] - q[2] * r[0]) + p[2] * (q[0] * r[1] - q[1] * r[0])) /
                6.0;
        }
        for (double v : vol) CHECK(v > 0);
    }
    CHECK_THROWS_AS(mesh::family_shape("sofa", 0), ConfigError);
}
