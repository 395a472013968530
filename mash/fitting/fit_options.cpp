// SPDX-License-Identifier: MIT
#include "mash/fitting/fit_options.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <variant>

#include "mash/core/config_values.h"
#include "mash/core/errors.h"

namespace mash::fitting {
namespace {

using FieldPtr = std::variant<int64_t FitOptions::*, double FitOptions::*, bool FitOptions::*>;
struct Field {
    const char* name;
    FieldPtr ptr;
};

const std::vector<Field>& fields() {
    static const std::vector<Field> f = {
        {"num_anchors", &FitOptions::num_anchors},
        {"mask_degree", &FitOptions::mask_degree},
        {"sh_degree", &FitOptions::sh_degree},
        {"num_directions", &FitOptions::num_directions},
        {"num_boundary", &FitOptions::num_boundary},
        {"fps_scale", &FitOptions::fps_scale},
        {"use_inverse", &FitOptions::use_inverse},
        {"num_gt_points", &FitOptions::num_gt_points},
        {"surface_dist", &FitOptions::surface_dist},
        {"normal_knn", &FitOptions::normal_knn},
        {"lr", &FitOptions::lr},
        {"min_lr", &FitOptions::min_lr},
        {"weight_decay", &FitOptions::weight_decay},
        {"warmup_steps", &FitOptions::warmup_steps},
        {"adaptive_epochs", &FitOptions::adaptive_epochs},
        {"lr_decay", &FitOptions::lr_decay},
        {"patience", &FitOptions::patience},
        {"max_epoch_steps", &FitOptions::max_epoch_steps},
        {"max_steps", &FitOptions::max_steps},
        {"fit_weight", &FitOptions::fit_weight},
        {"coverage_weight_start", &FitOptions::coverage_weight_start},
        {"boundary_weight_max", &FitOptions::boundary_weight_max},
        {"eps", &FitOptions::eps},
        {"surfel_radius", &FitOptions::surfel_radius},
        {"coverage_tau", &FitOptions::coverage_tau},
        {"fscore_tau", &FitOptions::fscore_tau},
        {"log_every", &FitOptions::log_every},
    };
    return f;
}

std::string valid_keys() {
    std::string s;
    for (const auto& f : fields()) s += (s.empty() ? "" : ", ") + std::string(f.name);
    return s;
}

void set_field(FitOptions& o, const std::string& key, const std::string& value, const std::string& where) {
    for (const auto& f : fields()) {
        if (key != f.name) continue;
        const std::string name = "fit." + key;
        std::visit(
            [&](auto ptr) {
                using T = std::decay_t<decltype(o.*ptr)>;
                if constexpr (std::is_same_v<T, bool>)
                    o.*ptr = config::parse_bool(value, name, where);
                else if constexpr (std::is_same_v<T, int64_t>)
                    o.*ptr = config::parse_int(value, name, where);
                else
                    o.*ptr = config::parse_number(value, name, where);
            },
            f.ptr);
        return;
    }
    throw ConfigError(where + ": unknown key 'fit." + key + "' (valid keys: " + valid_keys() + ")");
}

}  // namespace

void FitOptions::validate() const {
    auto bad = [](const std::string& key, const std::string& expected) {
        throw ConfigError("fit." + key + ": expected " + expected);
    };
    if (num_anchors < 1) bad("num_anchors", ">= 1");
    if (mask_degree < 0 || mask_degree > 10) bad("mask_degree", "0..10");
    if (sh_degree < 0 || sh_degree > 6) bad("sh_degree", "0..6");
    if (num_directions < 8) bad("num_directions", ">= 8");
    if (num_boundary < 3) bad("num_boundary", ">= 3");
    if (!(fps_scale > 0 && fps_scale <= 1)) bad("fps_scale", "in (0, 1]");
    if (num_gt_points < 100) bad("num_gt_points", ">= 100");
    if (!(surface_dist > 0)) bad("surface_dist", "> 0");
    if (normal_knn < 3) bad("normal_knn", ">= 3");
    if (!(lr > 0) || !(min_lr > 0) || min_lr > lr) bad("lr/min_lr", "0 < min_lr <= lr");
    if (weight_decay < 0) bad("weight_decay", ">= 0");
    if (warmup_steps < 0) bad("warmup_steps", ">= 0");
    if (adaptive_epochs < 1) bad("adaptive_epochs", ">= 1");
    if (!(lr_decay > 0 && lr_decay < 1)) bad("lr_decay", "in (0, 1)");
    if (patience < 1) bad("patience", ">= 1");
    if (max_epoch_steps < 1) bad("max_epoch_steps", ">= 1");
    if (max_steps < 1) bad("max_steps", ">= 1");
    if (fit_weight < 0 || coverage_weight_start < 0 || boundary_weight_max < 0) bad("*_weight*", ">= 0");
    if (!(eps > 0)) bad("eps", "> 0");
    if (!(surfel_radius >= 0 && surfel_radius <= 100)) bad("surfel_radius", "in [0, 100] (0: point distance)");
    if (!(coverage_tau > 0) || !(fscore_tau > 0)) bad("coverage_tau/fscore_tau", "> 0");
    if (log_every < 1) bad("log_every", ">= 1");
}

namespace {
/// A mapping key as text; keys that are not scalars are config errors, not YAML exceptions.
std::string key_text(const YAML::Node& key, const std::string& what) {
    if (!key.IsScalar()) throw ConfigError(what + ": a mapping key is not a plain name (expected key: value)");
    return key.Scalar();
}

void apply_fit_root(const YAML::Node& root, const std::string& what, FitOptions& options,
                    const std::vector<std::string>& other_sections) {
    if (root.IsNull()) return;
    if (!root.IsMap()) throw ConfigError(what + ": expected a mapping with a 'fit' section");
    for (const auto& kv : root) {
        const std::string section = key_text(kv.first, what);
        if (std::find(other_sections.begin(), other_sections.end(), section) != other_sections.end()) continue;
        if (section != "fit") {
            std::string expected = "'fit'";
            for (const auto& o : other_sections) expected += ", '" + o + "'";
            throw ConfigError(what + ": unknown section '" + section + "' (expected " + expected + ")");
        }
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap()) throw ConfigError(what + ": section 'fit' must be a mapping");
        for (const auto& f : kv.second) {
            const std::string key = key_text(f.first, what);
            if (!f.second.IsScalar()) throw ConfigError(what + ": fit." + key + " must be a scalar");
            set_field(options, key, f.second.Scalar(), what);
        }
    }
    try {
        options.validate();
    } catch (const ConfigError& e) {
        throw ConfigError(what + ": " + e.what());
    }
}
}  // namespace

