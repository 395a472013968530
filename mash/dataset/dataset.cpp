// SPDX-License-Identifier: MIT
#include "mash/dataset/dataset.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/core/hash.h"

namespace mash::dataset {
namespace fs = std::filesystem;
namespace {

const std::map<std::string, std::string>& synsets() {
    static const std::map<std::string, std::string> m = {
        {"02691156", "airplane"},    {"02747177", "trash_bin"},    {"02773838", "bag"},        {"02801938", "basket"},
        {"02808440", "bathtub"},     {"02818832", "bed"},          {"02828884", "bench"},      {"02843684", "birdhouse"},
        {"02871439", "bookshelf"},   {"02876657", "bottle"},       {"02880940", "bowl"},       {"02924116", "bus"},
        {"02933112", "cabinet"},     {"02942699", "camera"},       {"02946921", "can"},        {"02954340", "cap"},
        {"02958343", "car"},         {"02992529", "cellphone"},    {"03001627", "chair"},      {"03046257", "clock"},
        {"03085013", "keyboard"},    {"03207941", "dishwasher"},   {"03211117", "display"},    {"03261776", "earphone"},
        {"03325088", "faucet"},      {"03337140", "file_cabinet"}, {"03467517", "guitar"},     {"03513137", "helmet"},
        {"03593526", "jar"},         {"03624134", "knife"},        {"03636649", "lamp"},       {"03642806", "laptop"},
        {"03691459", "loudspeaker"}, {"03710193", "mailbox"},      {"03759954", "microphone"}, {"03761084", "microwave"},
        {"03790512", "motorcycle"},  {"03797390", "mug"},          {"03928116", "piano"},      {"03938244", "pillow"},
        {"03948459", "pistol"},      {"03991062", "pot"},          {"04004475", "printer"},    {"04074963", "remote"},
        {"04090263", "rifle"},       {"04099429", "rocket"},       {"04225987", "skateboard"}, {"04256520", "sofa"},
        {"04330267", "stove"},       {"04379243", "table"},        {"04401088", "telephone"},  {"04460130", "tower"},
        {"04468005", "train"},       {"04530566", "watercraft"},   {"04554684", "washer"},
    };
    return m;
}

bool supported_input(const fs::path& p) {
    std::string e = p.extension().string();
    for (auto& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
    static const std::set<std::string> ok = {".obj", ".off",  ".ply", ".stl", ".glb", ".gltf",
                                             ".xyz", ".xyzn", ".pts", ".pcd", ".npy", ".npz"};
    return ok.count(e) > 0;
}

int64_t parse_int(const std::string& s, const std::string& what) {
    try {
        size_t used = 0;
        long long v = std::stoll(s, &used);
        if (used != s.size()) throw std::invalid_argument(s);
        return v;
    } catch (const std::exception&) {
        throw ConfigError(what + " = '" + s + "': expected an integer");
    }
}

}  // namespace

const config::Choices<Layout>& choices(Layout) {
    static const config::Choices<Layout> c{
        {Layout::kShapeNet, "shapenet"}, {Layout::kObjaverse, "objaverse"}, {Layout::kFlat, "flat"}};
    return c;
}

Layout parse_layout(const std::string& name) { return choices(Layout{}).parse_flag(name, "--layout"); }

std::string shapenet_category_name(const std::string& synset) {
    auto it = synsets().find(synset);
    return it == synsets().end() ? synset : it->second;
}

std::string path_below(const std::string& root, const std::string& path) {
    std::string tail = path.substr(std::min(root.size(), path.size()));
    tail.erase(0, tail.find_first_not_of('/'));
    return tail;
}

std::vector<ShapeEntry> discover(const std::string& root, Layout layout, const std::vector<std::string>& categories,
                                 const std::string& id_list) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) throw IoError(root + ": input folder does not exist");
    std::set<std::string> cats(categories.begin(), categories.end());
    auto wanted = [&](const std::string& a, const std::string& b) {
        return cats.empty() || cats.count(a) > 0 || cats.count(b) > 0;
    };
    std::vector<ShapeEntry> out;
    if (layout == Layout::kShapeNet) {
        for (const auto& syn : fs::directory_iterator(root)) {
            if (!syn.is_directory()) continue;
            const std::string sid = syn.path().filename().string();
            const std::string name = shapenet_category_name(sid);
            if (!wanted(sid, name)) continue;
            for (const auto& model : fs::directory_iterator(syn.path())) {
                fs::path f = model.path() / "models" / "model_normalized.obj";
                if (model.is_directory() && fs::exists(f)) out.push_back({model.path().filename().string(), name, f.string()});
            }
        }
    } else if (layout == Layout::kObjaverse) {
        std::set<std::string> ids;
        if (!id_list.empty()) {
            std::ifstream f(id_list);
            if (!f) throw IoError(id_list + ": cannot read the id list");
            std::string line;
            while (std::getline(f, line)) {
                line.erase(std::remove_if(line.begin(), line.end(), ::isspace), line.end());
                if (!line.empty()) ids.insert(line);
            }
        }
        fs::path glbs = fs::path(root) / "glbs";
        if (!fs::is_directory(glbs, ec)) throw IoError(root + ": not an Objaverse layout (expected a glbs/ folder)");
        for (const auto& group : fs::directory_iterator(glbs)) {
            if (!group.is_directory() || !wanted(group.path().filename().string(), "")) continue;
            for (const auto& f : fs::directory_iterator(group.path())) {
                if (f.path().extension() != ".glb") continue;
                std::string uid = f.path().stem().string();
                if (!ids.empty() && !ids.count(uid)) continue;
                out.push_back({uid, group.path().filename().string(), f.path().string()});
            }
        }
    } else {
        for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
            if (!it->is_regular_file() || !supported_input(it->path())) continue;
            const fs::path rel(path_below(root, it->path().parent_path().string()));
            std::string cat = rel.empty() || rel == "." ? "default" : rel.generic_string();
            if (!wanted(cat, "")) continue;
            out.push_back({it->path().stem().string(), cat, it->path().string()});
        }
    }
    std::sort(out.begin(), out.end(), [](const ShapeEntry& a, const ShapeEntry& b) { return a.key() < b.key(); });
    // Two inputs with the same key (e.g. chair.obj and chair.ply) would write the same output.
    for (size_t i = 1; i < out.size(); ++i)
        if (out[i].key() == out[i - 1].key())
            throw IoError(out[i].source + ": has the same id as " + out[i - 1].source +
                          " (expected unique file stems per folder)");
    return out;
}

