// SPDX-License-Identifier: MIT
// `mash info` and `mash sample`.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "mash/core/errors.h"
#include "mash/io/geometry_io.h"
#include "mash/io/mash_file.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"
#include "scripts/cli/commands.h"

namespace mash::cli {
namespace {

struct Range {
    double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
    void add(double v) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
};

Range range_of(const std::vector<double>& v, int64_t stride = 1, int64_t col = -1) {
    Range r;
    for (size_t i = 0; i < v.size(); ++i)
        if (col < 0 || int64_t(i) % stride == col) r.add(v[i]);
    return r;
}

c10::TensorOptions tensor_options(const std::string& device) {
    return at::TensorOptions().dtype(at::kDouble).device(device == "cuda" ? at::kCUDA : at::kCPU);
}

}  // namespace

int run_info(const InfoArgs& args) {
    const std::string device = apply_global_flags(args.global);
    MashParams p = io::load_mash(args.input);
    MashOptions defaults;
    Mash mash = make_mash(p, defaults, tensor_options(device));
    MashSamples s;
    {
        at::NoGradGuard no_grad;
        s = mash->forward(true);
    }
    const int64_t nb = s.boundary_points.size(0), ni = s.inner_points.size(0);
    const int64_t pre_fps = s.inner_counts.sum().item<int64_t>();
    Range angle;
    for (int64_t a = 0; a < p.num_anchors; ++a) {
        const double* r = &p.rotate_vectors[3 * a];
        angle.add(std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]));
    }
    Range mask = range_of(p.mask_params), shr = range_of(p.sh_params), c0 = range_of(p.sh_params, p.sh_dim(), 0);
    Range px = range_of(p.positions, 3, 0), py = range_of(p.positions, 3, 1), pz = range_of(p.positions, 3, 2);
    const int64_t bad_rho = p.count_nonpositive_rho();
    if (args.json) {
        std::printf(
            "{\"file\": \"%s\", \"anchors\": %ld, \"mask_degree\": %ld, \"sh_degree\": %ld, \"use_inv\": %s, "
            "\"params_per_anchor\": %ld, \"mask_params_range\": [%.9g, %.9g], \"sh_params_range\": [%.9g, %.9g], "
            "\"c0_range\": [%.9g, %.9g], \"rotation_angle_range\": [%.9g, %.9g], "
            "\"positions_min\": [%.9g, %.9g, %.9g], \"positions_max\": [%.9g, %.9g, %.9g], "
            "\"anchors_nonpositive_rho\": %ld, \"sample_points\": {\"boundary\": %ld, \"inner_before_fps\": %ld, "
            "\"inner\": %ld, \"total\": %ld, \"directions\": %ld, \"boundary_per_anchor\": %ld, \"fps_scale\": %g}}\n",
            args.input.c_str(), long(p.num_anchors), long(p.mask_degree), long(p.sh_degree), p.use_inverse ? "true" : "false",
            long(p.mask_dim() + p.sh_dim() + 6), mask.lo, mask.hi, shr.lo, shr.hi, c0.lo, c0.hi, angle.lo, angle.hi, px.lo, py.lo,
            pz.lo, px.hi, py.hi, pz.hi, long(bad_rho), long(nb), long(pre_fps), long(ni), long(nb + ni),
            long(defaults.num_directions), long(defaults.num_boundary), defaults.fps_scale);
        return 0;
    }
    std::printf("file:              %s\n", args.input.c_str());
    std::printf("anchors (A):       %ld\n", long(p.num_anchors));
    std::printf("mask degree (K):   %ld  (%ld mask params per anchor)\n", long(p.mask_degree), long(p.mask_dim()));
    std::printf("SH degree (L):     %ld  (%ld SH coefficients per anchor)\n", long(p.sh_degree), long(p.sh_dim()));
    std::printf("use_inv:           %s\n", p.use_inverse ? "true" : "false");
    std::printf("params per anchor: %ld (axis-angle), %ld numbers in total\n", long(p.mask_dim() + p.sh_dim() + 6),
                long(p.num_anchors * (p.mask_dim() + p.sh_dim() + 6)));
    std::printf("mask_params:       [%.6g, %.6g]\n", mask.lo, mask.hi);
    std::printf("sh_params:         [%.6g, %.6g]   c0: [%.6g, %.6g]\n", shr.lo, shr.hi, c0.lo, c0.hi);
    std::printf("rotation angle:    [%.6g, %.6g] rad\n", angle.lo, angle.hi);
    std::printf("positions bbox:    min (%.6g, %.6g, %.6g)  max (%.6g, %.6g, %.6g)\n", px.lo, py.lo, pz.lo, px.hi, py.hi, pz.hi);
    if (bad_rho > 0)
        std::printf("warning:           %ld anchors have c0 <= 0 (inversion radius clamped to 1e-9)\n", long(bad_rho));
    std::printf(
        "sample points:     %ld = %ld boundary + %ld inner (%ld in-mask rays before FPS; N=%ld, B=%ld, "
        "fps %.2f)\n",
        long(nb + ni), long(nb), long(ni), long(pre_fps), long(defaults.num_directions), long(defaults.num_boundary),
        defaults.fps_scale);
    return 0;
}

