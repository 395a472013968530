// SPDX-License-Identifier: MIT
// The `mash` command-line tool: one executable, one subcommand per job.
#include <CLI/CLI.hpp>

#include "mash/core/runtime.h"
#include "scripts/commands.h"

int main(int argc, char** argv) {
    mash::init_runtime(0);  // malloc tuning first; threads are set again from --threads
    using namespace mash::cli;
    CLI::App app{"mash — Masked Anchored SpHerical Distances: fit, sample, mesh and generate 3D shapes"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "mash 0.1.0");

    InfoArgs info;
    auto* c_info = app.add_subcommand("info", "Summarize a MASH file (.npz or original .npy)");
    c_info->add_option("file", info.input, "MASH file")->required();
    c_info->add_flag("--json", info.json, "Print the summary as JSON");
    add_global_flags(*c_info, info.global);

    SampleArgs sample;
    auto* c_sample = app.add_subcommand("sample", "Sample a MASH into a point cloud");
    c_sample->add_option("file", sample.input, "MASH file")->required();
    c_sample->add_option("-o,--output", sample.output, "Output point cloud (.ply .pcd .xyz .pts .npy)")->required();
    c_sample->add_option("-n,--num-points", sample.num_points,
                         "Farthest-point subsample to N points (default: all sampled points)")
        ->check(CLI::NonNegativeNumber);
    c_sample->add_option("--directions", sample.num_directions, "Fibonacci directions per anchor (default 1000)")
        ->check(CLI::NonNegativeNumber);
    c_sample->add_option("--boundary", sample.num_boundary, "Boundary samples per anchor (default 90)")
        ->check(CLI::NonNegativeNumber);
    c_sample->add_flag("--no-fps", sample.no_fps, "Keep all in-mask rays (skip the per-anchor 0.8 FPS)");
    add_global_flags(*c_sample, sample.global);

    FitArgs fit;
    auto* c_fit = app.add_subcommand("fit", "Fit a MASH to a mesh or point cloud");
    c_fit->add_option("input", fit.input,
                      "Mesh (.obj .off .ply .stl .glb .gltf) or point cloud (.ply .xyz .pts .pcd .off .npy .npz)")
        ->required();
    c_fit->add_option("-o,--output", fit.output, "Output MASH file (.npz; .npy = original pickled layout)")->required();
    c_fit->add_option("--config", fit.config, "YAML file with a 'fit:' section of overrides (configs/fit/*.yaml)");
    c_fit->add_option("--set", fit.set, "Override one option: key=value (repeatable), e.g. --set lr=1e-3");
    c_fit->add_option("--anchors", fit.anchors, "Number of anchors (default 400, from the config)");
    c_fit->add_option("--points-out", fit.points_out, "Also write the fitted MASH's sample points (.ply ...)");
    c_fit->add_option("--report", fit.report, "Write a JSON report (time, steps, losses, L1/L2-CD, F-score)");
    c_fit->add_option("--plot", fit.plot, "Write the loss curve as a PNG");
    c_fit->add_option("--seed", fit.seed, "Random seed (surface sampling, subsampling)")->capture_default_str();
    add_global_flags(*c_fit, fit.global);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (c_info->parsed()) return guarded([&] { return run_info(info); });
    if (c_sample->parsed()) return guarded([&] { return run_sample(sample); });
    if (c_fit->parsed()) return guarded([&] { return run_fit(fit); });
    return 2;
}
