// SPDX-License-Identifier: MIT
// orient(): one consistent sign per patch sheet (patches.h). Needs Open3D (the reference
// orientation of an FPS subset).
#include <ATen/ATen.h>
#include <open3d/geometry/PointCloud.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <tuple>
#include <vector>

#include "mash/core/timing.h"
#include "mash/mesh/orientation.h"
#include "mash/mesh/patches.h"
#include "mash/mesh/surface_detail.h"
#include "mash/mesh/topology.h"
#include "mash/ops/nearest/nearest.h"
#include "mash/ops/sampling/sampling.h"

namespace mash::mesh {
using detail::as_tensor;
using detail::as_vector;
using detail::kF64;
using detail::quiet_open3d;

namespace {
/// Reference orientation for every sample: an FPS subset oriented with Open3D's consistent
/// tangent-plane propagation, transferred to each sample from its nearest subset point.
at::Tensor reference_normals(const at::Tensor& pts, const at::Tensor& nrm, const OrientOptions& o) {
    quiet_open3d();
    const int64_t S = pts.size(0), k = std::min<int64_t>(o.subset, S);
    auto sub = ops::sampling::fps(pts.to(at::kFloat), k);
    auto sp = pts.index_select(0, sub).contiguous();
    auto sn = nrm.index_select(0, sub).contiguous();
    open3d::geometry::PointCloud pc;
    const double* spp = sp.data_ptr<double>();
    const double* snp = sn.data_ptr<double>();
    for (int64_t i = 0; i < k; ++i) {
        pc.points_.emplace_back(spp[3 * i], spp[3 * i + 1], spp[3 * i + 2]);
        pc.normals_.emplace_back(snp[3 * i], snp[3 * i + 1], snp[3 * i + 2]);
    }
    if (k > 3) pc.OrientNormalsConsistentTangentPlane(size_t(std::max<int64_t>(3, std::min<int64_t>(o.knn, k - 1))));
    std::vector<double> ref;
    for (const auto& v : pc.normals_) ref.insert(ref.end(), {v.x(), v.y(), v.z()});
    return as_tensor(ref).index_select(0, ops::nearest::nearest_indices(pts, sp));
}
}  // namespace

namespace {
/// Sheets of each patch: connected parts of its (φ, θ) grid over neighbour steps that are
/// tangential at both ends (|d·n| ≤ ½|d|) with agreeing normals. Parts with fewer than 5 % of
/// the patch's samples join the patch's largest part. Returns the sheet of every sample.
std::vector<int64_t> patch_sheets(const OrientedSamples& s, int64_t A, int64_t& num_sheets) {
    const int64_t P = s.grid_phi, T = s.grid_theta, S = s.size();
    std::vector<int64_t> sheet(size_t(S), 0);
    if (P * T * A != S || P < 3 || T < 2) {  // not a full grid: one sheet per patch
        for (int64_t i = 0; i < S; ++i) sheet[size_t(i)] = s.anchor[size_t(i)];
        num_sheets = A;
        return sheet;
    }
    UnionFind uf(S);
    auto link = [&](int64_t i, int64_t j) {
        const double* pi = &s.points[3 * i];
        const double* pj = &s.points[3 * j];
        const double* ni = &s.normals[3 * i];
        const double* nj = &s.normals[3 * j];
        const double d[3] = {pj[0] - pi[0], pj[1] - pi[1], pj[2] - pi[2]};
        const double len = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        const double di = d[0] * ni[0] + d[1] * ni[1] + d[2] * ni[2], dj = d[0] * nj[0] + d[1] * nj[1] + d[2] * nj[2];
        const double nn = ni[0] * nj[0] + ni[1] * nj[1] + ni[2] * nj[2];
        if (len > 0 && !(std::abs(di) <= 0.5 * len && std::abs(dj) <= 0.5 * len && nn > 0.5)) return;
        uf.unite(i, j);
    };
    for (int64_t a = 0; a < A; ++a)
        for (int64_t p = 0; p < P; ++p)
            for (int64_t q = 0; q < T; ++q) {
                const int64_t i = (a * P + p) * T + q;
                link(i, (a * P + (p + 1) % P) * T + q);
                if (q + 1 < T) link(i, i + 1);
            }
    num_sheets = 0;
    for (int64_t a = 0; a < A; ++a) {
        std::map<int64_t, int64_t> size;
        for (int64_t k = 0; k < P * T; ++k) size[uf.find(a * P * T + k)]++;
        int64_t largest = size.begin()->first;
        for (const auto& [r, n] : size)
            if (n > size[largest]) largest = r;
        std::map<int64_t, int64_t> id;
        id[largest] = num_sheets++;
        for (const auto& [r, n] : size)
            if (r != largest && n >= std::max<int64_t>(8, P * T / 20)) id[r] = num_sheets++;
        for (int64_t k = 0; k < P * T; ++k) {
            auto it = id.find(uf.find(a * P * T + k));
            sheet[size_t(a * P * T + k)] = it != id.end() ? it->second : id[largest];
        }
    }
    return sheet;
}
}  // namespace

int64_t orient(OrientedSamples& s, const OrientOptions& o, OrientReport* report) {
    const int64_t S = s.size();
    if (S == 0) return 0;
    auto pts = as_tensor(s.points);
    auto nrm = as_tensor(s.normals);
    auto lopts = at::TensorOptions().dtype(at::kLong);
    auto aidx = at::tensor(s.anchor, lopts);
    const int64_t A = aidx.max().item<int64_t>() + 1;
    // 1. Patch graph: every sample votes, through its nearest sample on another patch, on whether
    //    the two patches agree (n_i·n_j > 0). Only close pairs count (overlaps and seams).
    std::vector<std::pair<std::string, double>> stages;
    StageTimer timer{&stages};
    auto other = ops::nearest::nearest_other_group(pts.to(at::kFloat), aidx);
    auto valid = other >= 0;
    auto oc = other.clamp_min(0);
    auto dist = (pts - pts.index_select(0, oc)).norm(2, 1);
    auto vd = dist.masked_select(valid);
    const double cutoff = vd.numel() ? 4.0 * vd.median().item<double>() + 1e-12 : 0.0;
    auto dots = (nrm * nrm.index_select(0, oc)).sum(1);
    // Only tangential neighbours vote: across a thin sheet the nearest other patch lies along the
    // normal (and rightly faces the other way), in an overlap or at a seam it lies in the tangent plane.
    auto sep = pts.index_select(0, oc) - pts;
    auto tangential = (sep * nrm).sum(1).abs() <= 0.5 * dist + 1e-12;
    auto use = (valid & (dist <= cutoff) & tangential).contiguous();
    // Votes per pair of groups (patches here, sheets below): (Σ dots, count) over the samples whose
    // nearest other-patch neighbour is close and tangential.
    auto votes = [&](const int64_t* group) {
        std::map<std::pair<int64_t, int64_t>, std::pair<double, int64_t>> v;
        const int64_t* op = oc.data_ptr<int64_t>();
        const bool* up = use.data_ptr<bool>();
        auto dc = dots.contiguous();
        const double* dp = dc.data_ptr<double>();
        for (int64_t i = 0; i < S; ++i) {
            if (!up[i]) continue;
            const int64_t a = group[i], b = group[op[i]];
            if (a == b) continue;
            auto& e = v[{std::min(a, b), std::max(a, b)}];
            e.first += dp[i];
            e.second += 1;
        }
        return v;
    };
    const auto w = votes(aidx.data_ptr<int64_t>());
    // Edge weight: mean agreement in [−1, 1], trusted fully from 20 voting pairs on.
    std::vector<std::vector<std::pair<int64_t, double>>> adj(A);
    for (const auto& [e, v] : w) {
        const double wt = 3.0 * v.first / double(v.second) * std::min(1.0, double(v.second) / 20.0);
        adj[e.first].push_back({e.second, wt});
        adj[e.second].push_back({e.first, wt});
    }
    // 2. Each patch's own evidence: the mean sign agreement of its samples with a reference
    //    orientation (Open3D's consistent tangent planes on an FPS subset).
    timer.lap("patch graph");
    auto ref = reference_normals(pts, nrm, o);
    timer.lap("reference normals (Open3D)");
    auto agree = at::sign((nrm * ref).sum(1));
    auto counts = at::zeros({A}, kF64).index_add_(0, aidx, at::ones_like(agree));
    auto vote = (at::zeros({A}, kF64).index_add_(0, aidx, agree) / counts.clamp_min(1)).contiguous();
    const double* vp = vote.data_ptr<double>();
    // 3. Labels f ∈ {±1} maximizing Σ_a f_a·v_a + Σ_ab w_ab f_a f_b by iterated conditional modes,
    //    starting from the reference votes: a patch follows its neighbours where they agree
    //    strongly (creases where the reference is wrong) and its own samples elsewhere (thin parts).
    auto icm = [&](std::vector<double> f) {
        for (int it = 0; it < 50; ++it) {
            bool changed = false;
            for (int64_t a = 0; a < A; ++a) {
                double score = vp[a];
                for (const auto& [b, wt] : adj[a]) score += wt * f[b];
                const double v = score >= 0 ? 1.0 : -1.0;
                if (v != f[a]) {
                    f[a] = v;
                    changed = true;
                }
            }
            if (!changed) break;
        }
        return f;
    };
    auto energy = [&](const std::vector<double>& f) {
        double e = 0;
        for (int64_t a = 0; a < A; ++a) {
            e += vp[a] * f[a];
            for (const auto& [b, wt] : adj[a]) e += 0.5 * wt * f[a] * f[b];
        }
        return e;
    };
    //    Start 1: every patch on its own reference vote.
    std::vector<double> start1(A);
    for (int64_t a = 0; a < A; ++a) start1[a] = vp[a] >= 0 ? 1.0 : -1.0;
    //    Start 2: propagate along a maximum spanning forest of |w| (robust at sharp creases where
    //    the reference is wrong), each tree signed by the vote of all its samples.
    std::vector<double> start2(A, 0.0);
    {
        std::vector<char> done(A, 0);
        for (int64_t root = 0; root < A; ++root) {
            if (done[root]) continue;
            std::vector<int64_t> members;
            std::priority_queue<std::tuple<double, int64_t, int64_t, double>> pq;  // (|w|, node, parent, w)
            pq.push({0.0, root, -1, 1.0});
            start2[root] = 1.0;
            while (!pq.empty()) {
                auto [mag, b, parent, wt] = pq.top();
                pq.pop();
                if (done[b]) continue;
                done[b] = 1;
                members.push_back(b);
                if (parent >= 0) start2[b] = wt >= 0 ? start2[parent] : -start2[parent];
                for (const auto& [nb, w2] : adj[b])
                    if (!done[nb]) pq.push({std::abs(w2), nb, b, w2});
            }
            double tree_vote = 0;
            for (int64_t m : members) tree_vote += start2[m] * vp[m] * counts[m].item<double>();
            if (tree_vote < 0)
                for (int64_t m : members) start2[m] = -start2[m];
        }
    }
    auto f1 = icm(start1), f2 = icm(start2);
    std::vector<double> flip = energy(f2) > energy(f1) ? f2 : f1;
    //    Outward overall: normals should point away from the centroid on average.
    {
        auto f = at::tensor(flip, kF64);
        auto centroid = pts.mean(0, true);
        if ((nrm * f.index_select(0, aidx).unsqueeze(1) * (pts - centroid)).sum().item<double>() < 0)
            for (double& x : flip) x = -x;
    }
    timer.lap("graph signs (ICM)");
    // 3b. The global cue (default): the signs that make the winding-number field of the oriented
    //     samples most nearly constant on the surface, the graph signs being one of the starts.
    OrientReport rep;
    std::vector<double> sample_sign(static_cast<size_t>(S));
    for (int64_t i = 0; i < S; ++i) sample_sign[size_t(i)] = flip[size_t(s.anchor[size_t(i)])];
    if (o.method == OrientMethod::winding) {
        int64_t G = 0;
        const auto sheet = patch_sheets(s, A, G);
        rep.sheets = G;
        std::vector<int> init(static_cast<size_t>(G), 1);
        for (int64_t i = 0; i < S; ++i) init[size_t(sheet[size_t(i)])] = flip[size_t(s.anchor[size_t(i)])] > 0 ? 1 : -1;
        // Pair term: the graph's agreement votes, between sheets.
        const auto sw = votes(sheet.data());
        std::vector<SignPair> pairs;
        for (const auto& [e, v] : sw)
            pairs.push_back({e.first, e.second, v.first / double(v.second) * std::min(1.0, double(v.second) / 20.0)});
        auto g = orient_groups(s.points, s.normals, sheet, G, init, {}, pairs);
        rep.objective_graph = g.initial_objective;
        rep.objective = g.objective;
        rep.mean_winding = g.mean_winding;
        for (int64_t k = 0; k < G; ++k) rep.changed_from_graph += g.signs[size_t(k)] != init[size_t(k)];
        for (int64_t i = 0; i < S; ++i) sample_sign[size_t(i)] = g.signs[size_t(sheet[size_t(i)])];
    }
    auto flips = at::tensor(sample_sign, kF64);
    nrm = nrm * flips.unsqueeze(1);
    timer.lap("winding orientation");
    // 4. Blend near patch boundaries with the nearest point of another patch (paper Eq. 20,
    //    as read in spec §9.3): n' = normalize(t·n_own + (1−t)·n_other), t from centre-closeness.
    auto frac = at::tensor(s.fraction, kF64);
    auto t = at::clamp(1.0 - (frac - o.blend_start) / (1.0 - o.blend_start) * 0.5, 0.5, 1.0);
    auto on = nrm.index_select(0, oc);
    // Only blend with a close neighbour that agrees in orientation (a thin sheet's far side must not).
    auto ok = use & ((on * nrm).sum(1) > 0) & (frac > o.blend_start);
    auto blended = t.unsqueeze(1) * nrm + (1.0 - t).unsqueeze(1) * on;
    blended = blended / blended.norm(2, 1, true).clamp_min(1e-20);
    nrm = at::where(ok.unsqueeze(1), blended, nrm);
    s.normals = as_vector(nrm);
    timer.lap("normal blending");
    rep.stages = stages;
    rep.flipped = (flips < 0).sum().item<int64_t>();
    if (report) *report = rep;
    return rep.flipped;
}

}  // namespace mash::mesh
