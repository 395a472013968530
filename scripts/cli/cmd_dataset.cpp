// SPDX-License-Identifier: MIT
// `mash fit-dataset`: batch fitting with resume, worker processes, sharding and manifest merge.
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/dataset/dataset.h"
#include "mash/fitting/pipeline.h"
#include "mash/io/mash_file.h"
#include "mash/ops/runtime.h"
#include "scripts/cli/commands.h"

namespace mash::cli {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < s.size()) {
        size_t end = s.find(',', start);
        std::string tok = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!tok.empty()) out.push_back(tok);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

/// Fills unset arguments from the YAML file's `dataset:` section (flags win).
void apply_dataset_yaml(DatasetArgs& a) {
    const auto d = dataset::load_dataset_section(a.config);
    if (d.input && a.input.empty()) a.input = *d.input;
    if (d.output && a.output.empty()) a.output = *d.output;
    if (d.layout && !a.layout_given) a.layout = config::name(*d.layout);
    if (d.workers && a.workers == 0) a.workers = int(*d.workers);
    if (d.limit && a.limit == 0) a.limit = *d.limit;
    if (d.ids && a.ids.empty()) a.ids = *d.ids;
    if (d.seed && a.seed == 0) a.seed = *d.seed;
    if (d.categories && a.categories.empty())
        for (const auto& c : *d.categories) a.categories += (a.categories.empty() ? "" : ",") + c;
}

std::string bar(double frac, int width = 30) {
    int n = int(std::round(std::clamp(frac, 0.0, 1.0) * width));
    return "[" + std::string(n, '#') + std::string(width - n, '.') + "]";
}

