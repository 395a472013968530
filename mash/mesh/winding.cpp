// SPDX-License-Identifier: MIT
#include "mash/mesh/winding.h"

#include <ATen/Parallel.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <nanoflann.hpp>
#include <numeric>
#include <queue>
#include <random>
#include <stdexcept>
#include <tuple>

#include "mash/core/cloud.h"
#include "mash/core/kdtree.h"
#include "mash/kernels/winding_math.h"
#include "mash/mesh/topology.h"

namespace mash::mesh {
namespace {
constexpr int64_t kLeaf = 8;

using Cloud = PackedCloud<double>;
using KdTree = PackedKdTree<double>;

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    auto mid = v.begin() + v.size() / 2;
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
}

/// The regularization radius: `spacings` median sample spacings, the spacing of a sample being
/// the radius of the disc of its area (sample_areas).
double regularization_radius(const std::vector<double>& area, double spacings) {
    std::vector<double> spacing(area.size());
    for (size_t i = 0; i < area.size(); ++i) spacing[i] = std::sqrt(area[i] / M_PI);
    return spacings * median(spacing);
}

bool has_normal(const double* n) { return n[0] * n[0] + n[1] * n[1] + n[2] * n[2] > 0.25; }
}  // namespace

// ---------------------------------------------------------------------------------------------
WindingTree::WindingTree(const std::vector<double>& points, const std::vector<double>& dipoles, double eps, double beta)
    : eps_(eps), beta_(beta) {
    if (points.size() != dipoles.size() || points.size() % 3 != 0)
        throw std::invalid_argument("WindingTree: points and dipoles must both be [N*3]");
    const int64_t n = int64_t(points.size() / 3);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    nodes_.reserve(size_t(2 * n / kLeaf + 2));
    if (n > 0) build(0, n, order, points, dipoles);
    pts_.resize(points.size());
    mu_.resize(points.size());
    for (int64_t i = 0; i < n; ++i)
        for (int d = 0; d < 3; ++d) {
            pts_[3 * i + d] = points[3 * order[i] + d];
            mu_[3 * i + d] = dipoles[3 * order[i] + d];
        }
}

int64_t WindingTree::build(int64_t begin, int64_t end, std::vector<int64_t>& order, const std::vector<double>& p,
                           const std::vector<double>& m) {
    const int64_t id = int64_t(nodes_.size());
    nodes_.push_back(Node{});
    // Centre: the mean of |μ|-weighted positions (plain mean when all dipoles vanish).
    double c[3] = {0, 0, 0}, wsum = 0, lo[3], hi[3];
    for (int d = 0; d < 3; ++d) lo[d] = std::numeric_limits<double>::max(), hi[d] = -lo[d];
    for (int64_t k = begin; k < end; ++k) {
        const double* q = &p[3 * order[k]];
        const double* u = &m[3 * order[k]];
        const double w = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        for (int d = 0; d < 3; ++d) {
            c[d] += w * q[d];
            lo[d] = std::min(lo[d], q[d]);
            hi[d] = std::max(hi[d], q[d]);
        }
        wsum += w;
    }
    for (int d = 0; d < 3; ++d) c[d] = wsum > 0 ? c[d] / wsum : 0.5 * (lo[d] + hi[d]);
    Node nd{};
    nd.begin = begin;
    nd.end = end;
    nd.left = nd.right = -1;
    double r2 = 0;
    std::fill(nd.M, nd.M + 3, 0.0);
    std::fill(nd.C, nd.C + 9, 0.0);
    std::fill(nd.D, nd.D + 27, 0.0);
    for (int64_t k = begin; k < end; ++k) {
        const double* q = &p[3 * order[k]];
        const double* u = &m[3 * order[k]];
        const double dv[3] = {q[0] - c[0], q[1] - c[1], q[2] - c[2]};
        r2 = std::max(r2, dv[0] * dv[0] + dv[1] * dv[1] + dv[2] * dv[2]);
        for (int a = 0; a < 3; ++a) {
            nd.M[a] += u[a];
            for (int b = 0; b < 3; ++b) {
                nd.C[3 * a + b] += u[a] * dv[b];
                for (int e = 0; e < 3; ++e) nd.D[9 * a + 3 * b + e] += u[a] * dv[b] * dv[e];
            }
        }
    }
    std::copy(c, c + 3, nd.c);
    nd.radius = std::sqrt(r2);
    if (end - begin > kLeaf) {
        int axis = 0;
        for (int d = 1; d < 3; ++d)
            if (hi[d] - lo[d] > hi[axis] - lo[axis]) axis = d;
        const int64_t mid = begin + (end - begin) / 2;
        std::nth_element(order.begin() + begin, order.begin() + mid, order.begin() + end,
                         [&](int64_t x, int64_t y) { return p[3 * x + axis] < p[3 * y + axis]; });
        nd.left = build(begin, mid, order, p, m);
        nd.right = build(mid, end, order, p, m);
    }
    nodes_[size_t(id)] = nd;
    return id;
}

