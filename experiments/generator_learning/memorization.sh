#!/usr/bin/env bash
# Memorization benchmark: the tiny category preset on tests/data/mash_small (6 shapes, 2
# categories, 32 anchors), one run per recipe with the same data, steps and seed; at each point
# of the learning curve 16 shapes per category are generated and each is scored against its
# nearest training shape of its category (L1-CD, F@0.01, training frame; 10 000 points per shape:
# with 2048 the point spacing alone caps F@0.01 of a shape against itself at 0.63).
#   experiments/generator_learning/memorization.sh [OUT]      (default experiments/generator_learning/runs/memorization)
#   STEPS="2000 5000 10000 20000" RECIPES="paper paper_perm canonical" JOBS=2 ...   (environment overrides)
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$R/experiments/generator_learning/runs/memorization}
MASH=${MASH_BIN:-$R/build/bin/mash}
PY=${MASH_PYTHON:-$R/.venv/bin/python3}
STEPS=${STEPS:-"1000 2000 5000 10000 20000"}
RECIPES=${RECIPES:-"paper paper_perm canonical canonical_data_cos"}
JOBS=${JOBS:-2}
CONFIG=$R/configs/train/tiny_category.yaml
DATA=$R/tests/data/mash_small
export OMP_WAIT_POLICY=PASSIVE MASH_BIN=$MASH
mkdir -p "$OUT"

# Every recipe sets all of its settings, whatever mash's defaults are.
PAPER="--set model.anchor_order=none --set objective.ot_pairs=with_replacement --set objective.prediction=velocity
       --set objective.time_sampling=uniform --set train.lr_schedule=constant"
recipe_args() {
  local slots="--set model.anchor_order=canonical"
  case $1 in
    paper) echo "$PAPER" ;;                                                 # the paper's procedure
    paper_perm) echo "$PAPER --set objective.ot_pairs=permutation" ;;       # every OT pair once
    paper_cos) echo "$PAPER --set train.lr_schedule=cosine" ;;
    paper_data_cos) echo "$PAPER --set objective.prediction=data --set train.lr_schedule=cosine" ;;
    canonical) echo "$PAPER $slots" ;;                                      # ordered anchor slots
    canonical_ln) echo "$PAPER $slots --set objective.time_sampling=logit_normal" ;;
    canonical_cos) echo "$PAPER $slots --set train.lr_schedule=cosine" ;;
    canonical_cos_ln) echo "$PAPER $slots --set train.lr_schedule=cosine --set objective.time_sampling=logit_normal" ;;
    canonical_edm_cos) echo "$PAPER $slots --set objective.type=edm --set train.lr_schedule=cosine" ;;
    canonical_data_cos) echo "$PAPER $slots --set objective.prediction=data --set train.lr_schedule=cosine" ;;  # mash's default
    canonical_data_cos_lr2) echo "$PAPER $slots --set objective.prediction=data --set train.lr_schedule=cosine --set train.lr=2e-3" ;;
    canonical_data_cos_lr4) echo "$PAPER $slots --set objective.prediction=data --set train.lr_schedule=cosine --set train.lr=4e-3" ;;
    *) echo "error: memorization.sh: unknown recipe '$1'" >&2; exit 2 ;;
  esac
}

run_recipe() {
  local r=$1 d=$OUT/$1 prev=0
  mkdir -p "$d"
  : >"$d/curve.jsonl"
  for s in $STEPS; do
    local resume=()
    # A constant learning rate: one run, resumed from point to point (exact). A schedule that
    # ends at train.steps: a fresh run for every point.
    if [[ $prev -gt 0 && $(recipe_args "$r") != *cosine* ]]; then resume=(--resume); else rm -rf "$d/model"; fi
    local t0=$(date +%s)
    "$MASH" train --config "$CONFIG" -o "$d/model" --threads 1 "${resume[@]}" $(recipe_args "$r") \
      --set train.steps="$s" --set train.val_every=100000 --set train.checkpoint_every=100000 --set sample.val_samples=0 \
      --log-level warn >>"$d/train.log" 2>&1
    local t1=$(date +%s)
    rm -rf "$d/gen_$s"
    "$MASH" generate --checkpoint "$d/model/checkpoint.pt" --num 16 --points 10000 --seed 1 -o "$d/gen_$s" --threads 1 \
      --log-level warn >>"$d/gen.log" 2>&1
    local score
    score=$("$PY" "$R/experiments/generator_learning/score.py" nearest "$d/gen_$s" "$DATA" --points 10000)
    echo "{\"recipe\": \"$r\", \"step\": $s, \"train_seconds\": $((t1 - t0)), \"score\": $score}" >>"$d/curve.jsonl"
    echo "memorization: $r step $s ($((t1 - t0)) s): $score"
    prev=$s
  done
}

pids=()
for r in $RECIPES; do
  run_recipe "$r" &
  pids+=($!)
  while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do sleep 5; done
done
for p in "${pids[@]}"; do wait "$p"; done
"$PY" - "$OUT" $RECIPES <<'PY'
import json, sys
out, recipes = sys.argv[1], sys.argv[2:]
print("| recipe | step | train s | animal L1-CD / F@0.01 | object L1-CD / F@0.01 |")
print("|---|---|---|---|---|")
for r in recipes:
    for l in open(f"{out}/{r}/curve.jsonl"):
        j = json.loads(l); s = j["score"]
        print(f"| {r} | {j['step']} | {j['train_seconds']} | {s['animal']['l1_cd']:.4f} / {s['animal']['f_0.01']:.2f} | "
              f"{s['object']['l1_cd']:.4f} / {s['object']['f_0.01']:.2f} |")
PY
