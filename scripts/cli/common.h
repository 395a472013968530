// SPDX-License-Identifier: MIT
// Shared CLI plumbing (torch-free): global flags, logging, error → exit-code mapping.
#pragma once
#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace mash::cli {

/// Flags every subcommand accepts.
struct GlobalOptions {
    std::string log_level = "info";  ///< trace, debug, info, warn, error, off
    int threads = 0;                 ///< intra-op threads; 0 = all cores
    std::string device = "auto";     ///< auto, cpu, cuda
};

/// Adds --log-level, --threads, --device to a subcommand.
void add_global_flags(CLI::App& cmd, GlobalOptions& g);

/// Applies the global flags (logging, threads) and returns the resolved device ("cpu"/"cuda").
std::string apply_global_flags(const GlobalOptions& g);

/// Runs `body`, mapping mash::Error (bad input) to exit code 2 and anything else to 1, with a
/// one-line "error: ..." message on stderr.
int guarded(const std::function<int()>& body);

}  // namespace mash::cli