double WindingTree::at(const double* q) const {
    if (nodes_.empty()) return 0.0;
    double w = 0;
    int64_t stack[128];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
        const Node& nd = nodes_[size_t(stack[--top])];
        const double dx = nd.c[0] - q[0], dy = nd.c[1] - q[1], dz = nd.c[2] - q[2];
        const double dist = std::sqrt(dx * dx + dy * dy + dz * dz);
        if (dist > beta_ * nd.radius && dist > nd.radius + eps_) {
            w += kernels::winding_cluster(nd.c, nd.M, nd.C, nd.D, q[0], q[1], q[2]);
        } else if (nd.left < 0) {
            for (int64_t k = nd.begin; k < nd.end; ++k)
                w += kernels::winding_dipole(pts_[3 * k], pts_[3 * k + 1], pts_[3 * k + 2], mu_[3 * k], mu_[3 * k + 1],
                                             mu_[3 * k + 2], q[0], q[1], q[2], eps_);
        } else {
            stack[top++] = nd.left;
            stack[top++] = nd.right;
        }
    }
    return w;
}

double winding_direct(const std::vector<double>& p, const std::vector<double>& m, const double* q, double eps) {
    double w = 0;
    for (size_t j = 0; j + 2 < p.size(); j += 3)
        w += kernels::winding_dipole(p[j], p[j + 1], p[j + 2], m[j], m[j + 1], m[j + 2], q[0], q[1], q[2], eps);
    return w;
}

std::vector<double> winding_numbers(const WindingTree& tree, const std::vector<double>& queries) {
    std::vector<double> out(queries.size() / 3);
    at::parallel_for(0, int64_t(out.size()), 256, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[size_t(i)] = tree.at(&queries[3 * i]);
    });
    return out;
}

double median_spacing(const std::vector<double>& points) {
    if (points.size() / 3 < 2) return 0.0;
    std::vector<uint32_t> nb;
    std::vector<double> d2;
    knn(points, 1, nb, d2);
    for (double& d : d2) d = std::sqrt(d);
    return median(std::move(d2));
}

std::vector<double> sample_areas(const std::vector<double>& points, int k) {
    const size_t n = points.size() / 3;
    if (n < 2) return std::vector<double>(n, 0.0);
    k = int(std::min<size_t>(size_t(k), n - 1));
    std::vector<uint32_t> idx;
    std::vector<double> d2;
    knn(points, k, idx, d2);
    std::vector<double> a(n);
    for (size_t i = 0; i < n; ++i) a[i] = M_PI * d2[i * size_t(k) + size_t(k) - 1] / double(k);
    return a;
}

// ---------------------------------------------------------------------------------------------
FieldStats field_stats(const std::vector<double>& K, int64_t Q, int64_t G, const std::vector<int>& signs) {
    double H = 0, D = 0;
    for (int64_t q = 0; q < Q; ++q) {
        double w = 0;
        for (int64_t g = 0; g < G; ++g) w += signs[size_t(g)] * K[size_t(q * G + g)];
        H += w;
        D += w * w;
    }
    FieldStats f;
    if (Q > 0) {
        f.constancy = D > 0 ? H * std::abs(H) / D / double(Q) : 0.0;
        f.mean = H / double(Q);
    }
    return f;
}

