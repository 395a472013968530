// SPDX-License-Identifier: MIT
#include "mash/mesh/topology.h"

#include <ATen/Parallel.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

#include "mash/core/kdtree.h"
#include "mash/mesh/winding.h"

namespace mash::mesh {
namespace {

uint64_t edge_key(int64_t u, int64_t v) {
    const uint64_t a = uint64_t(std::min(u, v)), b = uint64_t(std::max(u, v));
    return (a << 32) | b;
}

using EdgeRef = std::pair<int64_t, int>;  // (triangle, local edge index 0..2)
struct EdgeSpan {
    const EdgeRef* b;
    const EdgeRef* e;
    size_t size() const { return size_t(e - b); }
    const EdgeRef& operator[](size_t i) const { return b[i]; }
    const EdgeRef* begin() const { return b; }
    const EdgeRef* end() const { return e; }
};
/// Triangles around each undirected edge, grouped by a counting sort on the smaller vertex and
/// a small sort within each vertex's bucket (no hash map, no global sort: linear in the mesh).
/// Groups in key order, the triangles of a group in (triangle, local edge) order.
struct EdgeMap {
    std::vector<uint64_t> keys;  ///< one per group
    std::vector<EdgeRef> flat;   ///< all (triangle, local edge), grouped
    std::vector<size_t> starts;  ///< group boundaries in flat, last = flat.size()
    struct It {
        const EdgeMap* m;
        size_t g;
        std::pair<uint64_t, EdgeSpan> operator*() const {
            return {m->keys[g], EdgeSpan{&m->flat[m->starts[g]], &m->flat[m->starts[g + 1]]}};
        }
        It& operator++() {
            ++g;
            return *this;
        }
        bool operator!=(const It& o) const { return g != o.g; }
    };
    It begin() const { return It{this, 0}; }
    It end() const { return It{this, keys.size()}; }
};
EdgeMap edge_map(const TriangleMesh& m) {
    EdgeMap e;
    const int64_t F = m.num_triangles(), V = m.num_vertices();
    const int64_t* t = m.triangles.data();
    auto ends = [&](int64_t r, int64_t& a, int64_t& b) {
        const int64_t u = t[r], v = t[3 * (r / 3) + (r % 3 + 1) % 3];
        a = std::min(u, v), b = std::max(u, v);
    };
    std::vector<int64_t> start(static_cast<size_t>(V + 1), 0);
    for (int64_t r = 0; r < 3 * F; ++r) {
        int64_t a, b;
        ends(r, a, b);
        ++start[size_t(a + 1)];
    }
    for (int64_t v = 0; v < V; ++v) start[size_t(v + 1)] += start[size_t(v)];
    std::vector<std::pair<int64_t, int64_t>> bucket(static_cast<size_t>(3 * F));  // (larger vertex, 3f + k)
    {
        std::vector<int64_t> fill(start.begin(), start.end() - 1);
        for (int64_t r = 0; r < 3 * F; ++r) {
            int64_t a, b;
            ends(r, a, b);
            bucket[size_t(fill[size_t(a)]++)] = {b, r};
        }
    }
    e.flat.reserve(size_t(3 * F));
    for (int64_t a = 0; a < V; ++a) {
        auto* lo = bucket.data() + start[size_t(a)];
        auto* hi = bucket.data() + start[size_t(a + 1)];
        std::sort(lo, hi);
        for (auto* p = lo; p < hi; ++p) {
            if (p == lo || p->first != (p - 1)->first) {
                e.keys.push_back(edge_key(a, p->first));
                e.starts.push_back(e.flat.size());
            }
            e.flat.push_back({p->second / 3, int(p->second % 3)});
        }
    }
    e.starts.push_back(e.flat.size());
    return e;
}

void sub(const double* a, const double* b, double* o) { o[0] = a[0] - b[0], o[1] = a[1] - b[1], o[2] = a[2] - b[2]; }
void cross(const double* a, const double* b, double* o) {
    o[0] = a[1] * b[2] - a[2] * b[1], o[1] = a[2] * b[0] - a[0] * b[2], o[2] = a[0] * b[1] - a[1] * b[0];
}
double dot(const double* a, const double* b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double triangle_area(const TriangleMesh& m, int64_t f) {
    const int64_t* t = &m.triangles[size_t(3 * f)];
    double u[3], v[3], n[3];
    sub(&m.vertices[size_t(3 * t[1])], &m.vertices[size_t(3 * t[0])], u);
    sub(&m.vertices[size_t(3 * t[2])], &m.vertices[size_t(3 * t[0])], v);
    cross(u, v, n);
    return 0.5 * std::sqrt(dot(n, n));
}
}  // namespace

UnionFind::UnionFind(int64_t n) : parent(size_t(n)) { std::iota(parent.begin(), parent.end(), 0); }
int64_t UnionFind::find(int64_t x) {
    while (parent[size_t(x)] != x) x = parent[size_t(x)] = parent[size_t(parent[size_t(x)])];
    return x;
}
void UnionFind::unite(int64_t a, int64_t b) {
    a = find(a), b = find(b);
    if (a != b) parent[size_t(std::max(a, b))] = std::min(a, b);
}

EdgeStats edge_stats(const TriangleMesh& m) {
    EdgeStats s;
    const auto emap = edge_map(m);
    for (const auto [key, fs] : emap) {
        ++s.edges;
        if (fs.size() == 1)
            ++s.boundary;
        else if (fs.size() > 2)
            ++s.non_manifold;
        else {
            const int64_t* t0 = &m.triangles[3 * fs[0].first];
            const int64_t* t1 = &m.triangles[3 * fs[1].first];
            if (t0[fs[0].second] == t1[fs[1].second]) ++s.inconsistent;  // same start vertex: same direction
        }
    }
    return s;
}

bool is_closed_manifold(const TriangleMesh& m) {
    if (m.num_triangles() == 0) return false;
    const auto s = edge_stats(m);
    return s.boundary == 0 && s.non_manifold == 0 && s.inconsistent == 0;
}

int64_t triangle_components(const TriangleMesh& m, std::vector<int64_t>& component) {
    const int64_t F = m.num_triangles();
    UnionFind uf(F);
    const auto emap = edge_map(m);
    for (const auto [key, fs] : emap)
        for (size_t i = 1; i < fs.size(); ++i) uf.unite(fs[0].first, fs[i].first);
    component.assign(size_t(F), -1);
    std::unordered_map<int64_t, int64_t> ids;
    for (int64_t f = 0; f < F; ++f) {
        auto it = ids.emplace(uf.find(f), int64_t(ids.size())).first;
        component[size_t(f)] = it->second;
    }
    return int64_t(ids.size());
}

void compact_vertices(TriangleMesh& m) {
    std::vector<int64_t> remap(size_t(m.num_vertices()), -1);
    std::vector<double> v;
    for (auto& t : m.triangles) {
        if (remap[size_t(t)] < 0) {
            remap[size_t(t)] = int64_t(v.size() / 3);
            v.insert(v.end(), {m.vertices[3 * t], m.vertices[3 * t + 1], m.vertices[3 * t + 2]});
        }
        t = remap[size_t(t)];
    }
    m.vertices = std::move(v);
}

int64_t make_manifold(TriangleMesh& m) {
    {                                                                 // degenerate and coincident triangles out
        std::vector<std::pair<std::array<int64_t, 3>, int64_t>> tri;  // (sorted vertices, triangle)
        tri.reserve(size_t(m.num_triangles()));
        for (int64_t f = 0; f < m.num_triangles(); ++f) {
            const int64_t* a = &m.triangles[3 * f];
            if (a[0] == a[1] || a[1] == a[2] || a[0] == a[2]) continue;
            std::array<int64_t, 3> k{a[0], a[1], a[2]};
            std::sort(k.begin(), k.end());
            tri.push_back({k, f});
        }
        std::sort(tri.begin(), tri.end());
        auto parity = [&](int64_t f) {  // +1 for an even permutation of the sorted triple
            const int64_t* a = &m.triangles[3 * f];
            return (a[0] < a[1]) + (a[1] < a[2]) + (a[2] < a[0]) == 2 ? 1 : -1;
        };
        std::vector<int64_t> keep;
        for (size_t i = 0; i < tri.size();) {
            size_t j = i;
            while (j < tri.size() && tri[j].first == tri[i].first) ++j;
            int64_t up = 0, down = 0;
            for (size_t k = i; k < j; ++k) (parity(tri[k].second) > 0 ? up : down)++;
            // Opposite-facing copies cancel in pairs; one copy of the majority direction remains.
            if (up != down)
                for (size_t k = i; k < j; ++k)
                    if ((parity(tri[k].second) > 0) == (up > down)) {
                        keep.push_back(tri[k].second);
                        break;
                    }
            i = j;
        }
        std::sort(keep.begin(), keep.end());
        std::vector<int64_t> t;
        for (int64_t f : keep) t.insert(t.end(), &m.triangles[3 * f], &m.triangles[3 * f] + 3);
        m.triangles = std::move(t);
    }
    const int64_t F = m.num_triangles(), V0 = m.num_vertices();
    // Corners (f, k) = 3f + k; corners joined across paired edges share an output vertex.
    UnionFind uf(3 * F);
    auto pair_up = [&](std::pair<int64_t, int> a, std::pair<int64_t, int> b) {
        // Edge k of a triangle runs from corner k to corner k+1.
        const int64_t a0 = 3 * a.first + a.second, a1 = 3 * a.first + (a.second + 1) % 3;
        const int64_t b0 = 3 * b.first + b.second, b1 = 3 * b.first + (b.second + 1) % 3;
        if (m.triangles[size_t(a0)] == m.triangles[size_t(b1)])
            uf.unite(a0, b1), uf.unite(a1, b0);
        else
            uf.unite(a0, b0), uf.unite(a1, b1);
    };
    const auto emap = edge_map(m);
    for (const auto [key, fs] : emap) {
        if (fs.size() == 2) {
            pair_up(fs[0], fs[1]);
            continue;
        }
        if (fs.size() < 3) continue;
        // Angular order around the edge u→v (u < v).
        const int64_t u = int64_t(key >> 32), v = int64_t(key & 0xffffffffu);
        const double* pu = &m.vertices[3 * u];
        const double* pv = &m.vertices[3 * v];
        double axis[3], ref[3] = {0, 0, 0}, ref2[3];
        sub(pv, pu, axis);
        const double al = std::sqrt(dot(axis, axis));
        if (!(al > 0)) continue;
        for (double& x : axis) x /= al;
        struct Around {
            std::pair<int64_t, int> f;
            double angle;
            bool forward;
            double n[3];
            double dir[3];
        };
        std::vector<Around> ar;
        for (const auto& f : fs) {
            const int64_t* t = &m.triangles[3 * f.first];
            const int64_t w = t[(f.second + 2) % 3];
            double d[3];
            sub(&m.vertices[3 * w], pu, d);
            const double along = dot(d, axis);
            for (int i = 0; i < 3; ++i) d[i] -= along * axis[i];
            Around a{f, 0, t[f.second] == u, {0, 0, 0}, {d[0], d[1], d[2]}};
            double e1[3], e2[3];
            sub(&m.vertices[3 * t[1]], &m.vertices[3 * t[0]], e1);
            sub(&m.vertices[3 * t[2]], &m.vertices[3 * t[0]], e2);
            cross(e1, e2, a.n);
            ar.push_back(a);
        }
        std::copy(ar[0].dir, ar[0].dir + 3, ref);
        const double rl = std::sqrt(dot(ref, ref));
        if (!(rl > 0)) continue;
        for (double& x : ref) x /= rl;
        cross(axis, ref, ref2);
        for (auto& a : ar) a.angle = std::atan2(dot(a.dir, ref2), dot(a.dir, ref));
        std::sort(ar.begin(), ar.end(), [](const Around& x, const Around& y) { return x.angle < y.angle; });
        // Pairings of angular neighbours: offset 0 pairs (0,1),(2,3)…, offset 1 pairs (1,2),…,(n−1,0).
        // Prefer the one whose pairs enclose solid: the wedge from a to b lies behind a's normal.
        const size_t n = ar.size();
        if (n % 2 != 0) {  // odd: pair what can be paired in order, leave the last as a boundary
            for (size_t i = 0; i + 1 < n; i += 2) pair_up(ar[i].f, ar[i + 1].f);
            continue;
        }
        int score[2] = {0, 0};
        for (int off = 0; off < 2; ++off)
            for (size_t i = 0; i < n; i += 2) {
                const Around& a = ar[(i + off) % n];
                const Around& b = ar[(i + off + 1) % n];
                score[off] += (dot(a.n, b.dir) < 0 ? 1 : 0) + (a.forward != b.forward ? 1 : 0);
            }
        const int off = score[1] > score[0] ? 1 : 0;
        for (size_t i = 0; i < n; i += 2) pair_up(ar[(i + off) % n].f, ar[(i + off + 1) % n].f);
    }
    // One output vertex per class of corners.
    std::vector<int64_t> newid(size_t(3 * F), -1);
    std::vector<char> used(size_t(V0), 0);
    std::vector<double> verts = m.vertices;
    std::vector<int64_t> tris(m.triangles.size());
    for (int64_t c = 0; c < 3 * F; ++c) {
        const int64_t root = uf.find(c);
        if (newid[size_t(root)] < 0) {
            const int64_t orig = m.triangles[size_t(root)];
            int64_t id = orig;
            if (used[size_t(orig)]) {
                id = int64_t(verts.size() / 3);
                verts.insert(verts.end(), {m.vertices[3 * orig], m.vertices[3 * orig + 1], m.vertices[3 * orig + 2]});
            }
            used[size_t(orig)] = 1;
            newid[size_t(root)] = id;
        }
        tris[size_t(c)] = newid[size_t(root)];
    }
    m.triangles = std::move(tris);
    m.vertices = std::move(verts);
    return m.num_vertices() - V0;
}

int64_t fill_holes(TriangleMesh& m) {
    // Boundary half-edges: u→v used by exactly one triangle, and no v→u anywhere (an edge two
    // triangles share in the same direction is an orientation defect, not a hole). Sorted keys,
    // no hash map (a few hundred thousand triangles in tens of milliseconds).
    auto dkey = [](int64_t u, int64_t v) { return (uint64_t(u) << 32) | uint64_t(v); };
    std::vector<uint64_t> directed;
    directed.reserve(m.triangles.size());
    for (int64_t f = 0; f < m.num_triangles(); ++f)
        for (int k = 0; k < 3; ++k) directed.push_back(dkey(m.triangles[3 * f + k], m.triangles[3 * f + (k + 1) % 3]));
    std::sort(directed.begin(), directed.end());
    std::vector<std::pair<int64_t, int64_t>> bnd;  // (u, v), sorted by u
    for (size_t i = 0; i < directed.size();) {
        size_t j = i;
        while (j < directed.size() && directed[j] == directed[i]) ++j;
        const int64_t u = int64_t(directed[i] >> 32), v = int64_t(directed[i] & 0xffffffffu);
        if (j - i == 1 && !std::binary_search(directed.begin(), directed.end(), dkey(v, u))) bnd.push_back({u, v});
        i = j;
    }
    // Boundary successors of each vertex: bnd[lo[g] .. hi[g]) for the vertex us[g]; taken from the back.
    std::vector<int64_t> us;
    std::vector<size_t> lo, hi;
    for (size_t i = 0; i < bnd.size(); ++i) {
        if (i == 0 || bnd[i].first != bnd[i - 1].first) us.push_back(bnd[i].first), lo.push_back(i), hi.push_back(i);
        hi.back() = i + 1;
    }
    auto take = [&](int64_t u, int64_t& v) {
        const auto it = std::lower_bound(us.begin(), us.end(), u);
        if (it == us.end() || *it != u) return false;
        const size_t g = size_t(it - us.begin());
        if (hi[g] == lo[g]) return false;
        v = bnd[--hi[g]].second;
        return true;
    };
    int64_t loops = 0;
    std::vector<int64_t> loop;
    for (size_t s = 0; s < us.size(); ++s)
        while (hi[s] > lo[s]) {
            const int64_t start = us[s];
            loop.clear();
            int64_t cur = start, nx = 0;
            while (take(cur, nx)) {
                loop.push_back(cur);
                cur = nx;
                if (cur == start) break;
            }
            if (cur != start || loop.size() < 3) continue;  // an open chain: leave it
            // The hole's triangles run against the boundary direction (v→u) to match their neighbours.
            double c[3] = {0, 0, 0};
            for (int64_t v : loop)
                for (int d = 0; d < 3; ++d) c[d] += m.vertices[3 * v + d] / double(loop.size());
            const int64_t cid = m.num_vertices();
            m.vertices.insert(m.vertices.end(), c, c + 3);
            for (size_t i = 0; i < loop.size(); ++i) {
                const int64_t u = loop[i], v = loop[(i + 1) % loop.size()];
                m.triangles.insert(m.triangles.end(), {v, u, cid});
            }
            ++loops;
        }
    return loops;
}

int64_t repair_manifold(TriangleMesh& m, int rounds) {
    make_manifold(m);
    int64_t repaired = 0;
    for (int r = 0; r < rounds; ++r) {
        std::vector<char> bad(size_t(m.num_vertices()), 0);
        int64_t nbad = 0;
        const auto emap = edge_map(m);
        for (const auto [key, fs] : emap)
            if (fs.size() > 2) {
                bad[size_t(key >> 32)] = bad[size_t(key & 0xffffffffu)] = 1;
                ++nbad;
            }
        if (nbad == 0) break;
        repaired += nbad;
        std::vector<int64_t> t;
        for (int64_t f = 0; f < m.num_triangles(); ++f) {
            const int64_t* a = &m.triangles[3 * f];
            if (!bad[size_t(a[0])] && !bad[size_t(a[1])] && !bad[size_t(a[2])]) t.insert(t.end(), a, a + 3);
        }
        m.triangles = std::move(t);
        make_manifold(m);
        fill_holes(m);
        make_manifold(m);
    }
    compact_vertices(m);
    return repaired;
}

namespace {
/// Removes the triangles of the components marked in `drop` (and the vertices left unused);
/// returns the number of components removed.
int64_t drop_components(TriangleMesh& m, const std::vector<int64_t>& comp, const std::vector<char>& drop) {
    const int64_t removed = std::count(drop.begin(), drop.end(), 1);
    if (removed == 0) return 0;
    std::vector<int64_t> t;
    for (int64_t f = 0; f < m.num_triangles(); ++f)
        if (!drop[size_t(comp[size_t(f)])]) t.insert(t.end(), &m.triangles[3 * f], &m.triangles[3 * f] + 3);
    m.triangles = std::move(t);
    compact_vertices(m);
    return removed;
}
}  // namespace

std::vector<double> component_volumes(const TriangleMesh& m, const std::vector<int64_t>& comp, int64_t C) {
    std::vector<double> vol(size_t(C), 0.0);
    for (int64_t f = 0; f < m.num_triangles(); ++f) {
        const double* a = &m.vertices[3 * m.triangles[3 * f]];
        const double* b = &m.vertices[3 * m.triangles[3 * f + 1]];
        const double* c = &m.vertices[3 * m.triangles[3 * f + 2]];
        double bc[3];
        cross(b, c, bc);
        vol[size_t(comp[size_t(f)])] += dot(a, bc) / 6.0;
    }
    return vol;
}

int64_t remove_inconsistent_components(TriangleMesh& m, double min_fraction) {
    std::vector<int64_t> comp;
    const int64_t C = triangle_components(m, comp);
    if (C <= 1) return 0;
    const auto vol = component_volumes(m, comp, C);
    std::vector<int64_t> count(size_t(C), 0);
    std::vector<std::vector<double>> cp(static_cast<size_t>(C)), cm(static_cast<size_t>(C));
    std::vector<std::vector<int64_t>> verts(static_cast<size_t>(C));
    for (int64_t f = 0; f < m.num_triangles(); ++f) {
        const int64_t c = comp[size_t(f)];
        ++count[size_t(c)];
        const int64_t* t = &m.triangles[3 * f];
        const double* a = &m.vertices[3 * t[0]];
        const double* b = &m.vertices[3 * t[1]];
        const double* d = &m.vertices[3 * t[2]];
        double u[3], v[3], n[3];
        sub(b, a, u), sub(d, a, v), cross(u, v, n);
        for (int k = 0; k < 3; ++k) {
            cp[size_t(c)].push_back((a[k] + b[k] + d[k]) / 3.0);
            cm[size_t(c)].push_back(0.5 * n[k]);
        }
        verts[size_t(c)].push_back(t[0]);
    }
    const int64_t largest = int64_t(std::max_element(count.begin(), count.end()) - count.begin());
    std::vector<WindingTree> trees;
    trees.reserve(size_t(C));
    for (int64_t c = 0; c < C; ++c) trees.emplace_back(cp[size_t(c)], cm[size_t(c)], 0.0);
    std::vector<char> drop(size_t(C), 0);
    for (int64_t c = 0; c < C; ++c) {
        if (c == largest) continue;
        if (double(count[size_t(c)]) < std::max(min_fraction * double(m.num_triangles()), 16.0)) {  // a speck
            drop[size_t(c)] = 1;
            continue;
        }
        // Depth: the others' winding number at a few of this component's vertices (median).
        std::vector<double> w;
        const auto& vs = verts[size_t(c)];
        for (int k = 0; k < 5; ++k) {
            const double* q = &m.vertices[3 * vs[vs.size() * size_t(k) / 5]];
            double s = 0;
            for (int64_t o = 0; o < C; ++o)
                if (o != c) s += trees[size_t(o)].at(q);
            w.push_back(s);
        }
        std::sort(w.begin(), w.end());
        const int64_t depth = std::llround(w[2]);
        const bool odd = (depth % 2 + 2) % 2 == 1;
        if ((vol[size_t(c)] > 0) == odd) drop[size_t(c)] = 1;
    }
    return drop_components(m, comp, drop);
}

int64_t remove_thin_specks(TriangleMesh& m, double max_fraction, double max_thickness, double max_gap) {
    std::vector<int64_t> comp;
    const int64_t C = triangle_components(m, comp);
    if (C <= 1) return 0;
    const auto vol = component_volumes(m, comp, C);
    std::vector<double> area(size_t(C), 0.0);
    std::vector<int64_t> count(size_t(C), 0);
    for (int64_t f = 0; f < m.num_triangles(); ++f) {
        area[size_t(comp[size_t(f)])] += triangle_area(m, f);
        ++count[size_t(comp[size_t(f)])];
    }
    const int64_t largest = int64_t(std::max_element(count.begin(), count.end()) - count.begin());
    std::vector<char> candidate(size_t(C), 0);
    bool any = false;
    for (int64_t c = 0; c < C; ++c) {
        candidate[size_t(c)] = c != largest && double(count[size_t(c)]) < max_fraction * double(m.num_triangles()) &&
                               2.0 * std::abs(vol[size_t(c)]) < max_thickness * area[size_t(c)];
        any = any || candidate[size_t(c)];
    }
    if (!any) return 0;
    // Vertices of each component; the others' vertices (non-candidates) in one KD-tree.
    std::vector<int64_t> vcomp(size_t(m.num_vertices()), -1);
    for (int64_t f = 0; f < m.num_triangles(); ++f)
        for (int k = 0; k < 3; ++k) vcomp[size_t(m.triangles[3 * f + k])] = comp[size_t(f)];
    std::vector<double> rest;
    for (int64_t v = 0; v < m.num_vertices(); ++v)
        if (vcomp[size_t(v)] >= 0 && !candidate[size_t(vcomp[size_t(v)])])
            rest.insert(rest.end(), &m.vertices[3 * v], &m.vertices[3 * v] + 3);
    PackedCloud<double> cloud{rest.data(), rest.size() / 3};
    PackedKdTree<double> tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16));
    tree.buildIndex();
    std::vector<std::vector<double>> gaps(static_cast<size_t>(C));
    for (int64_t v = 0; v < m.num_vertices(); ++v) {
        const int64_t c = vcomp[size_t(v)];
        if (c < 0 || !candidate[size_t(c)]) continue;
        double d2 = 0;
        nearest_point(tree, &m.vertices[3 * v], &d2);
        gaps[size_t(c)].push_back(std::sqrt(d2));
    }
    std::vector<char> drop(size_t(C), 0);
    for (int64_t c = 0; c < C; ++c) {
        auto& g = gaps[size_t(c)];
        if (!candidate[size_t(c)] || g.empty()) continue;
        std::nth_element(g.begin(), g.begin() + g.size() / 2, g.end());
        drop[size_t(c)] = g[g.size() / 2] < max_gap;
    }
    return drop_components(m, comp, drop);
}

