#!/usr/bin/env bash
# Image conditioning as users run it: render-views on a flat mesh tree, a briefly trained tiny
# image model (stand-in encoder), generate --image from a rendered view and from a photo, and
# clear errors (image for a category model, wrong encoder width, missing sidecar).
#   image.sh MASH_BIN REPO_ROOT WORKDIR
set -euo pipefail
MASH=$1 R=$2 W=$3
PY=${MASH_PYTHON:-$R/.venv/bin/python3}
PHOTO="$R/tests/data/images/skimage_rocket.jpg"
rm -rf "$W" && mkdir -p "$W/flat/animal"
ln -s "$R/tests/data/npm-bunny.obj" "$W/flat/animal/bunny.obj"
ln -s "$R/tests/data/meshes/cgal_cow.off" "$W/flat/animal/cow.off"
"$MASH" render-views --input "$W/flat" --output "$W/views" --views 3 --size 64 --threads 2
"$PY" - "$W/views" <<'PY'
import json, sys
v = sys.argv[1]
for k in ("animal/bunny", "animal/cow"):
    cams = json.load(open(f"{v}/{k}/cameras.json"))
    assert [c["azimuth_deg"] for c in cams] == [0, 120, 240] and all(c["elevation_deg"] == 30 for c in cams), cams
    for c in cams:
        assert open(f"{v}/{k}/{c['file']}", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
print("render-views OK")
PY
ENC="$R/tests/data/standin_encoder.pt"
"$MASH" train --config "$R/configs/train/tiny_image.yaml" -o "$W/model" --threads 2 --set train.steps=100 --log-level warn
CK="$W/model/checkpoint.pt"
"$MASH" generate --checkpoint "$CK" --encoder "$ENC" --image "$R/tests/data/mash_small_views/animal/cow/002.png" --num 2 --steps 8 -o "$W/gen_view" --threads 2
"$MASH" generate --checkpoint "$CK" --encoder "$ENC" --image "$PHOTO" --num 1 --steps 8 -o "$W/gen_photo" --threads 2
"$PY" - "$W" <<'PY'
import json, sys, numpy as np
w = sys.argv[1]
for d, n in (("gen_view", 2), ("gen_photo", 1)):
    g = json.load(open(f"{w}/{d}/generate.json"))
    assert len(g["shapes"]) == n, g
    for s in g["shapes"]:
        assert np.load(s["file"])["positions"].shape == (32, 3)
assert len(json.load(open(f"{w}/model/split.json"))["train"]) == 6
print("generate --image OK")
PY
# The same training with the features in a store on disk: the same model (generated shapes equal);
# a second run finds every view already in the store.
for run in 1 2; do
  "$MASH" train --config "$R/configs/train/tiny_image.yaml" -o "$W/model_disk$run" --threads 2 --set train.steps=100 \
    --set data.image_features=disk --set data.feature_cache="$W/store" > "$W/disk$run.log" 2>&1
  grep "views in the feature store" "$W/disk$run.log"
done
grep -q "(0 encoded now" "$W/disk2.log"
"$MASH" generate --checkpoint "$W/model_disk1/checkpoint.pt" --encoder "$ENC" --image "$PHOTO" --num 1 --steps 8 -o "$W/gen_disk" --threads 2
"$PY" - "$W" <<'PY'
import json, sys, numpy as np
w = sys.argv[1]
a = json.load(open(f"{w}/gen_photo/generate.json"))["shapes"][0]["file"]
b = json.load(open(f"{w}/gen_disk/generate.json"))["shapes"][0]["file"]
za, zb = np.load(a), np.load(b)
assert all(np.array_equal(za[k], zb[k]) for k in za.files), "disk-store training differs from in-RAM training"
print("feature store on disk: the same model as in RAM")
PY
expect_fail() {  # expect_fail PATTERN cmd...
  local pat=$1; shift
  set +e; "$@" 2>"$W/err.txt"; local rc=$?; set -e
  [ $rc -eq 2 ] && grep -q -- "$pat" "$W/err.txt" || { echo "FAIL ($rc): $* -> $(cat "$W/err.txt")"; exit 1; }
}
"$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/cat" --threads 2 --set train.steps=2 --log-level warn
expect_fail "needs an image-conditioned checkpoint" "$MASH" generate --checkpoint "$W/cat/checkpoint.pt" --image "$PHOTO" -o "$W/x"
expect_fail "pass --image PHOTO and --encoder" "$MASH" generate --checkpoint "$CK" -o "$W/x"
cp "$ENC" "$W/e.pt"
expect_fail "e.pt.json: sidecar not found" "$MASH" generate --checkpoint "$CK" --encoder "$W/e.pt" --image "$PHOTO" -o "$W/x"
sed 's/"width": 32/"width": 768/' "$ENC.json" > "$W/e.pt.json"
expect_fail "sidecar says \[1, 69, 768\]" "$MASH" generate --checkpoint "$CK" --encoder "$W/e.pt" --image "$PHOTO" -o "$W/x"
expect_fail "nothing.png: image not found" "$MASH" generate --checkpoint "$CK" --encoder "$ENC" --image "$W/nothing.png" -o "$W/x"
[ ! -e "$W/x/generate.json" ]
echo "all image checks passed"