SignSolution solve_signs(const std::vector<double>& K, int64_t Q, int64_t G, const std::vector<int>& init, int restarts,
                         uint64_t seed, const std::vector<SignPair>& pairs, double lambda) {
    if (int64_t(K.size()) != Q * G) throw std::invalid_argument("solve_signs: K must be [Q*G]");
    SignSolution best;
    if (G == 0 || Q == 0) return best;
    Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> Km(K.data(), Q, G);
    const Eigen::MatrixXd Gm = Km.transpose() * Km;
    const Eigen::VectorXd h = Km.transpose() * Eigen::VectorXd::Ones(Q);
    // Pair term: λ/Σ|w| · sᵀ W s / 2 with W symmetric (each pair once in the sum).
    Eigen::MatrixXd W = Eigen::MatrixXd::Zero(G, G);
    double wsum = 0;
    for (const auto& p : pairs)
        if (p.a != p.b && p.a >= 0 && p.b >= 0 && p.a < G && p.b < G) {
            W(p.a, p.b) += p.w;
            W(p.b, p.a) += p.w;
            wsum += std::abs(p.w);
        }
    const double lam = wsum > 0 ? lambda / wsum : 0.0;
    auto local_search = [&](std::vector<int> s) {
        Eigen::VectorXd v(G);
        for (int64_t a = 0; a < G; ++a) v[a] = s[size_t(a)] >= 0 ? 1.0 : -1.0;
        if (h.dot(v) < 0) v = -v;
        Eigen::VectorXd g = Gm * v, pw = W * v;
        // Maximized: J = R/Q + pair, R = H²/D (H = hᵀv, D = vᵀGv), pair = lam·½ vᵀWv; a flip of v_a
        // changes H by −2 v_a h_a, D by −4 v_a g_a + 4 G_aa and pair by −2 lam v_a pw_a.
        double H = h.dot(v), D = v.dot(g), pair = lam * 0.5 * v.dot(pw);
        double J = (D > 0 && H > 0 ? H * H / D : 0.0) / double(Q) + pair;
        for (int64_t it = 0; it < 20 * G + 100; ++it) {
            int64_t arg = -1;
            double bestJ = J + 1e-12 * std::abs(J), bH = 0, bD = 0, bpair = 0;
            for (int64_t a = 0; a < G; ++a) {
                const double H2 = H - 2 * v[a] * h[a];
                const double D2 = D - 4 * v[a] * g[a] + 4 * Gm(a, a);
                if (!(H2 > 0) || !(D2 > 0)) continue;
                const double pair2 = pair - lam * 2 * v[a] * pw[a];
                const double J2 = H2 * H2 / D2 / double(Q) + pair2;
                if (J2 > bestJ) bestJ = J2, arg = a, bH = H2, bD = D2, bpair = pair2;
            }
            if (arg < 0) break;
            g -= 2 * v[arg] * Gm.col(arg);
            pw -= 2 * v[arg] * W.col(arg);
            v[arg] = -v[arg];
            H = bH;
            D = bD;
            pair = bpair;
            J = bestJ;
        }
        std::vector<int> out(static_cast<size_t>(G));
        for (int64_t a = 0; a < G; ++a) out[size_t(a)] = v[a] > 0 ? 1 : -1;
        return std::make_pair(out, J);
    };
    std::vector<std::vector<int>> starts;
    if (int64_t(init.size()) == G)
        starts.push_back(init);
    else
        starts.push_back(std::vector<int>(size_t(G), 1));
    {  // relaxation: argmin |K x − 1|² (ridge-regularized), then signs
        const double ridge = 1e-8 * std::max(1e-300, Gm.trace() / double(G));
        Eigen::VectorXd x = (Gm + ridge * Eigen::MatrixXd::Identity(G, G)).ldlt().solve(h);
        std::vector<int> s(static_cast<size_t>(G));
        for (int64_t a = 0; a < G; ++a) s[size_t(a)] = x[a] >= 0 ? 1 : -1;
        starts.push_back(s);
    }
    std::mt19937_64 rng(seed);
    for (int r = 0; r < restarts; ++r) {
        std::vector<int> s(static_cast<size_t>(G));
        for (auto& x : s) x = (rng() & 1) ? 1 : -1;
        starts.push_back(s);
    }
    double bestJ = -1;
    for (size_t k = 0; k < starts.size(); ++k) {
        auto [s, J] = local_search(starts[k]);
        if (J > bestJ * (1 + 1e-12)) {
            bestJ = J;
            best.signs = s;
            best.best_start = int(k);
        }
    }
    best.starts = int(starts.size());
    best.objective = field_stats(K, Q, G, best.signs).constancy;
    return best;
}

// ---------------------------------------------------------------------------------------------
GroupOrientation orient_groups(const std::vector<double>& points, const std::vector<double>& normals,
                               const std::vector<int64_t>& group, int64_t G, const std::vector<int>& init,
                               const WindingOrientOptions& o, const std::vector<SignPair>& pairs) {
    const int64_t N = int64_t(points.size() / 3);
    if (normals.size() != points.size() || int64_t(group.size()) != N)
        throw std::invalid_argument("orient_groups: points, normals and groups must have the same length");
    GroupOrientation out;
    out.signs = int64_t(init.size()) == G ? init : std::vector<int>(size_t(G), 1);
    std::vector<int64_t> valid;
    for (int64_t i = 0; i < N; ++i)
        if (has_normal(&normals[3 * i]) && group[i] >= 0 && group[i] < G) valid.push_back(i);
    if (valid.size() < 10 || G == 0) return out;
    std::vector<double> vp(valid.size() * 3);
    for (size_t k = 0; k < valid.size(); ++k)
        for (int d = 0; d < 3; ++d) vp[3 * k + d] = points[3 * valid[k] + d];
    const auto area = sample_areas(vp);
    const double eps = regularization_radius(area, o.eps_spacings);
    // One tree per group.
    std::vector<std::vector<double>> gp(static_cast<size_t>(G)), gm(static_cast<size_t>(G));
    for (size_t k = 0; k < valid.size(); ++k) {
        const int64_t i = valid[k], g = group[i];
        for (int d = 0; d < 3; ++d) {
            gp[size_t(g)].push_back(points[3 * i + d]);
            gm[size_t(g)].push_back(area[k] * normals[3 * i + d]);
        }
    }
    std::vector<WindingTree> trees;
    trees.reserve(size_t(G));
    for (int64_t g = 0; g < G; ++g) trees.emplace_back(gp[size_t(g)], gm[size_t(g)], eps);
    // Queries: an even subset of the valid samples.
    const int64_t Q = std::min<int64_t>(o.max_queries, int64_t(valid.size()));
    std::vector<double> K(size_t(Q * G));
    at::parallel_for(0, Q, 64, [&](int64_t b, int64_t e) {
        for (int64_t q = b; q < e; ++q) {
            const int64_t i = valid[size_t(q * int64_t(valid.size()) / Q)];
            for (int64_t g = 0; g < G; ++g) K[size_t(q * G + g)] = trees[size_t(g)].at(&points[3 * i]);
        }
    });
    auto sol = solve_signs(K, Q, G, out.signs, o.restarts, 1, pairs, o.pair_weight);
    out.initial_objective = field_stats(K, Q, G, out.signs).constancy;
    out.signs = sol.signs;
    out.objective = sol.objective;
    out.mean_winding = field_stats(K, Q, G, out.signs).mean;
    return out;
}

