#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, in build-fuzz/) and runs them.
#   scripts/fuzz.sh [TARGET|all] [RUNS]      TARGET: formats config geometry json checkpoint
#                                             RUNS: executions per target (default 200000)
# Each target starts from its seed corpus (tests/fuzz/seeds/<target>/ plus the repository files
# named below) in fuzz-corpus/<target>/ and stops after RUNS executions or MAX_TIME seconds (default 1800). A crashing
# input is written to fuzz-corpus/crash-* : copy it to tests/fuzz/regressions/<target>/ so the
# default suite replays it (fuzz.replay_<target>). Not part of the default suite. Needs clang-14
# and libclang-rt-14-dev (MASH_DEPS_EXTRA="clang-14 libclang-rt-14-dev" scripts/install-deps.sh,
# which this script runs) and the .venv LibTorch (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS=${1:-all}
RUNS=${2:-200000}
[ "$TARGETS" = all ] && TARGETS="formats config geometry json checkpoint"
MASH_DEPS_EXTRA="clang-14 libclang-rt-14-dev" scripts/install-deps.sh
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DMASH_BUILD_FUZZERS=ON -DMASH_BUILD_TESTS=OFF \
  -DMASH_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for t in $TARGETS; do cmake --build build-fuzz -j"$(nproc)" --target fuzz_$t; done

G=tests/data/mash_diffusion_golden
seed() {  # seed TARGET FILES...
  local t=$1; shift
  mkdir -p fuzz-corpus/$t
  [ -d tests/fuzz/seeds/$t ] && cp -n tests/fuzz/seeds/$t/* fuzz-corpus/$t/ 2>/dev/null || true
  for f in "$@"; do cp -n "$f" fuzz-corpus/$t/ 2>/dev/null || true; done
}
# LibTorch's zip reader (behind the checkpoint target) leaks 152 bytes on some malformed archives
# (kept in tests/fuzz/regressions/checkpoint); leak detection is off for that target only.
export UBSAN_OPTIONS=print_stacktrace=1
for t in $TARGETS; do
  case $t in
    formats)
      seed formats tests/data/*.np[yz] tests/data/mash_official/handmade_3anchor.npy \
        tests/data/mash_official/handmade_3anchor_legacy.npy tests/data/mash_official/bunny_a400_params.npz \
        $G/category_small_checkpoint.pth $G/bunny_multi_linear_transformers.pkl
      # The data.pkl of a torch.save archive on its own.
      /usr/bin/python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('category_small_checkpoint/data.pkl'))" \
        $G/category_small_checkpoint.pth fuzz-corpus/formats/torch_data.pkl
      MAXLEN=262144 ;;
    config) seed config configs/*/*.yaml; MAXLEN=16384 ;;
    geometry) seed geometry; MAXLEN=65536 ;;
    json) seed json; MAXLEN=8192 ;;
    checkpoint) seed checkpoint; MAXLEN=1048576; LEAKS=0 ;;
    *) echo "error: unknown fuzz target '$t' (expected formats, config, geometry, json, checkpoint or all)" >&2; exit 2 ;;
  esac
  export ASAN_OPTIONS=detect_leaks=${LEAKS:-1}:allocator_may_return_null=1
  unset LEAKS
  echo "== fuzz_$t: $RUNS executions"
  (cd fuzz-corpus && ../build-fuzz/bin/fuzz_$t $t -runs="$RUNS" -max_total_time="${MAX_TIME:-1800}" -max_len=$MAXLEN \
    -rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=30 -print_final_stats=1 2>&1 | tee $t.log | grep -E "^#[0-9]+.*(DONE|pulse)|stat::|ERROR|SUMMARY" || true)
done
