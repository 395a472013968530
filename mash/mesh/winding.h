// SPDX-License-Identifier: MIT
// Fast generalized winding numbers of oriented point sets (dipole treecode, Barill et al. 2018)
// and the global orientation cue built on them: the orientation of a MASH is one sign per patch
// (or, for a point cloud, one per cluster of smoothly connected points), chosen so that the
// winding-number field of the oriented samples is as nearly constant (= ½) on the surface as
// possible — which only a globally consistent orientation achieves (1 inside, 0 outside).
// Torch-free.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace mash::mesh {

/// Barnes–Hut treecode over dipoles μ_j = a_j n_j at p_j (KD-tree, leaves of ≤ 8 samples, far
/// field to second order about each node's centre, used when |c − q| > β·radius).
class WindingTree {
public:
    /// points, dipoles: [N*3]. eps: regularization radius (see kernels::winding_dipole).
    WindingTree(const std::vector<double>& points, const std::vector<double>& dipoles, double eps, double beta = 2.5);
    double at(const double* q) const;
    int64_t size() const { return int64_t(pts_.size() / 3); }

private:
    struct Node {
        int64_t begin = 0, end = 0, left = -1, right = -1;
        double c[3], M[3], C[9], D[27], radius;
    };
    int64_t build(int64_t begin, int64_t end, std::vector<int64_t>& order, const std::vector<double>& p,
                  const std::vector<double>& m);
    std::vector<double> pts_, mu_;
    std::vector<Node> nodes_;
    double eps_, beta_;
};

/// The exact sum (the reference of the treecode's tests).
double winding_direct(const std::vector<double>& points, const std::vector<double>& dipoles, const double* q, double eps);
/// Winding numbers at many queries ([Q*3]), treecode, parallel.
std::vector<double> winding_numbers(const WindingTree& tree, const std::vector<double>& queries);

/// Area per sample from the k-th nearest neighbour distance d_k: π d_k² / k (a sample's share of
/// a locally uniform surface; overlapping patches share the area). Points: [N*3].
std::vector<double> sample_areas(const std::vector<double>& points, int k = 8);
/// The median distance from a sample to its nearest other sample ([N*3]; 0 below two points).
double median_spacing(const std::vector<double>& points);

/// Signs s ∈ {±1}^G maximizing R(s) = (1ᵀKs)² / |Ks|² with 1ᵀKs > 0, where K[Q×G] (row-major)
/// holds each group's winding contribution at Q surface points: R is largest (= Q) when the
/// field is constant on the surface. Steepest single flips from several starts (the given one,
/// the least-squares relaxation, `restarts` random ones); returns the best. Exact on small G
/// (tested against enumeration).
struct SignSolution {
    std::vector<int> signs;
    double objective = 0;  ///< R(s) / Q ∈ [0, 1] (without the pair term)
    int starts = 0;        ///< local searches run
    int best_start = -1;   ///< 0 given, 1 relaxation, ≥ 2 random
};
/// For signs s: the field w = Ks at the Q surface points; constancy = sign(Σw)·(Σw)²/(Q·Σw²)
/// ∈ [−1, 1] (1: constant and positive), mean = Σw / Q.
struct FieldStats {
    double constancy = 0, mean = 0;
};
FieldStats field_stats(const std::vector<double>& K, int64_t Q, int64_t G, const std::vector<int>& signs);

/// Optional local term: pairs (a, b, w) add λ·Σ w s_a s_b / Σ|w| to the objective R(s)/Q — the
/// agreement of overlapping neighbours, which decides where the field is indifferent (a patch
/// lying flat on others changes the field at surface points very little).
struct SignPair {
    int64_t a, b;
    double w;
};
SignSolution solve_signs(const std::vector<double>& K, int64_t Q, int64_t G, const std::vector<int>& init, int restarts = 24,
                         uint64_t seed = 1, const std::vector<SignPair>& pairs = {}, double lambda = 0.0);

struct WindingOrientOptions {
    int64_t max_queries = 12000;  ///< surface points where the field is evaluated
    double eps_spacings = 1.5;    ///< regularization radius in median sample spacings
    int restarts = 24;
    double pair_weight = 0.1;  ///< λ of the pair term (orient_groups' `pairs`)
};
struct GroupOrientation {
    std::vector<int> signs;        ///< per group
    double objective = 0;          ///< R / Q of the chosen signs (1 = perfectly constant field)
    double initial_objective = 0;  ///< R / Q of the given initial signs
    double mean_winding = 0;       ///< mean w at the query points after orientation (≈ ½)
};
/// Chooses one sign per group of samples (points, unit normals [N*3], group ids in [0, G)) from
/// the winding-number field; `init` (per group) is one start of the search. Samples with a zero
/// normal are ignored.
GroupOrientation orient_groups(const std::vector<double>& points, const std::vector<double>& normals,
                               const std::vector<int64_t>& group, int64_t G, const std::vector<int>& init,
                               const WindingOrientOptions& o = {}, const std::vector<SignPair>& pairs = {});