int64_t refine_by_winding(const std::vector<double>& points, std::vector<double>& normals, const WindingOrientOptions& o,
                          int passes) {
    const int64_t N = int64_t(points.size() / 3);
    if (N < 10) return 0;
    auto P = [&](int64_t i) { return &points[3 * i]; };
    auto Nn = [&](int64_t i) { return &normals[3 * i]; };
    const auto area = sample_areas(points);
    const double eps = regularization_radius(area, o.eps_spacings), delta = eps;
    int64_t total = 0;
    for (int pass = 0; pass < passes; ++pass) {
        std::vector<double> mu(points.size());
        for (int64_t i = 0; i < N; ++i)
            for (int e = 0; e < 3; ++e) mu[3 * i + e] = area[size_t(i)] * normals[3 * i + e];
        WindingTree tree(points, mu, eps);
        std::vector<char> flip(size_t(N), 0);
        at::parallel_for(0, N, 256, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const double* p = P(i);
                const double* n = Nn(i);
                if (!has_normal(n)) continue;
                const double qm[3] = {p[0] - delta * n[0], p[1] - delta * n[1], p[2] - delta * n[2]};
                const double qp[3] = {p[0] + delta * n[0], p[1] + delta * n[1], p[2] + delta * n[2]};
                const double* m = &mu[3 * i];
                const double self_m = kernels::winding_dipole(p[0], p[1], p[2], m[0], m[1], m[2], qm[0], qm[1], qm[2], eps);
                const double self_p = kernels::winding_dipole(p[0], p[1], p[2], m[0], m[1], m[2], qp[0], qp[1], qp[2], eps);
                const double jump = (tree.at(qm) - self_m) - (tree.at(qp) - self_p);
                flip[size_t(i)] = jump < 0;
            }
        });
        int64_t nflip = 0;
        for (int64_t i = 0; i < N; ++i)
            if (flip[size_t(i)]) {
                ++nflip;
                for (int e = 0; e < 3; ++e) normals[3 * i + e] = -normals[3 * i + e];
            }
        total += nflip;
        if (nflip == 0) break;
    }
    return total;
}

