#!/usr/bin/env bash
# The paper's released generators as users run them, on the golden small checkpoints
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
# The original's sampler (torchdiffeq dopri5, rtol = atol = 1e-4) on the goldens' own noise: the same
# number of network evaluations, and the states at query_t equal up to the network's float32
# rounding (eval-net differs from the original by <= 3e-6 per evaluation; the solver alone is
# bit-identical to torchdiffeq, see the unit test on analytic fields).
for n in category_small image_small; do
  "$MASH" sample-net --checkpoint "$W/$n.pt" --inputs "$G/${n}_sampling.npz" -o "$W/$n.sampled.npz" --threads 2
done
# generate from a noise file writes the normalized tokens sample-net gives for the same batch
# (the adaptive steps depend on the whole batch: one chair, the golden's first noise)
"$PY" - "$G" "$W" <<'PY'
import sys, numpy as np
G, W = sys.argv[1], sys.argv[2]
g = np.load(f"{G}/category_small_sampling.npz")
np.save(f"{W}/noise1.npy", g["x_init"][:1])
np.savez(f"{W}/chair1.npz", x_init=g["x_init"][:1], condition=np.array([18]), query_t=np.array([0, 1], np.float32))
PY
"$MASH" generate --checkpoint "$W/category_small.pt" --category 03001627 --noise "$W/noise1.npy" \
  --save-normalized -o "$W/gen_noise" --no-render --threads 2 --log-level warn
"$MASH" sample-net --checkpoint "$W/category_small.pt" --inputs "$W/chair1.npz" -o "$W/chair1.out.npz" --threads 2 --log-level warn
"$PY" - "$G" "$W" <<'PY'
import json, sys, numpy as np
G, W = sys.argv[1], sys.argv[2]
for n in ("category_small", "image_small"):
    g, o = np.load(f"{G}/{n}_sampling.npz"), np.load(f"{W}/{n}.sampled.npz")
    for s in ("", "_fixed"):
        assert int(o["nfe" + s]) == int(g["nfe" + s]), (n, s, int(o["nfe" + s]), int(g["nfe" + s]))
        assert o["traj" + s].shape == g["traj" + s].shape and o["traj" + s].dtype == np.float32
        d = o["x1" + s] - g["x1" + s]
        mx, rms = float(np.abs(d).max()), float(np.sqrt((d ** 2).mean()))
        step = float(np.sqrt(((g["x1" + s] - g["x_init"]) ** 2).mean()))
        print(f"{n} x1{s}: nfe {int(o['nfe' + s])} as the original; max |ours - original| {mx:.3g}, rms {rms:.3g} "
              f"(rms distance travelled {step:.3f})")
        assert mx < 1e-4 and rms < 1e-5, (n, s, mx, rms)
        assert float(np.abs(o["traj" + s] - g["traj" + s]).max()) < 1e-4
    assert np.array_equal(o["traj"][0], g["x_init"])
    fr = int(g["fixed_rows"])
    assert float(np.abs(o["x1_fixed"][:, :fr] - g["x_init"][:, :fr]).max()) < 4e-6
x = np.load(f"{W}/gen_noise/chair_normalized.npy")
o = np.load(f"{W}/chair1.out.npz")
assert x.shape == (1, 400, 25) and x.dtype == np.float32, x.shape
assert np.array_equal(x, o["x1"]), float(np.abs(x - o["x1"]).max())
assert json.load(open(f"{W}/gen_noise/generate.json"))["network_evaluations"] == int(o["nfe"])
print(f"generate --noise: the tokens of sample-net on the same batch ({int(o['nfe'])} evaluations)")
print("sampling parity OK")
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
"$PY" - "$G" "$W" <<'PY'
import sys, numpy as np
G, W = sys.argv[1], sys.argv[2]
g = dict(np.load(f"{G}/category_small_sampling.npz"))
np.savez(f"{W}/no_query.npz", **{k: v for k, v in g.items() if k != "query_t"})
np.savez(f"{W}/bad_cond.npz", **{**g, "condition": np.array([18, 70])})
np.savez(f"{W}/bad_t.npz", **{**g, "query_t": np.array([0.0, 0.5, 0.5, 1.0], np.float32)})
PY
head -c 100000 "$G/category_small_checkpoint.pth" > "$W/cut.pth"
expect_fail "cut.pth: " "$W/x.pt" "$MASH" import-original --checkpoint "$W/cut.pth" -o "$W/x.pt"
expect_fail "not a torch.save archive" "$W/x.pt" "$MASH" import-original --checkpoint "$R/tests/data/numpy_stored.npz" -o "$W/x.pt"
expect_fail "must divide the model width 64" "$W/x.pt" "$MASH" import-original --checkpoint "$G/category_small_checkpoint.pth" --heads 5 -o "$W/x.pt"
expect_fail "needs 'query_t'" "$W/x.npz" "$MASH" sample-net --checkpoint "$W/category_small.pt" --inputs "$W/no_query.npz" -o "$W/x.npz"
expect_fail "'condition' ids must be in" "$W/x.npz" "$MASH" sample-net --checkpoint "$W/category_small.pt" --inputs "$W/bad_cond.npz" -o "$W/x.npz"
expect_fail "strictly increasing" "$W/x.npz" "$MASH" sample-net --checkpoint "$W/category_small.pt" --inputs "$W/bad_t.npz" -o "$W/x.npz"
expect_fail "noise of 400 x 25" "$W/gx" "$MASH" generate --checkpoint "$W/sn_model/checkpoint.pt" --noise "$G/category_small_sampling.npz" -o "$W/gx"
expect_fail "checkpoint not found" "$W/x.pt" "$MASH" import-original --checkpoint "$W/none.pth" -o "$W/x.pt"
expect_fail "not an original normalizer file\|invalid joblib normalizer file" "$W/x.pt" "$MASH" import-original --checkpoint "$G/category_small_checkpoint.pth" --heads 4 --normalizer "$G/category_small_checkpoint.pth" -o "$W/x.pt"
expect_fail "needs 'cond_tokens'" "$W/y.npz" "$MASH" eval-net --checkpoint "$W/image_small.pt" --inputs "$G/category_small_io.npz" -o "$W/y.npz"
expect_fail "needs 'x' of shape" "$W/y.npz" "$MASH" eval-net --checkpoint "$W/image_small.pt" --inputs "$R/tests/data/numpy_stored.npz" -o "$W/y.npz"
echo "all original-model checks passed"
