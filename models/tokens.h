// SPDX-License-Identifier: MIT
// MASH ⇄ generator tokens (generation-spec §1.2). One token per anchor, C = 9 + (2K+1) + (L+1)²
// floats (25 for the paper's K = 3, L = 2), in this order:
//   [0:6)   ortho6d rotation: first COLUMN of R, then second column (R = Rodrigues(rotate_vector))
//   [6:9)   anchor position
//   [9:9+2K+1)  mask params (basis 1, cos φ, sin φ, …)
//   [..:C)  SH params (opaque for generation)
// Back to MASH: Gram–Schmidt on the 6-vector (x = a/‖a‖, z = normalize(x × b), y = z × x, norms
// clamped at 1e-8, as the original), then the log map to axis-angle. All math in float64.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "mash/core/mash_params.h"

namespace mash::models {

struct TokenLayout {
    int64_t mask_degree = 3;
    int64_t sh_degree = 2;
    int64_t mask_dim() const { return 2 * mask_degree + 1; }
    int64_t sh_dim() const { return (sh_degree + 1) * (sh_degree + 1); }
    int64_t channels() const { return 9 + mask_dim() + sh_dim(); }
    /// Column names, e.g. rot6d_0 … pos_z, mask_0 …, sh_0 … (used in the normalizer file).
    std::vector<std::string> column_names() const;
    /// The layout that needs exactly `channels` floats with the paper's split rule, or throws.
    static TokenLayout of(const MashParams& p) { return {p.mask_degree, p.sh_degree}; }
};

/// tokens [A, C] float64 (CPU) from a MASH.
at::Tensor tokens_from_mash(const MashParams& params);
/// MASH from tokens [A, C] (any float dtype/device; converted to float64 on CPU). Throws
/// InputError if the width does not match the layout or a value is not finite.
MashParams mash_from_tokens(const at::Tensor& tokens, const TokenLayout& layout, bool use_inverse = true);

/// The canonical anchor order of model.anchor_order = canonical: tokens [S, A, C] or [A, C] (raw,
/// positions in columns 6..8) with each shape's anchors sorted by the Morton code (10 bits per axis)
/// of their position in the shape's own bounding box; ties keep the file order.
at::Tensor canonical_anchor_order(const at::Tensor& tokens);

/// Gram–Schmidt of the spec (norm clamp 1e-8): o [..., 6] → R [..., 3, 3] with columns x, y, z.
at::Tensor matrix_from_token_ortho6d(const at::Tensor& o);

/// Parses an anchor selection: "all", "0-99,120,130-139" (inclusive ranges) or
/// "box=xmin,ymin,zmin,xmax,ymax,zmax" (anchors whose position lies in the box). Returns sorted
/// unique indices; throws InputError naming `what` on a bad spec or an out-of-range index.
std::vector<int64_t> select_anchors(const MashParams& params, const std::string& spec, const std::string& what);
/// The sub-MASH made of the given anchors.
MashParams subset_anchors(const MashParams& params, const std::vector<int64_t>& indices);

}  // namespace mash::models