// ---------------------------------------------------------------------------------------------
int64_t orient_cloud_by_winding(const std::vector<double>& points, std::vector<double>& normals, const WindingOrientOptions& o) {
    const int64_t N = int64_t(points.size() / 3);
    if (N < 10) return 0;
    const std::vector<double> given = normals;
    // 1. Clusters: multi-source Dijkstra from evenly spread seeds over k-NN edges that are
    //    tangential on both ends (across a thin sheet the neighbour lies along the normal) and
    //    join similar normals; each joined point's normal is signed to agree with its parent.
    const int k = int(std::min<int64_t>(12, N - 1));
    std::vector<uint32_t> nb;
    std::vector<double> d2;
    knn(points, k, nb, d2);
    auto P = [&](int64_t i) { return &points[3 * i]; };
    auto Nn = [&](int64_t i) { return &normals[3 * i]; };
    auto dot = [](const double* a, const double* b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; };
    auto edge_ok = [&](int64_t i, int64_t j) {
        const double* a = P(i);
        const double* b = P(j);
        const double d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
        const double len = std::sqrt(dot(d, d));
        if (!(len > 0)) return true;
        return std::abs(dot(d, Nn(i))) <= 0.5 * len && std::abs(dot(d, Nn(j))) <= 0.5 * len && std::abs(dot(Nn(i), Nn(j))) >= 0.7;
    };
    const int64_t want = std::clamp<int64_t>(N / 40, 1, 600);
    // Seeds: farthest-point order.
    std::vector<int64_t> seeds{0};
    {
        std::vector<double> dist(static_cast<size_t>(N), std::numeric_limits<double>::max());
        int64_t cur = 0;
        for (int64_t s = 1; s < want; ++s) {
            int64_t arg = 0;
            double far = -1;
            for (int64_t i = 0; i < N; ++i) {
                const double* a = P(i);
                const double* c = P(cur);
                const double dd = (a[0] - c[0]) * (a[0] - c[0]) + (a[1] - c[1]) * (a[1] - c[1]) + (a[2] - c[2]) * (a[2] - c[2]);
                dist[size_t(i)] = std::min(dist[size_t(i)], dd);
                if (dist[size_t(i)] > far) far = dist[size_t(i)], arg = i;
            }
            seeds.push_back(arg);
            cur = arg;
        }
    }
    std::vector<int64_t> cluster(static_cast<size_t>(N), -1);
    int64_t C = 0;
    using Item = std::tuple<double, int64_t, int64_t>;  // (distance, point, cluster)
    auto grow = [&](std::vector<int64_t> from) {
        std::priority_queue<Item, std::vector<Item>, std::greater<Item>> pq;
        for (int64_t s : from) {
            if (cluster[size_t(s)] >= 0) continue;
            cluster[size_t(s)] = C;
            pq.push({0.0, s, C});
            ++C;
        }
        while (!pq.empty()) {
            auto [d, i, c] = pq.top();
            pq.pop();
            for (int j = 0; j < k; ++j) {
                const int64_t t = nb[size_t(i) * k + j];
                if (cluster[size_t(t)] >= 0 || !edge_ok(i, t)) continue;
                cluster[size_t(t)] = c;
                if (dot(Nn(i), Nn(t)) < 0)
                    for (int e = 0; e < 3; ++e) normals[3 * t + e] = -normals[3 * t + e];
                pq.push({d + std::sqrt(d2[size_t(i) * k + j]), t, c});
            }
        }
    };
    grow(seeds);
    for (int64_t i = 0; i < N; ++i)
        if (cluster[size_t(i)] < 0) grow({i});
    // 2. Cluster signs from the winding-number field, starting from the given orientation.
    std::vector<int> init(static_cast<size_t>(C), 0);
    {
        std::vector<double> agree(static_cast<size_t>(C), 0.0);
        for (int64_t i = 0; i < N; ++i) agree[size_t(cluster[size_t(i)])] += dot(Nn(i), &given[3 * i]);
        for (int64_t c = 0; c < C; ++c) init[size_t(c)] = agree[size_t(c)] >= 0 ? 1 : -1;
    }
    // Pair term: neighbouring clusters' agreement over tangential k-NN edges.
    std::vector<SignPair> pairs;
    {
        std::vector<std::tuple<int64_t, int64_t, double>> votes;
        for (int64_t i = 0; i < N; ++i)
            for (int j = 0; j < k; ++j) {
                const int64_t t = nb[size_t(i) * k + j];
                const int64_t a = cluster[size_t(i)], b = cluster[size_t(t)];
                if (a == b || !edge_ok(i, t)) continue;
                votes.push_back({std::min(a, b), std::max(a, b), dot(Nn(i), Nn(t))});
            }
        std::sort(votes.begin(), votes.end());
        for (size_t i = 0; i < votes.size();) {
            size_t j = i;
            double sum = 0;
            while (j < votes.size() && std::get<0>(votes[j]) == std::get<0>(votes[i]) &&
                   std::get<1>(votes[j]) == std::get<1>(votes[i]))
                sum += std::get<2>(votes[j++]);
            const double n = double(j - i);
            pairs.push_back({std::get<0>(votes[i]), std::get<1>(votes[i]), sum / n * std::min(1.0, n / 20.0)});
            i = j;
        }
    }
    auto sol = orient_groups(points, normals, cluster, C, init, o, pairs);
    for (int64_t i = 0; i < N; ++i)
        if (sol.signs[size_t(cluster[size_t(i)])] < 0)
            for (int e = 0; e < 3; ++e) normals[3 * i + e] = -normals[3 * i + e];
    // 3. Per point (WNNC-style), from the field of all the others.
    refine_by_winding(points, normals, o);
    int64_t flipped = 0;
    for (int64_t i = 0; i < N; ++i) flipped += dot(Nn(i), &given[3 * i]) < 0;
    return flipped;
}

// ---------------------------------------------------------------------------------------------
namespace {
/// The samples with a normal, at most `max_samples` of them: an even random subset (fixed seed),
/// in index order.
std::vector<int64_t> evaluated_subset(const std::vector<double>& normals, int64_t max_samples) {
    std::vector<int64_t> valid;
    for (int64_t i = 0; i < int64_t(normals.size() / 3); ++i)
        if (has_normal(&normals[3 * i])) valid.push_back(i);
    if (int64_t(valid.size()) > max_samples) {
        std::mt19937_64 rng(7);
        std::shuffle(valid.begin(), valid.end(), rng);
        valid.resize(size_t(max_samples));
        std::sort(valid.begin(), valid.end());
    }
    return valid;
}
}  // namespace

struct ThinField::Impl {
    std::vector<double> points, normals;
    ThinOptions o;
    std::vector<int64_t> valid;        // the evaluated subset
    std::vector<double> sp, sn, area;  // its points, unit normals, areas
    double eps = 0, delta = 0;
    // Lazily (mask): the smoothed deviation, k-NN graph of the subset, nearest evaluated sample.
    bool have_deviation = false;
    int k = 0;
    std::vector<double> avg;
    std::vector<uint32_t> nb;
    std::vector<int64_t> nearest;  // per sample: its nearest evaluated one (-1: no normal)
    // Lazily (membrane_fraction): a KD-tree over all samples.
    std::unique_ptr<Cloud> all_cloud;
    std::unique_ptr<KdTree> all_tree;

