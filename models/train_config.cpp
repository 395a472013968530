// SPDX-License-Identifier: MIT
#include "models/train_config.h"

#include <yaml-cpp/yaml.h>

#include <variant>

#include "mash/core/errors.h"

namespace mash::models {

#define MASH_CHOICES(E, ...)                            \
    const config::Choices<E>& choices(E) {              \
        static const config::Choices<E> c{__VA_ARGS__}; \
        return c;                                       \
    }
MASH_CHOICES(Normalize, {Normalize::kBox, "box"}, {Normalize::kNone, "none"})
MASH_CHOICES(BatchOrder, {BatchOrder::kIid, "iid"}, {BatchOrder::kEpochs, "epochs"})
MASH_CHOICES(CategoryTable, {CategoryTable::kDataset, "dataset"}, {CategoryTable::kShapeNet55, "shapenet55"})
MASH_CHOICES(FeatureStorage, {FeatureStorage::kRam, "ram"}, {FeatureStorage::kDisk, "disk"})
MASH_CHOICES(FeatureDtype, {FeatureDtype::kFloat32, "float32"}, {FeatureDtype::kFloat16, "float16"})
MASH_CHOICES(ImageAlpha, {ImageAlpha::kDrop, "drop"}, {ImageAlpha::kWhite, "white"})
MASH_CHOICES(ConditionKind, {ConditionKind::kNone, "none"}, {ConditionKind::kCategory, "category"},
             {ConditionKind::kImage, "image"})
MASH_CHOICES(EncoderDtype, {EncoderDtype::kFloat32, "float32"}, {EncoderDtype::kBFloat16, "bfloat16"},
             {EncoderDtype::kFloat16, "float16"})
MASH_CHOICES(ImageProjection, {ImageProjection::kLinear, "linear"}, {ImageProjection::kNone, "none"})
MASH_CHOICES(AnchorOrder, {AnchorOrder::kNone, "none"}, {AnchorOrder::kCanonical, "canonical"})
MASH_CHOICES(Objective, {Objective::kFlowMatching, "flow_matching"}, {Objective::kEdm, "edm"})
MASH_CHOICES(OtPairs, {OtPairs::kWithReplacement, "with_replacement"}, {OtPairs::kPermutation, "permutation"})
MASH_CHOICES(Prediction, {Prediction::kVelocity, "velocity"}, {Prediction::kData, "data"})
MASH_CHOICES(TimeSampling, {TimeSampling::kUniform, "uniform"}, {TimeSampling::kLogitNormal, "logit_normal"})
MASH_CHOICES(ScheduleUnit, {ScheduleUnit::kSteps, "steps"}, {ScheduleUnit::kMicroBatches, "micro_batches"})
MASH_CHOICES(LrSchedule, {LrSchedule::kConstant, "constant"}, {LrSchedule::kCosine, "cosine"})
MASH_CHOICES(Precision, {Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"})
MASH_CHOICES(Solver, {Solver::kEuler, "euler"}, {Solver::kHeun, "heun"}, {Solver::kDopri5, "dopri5"})
#undef MASH_CHOICES

namespace {

const config::Schema<TrainConfig>& schema() {
    using config::path_setting;
    using config::setting;
    using C = TrainConfig;
    static const config::Schema<TrainConfig> s({
        path_setting("data", "root", &C::data_root),
        setting("data", "val_fraction", &C::val_fraction),
        setting("data", "max_val_shapes", &C::max_val_shapes),
        setting("data", "normalize", &C::normalize),
        setting("data", "order", &C::order),
        setting("data", "categories", &C::categories),
        path_setting("data", "image_root", &C::image_root),
        path_setting("data", "feature_cache", &C::feature_cache),
        setting("data", "image_alpha", &C::image_alpha),
        setting("data", "image_features", &C::image_features),
        setting("data", "feature_dtype", &C::feature_dtype),
        setting("model", "width", &C::width),
        setting("model", "depth", &C::depth),
        setting("model", "heads", &C::heads),
        setting("model", "time_channels", &C::time_channels),
        setting("model", "context_dim", &C::context_dim),
        setting("model", "condition", &C::condition),
        setting("model", "cond_dropout", &C::cond_dropout),
        path_setting("model", "encoder", &C::encoder),
        setting("model", "image_dim", &C::image_dim),
        setting("model", "encoder_dtype", &C::encoder_dtype),
        setting("model", "image_projection", &C::image_projection),
        setting("model", "anchor_order", &C::anchor_order),
        setting("objective", "type", &C::objective),
        setting("objective", "completion_trick", &C::completion_trick),
        setting("objective", "ot_pairs", &C::ot_pairs),
        setting("objective", "time_sampling", &C::time_sampling),
        setting("objective", "prediction", &C::prediction),
        setting("objective", "edm_p_mean", &C::edm_p_mean),
        setting("objective", "edm_p_std", &C::edm_p_std),
        setting("objective", "edm_sigma_data", &C::edm_sigma_data),
        setting("train", "steps", &C::steps),
        setting("train", "time_limit_minutes", &C::time_limit_minutes),
        setting("train", "batch_size", &C::batch_size),
        setting("train", "lr", &C::lr),
        setting("train", "lr_batch_size", &C::lr_batch_size),
        setting("train", "accumulate", &C::accumulate),
        setting("train", "schedule_unit", &C::schedule_unit),
        setting("train", "warmup_steps", &C::warmup_steps),
        setting("train", "lr_schedule", &C::lr_schedule),
        setting("train", "weight_decay", &C::weight_decay),
        setting("train", "grad_clip", &C::grad_clip),
        setting("train", "ema_start", &C::ema_start),
        setting("train", "ema_end", &C::ema_end),
        setting("train", "ema_ramp_steps", &C::ema_ramp_steps),
        setting("train", "seed", &C::seed),
        setting("train", "log_every", &C::log_every),
        setting("train", "val_every", &C::val_every),
        setting("train", "checkpoint_every", &C::checkpoint_every),
        setting("train", "threads", &C::threads),
        setting("train", "precision", &C::precision),
        setting("sample", "solver", &C::solver),
        setting("sample", "steps", &C::sample_steps),
        setting("sample", "rtol", &C::rtol),
        setting("sample", "atol", &C::atol),
        setting("sample", "val_samples", &C::val_samples),
        setting("sample", "val_render_points", &C::val_render_points),
    });
    return s;
}

}  // namespace

void TrainConfig::validate() const {
    auto bad = [](const std::string& key, const std::string& expected) { throw ConfigError(key + ": expected " + expected); };
    if (!(val_fraction >= 0 && val_fraction < 1)) bad("data.val_fraction", "a value in [0, 1)");
    if (max_val_shapes < 1) bad("data.max_val_shapes", ">= 1");
    if (width < 1 || width > 16384 || heads < 1 || heads > 1024 || width % heads != 0)
        bad("model.width", "a multiple of model.heads, up to 16384 (heads up to 1024)");
    if (depth < 1 || depth > 1024) bad("model.depth", "1..1024");
    if (time_channels < 2 || time_channels > 16384 || time_channels % 2) bad("model.time_channels", "an even number in 2..16384");
    if (context_dim < 1 || context_dim > 65536) bad("model.context_dim", "1..65536");
    if (!(cond_dropout >= 0 && cond_dropout < 1)) bad("model.cond_dropout", "a value in [0, 1)");
    if (!(edm_p_std > 0) || !(edm_sigma_data > 0)) bad("objective.edm_p_std/edm_sigma_data", "> 0");
    if (steps < 1) bad("train.steps", ">= 1");
    if (time_limit_minutes < 0) bad("train.time_limit_minutes", ">= 0");
    if (batch_size < 1) bad("train.batch_size", ">= 1");
    if (!(lr > 0)) bad("train.lr", "> 0");
    if (lr_batch_size < 1) bad("train.lr_batch_size", ">= 1");
    if (accumulate < 1 || accumulate > 4096) bad("train.accumulate", "1..4096");
    if (warmup_steps < 0) bad("train.warmup_steps", ">= 0");
    if (weight_decay < 0) bad("train.weight_decay", ">= 0");
    if (!(grad_clip > 0)) bad("train.grad_clip", "> 0");
    if (!(ema_start >= 0 && ema_start <= ema_end && ema_end < 1)) bad("train.ema_start/ema_end", "0 <= start <= end < 1");
    if (ema_ramp_steps < 0) bad("train.ema_ramp_steps", ">= 0");
    if (log_every < 1 || val_every < 1 || checkpoint_every < 1) bad("train.log_every/val_every/checkpoint_every", ">= 1");
    if (threads < 0) bad("train.threads", ">= 0");
    if (sample_steps < 1) bad("sample.steps", ">= 1");
    if (!(rtol > 0 && atol > 0)) bad("sample.rtol/atol", "> 0");
    if (val_samples < 0) bad("sample.val_samples", ">= 0");
    if (val_render_points < 100) bad("sample.val_render_points", ">= 100");
}

std::string TrainConfig::to_yaml() const {
    YAML::Emitter out;
    out.SetDoublePrecision(17);
    out << YAML::BeginMap;
    std::string current;
    for (const auto& f : schema().settings()) {
        if (current != f.section) {
            if (!current.empty()) out << YAML::EndMap;
            current = f.section;
            out << YAML::Key << current << YAML::Value << YAML::BeginMap;
        }
        out << YAML::Key << f.key << YAML::Value;
        std::visit([&](const auto& v) { out << v; }, f.write(*this));
    }
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

TrainConfig parse_train_config(const std::string& text, const std::string& what, const std::string& base_dir) {
    TrainConfig c;
    schema().read(c, text, config::Source{what, base_dir});
    try {
        c.validate();
    } catch (const ConfigError& e) {
        throw ConfigError(what + ": " + e.what());
    }
    return c;
}

TrainConfig load_train_config(const std::string& path) {
    return parse_train_config(config::read_config_file(path), path, config::config_folder(path));
}

void use_paper_recipe(TrainConfig& c) {
    c.anchor_order = AnchorOrder::kNone;
    c.ot_pairs = OtPairs::kWithReplacement;
    c.prediction = Prediction::kVelocity;
    c.time_sampling = TimeSampling::kUniform;
    c.lr_schedule = LrSchedule::kConstant;
}

void apply_train_override(TrainConfig& c, const std::string& a) {
    schema().assign(c, a, "", "section.key=value (e.g. --set train.steps=100)");
    try {
        c.validate();
    } catch (const ConfigError& e) {
        throw ConfigError("--set '" + a + "': " + e.what());
    }
}

}  // namespace mash::models
