// SPDX-License-Identifier: MIT
#include "mash/dataset/dataset.h"

#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "mash/core/errors.h"

namespace mash::dataset {
namespace fs = std::filesystem;
namespace {

const std::map<std::string, std::string>& synsets() {
    static const std::map<std::string, std::string> m = {
        {"02691156", "airplane"},   {"02747177", "trash_bin"}, {"02773838", "bag"},        {"02801938", "basket"},
        {"02808440", "bathtub"},    {"02818832", "bed"},       {"02828884", "bench"},      {"02843684", "birdhouse"},
        {"02871439", "bookshelf"},  {"02876657", "bottle"},    {"02880940", "bowl"},       {"02924116", "bus"},
        {"02933112", "cabinet"},    {"02942699", "camera"},    {"02946921", "can"},        {"02954340", "cap"},
        {"02958343", "car"},        {"02992529", "cellphone"}, {"03001627", "chair"},      {"03046257", "clock"},
        {"03085013", "keyboard"},   {"03207941", "dishwasher"}, {"03211117", "display"},   {"03261776", "earphone"},
        {"03325088", "faucet"},     {"03337140", "file_cabinet"}, {"03467517", "guitar"},  {"03513137", "helmet"},
        {"03593526", "jar"},        {"03624134", "knife"},     {"03636649", "lamp"},       {"03642806", "laptop"},
        {"03691459", "loudspeaker"}, {"03710193", "mailbox"},  {"03759954", "microphone"}, {"03761084", "microwave"},
        {"03790512", "motorcycle"}, {"03797390", "mug"},       {"03928116", "piano"},      {"03938244", "pillow"},
        {"03948459", "pistol"},     {"03991062", "pot"},       {"04004475", "printer"},    {"04074963", "remote"},
        {"04090263", "rifle"},      {"04099429", "rocket"},    {"04225987", "skateboard"}, {"04256520", "sofa"},
        {"04330267", "stove"},      {"04379243", "table"},     {"04401088", "telephone"},  {"04460130", "tower"},
        {"04468005", "train"},      {"04530566", "watercraft"}, {"04554684", "washer"},
    };
    return m;
}

bool supported_input(const fs::path& p) {
    std::string e = p.extension().string();
    for (auto& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
    static const std::set<std::string> ok = {".obj", ".off", ".ply", ".stl", ".glb", ".gltf",
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

Layout parse_layout(const std::string& name) {
    if (name == "shapenet") return Layout::kShapeNet;
    if (name == "objaverse") return Layout::kObjaverse;
    if (name == "flat") return Layout::kFlat;
    throw ConfigError("--layout '" + name + "': expected shapenet, objaverse or flat");
}

std::string shapenet_category_name(const std::string& synset) {
    auto it = synsets().find(synset);
    return it == synsets().end() ? synset : it->second;
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
                if (model.is_directory() && fs::exists(f))
                    out.push_back({model.path().filename().string(), name, f.string()});
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
            fs::path rel = fs::relative(it->path().parent_path(), root);
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

uint64_t stable_hash(const std::string& key) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : key) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
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
            if (!env) throw ConfigError("JOB_COMPLETION_INDEX is set: pass --shard-count N (the Job's completions) or MASH_SHARD_COUNT");
            n = parse_int(env, "MASH_SHARD_COUNT");
        }
        s.index = parse_int(id, "JOB_COMPLETION_INDEX");
        s.count = n;
        s.source = "kubernetes";
    }
    if (s.count < 1 || s.index < 0 || s.index >= s.count)
        throw ConfigError("shard " + std::to_string(s.index) + "/" + std::to_string(s.count) +
                          ": expected 0 <= index < count");
    return s;
}

std::string output_path(const std::string& out_root, const ShapeEntry& e) {
    return (fs::path(out_root) / e.category / (e.id + ".npz")).string();
}

std::string ManifestLine::to_json() const {
    nlohmann::json j = {{"id", id},       {"category", category}, {"source", source}, {"status", status},
                        {"wall_s", wall_seconds}, {"steps", steps}};
    j["l1_cd"] = l1_cd >= 0 ? nlohmann::json(l1_cd) : nlohmann::json(nullptr);
    j["error"] = error;
    return j.dump();
}

ManifestLine ManifestLine::from_json(const std::string& line) {
    try {
        auto j = nlohmann::json::parse(line);
        ManifestLine m;
        m.id = j.at("id").get<std::string>();
        m.category = j.at("category").get<std::string>();
        m.source = j.value("source", "");
        m.status = j.at("status").get<std::string>();
        m.wall_seconds = j.value("wall_s", 0.0);
        m.steps = j.value("steps", int64_t(0));
        m.l1_cd = j.contains("l1_cd") && j["l1_cd"].is_number() ? j["l1_cd"].get<double>() : -1.0;
        m.error = j.value("error", "");
        return m;
    } catch (const std::exception& e) {
        throw IoError(std::string("malformed manifest line: ") + e.what());
    }
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

std::vector<ManifestLine> read_manifest(const std::string& path) {
    std::vector<ManifestLine> out;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty()) continue;
        try {
            out.push_back(ManifestLine::from_json(line));
        } catch (const IoError&) {
            // A torn line from a killed writer: ignored (the shape is simply redone).
        }
    }
    return out;
}

std::string manifest_name(const Shard& s) {
    if (s.count == 1) return "manifest.jsonl";
    return "manifest.shard-" + std::to_string(s.index) + "-of-" + std::to_string(s.count) + ".jsonl";
}

std::vector<std::pair<std::string, std::string>> shapenet_synsets() {
    return {synsets().begin(), synsets().end()};
}

}  // namespace mash::dataset