    void compute_deviation() {
        const int64_t M = int64_t(valid.size()), N = int64_t(points.size() / 3);
        std::vector<double> mu(sp.size());
        for (size_t j = 0; j < sp.size(); ++j) mu[j] = area[j / 3] * sn[j];
        WindingTree tree(sp, mu, eps);
        std::vector<double> dev(static_cast<size_t>(M));
        at::parallel_for(0, M, 256, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const double* p = &sp[size_t(3 * i)];
                const double* n = &sn[size_t(3 * i)];
                const double* m = &mu[size_t(3 * i)];
                auto field = [&](double t) {  // w(p + t·n) without the sample's own dipole
                    const double q[3] = {p[0] + t * n[0], p[1] + t * n[1], p[2] + t * n[2]};
                    return tree.at(q) - kernels::winding_dipole(p[0], p[1], p[2], m[0], m[1], m[2], q[0], q[1], q[2], eps);
                };
                dev[size_t(i)] = std::max(std::abs(field(delta)), std::abs(1.0 - field(-delta)));
            }
        });
        k = int(std::min<int64_t>(o.smooth_k, M - 1));
        std::vector<double> d2;
        knn(sp, k, nb, d2);
        avg.assign(size_t(M), 0.0);
        for (int64_t i = 0; i < M; ++i) {
            double sum = dev[size_t(i)];
            for (int j = 0; j < k; ++j) sum += dev[nb[size_t(i) * k + j]];
            avg[size_t(i)] = sum / double(k + 1);
        }
        Cloud c{sp.data(), size_t(M)};
        KdTree t(3, c, nanoflann::KDTreeSingleIndexAdaptorParams(16));
        t.buildIndex();
        nearest.assign(size_t(N), -1);
        at::parallel_for(0, N, 1024, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i)
                if (has_normal(&normals[3 * i])) nearest[size_t(i)] = nearest_point(t, &points[3 * i]);
        });
        have_deviation = true;
    }
};

ThinField::ThinField(const std::vector<double>& points, const std::vector<double>& normals, const ThinOptions& o)
    : impl_(std::make_unique<Impl>()) {
    if (normals.size() != points.size()) throw std::invalid_argument("thin_mask: points and normals differ in length");
    Impl& f = *impl_;
    f.points = points;
    f.normals = normals;
    f.o = o;
    // An even random subset (fixed seed) carries the field and is evaluated.
    f.valid = evaluated_subset(normals, o.max_samples);
    if (f.valid.size() < 20) return;
    const int64_t M = int64_t(f.valid.size());
    f.sp.resize(size_t(3 * M));
    f.sn.resize(size_t(3 * M));
    for (int64_t i = 0; i < M; ++i) {
        const double* n = &normals[size_t(3 * f.valid[size_t(i)])];
        const double len = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        for (int d = 0; d < 3; ++d) {
            f.sp[size_t(3 * i + d)] = points[size_t(3 * f.valid[size_t(i)] + d)];
            f.sn[size_t(3 * i + d)] = n[d] / len;
        }
    }
    f.area = sample_areas(f.sp);
    f.eps = regularization_radius(f.area, o.eps_spacings);
    f.delta = regularization_radius(f.area, o.delta_spacings);
}
ThinField::~ThinField() = default;

// Connected parts, over the k-NN edges `nb` (k per sample), of the samples whose `cls` equals
// `value`: each such sample's root (-1 for the others) and each root's size (indexed by root).
static void label_regions(const std::vector<char>& cls, char value, const std::vector<uint32_t>& nb, int k,
                          std::vector<int64_t>& root, std::vector<int64_t>& size) {
    const int64_t M = int64_t(cls.size());
    UnionFind uf(M);
    for (int64_t i = 0; i < M; ++i)
        for (int j = 0; j < k && cls[size_t(i)] == value; ++j) {
            const int64_t t = nb[size_t(i) * k + j];
            if (cls[size_t(t)] == value) uf.unite(i, t);
        }
    root.assign(size_t(M), -1);
    size.assign(size_t(M), 0);
    for (int64_t i = 0; i < M; ++i)
        if (cls[size_t(i)] == value) ++size[size_t(root[size_t(i)] = uf.find(i))];
}

