// SPDX-License-Identifier: MIT
// Internal: the Trainer's state (trainer.cpp). Not part of the library's interface: the `mash
// train` loop (train_run.cpp) goes through Trainer's public methods.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "mash/core/timing.h"
#include "models/diffusion.h"
#include "models/distributed.h"
#include "models/feature_store.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/trainer.h"

namespace mash::models {
namespace detail {

inline uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace detail
using detail::mix;

struct Trainer::Impl {
    TrainConfig cfg;
    Generator g;
    at::Tensor train_x, train_cat, val_x, val_cat;  // normalized float32 tokens, category ids
    int rank = 0, world = 1;
    ProcessGroup* pg = nullptr;
    std::unique_ptr<torch::optim::AdamW> opt;
    at::Device device{at::kCPU};
    Timing timing;
    // Image models: encoder tokens of every view (in RAM, or a store on disk), and each shape's
    // [offset, count) into them.
    at::Tensor img_tokens;
    std::unique_ptr<FeatureStore> store;
    bool has_images() const { return img_tokens.defined() || store != nullptr; }
    at::Tensor view_tokens(const at::Tensor& rows) const {  // float32 [n, T, C]
        return store ? store->read(rows) : img_tokens.index_select(0, rows).to(at::kFloat);
    }
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
        const bool image = has_images();
        at::Tensor idx =
            training ? at::randint(S, {Bg}, gen, at::kLong) : at::arange(s * Bg, s * Bg + Bg, at::kLong).remainder(S);
        if (training && cfg.order == BatchOrder::kEpochs) idx = at::tensor(epoch_batch(seed, s, Bg, S), at::kLong);
        const bool slots = cfg.anchor_order == AnchorOrder::kCanonical;  // rows are ordered slots: no shuffling, no OT
        std::vector<at::Tensor> perms;
        for (int64_t b = 0; b < Bg; ++b) perms.push_back(at::randperm(A, gen, at::kLong));
        at::Tensor perm = slots ? at::arange(A, at::kLong).expand({B, A}) : at::stack(perms).narrow(0, b0, B);
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
            d.image = view_tokens(off.index_select(0, gi) + view);
            cb.image = d.image;
        }
        auto cshape = g.model->context_shape(cb, Bg);
        at::Tensor du = at::rand(cshape, gen, f32);
        if (training) d.dropout_u = du.narrow(0, b0, B);
        const bool trick = training && cfg.completion_trick && !image;  // image models: never (as the original)
        if (cfg.objective == Objective::kFlowMatching) {
            d.cfm.x0 = at::randn({Bg, A, C}, gen, f32).narrow(0, b0, B);
            d.cfm.t = at::rand({Bg}, gen, f32).narrow(0, b0, B);
            if (cfg.time_sampling == TimeSampling::kLogitNormal) {  // σ(Φ⁻¹(u)): the same uniforms, mapped
                at::Tensor u = d.cfm.t.to(at::kDouble).clamp(1e-6, 1 - 1e-6);
                d.cfm.t = at::sigmoid(std::sqrt(2.0) * at::erfinv(2 * u - 1)).to(at::kFloat);
            }
            d.cfm.pair_draws = at::randint(A, {Bg, A}, gen, at::kLong).narrow(0, b0, B);
            if (cfg.ot_pairs == OtPairs::kPermutation) d.cfm.pair_draws = at::arange(A, at::kLong).expand({B, A}).contiguous();
            d.cfm.ot = !slots;
            double u = at::rand({1}, gen, at::kDouble).item<double>();
            at::Tensor ru = at::rand({Bg, A, C}, gen, f32).narrow(0, b0, B);
            if (trick) {
                d.cfm.replace_p = completion_probability(u);
                d.cfm.replace_u = ru;
            }
        } else {
            d.edm_sigma =
                (at::randn({Bg}, gen, at::kDouble) * cfg.edm_p_std + cfg.edm_p_mean).exp().to(at::kFloat).narrow(0, b0, B);
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
        if (cfg.objective == Objective::kFlowMatching) {
            CfmPairs p = cfm_pairs(d.x1, d.cfm);
            if (ot_seconds) *ot_seconds = p.ot_seconds;
            at::Tensor out = net->forward(p.x_t, p.t, ctx);
            if (cfg.prediction == Prediction::kData) {  // x̂1 against the paired data rows x1 = x_t + (1 − t)·u
                at::Tensor x1 = p.x_t + (1 - p.t.reshape({-1, 1, 1})) * p.target;
                return (out - x1).pow(2).mean();
            }
            return (out - p.target).pow(2).mean();
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

    /// What warm-up and EMA ramp count at optimizer step s: optimizer steps, or (train.schedule_unit:
    /// micro_batches, the original's way) micro-batches, s · accumulate.
    double schedule_units(int64_t s) const {
        return static_cast<double>(cfg.schedule_unit == ScheduleUnit::kMicroBatches ? s * cfg.accumulate : s);
    }
    double lr_at(int64_t s) const {
        double lr_eff =
            cfg.lr * static_cast<double>(cfg.batch_size * world * cfg.accumulate) / static_cast<double>(cfg.lr_batch_size);
        if (cfg.warmup_steps > 0) lr_eff *= std::min(1.0, schedule_units(s) / static_cast<double>(cfg.warmup_steps));
        if (cfg.lr_schedule == LrSchedule::kCosine && s > cfg.warmup_steps && cfg.steps > cfg.warmup_steps) {
            const double f =
                std::min(1.0, static_cast<double>(s - cfg.warmup_steps) / static_cast<double>(cfg.steps - cfg.warmup_steps));
            lr_eff *= 0.5 * (1 + std::cos(M_PI * f));
        }
        return lr_eff;
    }
    double ema_decay_at(int64_t s) const {
        double f = cfg.ema_ramp_steps > 0 ? std::min(1.0, schedule_units(s) / static_cast<double>(cfg.ema_ramp_steps)) : 1.0;
        return cfg.ema_start + (cfg.ema_end - cfg.ema_start) * f;
    }
};

}  // namespace mash::models
