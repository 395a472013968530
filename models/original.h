// SPDX-License-Identifier: MIT
// The paper's released generators (mash-diffusion @1f6559d, CFMLatentTransformer): their
// `torch.save` checkpoints (model_last.pth: `model`, `ema_model`, numpy `ema_loss`, ...) and
// their joblib normalizers (Transformers/<id>.pkl) read natively and turned into our Generator,
// so that `mash generate` samples them as the original does (dopri5, rtol = atol = 1e-4, ema).
//
// Shapes tell everything but the head count: width D = proj_in rows, depth = number of
// transformer blocks, time channels = map_layer0 columns, context width = attn2.to_k columns,
// categories = category_emb rows. The condition is "image" (DINOv2 tokens straight into the
// cross-attention, no projection) when the context width is DINOv2 ViT-B's 768, else "category"
// (55 rows = the ShapeNet synsets in sorted order: 02691156 airplane = 0 … 03001627 chair = 18);
// `condition` overrides. The image model's unused category table ([55, 768]; the original adds
// 0·category_emb, a no-op) is checked and dropped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/generator.h"

namespace mash::models {

struct ImportOptions {
    std::string weights = "ema";     ///< ema (ema_model, what the original samples with) | model
    int64_t heads = 8;               ///< not in the tensors; the paper's models use 8
    std::string condition = "auto";  ///< auto | category | image
};

struct ImportReport {
    int64_t width = 0, depth = 0, heads = 0, context_dim = 0, time_channels = 0, num_categories = 0;
    std::string condition;
    int64_t parameters = 0;
    int64_t step = -1;                 ///< the checkpoint's `step`, if any
    std::vector<std::string> dropped;  ///< tensors accepted but not used (the image model's category table)
};

/// Reads an original checkpoint (+ optional original normalizer .pkl; without it the normalizer
/// is the identity map, enough for `eval-net` but not for sampling real shapes). Throws IoError
/// naming the file and, for unknown / missing / mis-shaped tensors, the tensor.
Generator import_original(const std::string& checkpoint, const std::string& normalizer_pkl, const ImportOptions& o,
                          ImportReport* report = nullptr);

/// The original normalizer file as our QuantileNormalizer (knots copied exactly).
QuantileNormalizer load_original_normalizer(const std::string& path);

}  // namespace mash::models
