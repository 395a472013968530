// SPDX-License-Identifier: MIT
#include "models/train_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "mash/core/config_values.h"
#include "mash/core/errors.h"

namespace mash::models {
namespace {

using Ptr = std::variant<int64_t TrainConfig::*, uint64_t TrainConfig::*, double TrainConfig::*, bool TrainConfig::*,
                         std::string TrainConfig::*>;
struct Field {
    const char* section;
    const char* key;
    Ptr ptr;
    bool path = false;  ///< resolved against the config's folder
};

const std::vector<Field>& fields() {
    using C = TrainConfig;
    static const std::vector<Field> f = {
        {"data", "root", &C::data_root, true},
        {"data", "val_fraction", &C::val_fraction},
        {"data", "max_val_shapes", &C::max_val_shapes},
        {"data", "normalize", &C::normalize},
        {"data", "order", &C::order},
        {"data", "categories", &C::categories},
        {"data", "image_root", &C::image_root, true},
        {"data", "feature_cache", &C::feature_cache, true},
        {"data", "image_alpha", &C::image_alpha},
        {"data", "image_features", &C::image_features},
        {"data", "feature_dtype", &C::feature_dtype},
        {"model", "width", &C::width},
        {"model", "depth", &C::depth},
        {"model", "heads", &C::heads},
        {"model", "time_channels", &C::time_channels},
        {"model", "context_dim", &C::context_dim},
        {"model", "condition", &C::condition},
        {"model", "cond_dropout", &C::cond_dropout},
        {"model", "encoder", &C::encoder, true},
        {"model", "image_dim", &C::image_dim},
        {"model", "encoder_dtype", &C::encoder_dtype},
        {"model", "image_projection", &C::image_projection},
        {"model", "anchor_order", &C::anchor_order},
        {"objective", "type", &C::objective},
        {"objective", "completion_trick", &C::completion_trick},
        {"objective", "ot_pairs", &C::ot_pairs},
        {"objective", "time_sampling", &C::time_sampling},
        {"objective", "prediction", &C::prediction},
        {"objective", "edm_p_mean", &C::edm_p_mean},
        {"objective", "edm_p_std", &C::edm_p_std},
        {"objective", "edm_sigma_data", &C::edm_sigma_data},
        {"train", "steps", &C::steps},
        {"train", "time_limit_minutes", &C::time_limit_minutes},
        {"train", "batch_size", &C::batch_size},
        {"train", "lr", &C::lr},
        {"train", "lr_batch_size", &C::lr_batch_size},
        {"train", "accumulate", &C::accumulate},
        {"train", "schedule_unit", &C::schedule_unit},
        {"train", "warmup_steps", &C::warmup_steps},
        {"train", "lr_schedule", &C::lr_schedule},
        {"train", "weight_decay", &C::weight_decay},
        {"train", "grad_clip", &C::grad_clip},
        {"train", "ema_start", &C::ema_start},
        {"train", "ema_end", &C::ema_end},
        {"train", "ema_ramp_steps", &C::ema_ramp_steps},
        {"train", "seed", &C::seed},
        {"train", "log_every", &C::log_every},
        {"train", "val_every", &C::val_every},
        {"train", "checkpoint_every", &C::checkpoint_every},
        {"train", "threads", &C::threads},
        {"train", "precision", &C::precision},
        {"sample", "solver", &C::solver},
        {"sample", "steps", &C::sample_steps},
        {"sample", "rtol", &C::rtol},
        {"sample", "atol", &C::atol},
        {"sample", "val_samples", &C::val_samples},
        {"sample", "val_render_points", &C::val_render_points},
    };
    return f;
}

std::string keys_of(const std::string& section) {
    std::string s;
    for (const auto& f : fields())
        if (section == f.section) s += (s.empty() ? "" : ", ") + std::string(f.key);
    return s;
}

void set_field(TrainConfig& c, const std::string& section, const std::string& key, const std::string& value,
               const std::string& where, const std::string& base_dir) {
    for (const auto& f : fields()) {
        if (section != f.section || key != f.key) continue;
        const std::string name = section + "." + key;
        std::visit(
            [&](auto ptr) {
                using T = std::decay_t<decltype(c.*ptr)>;
                if constexpr (std::is_same_v<T, bool>) {
                    c.*ptr = config::parse_bool(value, name, where);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    std::string v = value;
                    if (f.path && !v.empty() && !base_dir.empty() && std::filesystem::path(v).is_relative())
                        v = (std::filesystem::path(base_dir) / v).lexically_normal().string();
                    c.*ptr = v;
                } else if constexpr (std::is_same_v<T, double>) {
                    c.*ptr = config::parse_number(value, name, where);
                } else if constexpr (std::is_unsigned_v<T>) {
                    c.*ptr = config::parse_uint(value, name, where);
                } else {
                    c.*ptr = config::parse_int(value, name, where);
                }
            },
            f.ptr);
        return;
    }
    bool known_section = !keys_of(section).empty();
    if (!known_section)
        throw ConfigError(where + ": unknown section '" + section + "' (expected data, model, objective, train, sample)");
    throw ConfigError(where + ": unknown key '" + section + "." + key + "' (valid keys: " + keys_of(section) + ")");
}

}  // namespace

void TrainConfig::validate() const {
    auto bad = [](const std::string& key, const std::string& expected) { throw ConfigError(key + ": expected " + expected); };
    if (!(val_fraction >= 0 && val_fraction < 1)) bad("data.val_fraction", "a value in [0, 1)");
    if (normalize != "box" && normalize != "none") bad("data.normalize", "box or none");
    if (order != "iid" && order != "epochs") bad("data.order", "iid or epochs");
    if (categories != "dataset" && categories != "shapenet55") bad("data.categories", "dataset or shapenet55");
    if (max_val_shapes < 1) bad("data.max_val_shapes", ">= 1");
    if (width < 1 || width > 16384 || heads < 1 || heads > 1024 || width % heads != 0)
        bad("model.width", "a multiple of model.heads, up to 16384 (heads up to 1024)");
    if (depth < 1 || depth > 1024) bad("model.depth", "1..1024");
    if (time_channels < 2 || time_channels > 16384 || time_channels % 2) bad("model.time_channels", "an even number in 2..16384");
    if (context_dim < 1 || context_dim > 65536) bad("model.context_dim", "1..65536");
    if (condition != "none" && condition != "category" && condition != "image") bad("model.condition", "none, category or image");
    if (!(cond_dropout >= 0 && cond_dropout < 1)) bad("model.cond_dropout", "a value in [0, 1)");
    if (image_projection != "linear" && image_projection != "none") bad("model.image_projection", "linear or none");
    if (image_alpha != "drop" && image_alpha != "white") bad("data.image_alpha", "drop or white");
    if (image_features != "ram" && image_features != "disk") bad("data.image_features", "ram or disk");
    if (feature_dtype != "float32" && feature_dtype != "float16") bad("data.feature_dtype", "float32 or float16");
    if (encoder_dtype != "float32" && encoder_dtype != "bfloat16" && encoder_dtype != "float16")
        bad("model.encoder_dtype", "float32, bfloat16 or float16");
    if (objective != "flow_matching" && objective != "edm") bad("objective.type", "flow_matching or edm");
    if (anchor_order != "none" && anchor_order != "canonical") bad("model.anchor_order", "none or canonical");
    if (lr_schedule != "constant" && lr_schedule != "cosine") bad("train.lr_schedule", "constant or cosine");
    if (prediction != "velocity" && prediction != "data") bad("objective.prediction", "velocity or data");
    if (time_sampling != "uniform" && time_sampling != "logit_normal") bad("objective.time_sampling", "uniform or logit_normal");
    if (ot_pairs != "with_replacement" && ot_pairs != "permutation") bad("objective.ot_pairs", "with_replacement or permutation");
    if (!(edm_p_std > 0) || !(edm_sigma_data > 0)) bad("objective.edm_p_std/edm_sigma_data", "> 0");
    if (steps < 1) bad("train.steps", ">= 1");
    if (time_limit_minutes < 0) bad("train.time_limit_minutes", ">= 0");
    if (batch_size < 1) bad("train.batch_size", ">= 1");
    if (!(lr > 0)) bad("train.lr", "> 0");
    if (lr_batch_size < 1) bad("train.lr_batch_size", ">= 1");
    if (accumulate < 1 || accumulate > 4096) bad("train.accumulate", "1..4096");
    if (schedule_unit != "steps" && schedule_unit != "micro_batches") bad("train.schedule_unit", "steps or micro_batches");
    if (warmup_steps < 0) bad("train.warmup_steps", ">= 0");
    if (weight_decay < 0) bad("train.weight_decay", ">= 0");
    if (!(grad_clip > 0)) bad("train.grad_clip", "> 0");
    if (!(ema_start >= 0 && ema_start <= ema_end && ema_end < 1)) bad("train.ema_start/ema_end", "0 <= start <= end < 1");
    if (ema_ramp_steps < 0) bad("train.ema_ramp_steps", ">= 0");
    if (log_every < 1 || val_every < 1 || checkpoint_every < 1) bad("train.log_every/val_every/checkpoint_every", ">= 1");
    if (threads < 0) bad("train.threads", ">= 0");
    if (precision != "fp32" && precision != "bf16") bad("train.precision", "fp32 or bf16");
    if (solver != "euler" && solver != "heun" && solver != "dopri5") bad("sample.solver", "euler, heun or dopri5");
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
    for (const auto& f : fields()) {
        if (current != f.section) {
            if (!current.empty()) out << YAML::EndMap;
            current = f.section;
            out << YAML::Key << current << YAML::Value << YAML::BeginMap;
        }
        out << YAML::Key << f.key << YAML::Value;
        std::visit([&](auto ptr) { out << this->*ptr; }, f.ptr);
    }
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

TrainConfig parse_train_config(const std::string& text, const std::string& what, const std::string& base_dir) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(what + ": invalid YAML: " + e.what());
    }
    TrainConfig c;
    if (root.IsNull()) return c;
    if (!root.IsMap()) throw ConfigError(what + ": expected a mapping of sections (data, model, objective, train, sample)");
    for (const auto& sec : root) {
        if (!sec.first.IsScalar()) throw ConfigError(what + ": a section name is not a plain name (expected section: mapping)");
        const auto section = sec.first.Scalar();
        if (keys_of(section).empty())
            throw ConfigError(what + ": unknown section '" + section + "' (expected data, model, objective, train, sample)");
        if (sec.second.IsNull()) continue;
        if (!sec.second.IsMap()) throw ConfigError(what + ": section '" + section + "' must be a mapping");
        for (const auto& kv : sec.second) {
            if (!kv.first.IsScalar())
                throw ConfigError(what + ": " + section + ": a key is not a plain name (expected key: value)");
            const auto key = kv.first.Scalar();
            if (!kv.second.IsScalar() && !kv.second.IsNull())
                throw ConfigError(what + ": " + section + "." + key + " must be a scalar");
            set_field(c, section, key, kv.second.IsNull() ? "" : kv.second.Scalar(), what, base_dir);
        }
    }
    try {
        c.validate();
    } catch (const ConfigError& e) {
        throw ConfigError(what + ": " + e.what());
    }
    return c;
}

TrainConfig load_train_config(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError(path + ": cannot open config file");
    std::stringstream ss;
    ss << in.rdbuf();
    auto base = std::filesystem::absolute(path).parent_path().string();
    return parse_train_config(ss.str(), path, base);
}

void use_paper_recipe(TrainConfig& c) {
    c.anchor_order = "none";
    c.ot_pairs = "with_replacement";
    c.prediction = "velocity";
    c.time_sampling = "uniform";
    c.lr_schedule = "constant";
}

void apply_train_override(TrainConfig& c, const std::string& a) {
    auto eq = a.find('='), dot = a.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq)
        throw ConfigError("--set '" + a + "': expected section.key=value (e.g. --set train.steps=100)");
    set_field(c, a.substr(0, dot), a.substr(dot + 1, eq - dot - 1), a.substr(eq + 1), "--set", "");
    try {
        c.validate();
    } catch (const ConfigError& e) {
        throw ConfigError("--set '" + a + "': " + e.what());
    }
}

}  // namespace mash::models
