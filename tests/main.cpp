// SPDX-License-Identifier: MIT
// Catch2 runner (its own TU: it is expensive to compile and never changes).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "mash/ops/runtime.h"

int main(int argc, char* argv[]) {
    mash::ops::ensure_passive_openmp(argv);
    mash::ops::init_runtime(2);
    return Catch::Session().run(argc, argv);
}
