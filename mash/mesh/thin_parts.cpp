// SPDX-License-Identifier: MIT
#include "mash/mesh/thin_parts.h"

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
#include "mash/mesh/topology.h"
#include "mash/mesh/winding.h"
#include "mash/mesh/winding_detail.h"
#include "mash/mesh/winding_math.h"

namespace mash::mesh {

using namespace detail;

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
                    return tree.at(q) - mesh::winding_dipole(p[0], p[1], p[2], m[0], m[1], m[2], q[0], q[1], q[2], eps);
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
