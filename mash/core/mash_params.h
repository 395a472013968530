// SPDX-License-Identifier: MIT
// MashParams: the plain, torch-free exchange struct for one MASH (file IO, tokenizer, CLI).
// Conventions (docs/mash-spec.md §1, §5):
//   mask_params    [A, 2K+1]   order [m0, a1, b1, ..., aK, bK]     (θmax(φ) = π·sigmoid(series))
//   sh_params      [A, (L+1)²] order l = 0..L, m = −l..l            (original implementation's basis)
//   rotate_vectors [A, 3]      axis-angle r of the local→world rotation R = Rodrigues(r), applied R·q
//   positions      [A, 3]      anchor positions p_a
// All arrays are row-major float64. The canonical rotation is axis-angle; ortho6d files are
// converted on load (see mash/io/mash_file.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mash {

struct MashParams {
    int64_t num_anchors = 0;
    int64_t mask_degree = 0;  ///< K
    int64_t sh_degree = 0;    ///< L
    std::vector<double> mask_params;
    std::vector<double> sh_params;
    std::vector<double> rotate_vectors;
    std::vector<double> positions;
    bool use_inverse = true;

    int64_t mask_dim() const { return 2 * mask_degree + 1; }
    int64_t sh_dim() const { return (sh_degree + 1) * (sh_degree + 1); }

    /// A MASH with every array zero-filled to the right size.
    static MashParams zeros(int64_t num_anchors, int64_t mask_degree, int64_t sh_degree);

    /// Checks sizes, degree ranges and that every value is finite. Throws InputError naming
    /// `what` (a file path or a description), the array and the offending anchor.
    void validate(const std::string& what) const;

    /// Number of anchors with c0 <= 0, i.e. a non-positive inversion radius ρ = W0·c0 (see
    /// Mash: such anchors are evaluated with ρ clamped to kMinInversionRho).
    int64_t count_nonpositive_rho() const;

    /// Scale about the origin: positions and all SH coefficients are multiplied by s (exact, since
    /// the SH distance, ReLU and inversion are positively homogeneous of degree 1).
    void scale(double s);
    /// Translate all anchors.
    void translate(double dx, double dy, double dz);
};

}  // namespace mash
