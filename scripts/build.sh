#!/usr/bin/env bash
# Configures and builds mash into ./build (Release, Ninja, ccache when present).
#   scripts/build.sh [extra cmake args...]
#   MASH_LIBTORCH=/opt/libtorch scripts/build.sh     # another LibTorch than the .venv's wheel
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${MASH_JOBS:-$(nproc)}
args=()
[[ -n ${MASH_LIBTORCH:-} ]] && args+=(-DTorch_DIR="$MASH_LIBTORCH/share/cmake/Torch")
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}" "$@"
cmake --build build -j"$JOBS"
