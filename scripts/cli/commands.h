// SPDX-License-Identifier: MIT
// Subcommand argument structs and entry points (torch-free header; implemented in cmd_*.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mash/mesh/extract.h"
#include "scripts/cli/common.h"

namespace mash::cli {

/// A parsed subcommand and how to run it (`run` receives the whole command line).
struct Runner {
    CLI::App* command = nullptr;
    std::function<int(const std::vector<std::string>& argv)> run;
};

/// A subcommand that registers itself: a static `const Command` next to its run function in
/// cmd_*.cpp, whose `add` adds the subcommand and its options to the program and returns its
/// runner. `order` sorts the commands in `mash --help`.
struct Command {
    Command(int order, std::function<Runner(CLI::App&)> add);
    int order;
    std::function<Runner(CLI::App&)> add;
};
/// Every registered command, by order.
std::vector<const Command*> commands();

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
    int64_t num_points = 0;      ///< 0 = all sampled points; else FPS down to this many
    int64_t num_directions = 0;  ///< 0 = MashOptions default (N)
    int64_t num_boundary = 0;    ///< 0 = MashOptions default (B)
    bool no_fps = false;         ///< keep every in-mask ray (skip the per-anchor 0.8 FPS)
    uint64_t seed = 0;           ///< surface sampling seed (mesh input)
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
    int depth = mash::mesh::PoissonOptions{}.depth;
    double trim = 0.0;
    double thin_offset = mash::mesh::PoissonOptions{}.thin_offset_voxels;
    double open_membrane = mash::mesh::PoissonOptions{}.open_membrane;
    double cell_voxels = mash::mesh::PoissonOptions{}.cell_voxels;
    bool from_points = false;
    int64_t num_points = 0;
    int64_t grid_phi = mash::mesh::MashSurfaceOptions{}.grid_phi, grid_theta = mash::mesh::MashSurfaceOptions{}.grid_theta;
    std::string orient = "winding";
    std::string normals = mash::mesh::normal_source_name(mash::mesh::MashSurfaceOptions{}.normals);
};
int run_mesh(const MeshArgs& args);

struct ShapeArgs {
    GlobalOptions global;
    std::string name, output;
    uint64_t seed = 0;  ///< family members
};
int run_shape(const ShapeArgs& args);

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

namespace mash::cli {

struct TrainArgs {
    GlobalOptions global;
    std::string config, output;
    bool resume = false;
    std::vector<std::string> set;
};
int run_train(const TrainArgs& args);

struct GenerateArgs {
    GlobalOptions global;
    std::string checkpoint, output;
    std::string category;  ///< name, "all" (default for category models)
    int64_t num = 4;       ///< shapes (per category with "all")
    int64_t steps = 0;     ///< 0 = checkpoint's config
    std::string solver;    ///< "" = config
    uint64_t seed = 0;
    std::string complete;            ///< partial MASH file
    std::string keep_anchors;        ///< selection in `complete`
    std::string keep_box;            ///< box selection in `complete`
    std::vector<std::string> blend;  ///< FILE[:SEL]
    int64_t points = 0;              ///< also write point clouds with this many points (0 = no)
    bool mesh = false;               ///< also write Poisson meshes
    int mesh_depth = 7;
    bool no_render = false;
    bool raw = false;              ///< use raw weights instead of EMA
    std::string image, encoder;    ///< image conditioning
    std::string encoder_dtype;     ///< "" = the checkpoint's model.encoder_dtype
    std::string image_alpha;       ///< "" = the checkpoint's data.image_alpha
    std::string noise;             ///< starting noise (.npy [num, A, C] or .npz with x_init), instead of --seed's
    bool num_given = false;        ///< --num was on the command line
    bool save_normalized = false;  ///< also write <category>_normalized.npy (the sampler's normalized tokens)
};
int run_generate(const GenerateArgs& args);

struct EvalGenArgs {
    GlobalOptions global;
    std::string generated, reference, json, feature_net;
    int64_t num_points = 2048;
    std::string normalize = "none";
    uint64_t seed = 0;
};
int run_eval_gen(const EvalGenArgs& args);

struct ImportOriginalArgs {
    GlobalOptions global;
    std::string checkpoint, normalizer, output;
    std::string weights = "ema";
    int64_t heads = 8;
    std::string condition = "auto";
};
int run_import_original(const ImportOriginalArgs& args);

/// eval-net and sample-net: a checkpoint's network on inputs given in an .npz.
struct NetArgs {
    GlobalOptions global;
    std::string checkpoint, inputs, output;
    bool raw = false;  ///< the raw weights instead of the EMA weights
};
using EvalNetArgs = NetArgs;
using SampleNetArgs = NetArgs;
int run_eval_net(const EvalNetArgs& args);

struct PreprocessImageArgs {
    GlobalOptions global;
    std::string image, output, alpha = "drop";
    int64_t size = 518;
};
int run_preprocess_image(const PreprocessImageArgs& args);

int run_sample_net(const SampleNetArgs& args);

struct RenderViewsArgs {
    GlobalOptions global;
    std::string input, output, layout = "flat", categories;
    int views = 12;  ///< fixed views: azimuth i·360/views
    int size = 224;
    double elevation = 30.0;  ///< degrees above the horizon (the original's 60° polar angle)
    bool random = false;      ///< random azimuth/elevation per view instead
    uint64_t seed = 0;
    int64_t limit = 0;
};
int run_render_views(const RenderViewsArgs& args);

}  // namespace mash::cli
