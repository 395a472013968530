// SPDX-License-Identifier: MIT
// Generation subcommands: train, generate, eval-gen, render-views, import-original, eval-net, sample-net,
// preprocess-image.
#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/formats/npy.h"
#include "mash/io/geometry_io.h"
#include "mash/io/mash_file.h"
#include "mash/mesh/extract.h"
#include "mash/pictures/render.h"
#include "models/eval_gen.h"
#include "models/generate.h"
#include "models/generator.h"
#include "models/image_encoder.h"
#include "models/original.h"
#include "models/preview.h"
#include "models/train_run.h"
#include "scripts/cli/commands.h"

namespace fs = std::filesystem;

namespace mash::cli {

int run_train(const TrainArgs& a) {
    const std::string device = apply_global_flags(a.global);
    models::TrainRun r;
    r.device = device;
    r.config_path = a.config;
    r.output_dir = a.output;
    r.resume = a.resume;
    r.overrides = a.set;
    return models::run_training(r);
}

namespace {

std::map<std::string, formats::NpyArray> read_npz_arrays(const std::string& path) {
    auto bytes = read_file(path);
    std::map<std::string, formats::NpyArray> in;
    for (auto& [k, v] : formats::parse_npz(bytes.data(), bytes.size(), path)) in[k] = std::move(v);
    return in;
}

at::Tensor array_tensor(const formats::NpyArray& arr, at::ScalarType dtype) {
    return at::tensor(arr.to_double(), at::kDouble).reshape(std::vector<int64_t>(arr.shape.begin(), arr.shape.end())).to(dtype);
}

// Starting noise for `generate --noise`: .npy [num, A, C] or [A, C], or .npz holding x_init.
at::Tensor read_noise(const std::string& path) {
    formats::NpyArray arr;
    const std::string ext = lower_extension(path);
    if (ext == ".npz") {
        auto in = read_npz_arrays(path);
        if (!in.count("x_init"))
            throw InputError(path + ": no 'x_init' array (expected the noise as x_init [num, anchors, width])");
        arr = std::move(in["x_init"]);
    } else if (ext == ".npy") {
        auto bytes = read_file(path);
        arr = formats::parse_npy(bytes.data(), bytes.size(), path);
    } else {
        throw InputError(path + ": unsupported noise file (expected .npy or .npz with x_init)");
    }
    if (arr.shape.size() == 2) arr.shape.insert(arr.shape.begin(), 1);
    if (arr.shape.size() != 3 || arr.kind != 'f')
        throw InputError(path + ": noise must be a float array [num, anchors, width] (expected normalized tokens)");
    return array_tensor(arr, at::kFloat);
}

/// The flags of `generate` that need no checkpoint, checked before it is loaded.
struct GenerateChoices {
    std::optional<models::Solver> solver;
    std::optional<models::EncoderDtype> encoder_dtype;
    std::optional<models::ImageAlpha> image_alpha;
};
GenerateChoices check_generate_flags(const GenerateArgs& a) {
    if (a.output.empty()) throw ConfigError("generate: -o/--output DIR is required");
    if (a.num < 1) throw ConfigError("--num must be >= 1");
#ifdef MASH_WITHOUT_OPEN3D
    if (a.mesh)
        throw ConfigError(
            "generate --mesh: not in this build (configured with MASH_WITH_OPEN3D=OFF; expected a build with Open3D)");
#endif
    GenerateChoices c;
    c.solver = config::flag_choice<models::Solver>(a.solver, "--solver");
    c.encoder_dtype = config::flag_choice<models::EncoderDtype>(a.encoder_dtype, "--encoder-dtype");
    c.image_alpha = config::flag_choice<models::ImageAlpha>(a.image_alpha, "--image-alpha");
    if (!a.complete.empty() && !a.blend.empty()) throw ConfigError("generate: use either --complete or --blend, not both");
    if ((!a.keep_anchors.empty() || !a.keep_box.empty()) && a.complete.empty())
        throw ConfigError("generate: --keep-anchors/--keep-box select anchors of --complete FILE");
    if (!a.keep_anchors.empty() && !a.keep_box.empty())
        throw ConfigError("generate: give --keep-anchors or --keep-box, not both");
    return c;
}

/// --noise, checked against the checkpoint; sets `num` to its sample count.
at::Tensor starting_noise(const GenerateArgs& a, const models::Generator& g, int64_t& num) {
    if (a.noise.empty()) return {};
    at::Tensor noise = read_noise(a.noise);
    if (noise.size(1) != g.num_anchors || noise.size(2) != g.layout.channels())
        throw InputError(a.noise + ": noise of " + std::to_string(noise.size(1)) + " x " + std::to_string(noise.size(2)) +
                         " (expected " + std::to_string(g.num_anchors) + " anchors x " + std::to_string(g.layout.channels()) +
                         " values, the checkpoint's)");
    if (a.num_given && a.num != noise.size(0))
        throw ConfigError("--num " + std::to_string(a.num) + " but " + a.noise + " holds " + std::to_string(noise.size(0)) +
                          " samples (expected them to agree, or leave out --num)");
    num = noise.size(0);
    return noise;
}

/// (name, category index or −1) of each batch to generate: every category (or --category) of a
/// category model, the image's name for an image model, "sample" for an unconditional one.
std::vector<std::pair<std::string, int64_t>> generation_batches(const GenerateArgs& a, const models::Generator& g) {
    std::vector<std::pair<std::string, int64_t>> cats;
    if (g.config.condition == models::ConditionKind::kImage) {
        if (!a.category.empty()) throw ConfigError("generate: --category given but the model is image-conditioned");
        cats.emplace_back(fs::path(a.image).stem().string(), -1);
    } else if (g.config.condition == models::ConditionKind::kCategory) {
        if (a.category.empty() || a.category == "all") {
            for (size_t i = 0; i < g.categories.size(); ++i) cats.emplace_back(g.categories[i], static_cast<int64_t>(i));
        } else {
            const int64_t ci = g.category_index(a.category);
            cats.emplace_back(g.categories[ci], ci);
        }
    } else {
        if (!a.category.empty()) throw ConfigError("generate: --category given but the model is unconditional");
        cats.emplace_back("sample", -1);
    }
    return cats;
}

/// The MASH files whose anchors are kept: --complete (one, with --keep-anchors / --keep-box) or --blend.
std::vector<models::AnchorSource> anchor_sources(const GenerateArgs& a) {
    std::vector<models::AnchorSource> parts;
    if (!a.complete.empty()) {
        std::string sel = !a.keep_box.empty() ? "box=" + a.keep_box : (a.keep_anchors.empty() ? "all" : a.keep_anchors);
        parts.push_back({io::load_mash(a.complete), sel, a.complete});
    }
    for (const auto& b : a.blend) {
        auto colon = b.find(':');
        std::string path = b.substr(0, colon), sel = colon == std::string::npos ? "all" : b.substr(colon + 1);
        parts.push_back({io::load_mash(path), sel, path});
    }
    return parts;
}

/// BASE.npz, and with --points / --mesh BASE.ply / BASE_mesh.ply; their names go into `js`.
void write_generated_shape(const GenerateArgs& a, const MashParams& p, const std::string& base, uint64_t seed,
                           nlohmann::json& js) {
    io::save_mash(base + ".npz", p);
    js["file"] = base + ".npz";
    if (a.points > 0) {
        auto pts = models::mash_points(p, 1 << 30);
        io::PointCloud pc;
        pc.points = pts;
        io::random_subset(pc, a.points, seed);
        io::save_points(base + ".ply", pc.points, {});
        js["points"] = base + ".ply";
    }
#ifndef MASH_WITHOUT_OPEN3D
    if (a.mesh) {
        auto s = mesh::mash_oriented_samples(p);
        mesh::PoissonOptions po;
        po.depth = a.mesh_depth;
        mesh::save_mesh(base + "_mesh.ply", mesh::poisson(s.points, s.normals, po));
        js["mesh"] = base + "_mesh.ply";
    }
#endif
}

}  // namespace

int run_generate(const GenerateArgs& a) {
    const std::string device = apply_global_flags(a.global);
    const GenerateChoices choices = check_generate_flags(a);
    auto g = models::Generator::load(a.checkpoint);
    if (a.raw && g.ema_only)
        throw ConfigError("--raw: " + a.checkpoint +
                          " holds only the EMA weights (use the training's checkpoint.pt for the raw ones)");
    int64_t num = a.num;
    const at::Tensor noise = starting_noise(a, g, num);
    if (device != "cpu") {
        g.model->to(at::Device(device));
        g.ema->to(at::Device(device));
    }
    spdlog::info("generate: {} (step {}, objective {}, condition {}, {} anchors)", a.checkpoint, g.step,
                 config::name(g.config.objective), config::name(g.config.condition), g.num_anchors);
    const bool image_model = g.config.condition == models::ConditionKind::kImage;
    if (image_model && (a.image.empty() || a.encoder.empty()))
        throw ConfigError("generate: this checkpoint is image-conditioned; pass --image PHOTO and --encoder ENCODER.pt");
    if (!image_model && !a.image.empty())
        throw ConfigError("generate: --image needs an image-conditioned checkpoint (model.condition: image)");
    at::Tensor image_tokens;
    if (image_model) image_tokens = models::image_condition(g, a.image, a.encoder, choices.encoder_dtype, choices.image_alpha);
    const auto cats = generation_batches(a, g);
    const models::FrozenAnchors fz = models::frozen_anchors(g, anchor_sources(a));
    const int64_t K = fz.count();
    if (K > 0)
        spdlog::info("generate: {} frozen anchors from {}, {} generated{}", K, fmt::join(fz.sources, " + "), g.num_anchors - K,
                     g.config.normalize == models::Normalize::kBox
                         ? " (inputs normalized like the training data: anchor box centred, longest side 1; "
                           "selections refer to the file's own coordinates)"
                         : "");
    fs::create_directories(a.output);
    nlohmann::json report;
    report["checkpoint"] = a.checkpoint;
    report["step"] = g.step;
    report["seed"] = a.seed;
    if (!a.noise.empty()) report["noise"] = a.noise;
    report["frozen_anchors"] = K;
    report["shapes"] = nlohmann::json::array();
    std::vector<MashParams> all_shapes;
    double total_s = 0;
    int64_t total_n = 0;
    for (size_t ci = 0; ci < cats.size(); ++ci) {
        models::SampleRequest r;
        r.num = num;
        r.seed = a.seed + 1000003ull * ci;
        r.steps = a.steps;
        r.solver = choices.solver;
        r.use_ema = !a.raw;
        if (cats[ci].second >= 0) r.categories.assign(num, cats[ci].second);
        if (image_model) r.image_tokens = image_tokens.expand({num, image_tokens.size(1), image_tokens.size(2)}).contiguous();
        if (K > 0) r.fixed_tokens = models::tokens_from_mash(fz.params);
        r.noise = noise;
        auto res = models::sample(g, r);
        if (a.save_normalized) {
            const at::Tensor n = res.normalized.to(at::kCPU, at::kFloat).contiguous();
            const std::string path = (fs::path(a.output) / (cats[ci].first + "_normalized.npy")).string();
            write_file_atomic(path, formats::serialize_npy(formats::NpyArray::from_float(
                                        std::vector<float>(n.data_ptr<float>(), n.data_ptr<float>() + n.numel()),
                                        {n.size(0), n.size(1), n.size(2)})));
        }
        total_s += res.seconds;
        total_n += num;
        spdlog::info("generate: {} x {} in {:.1f} s ({} network evaluations)", num, cats[ci].first, res.seconds, res.stats.nfe);
        if (K > 0) {  // the sampler keeps the frozen rows bit-exact in normalized space
            at::Tensor fixed_norm = g.normalizer.forward(r.fixed_tokens).to(at::kFloat);
            bool exact = at::equal(res.normalized.narrow(1, 0, K).contiguous(),
                                   fixed_norm.unsqueeze(0).expand({num, K, fixed_norm.size(1)}).contiguous());
            report["frozen_rows_bit_exact"] = exact;
        }
        for (int64_t i = 0; i < num; ++i) {
            nlohmann::json js;
            double deviation = 0;
            MashParams p = models::generated_shape(res.tokens[i], g, fz, &deviation);
            if (K > 0) {
                js["frozen_max_deviation_roundtrip"] = deviation;
                js["frame"] = "input";
            }
            char name[256];
            std::snprintf(name, sizeof name, "%s_%03lld", cats[ci].first.c_str(), static_cast<long long>(i));
            write_generated_shape(a, p, (fs::path(a.output) / name).string(), a.seed + i, js);
            js["category"] = cats[ci].first;
            report["shapes"].push_back(js);
            all_shapes.push_back(std::move(p));
        }
        report["network_evaluations"] = res.stats.nfe;
    }
    report["seconds_per_shape"] = total_s / static_cast<double>(total_n);
    if (!a.no_render) {
        const std::string png = (fs::path(a.output) / "samples.png").string();
        models::render_mash_grid(png, all_shapes, 2, 240, std::min<int>(4, static_cast<int>(all_shapes.size())));
        report["render"] = png;
        spdlog::info("generate: rendered {}", png);
    }
    std::string js = report.dump(2);
    write_file_atomic((fs::path(a.output) / "generate.json").string(), std::vector<uint8_t>(js.begin(), js.end()));
    if (K > 0 && report["shapes"].size() > 0)
        spdlog::info(
            "generate: frozen anchors bit-exact in the sampler: {}; max round-trip deviation {:.3g} (files hold the exact "
            "inputs)",
            report.value("frozen_rows_bit_exact", false), report["shapes"][0].value("frozen_max_deviation_roundtrip", 0.0));
    spdlog::info("generate: wrote {} shapes to {} ({:.2f} s per shape)", total_n, a.output, total_s / total_n);
    return 0;
}

int run_eval_gen(const EvalGenArgs& a) {
    apply_global_flags(a.global);
    models::GenEvalOptions o;
    o.num_points = a.num_points;
    o.feature_net = a.feature_net;
    o.normalize = a.normalize;
    o.seed = a.seed;
    auto gen = models::list_shape_files(a.generated), ref = models::list_shape_files(a.reference);
    spdlog::info("eval-gen: {} generated vs {} reference shapes, {} points each", gen.size(), ref.size(), a.num_points);
    auto r = models::evaluate_generation(gen, ref, o);
    nlohmann::json j;
    j["generated"] = a.generated;
    j["reference"] = a.reference;
    j["num_generated"] = r.num_generated;
    j["num_reference"] = r.num_reference;
    j["num_points"] = a.num_points;
    j["mmd_cd"] = r.mmd_cd;
    j["cov_cd"] = r.cov_cd;
    j["nna_cd"] = r.nna_cd;
    if (r.has_features) {
        j["fid"] = r.fid;
        j["kid"] = r.kid;
        j["feature_net"] = a.feature_net;
        j["feature_dim"] = r.feature_dim;
    }
    std::printf("MMD-CD   %.6g\nCOV-CD   %.4f\n1-NNA-CD %.4f\n", r.mmd_cd, r.cov_cd, r.nna_cd);
    if (r.has_features) std::printf("FID      %.6g\nKID      %.6g\n", r.fid, r.kid);
    if (!a.json.empty()) {
        std::string s = j.dump(2);
        write_file_atomic(a.json, std::vector<uint8_t>(s.begin(), s.end()));
    }
    return 0;
}

int run_render_views(const RenderViewsArgs& a) {
    apply_global_flags(a.global);
    if (a.input.empty() || a.output.empty()) throw ConfigError("render-views: --input and --output are required");
    if (a.views < 1 || a.views > 360) throw ConfigError("--views: expected 1..360");
    if (a.size < 16 || a.size > 4096) throw ConfigError("--size: expected 16..4096");
    std::vector<std::string> cats;
    if (!a.categories.empty()) {
        std::stringstream ss(a.categories);
        std::string c;
        while (std::getline(ss, c, ',')) cats.push_back(c);
    }
    auto shapes = dataset::discover(a.input, dataset::parse_layout(a.layout), cats);
    if (a.limit > 0 && static_cast<int64_t>(shapes.size()) > a.limit) shapes.resize(a.limit);
    if (shapes.empty()) throw IoError(a.input + ": no shapes found for layout " + a.layout);
    std::mt19937_64 rng(a.seed);
    std::uniform_real_distribution<double> uaz(0.0, 360.0), uel(0.0, 60.0);
    int64_t done = 0, failed = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (const auto& e : shapes) {
        const fs::path dir = fs::path(a.output) / e.category / e.id;
        try {
            io::TriangleMesh m = io::read_mesh(e.source);
            pictures::RenderScene sc;
            sc.vertices = std::move(m.vertices);
            sc.triangles = std::move(m.triangles);
            sc.mesh_color = {200, 200, 205};
            fs::create_directories(dir);
            nlohmann::json cams = nlohmann::json::array();
            for (int k = 0; k < a.views; ++k) {
                pictures::RenderOptions o;
                o.width = o.height = a.size;
                o.views = 1;
                o.azimuth_offset_deg = a.random ? uaz(rng) : 360.0 * k / a.views;
                o.elevation_deg = a.random ? uel(rng) : a.elevation;
                char name[32];
                std::snprintf(name, sizeof name, "%03d.png", k);
                pictures::write_png((dir / name).string(), pictures::render_views(sc, o), a.size, a.size);
                cams.push_back({{"file", name},
                                {"azimuth_deg", o.azimuth_offset_deg},
                                {"elevation_deg", o.elevation_deg},
                                {"projection", "orthographic"},
                                {"up", "+y"},
                                {"framing", "bounding sphere fills 94% of the view"}});
            }
            std::string s = cams.dump(1);
            write_file_atomic((dir / "cameras.json").string(), std::vector<uint8_t>(s.begin(), s.end()));
            ++done;
        } catch (const mash::Error& ex) {
            ++failed;
            spdlog::warn("render-views: {}: {}", e.key(), ex.what());
        }
        if ((done + failed) % 10 == 0 || done + failed == static_cast<int64_t>(shapes.size()))
            spdlog::info("render-views: {}/{} shapes ({} failed), {:.1f} s", done + failed, shapes.size(), failed,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    spdlog::info("render-views: wrote {} views for {} shapes to {} ({} failed)", a.views * done, done, a.output, failed);
    return failed > 0 ? 3 : 0;
}

int run_import_original(const ImportOriginalArgs& a) {
    apply_global_flags(a.global);
    if (lower_extension(a.output) != ".pt")
        throw InputError(a.output + ": unsupported output extension (expected .pt, a mash checkpoint)");
    models::ImportOptions o;
    o.weights = a.weights;
    o.heads = a.heads;
    o.condition = a.condition;
    models::ImportReport r;
    auto g = models::import_original(a.checkpoint, a.normalizer, o, &r);
    spdlog::info(
        "import-original: {} ({} weights): width {}, depth {}, heads {}, context {}, time channels {}, condition {}, "
        "{} categories, {} parameters, step {}",
        a.checkpoint, a.weights, r.width, r.depth, r.heads, r.context_dim, r.time_channels, r.condition, r.num_categories,
        r.parameters, r.step);
    for (const auto& d : r.dropped)
        spdlog::info("import-original: '{}' accepted and not used (the original multiplies it by 0 for image conditions)", d);
    if (a.normalizer.empty())
        spdlog::warn(
            "import-original: no --normalizer: identity normalizer (fine for eval-net; pass the original .pkl to sample shapes)");
    g.save(a.output, nullptr);
    spdlog::info("import-original: wrote {}", a.output);
    return 0;
}

int run_eval_net(const EvalNetArgs& a) {
    const std::string device = apply_global_flags(a.global);
    if (lower_extension(a.output) != ".npz") throw InputError(a.output + ": unsupported output extension (expected .npz)");
    auto g = models::Generator::load(a.checkpoint);
    auto in = read_npz_arrays(a.inputs);
    auto tensor = [&](const std::string& key, at::ScalarType dtype) { return array_tensor(in.at(key), dtype); };
    const int64_t C = g.layout.channels();
    if (!in.count("x") || in["x"].shape.size() != 3 || in["x"].shape[2] != C)
        throw InputError(a.inputs + ": needs 'x' of shape [B, A, " + std::to_string(C) +
                         "] (expected the keys x, t and category or cond_tokens)");
    if (!in.count("t") || in["t"].shape.size() > 1)
        throw InputError(a.inputs + ": needs 't' of shape [B] or [] (t in [0, 1], 0 = noise, 1 = data)");
    at::Tensor x = tensor("x", at::kFloat);
    const int64_t B = x.size(0);
    at::Tensor t = tensor("t", at::kFloat);
    if (t.dim() == 1 && t.size(0) != B)
        throw InputError(a.inputs + ": 't' has " + std::to_string(t.size(0)) + " values (expected " + std::to_string(B) + ")");
    if (t.dim() == 0) t = t.reshape({1});  // as the original's forwardData: a [1] time broadcast over the batch
    models::ConditionBatch cond;
    const auto kind = g.config.condition;
    if (kind == models::ConditionKind::kCategory) {
        if (!in.count("category")) throw InputError(a.inputs + ": a category model needs 'category' (int64 [B])");
        cond.category = tensor("category", at::kLong).reshape({-1});
        if (cond.category.size(0) != B)
            throw InputError(a.inputs + ": 'category' must have B = " + std::to_string(B) + " values");
        const int64_t n = int64_t(std::max<size_t>(1, g.categories.size()));
        if (cond.category.min().item<int64_t>() < 0 || cond.category.max().item<int64_t>() >= n)
            throw InputError(a.inputs + ": 'category' ids must be in [0, " + std::to_string(n) + ")");
    } else if (kind == models::ConditionKind::kImage) {
        if (!in.count("cond_tokens")) throw InputError(a.inputs + ": an image model needs 'cond_tokens' ([B, N, width])");
        cond.image = tensor("cond_tokens", at::kFloat);
        if (cond.image.dim() != 3 || cond.image.size(0) != B || cond.image.size(2) != g.config.image_dim)
            throw InputError(a.inputs + ": 'cond_tokens' must be [" + std::to_string(B) + ", N, " +
                             std::to_string(g.config.image_dim) + "]");
    }
    auto& net = a.raw ? g.model : g.ema;
    net->eval();
    net->to(at::Device(device));
    at::Tensor out;
    {
        torch::NoGradGuard ng;
        cond.category = cond.category.defined() ? cond.category.to(at::Device(device)) : cond.category;
        cond.image = cond.image.defined() ? cond.image.to(at::Device(device)) : cond.image;
        auto ctx = net->context(cond, B);
        out = net->forward(x.to(at::Device(device)), t.to(at::Device(device)), ctx).to(at::kCPU).contiguous();
    }
    std::vector<float> v(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
    formats::NamedArrays o{{"out", formats::NpyArray::from_float(v, {out.size(0), out.size(1), out.size(2)})}};
    write_file_atomic(a.output, formats::serialize_npz(o, false));
    spdlog::info("eval-net: {} ({} weights) on {} [{}, {}, {}] -> wrote {}", a.checkpoint, a.raw ? "raw" : "EMA", a.inputs, B,
                 x.size(1), x.size(2), a.output);
    return 0;
}

int run_sample_net(const SampleNetArgs& a) {
    const std::string device = apply_global_flags(a.global);
    if (lower_extension(a.output) != ".npz") throw InputError(a.output + ": unsupported output extension (expected .npz)");
    auto g = models::Generator::load(a.checkpoint);
    if (a.raw && g.ema_only)
        throw ConfigError("--raw: " + a.checkpoint +
                          " holds only the EMA weights (use the training's checkpoint.pt for the raw ones)");
    auto in = read_npz_arrays(a.inputs);
    const int64_t A = g.num_anchors, C = g.layout.channels();
    const std::string want = "[B, " + std::to_string(A) + ", " + std::to_string(C) + "]";
    if (!in.count("x_init") || in["x_init"].shape.size() != 3 || in["x_init"].shape[1] != A || in["x_init"].shape[2] != C)
        throw InputError(a.inputs + ": needs 'x_init' of shape " + want + " (expected the keys x_init, condition, query_t)");
    const at::Tensor x = array_tensor(in["x_init"], at::kFloat);
    const int64_t B = x.size(0);
    if (!in.count("query_t") || in["query_t"].shape.size() != 1 || in["query_t"].shape[0] < 2)
        throw InputError(a.inputs +
                         ": needs 'query_t' of shape [T], T >= 2 (expected increasing times from 0 = noise to 1 = data)");
    const at::Tensor q =
        array_tensor(in["query_t"], in["query_t"].kind == 'f' && in["query_t"].itemsize == 8 ? at::kDouble : at::kFloat);
    int64_t fixed = 0;
    if (in.count("fixed_rows")) {
        const auto v = in["fixed_rows"].to_double();
        if (v.size() != 1 || v[0] < 0 || v[0] > double(A) || v[0] != std::floor(v[0]))
            throw InputError(a.inputs + ": 'fixed_rows' must be one integer in [0, " + std::to_string(A) + "]");
        fixed = static_cast<int64_t>(v[0]);
    }
    models::ConditionBatch cond;
    const auto kind = g.config.condition;
    if (kind != models::ConditionKind::kNone && !in.count("condition"))
        throw InputError(a.inputs + ": needs 'condition' (category ids int64 [B] or condition tokens [B, N, W])");
    if (kind == models::ConditionKind::kCategory) {
        const auto& c = in["condition"];
        if (c.kind == 'f' || c.shape.size() != 1 || c.shape[0] != B)
            throw InputError(a.inputs + ": 'condition' must be " + std::to_string(B) +
                             " integer category ids (a category model)");
        cond.category = array_tensor(c, at::kLong);
        const int64_t n = int64_t(std::max<size_t>(1, g.categories.size()));
        if (cond.category.min().item<int64_t>() < 0 || cond.category.max().item<int64_t>() >= n)
            throw InputError(a.inputs + ": 'condition' ids must be in [0, " + std::to_string(n) + ")");
    } else if (kind == models::ConditionKind::kImage) {
        const auto& c = in["condition"];
        if (c.kind != 'f' || c.shape.size() != 3 || c.shape[0] != B || c.shape[2] != g.config.image_dim)
            throw InputError(a.inputs + ": 'condition' must be tokens [" + std::to_string(B) + ", N, " +
                             std::to_string(g.config.image_dim) + "] (an image model)");
        cond.image = array_tensor(c, at::kFloat);
    }
    auto& net = a.raw ? g.model : g.ema;
    net->to(at::Device(device));
    formats::NamedArrays out;
    auto put = [&](const std::string& suffix, const models::OdeTrajectory& tr) {
        at::Tensor traj = at::stack(tr.states).to(at::kCPU, at::kFloat).contiguous();
        std::vector<int64_t> shape(traj.sizes().begin(), traj.sizes().end());
        std::vector<float> v(traj.data_ptr<float>(), traj.data_ptr<float>() + traj.numel());
        at::Tensor x1 = traj[-1].contiguous();
        std::vector<float> v1(x1.data_ptr<float>(), x1.data_ptr<float>() + x1.numel());
        out.emplace_back("traj" + suffix, formats::NpyArray::from_float(v, shape));
        out.emplace_back("x1" + suffix, formats::NpyArray::from_float(v1, {B, A, C}));
        out.emplace_back("nfe" + suffix, formats::NpyArray::from_int64({tr.stats.nfe}, {}));
        spdlog::info("sample-net: {}{}: {} network evaluations ({} steps accepted, {} rejected)", a.checkpoint,
                     suffix.empty() ? "" : " (" + std::to_string(fixed) + " fixed rows)", tr.stats.nfe, tr.stats.accepted,
                     tr.stats.rejected);
    };
    put("", models::sample_trajectory(g, x, cond, q, 0, !a.raw));
    if (fixed > 0) {
        put("_fixed", models::sample_trajectory(g, x, cond, q, fixed, !a.raw));
        out.emplace_back("fixed_rows", formats::NpyArray::from_int64({fixed}, {}));
    }
    write_file_atomic(a.output, formats::serialize_npz(out, false));
    spdlog::info("sample-net: wrote {} ({} samples, {} query times)", a.output, B, q.size(0));
    return 0;
}

int run_preprocess_image(const PreprocessImageArgs& a) {
    apply_global_flags(a.global);
    const std::string ext = lower_extension(a.output);
    if (ext != ".png" && ext != ".npy") throw InputError(a.output + ": unsupported output extension (expected .png or .npy)");
    if (a.size < 1 || a.size > 8192) throw ConfigError("--size must be in 1..8192");
    const at::Tensor img = models::load_image_u8(a.image);
    const at::Tensor rgb =
        models::resize_bilinear_pil(models::image_rgb_u8(img, *config::flag_choice<models::ImageAlpha>(a.alpha, "--alpha")),
                                    a.size, a.size)
            .contiguous();
    std::vector<uint8_t> px(rgb.data_ptr<uint8_t>(), rgb.data_ptr<uint8_t>() + rgb.numel());
    if (ext == ".png") {
        pictures::write_png(a.output, px, static_cast<int>(a.size), static_cast<int>(a.size));
    } else {
        formats::NpyArray arr;
        arr.kind = 'u';
        arr.itemsize = 1;
        arr.shape = {a.size, a.size, 3};
        arr.data = std::move(px);
        write_file_atomic(a.output, formats::serialize_npy(arr));
    }
    spdlog::info("preprocess-image: {} ({} x {}, {} channels) -> {} ({} x {} RGB, alpha {})", a.image, img.size(1), img.size(0),
                 img.size(2), a.output, a.size, a.size, a.alpha);
    return 0;
}

// The subcommands of this file and their options (scripts/cli/main.cpp parses and runs them).
namespace {

const Command kTrainCommand(90, [](CLI::App& app) {
    auto a = std::make_shared<TrainArgs>();
    auto* c = app.add_subcommand("train", "Train a MASH generator from a YAML experiment (multi-process via torchrun/Slurm env)");
    c->add_option("--config", a->config, "Experiment YAML (configs/train/, experiments/*/config.yaml)")->required();
    c->add_option("-o,--output", a->output, "Output folder (default: <config folder>/out)");
    c->add_flag("--resume", a->resume, "Continue from OUTPUT/checkpoint.pt (its stored config; --set may change e.g. a->steps)");
    c->add_option("--set", a->set, "Override section.key=value (repeatable), e.g. --set a->steps=200");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_train(*a); }};
});

const Command kGenerateCommand(100, [](CLI::App& app) {
    auto a = std::make_shared<GenerateArgs>();
    auto* c = app.add_subcommand("generate", "Generate MASH shapes from a trained checkpoint (category, completion, blending)");
    c->add_option("--checkpoint", a->checkpoint, "checkpoint.pt written by `mash train`")->required();
    c->add_option("-o,--output", a->output, "Output folder: <category>_<i>.npz, samples.png, generate.json")->required();
    c->add_option("--category", a->category, "Category name, or 'all' (default for category models)");
    auto* gen_num = c->add_option("--num", a->num, "Shapes to generate (per category with 'all')")->capture_default_str();
    c->add_option("--steps", a->steps, "Sampler steps (default: the checkpoint's sample.steps)");
    c->add_option("--solver", a->solver, "euler | heun | dopri5 (flow matching; default: the checkpoint's)");
    c->add_option("--seed", a->seed, "Noise seed")->capture_default_str();
    c->add_option("--complete", a->complete, "Complete this partial MASH: its (selected) anchors stay frozen");
    c->add_option("--keep-anchors", a->keep_anchors, "Anchors of --complete to keep: ranges like 0-99,120");
    c->add_option("--keep-box", a->keep_box, "Keep the anchors of --complete inside xmin,ymin,zmin,xmax,ymax,zmax");
    c->add_option("--blend", a->blend, "FILE[:SEL] parts to blend (repeatable; SEL = ranges or box=...)");
    c->add_option("--points", a->points, "Also write N-point clouds (.ply)");
    c->add_flag("--mesh", a->mesh, "Also write watertight meshes (M+M route, screened Poisson)");
    c->add_option("--mesh-depth", a->mesh_depth, "Poisson depth for --mesh")->capture_default_str();
    c->add_flag("--no-render", a->no_render, "Skip samples.png");
    c->add_flag("--raw", a->raw, "Use the raw weights instead of the EMA weights");
    c->add_option("--noise", a->noise,
                  "Start from this noise instead of --seed's: .npy [num, anchors, width] or .npz with x_init "
                  "(normalized tokens, e.g. a sampling golden of the original)");
    c->add_flag("--save-normalized", a->save_normalized,
                "Also write <category>_normalized.npy: the sampler's output tokens, "
                "still normalized (float32 [num, anchors, width])");
    c->add_option("--encoder-dtype", a->encoder_dtype,
                  "float32 | bfloat16 | float16 (default: the checkpoint's model.encoder_dtype)")
        ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
    c->add_option("--image-alpha", a->image_alpha,
                  "drop | white: a transparent image's alpha (default: the checkpoint's data.image_alpha)")
        ->check(CLI::IsMember({"drop", "white"}));
    c->add_option("--image", a->image, "Condition image (PNG/JPG) for image-conditioned checkpoints");
    c->add_option("--encoder", a->encoder, "TorchScript image encoder (+ .json sidecar), e.g. from scripts/export_dinov2.py");
    add_global_flags(*c, a->global);
    return Runner{c, [a, gen_num](const std::vector<std::string>&) {
                      a->num_given = gen_num->count() > 0;
                      return run_generate(*a);
                  }};
});

const Command kEvalGenCommand(110, [](CLI::App& app) {
    auto a = std::make_shared<EvalGenArgs>();
    auto* c =
        app.add_subcommand("eval-gen", "Generation metrics: MMD-CD, COV-CD, 1-NNA (+ FID/KID with a TorchScript feature net)");
    c->add_option("generated", a->generated, "Folder of generated shapes (MASH / mesh / points)")->required();
    c->add_option("reference", a->reference, "Folder of reference shapes")->required();
    c->add_option("--num-points", a->num_points, "Points per shape")->capture_default_str();
    c->add_option("--feature-net", a->feature_net, "TorchScript network [B,N,3] -> [B,F] for FID/KID");
    c->add_option("--normalize", a->normalize, "none | unit (each cloud centred, bbox diagonal 1)")->capture_default_str();
    c->add_option("--seed", a->seed, "Point sampling seed")->capture_default_str();
    c->add_option("--json", a->json, "Also write the metrics to this JSON file");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_eval_gen(*a); }};
});

const Command kImportOriginalCommand(120, [](CLI::App& app) {
    auto a = std::make_shared<ImportOriginalArgs>();
    auto* c = app.add_subcommand(
        "import-original", "Convert a released generator of the paper (model_last.pth + normalizer .pkl) to a mash checkpoint");
    c->add_option("--checkpoint", a->checkpoint, "The original checkpoint (torch.save: model, ema_model, ...)")->required();
    c->add_option("--normalizer", a->normalizer,
                  "The original normalizer (joblib .pkl, e.g. ShapeNet.pkl); without it: identity (eval-net only)");
    c->add_option("--weights", a->weights, "ema (what the original samples with) | model")
        ->capture_default_str()
        ->check(CLI::IsMember({"ema", "model"}));
    c->add_option("--heads", a->heads, "Attention heads (not stored in the tensors; the paper's models use 8)")
        ->capture_default_str();
    c->add_option("--condition", a->condition, "auto (image if the context width is 768) | category | image")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "category", "image"}));
    c->add_option("-o,--output", a->output, "Output checkpoint (.pt)")->required();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_import_original(*a); }};
});

