// SPDX-License-Identifier: MIT
#include "models/trainer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <unistd.h>

#include "mash/core/errors.h"
#include "mash/dataset/dataset.h"
#include "mash/io/mash_file.h"
#include "mash/core/files.h"
#include "mash/pictures/plot.h"
#include "models/distributed.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/preview.h"

namespace fs = std::filesystem;

namespace mash::models {

// ---------------------------------------------------------------------------------------------
// Data

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

MashSet load_mash_folder(const std::string& root, const std::string& normalize, const std::string& vocabulary) {
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
        const auto ext = io::lower_extension(it->path().string());
        if (ext != ".npz" && ext != ".npy") continue;
        fs::path rel = fs::relative(it->path(), root);
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
    if (vocabulary == "shapenet55") {
        // The original's fixed table: 55 rows in synset order; folders named by synset id or name.
        for (const auto& [id, name] : dataset::shapenet_synsets()) s.category_names.push_back(name);
        for (auto& kv : cat_index) {
            const std::string usual = dataset::shapenet_category_name(kv.first);
            auto it = std::find(s.category_names.begin(), s.category_names.end(), usual);
            if (it == s.category_names.end())
                throw InputError(root + "/" + kv.first + ": not a ShapeNet category (data.categories: shapenet55 expects "
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
        if (normalize == "box") normalize_to_unit_box(p);
        toks.push_back(tokens_from_mash(p));
        s.keys.push_back(f.first);
        s.category.push_back(cat_index[f.first.substr(0, f.first.rfind('/'))]);
    }
    s.tokens = at::stack(toks);
    return s;
}

int64_t attach_images(MashSet& s, const std::string& root) {
    if (!fs::is_directory(root)) throw IoError(root + ": image folder not found (expected IMAGE_ROOT/<category>/<id>/*.png, e.g. from `mash render-views`)");
    std::vector<int64_t> keep;
    std::vector<std::vector<std::string>> imgs;
    for (int64_t i = 0; i < s.size(); ++i) {
        std::vector<std::string> files;
        fs::path dir = fs::path(root) / s.keys[i];
        if (fs::is_directory(dir))
            for (const auto& e : fs::directory_iterator(dir)) {
                auto ext = io::lower_extension(e.path().string());
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

void split_train_val(const MashSet& all, double val_fraction, int64_t max_val, uint64_t seed,
                     std::vector<int64_t>& train, std::vector<int64_t>& val) {
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

// ---------------------------------------------------------------------------------------------
// Trainer

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

struct Trainer::Impl {
    TrainConfig cfg;
    Generator g;
    at::Tensor train_x, train_cat, val_x, val_cat;  // normalized float32 tokens, category ids
    int rank = 0, world = 1;
    ProcessGroup* pg = nullptr;
    std::unique_ptr<torch::optim::AdamW> opt;
    Objective objective = Objective::kFlowMatching;
    at::Device device{at::kCPU};
    Timing timing;
    // Image models: encoder tokens of every view, and each shape's [offset, count) into them.
    at::Tensor img_tokens;
    at::Tensor train_img_off, train_img_cnt, val_img_off, val_img_cnt;

    // One global batch of randomness for step `s`, sliced to this rank. Every draw happens in
    // the same order on every rank, whatever the world size.
    struct Draws {
        at::Tensor x1, cat, dropout_u, image;
        CfmDraws cfm;
        at::Tensor edm_sigma, edm_eps, edm_replace_u;
        double edm_p = 0;
    };
    Draws draw(int64_t s, const at::Tensor& data, const at::Tensor& cats, int64_t Bg, int64_t b0, int64_t B, uint64_t seed,
               bool training) {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(seed, static_cast<uint64_t>(s)));
        const int64_t S = data.size(0), A = data.size(1), C = data.size(2);
        auto f32 = at::TensorOptions().dtype(at::kFloat);
        Draws d;
        const bool image = img_tokens.defined();
        at::Tensor idx = training ? at::randint(S, {Bg}, gen, at::kLong) : at::arange(s * Bg, s * Bg + Bg, at::kLong).remainder(S);
        std::vector<at::Tensor> perms;
        for (int64_t b = 0; b < Bg; ++b) perms.push_back(at::randperm(A, gen, at::kLong));
        at::Tensor perm = at::stack(perms).narrow(0, b0, B);
        at::Tensor rows = data.index_select(0, idx.narrow(0, b0, B));
        d.x1 = rows.gather(1, perm.unsqueeze(-1).expand({B, A, C}));
        d.cat = cats.index_select(0, idx.narrow(0, b0, B));
        ConditionBatch cb;
        cb.category = d.cat;
        if (image) {  // one random view per sample (the first view for validation)
            const at::Tensor& off = training ? train_img_off : val_img_off;
            const at::Tensor& cnt = training ? train_img_cnt : val_img_cnt;
            at::Tensor u = at::rand({Bg}, gen, at::kDouble);
            at::Tensor gi = idx.narrow(0, b0, B);
            at::Tensor view = training ? (u.narrow(0, b0, B) * cnt.index_select(0, gi).to(at::kDouble)).floor().to(at::kLong)
                                       : at::zeros({B}, at::kLong);
            d.image = img_tokens.index_select(0, off.index_select(0, gi) + view);
            cb.image = d.image;
        }
        auto cshape = g.model->context_shape(cb, Bg);
        at::Tensor du = at::rand(cshape, gen, f32);
        if (training) d.dropout_u = du.narrow(0, b0, B);
        const bool trick = training && cfg.completion_trick;
        if (objective == Objective::kFlowMatching) {
            d.cfm.x0 = at::randn({Bg, A, C}, gen, f32).narrow(0, b0, B);
            d.cfm.t = at::rand({Bg}, gen, f32).narrow(0, b0, B);
            d.cfm.pair_draws = at::randint(A, {Bg, A}, gen, at::kLong).narrow(0, b0, B);
            double u = at::rand({1}, gen, at::kDouble).item<double>();
            at::Tensor ru = at::rand({Bg, A, C}, gen, f32).narrow(0, b0, B);
            if (trick) {
                d.cfm.replace_p = completion_probability(u);
                d.cfm.replace_u = ru;
            }
        } else {
            d.edm_sigma = (at::randn({Bg}, gen, at::kDouble) * cfg.edm_p_std + cfg.edm_p_mean).exp().to(at::kFloat).narrow(0, b0, B);
            d.edm_eps = at::randn({Bg, A, C}, gen, f32).narrow(0, b0, B);
            double u = at::rand({1}, gen, at::kDouble).item<double>();
            at::Tensor ru = at::rand({Bg, A, C}, gen, f32).narrow(0, b0, B);
            if (trick) {
                d.edm_p = std::max(2 * u - 1, 0.0);
                d.edm_replace_u = ru;
            }
        }
        if (device != at::Device(at::kCPU)) {  // the batch goes to the model's device
            auto mv = [&](at::Tensor& t) {
                if (t.defined()) t = t.to(device);
            };
            for (at::Tensor* t : {&d.x1, &d.cat, &d.dropout_u, &d.image, &d.cfm.x0, &d.cfm.t, &d.cfm.replace_u, &d.edm_sigma,
                                  &d.edm_eps, &d.edm_replace_u})
                mv(*t);
        }
        return d;
    }

    at::Tensor loss_of(Denoiser& net, const Draws& d, double* ot_seconds) {
        ConditionBatch cb;
        cb.category = d.cat;
        cb.image = d.image;
        const int64_t B = d.x1.size(0);
        at::Tensor ctx = net->context(cb, B, d.dropout_u);
        if (objective == Objective::kFlowMatching) {
            CfmPairs p = cfm_pairs(d.x1, d.cfm);
            if (ot_seconds) *ot_seconds = p.ot_seconds;
            at::Tensor v = net->forward(p.x_t, p.t, ctx);
            return (v - p.target).pow(2).mean();
        }
        const double sd = cfg.edm_sigma_data;
        at::Tensor sigma = d.edm_sigma;
        auto b3 = [&](const at::Tensor& v) { return v.reshape({B, 1, 1}); };
        at::Tensor y = d.x1 + b3(sigma) * d.edm_eps;
        if (d.edm_replace_u.defined() && d.edm_p > 0) y = at::where(d.edm_replace_u < d.edm_p, d.x1, y);
        auto sc = edm_scalings(sigma, sd);
        at::Tensor D = b3(sc.c_skip) * y + b3(sc.c_out) * net->forward(b3(sc.c_in) * y, sc.c_noise, ctx);
        return (b3(edm_loss_weight(sigma, sd)) * (D - d.x1).pow(2)).mean();
    }

    double lr_at(int64_t s) const {
        double lr_eff = cfg.lr * static_cast<double>(cfg.batch_size * world) / static_cast<double>(cfg.lr_batch_size);
        if (cfg.warmup_steps > 0) lr_eff *= std::min(1.0, static_cast<double>(s) / static_cast<double>(cfg.warmup_steps));
        return lr_eff;
    }
    double ema_decay_at(int64_t s) const {
        double f = cfg.ema_ramp_steps > 0 ? std::min(1.0, static_cast<double>(s) / static_cast<double>(cfg.ema_ramp_steps)) : 1.0;
        return cfg.ema_start + (cfg.ema_end - cfg.ema_start) * f;
    }
};

Trainer::Trainer(const TrainConfig& cfg, const MashSet& train, const MashSet& val, const std::string& out_dir, int rank,
                 int world_size, ProcessGroup* pg, const std::string& device)
    : impl_(std::make_unique<Impl>()) {
    auto& I = *impl_;
    I.cfg = cfg;
    I.device = at::Device(device);
    I.rank = rank;
    I.world = world_size;
    I.pg = pg;
    I.objective = parse_objective(cfg.objective, "objective.type");
    if (train.size() < 1) throw InputError("training set is empty");
    const int64_t A = train.tokens.size(1), C = train.tokens.size(2);
    auto norm = QuantileNormalizer::fit(train.tokens.reshape({-1, C}), train.layout.column_names());
    I.g = Generator::create(cfg, train.layout, A, train.category_names, norm);
    I.g.model->to(I.device);
    I.g.ema->to(I.device);
    I.train_x = norm.forward(train.tokens).to(at::kFloat);
    I.train_cat = at::tensor(train.category, at::kLong);
    const MashSet& v = val.size() > 0 ? val : train;
    I.val_x = norm.forward(v.tokens).to(at::kFloat);
    I.val_cat = at::tensor(v.category, at::kLong);
    if (cfg.condition == "image") {
        if (train.images.size() != static_cast<size_t>(train.size()) || v.images.size() != static_cast<size_t>(v.size()))
            throw InputError("image conditioning: every shape needs its views (see attach_images)");
        ImageEncoder enc(cfg.encoder);
        if (enc.info().width != cfg.image_dim)
            throw ConfigError(cfg.encoder + ": encoder width " + std::to_string(enc.info().width) + " != model.image_dim " +
                              std::to_string(cfg.image_dim));
        std::vector<std::string> files;
        auto index = [&](const MashSet& set, at::Tensor& off, at::Tensor& cnt) {
            std::vector<int64_t> o, n;
            for (const auto& views : set.images) {
                o.push_back(static_cast<int64_t>(files.size()));
                n.push_back(static_cast<int64_t>(views.size()));
                files.insert(files.end(), views.begin(), views.end());
            }
            off = at::tensor(o, at::kLong);
            cnt = at::tensor(n, at::kLong);
        };
        index(train, I.train_img_off, I.train_img_cnt);
        index(v, I.val_img_off, I.val_img_cnt);
        std::string cache = cfg.feature_cache;
        if (cache.empty() && !out_dir.empty()) cache = (fs::path(out_dir) / "feature_cache").string();
        int64_t hits = 0;
        auto t0 = std::chrono::steady_clock::now();
        I.img_tokens = enc.encode_files(files, cache, &hits);
        if (rank == 0)
            spdlog::info("train: {} views encoded by {} ({} tokens x {}) in {:.1f} s, {} from the cache {}", files.size(),
                         enc.info().name, enc.info().tokens, enc.info().width, seconds_since(t0), hits, cache);
    }
    I.opt = std::make_unique<torch::optim::AdamW>(
        I.g.model->parameters(), torch::optim::AdamWOptions(cfg.lr).betas({0.9, 0.999}).eps(1e-8).weight_decay(cfg.weight_decay));
    if (pg && world_size > 1) {  // identical start on every rank
        auto params = I.g.model->parameters();
        pg->broadcast(params);
        torch::NoGradGuard ng;
        auto e = I.g.ema->parameters();
        for (size_t i = 0; i < e.size(); ++i) e[i].copy_(params[i]);
    }
}

Trainer::~Trainer() = default;

Generator& Trainer::generator() { return impl_->g; }

int64_t Trainer::steps_done() const { return impl_->g.step; }
Trainer::Timing Trainer::last_timing() const { return impl_->timing; }

double Trainer::step() {
    auto& I = *impl_;
    auto t0 = std::chrono::steady_clock::now();
    const int64_t s = I.g.step, B = I.cfg.batch_size, Bg = B * I.world;
    I.g.model->train();
    auto d = I.draw(s, I.train_x, I.train_cat, Bg, I.rank * B, B, I.cfg.seed, true);
    double data_s = seconds_since(t0), ot_s = 0;
    auto t1 = std::chrono::steady_clock::now();
    at::Tensor loss = I.loss_of(I.g.model, d, &ot_s);
    I.opt->zero_grad();
    loss.backward();
    std::vector<at::Tensor> grads;
    for (auto& p : I.g.model->parameters()) {
        if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
        p.grad().nan_to_num_(0.0, 0.0, 0.0);  // NaN/inf gradient entries → 0 (as the original)
        grads.push_back(p.grad());
    }
    at::Tensor loss_g = loss.detach().reshape({1}).clone();
    grads.push_back(loss_g);
    if (I.pg) I.pg->allreduce_mean(grads);
    torch::nn::utils::clip_grad_norm_(I.g.model->parameters(), I.cfg.grad_clip);
    const double lr = I.lr_at(s);
    for (auto& group : I.opt->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    I.opt->step();
    {
        torch::NoGradGuard ng;
        const double decay = I.ema_decay_at(s);
        auto p = I.g.model->parameters();
        auto e = I.g.ema->parameters();
        for (size_t i = 0; i < p.size(); ++i) e[i].mul_(decay).add_(p[i].detach(), 1.0 - decay);
    }
    I.g.step = s + 1;
    I.timing.network = seconds_since(t1) - ot_s;
    I.timing.ot = ot_s;
    I.timing.data = data_s;
    return loss_g.item<double>();
}

double Trainer::validation_loss() {
    auto& I = *impl_;
    torch::NoGradGuard ng;
    I.g.ema->eval();
    const int64_t S = I.val_x.size(0), B = std::min<int64_t>(I.cfg.batch_size, S);
    const int64_t chunks = (S + B - 1) / B;
    double sum = 0;
    for (int64_t c = 0; c < chunks; ++c) {
        auto d = I.draw(c, I.val_x, I.val_cat, B, 0, B, 1234, false);
        sum += I.loss_of(I.g.ema, d, nullptr).item<double>();
    }
    return sum / static_cast<double>(chunks);
}

void Trainer::save_checkpoint(const std::string& path) { impl_->g.save(path, impl_->opt.get()); }

void Trainer::load_checkpoint(const std::string& path) {
    auto& I = *impl_;
    Generator loaded = Generator::load(path);
    torch::NoGradGuard ng;
    auto dst = I.g.model->named_parameters();
    for (auto& kv : loaded.model->named_parameters()) {
        if (!dst.contains(kv.key()) || dst[kv.key()].sizes() != kv.value().sizes())
            throw IoError(path + ": checkpoint does not match the configured model (parameter " + kv.key() + ")");
        dst[kv.key()].copy_(kv.value());
    }
    auto edst = I.g.ema->named_parameters();
    for (auto& kv : loaded.ema->named_parameters()) edst[kv.key()].copy_(kv.value());
    I.g.step = loaded.step;
    I.g.normalizer = loaded.normalizer;
    I.g.load_optimizer(path, *I.opt);
}

// ---------------------------------------------------------------------------------------------
// The `mash train` loop

namespace {

struct MetricsLog {
    std::vector<double> step, loss, vstep, vloss;
};

void rewrite_metrics(const std::string& path, int64_t max_step, MetricsLog& log) {
    std::ifstream in(path);
    std::vector<std::string> keep;
    std::string line;
    while (std::getline(in, line)) {
        try {
            auto j = nlohmann::json::parse(line);
            int64_t s = j.at("step").get<int64_t>();
            if (s > max_step) continue;
            keep.push_back(line);
            if (j.contains("loss")) {
                log.step.push_back(static_cast<double>(s));
                log.loss.push_back(j["loss"].get<double>());
            }
            if (j.contains("val_loss")) {
                log.vstep.push_back(static_cast<double>(s));
                log.vloss.push_back(j["val_loss"].get<double>());
            }
        } catch (const std::exception&) {
        }
    }
    std::string all;
    for (auto& l : keep) all += l + "\n";
    io::write_file_atomic(path, std::vector<uint8_t>(all.begin(), all.end()));
}

void append_line(const std::string& path, const nlohmann::json& j) {
    std::ofstream out(path, std::ios::app);
    out << j.dump() << "\n";
}

}  // namespace

int run_training(const TrainRun& run) {
    DistEnv env = DistEnv::from_environment();
    if (run.config_path.empty()) throw ConfigError("mash train: --config is required");
    TrainConfig cfg = load_train_config(run.config_path);
    std::string out = run.output_dir.empty() ? (fs::absolute(run.config_path).parent_path() / "out").string() : run.output_dir;
    const std::string ckpt = (fs::path(out) / "checkpoint.pt").string();
    if (run.resume) {
        if (!fs::exists(ckpt)) throw IoError(ckpt + ": no checkpoint to resume from (run without --resume to start)");
        cfg = Generator::load(ckpt).config;  // the stored config wins; --set may change e.g. train.steps
    } else if (fs::exists(ckpt)) {
        throw IoError(out + ": already holds a checkpoint; pass --resume to continue it or choose another --output");
    }
    for (const auto& o : run.overrides) apply_train_override(cfg, o);

    ProcessGroup pg(env, 300, run.device == "cuda");
    const bool main_rank = env.rank == 0;
    MashSet all = load_mash_folder(cfg.data_root, cfg.normalize, cfg.categories);
    if (cfg.condition == "image") {
        int64_t dropped = attach_images(all, cfg.image_root);
        if (main_rank && dropped > 0) spdlog::warn("train: {} shapes have no images under {} and are skipped", dropped, cfg.image_root);
        if (!run.resume) cfg.image_dim = read_encoder_sidecar(cfg.encoder).width;  // the encoder itself loads once, in Trainer
    }
    std::vector<int64_t> tr, va;
    split_train_val(all, cfg.val_fraction, cfg.max_val_shapes, cfg.seed, tr, va);
    MashSet train = all.subset(tr), val = all.subset(va);
    if (main_rank) {
        spdlog::info("train: {} shapes in {} ({} categories: {}), {} train / {} validation{}, {} anchors x {} values",
                     all.size(), cfg.data_root, all.category_names.size(), fmt::join(all.category_names, ", "), train.size(),
                     val.size(), val.size() == 0 ? " (validating on the training shapes)" : "", all.tokens.size(1),
                     all.layout.channels());
    }
    std::string device = run.device;
    if (device == "cuda" && env.world_size > 1) device = "cuda:" + std::to_string(env.local_rank);
    Trainer trainer(cfg, train, val, out, env.rank, env.world_size, env.world_size > 1 ? &pg : nullptr, device);
    auto& I = trainer.impl();
    if (run.resume) trainer.load_checkpoint(ckpt);
    const std::string metrics = (fs::path(out) / "metrics.jsonl").string();
    MetricsLog log;
    if (main_rank) {
        fs::create_directories(fs::path(out) / "samples");
        I.g.normalizer.save((fs::path(out) / "normalizer.json").string());
        std::string y = cfg.to_yaml();
        io::write_file_atomic((fs::path(out) / "config.resolved.yaml").string(), std::vector<uint8_t>(y.begin(), y.end()));
        nlohmann::json split;
        split["train"] = train.keys;
        split["validation"] = val.keys;
        std::string sp = split.dump(1);
        io::write_file_atomic((fs::path(out) / "split.json").string(), std::vector<uint8_t>(sp.begin(), sp.end()));
        if (run.resume) rewrite_metrics(metrics, I.g.step, log);
        else std::remove(metrics.c_str());
        spdlog::info("train: model {} parameters (width {}, depth {}, heads {}), objective {}, condition {}, {} process(es) x "
                     "batch {}, effective lr {:.3g}, output {}",
                     count_parameters(*I.g.model), cfg.width, cfg.depth, cfg.heads, cfg.objective, cfg.condition,
                     env.world_size, cfg.batch_size, I.lr_at(cfg.warmup_steps), out);
        if (run.resume) spdlog::info("train: resumed from {} at step {}", ckpt, I.g.step);
    }

    auto render_samples = [&](int64_t step) {
        if (cfg.val_samples <= 0) return;
        SampleRequest r;
        r.num = cfg.val_samples;
        r.seed = 777;
        if (cfg.condition == "category")
            for (int64_t i = 0; i < r.num; ++i) r.categories.push_back(i % static_cast<int64_t>(I.g.categories.size()));
        if (cfg.condition == "image") {  // first view of the first validation shapes
            std::vector<int64_t> rows;
            for (int64_t i = 0; i < r.num; ++i) rows.push_back(I.val_img_off[i % I.val_img_off.size(0)].item<int64_t>());
            r.image_tokens = I.img_tokens.index_select(0, at::tensor(rows, at::kLong));
        }
        try {
            auto res = sample(I.g, r);
            std::vector<MashParams> shapes;
            for (int64_t i = 0; i < r.num; ++i) shapes.push_back(mash_from_tokens(res.tokens[i], I.g.layout));
            char name[64];
            std::snprintf(name, sizeof name, "step_%07lld.png", static_cast<long long>(step));
            render_mash_grid((fs::path(out) / "samples" / name).string(), shapes, 2, 200, 2, cfg.val_render_points);
        } catch (const mash::Error& e) {
            spdlog::warn("train: validation samples at step {} failed: {}", step, e.what());
        }
    };
    auto write_plot = [&]() {
        std::vector<io::PlotSeries> series;
        io::PlotSeries a{"train loss", log.step, log.loss, {31, 119, 180}};
        series.push_back(a);
        if (!log.vstep.empty()) series.push_back({"validation loss (EMA)", log.vstep, log.vloss, {214, 39, 40}});
        io::PlotOptions po;
        po.title = "mash train: " + cfg.objective + " loss";
        po.y_label = "loss";
        io::write_line_plot_png((fs::path(out) / "loss.png").string(), series, po);
    };

    auto start = std::chrono::steady_clock::now();
    double acc_loss = 0, acc_time = 0, acc_data = 0, acc_ot = 0;
    int64_t acc_n = 0;
    bool stop = false;
    while (I.g.step < cfg.steps && !stop) {
        auto ts = std::chrono::steady_clock::now();
        double loss = trainer.step();
        if (!std::isfinite(loss)) throw InputError("train: loss is not finite at step " + std::to_string(I.g.step) +
                                                   " (lower train.lr or check the data)");
        const double dt = seconds_since(ts);
        const auto tm = trainer.last_timing();
        acc_loss += loss;
        acc_time += dt;
        acc_data += tm.data;
        acc_ot += tm.ot;
        ++acc_n;
        const int64_t s = I.g.step;
        // Time limit: rank 0 decides, everyone follows (one tiny broadcast per step).
        if (cfg.time_limit_minutes > 0 || env.world_size > 1) {
            at::Tensor flag = at::zeros({1});
            if (main_rank && cfg.time_limit_minutes > 0 && seconds_since(start) > cfg.time_limit_minutes * 60) flag.fill_(1);
            std::vector<at::Tensor> f{flag};
            pg.broadcast(f);
            stop = flag.item<float>() > 0;
        }
        const bool last = s >= cfg.steps || stop;
        if (main_rank && (s % cfg.log_every == 0 || last)) {
            nlohmann::json j;
            j["step"] = s;
            j["loss"] = acc_loss / acc_n;
            j["lr"] = I.lr_at(s - 1);
            j["ema_decay"] = I.ema_decay_at(s - 1);
            j["sec_per_step"] = acc_time / acc_n;
            j["data_frac"] = acc_data / acc_time;
            j["ot_frac"] = acc_ot / acc_time;
            j["elapsed_s"] = seconds_since(start);
            append_line(metrics, j);
            log.step.push_back(static_cast<double>(s));
            log.loss.push_back(acc_loss / acc_n);
            const double eta = (cfg.steps - s) * (acc_time / acc_n);
            spdlog::info("step {}/{} loss {:.4f} lr {:.3g} {:.3f} s/step (data {:.1f}%, OT {:.1f}%) eta {:.0f} s", s, cfg.steps,
                         acc_loss / acc_n, I.lr_at(s - 1), acc_time / acc_n, 100 * acc_data / acc_time, 100 * acc_ot / acc_time, eta);
            acc_loss = acc_time = acc_data = acc_ot = 0;
            acc_n = 0;
        }
        if (main_rank && (s % cfg.val_every == 0 || last)) {
            double vl = trainer.validation_loss();
            nlohmann::json j;
            j["step"] = s;
            j["val_loss"] = vl;
            append_line(metrics, j);
            log.vstep.push_back(static_cast<double>(s));
            log.vloss.push_back(vl);
            spdlog::info("step {}: validation loss (EMA) {:.4f}", s, vl);
            render_samples(s);
            write_plot();
        }
        if (main_rank && (s % cfg.checkpoint_every == 0 || last)) trainer.save_checkpoint(ckpt);
    }
    if (main_rank) {
        write_plot();
        spdlog::info("train: done at step {} after {:.1f} min{}; checkpoint {}", I.g.step, seconds_since(start) / 60,
                     stop ? " (time limit)" : "", ckpt);
    }
    pg.barrier();
    return 0;
}

}  // namespace mash::models
