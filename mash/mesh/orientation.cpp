// SPDX-License-Identifier: MIT
#include "mash/mesh/orientation.h"

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
#include "mash/mesh/winding.h"
#include "mash/mesh/winding_detail.h"
#include "mash/mesh/winding_math.h"

namespace mash::mesh {

using namespace detail;

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
                const double self_m = mesh::winding_dipole(p[0], p[1], p[2], m[0], m[1], m[2], qm[0], qm[1], qm[2], eps);
                const double self_p = mesh::winding_dipole(p[0], p[1], p[2], m[0], m[1], m[2], qp[0], qp[1], qp[2], eps);
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

}  // namespace mash::mesh
