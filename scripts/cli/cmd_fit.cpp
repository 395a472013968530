// SPDX-License-Identifier: MIT
// `mash fit`: any mesh or point cloud → MASH file.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/fitting/fitter.h"
#include "mash/fitting/init.h"
#include "mash/fitting/pipeline.h"
#include "mash/io/geometry_io.h"
#include "mash/io/mash_file.h"
#include "mash/ops/runtime.h"
#include "mash/pictures/plot.h"
#include "mash/representation/mash.h"
#include "scripts/cli/commands.h"

namespace mash::cli {

/// Point clouds with fewer points get the surfel-distance hint (measured on 8192-point inputs).
constexpr int64_t kSparseCloudHint = 50000;
namespace fs = std::filesystem;
namespace {

void check_output_path(const std::string& path, const std::vector<std::string>& exts, const char* what) {
    if (path.empty()) return;
    std::string e = lower_extension(path);
    if (std::find(exts.begin(), exts.end(), e) == exts.end()) {
        std::string list;
        for (auto& x : exts) list += (list.empty() ? "" : " ") + x;
        throw IoError(path + ": unsupported " + what + " extension '" + e + "' (expected " + list + ")");
    }
    fs::path dir = fs::path(path).parent_path();
    if (!dir.empty() && !fs::is_directory(dir)) throw IoError(path + ": directory " + dir.string() + " does not exist");
}

std::string fmt_time(double s) {
    char b[32];
    if (s < 60)
        std::snprintf(b, sizeof b, "%.0fs", s);
    else
        std::snprintf(b, sizeof b, "%dm%02ds", int(s) / 60, int(s) % 60);
    return b;
}

}  // namespace

int run_fit(const FitArgs& args) {
    const std::string device = apply_global_flags(args.global);
    // Resolve options: defaults ← config file ← --set ← dedicated flags.
    fitting::FitOptions o;
    if (!args.config.empty()) fitting::load_fit_config(args.config, o);
    for (const auto& s : args.set) fitting::apply_fit_override(s, o);
    if (args.anchors != -1) {
        if (args.anchors < 1) throw ConfigError("--anchors " + std::to_string(args.anchors) + ": expected >= 1");
        o.num_anchors = args.anchors;
    }
    o.validate();
    // Fail fast on output paths before the long optimization.
    check_output_path(args.output, {".npz", ".npy"}, "MASH output");
    check_output_path(args.points_out, {".ply", ".pcd", ".xyz", ".xyzn", ".pts", ".npy"}, "point cloud output");
    check_output_path(args.report, {".json"}, "report");
    check_output_path(args.plot, {".png"}, "plot");
    auto t0 = std::chrono::steady_clock::now();
    spdlog::info("fit: {} → {} | A={} K={} L={}, fit distance {}, device {}, threads={}", args.input, args.output, o.num_anchors,
                 o.mask_degree, o.sh_degree,
                 o.surfel_radius > 0 ? fmt::format("surfel (radius {} × spacing)", o.surfel_radius) : "point (paper)", device,
                 ops::num_threads());
    const bool tty = isatty(fileno(stderr));
    auto on_step = [&](const fitting::FitStep& s) {
        const double eta = s.progress > 0.02 ? s.elapsed / s.progress * (1 - s.progress) : NAN;
        if (tty) {
            std::fprintf(stderr,
                         "\r\033[Kstep %4ld  %-9s loss %.3e  fit %.3e  cov %.3e  bc %.3e  covered %5.1f%%  lr %.2e  "
                         "%s  eta ~%s",
                         long(s.step), s.stage.c_str(), s.loss, s.fit, s.coverage_loss, s.boundary, 100 * s.coverage, s.lr,
                         fmt_time(s.elapsed).c_str(), std::isfinite(eta) ? fmt_time(eta).c_str() : "?");
            std::fflush(stderr);
        } else if (s.step % o.log_every == 0 || s.step == 1) {
            spdlog::info(
                "step={} stage=\"{}\" loss={:.4e} fit={:.4e} cov={:.4e} bc={:.4e} covered={:.4f} lr={:.3e} "
                "samples={} elapsed={:.1f}s",
                s.step, s.stage, s.loss, s.fit, s.coverage_loss, s.boundary, s.coverage, s.lr, s.num_samples, s.elapsed);
        }
    };
    fitting::FileFitResult ff = fitting::fit_file(args.input, o, args.seed, on_step, device);
    if (tty) std::fprintf(stderr, "\n");
    const fitting::FitResult& r = ff.fit;
    const fitting::Normalization& norm = ff.normalization;
    const MashParams& out = ff.params;
    io::save_mash(args.output, out);
    if (!args.points_out.empty()) {
        Mash m = make_mash(out, {}, at::TensorOptions().dtype(at::kDouble));
        at::NoGradGuard ng;
        auto pts = m->forward(true).points().contiguous();
        io::save_points(args.points_out, std::vector<double>(pts.data_ptr<double>(), pts.data_ptr<double>() + pts.numel()));
    }
    if (!args.plot.empty()) {
        pictures::PlotSeries total{"total loss", {}, {}, {31, 119, 180}}, fit{"fit", {}, {}, {255, 127, 14}},
            cov{"coverage", {}, {}, {44, 160, 44}}, bc{"boundary", {}, {}, {214, 39, 40}};
        for (const auto& s : r.history) {
            for (auto* ser : {&total, &fit, &cov, &bc}) ser->x.push_back(double(s.step));
            total.y.push_back(s.loss);
            fit.y.push_back(s.fit);
            cov.y.push_back(s.coverage_loss);
            bc.y.push_back(s.w_bc > 0 ? s.boundary : NAN);
        }
        pictures::PlotOptions po;
        po.title = "mash fit: " + fs::path(args.input).filename().string();
        po.y_label = "loss (log)";
        pictures::write_line_plot_png(args.plot, {total, fit, cov, bc}, po);
    }
    if (!args.report.empty()) {
        nlohmann::json j;
        j["input"] = args.input;
        j["output"] = args.output;
        j["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        j["fit_seconds"] = r.seconds;
        j["steps"] = r.steps;
        j["threads"] = ops::num_threads();
        j["device"] = device;
        j["anchors"] = o.num_anchors;
        j["input_points"] = ff.input_points;
        j["input_is_mesh"] = ff.input_is_mesh;
        j["surfel_radius"] = o.surfel_radius;
        j["final_loss"] = {{"total", r.last.loss},
                           {"fit", r.last.fit},
                           {"coverage", r.last.coverage_loss},
                           {"boundary", r.last.boundary},
                           {"covered_fraction", r.last.coverage}};
        j["metrics"] = {{"frame", "normalized (bbox longest side 0.9, centered)"},
                        {"l1_cd", r.metrics.l1_cd},
                        {"l2_cd", r.metrics.l2_cd},
                        {"fscore", r.metrics.fscore},
                        {"precision", r.metrics.precision},
                        {"recall", r.metrics.recall},
                        {"fscore_tau", r.metrics.tau}};
        j["timing_seconds"] = {{"sampling", r.time_sampling},
                               {"chamfer", r.time_chamfer},
                               {"boundary", r.time_boundary},
                               {"backward_and_step", r.time_backward}};
        j["normalization"] = {{"center", {norm.center[0], norm.center[1], norm.center[2]}}, {"scale", norm.scale}};
        j["seed"] = args.seed;
        std::string text = j.dump(2) + "\n";
        write_file_atomic(args.report, std::vector<uint8_t>(text.begin(), text.end()));
    }
    spdlog::info("fit: done in {:.1f}s, {} steps | L1-CD {:.5f}  L2-CD {:.3e}  F@{} {:.4f} (normalized frame) | wrote {}",
                 r.seconds, r.steps, r.metrics.l1_cd, r.metrics.l2_cd, r.metrics.tau, r.metrics.fscore, args.output);
    if (!ff.input_is_mesh && o.surfel_radius == 0 && ff.input_points < kSparseCloudHint)
        spdlog::info(
            "fit: hint: {} input points are a sparse cloud; --set surfel_radius=1 (configs/fit/sparse_points.yaml) "
            "fits the surface they sample more closely than the paper's point distance (README, \"Surfel fit\")",
            ff.input_points);
    return 0;
}

// The subcommands of this file and their options (scripts/cli/main.cpp parses and runs them).
namespace {

const Command kFitCommand(30, [](CLI::App& app) {
    auto a = std::make_shared<FitArgs>();
    auto* c = app.add_subcommand("fit", "Fit a MASH to a mesh or point cloud");
    c->add_option("input", a->input, "Mesh (.obj .off .ply .stl .glb .gltf) or point cloud (.ply .xyz .pts .pcd .off .npy .npz)")
        ->required();
    c->add_option("-o,--output", a->output, "Output MASH file (.npz; .npy = original pickled layout)")->required();
    c->add_option("--config", a->config, "YAML file with a 'fit:' section of overrides (configs/fit/*.yaml)");
    c->add_option("--set", a->set, "Override one option: key=value (repeatable), e.g. --set lr=1e-3");
    c->add_option("--anchors", a->anchors, "Number of anchors (default 400, from the config)");
    c->add_option("--points-out", a->points_out, "Also write the fitted MASH's sample points (.ply ...)");
    c->add_option("--report", a->report, "Write a JSON report (time, steps, losses, L1/L2-CD, F-score)");
    c->add_option("--plot", a->plot, "Write the loss curve as a PNG");
    c->add_option("--seed", a->seed, "Random seed (surface sampling, subsampling)")->capture_default_str();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_fit(*a); }};
});

}  // namespace
}  // namespace mash::cli