std::string fmt_eta(double s) {
    if (!std::isfinite(s)) return "?";
    char b[32];
    if (s < 3600)
        std::snprintf(b, sizeof b, "%dm%02ds", int(s) / 60, int(s) % 60);
    else
        std::snprintf(b, sizeof b, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
    return b;
}

struct Counts {
    int64_t ok = 0, failed = 0, skipped = 0;
    int64_t done() const { return ok + failed + skipped; }
};

Counts count_lines(const std::vector<dataset::ManifestLine>& lines, size_t from) {
    Counts c;
    for (size_t i = from; i < lines.size(); ++i) {
        if (lines[i].status == "ok")
            ++c.ok;
        else if (lines[i].status == "failed")
            ++c.failed;
        else
            ++c.skipped;
    }
    return c;
}

void progress(const Counts& c, int64_t total, Clock::time_point t0, bool final_line) {
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t fitted = c.ok + c.failed;
    const double rate = el > 0 ? fitted / el * 3600.0 : 0.0;  // shapes per hour
    const int64_t left = total - c.done();
    const double eta = fitted > 0 ? left / (fitted / el) : NAN;
    const bool tty = isatty(fileno(stderr));
    char line[256];
    std::snprintf(line, sizeof line, "%s %ld/%ld shapes  ok %ld  failed %ld  skipped %ld  %.1f shapes/h  eta %s",
                  bar(total ? double(c.done()) / total : 1.0).c_str(), long(c.done()), long(total), long(c.ok), long(c.failed),
                  long(c.skipped), rate, fmt_eta(eta).c_str());
    if (tty)
        std::fprintf(stderr, "\r\033[K%s%s", line, final_line ? "\n" : "");
    else
        std::fprintf(stderr, "%s\n", line);
    std::fflush(stderr);
}

/// Fits every entry (resume: existing, loadable outputs are skipped); appends manifest lines.
void process(const std::vector<dataset::ShapeEntry>& entries, const DatasetArgs& a, const fitting::FitOptions& o,
             const std::string& device, const std::string& manifest, const std::function<void()>& after_each) {
    for (const auto& e : entries) {
        dataset::ManifestLine m;
        m.id = e.id;
        m.category = e.category;
        m.source = e.source;
        const std::string out = dataset::output_path(a.output, e);
        if (fs::exists(out)) {
            try {
                io::load_mash(out);
                m.status = "skipped";
                m.error = "output exists";
                dataset::append_manifest(manifest, m);
                if (after_each) after_each();
                continue;
            } catch (const Error&) {
                spdlog::warn("{}: existing output is unreadable, fitting again", out);
            }
        }
        const auto t0 = Clock::now();
        try {
            fs::create_directories(fs::path(out).parent_path());
            auto r = fitting::fit_file(e.source, o, a.seed, {}, device);
            io::save_mash(out, r.params);
            m.status = "ok";
            m.steps = r.fit.steps;
            m.l1_cd = r.fit.metrics.l1_cd;
            m.bbox = {r.bbox_min[0], r.bbox_min[1], r.bbox_min[2], r.bbox_max[0], r.bbox_max[1], r.bbox_max[2]};
        } catch (const Error& err) {
            m.status = "failed";
            m.error = err.what();
        } catch (const std::exception& err) {
            m.status = "failed";
            std::string msg = err.what();
            m.error = "internal error: " + msg.substr(0, msg.find('\n'));
        }
        m.wall_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        dataset::append_manifest(manifest, m);
        if (after_each) after_each();
    }
}

int merge(const DatasetArgs& a) {
    if (a.output.empty()) throw ConfigError("--merge needs --output (the dataset output folder)");
    std::map<std::string, dataset::ManifestLine> best;
    auto rank = [](const std::string& s) { return s == "ok" ? 2 : (s == "skipped" ? 1 : 0); };
    int files = 0;
    for (const auto& f : fs::directory_iterator(a.output)) {
        const std::string name = f.path().filename().string();
        if (name.rfind("manifest", 0) != 0 || f.path().extension() != ".jsonl") continue;
        ++files;
        int64_t malformed = 0;
        const auto lines = dataset::read_manifest(f.path().string(), &malformed);
        if (malformed > 0)
            spdlog::warn("{}: {} malformed line(s) skipped (their shapes count as not done)", f.path().string(), malformed);
        for (auto& l : lines) {
            auto it = best.find(l.key());
            if (it == best.end() || rank(l.status) >= rank(it->second.status)) best[l.key()] = l;
        }
    }
    if (files == 0) throw IoError(a.output + ": no manifest*.jsonl files to merge");
    std::string text;
    Counts c;
    for (const auto& [k, l] : best) {
        text += l.to_json() + "\n";
        if (l.status == "ok")
            ++c.ok;
        else if (l.status == "failed")
            ++c.failed;
        else
            ++c.skipped;
    }
    write_file_atomic((fs::path(a.output) / "manifest.jsonl").string(), std::vector<uint8_t>(text.begin(), text.end()));
    std::printf("merge: %d manifest file(s), %zu shapes: ok %ld, skipped (existing) %ld, failed %ld\n", files, best.size(),
                long(c.ok), long(c.skipped), long(c.failed));
    int64_t missing = 0;
    if (!a.input.empty()) {
        auto all = dataset::discover(a.input, dataset::parse_layout(a.layout), split_commas(a.categories), a.ids);
        std::string list;
        for (const auto& e : all) {
            auto it = best.find(e.key());
            bool done = it != best.end() && it->second.status != "failed";
            if (!done && !fs::exists(dataset::output_path(a.output, e))) {
                ++missing;
                list += e.key() + "\n";
            }
        }
        write_file_atomic((fs::path(a.output) / "missing.txt").string(), std::vector<uint8_t>(list.begin(), list.end()));
        std::printf("merge: %ld of %zu shapes in %s have no output (listed in %s/missing.txt)\n", long(missing), all.size(),
                    a.input.c_str(), a.output.c_str());
    }
    return (missing > 0 || c.failed > 0) ? 3 : 0;
}

}  // namespace

