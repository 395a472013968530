// SPDX-License-Identifier: MIT
// The data side of training: MASH folders → token sets, images, box frames, the split.
#include "models/train_data.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/io/mash_file.h"

namespace fs = std::filesystem;

namespace mash::models {

MashSet MashSet::subset(const std::vector<int64_t>& rows) const {
    MashSet s;
    s.category_names = category_names;
    s.layout = layout;
    for (auto r : rows) {
        s.keys.push_back(keys[r]);
        s.category.push_back(category[r]);
        if (!images.empty()) s.images.push_back(images[r]);
    }
    s.tokens = rows.empty() ? tokens.narrow(0, 0, 0) : tokens.index_select(0, at::tensor(rows, at::kLong));
    return s;
}

void BoxFrame::undo(MashParams& p) const {
    p.scale(1.0 / scale);
    p.translate(center[0], center[1], center[2]);
}

BoxFrame normalize_to_unit_box(MashParams& p) {
    double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
    for (int64_t a = 0; a < p.num_anchors; ++a)
        for (int d = 0; d < 3; ++d) {
            lo[d] = std::min(lo[d], p.positions[a * 3 + d]);
            hi[d] = std::max(hi[d], p.positions[a * 3 + d]);
        }
    const double side = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]});
    BoxFrame f;
    for (int d = 0; d < 3; ++d) f.center[d] = 0.5 * (lo[d] + hi[d]);
    p.translate(-f.center[0], -f.center[1], -f.center[2]);
    if (side > 0) {
        f.scale = 1.0 / side;
        p.scale(f.scale);
    }
    return f;
}

MashSet load_mash_folder(const std::string& root, Normalize normalize, CategoryTable vocabulary) {
    if (root.empty()) throw ConfigError("data.root is not set (a folder of MASH files, e.g. the fit-dataset output)");
    if (!fs::is_directory(root)) throw IoError(root + ": data folder not found (expected a folder of MASH files)");
    // Manifest: only shapes fitted successfully.
    std::set<std::string> ok, failed;
    bool have_manifest = false;
    for (const auto& e : fs::directory_iterator(root)) {
        const auto name = e.path().filename().string();
        if (name.rfind("manifest", 0) != 0 || e.path().extension() != ".jsonl") continue;
        have_manifest = true;
        std::ifstream in(e.path());
        std::string line;
        while (std::getline(in, line)) {
            try {
                auto j = nlohmann::json::parse(line);
                auto key = j.at("category").get<std::string>() + "/" + j.at("id").get<std::string>();
                (j.at("status").get<std::string>() == "ok" ? ok : failed).insert(key);
            } catch (const std::exception&) {  // torn line after a kill: ignored, as fit-dataset does
            }
        }
    }
    std::vector<std::pair<std::string, fs::path>> files;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_regular_file()) continue;
        const auto ext = lower_extension(it->path().string());
        if (ext != ".npz" && ext != ".npy") continue;
        const fs::path rel(dataset::path_below(root, it->path().string()));  // a symlinked file keeps its link's category
        std::string category = rel.has_parent_path() ? rel.parent_path().generic_string() : "default";
        std::string key = category + "/" + rel.stem().string();
        if (have_manifest && !ok.count(key)) continue;
        files.emplace_back(key, it->path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
        throw IoError(root + ": no MASH files found (expected <category>/<id>.npz as written by `mash fit-dataset`)");
    MashSet s;
    std::map<std::string, int64_t> cat_index;
    for (const auto& f : files) cat_index[f.first.substr(0, f.first.rfind('/'))] = 0;
    if (vocabulary == CategoryTable::kShapeNet55) {
        // The original's fixed table: 55 rows in synset order; folders named by synset id or name.
        for (const auto& [id, name] : dataset::shapenet_synsets()) s.category_names.push_back(name);
        for (auto& kv : cat_index) {
            const std::string usual = dataset::shapenet_category_name(kv.first);
            auto it = std::find(s.category_names.begin(), s.category_names.end(), usual);
            if (it == s.category_names.end())
                throw InputError(root + "/" + kv.first +
                                 ": not a ShapeNet category (data.categories: shapenet55 expects "
                                 "folders named by synset id or name, e.g. 03001627 or chair)");
            kv.second = it - s.category_names.begin();
        }
    } else {
        for (auto& kv : cat_index) {
            kv.second = static_cast<int64_t>(s.category_names.size());
            s.category_names.push_back(kv.first);
        }
    }
    std::vector<at::Tensor> toks;
    int64_t A = -1;
    for (const auto& f : files) {
        MashParams p = io::load_mash(f.second.string());
        if (A < 0) {
            A = p.num_anchors;
            s.layout = TokenLayout::of(p);
        } else if (p.num_anchors != A || p.mask_degree != s.layout.mask_degree || p.sh_degree != s.layout.sh_degree) {
            throw InputError(f.second.string() + ": has " + std::to_string(p.num_anchors) + " anchors, mask degree " +
                             std::to_string(p.mask_degree) + ", SH degree " + std::to_string(p.sh_degree) +
                             "; expected the same as the first file (" + std::to_string(A) + ", " +
                             std::to_string(s.layout.mask_degree) + ", " + std::to_string(s.layout.sh_degree) + ")");
        }
        if (normalize == Normalize::kBox) normalize_to_unit_box(p);
        toks.push_back(tokens_from_mash(p));
        s.keys.push_back(f.first);
        s.category.push_back(cat_index[f.first.substr(0, f.first.rfind('/'))]);
    }
    s.tokens = at::stack(toks);
    return s;
}