const Command kEvalNetCommand(130, [](CLI::App& app) {
    auto a = std::make_shared<EvalNetArgs>();
    auto* c =
        app.add_subcommand("eval-net", "Evaluate a checkpoint's denoiser on given inputs (x, t, category | cond_tokens) -> out");
    c->add_option("--checkpoint", a->checkpoint, "A mash checkpoint (mash train / mash import-original)")->required();
    c->add_option("--inputs", a->inputs, ".npz with x [B,A,C] float32, t [B] or [] and category [B] int64 or cond_tokens [B,N,W]")
        ->required();
    c->add_option("-o,--output", a->output, "Output .npz with out [B,A,C] (float32)")->required();
    c->add_flag("--raw", a->raw, "Use the raw weights instead of the EMA weights");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_eval_net(*a); }};
});

const Command kPreprocessImageCommand(140, [](CLI::App& app) {
    auto a = std::make_shared<PreprocessImageArgs>();
    auto* c = app.add_subcommand("preprocess-image",
                                 "What an image encoder sees: the image as RGB, resized by PIL's bilinear filter "
                                 "(as the original) -> PNG or uint8 .npy");
    c->add_option("--image", a->image, "Input image (PNG/JPG)")->required();
    c->add_option("--size", a->size, "Output size S (S x S; the encoder's input_size, 518 for DINOv2)")->capture_default_str();
    c->add_option("--alpha", a->alpha, "drop (the original's convert('RGB')) | white (composite onto white)")
        ->capture_default_str()
        ->check(CLI::IsMember({"drop", "white"}));
    c->add_option("-o,--output", a->output, "Output .png or .npy (uint8 [S, S, 3])")->required();
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_preprocess_image(*a); }};
});

