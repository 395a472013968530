// SPDX-License-Identifier: MIT
// The MASH representation as a torch::nn::Module (paper-era model, spec §1–5).
//
// Parameters (registered under these names, all [A, ·], dtype of the module):
//   mask_params [A, 2K+1], sh_params [A, (L+1)²], rotate_vectors [A, 3], positions [A, 3].
// forward() runs one sampling pass (spec §4.2): differentiable boundary points, in-mask
// Fibonacci points with the re-parameterised polar angle (forward value = the fixed Fibonacci
// direction, gradient to the mask as if the ray slid with it), and per-anchor FPS. Membership, the
// theta weights and the FPS choice are recomputed every call and carry no gradient.
//
// Degenerate-case policy (documented, never a silent NaN):
//   * ρ = W0·c0 ≤ 0: the inversion uses ρ = kMinInversionRho (1e-9) for that anchor; its patch
//     collapses near the anchor instead of exploding. load-time code warns (count_nonpositive_rho).
//   * zero rotation vector: exact identity with finite gradients (Taylor branch).
//   * ‖q − C‖ = 0: the denominator is clamped to FLT_MIN.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "mash/core/mash_params.h"

namespace mash::representation {

/// Sampling/size options. Defaults are the paper's (spec §1.3); the one source of truth.
struct MashOptions {
    int64_t num_anchors = 400;      ///< A
    int64_t mask_degree = 3;        ///< K
    int64_t sh_degree = 2;          ///< L
    int64_t num_directions = 1000;  ///< N, Fibonacci directions on the full sphere
    int64_t num_boundary = 90;      ///< B, boundary samples per anchor
    double fps_scale = 0.8;         ///< fraction of in-mask rays kept per anchor (ceil)
    bool use_inverse = true;        ///< anchored inversion

    /// Throws ConfigError naming the field if a value is out of range.
    void validate() const;
};

/// One sampling pass. All point tensors have the module's dtype and device.
struct MashSamples {
    at::Tensor boundary_points;      ///< [A·B, 3] anchor-major, φ ascending (differentiable)
    at::Tensor boundary_anchor_idx;  ///< [A·B] int64
    at::Tensor boundary_thetas;      ///< [A, B] θmax at the boundary azimuths (differentiable)
    at::Tensor inner_points;         ///< [P, 3] per anchor in FPS order (differentiable)
    at::Tensor inner_anchor_idx;     ///< [P] int64, non-decreasing
    at::Tensor inner_direction_idx;  ///< [P] int64 Fibonacci index of each inner point
    at::Tensor inner_theta_weights;  ///< [P] w = θ_i/θmax(φ_i) ∈ (0, 1] (no grad)
    at::Tensor inner_counts;         ///< [A] int64 rays inside each mask before FPS

    /// cat(boundary_points, inner_points): [A·B + P, 3], the point set the losses use.
    at::Tensor points() const;
    /// cat(boundary_anchor_idx, inner_anchor_idx).
    at::Tensor anchor_idx() const;
};

class MashImpl : public torch::nn::Module {
public:
    /// Initialised as in the spec's "flat disk" (all mask/SH zero except c0 = 1e-3/W0; identity
    /// rotations; positions zero). tensor_options fixes dtype and device.
    explicit MashImpl(const MashOptions& options = {}, const c10::TensorOptions& tensor_options = c10::TensorOptions());

    /// One sampling pass. subsample=false skips FPS and returns every in-mask ray (anchor-major,
    /// ascending Fibonacci index), as the original's pre-FPS path.
    MashSamples forward(bool subsample = true);

    /// The HEAD SimpleMash grid (spec §4.3): φ_p = 2π(p+1)/P, θ = (q+1)/T·θmax(φ_p). relu=false
    /// matches SimpleMash. Returns [A, P, T, 3]. Differentiable.
    at::Tensor grid_points(int64_t num_phi, int64_t num_theta, bool relu = true) const;

    /// Anchor centres P(a, θ=0): the point each anchor looks at. [A, 3].
    at::Tensor face_to_points() const;

    /// Copies parameter values (no grad tracking); degrees and A must match options().
    void set_params(const MashParams& params);
    /// Parameters as float64 host arrays.
    MashParams to_params() const;

    /// Replaces the Fibonacci directions (e.g. with the original implementation's stored tables).
    void set_directions(const at::Tensor& phis, const at::Tensor& thetas);

    const MashOptions& options() const { return options_; }
    at::Tensor rotation_matrices() const;

    at::Tensor mask_params, sh_params, rotate_vectors, positions;

private:
    at::Tensor world_points(const at::Tensor& anchor_idx, const at::Tensor& theta, const at::Tensor& phi, const at::Tensor& R,
                            bool relu) const;

    MashOptions options_;
    at::Tensor dir_phis_, dir_thetas_, dir_basis_;  // [N], [N], [N, 2K+1]
    at::Tensor bnd_phis_, bnd_basis_;               // [B], [B, 2K+1]
};
TORCH_MODULE(Mash);

/// A module holding `params` (A, K, L taken from params; sampling settings from `sampling`).
Mash make_mash(const MashParams& params, MashOptions sampling = {},
               const c10::TensorOptions& tensor_options = c10::TensorOptions());

}  // namespace mash::representation

// The package's main type, also as mash::Mash (with its options, samples and factory).
namespace mash {
using representation::make_mash;
using representation::Mash;
using representation::MashImpl;
using representation::MashOptions;
using representation::MashSamples;
}  // namespace mash
