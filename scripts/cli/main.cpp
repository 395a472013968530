// SPDX-License-Identifier: MIT
// The `mash` command-line tool: one executable, one subcommand per job. Each command registers
// itself with its options (a Command in its scripts/cli/cmd_*.cpp); main parses the command line
// and runs the chosen one inside the error guard.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "mash/ops/runtime.h"
#include "scripts/cli/commands.h"

int main(int argc, char** argv) {
    mash::ops::ensure_passive_openmp(argv);
    mash::ops::init_runtime(0);  // malloc tuning first; threads are set again from --threads
    using namespace mash::cli;
    CLI::App app{"mash — Masked Anchored SpHerical Distances: fit, sample, mesh and generate 3D shapes"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("mash ") + MASH_VERSION);
    std::vector<Runner> runners;
    for (const Command* c : commands()) runners.push_back(c->add(app));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        // A bad command line is bad input too: one "error:" line, exit code 2.
        std::cerr << "error: " << e.what() << " (expected the options of `mash <command> --help`)\n";
        return 2;
    }
    const std::vector<std::string> args(argv, argv + argc);
    for (const Runner& r : runners)
        if (r.command->parsed()) return guarded([&] { return r.run(args); });
    return 2;
}
