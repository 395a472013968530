#!/usr/bin/env bash
# Installs everything mash needs on Debian 12 (bookworm). Idempotent: what is present is skipped.
# Works as root or through sudo (apt); the Python part needs neither.
#   scripts/install-deps.sh            # Debian packages + .venv with torch==2.11.0 (CUDA 13.0) and numpy
#   MASH_DEPS_EXTRA="clang-14 libclang-rt-14-dev" scripts/install-deps.sh   # + the fuzzer toolchain
#
# LibTorch comes from the PyPI `torch` wheel (a complete LibTorch: headers, CMake config, CPU and
# CUDA libraries), installed into the project-local virtual environment .venv (git-ignored);
# CMake finds it there. Everything else comes from Debian. To avoid the CUDA download (~2.6 GB):
#   MASH_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu scripts/install-deps.sh   # CPU-only wheel
#   MASH_LIBTORCH=/opt/libtorch scripts/install-deps.sh    # an existing LibTorch: no torch download;
#                                                          # scripts/build.sh passes it to CMake
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_SPEC=${MASH_TORCH_SPEC:-torch==2.11.0}
VENV=${MASH_VENV:-.venv}

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git procps python3-venv libopenblas0-pthread
  libeigen3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libopen3d-dev
  catch2 libcli11-dev nlohmann-json3-dev libnanoflann-dev zlib1g-dev libgloo-dev
  libtinygltf-dev libdraco-dev
)
# Test-only: Khronos / assimp sample models (glTF scenes, Draco, broken files), assimp's CLI (the
# transform-baked reference), gltfpack (makes quantized and meshopt-compressed GLBs of them),
# python3-pil (the image-preprocessing parity test), clang-format (the format check) and iwyu
# (include-what-you-use: the unused-include check). Skip with MASH_NO_TEST_DEPS=1.
if [[ -z ${MASH_NO_TEST_DEPS:-} ]]; then
  PACKAGES+=(assimp-testmodels assimp-utils gltfpack python3-pil clang-format iwyu)
fi
# shellcheck disable=SC2206
EXTRA=(${MASH_DEPS_EXTRA:-})
PACKAGES+=("${EXTRA[@]}")

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(false)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages already installed"
else
  if [[ ${SUDO[*]-} == false ]]; then
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python side: numpy for the tests' checks, torch for LibTorch (unless MASH_LIBTORCH is given).
# Debian's interpreter (/usr/bin/python3, 3.11): the wheel must match the ABI that pip resolves.
PY=/usr/bin/python3
if [[ ! -x $VENV/bin/python3 ]]; then
  echo "install-deps: creating $VENV"
  "$PY" -m venv "$VENV"
fi
want_torch=1
[[ -n ${MASH_LIBTORCH:-} ]] && want_torch=0
have() { "$VENV/bin/python3" -c "$1" >/dev/null 2>&1; }
if ! have "import numpy"; then
  echo "install-deps: pip install numpy"
  "$VENV/bin/pip" install -q --disable-pip-version-check numpy
fi
# cuobjdump (the Debian-side toolkit here has nvcc but not cuobjdump): the build test lists the
# GPU code in the binary with it. 13.2 is the oldest on PyPI; it reads 13.0 objects.
if [[ ! -x $VENV/lib/python3.11/site-packages/nvidia/cu13/bin/cuobjdump ]] && command -v nvcc >/dev/null 2>&1; then
  echo "install-deps: pip install nvidia-cuda-cuobjdump"
  "$VENV/bin/pip" install -q --disable-pip-version-check "nvidia-cuda-cuobjdump==13.2.*"
fi
if [[ $want_torch -eq 1 ]]; then
  want_version=${TORCH_SPEC#torch==}
  if have "import importlib.metadata as m; assert m.version('torch').split('+')[0] == '$want_version'"; then
    echo "install-deps: $TORCH_SPEC already in $VENV"
  else
    args=(install -q --disable-pip-version-check --no-cache-dir "$TORCH_SPEC")
    [[ -n ${MASH_TORCH_INDEX_URL:-} ]] && args+=(--index-url "$MASH_TORCH_INDEX_URL")
    echo "install-deps: pip ${args[*]} (LibTorch; the CUDA variant downloads ~2.6 GB)"
    t0=$(date +%s)
    "$VENV/bin/pip" "${args[@]}"
    echo "install-deps: torch installed in $(( $(date +%s) - t0 )) s"
  fi
else
  echo "install-deps: using the LibTorch at MASH_LIBTORCH=$MASH_LIBTORCH (no torch wheel)"
  [[ -f $MASH_LIBTORCH/share/cmake/Torch/TorchConfig.cmake ]] || {
    echo "error: $MASH_LIBTORCH: not a LibTorch (expected share/cmake/Torch/TorchConfig.cmake)" >&2; exit 2; }
fi
# The Python package's build and test tools (scripts/build.sh then installs `import mash`).
if ! have "import scikit_build_core, pytest"; then
  echo "install-deps: pip install scikit-build-core pytest"
  "$VENV/bin/pip" install -q --disable-pip-version-check "scikit-build-core>=0.10" pytest
fi
echo "install-deps: done"