const Command kSampleNetCommand(150, [](CLI::App& app) {
    auto a = std::make_shared<SampleNetArgs>();
    auto* c = app.add_subcommand("sample-net",
                                 "Run the original's sampler (torchdiffeq dopri5) on given noise "
                                 "(x_init, condition, query_t[, fixed_rows]) -> traj, x1, nfe");
    c->add_option("--checkpoint", a->checkpoint, "A mash checkpoint (mash import-original, or trained with a paper preset)")
        ->required();
    c->add_option("--inputs", a->inputs,
                  ".npz with x_init [B,A,C] float32, condition (category ids int64 [B] or tokens [B,N,W]), "
                  "query_t [T] increasing from 0, optional fixed_rows (int)")
        ->required();
    c->add_option("-o,--output", a->output,
                  "Output .npz: traj [T,B,A,C], x1, nfe (+ traj_fixed, x1_fixed, nfe_fixed); normalized tokens")
        ->required();
    c->add_flag("--raw", a->raw, "Use the raw weights instead of the EMA weights");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_sample_net(*a); }};
});

const Command kRenderViewsCommand(160, [](CLI::App& app) {
    auto a = std::make_shared<RenderViewsArgs>();
    auto* c = app.add_subcommand("render-views",
                                 "Render every dataset mesh from several viewpoints (training images for image conditioning)");
    c->add_option("--input", a->input, "Dataset root")->required();
    c->add_option("--output", a->output, "Output: OUT/<category>/<id>/000.png ... + cameras.json")->required();
    c->add_option("--layout", a->layout, "shapenet | objaverse | flat")->capture_default_str();
    c->add_option("--categories", a->categories, "Comma-separated categories");
    c->add_option("--views", a->views, "Views per shape (azimuth i*360/views)")->capture_default_str();
    c->add_option("--size", a->size, "Image size (square)")->capture_default_str();
    c->add_option("--elevation", a->elevation, "Camera elevation in degrees")->capture_default_str();
    c->add_flag("--random", a->random, "Random azimuth (0-360) and elevation (0-60) per view");
    c->add_option("--seed", a->seed, "Seed for --random")->capture_default_str();
    c->add_option("--limit", a->limit, "At most M shapes");
    add_global_flags(*c, a->global);
    return Runner{c, [a](const std::vector<std::string>&) { return run_render_views(*a); }};
});

}  // namespace
}  // namespace mash::cli
