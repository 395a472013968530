// SPDX-License-Identifier: MIT
// Subcommand argument structs and entry points (torch-free header; implemented in cmd_*.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "scripts/common/cli.h"

namespace mash::cli {

struct InfoArgs {
    GlobalOptions global;
    std::string input;
    bool json = false;
};
int run_info(const InfoArgs& args);

struct SampleArgs {
    GlobalOptions global;
    std::string input;
    std::string output;
    int64_t num_points = 0;       ///< 0 = all sampled points; else FPS down to this many
    int64_t num_directions = 0;   ///< 0 = MashOptions default (N)
    int64_t num_boundary = 0;     ///< 0 = MashOptions default (B)
    bool no_fps = false;          ///< keep every in-mask ray (skip the per-anchor 0.8 FPS)
    uint64_t seed = 0;            ///< surface sampling seed (mesh input)
};
int run_sample(const SampleArgs& args);

struct FitArgs {
    GlobalOptions global;
    std::string input;
    std::string output;
    std::string config;
    std::vector<std::string> set;
    int64_t anchors = -1;  ///< -1 = from config
    std::string points_out;
    std::string report;
    std::string plot;
    uint64_t seed = 0;
};
int run_fit(const FitArgs& args);

struct MeshArgs {
    GlobalOptions global;
    std::string input, output;
    int depth = 8;
    double trim = 0.0;
    bool from_points = false;
    int64_t num_points = 0;
    int64_t grid_phi = 24, grid_theta = 16;
};
int run_mesh(const MeshArgs& args);

struct EvalArgs {
    GlobalOptions global;
    std::string pred, gt, json;
    int64_t num_points = 100000;
    std::string normalize = "bbox";
    std::string tau = "0.01";
};
int run_eval(const EvalArgs& args);

struct RenderArgs {
    GlobalOptions global;
    std::vector<std::string> inputs;
    std::string output;
    int views = 4;
    int columns = 1;  ///< with several inputs: strips arranged in this many columns
    std::string size = "480x480";
};
int run_render(const RenderArgs& args);

struct DatasetArgs {
    GlobalOptions global;
    std::string input, output;
    std::string layout = "flat";
    bool layout_given = false;
    std::string config;
    std::vector<std::string> set;
    int workers = 0;  ///< 0 = from config, else 1
    std::string shard;
    int64_t shard_count = 0;
    int64_t limit = 0;
    std::string categories;
    std::string ids;
    uint64_t seed = 0;
    bool merge = false;
    std::string worker;  ///< internal: "w/K" for a worker process
};
/// argv: the full command line (re-executed for worker processes).
int run_fit_dataset(const DatasetArgs& args, const std::vector<std::string>& argv);

}  // namespace mash::cli
