#!/usr/bin/env bash
# Builds the libFuzzer target for the npy/npz/pickle readers with clang (ASan + UBSan) and runs it.
#   scripts/fuzz.sh [seconds]        (default 600)
# Not part of the default test suite. Needs clang-14 and libclang-rt-14-dev (installed here via
# MASH_DEPS_EXTRA="clang-14 libclang-rt-14-dev" scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-600}
MASH_DEPS_EXTRA="clang-14 libclang-rt-14-dev" scripts/install-deps.sh
mkdir -p build-fuzz fuzz-corpus
clang++-14 -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. \
  mash/formats/*.cpp mash/core/files.cpp mash/representation/mash_params.cpp tests/fuzz/fuzz_formats.cpp -lz -o build-fuzz/fuzz_formats
# Seed corpus: numpy-written fixtures and the original implementation's small files.
cp -n tests/data/*.np[yz] fuzz-corpus/ 2>/dev/null || true
for f in handmade_3anchor.npy handmade_3anchor_legacy.npy bunny_a400_params.npz; do
  cp -n tests/data/mash_official/$f fuzz-corpus/
done
# The original generator's files: a torch.save archive, its data.pkl alone, a joblib normalizer.
G=tests/data/mash_diffusion_golden
cp -n $G/category_small_checkpoint.pth $G/bunny_multi_linear_transformers.pkl fuzz-corpus/
/usr/bin/python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('category_small_checkpoint/data.pkl'))" \
  $G/category_small_checkpoint.pth fuzz-corpus/torch_data.pkl
exec build-fuzz/fuzz_formats fuzz-corpus -max_total_time="$SECONDS_TO_RUN" -max_len=262144 -rss_limit_mb=2048 -print_final_stats=1
