#!/usr/bin/env bash
# Installs every system package mash needs, from Debian 12 (bookworm) only. Idempotent:
# packages already present are skipped. Works as root or through sudo.
#   scripts/install-deps.sh            # build + test dependencies
#   MASH_DEPS_EXTRA="clang-14 libclang-rt-14-dev" scripts/install-deps.sh   # + the fuzzer toolchain
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git procps
  libtorch-dev libopenblas0-pthread
  libeigen3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libopen3d-dev
  catch2 libcli11-dev nlohmann-json3-dev libnanoflann-dev zlib1g-dev
  python3-numpy python3-torch libgloo-dev
)
# shellcheck disable=SC2206
EXTRA=(${MASH_DEPS_EXTRA:-})
PACKAGES+=("${EXTRA[@]}")

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: need root or sudo to install: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
