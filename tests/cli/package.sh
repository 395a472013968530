#!/usr/bin/env bash
# The installed C++ package as a user's project uses it: cmake --install into a fresh prefix,
# examples/cpp configured with find_package(mash) against it, built, run on the original's bunny.
#   package.sh BUILD_DIR REPO_ROOT WORKDIR
set -euo pipefail
B=$1 R=$2 W=$3
rm -rf "$W" && mkdir -p "$W"
cmake --install "$B" --prefix "$W/prefix" > "$W/install.log"
test -f "$W/prefix/lib/cmake/mash/mashConfig.cmake" && test -f "$W/prefix/include/mash/mash.h"
cmake -S "$R/examples/cpp" -B "$W/example" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$W/prefix" \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} > "$W/configure.log" 2>&1 \
  || { tail -30 "$W/configure.log"; exit 1; }
cmake --build "$W/example" > "$W/build.log" 2>&1 || { tail -30 "$W/build.log"; exit 1; }
out=$("$W/example/sample_mash" "$R/tests/data/mash_official/bunny_a400_params.npz" "$W/bunny.ply")
echo "$out"
echo "$out" | grep -q "400 anchors -> 196182 surface points"
head -c 300 "$W/bunny.ply" | grep -q "element vertex 196182"
echo "installed package: example built and run"
