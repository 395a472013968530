#!/usr/bin/env bash
# Side-by-side benchmark of two builds of mash on the same machine, in one run (the
# old Debian LibTorch 1.13.1 CPU build vs the LibTorch 2.11.0 + CUDA 13.0 wheel build, both on
# the CPU): the sampling pass (bench_sampling), `mash fit` of the bundled bunny at default
# settings, a small generator train step and a full-size one-shape sample (bench_generation).
# Each measurement alternates between the builds, so both see the same machine load.
#   experiments/platform_compare/run.sh OLD_BUILD_DIR NEW_BUILD_DIR [repeats]
# Writes experiments/platform_compare/out/{results.tsv,*.log}. Not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${1:?old build dir} NEW=${2:?new build dir} REP=${3:-2}
OUT=experiments/platform_compare/out
mkdir -p "$OUT"
: >"$OUT/results.tsv"
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" | tee -a "$OUT/results.tsv"; }
for r in $(seq 1 "$REP"); do
  for b in old new; do
    B=$OLD; [[ $b == new ]] && B=$NEW
    L="$OUT/$b.$r"
    "$B/bin/bench_sampling" --threads 2 --iters 20 --mash tests/data/mash_official/bunny_a400_params.npz >"$L.sampling.log" 2>&1
    row "$b" sampling_fwd_bwd_median_ms "$(grep -oP 'forward\+backward +median \K[0-9.]+' "$L.sampling.log")"
    /usr/bin/time -f '%e' -o "$L.fit.time" "$B/bin/mash" fit tests/data/npm-bunny.obj -o "$OUT/$b.bunny.npz" --threads 2 \
      --report "$OUT/$b.$r.fit.json" >"$L.fit.log" 2>&1
    row "$b" fit_bunny_wall_s "$(cat "$L.fit.time")"
    row "$b" fit_bunny_steps_l1cd "$(grep -oP '"steps": \K[0-9]+' "$OUT/$b.$r.fit.json" | head -1) $(grep -oP '"l1_cd": \K[0-9.e-]+' "$OUT/$b.$r.fit.json" | head -1)"
    "$B/bin/bench_generation" --threads 2 --only small >"$L.gen_small.log" 2>&1
    row "$b" small_train_step_s "$(grep -oP 'train step: \K[0-9.]+' "$L.gen_small.log")"
    "$B/bin/bench_generation" --threads 2 --only full --sample-steps 4 --repeats 1 >"$L.gen_full.log" 2>&1
    row "$b" full_train_step_s "$(grep -oP 'train step: \K[0-9.]+' "$L.gen_full.log")"
    row "$b" full_sample_s_per_eval "$(grep -oP '\(\K[0-9.]+(?= s per network evaluation)' "$L.gen_full.log")"
  done
done
