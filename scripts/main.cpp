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

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (c_info->parsed()) return guarded([&] { return run_info(info); });
    if (c_sample->parsed()) return guarded([&] { return run_sample(sample); });
    return 2;
}
