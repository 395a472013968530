// SPDX-License-Identifier: MIT
#include "models/generator.h"

#include <ATen/ATen.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/formats/pickle.h"
#include "mash/formats/zip.h"
#include "models/assignment.h"
#include "models/diffusion.h"

namespace mash::models {

DenoiserOptions Generator::denoiser_options() const {
    DenoiserOptions o;
    o.channels = layout.channels();
    o.width = config.width;
    o.depth = config.depth;
    o.heads = config.heads;
    o.time_channels = config.time_channels;
    o.context_dim = config.context_dim;
    o.condition = config.condition;
    o.num_categories = std::max<int64_t>(1, static_cast<int64_t>(categories.size()));
    o.cond_dropout = config.cond_dropout;
    o.image_dim = config.image_dim;
    o.image_projection = config.image_projection == ImageProjection::kLinear;
    o.slots = config.anchor_order == AnchorOrder::kCanonical ? num_anchors : 0;
    return o;
}

namespace {
void copy_params(torch::nn::Module& dst, const torch::nn::Module& src) {
    torch::NoGradGuard g;
    auto d = dst.named_parameters(), s = src.named_parameters();
    for (auto& kv : s) d[kv.key()].copy_(kv.value());
}
}  // namespace

Generator Generator::create(const TrainConfig& cfg, const TokenLayout& layout, int64_t num_anchors,
                            std::vector<std::string> categories, QuantileNormalizer normalizer) {
    Generator g;
    g.config = cfg;
    g.layout = layout;
    g.num_anchors = num_anchors;
    g.categories = std::move(categories);
    g.normalizer = std::move(normalizer);
    torch::manual_seed(cfg.seed);
    g.model = Denoiser(g.denoiser_options());
    g.ema = Denoiser(g.denoiser_options());
    copy_params(*g.ema, *g.model);
    for (auto& p : g.ema->parameters()) p.set_requires_grad(false);
    return g;
}

int64_t Generator::category_index(const std::string& name) const {
    for (size_t i = 0; i < categories.size(); ++i)
        if (categories[i] == name) return static_cast<int64_t>(i);
    // A ShapeNet synset id ("03001627") names its usual category ("chair").
    const std::string usual = dataset::shapenet_category_name(name);
    if (usual != name)
        for (size_t i = 0; i < categories.size(); ++i)
            if (categories[i] == usual) return static_cast<int64_t>(i);
    std::string known;
    for (const auto& c : categories) known += (known.empty() ? "" : ", ") + c;
    throw InputError("unknown category '" + name + "' (this model knows: " + known + ")");
}

void Generator::save(const std::string& path, torch::optim::Optimizer* optimizer, bool ema_only) const {
    torch::serialize::OutputArchive ar, m, e, meta;
    ema->save(e);
    ar.write("ema", e);
    if (!ema_only) {
        model->save(m);
        ar.write("model", m);
    }
    if (optimizer && !ema_only) {
        torch::serialize::OutputArchive o;
        optimizer->save(o);
        ar.write("optimizer", o);
    }
    meta.write("format", c10::IValue(std::string("mash-generator-checkpoint")));
    meta.write("version", c10::IValue(int64_t(1)));
    meta.write("step", c10::IValue(step));
    meta.write("config", c10::IValue(config.to_yaml()));
    meta.write("normalizer", c10::IValue(normalizer.to_json()));
    meta.write("categories", c10::IValue(nlohmann::json(categories).dump()));
    meta.write("num_anchors", c10::IValue(num_anchors));
    meta.write("mask_degree", c10::IValue(layout.mask_degree));
    meta.write("sh_degree", c10::IValue(layout.sh_degree));
    ar.write("meta", meta);
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    try {
        ar.save_to(tmp);
    } catch (const std::exception& ex) {
        std::remove(tmp.c_str());
        throw IoError(path + ": cannot write checkpoint: " + ex.what());
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw IoError(path + ": cannot write checkpoint: " + ec.message());
    }
}

namespace {
/// Module::load does not check shapes (it replaces each tensor by the stored one): check every
/// parameter and buffer against the freshly built module, and that the weights are finite.
template <class Bad>
void load_checked(Denoiser& net, torch::serialize::InputArchive& ar, const std::string& which, const Bad& bad) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> want;
    for (const auto& p : net->named_parameters()) want.emplace_back(p.key(), p.value().sizes().vec());
    for (const auto& b : net->named_buffers()) want.emplace_back(b.key(), b.value().sizes().vec());
    net->load(ar);
    std::map<std::string, at::Tensor> got;
    for (const auto& p : net->named_parameters()) got[p.key()] = p.value();
    for (const auto& b : net->named_buffers()) got[b.key()] = b.value();
    for (const auto& [name, shape] : want) {
        const at::Tensor& t = got[name];
        if (!t.defined() || t.sizes().vec() != shape || t.scalar_type() != at::kFloat)
            throw bad(which + "." + name + " has the wrong shape or type for the stored config");
        if (!at::isfinite(t).all().item<bool>()) throw bad(which + "." + name + " holds non-finite values");
    }
}
}  // namespace

