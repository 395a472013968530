#!/usr/bin/env bash
# Configures and builds mash into ./build (Release, Ninja, ccache when present).
#   scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${MASH_JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$JOBS"