void parse_fit_config(const std::string& text, const std::string& what, FitOptions& options,
                      const std::vector<std::string>& other_sections) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(what + ": invalid YAML: " + e.what());
    }
    apply_fit_root(root, what, options, other_sections);
}

void load_fit_config(const std::string& path, FitOptions& options, const std::vector<std::string>& other_sections) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw ConfigError(path + ": cannot open config file");
    } catch (const YAML::Exception& e) {
        throw ConfigError(path + ": invalid YAML: " + e.what());
    }
    apply_fit_root(root, path, options, other_sections);
}

void apply_fit_override(const std::string& assignment, FitOptions& options) {
    auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
        throw ConfigError("--set '" + assignment + "': expected key=value (e.g. --set lr=1e-3)");
    std::string key = assignment.substr(0, eq);
    if (key.rfind("fit.", 0) == 0) key = key.substr(4);
    set_field(options, key, assignment.substr(eq + 1), "--set");
}

std::string fit_options_yaml(const FitOptions& o) {
    std::ostringstream os;
    os.precision(17);
    os << "fit:\n";
    for (const auto& f : fields()) {
        os << "  " << f.name << ": ";
        std::visit(
            [&](auto ptr) {
                using T = std::decay_t<decltype(o.*ptr)>;
                if constexpr (std::is_same_v<T, bool>)
                    os << (o.*ptr ? "true" : "false");
                else
                    os << o.*ptr;
            },
            f.ptr);
        os << "\n";
    }
    return os.str();
}

std::vector<std::string> fit_option_names() {
    std::vector<std::string> n;
    for (const auto& f : fields()) n.push_back(f.name);
    return n;
}

}  // namespace mash::fitting
