// SPDX-License-Identifier: MIT
// The `mash train` run loop: config and resume, process group, logging, metrics, previews,
// checkpoints and the time limit.
#include "models/train_run.h"

#include <ATen/ATen.h>
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
#include "mash/core/files.h"
#include "mash/core/timing.h"
#include "mash/pictures/plot.h"
#include "models/distributed.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/preview.h"
#include "models/trainer.h"

namespace fs = std::filesystem;

namespace mash::models {

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
    write_file_atomic(path, std::vector<uint8_t>(all.begin(), all.end()));
}

void append_line(const std::string& path, const nlohmann::json& j) {
    std::ofstream out(path, std::ios::app);
    out << j.dump() << "\n";
}

/// The run's config: the file's, or the checkpoint's when resuming; then the --set overrides.
TrainConfig resolve_config(const TrainRun& run, const std::string& out, const std::string& ckpt) {
    TrainConfig cfg = load_train_config(run.config_path);
    if (run.resume) {
        if (!fs::exists(ckpt)) throw IoError(ckpt + ": no checkpoint to resume from (run without --resume to start)");
        cfg = Generator::load(ckpt).config;  // the stored config wins; --set may change e.g. train.steps
    } else if (fs::exists(ckpt)) {
        throw IoError(out + ": already holds a checkpoint; pass --resume to continue it or choose another --output");
    }
    for (const auto& o : run.overrides) apply_train_override(cfg, o);
    return cfg;
}

/// The MASH files (and views, for image models) split into training and validation shapes.
/// Sets cfg.image_dim from the encoder's sidecar when a new image model starts.
void load_splits(TrainConfig& cfg, bool resume, bool main_rank, MashSet& train, MashSet& val) {
    MashSet all = load_mash_folder(cfg.data_root, cfg.normalize, cfg.categories);
    if (cfg.condition == ConditionKind::kImage) {
        int64_t dropped = attach_images(all, cfg.image_root);
        if (main_rank && dropped > 0)
            spdlog::warn("train: {} shapes have no images under {} and are skipped", dropped, cfg.image_root);
        if (!resume) cfg.image_dim = read_encoder_sidecar(cfg.encoder).width;  // the encoder itself loads once, in Trainer
    }
    std::vector<int64_t> tr, va;
    split_train_val(all, cfg.val_fraction, cfg.max_val_shapes, cfg.seed, tr, va);
    train = all.subset(tr);
    val = all.subset(va);
    if (main_rank) {
        spdlog::info("train: {} shapes in {} ({} categories: {}), {} train / {} validation{}, {} anchors x {} values", all.size(),
                     cfg.data_root, all.category_names.size(), fmt::join(all.category_names, ", "), train.size(), val.size(),
                     val.size() == 0 ? " (validating on the training shapes)" : "", all.tokens.size(1), all.layout.channels());
    }
}

/// OUT/normalizer.json, config.resolved.yaml and split.json.
void write_run_files(const std::string& out, const TrainConfig& cfg, const Generator& G, const MashSet& train,
                     const MashSet& val) {
    fs::create_directories(fs::path(out) / "samples");
    G.normalizer.save((fs::path(out) / "normalizer.json").string());
    std::string y = cfg.to_yaml();
    write_file_atomic((fs::path(out) / "config.resolved.yaml").string(), std::vector<uint8_t>(y.begin(), y.end()));
    nlohmann::json split;
    split["train"] = train.keys;
    split["validation"] = val.keys;
    std::string sp = split.dump(1);
    write_file_atomic((fs::path(out) / "split.json").string(), std::vector<uint8_t>(sp.begin(), sp.end()));
}

/// OUT/samples/step_NNNNNNN.png: a few shapes sampled with the EMA weights (a failure is a warning).
void render_validation_samples(const TrainConfig& cfg, Trainer& trainer, const std::string& out, int64_t step) {
    if (cfg.val_samples <= 0) return;
    Generator& G = trainer.generator();
    SampleRequest r;
    r.num = cfg.val_samples;
    r.seed = 777;
    if (cfg.condition == ConditionKind::kCategory)
        for (int64_t i = 0; i < r.num; ++i) r.categories.push_back(i % static_cast<int64_t>(G.categories.size()));
    if (cfg.condition == ConditionKind::kImage) r.image_tokens = trainer.validation_image_tokens(r.num);
    try {
        auto res = sample(G, r);
        std::vector<MashParams> shapes;
        for (int64_t i = 0; i < r.num; ++i) shapes.push_back(mash_from_tokens(res.tokens[i], G.layout));
        char name[64];
        std::snprintf(name, sizeof name, "step_%07lld.png", static_cast<long long>(step));
        render_mash_grid((fs::path(out) / "samples" / name).string(), shapes, 2, 200, 2, cfg.val_render_points);
    } catch (const mash::Error& e) {
        spdlog::warn("train: validation samples at step {} failed: {}", step, e.what());
    }
}

