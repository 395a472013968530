#!/usr/bin/env bash
# The README's test command: installs dependencies (Debian 12), builds, runs the whole suite.
#   scripts/test.sh            # everything (unit, golden, CLI and lint tests)
#   scripts/test.sh --quick    # the quick lane: tests labelled `quick` (about 1.5 minutes on 2 cores)
#   scripts/test.sh -R golden  # extra arguments go to ctest
# MASH_WERROR=1 builds with warnings as errors (what CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
args=()
for a in "$@"; do
  if [[ $a == --quick ]]; then quick=1; else args+=("$a"); fi
done
scripts/install-deps.sh
if [[ -n ${MASH_WERROR:-} ]]; then scripts/build.sh -DMASH_WARNINGS_AS_ERRORS=ON; else scripts/build.sh; fi
cd build
if [[ $quick == 1 ]]; then args=(-L quick "${args[@]}"); fi
ctest --output-on-failure -j"$(nproc)" "${args[@]}"