/// Per-sample refinement: each sample takes the sign for which the jump of the other samples'
/// field across it, w(p − δn) − w(p + δn) (δ = the regularization radius), is positive (inside
/// behind the normal). `passes` rounds; returns the number of flips.
int64_t refine_by_winding(const std::vector<double>& points, std::vector<double>& normals, const WindingOrientOptions& o = {},
                          int passes = 2);

/// Point-cloud orientation (the SPR baseline): normals (signs as given, e.g. from tangent-plane
/// propagation) are grouped into smooth clusters by region growing over tangential
/// k-nearest-neighbour edges, the clusters are signed by orient_groups (the given signs one start;
/// neighbouring clusters' agreement the pair term), then each point takes the sign the field's
/// jump across it asks for (refine_by_winding, WNNC-style, per point). Modifies normals in
/// place; returns the number of points whose sign changed.
int64_t orient_cloud_by_winding(const std::vector<double>& points, std::vector<double>& normals,
                                const WindingOrientOptions& o = {});

/// Samples that do not bound a solid: where the field of the oriented samples does not go from 1
/// behind the surface to 0 in front of it — open sheets (≈ −½ in front, ½ behind), walls thinner
/// than the samples resolve and parts whose orientation stayed inconsistent (both sides mixed).
/// Poisson turns these into capped volumes or blobs; thicken_thin gives it a closed slab
/// instead. Evaluated on at most `max_samples` samples (an even random subset, which also
/// carries the field), at p ± δn (δ = `delta_spacings` median sample spacings, the sample's own
/// dipole left out): the deviation max(|w(p + δn)|, |1 − w(p − δn)|) is averaged over each
/// sample's `smooth_k` nearest evaluated neighbours (single samples are noisy at creases and
/// rims) and compared with `threshold`; the other samples take the answer of their nearest
/// evaluated one. Samples with a zero normal are never marked. Optionally returns the averaged
/// deviation per sample.
struct ThinOptions {
    int64_t max_samples = 20000;
    double delta_spacings = 3.0;
    double threshold = 0.3;
    int smooth_k = 48;
    double min_region = 0.03;   ///< marked regions (k-NN connected) smaller than this fraction of the evaluated samples are
                                ///< dropped; unmarked ones as small that border marked samples (holes) are marked
    double eps_spacings = 1.5;  ///< regularization radius, as WindingOrientOptions
};
std::vector<char> thin_mask(const std::vector<double>& points, const std::vector<double>& normals, const ThinOptions& o = {},
                            std::vector<double>* deviation = nullptr);

/// The share of the field's ½-level set that no sample supports, predicted before Poisson: the
/// membrane Poisson would span across the opening of a cup-shaped open sheet (a bowl whose two
/// walls the samples do not resolve, left unmarked by thin_mask because it looks nearly
/// enclosed). The field of the samples not in `mask` (thickened samples cancel in pairs) on a
/// `grid`³ lattice over the samples' box (padded by 10 %); each lattice edge where it crosses ½
/// counts once, as unsupported if the crossing lies farther than `radius` from every sample.
/// Returns unsupported / all crossings (0 without crossings). Same subset, areas and radius as
/// thin_mask (`o`).
double membrane_fraction(const std::vector<double>& points, const std::vector<double>& normals, const std::vector<char>& mask,
                         double radius, int grid = 40, const ThinOptions& o = {});

/// thin_mask and membrane_fraction on the same samples, sharing their work: the evaluated subset,
/// its areas, the field in front of and behind each sample and the neighbour graphs are computed
/// once (lazily), so that trying several thresholds (poisson()'s open-sheet step) costs little more
/// than one. Keeps a copy of the samples. Not safe to call from several threads at once.
class ThinField {
public:
    ThinField(const std::vector<double>& points, const std::vector<double>& normals, const ThinOptions& o = {});
    ~ThinField();
    ThinField(const ThinField&) = delete;
    ThinField& operator=(const ThinField&) = delete;
    /// thin_mask with this threshold (the other options as constructed).
    std::vector<char> mask(double threshold, std::vector<double>* deviation = nullptr) const;
    /// membrane_fraction for this mask.
    double membrane_fraction(const std::vector<char>& mask, double radius, int grid = 40) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A closed surface Poisson can reconstruct from a sheet: every masked sample (p, n) becomes
/// two, (p + εn, n) and (p − εn, −n) — a slab of thickness 2ε around the sheet, whose sides are
/// both outsides. Unmasked samples are kept. Returns the number of samples doubled.
int64_t thicken_thin(std::vector<double>& points, std::vector<double>& normals, const std::vector<char>& mask, double offset);

/// Poisson's input at the resolution it resolves: in each cubic cell of side `cell` (grid
/// anchored at `lo`) one sample per side of the surface is kept — the cell's samples are grouped
/// by normal (a sample joins the first group whose first normal it agrees with, dot > 0, so a
/// thin slab's two sides stay apart) and each group keeps its sample nearest the cell's centre.
/// The kept samples stay in their original order. Returns how many were kept.
int64_t one_sample_per_cell(std::vector<double>& points, std::vector<double>& normals, const double* lo, double cell);

}  // namespace mash::mesh
