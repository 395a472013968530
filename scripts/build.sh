#!/usr/bin/env bash
# Configures and builds mash into ./build (Release, Ninja, ccache when present), then installs the
# Python package (`import mash`) into .venv, editable, from the same build folder.
#   scripts/build.sh [extra cmake args...]
#   MASH_LIBTORCH=/opt/libtorch scripts/build.sh     # another LibTorch than the .venv's wheel (no Python package)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${MASH_JOBS:-$(nproc)}
args=()
[[ -n ${MASH_LIBTORCH:-} ]] && args+=(-DTorch_DIR="$MASH_LIBTORCH/share/cmake/Torch")
python=0
if [[ -z ${MASH_LIBTORCH:-} && -x .venv/bin/python3 ]] && .venv/bin/python3 -c "import torch, scikit_build_core" 2>/dev/null; then
  python=1
  args+=(-DMASH_PYTHON_MODULE=ON)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${args[@]}" "$@"
cmake --build build -j"$JOBS"
if [[ $python == 1 ]]; then
  # --no-build-isolation: the extension must use the torch of this environment (LibTorch's C++ ABI).
  CMAKE_BUILD_PARALLEL_LEVEL=$JOBS .venv/bin/pip install -q --disable-pip-version-check --no-build-isolation -e . \
    || { echo "build: pip install -e . failed (the Python package)" >&2; exit 1; }
  echo "build: Python package installed in .venv ($(.venv/bin/python3 -c 'import mash; print(mash.__file__)'))"
fi
