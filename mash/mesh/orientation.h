// SPDX-License-Identifier: MIT
// The global orientation cue built on winding numbers (winding.h): one sign per patch of a MASH
// (or per cluster of smoothly connected points of a cloud), chosen so that the winding-number field
// of the oriented samples is as nearly constant (= ½) on the surface as possible — which only a
// globally consistent orientation achieves (1 inside, 0 outside). Torch-free.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace mash::mesh {

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

}  // namespace mash::mesh
