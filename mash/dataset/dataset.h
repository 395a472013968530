// SPDX-License-Identifier: MIT
// Dataset layouts, deterministic sharding and the run manifest for `mash fit-dataset`
// (torch-free).
//   shapenet:  ROOT/<synset>/<model_id>/models/model_normalized.obj   (category = synset's name)
//   objaverse: ROOT/glbs/<group>/<uid>.glb, optionally restricted to an id list (category = group)
//   flat:      any mesh / point file under ROOT (category = its parent folder relative to ROOT)
// Outputs mirror the layout: OUT/<category>/<id>.npz.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mash/core/config_reader.h"

namespace mash::dataset {

enum class Layout { kShapeNet, kObjaverse, kFlat };
const config::Choices<Layout>& choices(Layout);
/// "shapenet" | "objaverse" | "flat" (the --layout flag); throws ConfigError otherwise.
Layout parse_layout(const std::string& name);

struct ShapeEntry {
    std::string id;
    std::string category;
    std::string source;  ///< absolute or ROOT-relative path of the input file
    std::string key() const { return category + "/" + id; }
};

/// The human name of a ShapeNetCore.v2 synset id ("03001627" → "chair"); the id if unknown.
std::string shapenet_category_name(const std::string& synset);
/// `path` relative to `root`, lexically: `path` as a directory iterator over `root` lists it (it
/// extends `root` as given). Unlike fs::relative it does not resolve symlinks, so a linked file keeps
/// the folder of its link.
std::string path_below(const std::string& root, const std::string& path);
/// All 55 ShapeNetCore.v2 synsets with their usual names, sorted by synset id.
std::vector<std::pair<std::string, std::string>> shapenet_synsets();

/// Every shape of the layout under root, sorted by key. `categories` (names or synset ids) and
/// `id_list` (a text file, one id per line; objaverse) filter when non-empty. Throws IoError if
/// root is missing.
std::vector<ShapeEntry> discover(const std::string& root, Layout layout, const std::vector<std::string>& categories = {},
                                 const std::string& id_list = {});

/// 64-bit FNV-1a of the key: stable across machines, runs and library versions.
uint64_t stable_hash(const std::string& key);

/// A deterministic partition: shard `index` of `count` holds the shapes with hash % count == index.
struct Shard {
    int64_t index = 0;
    int64_t count = 1;
    std::string source = "none";  ///< "flag", "slurm", "kubernetes" or "none"
    bool contains(const ShapeEntry& e) const { return int64_t(stable_hash(e.key()) % uint64_t(count)) == index; }
};
/// From "--shard I/N" if given; else SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT; else
/// JOB_COMPLETION_INDEX (Kubernetes Indexed Job) with `count_hint` (--shard-count) or
/// MASH_SHARD_COUNT; else a single shard. Throws ConfigError on malformed values.
Shard resolve_shard(const std::string& flag, int64_t count_hint);

/// fit-dataset on GPUs: the worker processes per visible GPU when --workers is not given.
constexpr int64_t kWorkersPerGpu = 4;
/// The GPUs fit-dataset workers are spread over: the ids listed in CUDA_VISIBLE_DEVICES (the
/// value given, nullptr when unset; empty entries dropped; GPU-UUIDs kept as written), at most
/// `count` (the devices LibTorch sees), else 0 … count − 1. Worker w runs on ids[w % ids.size()].
std::vector<std::string> visible_gpus(const char* cuda_visible_devices, int64_t count);

/// OUT/<category>/<id>.npz
std::string output_path(const std::string& out_root, const ShapeEntry& e);

/// One manifest line (JSON object per line).
struct ManifestLine {
    std::string id, category, source, status;  ///< status: ok | failed | skipped
    double wall_seconds = 0;
    int64_t steps = 0;
    double l1_cd = -1;
    std::string error;
    std::vector<double> bbox;  ///< min xyz, max xyz of the surface samples read (file coordinates), or empty
    std::string to_json() const;
    static ManifestLine from_json(const std::string& line);  ///< throws IoError on malformed lines
    std::string key() const { return category + "/" + id; }
};
/// Appends one line atomically (O_APPEND + flock), safe from several processes.
void append_manifest(const std::string& path, const ManifestLine& line);
/// All well-formed lines of a manifest; lines that are not (a torn last line after a kill,
/// damage) are skipped and counted in `*malformed`. A missing file has no lines.
std::vector<ManifestLine> read_manifest(const std::string& path, int64_t* malformed = nullptr);
std::vector<ManifestLine> parse_manifest(const std::string& text, int64_t* malformed = nullptr);

/// The `dataset:` section of a fit-dataset YAML config (the `fit:` section is read by
/// fitting::load_fit_config). Every field is optional; unset ones stay unset so that flags win.
struct DatasetSection {
    std::optional<std::string> input, output, ids;
    std::optional<Layout> layout;
    std::optional<std::vector<std::string>> categories;  ///< names or synset ids: a list, or one
    std::optional<int64_t> workers, limit;
    std::optional<uint64_t> seed;
};
/// Strict (config_reader.h): unknown keys, wrong types and out-of-range numbers are ConfigErrors
/// naming `what`.
DatasetSection parse_dataset_section(const std::string& yaml_text, const std::string& what);
DatasetSection load_dataset_section(const std::string& path);

/// Manifest file name for a shard: manifest.jsonl, or manifest.shard-I-of-N.jsonl.
std::string manifest_name(const Shard& shard);

}  // namespace mash::dataset
