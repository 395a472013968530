#!/usr/bin/env bash
# The category-generation experiment, end to end on CPU:
#   1. batch-fit the 70 ShapeNet-like shapes to 400-anchor MASH      (~35 min on 2 cores)
#   2. train a small generator for a bounded time (config.yaml: 25 min)
#   3. generate 4 shapes per category (trained) and the same with an untrained model
#   4. eval-gen both against the training shapes; a completion example; renders
# Outputs under experiments/shapenet_like_category/out/ (git-ignored); a summary in out/results.md.
#   experiments/shapenet_like_category/run.sh [--skip-fit] [--skip-train]
set -euo pipefail
cd "$(dirname "$0")/../.."
E=experiments/shapenet_like_category
O=$E/out
MASH=build/bin/mash
FNET=tests/data/pointnet_features.pt
skip_fit=0 skip_train=0
for a in "$@"; do
  case $a in --skip-fit) skip_fit=1 ;; --skip-train) skip_train=1 ;; *) echo "unknown option $a"; exit 2 ;; esac
done
mkdir -p "$O"

# 1. Fit (resumable: finished shapes are skipped).
[ $skip_fit = 1 ] || $MASH fit-dataset --config $E/dataset.yaml --input "${MASH_DATA:?set MASH_DATA to the data folder (see the README, section Data)}/shapenet_like" --threads 2

# 2. Train (time-bounded), plus an untrained model for the baseline (1 step at warm-up LR 0 =
#    the initial weights).
if [ $skip_train = 0 ]; then
  rm -rf "$O/train" "$O/untrained"
  $MASH train --config $E/config.yaml -o "$O/train" --threads 2
  $MASH train --config $E/config.yaml -o "$O/untrained" --threads 2 --set train.steps=1 --set sample.val_samples=0
fi

# 3. Generate: 4 per category, 50 Euler steps (EMA weights).
rm -rf "$O/generated" "$O/generated_untrained" "$O/completion"
$MASH generate --checkpoint "$O/train/checkpoint.pt" --num 4 --seed 1 -o "$O/generated" --threads 2
$MASH generate --checkpoint "$O/untrained/checkpoint.pt" --num 4 --seed 1 -o "$O/generated_untrained" --threads 2 --no-render

# 4. Metrics against the training shapes (their fitted MASH files), FID/KID with the stand-in
#    PointNet feature network of tests/data (random weights: plumbing, not a perceptual metric).
$MASH eval-gen "$O/generated" "$O/mash" --feature-net $FNET --normalize unit --json "$O/eval_trained.json" --threads 2
$MASH eval-gen "$O/generated_untrained" "$O/mash" --feature-net $FNET --normalize unit --json "$O/eval_untrained.json" --threads 2

# Completion: keep the anchors of a training chair whose centres lie in its lower half, generate
# the rest (4 samples); the kept anchors are frozen (bit-exact in the sampler, exact in the files).
CHAIR=$(ls "$O"/mash/chair/*.npz | head -1)
ZMID=$(/usr/bin/python3 -c "import numpy as np,sys; p=np.load(sys.argv[1])['positions']; print(np.median(p[:,1]))" "$CHAIR")
$MASH generate --checkpoint "$O/train/checkpoint.pt" --complete "$CHAIR" --keep-box "-9,-9,-9,9,$ZMID,9" \
  --category chair --num 4 --seed 2 -o "$O/completion" --threads 2
$MASH render "$CHAIR" -o "$O/completion/input.png" --views 2 --size 240x240

# Figures for the README (committed): one sample per category (alphabetical, 5 per row), the loss
# curve, the completion input and its 4 completions.
mkdir -p $E/figures
$MASH render $(ls "$O"/generated/*_000.npz) -o $E/figures/per_category.png --views 1 --size 160x160 --columns 5
$MASH render $(ls "$O"/generated_untrained/*_000.npz | head -5) -o $E/figures/untrained.png --views 1 --size 160x160 --columns 5
cp "$O/train/loss.png" $E/figures/loss.png
cp "$O/completion/input.png" $E/figures/completion_input.png
cp "$O/completion/samples.png" $E/figures/completion.png

/usr/bin/python3 - "$O" <<'PY' | tee "$O/results.md"
import json, sys
o = sys.argv[1]
t, u = json.load(open(o + "/eval_trained.json")), json.load(open(o + "/eval_untrained.json"))
m = [json.loads(l) for l in open(o + "/train/metrics.jsonl")]
tr = [x for x in m if "loss" in x]; va = [x for x in m if "val_loss" in x]
print(f"training: {tr[-1]['step']} steps in {tr[-1]['elapsed_s'] / 60:.1f} min, "
      f"{sum(x['sec_per_step'] for x in tr) / len(tr):.3f} s/step; train loss {tr[0]['loss']:.3f} -> {tr[-1]['loss']:.3f}, "
      f"validation loss (EMA) {va[0]['val_loss']:.3f} -> {va[-1]['val_loss']:.3f}\n")
print("| model | generated | MMD-CD | COV-CD | 1-NNA-CD | FID (stand-in) | KID (stand-in) |")
print("|---|---|---|---|---|---|---|")
for name, j in (("trained", t), ("untrained", u)):
    print(f"| {name} | {j['num_generated']} | {j['mmd_cd']:.5f} | {j['cov_cd']:.3f} | {j['nna_cd']:.3f} | {j['fid']:.3f} | {j['kid']:.4f} |")
c = json.load(open(o + "/completion/generate.json"))
dev = max(s["frozen_max_deviation_roundtrip"] for s in c["shapes"])
print(f"\ncompletion: {c['frozen_anchors']} frozen anchors, bit-exact in the sampler: {c['frozen_rows_bit_exact']}, "
      f"max deviation after the token/normalizer round trip {dev:.2e} (output files hold the exact input values)")
PY
