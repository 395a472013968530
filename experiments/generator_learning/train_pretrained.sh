#!/usr/bin/env bash
# The shipped model models/pretrained/families.pt: mash's default recipe on the training split of
# the families benchmark (run families.sh first: it makes and fits the shapes), with the
# benchmark's model (families.yaml) trained 3x longer. One thread, seeded: ~30 min on one core.
#   experiments/generator_learning/train_pretrained.sh [RUNS]
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-$R/experiments/generator_learning/runs/families}
MASH=${MASH_BIN:-$R/build/bin/mash}
STEPS=${STEPS:-60000}
[[ -d $RUNS/train ]] || { echo "error: train_pretrained.sh: $RUNS/train: no training split (expected the output of families.sh)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
rm -rf "$RUNS/pretrained"
"$MASH" train --config "$R/experiments/generator_learning/families.yaml" -o "$RUNS/pretrained" --threads 1 \
  --set data.root="$RUNS/train" --set train.steps="$STEPS" --set train.checkpoint_every=5000 --log-level warn
mkdir -p "$R/models/pretrained"
cp "$RUNS/pretrained/model.pt" "$R/models/pretrained/families.pt.tmp" && mv "$R/models/pretrained/families.pt.tmp" "$R/models/pretrained/families.pt"
ls -la "$R/models/pretrained/families.pt"