int run_fit_dataset(const DatasetArgs& args_in, const std::vector<std::string>& argv) {
    DatasetArgs a = args_in;
    if (!a.config.empty()) apply_dataset_yaml(a);
    const std::string device = apply_global_flags(a.global);
    if (a.merge) return merge(a);
    // On GPUs: workers spread round-robin over the visible devices, kWorkersPerGpu per GPU by
    // default (several small shapes at once keep a large GPU busy).
    std::vector<std::string> gpus;
    if (device == "cuda") gpus = dataset::visible_gpus(std::getenv("CUDA_VISIBLE_DEVICES"), ops::cuda_device_count());
    if (a.workers == 0) a.workers = gpus.empty() ? 1 : int(std::min<int64_t>(64, int64_t(gpus.size()) * dataset::kWorkersPerGpu));
    if (a.input.empty() || a.output.empty()) throw ConfigError("fit-dataset needs --input ROOT and --output OUT (or a config)");
    if (a.workers < 1 || a.workers > 64) throw ConfigError("--workers " + std::to_string(a.workers) + ": expected 1..64");
    fitting::FitOptions o;
    if (!a.config.empty()) fitting::load_fit_config(a.config, o, {"dataset"});
    for (const auto& s : a.set) fitting::apply_fit_override(s, o);
    o.validate();
    const auto shard = dataset::resolve_shard(a.shard, a.shard_count);
    auto all = dataset::discover(a.input, dataset::parse_layout(a.layout), split_commas(a.categories), a.ids);
    std::vector<dataset::ShapeEntry> mine;
    for (const auto& e : all)
        if (shard.contains(e)) mine.push_back(e);
    if (a.limit > 0 && int64_t(mine.size()) > a.limit) mine.resize(a.limit);
    fs::create_directories(a.output);
    const std::string manifest = (fs::path(a.output) / dataset::manifest_name(shard)).string();

    if (!a.worker.empty()) {  // internal: one worker process of a parent run
        int w = 0, k = 1;
        if (std::sscanf(a.worker.c_str(), "%d/%d", &w, &k) != 2 || k < 1 || w < 0 || w >= k)
            throw ConfigError("--worker '" + a.worker + "': expected w/K");
        std::vector<dataset::ShapeEntry> part;
        for (size_t i = 0; i < mine.size(); ++i)
            if (int(i % size_t(k)) == w) part.push_back(mine[i]);
        spdlog::set_level(spdlog::level::warn);
        process(part, a, o, device, manifest, {});
        return 0;
    }

    spdlog::info("fit-dataset: {} shapes in {} ({} layout), shard {}/{} ({}) → {} shapes, {} worker(s), output {}", all.size(),
                 a.input, a.layout, shard.index, shard.count, shard.source, mine.size(), a.workers, a.output);
    if (!gpus.empty())
        spdlog::info("fit-dataset: {} worker(s) on {} GPU(s) ({}), round-robin", a.workers, gpus.size(), [&] {
            std::string l;
            for (const auto& g : gpus) l += (l.empty() ? "" : ",") + g;
            return l;
        }());
    const size_t start_lines = dataset::read_manifest(manifest).size();
    const auto t0 = Clock::now();
    const int64_t total = int64_t(mine.size());
    if (a.workers == 1) {
        process(mine, a, o, device, manifest,
                [&] { progress(count_lines(dataset::read_manifest(manifest), start_lines), total, t0, false); });
    } else {
        // K worker processes, each with cores/K intra-op threads (no oversubscription).
        const int cores = std::max(1, int(std::thread::hardware_concurrency()));
        const int per = std::max(1, (a.global.threads > 0 ? a.global.threads : cores) / a.workers);
        std::vector<pid_t> kids;
        for (int w = 0; w < a.workers; ++w) {
            std::vector<std::string> args;
            for (size_t i = 0; i < argv.size(); ++i) {  // drop --threads: each worker gets its share
                if (argv[i] == "--threads") {
                    ++i;
                    continue;
                }
                if (argv[i].rfind("--threads=", 0) == 0) continue;
                args.push_back(argv[i]);
            }
            args.push_back("--worker");
            args.push_back(std::to_string(w) + "/" + std::to_string(a.workers));
            args.push_back("--threads");
            args.push_back(std::to_string(per));
            std::vector<char*> cargs;
            for (auto& s : args) cargs.push_back(s.data());
            cargs.push_back(nullptr);
            pid_t pid = fork();
            if (pid == 0) {
                if (!gpus.empty()) setenv("CUDA_VISIBLE_DEVICES", gpus[size_t(w) % gpus.size()].c_str(), 1);
                execv("/proc/self/exe", cargs.data());
                _exit(127);
            }
            if (pid < 0) throw Error("fit-dataset: fork failed");
            kids.push_back(pid);
        }
        size_t running = kids.size();
        int64_t last_done = -1;
        while (running > 0) {
            int status = 0;
            pid_t p = waitpid(-1, &status, WNOHANG);
            if (p > 0) {
                --running;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    spdlog::warn("fit-dataset: worker {} exited abnormally (status {})", p, status);
                continue;
            }
            auto c = count_lines(dataset::read_manifest(manifest), start_lines);
            if (c.done() != last_done || isatty(fileno(stderr))) {
                progress(c, total, t0, false);
                last_done = c.done();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
    auto lines = dataset::read_manifest(manifest);
    Counts c = count_lines(lines, start_lines);
    progress(c, total, t0, true);
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("fit-dataset: %ld shapes: ok %ld, failed %ld, skipped (existing) %ld in %.1f s (%.1f shapes/hour fitted)\n",
                long(total), long(c.ok), long(c.failed), long(c.skipped), el, el > 0 ? (c.ok + c.failed) / el * 3600 : 0.0);
    int shown = 0;
    for (size_t i = start_lines; i < lines.size() && shown < 10; ++i)
        if (lines[i].status == "failed") {
            std::printf("  failed: %s: %s\n", lines[i].key().c_str(), lines[i].error.c_str());
            ++shown;
        }
    std::printf("manifest: %s\n", manifest.c_str());
    return c.failed > 0 ? 3 : 0;
}

// The subcommands of this file and their options (scripts/cli/main.cpp parses and runs them).
namespace {

const Command kFitDatasetCommand(80, [](CLI::App& app) {
    auto a = std::make_shared<DatasetArgs>();
    auto* c = app.add_subcommand("fit-dataset", "Fit every shape of a dataset (resumable, parallel, sharded)");
    c->add_option("--input", a->input, "Dataset root");
    c->add_option("--output", a->output, "Output root: OUT/<category>/<id>.npz + manifest.jsonl");
    auto* layout_opt = c->add_option("--layout", a->layout, "shapenet | objaverse | flat")->capture_default_str();
    c->add_option("--config", a->config, "YAML with a 'dataset:' section and/or 'fit:' overrides (configs/dataset/)");
    c->add_option("--set", a->set, "Fit option override key=value (repeatable)");
    c->add_option("--workers", a->workers,
                  "Worker processes (threads are split between them; default 1, on GPUs 4 per visible GPU)");
    c->add_option("--shard", a->shard, "Process shard I of N (I/N); default: Slurm/Kubernetes env, else all");
    c->add_option("--shard-count", a->shard_count, "Shard count for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)");
    c->add_option("--limit", a->limit, "Process at most M shapes (after sharding)");
    c->add_option("--categories", a->categories, "Comma-separated categories (names or ShapeNet synset ids)");
    c->add_option("--ids", a->ids, "Objaverse: file with one uid per line");
    c->add_option("--seed", a->seed, "Random seed for every fit");
    c->add_flag("--merge", a->merge, "Merge OUT/manifest*.jsonl into OUT/manifest.jsonl; with --input, report missing shapes");
    c->add_option("--worker", a->worker, "(internal) worker w/K")->group("");
    add_global_flags(*c, a->global);
    return Runner{c, [a, layout_opt](const std::vector<std::string>& argv) {
                      a->layout_given = layout_opt->count() > 0;
                      return run_fit_dataset(*a, argv);
                  }};
});

}  // namespace
}  // namespace mash::cli