int64_t attach_images(MashSet& s, const std::string& root) {
    if (!fs::is_directory(root))
        throw IoError(root +
                      ": image folder not found (expected IMAGE_ROOT/<category>/<id>/*.png, e.g. from `mash render-views`)");
    std::vector<int64_t> keep;
    std::vector<std::vector<std::string>> imgs;
    for (int64_t i = 0; i < s.size(); ++i) {
        std::vector<std::string> files;
        fs::path dir = fs::path(root) / s.keys[i];
        if (fs::is_directory(dir))
            for (const auto& e : fs::directory_iterator(dir)) {
                auto ext = lower_extension(e.path().string());
                if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path().string());
            }
        std::sort(files.begin(), files.end());
        if (files.empty()) continue;
        keep.push_back(i);
        imgs.push_back(files);
    }
    if (keep.empty()) throw IoError(root + ": no images for any shape (expected IMAGE_ROOT/<category>/<id>/*.png)");
    const int64_t dropped = s.size() - static_cast<int64_t>(keep.size());
    MashSet t = s.subset(keep);
    t.images = imgs;
    s = std::move(t);
    return dropped;
}

std::vector<int64_t> epoch_batch(uint64_t seed, int64_t step, int64_t global_batch, int64_t num_shapes) {
    std::vector<int64_t> out;
    out.reserve(static_cast<size_t>(global_batch));
    int64_t cached_epoch = -1;
    std::vector<int64_t> perm;
    for (int64_t k = 0; k < global_batch; ++k) {
        const int64_t p = step * global_batch + k, epoch = p / num_shapes;
        if (epoch != cached_epoch) {
            // splitmix64 of (seed, epoch), then a Fisher–Yates shuffle by a fully specified engine
            uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 0x5EEDE90Cull;
            std::mt19937_64 eng(z ^ (z >> 31));
            perm.resize(static_cast<size_t>(num_shapes));
            for (int64_t i = 0; i < num_shapes; ++i) perm[static_cast<size_t>(i)] = i;
            for (int64_t i = num_shapes - 1; i > 0; --i)
                std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(eng() % static_cast<uint64_t>(i + 1))]);
            cached_epoch = epoch;
        }
        out.push_back(perm[static_cast<size_t>(p % num_shapes)]);
    }
    return out;
}

void split_train_val(const MashSet& all, double val_fraction, int64_t max_val, uint64_t seed, std::vector<int64_t>& train,
                     std::vector<int64_t>& val) {
    const int64_t S = all.size();
    std::vector<int64_t> order(S);
    for (int64_t i = 0; i < S; ++i) order[i] = i;
    std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ull);
    std::shuffle(order.begin(), order.end(), rng);
    int64_t nv = std::min<int64_t>(max_val, static_cast<int64_t>(std::llround(val_fraction * S)));
    if (nv >= S) nv = S - 1;
    train.assign(order.begin() + nv, order.end());
    val.assign(order.begin(), order.begin() + nv);
    std::sort(train.begin(), train.end());
    std::sort(val.begin(), val.end());
}

}  // namespace mash::models
