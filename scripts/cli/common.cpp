// SPDX-License-Identifier: MIT
#include "scripts/cli/common.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <vector>

#include "mash/core/errors.h"
#include "mash/ops/runtime.h"
#include "scripts/cli/commands.h"

namespace mash::cli {

void add_global_flags(CLI::App& cmd, GlobalOptions& g) {
    cmd.add_option("--log-level", g.log_level, "Logging level")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
        ->capture_default_str();
    cmd.add_option("--threads", g.threads, "Intra-op CPU threads (0 = all cores)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    cmd.add_option("--device", g.device, "Compute device")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
}

std::string apply_global_flags(const GlobalOptions& g) {
    spdlog::set_level(spdlog::level::from_str(g.log_level));
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    ops::init_runtime(g.threads);
    return ops::resolve_device(g.device);
}

namespace {
std::vector<const Command*>& registry() {
    static std::vector<const Command*> r;  // filled during static initialization, before main
    return r;
}
}  // namespace

Command::Command(int order_, std::function<Runner(CLI::App&)> add_) : order(order_), add(std::move(add_)) {
    registry().push_back(this);
}

std::vector<const Command*> commands() {
    std::vector<const Command*> c = registry();
    std::stable_sort(c.begin(), c.end(), [](const Command* a, const Command* b) { return a->order < b->order; });
    return c;
}

int guarded(const std::function<int()>& body) {
    try {
        return body();
    } catch (const mash::Error& e) {
        std::cerr << "error: " << e.what() << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::string msg = e.what();
        // c10::Error messages carry a backtrace after the first line: keep the first line.
        auto nl = msg.find('\n');
        std::cerr << "internal error: " << msg.substr(0, nl) << std::endl;
        return 1;
    }
}

}  // namespace mash::cli
