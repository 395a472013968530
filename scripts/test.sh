#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian 12), builds, runs the whole suite.
#   scripts/test.sh            # everything (unit, golden, CLI smoke tests)
#   scripts/test.sh -R golden  # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
