#!/usr/bin/env bash
# The pictures of the learning benchmarks, from the runs of memorization.sh and families.sh:
#   figures/memorization.png   4 samples per category after 20 000 steps: paper (top two rows) | mash (bottom two)
#   figures/families.png       3 generated shapes per family: paper (left) | mash (right), one family per row
#   docs/images/families_generated.png   4 shapes per family from the shipped model
#                                        models/pretrained/families.pt (README)
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-$R/experiments/generator_learning/runs}
MASH=${MASH_BIN:-$R/build/bin/mash}
F=$R/experiments/generator_learning/figures
mkdir -p "$F" "$R/docs/images"
m=()
for r in paper canonical_data_cos; do
  for c in animal object; do
    for i in 000 001 002 003; do m+=("$RUNS/memorization/$r/gen_20000/${c}_$i.npz"); done
  done
done
"$MASH" render "${m[@]}" --columns 8 --views 1 --size 200x200 -o "$F/memorization.png" --log-level warn
f=()
g=()
for fam in chair table mug lamp airplane; do
  for r in paper mash; do
    for i in 000 001 002; do f+=("$RUNS/families/$r/gen/${fam}_$i.npz"); done
  done
done
rm -rf "$RUNS/pretrained_gen"
"$MASH" generate --checkpoint "$R/models/pretrained/families.pt" --num 4 --seed 0 -o "$RUNS/pretrained_gen" --no-render --log-level warn
for fam in chair table mug lamp airplane; do
  for i in 000 001 002 003; do g+=("$RUNS/pretrained_gen/${fam}_$i.npz"); done
done
"$MASH" render "${f[@]}" --columns 6 --views 1 --size 200x200 -o "$F/families.png" --log-level warn
"$MASH" render "${g[@]}" --columns 4 --views 1 --size 200x200 -o "$R/docs/images/families_generated.png" --log-level warn
ls -la "$F" "$R/docs/images/families_generated.png"
