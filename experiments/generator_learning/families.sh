#!/usr/bin/env bash
# Generalization benchmark: five procedural shape families (`mash shape FAMILY --seed I`: chair,
# table, mug, lamp, airplane), NUM seeds each, fitted with `mash fit-dataset` (32 anchors), the
# first TRAIN seeds of each family for training and the rest held out. One category-conditioned
# model per recipe (same data, steps, seed), HELD shapes generated per family, scored against the
# held-out shapes (MMD-CD, COV-CD, 1-NNA-CD, family accuracy), beside three reference rows: an
# untrained model, random training shapes (a memorizer) and the whole training set.
#   experiments/generator_learning/families.sh [OUT]     (default experiments/generator_learning/runs/families)
#   NUM=30 TRAIN=24 STEPS=20000 RECIPES="paper mash" JOBS=2 ...   (environment overrides)
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$R/experiments/generator_learning/runs/families}
MASH=${MASH_BIN:-$R/build/bin/mash}
PY=${MASH_PYTHON:-$R/.venv/bin/python3}
NUM=${NUM:-30} TRAIN=${TRAIN:-24} STEPS=${STEPS:-20000} RECIPES=${RECIPES:-"paper mash"} JOBS=${JOBS:-2}
FAMILIES="chair table mug lamp airplane"
CONFIG=$R/experiments/generator_learning/families.yaml
export OMP_WAIT_POLICY=PASSIVE MASH_BIN=$MASH
mkdir -p "$OUT"
HELD=$((NUM - TRAIN))

# 1. meshes and fits (resumable: fit-dataset skips what its manifest holds)
for f in $FAMILIES; do
  mkdir -p "$OUT/meshes/$f"
  for ((i = 0; i < NUM; ++i)); do
    [[ -f $OUT/meshes/$f/$f$(printf %03d $i).obj ]] || "$MASH" shape "$f" --seed "$i" -o "$OUT/meshes/$f/$f$(printf %03d $i).obj" --log-level warn
  done
done
"$MASH" fit-dataset --input "$OUT/meshes" --output "$OUT/fits" --layout flat --workers "$JOBS" --seed 0 \
  --set num_anchors=32 --set num_gt_points=20000 --set num_directions=300 --set num_boundary=30 --set warmup_steps=30 \
  --set adaptive_epochs=2 --set max_epoch_steps=60 --log-level warn
rm -rf "$OUT/train" "$OUT/heldout"
for f in $FAMILIES; do
  mkdir -p "$OUT/train/$f" "$OUT/heldout/$f"
  for ((i = 0; i < NUM; ++i)); do
    n=$f$(printf %03d $i)
    [[ $i -lt $TRAIN ]] && ln -s "$OUT/fits/$f/$n.npz" "$OUT/train/$f/$n.npz" || ln -s "$OUT/fits/$f/$n.npz" "$OUT/heldout/$f/$n.npz"
  done
done

PAPER="--set model.anchor_order=none --set objective.ot_pairs=with_replacement --set objective.prediction=velocity
       --set objective.time_sampling=uniform --set train.lr_schedule=constant"
recipe_args() {
  case $1 in
    paper|untrained) echo "$PAPER" ;;   # the paper's procedure
    mash) echo "--set model.anchor_order=canonical --set objective.prediction=data --set train.lr_schedule=cosine" ;;  # mash's default recipe
    *) echo "error: families.sh: unknown recipe '$1' (expected paper, mash)" >&2; exit 2 ;;
  esac
}

# 2. one model per recipe (the untrained row: the paper's model after one step)
train_and_score() {
  local r=$1 d=$OUT/$1 steps=$STEPS
  [[ $r == untrained ]] && steps=1
  rm -rf "$d" && mkdir -p "$d"
  local t0=$(date +%s)
  "$MASH" train --config "$CONFIG" -o "$d/model" --threads 1 $(recipe_args "$r") --set data.root="$OUT/train" \
    --set train.steps="$steps" --log-level warn >"$d/train.log" 2>&1
  local t1=$(date +%s)
  "$MASH" generate --checkpoint "$d/model/checkpoint.pt" --num "$HELD" --points 2048 --seed 1 -o "$d/gen" --threads 1 \
    --log-level warn >"$d/gen.log" 2>&1
  echo "{\"row\": \"$r\", \"steps\": $steps, \"train_seconds\": $((t1 - t0)), \"score\": $("$PY" "$R/experiments/generator_learning/score.py" families "$d/gen" "$OUT/heldout")}" \
    >"$d/score.json"
  cat "$d/score.json"
}
pids=()
for r in $RECIPES untrained; do
  train_and_score "$r" &
  pids+=($!)
  while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do sleep 5; done
done
for p in "${pids[@]}"; do wait "$p"; done

# 3. reference rows: random training shapes (HELD per family, seeded) and the whole training set
rm -rf "$OUT/memorizer" && mkdir -p "$OUT/memorizer"
for f in $FAMILIES; do
  mkdir -p "$OUT/memorizer/pick/$f"
  for n in $(ls "$OUT/train/$f" | "$PY" -c "import sys, random; l = sys.stdin.read().split(); random.Random(7).shuffle(l); print(' '.join(l[:$HELD]))"); do
    ln -s "$OUT/fits/$f/$n" "$OUT/memorizer/pick/$f/$n"
  done
done
echo "{\"row\": \"memorizer\", \"score\": $("$PY" "$R/experiments/generator_learning/score.py" families "$OUT/memorizer" "$OUT/heldout" --gen-dir-is-data "$OUT/memorizer/pick")}" >"$OUT/memorizer/score.json"
mkdir -p "$OUT/trainset"
echo "{\"row\": \"training set\", \"score\": $("$PY" "$R/experiments/generator_learning/score.py" families "$OUT/trainset" "$OUT/heldout" --gen-dir-is-data "$OUT/train")}" >"$OUT/trainset/score.json"

"$PY" - "$OUT" $RECIPES <<'PY'
import json, sys
out, recipes = sys.argv[1], sys.argv[2:]
print("| row | steps | train s | MMD-CD (x1e3) | COV-CD | 1-NNA-CD | family accuracy |")
print("|---|---|---|---|---|---|---|")
for r in recipes + ["untrained", "memorizer", "trainset"]:
    j = json.load(open(f"{out}/{r}/score.json")); s = j["score"]
    print(f"| {j['row']} | {j.get('steps', '-')} | {j.get('train_seconds', '-')} | {1e3 * s['mmd_cd']:.3f} | {s['cov_cd']:.2f} | "
          f"{s['nna_cd']:.2f} | {s['family_accuracy']:.2f} |")
PY
