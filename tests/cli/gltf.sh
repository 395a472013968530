#!/usr/bin/env bash
# glTF / GLB scenes as users read them: the Khronos "2CylinderEngine" (82 nodes, transforms on
# most) as GLB, as its Draco-compressed twin and re-packed with KHR_mesh_quantization (gltfpack),
# each sampled by mash and compared with the transform-baked reference that assimp's own
# `assimp export` writes; unsupported (EXT_meshopt_compression) and broken files from Debian's
# assimp-testmodels give one error line, exit 2, no output; an Objaverse-shaped tree goes through
# fit-dataset (manifest: ok lines with the bounding box, a failed line with the reason) and
# render-views (pictures of the assembled objects).
#   gltf.sh MASH_BIN REPO_ROOT WORKDIR      (exit 77 = skipped: test models or tools missing)
set -u
MASH=$1 R=$2 W=$3
PY=${MASH_PYTHON:-$R/.venv/bin/python3}
M=/usr/share/assimp/models/glTF2
for need in "$M/2CylinderEngine-glTF-Binary/2CylinderEngine.glb" /usr/bin/assimp /usr/bin/gltfpack; do
  [[ -e $need ]] || { echo "skipped: $need missing (scripts/install-deps.sh installs assimp-testmodels, assimp-utils, gltfpack)"; exit 77; }
done
rm -rf "$W" && mkdir -p "$W"
fail=0
ENGINE=$M/2CylinderEngine-glTF-Binary/2CylinderEngine.glb
assimp export "$ENGINE" "$W/reference.obj" >/dev/null 2>&1 || { echo "FAIL: assimp export"; exit 1; }
gltfpack -i "$ENGINE" -o "$W/quantized.glb" >/dev/null 2>&1 || { echo "FAIL: gltfpack"; exit 1; }
gltfpack -i "$ENGINE" -o "$W/meshopt.glb" -c >/dev/null 2>&1 || { echo "FAIL: gltfpack -c"; exit 1; }
# Sampling noise: the reference against itself with other samples.
"$MASH" eval "$W/reference.obj" "$W/reference.obj" --num-points 50000 --json "$W/noise.json" >/dev/null 2>&1
for f in "$ENGINE" "$M/draco/2CylinderEngine.gltf" "$W/quantized.glb"; do
  "$MASH" eval "$f" "$W/reference.obj" --num-points 50000 --json "$W/eval.json" >/dev/null 2>"$W/stderr" \
    || { echo "FAIL $f: $(tail -1 "$W/stderr")"; fail=1; continue; }
  "$PY" - "$W/eval.json" "$W/noise.json" "$f" <<'PY' || fail=1
import json, sys
e, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ok = e["l1_cd"] < 2 * n["l1_cd"] and e["recall"]["0.01"] > 0.95 and e["precision"]["0.01"] > 0.95
print(("ok  " if ok else "FAIL") + " %s: L1-CD %.5f vs the baked reference (noise %.5f), P/R@1%% %.3f/%.3f"
      % (sys.argv[3], e["l1_cd"], n["l1_cd"], e["precision"]["0.01"], e["recall"]["0.01"]))
sys.exit(0 if ok else 1)
PY
done
row() {  # row FILE FRAGMENT
  local f=$1 frag=$2
  rm -f "$W/out.ply"
  "$MASH" sample "$f" -o "$W/out.ply" -n 100 >"$W/stdout" 2>"$W/stderr"; local rc=$?
  local msg; msg=$(grep '^error:' "$W/stderr")
  if [[ $rc -ne 2 || $(grep -c '^error:' "$W/stderr") -ne 1 || -e $W/out.ply ]] || ! grep -q -- "$frag" <<<"$msg"; then
    echo "FAIL $f: exit $rc, want one error line with '$frag': $(cat "$W/stderr")"; fail=1; return
  fi
  echo "ok   $msg"
}
row "$W/meshopt.glb" "requires the glTF extension EXT_meshopt_compression"
row "$M/IndexOutOfRange/IndexOutOfRange.gltf" "out of range"
row "$M/IndexOutOfRange/AllIndicesOutOfRange.gltf" "out of range"
row "$M/MissingBin/BoxTextured.gltf" "BoxTextured0.bin"
row "$M/SchemaFailures/sceneWrongType.gltf" "schema: scene is not a non-negative integer"
row "$M/IncorrectVertexArrays/Cube.gltf" "not a multiple of 3"
row "$M/TestNoRootNode/NoScene.gltf" "scene"
row "$M/TestNoRootNode/SceneWithoutNodes.gltf" "no triangles"
row "$M/RecursiveNodes/RecursiveNodes.gltf" "node"
row "$M/BoxWithInfinites-glTF-Binary/BoxWithInfinites.glb" "non-finite"
for f in "$M"/wrongTypes/*.gltf; do row "$f" "schema:"; done
# Objaverse layout end to end.
O=$W/objaverse
mkdir -p "$O/glbs/000-001" "$O/glbs/000-002"
cp "$ENGINE" "$O/glbs/000-001/engine.glb"
cp "$W/quantized.glb" "$O/glbs/000-001/engine_quantized.glb"
cp "$R/tests/data/gltf/hierarchy.glb" "$O/glbs/000-002/hierarchy.glb"
cp "$W/meshopt.glb" "$O/glbs/000-002/meshopt.glb"
"$MASH" fit-dataset --input "$O" --layout objaverse --output "$W/fits" --set num_anchors=20 --set num_gt_points=2000 \
  --set num_directions=100 --set num_boundary=10 --set warmup_steps=5 --set adaptive_epochs=1 --set max_epoch_steps=5 \
  --threads 2 >"$W/fit.log" 2>&1; rc=$?
[[ $rc -eq 3 ]] || { echo "FAIL fit-dataset: exit $rc (expected 3: one shape failed): $(tail -3 "$W/fit.log")"; fail=1; }
"$PY" - "$W/fits/manifest.jsonl" <<'PY' || fail=1
import json, sys
lines = {l["id"]: l for l in map(json.loads, open(sys.argv[1]))}
ok = True
for uid in ("engine", "engine_quantized", "hierarchy"):
    l = lines[uid]
    good = l["status"] == "ok" and len(l["bbox"]) == 2
    print(("ok  " if good else "FAIL") + " manifest %s: %s bbox %s" % (uid, l["status"], l.get("bbox")))
    ok &= good
e, q = lines["engine"]["bbox"], lines["engine_quantized"]["bbox"]
same = all(abs(a - b) < 15.0 for ca, cb in zip(e, q) for a, b in zip(ca, cb))  # 2 % of the ~740 extent (2000 samples)
print(("ok  " if same else "FAIL") + " quantized engine has the same bounding box as the float one")
f = lines["meshopt"]
bad = f["status"] == "failed" and "EXT_meshopt_compression" in f["error"]
print(("ok  " if bad else "FAIL") + " manifest meshopt: %s: %s" % (f["status"], f["error"]))
sys.exit(0 if ok and same and bad else 1)
PY
rm -f "$O/glbs/000-002/meshopt.glb"
"$MASH" render-views --input "$O" --layout objaverse --output "$W/views" --views 2 --size 96 >"$W/views.log" 2>&1 \
  || { echo "FAIL render-views: $(tail -2 "$W/views.log")"; fail=1; }
n=$(find "$W/views" -name '*.png' | wc -l)
[[ $n -eq 6 ]] && echo "ok   render-views: $n pictures" || { echo "FAIL render-views: $n pictures (expected 6)"; fail=1; }
[[ $fail -eq 0 ]] && echo "all glTF checks passed"
exit $fail
