// SPDX-License-Identifier: MIT
#include "models/generate.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/ops/rotation/rotation.h"
#include "models/image_encoder.h"
#include "models/tokens.h"

namespace mash::models {
namespace {

/// The first src.num_anchors anchors of dst take src's values (same degrees).
void overwrite_leading_anchors(MashParams& dst, const MashParams& src) {
    std::copy(src.rotate_vectors.begin(), src.rotate_vectors.end(), dst.rotate_vectors.begin());
    std::copy(src.positions.begin(), src.positions.end(), dst.positions.begin());
    std::copy(src.mask_params.begin(), src.mask_params.end(), dst.mask_params.begin());
    std::copy(src.sh_params.begin(), src.sh_params.end(), dst.sh_params.begin());
}

void append_params(MashParams& dst, const MashParams& src) {
    if (dst.num_anchors == 0) {
        dst = src;
        return;
    }
    if (src.mask_degree != dst.mask_degree || src.sh_degree != dst.sh_degree)
        throw InputError("blend: parts have different mask/SH degrees");
    dst.num_anchors += src.num_anchors;
    dst.rotate_vectors.insert(dst.rotate_vectors.end(), src.rotate_vectors.begin(), src.rotate_vectors.end());
    dst.positions.insert(dst.positions.end(), src.positions.begin(), src.positions.end());
    dst.mask_params.insert(dst.mask_params.end(), src.mask_params.begin(), src.mask_params.end());
    dst.sh_params.insert(dst.sh_params.end(), src.sh_params.begin(), src.sh_params.end());
}

// Largest absolute difference between two MASHes' anchors (rotations compared as matrices).
double max_deviation(const MashParams& a, const MashParams& b) {
    auto T = [](const std::vector<double>& v, int64_t w) {
        return at::from_blob(const_cast<double*>(v.data()), {static_cast<int64_t>(v.size()) / w, w}, at::kDouble).clone();
    };
    double d = 0;
    d = std::max(d, (T(a.positions, 3) - T(b.positions, 3)).abs().max().item<double>());
    d = std::max(d, (T(a.mask_params, a.mask_dim()) - T(b.mask_params, b.mask_dim())).abs().max().item<double>());
    d = std::max(d, (T(a.sh_params, a.sh_dim()) - T(b.sh_params, b.sh_dim())).abs().max().item<double>());
    d = std::max(d, (ops::rotation::matrix_from_axis_angle(T(a.rotate_vectors, 3)) -
                     ops::rotation::matrix_from_axis_angle(T(b.rotate_vectors, 3)))
                        .abs()
                        .max()
                        .item<double>());
    return d;
}

}  // namespace

FrozenAnchors frozen_anchors(const Generator& g, const std::vector<AnchorSource>& parts) {
    FrozenAnchors fz;
    for (size_t i = 0; i < parts.size(); ++i) {
        MashParams p = parts[i].params;
        const auto idx = select_anchors(p, parts[i].selection, parts[i].name);  // in the part's own coordinates
        if (i == 0) fz.first_input = subset_anchors(p, idx);
        BoxFrame f;
        if (g.config.normalize == Normalize::kBox) f = normalize_to_unit_box(p);  // then the training data's frame
        if (i == 0) fz.frame = f;
        append_params(fz.params, subset_anchors(p, idx));
        fz.sources.push_back(parts[i].name + ":" + parts[i].selection);
    }
    const int64_t K = fz.count();
    if (K > 0) {
        if (fz.params.mask_degree != g.layout.mask_degree || fz.params.sh_degree != g.layout.sh_degree)
            throw InputError(fz.sources.front() + ": mask/SH degrees differ from the model's (" +
                             std::to_string(g.layout.mask_degree) + ", " + std::to_string(g.layout.sh_degree) + ")");
        if (K > g.num_anchors)
            throw InputError("generate: " + std::to_string(K) + " frozen anchors, but the model generates " +
                             std::to_string(g.num_anchors) + " (select fewer with :SEL / --keep-anchors / --keep-box)");
    }
    return fz;
}

at::Tensor image_condition(const Generator& g, const std::string& image, const std::string& encoder,
                           std::optional<EncoderDtype> encoder_dtype, std::optional<ImageAlpha> image_alpha) {
    const EncoderDtype dtype = encoder_dtype.value_or(g.config.encoder_dtype);
    const ImageAlpha alpha = image_alpha.value_or(g.config.image_alpha);
    ImageEncoder enc(encoder, dtype, alpha);
    if (enc.info().width != g.config.image_dim)
        throw InputError(encoder + ": encoder width " + std::to_string(enc.info().width) +
                         ", but the checkpoint was trained on " + std::to_string(g.config.image_dim) + "-wide features (" +
                         g.config.encoder + ")");
    at::Tensor tokens = enc.encode_files({image}, "");
    spdlog::info("generate: {} encoded by {} ({}, alpha {}) → {} tokens x {}", image, enc.info().name, config::name(dtype),
                 config::name(alpha), tokens.size(1), tokens.size(2));
    return tokens;
}

MashParams generated_shape(const at::Tensor& tokens, const Generator& g, const FrozenAnchors& frozen,
                           double* roundtrip_deviation) {
    MashParams p = mash_from_tokens(tokens, g.layout);
    const int64_t K = frozen.count();
    if (K == 0) return p;
    std::vector<int64_t> head(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) head[size_t(k)] = k;
    if (roundtrip_deviation) *roundtrip_deviation = max_deviation(subset_anchors(p, head), frozen.params);
    // Frozen anchors are given: their exact values (in the training frame, then mapped back with
    // everything else); the first input's anchors then take their exact input values.
    overwrite_leading_anchors(p, frozen.params);
    p.use_inverse = frozen.params.use_inverse;
    frozen.frame.undo(p);
    overwrite_leading_anchors(p, frozen.first_input);
    return p;
}

}  // namespace mash::models
