#!/usr/bin/env bash
# The paper's released generators as users run them (issue #13), on the golden small checkpoints
# made by the original code: import-original (ema and model weights), eval-net against the
# original's outputs (1e-5), the 0-d t path, the normalizer import, and one-line errors.
#   original.sh MASH_BIN REPO_ROOT WORKDIR
set -euo pipefail
MASH=$1 R=$2 W=$3
PY=${MASH_PYTHON:-$R/.venv/bin/python3}
G=$R/tests/data/mash_diffusion_golden
rm -rf "$W" && mkdir -p "$W"
for n in category_small image_small; do
  "$MASH" import-original --checkpoint "$G/${n}_checkpoint.pth" --heads 4 -o "$W/$n.pt" --threads 2
  "$MASH" import-original --checkpoint "$G/${n}_checkpoint.pth" --heads 4 --weights model -o "$W/$n.model.pt" --threads 2
  "$MASH" eval-net --checkpoint "$W/$n.pt" --inputs "$G/${n}_io.npz" -o "$W/$n.out.npz" --threads 2
  "$MASH" eval-net --checkpoint "$W/$n.model.pt" --inputs "$G/${n}_io.npz" -o "$W/$n.out_model.npz" --threads 2
  # the 0-d t that odeint passes: inputs with t = t_scalar
  "$PY" - "$G/${n}_io.npz" "$W/$n.scalar_in.npz" <<'PY'
import sys, numpy as np
g = np.load(sys.argv[1])
d = {k: g[k] for k in ("x", "category", "cond_tokens") if k in g}
d["t"] = g["t_scalar"]
np.savez(sys.argv[2], **d)
PY
  "$MASH" eval-net --checkpoint "$W/$n.pt" --inputs "$W/$n.scalar_in.npz" -o "$W/$n.out_scalar.npz" --threads 2
done
"$PY" - "$G" "$W" <<'PY'
import sys, numpy as np
G, W = sys.argv[1], sys.argv[2]
for n in ("category_small", "image_small"):
    g = np.load(f"{G}/{n}_io.npz")
    for ours, ref in (("out", "out"), ("out_model", "out"), ("out_scalar", "out")):
        o = np.load(f"{W}/{n}.{ours}.npz")["out"]
        key = {"out": "out", "out_model": "out_model", "out_scalar": "out_scalar_t"}[ours]
        err = float(np.abs(o - g[key]).max())
        print(f"{n} {key}: max |ours - original| = {err:.3g} (|out| <= {float(np.abs(g[key]).max()):.2f})")
        assert o.dtype == np.float32 and o.shape == g[key].shape and err < 1e-5, (n, key, err)
print("eval-net parity OK")
PY
# With the original normalizer: the knots are copied exactly into the stored normalizer.
"$MASH" import-original --checkpoint "$G/category_small_checkpoint.pth" --heads 4 \
  --normalizer "$G/bunny_multi_linear_transformers.pkl" -o "$W/with_norm.pt" --threads 2
# Sampling an imported category model by synset id and by name (dopri5 as the original).
"$MASH" generate --checkpoint "$W/with_norm.pt" --category 03001627 --num 1 -o "$W/gen_synset" --no-render --threads 2
"$MASH" generate --checkpoint "$W/with_norm.pt" --category chair --num 1 -o "$W/gen_name" --no-render --threads 2
"$PY" - "$W" <<'PY'
import json, sys, numpy as np
w = sys.argv[1]
for d in ("gen_synset", "gen_name"):
    g = json.load(open(f"{w}/{d}/generate.json"))
    assert len(g["shapes"]) == 1 and g["shapes"][0]["category"] == "chair", g
    assert np.load(g["shapes"][0]["file"])["positions"].shape == (400, 3)
print("generate from an imported model OK")
PY
# Our own training with the original's 55-synset vocabulary (folders by synset id or name).
mkdir -p "$W/sn/chair" "$W/sn/02691156"
cp "$R/tests/data/mash_small/animal/cow.npz" "$W/sn/chair/a.npz"
cp "$R/tests/data/mash_small/animal/camel.npz" "$W/sn/chair/b.npz"
cp "$R/tests/data/mash_small/object/fandisk.npz" "$W/sn/02691156/c.npz"
"$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/sn_model" --set data.root="$W/sn" \
  --set data.categories=shapenet55 --set data.val_fraction=0 --set train.steps=3 --log-level warn --threads 2
"$MASH" generate --checkpoint "$W/sn_model/checkpoint.pt" --category 02691156 --num 1 --steps 2 -o "$W/sn_gen" --no-render --threads 2
"$PY" - "$W" <<'PY'
import json, sys
g = json.load(open(sys.argv[1] + "/sn_gen/generate.json"))
assert g["shapes"][0]["category"] == "airplane", g
print("training with the shapenet55 vocabulary OK")
PY
expect_fail() {  # expect_fail PATTERN OUTPUT cmd...
  local pat=$1 out=$2; shift 2
  set +e; "$@" 2>"$W/err.txt" >/dev/null; local rc=$?; set -e
  [[ $rc -eq 2 ]] && grep -q -- "$pat" "$W/err.txt" && [[ $(grep -c '^error:' "$W/err.txt") -eq 1 ]] && [[ ! -e $out ]] \
    || { echo "FAIL ($rc): $* -> $(cat "$W/err.txt")"; exit 1; }
  echo "ok: $(grep '^error:' "$W/err.txt")"
}
head -c 100000 "$G/category_small_checkpoint.pth" > "$W/cut.pth"
expect_fail "cut.pth: " "$W/x.pt" "$MASH" import-original --checkpoint "$W/cut.pth" -o "$W/x.pt"
expect_fail "not a torch.save archive" "$W/x.pt" "$MASH" import-original --checkpoint "$R/tests/data/numpy_stored.npz" -o "$W/x.pt"
expect_fail "must divide the model width 64" "$W/x.pt" "$MASH" import-original --checkpoint "$G/category_small_checkpoint.pth" --heads 5 -o "$W/x.pt"
expect_fail "checkpoint not found" "$W/x.pt" "$MASH" import-original --checkpoint "$W/none.pth" -o "$W/x.pt"
expect_fail "not an original normalizer file\|invalid joblib normalizer file" "$W/x.pt" "$MASH" import-original --checkpoint "$G/category_small_checkpoint.pth" --heads 4 --normalizer "$G/category_small_checkpoint.pth" -o "$W/x.pt"
expect_fail "needs 'cond_tokens'" "$W/y.npz" "$MASH" eval-net --checkpoint "$W/image_small.pt" --inputs "$G/category_small_io.npz" -o "$W/y.npz"
expect_fail "needs 'x' of shape" "$W/y.npz" "$MASH" eval-net --checkpoint "$W/image_small.pt" --inputs "$R/tests/data/numpy_stored.npz" -o "$W/y.npz"
echo "all original-model checks passed"
