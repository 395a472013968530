// SPDX-License-Identifier: MIT
// Generation metrics (`mash eval-gen`) on point clouds sampled from each shape:
//   CD(X, Y)  = mean_x min_y ‖x−y‖² + mean_y min_x ‖y−x‖²   (squared-L2 Chamfer, as PointFlow)
//   MMD-CD    = mean over reference shapes of the CD to their closest generated shape (lower = better)
//   COV-CD    = fraction of reference shapes that are the closest reference of some generated shape
//   1-NNA-CD  = leave-one-out 1-nearest-neighbour accuracy of telling generated from reference in the
//               union (0.5 = indistinguishable, 1.0 = fully separable)
//   FID / KID = Fréchet distance and unbiased polynomial-kernel MMD ((x·y/d + 1)³) between the
//               features a TorchScript network gives each cloud ([B, N, 3] float32 → [B, F]).
// Inputs: MASH files (sampled), meshes (surface-sampled) or point files; one file per shape (X.npz
// is preferred over X.ply / X_mesh.ply that `mash generate` writes for the same shape).
#pragma once
#include <string>
#include <vector>

namespace mash::models {

struct GenEvalOptions {
    int64_t num_points = 2048;
    std::string feature_net;         ///< TorchScript file, or "" for no FID/KID
    std::string normalize = "none";  ///< none | unit (each cloud centred, bbox diagonal 1)
    uint64_t seed = 0;
};

struct GenEvalResult {
    int64_t num_generated = 0, num_reference = 0;
    double mmd_cd = 0, cov_cd = 0, nna_cd = 0;
    bool has_features = false;
    double fid = 0, kid = 0;
    int64_t feature_dim = 0;
};

/// Shape files under `dir` (MASH, mesh or point files; recursive, sorted).
std::vector<std::string> list_shape_files(const std::string& dir);
/// One cloud [num_points*3] from a shape file.
std::vector<double> shape_cloud(const std::string& path, const GenEvalOptions& o);

/// Pairwise CD matrix [|A|, |B|] (row-major).
std::vector<double> chamfer_matrix(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b);

/// Metrics from precomputed CD matrices (gen×ref, gen×gen, ref×ref).
void distribution_metrics(const std::vector<double>& gr, const std::vector<double>& gg, const std::vector<double>& rr, int64_t ng,
                          int64_t nr, GenEvalResult& out);
/// FID and KID of two feature sets [n, F] (row-major).
void feature_metrics(const std::vector<double>& fa, int64_t na, const std::vector<double>& fb, int64_t nb, int64_t F, double& fid,
                     double& kid);

GenEvalResult evaluate_generation(const std::vector<std::string>& generated, const std::vector<std::string>& reference,
                                  const GenEvalOptions& o);

}  // namespace mash::models
