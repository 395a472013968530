// SPDX-License-Identifier: MIT
// Generation as users ask for it (generation-spec §4.4), shared by `mash generate` and the Python
// Generator: the image condition from a photo, anchors frozen from existing MASHes (completion
// keeps a selection of one shape, blending concatenates selections of several), and each sample
// turned back into a MASH in the first input's coordinates with the frozen anchors' exact values.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "mash/core/mash_params.h"
#include "models/generator.h"
#include "models/train_data.h"

namespace mash::models {

/// One part of the frozen anchors: a MASH and the anchors kept of it (select_anchors: "all",
/// "0-99,120", "box=xmin,ymin,zmin,xmax,ymax,zmax", in the MASH's own coordinates).
struct AnchorSource {
    MashParams params;
    std::string selection = "all";
    std::string name;  ///< for messages and reports (a file name)
};

struct FrozenAnchors {
    MashParams params;                 ///< the parts' selected anchors, concatenated, in the training frame
    MashParams first_input;            ///< the first part's selected anchors as given
    BoxFrame frame;                    ///< the first part's normalization (identity unless data.normalize: box)
    std::vector<std::string> sources;  ///< "name:selection" per part
    int64_t count() const { return params.num_anchors; }
};

/// The frozen anchors of `parts` for generator `g` (each part normalized like the training data when
/// the model was trained with data.normalize: box). Throws InputError when the degrees differ from
/// the model's or there are more anchors than the model generates. No parts: none frozen.
FrozenAnchors frozen_anchors(const Generator& g, const std::vector<AnchorSource>& parts);

/// The condition tokens [1, T, C] of one image through a TorchScript encoder; `encoder_dtype` and
/// `image_alpha` "" take the checkpoint's. Throws InputError when the encoder's width is not the
/// one the model was trained on.
at::Tensor image_condition(const Generator& g, const std::string& image, const std::string& encoder,
                           std::optional<EncoderDtype> encoder_dtype = {}, std::optional<ImageAlpha> image_alpha = {});

/// One generated shape: tokens [A, C] → MASH; with frozen anchors, their exact values and the first
/// input's coordinates. `roundtrip_deviation` (optional) receives the largest change of the frozen
/// anchors through the sampler and the token map (rotations compared as matrices).
MashParams generated_shape(const at::Tensor& tokens, const Generator& g, const FrozenAnchors& frozen,
                           double* roundtrip_deviation = nullptr);

}  // namespace mash::models