int64_t remove_outside_components(TriangleMesh& m, const double lo[3], const double hi[3], double margin) {
    std::vector<int64_t> comp;
    const int64_t C = triangle_components(m, comp);
    if (C <= 1) return 0;
    std::vector<char> outside(size_t(C), 0);
    for (int64_t f = 0; f < m.num_triangles(); ++f)
        for (int k = 0; k < 3; ++k) {
            const double* p = &m.vertices[3 * m.triangles[3 * f + k]];
            for (int d = 0; d < 3; ++d)
                if (p[d] < lo[d] - margin || p[d] > hi[d] + margin) outside[size_t(comp[size_t(f)])] = 1;
        }
    {  // the largest component stays (if it is Poisson's box, the orientation failed: keep that visible)
        std::vector<int64_t> count(size_t(C), 0);
        for (int64_t c : comp) ++count[size_t(c)];
        outside[size_t(std::max_element(count.begin(), count.end()) - count.begin())] = 0;
    }
    return drop_components(m, comp, outside);
}

double unsupported_area_fraction(const TriangleMesh& m, const std::vector<double>& points, double radius) {
    const int64_t V = m.num_vertices(), F = m.num_triangles();
    if (F == 0 || points.size() < 3) return 0.0;
    PackedCloud<double> cloud{points.data(), points.size() / 3};
    PackedKdTree<double> tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16));
    tree.buildIndex();
    std::vector<char> far(static_cast<size_t>(V), 0);
    const double r2 = radius * radius;
    at::parallel_for(0, V, 2048, [&](int64_t b, int64_t e) {
        for (int64_t v = b; v < e; ++v) {
            double d2 = 0;
            nearest_point(tree, &m.vertices[size_t(3 * v)], &d2);
            far[size_t(v)] = d2 > r2;
        }
    });
    double total = 0, unsupported = 0;
    for (int64_t f = 0; f < F; ++f) {
        const int64_t* t = &m.triangles[size_t(3 * f)];
        const double a = triangle_area(m, f);
        total += a;
        if (far[size_t(t[0])] && far[size_t(t[1])] && far[size_t(t[2])]) unsupported += a;
    }
    return total > 0 ? unsupported / total : 0.0;
}