int run_sample(const SampleArgs& args) {
    const std::string device = apply_global_flags(args.global);
    if (!io::is_point_output_ext(args.output))
        throw IoError(args.output + ": unsupported output extension (expected .ply .pcd .xyz .xyzn .pts .npy)");
    if (!io::is_mash_file(args.input)) {
        // A mesh or point cloud: N surface samples, uniform by area (default 100000).
        io::PointCloud pc = io::load_points(args.input, args.num_points > 0 ? args.num_points : 100000, args.seed);
        if (!pc.from_mesh && args.num_points > 0 && args.num_points < pc.size()) {
            auto pts = at::from_blob(pc.points.data(), {pc.size(), 3}, at::TensorOptions().dtype(at::kDouble));
            auto sel = pts.index_select(0, ops::sampling::fps(pts, args.num_points)).contiguous();
            pc.points.assign(sel.data_ptr<double>(), sel.data_ptr<double>() + sel.numel());
            pc.normals.clear();
        }
        io::save_points(args.output, pc.points, pc.normals);
        spdlog::info("sample: wrote {} points of {} to {}", pc.size(), args.input, args.output);
        return 0;
    }
    MashParams p = io::load_mash(args.input);
    MashOptions opts;
    if (args.num_directions > 0) opts.num_directions = args.num_directions;
    if (args.num_boundary > 0) opts.num_boundary = args.num_boundary;
    Mash mash = make_mash(p, opts, tensor_options(device));
    at::NoGradGuard no_grad;
    MashSamples s = mash->forward(!args.no_fps);
    at::Tensor pts = s.points();
    const int64_t total = pts.size(0);
    if (args.num_points > 0) {
        if (args.num_points > total)
            throw InputError(args.input + ": requested " + std::to_string(args.num_points) + " points but the MASH yields " +
                             std::to_string(total) + " (raise --directions / --boundary or use --no-fps)");
        pts = pts.index_select(0, ops::sampling::fps(pts, args.num_points));
    }
    auto cpu = pts.to(at::kCPU, at::kDouble).contiguous();
    std::vector<double> flat(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
    io::save_points(args.output, flat);
    spdlog::info("sample: wrote {} points to {} (from {} sampled: {} boundary + {} inner)", cpu.size(0), args.output, total,
                 s.boundary_points.size(0), s.inner_points.size(0));
    return 0;
}

// The subcommands of this file and their options (scripts/cli/main.cpp parses and runs them).
namespace {

const Command kInfoCommand(10, [](CLI::App& app) {
    auto a = std::make_shared<InfoArgs>();
    auto* c = app.add_subcommand("info", "Summarize a MASH file (.npz or original .npy)");
    c->add_option("file", a->input, "MASH file")->required();
    c->add_flag("--json", a->json, "Print the summary as JSON");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_info(*a); }};
});

const Command kSampleCommand(20, [](CLI::App& app) {
    auto a = std::make_shared<SampleArgs>();
    auto* c = app.add_subcommand("sample", "Sample a MASH (or a mesh's surface) into a point cloud");
    c->add_option("file", a->input, "MASH file (.npz/.npy), or a mesh / point cloud")->required();
    c->add_option("--seed", a->seed, "Surface sampling seed (mesh input)")->capture_default_str();
    c->add_option("-o,--output", a->output, "Output point cloud (.ply .pcd .xyz .pts .npy)")->required();
    c->add_option("-n,--num-points", a->num_points, "Farthest-point subsample to N points (default: all sampled points)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--directions", a->num_directions, "Fibonacci directions per anchor (default 1000)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--boundary", a->num_boundary, "Boundary samples per anchor (default 90)")->check(CLI::NonNegativeNumber);
    c->add_flag("--no-fps", a->no_fps, "Keep all in-mask rays (skip the per-anchor 0.8 FPS)");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_sample(*a); }};
});

}  // namespace
}  // namespace mash::cli