uint64_t stable_hash(const std::string& key) { return fnv1a(key.data(), key.size()); }

std::vector<std::string> visible_gpus(const char* env, int64_t count) {
    std::vector<std::string> ids;
    if (count <= 0) return ids;
    if (env) {
        std::string v(env), cur;
        for (size_t i = 0; i <= v.size(); ++i) {
            if (i == v.size() || v[i] == ',') {
                while (!cur.empty() && std::isspace(static_cast<unsigned char>(cur.back()))) cur.pop_back();
                size_t b = 0;
                while (b < cur.size() && std::isspace(static_cast<unsigned char>(cur[b]))) ++b;
                if (b < cur.size() && int64_t(ids.size()) < count) ids.push_back(cur.substr(b));
                cur.clear();
            } else {
                cur += v[i];
            }
        }
        return ids;
    }
    for (int64_t i = 0; i < count; ++i) ids.push_back(std::to_string(i));
    return ids;
}

Shard resolve_shard(const std::string& flag, int64_t count_hint) {
    Shard s;
    if (!flag.empty()) {
        auto slash = flag.find('/');
        if (slash == std::string::npos) throw ConfigError("--shard '" + flag + "': expected I/N, e.g. 0/8");
        s.index = parse_int(flag.substr(0, slash), "--shard index");
        s.count = parse_int(flag.substr(slash + 1), "--shard count");
        s.source = "flag";
    } else if (const char* id = std::getenv("SLURM_ARRAY_TASK_ID")) {
        const char* n = std::getenv("SLURM_ARRAY_TASK_COUNT");
        if (!n) throw ConfigError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
        s.index = parse_int(id, "SLURM_ARRAY_TASK_ID");
        s.count = parse_int(n, "SLURM_ARRAY_TASK_COUNT");
        if (const char* mn = std::getenv("SLURM_ARRAY_TASK_MIN")) s.index -= parse_int(mn, "SLURM_ARRAY_TASK_MIN");
        s.source = "slurm";
    } else if (const char* id = std::getenv("JOB_COMPLETION_INDEX")) {
        int64_t n = count_hint;
        if (n <= 0) {
            const char* env = std::getenv("MASH_SHARD_COUNT");
            if (!env)
                throw ConfigError(
                    "JOB_COMPLETION_INDEX is set: pass --shard-count N (the Job's completions) or MASH_SHARD_COUNT");
            n = parse_int(env, "MASH_SHARD_COUNT");
        }
        s.index = parse_int(id, "JOB_COMPLETION_INDEX");
        s.count = n;
        s.source = "kubernetes";
    }
    if (s.count < 1 || s.index < 0 || s.index >= s.count)
        throw ConfigError("shard " + std::to_string(s.index) + "/" + std::to_string(s.count) + ": expected 0 <= index < count");
    return s;
}

std::string output_path(const std::string& out_root, const ShapeEntry& e) {
    return (fs::path(out_root) / e.category / (e.id + ".npz")).string();
}