double mesh_volume(const TriangleMesh& m) {
    double v = 0;
    for (size_t f = 0; f + 2 < m.triangles.size(); f += 3) {
        const double* a = &m.vertices[3 * m.triangles[f]];
        const double* b = &m.vertices[3 * m.triangles[f + 1]];
        const double* c = &m.vertices[3 * m.triangles[f + 2]];
        v += (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0])) / 6.0;
    }
    return v;
}

double mesh_area(const TriangleMesh& m) {
    double s = 0;
    for (size_t f = 0; f + 2 < m.triangles.size(); f += 3) {
        Eigen::Vector3d a(&m.vertices[3 * m.triangles[f]]), b(&m.vertices[3 * m.triangles[f + 1]]),
            c(&m.vertices[3 * m.triangles[f + 2]]);
        s += 0.5 * (b - a).cross(c - a).norm();
    }
    return s;
}

bool is_closed(const TriangleMesh& m) {
    std::map<std::pair<int64_t, int64_t>, int> edges;
    for (size_t f = 0; f + 2 < m.triangles.size(); f += 3)
        for (int e = 0; e < 3; ++e) {
            int64_t u = m.triangles[f + e], v = m.triangles[f + (e + 1) % 3];
            edges[{std::min(u, v), std::max(u, v)}]++;
        }
    if (edges.empty()) return false;
    for (const auto& [e, c] : edges)
        if (c < 2 || c % 2 != 0) return false;  // a boundary (or odd, open) edge
    return true;
}

}  // namespace mash::mesh
