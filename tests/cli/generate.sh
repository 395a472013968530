#!/usr/bin/env bash
# `mash generate` and `mash eval-gen` as users run them, on a briefly trained tiny model:
# per-category generation (+ points, render), completion with frozen anchors (exact in the
# output files, bit-exact in the sampler), blending two parts, eval-gen with a TorchScript
# feature network, and clear errors for an unknown category / too many frozen anchors.
#   generate.sh MASH_BIN CONFIG SMALL_DATA FEATURE_NET WORKDIR
set -euo pipefail
PY=${MASH_PYTHON:-$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python3}
MASH=$1 CONFIG=$2 DATA=$3 FNET=$4 W=$5
rm -rf "$W" && mkdir -p "$W"
"$MASH" train --config "$CONFIG" -o "$W/model" --threads 2 --set train.steps=150 --log-level warn
CK="$W/model/checkpoint.pt"
"$MASH" generate --checkpoint "$CK" --num 3 --points 1000 --steps 10 -o "$W/gen" --threads 2
# Completion answers in the input's coordinates: an input far from the training frame (the cow
# scaled by 3.7 and moved; positions and SH distances scale together).
"$PY" -c "
import numpy as np, sys
z = dict(np.load('$DATA/animal/cow.npz'))
z['positions'] = z['positions'] * 3.7 + np.array([1.0, -2.0, 5.0]); z['sh_params'] = z['sh_params'] * 3.7
np.savez('$W/cow_moved.npz', **z)"
"$MASH" generate --checkpoint "$CK" --complete "$W/cow_moved.npz" --keep-anchors 0-15 --category animal \
  --num 2 --steps 10 -o "$W/complete" --threads 2
"$MASH" generate --checkpoint "$CK" --blend "$DATA/animal/cow.npz:0-7" --blend "$DATA/object/fandisk.npz:20-27" \
  --category object --num 1 --solver heun --steps 5 -o "$W/blend" --threads 2
"$PY" - "$W" "$DATA" <<'PY'
import json, sys, numpy as np
w, data = sys.argv[1], sys.argv[2]
g = json.load(open(w + "/gen/generate.json"))
assert len(g["shapes"]) == 6, g  # 3 per category x 2 categories
for s in g["shapes"]:
    z = np.load(s["file"])
    assert z["positions"].shape == (32, 3) and z["sh_params"].shape == (32, 9) and z["mask_params"].shape == (32, 7)
    assert b"element vertex 1000" in open(s["points"], "rb").read(300)
assert open(w + "/gen/samples.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
c = json.load(open(w + "/complete/generate.json"))
assert c["frozen_anchors"] == 16 and c["frozen_rows_bit_exact"] is True, c
def unit_box(path):  # the training data's normalization (data.normalize: box)
    z = dict(np.load(path)); p = z["positions"]; lo, hi = p.min(0), p.max(0); s = 1.0 / (hi - lo).max()
    z["positions"] = (p - (lo + hi) / 2) * s; z["sh_params"] = z["sh_params"] * s
    return z
moved = dict(np.load(w + "/cow_moved.npz"))
lo, hi = moved["positions"].min(0), moved["positions"].max(0)
for s in c["shapes"]:
    z = np.load(s["file"])
    for k in ("rotate_vectors", "positions", "mask_params", "sh_params"):
        assert np.array_equal(z[k][:16], moved[k][:16]), k  # bit-identical to the input file
    assert s["frozen_max_deviation_roundtrip"] < 1e-4, s
    assert not np.array_equal(z["positions"][16:], moved["positions"][16:])
    # the generated anchors are in the input's frame too (its box, with a margin), not the unit box
    span = (hi - lo).max()
    assert (z["positions"][16:] > lo - 0.5 * span).all() and (z["positions"][16:] < hi + 0.5 * span).all(), z["positions"][16:]
src = unit_box(data + "/animal/cow.npz")
b = json.load(open(w + "/blend/generate.json"))
z = np.load(b["shapes"][0]["file"])
fan = unit_box(data + "/object/fandisk.npz")
cow = dict(np.load(data + "/animal/cow.npz"))
assert np.array_equal(z["positions"][:8], cow["positions"][:8])  # the first input's frame, exact values
p = cow["positions"]; clo, chi = p.min(0), p.max(0); cs = 1.0 / (chi - clo).max()
assert np.allclose(z["positions"][8:16], fan["positions"][20:28] / cs + (clo + chi) / 2, rtol=0, atol=1e-12)
print("generate: categories, completion (16 frozen, max round-trip deviation %.2e), blend OK"
      % max(s["frozen_max_deviation_roundtrip"] for s in c["shapes"]))
PY
"$MASH" eval-gen "$W/gen" "$DATA" --num-points 512 --feature-net "$FNET" --json "$W/evalgen.json"
"$PY" - "$W/evalgen.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["num_generated"] == 6 and j["num_reference"] == 6 and j["feature_dim"] == 64, j
assert j["mmd_cd"] > 0 and 0 < j["cov_cd"] <= 1 and 0 <= j["nna_cd"] <= 1 and j["fid"] > 0, j
print("eval-gen:", {k: round(j[k], 5) for k in ("mmd_cd", "cov_cd", "nna_cd", "fid", "kid")})
PY
set +e
"$MASH" generate --checkpoint "$CK" --category dragon -o "$W/bad" 2>"$W/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "unknown category 'dragon' (this model knows: animal, object)" "$W/err.txt" || { cat "$W/err.txt"; exit 1; }
set +e
"$MASH" generate --checkpoint "$CK" --blend "$DATA/animal/cow.npz" --blend "$DATA/object/rotor.npz" -o "$W/bad" 2>"$W/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "64 frozen anchors, but the model generates 32" "$W/err.txt" || { cat "$W/err.txt"; exit 1; }
set +e
"$MASH" eval-gen "$W/gen" "$DATA" --feature-net "$DATA/animal/cow.npz" 2>"$W/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "cow.npz: not a loadable TorchScript file" "$W/err.txt" || { cat "$W/err.txt"; exit 1; }
echo "all generate checks passed"