std::string ManifestLine::to_json() const {
    nlohmann::json j = {{"id", id},         {"category", category},   {"source", source},
                        {"status", status}, {"wall_s", wall_seconds}, {"steps", steps}};
    j["l1_cd"] = l1_cd >= 0 ? nlohmann::json(l1_cd) : nlohmann::json(nullptr);
    if (bbox.size() == 6) j["bbox"] = {{bbox[0], bbox[1], bbox[2]}, {bbox[3], bbox[4], bbox[5]}};
    j["error"] = error;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // invalid UTF-8 (paths) → U+FFFD
}

ManifestLine ManifestLine::from_json(const std::string& line) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
        throw IoError(std::string("malformed manifest line: ") + e.what());
    }
    auto bad = [](const std::string& why) { return IoError("malformed manifest line: " + why); };
    if (!j.is_object()) throw bad("not a JSON object");
    auto text = [&](const char* key, bool required) -> std::string {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) {
            if (required) throw bad(std::string("missing '") + key + "'");
            return "";
        }
        if (!it->is_string()) throw bad(std::string("'") + key + "' is not a string");
        return it->get<std::string>();
    };
    auto number = [&](const char* key, double fallback) -> double {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return fallback;
        if (!it->is_number()) throw bad(std::string("'") + key + "' is not a number");
        return it->get<double>();
    };
    ManifestLine m;
    m.id = text("id", true);
    m.category = text("category", true);
    m.source = text("source", false);
    m.status = text("status", true);
    m.error = text("error", false);
    if (m.id.empty()) throw bad("empty 'id'");
    if (m.status != "ok" && m.status != "failed" && m.status != "skipped")
        throw bad("status '" + m.status + "' (expected ok, failed or skipped)");
    m.wall_seconds = number("wall_s", 0.0);
    const double steps = number("steps", 0.0);
    if (!(steps >= 0 && steps <= 1e15 && steps == std::floor(steps))) throw bad("'steps' is not a count");
    m.steps = int64_t(steps);
    m.l1_cd = number("l1_cd", -1.0);
    auto bb = j.find("bbox");
    if (bb != j.end() && !bb->is_null()) {
        if (!bb->is_array() || bb->size() != 2) throw bad("'bbox' is not [[min x, y, z], [max x, y, z]]");
        for (const auto& corner : *bb) {
            if (!corner.is_array() || corner.size() != 3) throw bad("'bbox' is not [[min x, y, z], [max x, y, z]]");
            for (const auto& v : corner) {
                if (!v.is_number()) throw bad("'bbox' holds a non-number");
                m.bbox.push_back(v.get<double>());
            }
        }
    }
    return m;
}

void append_manifest(const std::string& path, const ManifestLine& line) {
    const std::string text = line.to_json() + "\n";
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) throw IoError(path + ": cannot open manifest for appending");
    ::flock(fd, LOCK_EX);
    ssize_t n = ::write(fd, text.data(), text.size());
    ::fsync(fd);
    ::flock(fd, LOCK_UN);
    ::close(fd);
    if (n != ssize_t(text.size())) throw IoError(path + ": short write to manifest");
}

std::vector<ManifestLine> parse_manifest(const std::string& text, int64_t* malformed) {
    std::vector<ManifestLine> out;
    int64_t bad = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty()) continue;
        try {
            out.push_back(ManifestLine::from_json(line));
        } catch (const IoError&) {
            ++bad;  // a torn line from a killed writer, or damage: the shape is simply redone
        }
    }
    if (malformed) *malformed = bad;
    return out;
}

std::vector<ManifestLine> read_manifest(const std::string& path, int64_t* malformed) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        if (malformed) *malformed = 0;
        return {};
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return parse_manifest(ss.str(), malformed);
}

std::string manifest_name(const Shard& s) {
    if (s.count == 1) return "manifest.jsonl";
    return "manifest.shard-" + std::to_string(s.index) + "-of-" + std::to_string(s.count) + ".jsonl";
}

std::vector<std::pair<std::string, std::string>> shapenet_synsets() { return {synsets().begin(), synsets().end()}; }

namespace {
const config::Schema<DatasetSection>& schema() {
    using config::setting;
    using D = DatasetSection;
    static const config::Schema<DatasetSection> s({
        setting("dataset", "input", &D::input),
        setting("dataset", "output", &D::output),
        setting("dataset", "layout", &D::layout),
        setting("dataset", "workers", &D::workers, {1, 64}),
        setting("dataset", "limit", &D::limit, {1, std::numeric_limits<int64_t>::max()}),
        setting("dataset", "categories", &D::categories),
        setting("dataset", "ids", &D::ids),
        setting("dataset", "seed", &D::seed),
    });
    return s;
}
}  // namespace

DatasetSection parse_dataset_section(const std::string& text, const std::string& what) {
    DatasetSection d;
    schema().read(d, text, config::Source{what, ""}, {"fit"});
    return d;
}

DatasetSection load_dataset_section(const std::string& path) {
    return parse_dataset_section(config::read_config_file(path), path);
}

}  // namespace mash::dataset
