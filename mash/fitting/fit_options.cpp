// SPDX-License-Identifier: MIT
#include "mash/fitting/fit_options.h"

#include <sstream>
#include <variant>

#include "mash/core/config_reader.h"
#include "mash/core/errors.h"

namespace mash::fitting {
namespace {

const config::Schema<FitOptions>& schema() {
    using config::setting;
    using O = FitOptions;
    static const config::Schema<FitOptions> s({
        setting("fit", "num_anchors", &O::num_anchors),
        setting("fit", "mask_degree", &O::mask_degree),
        setting("fit", "sh_degree", &O::sh_degree),
        setting("fit", "num_directions", &O::num_directions),
        setting("fit", "num_boundary", &O::num_boundary),
        setting("fit", "fps_scale", &O::fps_scale),
        setting("fit", "use_inverse", &O::use_inverse),
        setting("fit", "num_gt_points", &O::num_gt_points),
        setting("fit", "surface_dist", &O::surface_dist),
        setting("fit", "normal_knn", &O::normal_knn),
        setting("fit", "lr", &O::lr),
        setting("fit", "min_lr", &O::min_lr),
        setting("fit", "weight_decay", &O::weight_decay),
        setting("fit", "warmup_steps", &O::warmup_steps),
        setting("fit", "adaptive_epochs", &O::adaptive_epochs),
        setting("fit", "lr_decay", &O::lr_decay),
        setting("fit", "patience", &O::patience),
        setting("fit", "max_epoch_steps", &O::max_epoch_steps),
        setting("fit", "max_steps", &O::max_steps),
        setting("fit", "fit_weight", &O::fit_weight),
        setting("fit", "coverage_weight_start", &O::coverage_weight_start),
        setting("fit", "boundary_weight_max", &O::boundary_weight_max),
        setting("fit", "eps", &O::eps),
        setting("fit", "surfel_radius", &O::surfel_radius),
        setting("fit", "coverage_tau", &O::coverage_tau),
        setting("fit", "fscore_tau", &O::fscore_tau),
        setting("fit", "log_every", &O::log_every),
    });
    return s;
}

void read_validated(FitOptions& options, const std::string& text, const std::string& what,
                    const std::vector<std::string>& other_sections) {
    schema().read(options, text, config::Source{what, ""}, other_sections);
    try {
        options.validate();
    } catch (const ConfigError& e) {
        throw ConfigError(what + ": " + e.what());
    }
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

void parse_fit_config(const std::string& text, const std::string& what, FitOptions& options,
                      const std::vector<std::string>& other_sections) {
    read_validated(options, text, what, other_sections);
}

void load_fit_config(const std::string& path, FitOptions& options, const std::vector<std::string>& other_sections) {
    read_validated(options, config::read_config_file(path), path, other_sections);
}

void apply_fit_override(const std::string& assignment, FitOptions& options) {
    schema().assign(options, assignment, "fit", "key=value (e.g. --set lr=1e-3)");
}

std::string fit_options_yaml(const FitOptions& o) {
    std::ostringstream os;
    os.precision(17);
    os << "fit:\n";
    for (const auto& f : schema().settings()) {
        os << "  " << f.key << ": ";
        std::visit(
            [&](const auto& v) {
                if constexpr (std::is_same_v<std::decay_t<decltype(v)>, bool>)
                    os << (v ? "true" : "false");
                else
                    os << v;
            },
            f.write(o));
        os << "\n";
    }
    return os.str();
}

std::vector<std::string> fit_option_names() {
    std::vector<std::string> n;
    for (const auto& f : schema().settings()) n.push_back(f.key);
    return n;
}

}  // namespace mash::fitting