std::vector<char> ThinField::mask(double threshold, std::vector<double>* deviation) const {
    Impl& f = *impl_;
    const int64_t N = int64_t(f.points.size() / 3);
    std::vector<char> mask(size_t(N), 0);
    if (deviation) deviation->assign(size_t(N), 0.0);
    if (f.valid.size() < 20) return mask;
    if (!f.have_deviation) f.compute_deviation();
    const int64_t M = int64_t(f.valid.size());
    const int k = f.k;
    const auto& nb = f.nb;
    // Regions: connected parts of the marked evaluated samples over the k-NN edges; small ones
    // (stray blobs of a patch overlap, crease lines) are left alone.
    std::vector<char> marked(static_cast<size_t>(M), 0);
    for (int64_t i = 0; i < M; ++i) marked[size_t(i)] = f.avg[size_t(i)] > threshold;
    const double min_size = f.o.min_region * double(M);
    std::vector<int64_t> root, size;
    label_regions(marked, 1, nb, k, root, size);
    for (int64_t i = 0; i < M; ++i)
        if (marked[size_t(i)] && double(size[size_t(root[size_t(i)])]) < min_size) marked[size_t(i)] = 0;
    // Holes: unmarked regions as small, bordering marked samples (the bottom of a cup, where the
    // field looks most enclosed), are marked too; a small closed part of its own stays unmarked.
    label_regions(marked, 0, nb, k, root, size);
    std::vector<char> borders(static_cast<size_t>(M), 0);
    for (int64_t i = 0; i < M; ++i)
        for (int j = 0; !marked[size_t(i)] && j < k; ++j)
            if (marked[nb[size_t(i) * k + j]]) borders[size_t(root[size_t(i)])] = 1;
    for (int64_t i = 0; i < M; ++i) {
        const int64_t r = root[size_t(i)];
        if (r >= 0 && borders[size_t(r)] && double(size[size_t(r)]) < min_size) marked[size_t(i)] = 1;
    }
    // Every sample from its nearest evaluated one.
    for (int64_t i = 0; i < N; ++i) {
        const int64_t id = f.nearest[size_t(i)];
        if (id < 0) continue;
        mask[size_t(i)] = marked[size_t(id)];
        if (deviation) (*deviation)[size_t(i)] = f.avg[size_t(id)];
    }
    return mask;
}

double ThinField::membrane_fraction(const std::vector<char>& mask, double radius, int grid) const {
    Impl& f = *impl_;
    const int64_t N = int64_t(f.points.size() / 3);
    if (mask.size() != size_t(N)) throw std::invalid_argument("membrane_fraction: points, normals and mask differ in length");
    if (f.valid.size() < 20 || grid < 2) return 0.0;
    const auto& sp = f.sp;
    std::vector<double> fp, mu;  // the field: unmarked samples only
    for (size_t j = 0; j < f.valid.size(); ++j) {
        if (mask[size_t(f.valid[j])]) continue;
        for (int d = 0; d < 3; ++d) {
            fp.push_back(sp[3 * j + d]);
            mu.push_back(f.area[j] * f.sn[3 * j + d]);
        }
    }
    if (fp.size() < 3 * 20) return 0.0;
    WindingTree tree(fp, mu, f.eps);
    double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
    for (size_t j = 0; j < sp.size(); ++j) lo[j % 3] = std::min(lo[j % 3], sp[j]), hi[j % 3] = std::max(hi[j % 3], sp[j]);
    const double L = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]});
    const double h = 1.2 * L / double(grid);
    int64_t G[3];
    double o0[3];
    for (int d = 0; d < 3; ++d) {
        G[d] = int64_t(std::ceil((hi[d] - lo[d] + 0.2 * L) / h)) + 1;
        o0[d] = 0.5 * (lo[d] + hi[d]) - 0.5 * h * double(G[d] - 1);
    }
    auto node = [&](int64_t x, int64_t y, int64_t z, double* q) {
        q[0] = o0[0] + h * double(x), q[1] = o0[1] + h * double(y), q[2] = o0[2] + h * double(z);
    };
    const int64_t total = G[0] * G[1] * G[2];
    std::vector<double> w(static_cast<size_t>(total));
    at::parallel_for(0, total, 256, [&](int64_t b, int64_t e) {
        double q[3];
        for (int64_t i = b; i < e; ++i) {
            node(i % G[0], (i / G[0]) % G[1], i / (G[0] * G[1]), q);
            w[size_t(i)] = tree.at(q);
        }
    });
    if (!f.all_tree) {
        f.all_cloud = std::make_unique<Cloud>(Cloud{f.points.data(), size_t(N)});
        f.all_tree = std::make_unique<KdTree>(3, *f.all_cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16));
        f.all_tree->buildIndex();
    }
    const KdTree& t = *f.all_tree;
    std::vector<int64_t> all(static_cast<size_t>(total), 0), far(static_cast<size_t>(total), 0);
    at::parallel_for(0, total, 256, [&](int64_t b, int64_t e) {
        double qa[3], qb[3], x[3];
        for (int64_t i = b; i < e; ++i) {
            const int64_t ix = i % G[0], iy = (i / G[0]) % G[1], iz = i / (G[0] * G[1]);
            node(ix, iy, iz, qa);
            const int64_t step[3] = {1, G[0], G[0] * G[1]};
            const bool inside[3] = {ix + 1 < G[0], iy + 1 < G[1], iz + 1 < G[2]};
            for (int d = 0; d < 3; ++d) {
                if (!inside[d]) continue;
                const double wa = w[size_t(i)] - 0.5, wb = w[size_t(i + step[d])] - 0.5;
                if (wa * wb >= 0) continue;
                for (int c = 0; c < 3; ++c) qb[c] = qa[c] + (c == d ? h : 0.0);
                const double s = wa / (wa - wb);
                for (int c = 0; c < 3; ++c) x[c] = qa[c] + s * (qb[c] - qa[c]);
                double d2 = 0;
                nearest_point(t, x, &d2);
                ++all[size_t(i)];
                far[size_t(i)] += d2 > radius * radius;
            }
        }
    });
    const double na = double(std::accumulate(all.begin(), all.end(), int64_t(0)));
    const double nf = double(std::accumulate(far.begin(), far.end(), int64_t(0)));
    return na > 0 ? nf / na : 0.0;
}

