// SPDX-License-Identifier: MIT
// The Trainer: one optimizer step (batch draw, OT pairing, loss, all-reduce, AdamW, EMA),
// validation loss and checkpoints.
#include "models/trainer.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>
#include <torch/nn.h>
#include <torch/optim.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "mash/core/errors.h"
#include "models/distributed.h"
#include "models/feature_store.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/trainer_impl.h"

namespace fs = std::filesystem;

namespace mash::models {

Trainer::Trainer(const TrainConfig& cfg, const MashSet& train, const MashSet& val, const std::string& out_dir, int rank,
                 int world_size, ProcessGroup* pg, const std::string& device)
    : impl_(std::make_unique<Impl>()) {
    auto& I = *impl_;
    I.cfg = cfg;
    I.device = at::Device(device);
    I.rank = rank;
    I.world = world_size;
    I.pg = pg;
    if (train.size() < 1) throw InputError("training set is empty");
    const int64_t A = train.tokens.size(1), C = train.tokens.size(2);
    auto norm = QuantileNormalizer::fit(train.tokens.reshape({-1, C}), train.layout.column_names());
    I.g = Generator::create(cfg, train.layout, A, train.category_names, norm);
    I.g.model->to(I.device);
    I.g.ema->to(I.device);
    const bool slots = cfg.anchor_order == AnchorOrder::kCanonical;
    auto ordered = [&](const at::Tensor& t) { return slots ? canonical_anchor_order(t) : t; };
    I.train_x = norm.forward(ordered(train.tokens)).to(at::kFloat);
    I.train_cat = at::tensor(train.category, at::kLong);
    const MashSet& v = val.size() > 0 ? val : train;
    I.val_x = norm.forward(ordered(v.tokens)).to(at::kFloat);
    I.val_cat = at::tensor(v.category, at::kLong);
    if (cfg.condition == ConditionKind::kImage) {
        if (train.images.size() != static_cast<size_t>(train.size()) || v.images.size() != static_cast<size_t>(v.size()))
            throw InputError("image conditioning: every shape needs its views (see attach_images)");
        ImageEncoder enc(cfg.encoder, cfg.encoder_dtype, cfg.image_alpha);
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
        auto t0 = std::chrono::steady_clock::now();
        if (cfg.image_features == FeatureStorage::kDisk) {
            if (cache.empty()) throw ConfigError("data.image_features: disk needs data.feature_cache (or an output folder)");
            FeatureStoreSpec sp;
            sp.count = static_cast<int64_t>(files.size());
            sp.tokens = enc.info().tokens;
            sp.width = enc.info().width;
            sp.dtype = config::name(cfg.feature_dtype);
            sp.key = files_key(files, enc.hash() + "|" + enc.preprocessing());
            const std::string dir = (fs::path(cache) / ("store-" + sp.key)).string();
            if (rank == 0) I.store = FeatureStore::open(dir, sp, true);
            if (pg) pg->barrier();
            if (rank != 0) I.store = FeatureStore::open(dir, sp, false);  // a folder all processes share
            const int64_t n = fill_feature_store(*I.store, enc, files, rank, world_size);
            if (pg) pg->barrier();
            const auto left = I.store->missing();
            if (!left.empty())
                throw IoError(dir + ": " + std::to_string(left.size()) +
                              " views still missing after filling (expected every process to "
                              "share this folder)");
            if (rank == 0)
                spdlog::info(
                    "train: {} views in the feature store {} ({} encoded now by this process in {:.1f} s; {} x {} {} tokens, "
                    "{:.1f} GB on disk)",
                    files.size(), dir, n, seconds_since(t0), enc.info().tokens, enc.info().width, config::name(cfg.feature_dtype),
                    double(sp.count) * double(I.store->record_bytes()) / 1e9);
        } else {
            int64_t hits = 0;
            I.img_tokens = enc.encode_files(files, cache, &hits);
            if (cfg.feature_dtype == FeatureDtype::kFloat16) I.img_tokens = I.img_tokens.to(at::kHalf);
            if (rank == 0)
                spdlog::info("train: {} views encoded by {} ({} tokens x {}) in {:.1f} s, {} from the cache {}", files.size(),
                             enc.info().name, enc.info().tokens, enc.info().width, seconds_since(t0), hits, cache);
        }
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
double Trainer::lr_at(int64_t step) const { return impl_->lr_at(step); }
double Trainer::ema_decay_at(int64_t step) const { return impl_->ema_decay_at(step); }
at::Tensor Trainer::validation_image_tokens(int64_t num) const {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < num; ++i) rows.push_back(impl_->val_img_off[i % impl_->val_img_off.size(0)].item<int64_t>());
    return impl_->view_tokens(at::tensor(rows, at::kLong));
}
Trainer::Timing Trainer::last_timing() const { return impl_->timing; }

namespace {
/// bf16 autocast of the forward pass and the loss on the step's device (restored on exit).
class Autocast {
public:
    Autocast(at::DeviceType device, bool on) : device_(device), on_(on) {
        if (!on_) return;
        prev_enabled_ = at::autocast::is_autocast_enabled(device_);
        prev_dtype_ = at::autocast::get_autocast_dtype(device_);
        at::autocast::set_autocast_enabled(device_, true);
        at::autocast::set_autocast_dtype(device_, at::kBFloat16);
        at::autocast::increment_nesting();
    }
    ~Autocast() {
        if (!on_) return;
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
        at::autocast::set_autocast_enabled(device_, prev_enabled_);
        at::autocast::set_autocast_dtype(device_, prev_dtype_);
    }

private:
    at::DeviceType device_;
    bool on_;
    bool prev_enabled_ = false;
    at::ScalarType prev_dtype_ = at::kFloat;
};
}  // namespace

double Trainer::step() {
    auto& I = *impl_;
    const int64_t s = I.g.step, B = I.cfg.batch_size, Bg = B * I.world, acc = I.cfg.accumulate;
    I.g.model->train();
    I.opt->zero_grad();
    // `acc` micro-batches per optimizer step; micro-batch m of step s draws its randomness as
    // global micro-step s·acc + m (with acc = 1: step s, as without accumulation).
    double data_s = 0, ot_s = 0;
    auto t1 = std::chrono::steady_clock::now();
    at::Tensor loss = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(I.device));
    for (int64_t m = 0; m < acc; ++m) {
        auto td = std::chrono::steady_clock::now();
        auto d = I.draw(s * acc + m, I.train_x, I.train_cat, Bg, I.rank * B, B, I.cfg.seed, true);
        data_s += seconds_since(td);
        double ot_m = 0;
        at::Tensor lm;
        {
            Autocast ac(I.device.type(), I.cfg.precision == Precision::kBf16);
            lm = I.loss_of(I.g.model, d, &ot_m).to(at::kFloat) / static_cast<double>(acc);
        }
        lm.backward();
        ot_s += ot_m;
        loss = loss + lm.detach();
    }
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
    I.timing.network = seconds_since(t1) - ot_s - data_s;
    I.timing.ot = ot_s;
    I.timing.data = data_s;
    return loss_g.item<double>();
}

double Trainer::validation_loss() {
    auto& I = *impl_;
    torch::NoGradGuard ng;
    I.g.ema->eval();
    // Fixed chunks and seeded draws, independent of the per-process batch and the process count.
    constexpr int64_t kValidationBatch = 16;
    const int64_t S = I.val_x.size(0), B = std::min<int64_t>(kValidationBatch, S);
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

}  // namespace mash::models