Generator Generator::load(const std::string& path) {
    if (!std::filesystem::is_regular_file(path)) throw IoError(path + ": checkpoint not found");
    auto bad = [&](const std::string& why) {
        return IoError(path + ": not a usable mash generator checkpoint: " + why +
                       " (expected a checkpoint.pt written by `mash train`)");
    };
    Generator g;
    try {
        // Our own checks first (LibTorch's reader trusts sizes and memo indices from the file), then
        // LibTorch reads the same bytes.
        const auto bytes = read_file(path);
        for (const auto& e : formats::read_zip(bytes.data(), bytes.size(), path))
            if (e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".pkl") == 0)
                formats::check_pickle(e.data.data(), e.data.size(), e.name);
        torch::serialize::InputArchive ar, meta;
        ar.load_from(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (!ar.try_read("meta", meta)) throw bad("no 'meta' record");
        c10::IValue v;
        auto get = [&](const char* key) {
            if (!meta.try_read(key, v)) throw bad(std::string("missing meta.") + key);
            return v;
        };
        auto integer = [&](const char* key, int64_t lo, int64_t hi) {
            const c10::IValue x = get(key);
            if (!x.isInt() || x.toInt() < lo || x.toInt() > hi)
                throw bad(std::string("meta.") + key + " is not an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
            return x.toInt();
        };
        auto text = [&](const char* key) {
            const c10::IValue x = get(key);
            if (!x.isString()) throw bad(std::string("meta.") + key + " is not a string");
            return x.toStringRef();
        };
        if (text("format") != "mash-generator-checkpoint") throw bad("wrong format tag");
        if (integer("version", 0, 1 << 20) != 1) throw bad("unsupported version");
        g.step = integer("step", 0, std::numeric_limits<int64_t>::max());
        g.config = parse_train_config(text("config"), "stored config");
        // Checkpoints written before the recipe settings existed (they came together) used the
        // paper's procedure.
        if (text("config").find("anchor_order:") == std::string::npos) use_paper_recipe(g.config);
        // Image models from before the preprocessing setting composited transparent views onto white.
        if (text("config").find("image_alpha:") == std::string::npos) g.config.image_alpha = ImageAlpha::kWhite;
        g.normalizer = QuantileNormalizer::from_json(text("normalizer"), "stored normalizer");
        nlohmann::json cats = nlohmann::json::parse(text("categories"));
        if (!cats.is_array()) throw bad("meta.categories is not a JSON list");
        for (const auto& c : cats) {
            if (!c.is_string()) throw bad("meta.categories holds a non-string");
            g.categories.push_back(c.get<std::string>());
        }
        g.num_anchors = integer("num_anchors", 1, 1 << 20);
        g.layout.mask_degree = integer("mask_degree", 0, 10);
        g.layout.sh_degree = integer("sh_degree", 0, 6);
        if (g.normalizer.dims() != g.layout.channels())
            throw bad("the normalizer has " + std::to_string(g.normalizer.dims()) + " columns, the token layout " +
                      std::to_string(g.layout.channels()));
        if (g.config.condition == ConditionKind::kCategory && g.categories.empty())
            throw bad("a category model without categories");
        g.model = Denoiser(g.denoiser_options());
        g.ema = Denoiser(g.denoiser_options());
        torch::serialize::InputArchive m, e;
        if (!ar.try_read("ema", e)) throw bad("missing EMA weights");
        load_checked(g.ema, e, "ema", bad);
        if (ar.try_read("model", m)) {
            load_checked(g.model, m, "model", bad);
        } else {  // an EMA-only model file (mash train's model.pt): the raw weights are the EMA's
            g.ema_only = true;
            copy_params(*g.model, *g.ema);
        }
        for (auto& p : g.ema->parameters()) p.set_requires_grad(false);
    } catch (const IoError& e) {
        const std::string w = e.what();
        if (w.find("not a usable mash generator checkpoint") != std::string::npos) throw;
        throw bad(w);
    } catch (const std::exception& ex) {
        std::string w = ex.what();
        throw bad(w.substr(0, w.find('\n')));
    }
    return g;
}

void Generator::load_optimizer(const std::string& path, torch::optim::Optimizer& optimizer) const {
    try {
        torch::serialize::InputArchive ar, o;
        ar.load_from(path);
        if (!ar.try_read("optimizer", o)) throw IoError(path + ": checkpoint holds no optimizer state (cannot resume exactly)");
        optimizer.load(o);
    } catch (const mash::Error&) {
        throw;
    } catch (const std::exception& ex) {
        std::string w = ex.what();
        throw IoError(path + ": cannot restore optimizer state: " + w.substr(0, w.find('\n')));
    }
}

namespace {

// The flow-matching sampler's field dx/dt: the network's velocity, or for data-prediction models
// the velocity (x̂1 − x)/(1 − t) towards its predicted data.
VelocityFn flow_field(Denoiser& net, const TrainConfig& cfg, const at::Tensor& ctx, int64_t B, const at::TensorOptions& opts,
                      const at::Tensor& slot_order) {
    const bool data = cfg.prediction == Prediction::kData;
    return [&net, ctx, B, opts, slot_order, data](const at::Tensor& xs, double t) {
        at::Tensor out = net->forward(xs, at::full({B}, t, opts), ctx, slot_order);
        if (data) return (out - xs) / std::max(1.0 - t, 1e-4);
        return out;
    };
}

}  // namespace

OdeTrajectory sample_trajectory(Generator& g, const at::Tensor& x_init, const ConditionBatch& cond, const at::Tensor& query_t,
                                int64_t fixed_rows, bool use_ema) {
    torch::NoGradGuard ng;
    if (g.config.objective != Objective::kFlowMatching)
        throw InputError("sample-net: the checkpoint's objective is " + config::name(g.config.objective) +
                         " (expected a flow-matching model)");
    if (g.config.anchor_order == AnchorOrder::kCanonical)
        throw InputError(
            "sample-net: the checkpoint has anchor slots (model.anchor_order: canonical); the original's sampler "
            "runs on models without them (expected an imported or paper-preset model)");
    Denoiser net = use_ema ? g.ema : g.model;
    net->eval();
    const auto opts = net->model->proj_in->weight.options();
    const int64_t B = x_init.size(0);
    ConditionBatch c;
    if (cond.category.defined()) c.category = cond.category.to(opts.device());
    if (cond.image.defined()) c.image = cond.image.to(opts);
    const at::Tensor ctx = net->context(c, B);
    OdeTrajectory out;
    out.states = odeint_dopri5(freeze_rows(flow_field(net, g.config, ctx, B, opts, at::Tensor()), fixed_rows), x_init.to(opts),
                               query_t, g.config.rtol, g.config.atol, &out.stats);
    return out;
}

SampleResult sample(Generator& g, const SampleRequest& r) {
    torch::NoGradGuard ng;
    auto t0 = std::chrono::steady_clock::now();
    Denoiser net = r.use_ema ? g.ema : g.model;
    net->eval();
    const int64_t A = g.num_anchors, C = g.layout.channels(), B = r.num;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(r.seed);
    auto opts = net->model->proj_in->weight.options();
    at::Tensor x;
    if (r.noise.defined()) {
        if (r.noise.dim() != 3 || r.noise.size(0) != B || r.noise.size(1) != A || r.noise.size(2) != C)
            throw InputError("noise: shape [" + std::to_string(r.noise.size(0)) + ", ...] does not fit (expected [" +
                             std::to_string(B) + ", " + std::to_string(A) + ", " + std::to_string(C) +
                             "]: samples, anchors, token width)");
        x = r.noise.to(opts).clone();
    } else {
        x = at::randn({B, A, C}, gen, at::TensorOptions().dtype(at::kFloat)).to(opts);
    }
    int64_t K = 0;
    at::Tensor fixed_norm;
    if (r.fixed_tokens.defined()) {
        K = r.fixed_tokens.size(0);
        if (K > A || r.fixed_tokens.size(1) != C)
            throw InputError("frozen anchors: got " + std::to_string(K) + " x " + std::to_string(r.fixed_tokens.size(1)) +
                             ", the model takes at most " + std::to_string(A) + " anchors of " + std::to_string(C) + " values");
        fixed_norm = g.normalizer.forward(r.fixed_tokens.to(at::kDouble)).to(opts);
        x.narrow(1, 0, K).copy_(fixed_norm.unsqueeze(0).expand({B, K, C}));
    }
    ConditionBatch cond;
    if (!r.categories.empty()) cond.category = at::tensor(r.categories, at::kLong);
    if (r.image_tokens.defined()) cond.image = r.image_tokens;
    at::Tensor ctx = net->context(cond, B);
    SampleResult res;
    const Objective obj = g.config.objective;
    const int64_t steps = r.steps > 0 ? r.steps : g.config.sample_steps;
    at::Tensor slot_order;  // models with anchor slots: which slot each row takes
    if (K > 0 && g.config.anchor_order == AnchorOrder::kCanonical) {
        // The frozen anchors need slots: a first, unconstrained sample from the same noise shows
        // where the model puts each part; every frozen anchor takes the slot of the sample's row
        // nearest to it (an optimal one-to-one assignment), and those slots come first.
        SampleRequest free = r;
        free.fixed_tokens = at::Tensor();
        const at::Tensor x_free = sample(g, free).normalized.to(at::kCPU, at::kDouble);
        const at::Tensor fixed64 = fixed_norm.to(at::kCPU, at::kDouble);
        slot_order = at::empty({B, A}, at::kLong);
        for (int64_t b = 0; b < B; ++b) {
            at::Tensor cost = at::zeros({A, A}, at::kDouble);
            cost.narrow(0, 0, K).copy_(at::cdist(fixed64, x_free[b]).pow(2));
            const auto assign = linear_assignment(cost.contiguous().data_ptr<double>(), A);
            std::vector<char> taken(A, 0);
            int64_t* o = slot_order[b].data_ptr<int64_t>();
            for (int64_t i = 0; i < K; ++i) o[i] = assign[i], taken[assign[i]] = 1;
            for (int64_t j = 0, k = K; j < A; ++j)
                if (!taken[j]) o[k++] = j;
        }
        slot_order = slot_order.to(opts.device());
    }
    if (obj == Objective::kFlowMatching) {
        const Solver solver = r.solver.value_or(g.config.solver);
        VelocityFn f = flow_field(net, g.config, ctx, B, opts, slot_order);
        res.normalized = integrate(freeze_rows(f, K), x, solver, steps, g.config.rtol, g.config.atol, &res.stats);
        if (K > 0) res.normalized.narrow(1, 0, K).copy_(x.narrow(1, 0, K));  // dopri5's dense output rounds them
    } else {
        EdmOptions eo;
        eo.sigma_data = g.config.edm_sigma_data;
        auto denoise = [&](const at::Tensor& xs, double sigma) {
            at::Tensor s = at::full({B}, sigma, opts);
            auto sc = edm_scalings(s, eo.sigma_data);
            auto b3 = [&](const at::Tensor& v) { return v.reshape({B, 1, 1}); };
            return b3(sc.c_skip) * xs + b3(sc.c_out) * net->forward(b3(sc.c_in) * xs, sc.c_noise, ctx, slot_order);
        };
        at::Tensor fixed_noise;
        if (K > 0) fixed_noise = at::randn({B, K, C}, gen, at::TensorOptions().dtype(at::kFloat)).to(opts);
        res.normalized =
            edm_sample(denoise, x, steps, eo, K > 0 ? fixed_norm : at::Tensor(), fixed_noise, &res.stats).to(at::kFloat);
    }
    res.tokens = g.normalizer.inverse(res.normalized.to(at::kCPU, at::kDouble));
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace mash::models
