#!/usr/bin/env bash
# The C++ sources as .clang-format says (clang-format 14, Debian's): --dry-run -Werror over every
# tracked .h/.cpp/.cu of mash/, models/, scripts/, tests/, experiments/, examples/, python/. Exit 77
# without clang-format.
#   scripts/check_format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-$(command -v clang-format || command -v clang-format-14 || true)}
[[ -n $CF ]] || { echo "skipped: clang-format not installed (scripts/install-deps.sh installs it)"; exit 77; }
mapfile -t files < <(git ls-files 'mash/*.h' 'mash/*.cpp' 'mash/*.cu' 'models/*.h' 'models/*.cpp' 'scripts/*.h' 'scripts/*.cpp' \
  'tests/*.h' 'tests/*.cpp' 'experiments/*.cpp' 'examples/*.cpp' 'python/*.cpp' 2>/dev/null || find mash models scripts tests experiments -name '*.h' -o -name '*.cpp' -o -name '*.cu')
if [[ ${1:-} == --fix ]]; then
  "$CF" -i "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi
"$CF" --dry-run -Werror "${files[@]}"
echo "check_format: ${#files[@]} files formatted as .clang-format says"