/// OUT/loss.png: training and validation loss.
void write_loss_plot(const TrainConfig& cfg, const MetricsLog& log, const std::string& out) {
    std::vector<pictures::PlotSeries> series;
    pictures::PlotSeries a{"train loss", log.step, log.loss, {31, 119, 180}};
    series.push_back(a);
    if (!log.vstep.empty()) series.push_back({"validation loss (EMA)", log.vstep, log.vloss, {214, 39, 40}});
    pictures::PlotOptions po;
    po.title = "mash train: " + config::name(cfg.objective) + " loss";
    po.y_label = "loss";
    pictures::write_line_plot_png((fs::path(out) / "loss.png").string(), series, po);
}

/// Steps since the last log line: mean loss and time shares.
struct StepTally {
    double loss = 0, time = 0, data = 0, ot = 0;
    int64_t n = 0;
    void add(double l, double dt, const Trainer::Timing& tm) {
        loss += l;
        time += dt;
        data += tm.data;
        ot += tm.ot;
        ++n;
    }
};

/// One metrics.jsonl line and one log line for the steps up to `s`.
void log_steps(const TrainConfig& cfg, const Trainer& trainer, const StepTally& t, int64_t s, double elapsed,
               const std::string& metrics, MetricsLog& log) {
    nlohmann::json j;
    j["step"] = s;
    j["loss"] = t.loss / t.n;
    j["lr"] = trainer.lr_at(s - 1);
    j["ema_decay"] = trainer.ema_decay_at(s - 1);
    j["sec_per_step"] = t.time / t.n;
    j["data_frac"] = t.data / t.time;
    j["ot_frac"] = t.ot / t.time;
    j["elapsed_s"] = elapsed;
    append_line(metrics, j);
    log.step.push_back(static_cast<double>(s));
    log.loss.push_back(t.loss / t.n);
    const double eta = (cfg.steps - s) * (t.time / t.n);
    spdlog::info("step {}/{} loss {:.4f} lr {:.3g} {:.3f} s/step (data {:.1f}%, OT {:.1f}%) eta {:.0f} s", s, cfg.steps,
                 t.loss / t.n, trainer.lr_at(s - 1), t.time / t.n, 100 * t.data / t.time, 100 * t.ot / t.time, eta);
}

}  // namespace

int run_training(const TrainRun& run) {
    DistEnv env = DistEnv::from_environment();
    if (run.config_path.empty()) throw ConfigError("mash train: --config is required");
    const std::string out =
        run.output_dir.empty() ? (fs::absolute(run.config_path).parent_path() / "out").string() : run.output_dir;
    const std::string ckpt = (fs::path(out) / "checkpoint.pt").string();
    TrainConfig cfg = resolve_config(run, out, ckpt);

    const std::string device = training_device(run.device, env);
    set_current_device(device);  // before the process group: NCCL binds to the current device
    ProcessGroup pg(env, 300, at::Device(device).is_cuda());
    const bool main_rank = env.rank == 0;
    MashSet train, val;
    load_splits(cfg, run.resume, main_rank, train, val);
    Trainer trainer(cfg, train, val, out, env.rank, env.world_size, env.world_size > 1 ? &pg : nullptr, device);
    Generator& G = trainer.generator();
    if (run.resume) trainer.load_checkpoint(ckpt);
    const std::string metrics = (fs::path(out) / "metrics.jsonl").string();
    MetricsLog log;
    if (main_rank) {
        write_run_files(out, cfg, G, train, val);
        if (run.resume)
            rewrite_metrics(metrics, G.step, log);
        else
            std::remove(metrics.c_str());
        spdlog::info(
            "train: model {} parameters (width {}, depth {}, heads {}), objective {}, condition {}, {} process(es) x "
            "batch {}, effective lr {:.3g}, output {}",
            count_parameters(*G.model), cfg.width, cfg.depth, cfg.heads, config::name(cfg.objective), config::name(cfg.condition),
            env.world_size, cfg.batch_size, trainer.lr_at(cfg.warmup_steps), out);
        if (run.resume) spdlog::info("train: resumed from {} at step {}", ckpt, G.step);
    }

    auto start = std::chrono::steady_clock::now();
    StepTally tally;
    bool stop = false;
    while (G.step < cfg.steps && !stop) {
        auto ts = std::chrono::steady_clock::now();
        double loss = trainer.step();
        if (!std::isfinite(loss))
            throw InputError("train: loss is not finite at step " + std::to_string(G.step) +
                             " (lower train.lr or check the data)");
        tally.add(loss, seconds_since(ts), trainer.last_timing());
        const int64_t s = G.step;
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
            log_steps(cfg, trainer, tally, s, seconds_since(start), metrics, log);
            tally = StepTally{};
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
            render_validation_samples(cfg, trainer, out, s);
            write_loss_plot(cfg, log, out);
        }
        if (main_rank && (s % cfg.checkpoint_every == 0 || last)) trainer.save_checkpoint(ckpt);
    }
    if (main_rank) {
        G.save((fs::path(out) / "model.pt").string(), nullptr, /*ema_only=*/true);
        write_loss_plot(cfg, log, out);
        spdlog::info("train: done at step {} after {:.1f} min{}; checkpoint {} (resumable), model {} (EMA weights, to share)",
                     G.step, seconds_since(start) / 60, stop ? " (time limit)" : "", ckpt, (fs::path(out) / "model.pt").string());
    }
    pg.barrier();
    return 0;
}

}  // namespace mash::models