std::vector<char> thin_mask(const std::vector<double>& points, const std::vector<double>& normals, const ThinOptions& o,
                            std::vector<double>* deviation) {
    return ThinField(points, normals, o).mask(o.threshold, deviation);
}

double membrane_fraction(const std::vector<double>& points, const std::vector<double>& normals, const std::vector<char>& mask,
                         double radius, int grid, const ThinOptions& o) {
    if (normals.size() != points.size() || mask.size() != points.size() / 3)
        throw std::invalid_argument("membrane_fraction: points, normals and mask differ in length");
    return ThinField(points, normals, o).membrane_fraction(mask, radius, grid);
}

int64_t thicken_thin(std::vector<double>& points, std::vector<double>& normals, const std::vector<char>& mask, double offset) {
    const size_t N = points.size() / 3;
    if (normals.size() != points.size() || mask.size() != N)
        throw std::invalid_argument("thicken_thin: points, normals and mask differ in length");
    int64_t doubled = 0;
    for (size_t i = 0; i < N; ++i) {
        if (!mask[i]) continue;
        ++doubled;
        for (int d = 0; d < 3; ++d) {
            const double p = points[3 * i + d], n = normals[3 * i + d];
            points[3 * i + d] = p + offset * n;
            points.push_back(p - offset * n);
            normals.push_back(-n);
        }
    }
    return doubled;
}

int64_t one_sample_per_cell(std::vector<double>& pts, std::vector<double>& nrm, const double* lo, double cell) {
    if (nrm.size() != pts.size()) throw std::invalid_argument("one_sample_per_cell: points and normals differ in length");
    if (!(cell > 0)) throw std::invalid_argument("one_sample_per_cell: the cell size must be > 0");
    const size_t n = pts.size() / 3;
    std::vector<std::array<int64_t, 3>> ijk(n);
    for (size_t i = 0; i < n; ++i)
        for (int d = 0; d < 3; ++d) ijk[i][size_t(d)] = int64_t(std::floor((pts[3 * i + d] - lo[d]) / cell));
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ijk[a] < ijk[b]; });
    std::vector<size_t> keep;
    for (size_t r = 0; r < n;) {
        size_t e = r;
        while (e < n && ijk[order[e]] == ijk[order[r]]) ++e;
        double centre[3];
        for (int d = 0; d < 3; ++d) centre[d] = lo[d] + (double(ijk[order[r]][size_t(d)]) + 0.5) * cell;
        std::vector<size_t> lead, best;  // per group: its first sample, its sample nearest the centre
        std::vector<double> best_d2;
        for (size_t q = r; q < e; ++q) {
            const size_t i = order[q];
            size_t g = 0;
            while (g < lead.size() && nrm[3 * i] * nrm[3 * lead[g]] + nrm[3 * i + 1] * nrm[3 * lead[g] + 1] +
                                              nrm[3 * i + 2] * nrm[3 * lead[g] + 2] <=
                                          0)
                ++g;
            double d2 = 0;
            for (int d = 0; d < 3; ++d) d2 += (pts[3 * i + d] - centre[d]) * (pts[3 * i + d] - centre[d]);
            if (g == lead.size()) {
                lead.push_back(i);
                best.push_back(i);
                best_d2.push_back(d2);
            } else if (d2 < best_d2[g]) {
                best[g] = i;
                best_d2[g] = d2;
            }
        }
        keep.insert(keep.end(), best.begin(), best.end());
        r = e;
    }
    std::sort(keep.begin(), keep.end());
    std::vector<double> p2, n2;
    p2.reserve(3 * keep.size());
    n2.reserve(3 * keep.size());
    for (size_t i : keep) {
        p2.insert(p2.end(), pts.begin() + long(3 * i), pts.begin() + long(3 * i + 3));
        n2.insert(n2.end(), nrm.begin() + long(3 * i), nrm.begin() + long(3 * i + 3));
    }
    pts.swap(p2);
    nrm.swap(n2);
    return int64_t(keep.size());
}

}  // namespace mash::mesh
