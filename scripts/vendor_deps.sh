#!/usr/bin/env bash
# Fills a folder with the headers and shared libraries the Open3D-free build needs, taken from this
# Debian machine's packages (scripts/install-deps.sh installs them), so that a machine without
# Debian's dev packages (the GPU machine: nvcc, CMake, ninja and a Python PyTorch, nothing else)
# can build mash with   cmake -DMASH_WITH_OPEN3D=OFF -DMASH_DEPS_DIR=<folder> ...
#   scripts/vendor_deps.sh [DIR]          # default third_party/vendor (git-ignored), ~15 MB
#   scripts/vendor_deps.sh --check BUILD  # after building BUILD against DIR: fail if any header
#                                         # came from a Debian package outside the toolchain
# Headers: Eigen, yaml-cpp, spdlog, fmt, nlohmann-json, CLI11, Catch2 (+ its CMake scripts),
# nanoflann, gloo, zlib, tinygltf, draco. Shared libraries (copied under their SONAME, no links):
# zlib, yaml-cpp, fmt, spdlog, draco (Debian 12 builds; they run on newer glibc). Each package's
# copyright file goes to licenses/; MANIFEST.txt lists packages and versions.
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
TOOLCHAIN_PKGS='^(libc6-dev|linux-libc-dev|libstdc\+\+-12-dev|libgcc-12-dev|libgomp1|gcc-12|g\+\+-12|cpp-12|libcrypt-dev)(:amd64)?$'

if [[ ${1:-} == --check ]]; then
  BUILD=${2:?usage: vendor_deps.sh --check BUILD}
  command -v ninja >/dev/null || { echo "error: vendor_deps.sh --check: needs ninja" >&2; exit 2; }
  mapfile -t hdrs < <(ninja -C "$BUILD" -t deps 2>/dev/null | awk '/^    \//{print $1}' | grep '^/usr/include/' | sort -u)
  bad=()
  if [[ ${#hdrs[@]} -gt 0 ]]; then
    while IFS= read -r line; do
      pkg=${line%%: *}
      for p in ${pkg//,/ }; do
        [[ $p =~ $TOOLCHAIN_PKGS ]] || bad+=("$line")
      done
    done < <(dpkg -S "${hdrs[@]}" 2>/dev/null | sort -u)
  fi
  if [[ ${#bad[@]} -gt 0 ]]; then
    echo "error: $BUILD: ${#bad[@]} header(s) came from Debian packages, not the vendored folder (expected only toolchain headers under /usr/include):" >&2
    printf '  %s\n' "${bad[@]:0:20}" >&2
    exit 1
  fi
  echo "vendor_deps: $BUILD uses ${#hdrs[@]} headers under /usr/include, all from the toolchain (libc, libstdc++, kernel)"
  exit 0
fi

OUT=${1:-$R/third_party/vendor}
INC=/usr/include
LIB=/usr/lib/x86_64-linux-gnu
need() { [[ -e $1 ]] || { echo "error: vendor_deps.sh: $1 is missing (expected Debian's $2; run scripts/install-deps.sh)" >&2; exit 2; }; }
TMP=$(mktemp -d "${OUT%/*}/.vendor.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/include/eigen3" "$TMP/lib" "$TMP/cmake" "$TMP/licenses"

# header path (relative to /usr/include) : Debian package
HEADERS=(
  "eigen3/Eigen:libeigen3-dev" "yaml-cpp:libyaml-cpp-dev" "spdlog:libspdlog-dev" "fmt:libfmt-dev"
  "nlohmann:nlohmann-json3-dev" "CLI:libcli11-dev" "catch2:catch2" "nanoflann.hpp:libnanoflann-dev"
  "gloo:libgloo-dev" "zlib.h:zlib1g-dev" "zconf.h:zlib1g-dev" "tiny_gltf.h:libtinygltf-dev" "draco:libdraco-dev"
)
for e in "${HEADERS[@]}"; do
  h=${e%%:*}
  need "$INC/$h" "${e##*:}"
  mkdir -p "$TMP/include/$(dirname "$h")"
  cp -rL "$INC/$h" "$TMP/include/$h"
done
# shared libraries (SONAME file names) : Debian package
LIBS=("libz.so.1:zlib1g" "libyaml-cpp.so.0.7:libyaml-cpp0.7" "libfmt.so.9:libfmt9" "libspdlog.so.1.10:libspdlog1.10"
      "libdraco.so.7:libdraco7")
for e in "${LIBS[@]}"; do
  l=${e%%:*}
  src=$LIB/$l
  [[ -e $src ]] || src=/lib/x86_64-linux-gnu/$l
  need "$src" "${e##*:}"
  cp -L "$src" "$TMP/lib/$l"
done
for f in Catch.cmake CatchAddTests.cmake; do
  need "/usr/lib/cmake/Catch2/$f" catch2
  cp "/usr/lib/cmake/Catch2/$f" "$TMP/cmake/"
done
{
  echo "# mash vendored dependencies (scripts/vendor_deps.sh), $(date -u +%Y-%m-%dT%H:%M:%SZ), from $(. /etc/os-release; echo "$PRETTY_NAME")"
  for p in $(printf '%s\n' "${HEADERS[@]##*:}" "${LIBS[@]##*:}" | sort -u); do
    v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo "?")
    echo "$p $v"
    [[ -f /usr/share/doc/$p/copyright ]] && cp "/usr/share/doc/$p/copyright" "$TMP/licenses/$p.copyright"
  done
} >"$TMP/MANIFEST.txt"
SIZE=$(du -sm "$TMP" | cut -f1)
if (( SIZE > 30 )); then echo "error: vendor_deps.sh: $SIZE MB (expected at most 30 MB to travel with the working tree)" >&2; exit 1; fi
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "vendor_deps: wrote $OUT ($SIZE MB: $(find "$OUT/include" -type f | wc -l) headers, ${#LIBS[@]} libraries, licences in licenses/)"
