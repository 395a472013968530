#!/usr/bin/env bash
# The image-conditioning experiment, end to end on CPU with the stand-in encoder:
#   1. MASH fits of the ShapeNet-like shapes (from experiments/shapenet_like_category; fitted if missing)
#   2. mash render-views: 12 shaded views per mesh (azimuth i·30°, elevation 30°, 112 px)
#   3. train a small image-conditioned generator for a bounded time (config.yaml: 15 min)
#   4. generate from held-out views (the validation shapes' view 000) and from real photos in
#      $MASH_DATA/images; L1-CD of each held-out generation to its own shape vs the others
#   experiments/shapenet_like_image/run.sh [--skip-train]
set -euo pipefail
: "${MASH_DATA:?set MASH_DATA to the data folder (shapenet_like/, images/: see the README, section Data)}"
cd "$(dirname "$0")/../.."
E=experiments/shapenet_like_image
O=$E/out
MASH=build/bin/mash
skip_train=0
[ "${1:-}" = "--skip-train" ] && skip_train=1
mkdir -p "$O"
if [ ! -f experiments/shapenet_like_category/out/mash/manifest.jsonl ]; then
  $MASH fit-dataset --config experiments/shapenet_like_category/dataset.yaml --input "$MASH_DATA/shapenet_like" --threads 2
fi
[ -d "$O/views" ] || $MASH render-views --input $MASH_DATA/shapenet_like --layout flat --output "$O/views" --views 12 --size 112 --threads 2
if [ $skip_train = 0 ]; then
  rm -rf "$O/train"
  $MASH train --config $E/config.yaml -o "$O/train" --threads 2
fi
CK="$O/train/checkpoint.pt"
ENC=tests/data/standin_encoder.pt
rm -rf "$O/heldout" "$O/photos"
# Held-out views: the validation shapes (never trained on), listed by mash train in split.json.
/usr/bin/python3 - "$O" <<'PY' > "$O/heldout_keys.txt"
import json, sys
print("\n".join(json.load(open(sys.argv[1] + "/train/split.json"))["validation"]))
PY
while read -r key; do
  [ -n "$key" ] || continue
  $MASH generate --checkpoint "$CK" --encoder $ENC --image "$O/views/$key/000.png" --num 1 --seed 3 \
    -o "$O/heldout/$key" --threads 2 --no-render --log-level warn
done < "$O/heldout_keys.txt"
for photo in p2m_chair.png p2m_plane.png p2m_car.png p2m_table.png onet_demo_00.jpg shapenet_4e2769ec_view0.png; do
  $MASH generate --checkpoint "$CK" --encoder $ENC --image "$MASH_DATA/images/$photo" --num 2 --seed 3 \
    -o "$O/photos/${photo%.*}" --threads 2 --log-level warn
done
$MASH render $(ls "$O"/photos/*/*.npz) -o "$O/photos.png" --views 2 --size 200x200 --columns 2
# The validation shapes' MASH in the training frame (data.normalize: box — anchor box centred, longest side 1).
/usr/bin/python3 - "$O" <<'PY'
import os, sys, numpy as np
o = sys.argv[1]
for k in open(o + "/heldout_keys.txt").read().split():
    z = dict(np.load("experiments/shapenet_like_category/out/mash/" + k + ".npz"))
    p = z["positions"]; lo, hi = p.min(0), p.max(0); s = 1.0 / (hi - lo).max()
    z["positions"] = (p - (lo + hi) / 2) * s; z["sh_params"] = z["sh_params"] * s
    os.makedirs(os.path.dirname(o + "/gt_norm/" + k), exist_ok=True)
    np.savez(o + "/gt_norm/" + k + ".npz", **z)
PY
# Top row: the validation shapes' fitted MASH; bottom row: what the model generated from one view.
$MASH render $(sed "s|^|$O/gt_norm/|; s|$|.npz|" "$O/heldout_keys.txt") \
  $(for k in $(cat "$O/heldout_keys.txt"); do ls "$O/heldout/$k"/*.npz; done) \
  -o "$O/heldout.png" --views 1 --size 200x200 --columns "$(wc -l < "$O/heldout_keys.txt")"
mkdir -p $E/figures
cp "$O/heldout.png" "$O/photos.png" $E/figures/ && cp "$O/train/loss.png" $E/figures/loss.png
cp "$O/views/chair/fgsynth_ChairNoArms8/002.png" $E/figures/view_example.png 2>/dev/null || true
# L1-CD of each held-out generation to every validation shape (both in the training frame, 5000 points).
/usr/bin/python3 - "$O" "$MASH" <<'PY' | tee "$O/results.md"
import glob, json, subprocess, sys
o, mash = sys.argv[1], sys.argv[2]
keys = [k for k in open(o + "/heldout_keys.txt").read().split() if k]
gt = {k: o + "/gt_norm/" + k + ".npz" for k in keys}
def cd(a, b):
    subprocess.run([mash, "eval", a, b, "--num-points", "5000", "--normalize", "none", "--json", o + "/tmp_eval.json", "--log-level", "warn",
                    "--threads", "2"], check=True, stdout=subprocess.DEVNULL)
    return json.load(open(o + "/tmp_eval.json"))["l1_cd"]
own, other, wins = [], [], 0
for k in keys:
    g = glob.glob(o + "/heldout/" + k + "/*.npz")[0]
    d = {u: cd(g, gt[u]) for u in keys}
    own.append(d[k]); other.append(sum(v for u, v in d.items() if u != k) / (len(keys) - 1))
    wins += min(d, key=d.get) == k
m = [json.loads(l) for l in open(o + "/train/metrics.jsonl")]
tr = [x for x in m if "loss" in x]; va = [x for x in m if "val_loss" in x]
print(f"training: {tr[-1]['step']} steps in {tr[-1]['elapsed_s'] / 60:.1f} min; train loss {tr[0]['loss']:.3f} -> "
      f"{tr[-1]['loss']:.3f}; validation loss (EMA) {va[0]['val_loss']:.3f} -> {va[-1]['val_loss']:.3f}\n")
print(f"held-out views ({len(keys)} validation shapes): mean L1-CD to its own shape {sum(own) / len(own):.4f}, "
      f"to the other validation shapes {sum(other) / len(other):.4f}; closest to its own shape: {wins}/{len(keys)}")
print(f"mean L1-CD (training frame), per held-out shape: " + ", ".join(f"{k} {v:.4f}" for k, v in zip(keys, own)))
PY
