// SPDX-License-Identifier: MIT
#include "models/original.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <set>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/formats/npy.h"
#include "mash/formats/pickle.h"
#include "models/tokens.h"

namespace mash::models {

QuantileNormalizer load_original_normalizer(const std::string& path) {
    if (!std::filesystem::is_regular_file(path)) throw IoError(path + ": normalizer not found");
    auto bytes = read_file(path);
    auto cols = formats::parse_joblib_multi_linear(bytes.data(), bytes.size(), path);
    TokenLayout layout{3, 2};
    if (int64_t(cols.size()) != layout.channels())
        throw IoError(path + ": the original normalizer has " + std::to_string(cols.size()) +
                      " columns (expected 25: ortho6d, position, mask, SH)");
    std::vector<std::vector<double>> src;
    for (size_t c = 0; c < cols.size(); ++c) {
        if (cols[c].target != cols[0].target)
            throw IoError(path + ": column " + std::to_string(c) +
                          " has other target knots than column 0 (expected one shared set)");
        src.push_back(cols[c].source);
    }
    return QuantileNormalizer::from_knots(src, cols[0].target, layout.column_names(), path);
}

namespace {

at::Tensor to_tensor(const formats::NpyArray& a, const std::string& what) {
    if (a.kind != 'f') throw IoError(what + ": expected a floating-point tensor");
    auto shape = std::vector<int64_t>(a.shape.begin(), a.shape.end());
    if (a.itemsize == 4) {
        auto t = at::empty(shape, at::kFloat);
        std::memcpy(t.data_ptr(), a.data.data(), a.data.size());
        return t;
    }
    auto t = at::empty(shape, at::kDouble);
    std::memcpy(t.data_ptr(), a.data.data(), a.data.size());
    return t.to(at::kFloat);
}

/// The channel count 9 + (2K+1) + (L+1)² → (K, L).
TokenLayout layout_for_channels(int64_t c, const std::string& what) {
    for (int64_t L = 0; L <= 8; ++L)
        for (int64_t K = 0; K <= 16; ++K)
            if (9 + 2 * K + 1 + (L + 1) * (L + 1) == c) return TokenLayout{K, L};
    throw IoError(what + ": model.proj_in.weight has " + std::to_string(c) + " input channels (expected 9 + (2K+1) + (L+1)^2)");
}

}  // namespace

Generator import_original(const std::string& path, const std::string& normalizer_pkl, const ImportOptions& o,
                          ImportReport* report) {
    if (!std::filesystem::is_regular_file(path)) throw IoError(path + ": checkpoint not found");
    if (o.weights != "ema" && o.weights != "model") throw ConfigError("--weights '" + o.weights + "': expected ema or model");
    if (o.condition != "auto" && o.condition != "category" && o.condition != "image")
        throw ConfigError("--condition '" + o.condition + "': expected auto, category or image");
    auto bytes = read_file(path);
    auto ar = formats::parse_torch_archive(bytes.data(), bytes.size(), path);
    const std::string key = o.weights == "ema" ? "ema_model" : "model";
    const formats::NamedArrays* sd = nullptr;
    int64_t step = -1;
    for (const auto& [k, v] : ar.entries) {
        if (k == key && v.kind == formats::TorchArchive::Value::kStateDict) sd = &v.state_dict;
        if (k == "step" && v.kind == formats::TorchArchive::Value::kNumber) step = int64_t(v.number);
    }
    if (!sd)
        throw IoError(path + ": not an original generator checkpoint: no '" + key +
                      "' state dict (expected model_last.pth of mash-diffusion, with 'model' and 'ema_model')");
    std::map<std::string, at::Tensor> tensors;
    for (const auto& [name, a] : *sd) tensors[name] = to_tensor(a, path + ": tensor '" + name + "'");
    auto need = [&](const std::string& name, int64_t dims) -> const at::Tensor& {
        auto it = tensors.find(name);
        if (it == tensors.end()) throw IoError(path + ": missing tensor '" + name + "' in '" + key + "'");
        if (it->second.dim() != dims)
            throw IoError(path + ": tensor '" + name + "' has " + std::to_string(it->second.dim()) + " dimensions (expected " +
                          std::to_string(dims) + ")");
        return it->second;
    };
    // Infer the architecture.
    const auto& proj_in = need("model.proj_in.weight", 2);
    const int64_t width = proj_in.size(0), channels = proj_in.size(1);
    const TokenLayout layout = layout_for_channels(channels, path);
    int64_t depth = 0;
    while (tensors.count("model.transformer_blocks." + std::to_string(depth) + ".attn1.to_q.weight")) ++depth;
    if (depth == 0) throw IoError(path + ": missing tensor 'model.transformer_blocks.0.attn1.to_q.weight' in '" + key + "'");
    const int64_t time_channels = need("model.map_layer0.weight", 2).size(1);
    const int64_t context_dim = need("model.transformer_blocks.0.attn2.to_k.weight", 2).size(1);
    const auto& cat = need("category_emb.weight", 2);
    if (o.heads < 1 || width % o.heads != 0)
        throw ConfigError("--heads " + std::to_string(o.heads) + ": must divide the model width " + std::to_string(width));
    std::string condition = o.condition == "auto" ? (context_dim == 768 ? "image" : "category") : o.condition;

    TrainConfig cfg;
    cfg.width = width;
    cfg.depth = depth;
    cfg.heads = o.heads;
    cfg.time_channels = time_channels;
    cfg.context_dim = context_dim;
    cfg.condition = condition == "image" ? ConditionKind::kImage : ConditionKind::kCategory;
    cfg.image_dim = context_dim;
    cfg.image_projection = ImageProjection::kNone;
    cfg.cond_dropout = 0.1;
    cfg.solver = Solver::kDopri5;
    cfg.rtol = cfg.atol = 1e-4;
    cfg.normalize = Normalize::kNone;
    use_paper_recipe(cfg);  // the paper's network and procedure
    cfg.validate();
    std::vector<std::string> categories;
    if (condition == "category") {
        if (cat.size(0) == 55)
            for (const auto& [synset, name] : dataset::shapenet_synsets()) categories.push_back(name);
        else
            for (int64_t i = 0; i < cat.size(0); ++i) categories.push_back("category_" + std::to_string(i));
    }
    QuantileNormalizer norm;
    if (!normalizer_pkl.empty()) {
        norm = load_original_normalizer(normalizer_pkl);
    } else {  // identity: source knots = target knots
        const auto tk = QuantileNormalizer::standard_target_knots();
        norm = QuantileNormalizer::from_knots(std::vector<std::vector<double>>(size_t(channels), tk), tk, layout.column_names(),
                                              "identity normalizer");
    }
    Generator g = Generator::create(cfg, layout, /*num_anchors=*/400, categories, norm);
    g.step = std::max<int64_t>(0, step);
    ImportReport rep;
    // Strict mapping by name: every parameter of ours must come from the file with its shape, and
    // every tensor of the file must be used (except the image model's category table).
    std::set<std::string> used;
    {
        torch::NoGradGuard ng;
        for (auto& kv : g.ema->named_parameters()) {
            auto it = tensors.find(kv.key());
            if (it == tensors.end()) throw IoError(path + ": missing tensor '" + kv.key() + "' in '" + key + "'");
            if (it->second.sizes() != kv.value().sizes()) {
                std::ostringstream os;
                os << path << ": tensor '" << kv.key() << "' has shape " << it->second.sizes() << " (expected "
                   << kv.value().sizes() << " for width " << width << ", context " << context_dim << ")";
                throw IoError(os.str());
            }
            kv.value().copy_(it->second);
            used.insert(kv.key());
        }
        auto src = g.ema->named_parameters();
        for (auto& kv : g.model->named_parameters()) kv.value().copy_(src[kv.key()]);
    }
    for (const auto& [name, t] : tensors) {
        if (used.count(name)) continue;
        if (name == "category_emb.weight" && condition == "image") {
            if (t.size(1) != context_dim)
                throw IoError(path + ": tensor 'category_emb.weight' has " + std::to_string(t.size(1)) +
                              " columns (expected the context width " + std::to_string(context_dim) + ")");
            rep.dropped.push_back(name);
            continue;
        }
        throw IoError(path + ": unknown tensor '" + name + "' in '" + key + "' (not part of the original CFMLatentTransformer)");
    }
    rep.width = width;
    rep.depth = depth;
    rep.heads = o.heads;
    rep.context_dim = context_dim;
    rep.time_channels = time_channels;
    rep.num_categories = cat.size(0);
    rep.condition = condition;
    rep.parameters = count_parameters(*g.ema) + (rep.dropped.empty() ? 0 : cat.numel());
    rep.step = step;
    if (report) *report = rep;
    return g;
}

}  // namespace mash::models
