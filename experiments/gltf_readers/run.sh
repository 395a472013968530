#!/usr/bin/env bash
# assimp 5.2 vs our glTF reader (tinygltf + libdraco) on the Khronos 2CylinderEngine (GLB, its
# Draco twin, a KHR_mesh_quantization re-pack by gltfpack), a large generated GLB and broken files:
# load times, assembled geometry, L1-CD of each assembly against assimp's transform-baked export.
#   experiments/gltf_readers/run.sh [BUILD_DIR]   (needs assimp-testmodels, assimp-utils, gltfpack)
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$R/build}
O=$R/experiments/gltf_readers/out
M=/usr/share/assimp/models/glTF2
mkdir -p "$O"
E=$M/2CylinderEngine-glTF-Binary/2CylinderEngine.glb
assimp export "$E" "$O/reference.obj" >/dev/null
gltfpack -i "$E" -o "$O/engine_quantized.glb" >/dev/null
# A large scene: the engine's whole node tree copied 64 times (5248 nodes, meshes shared: 7.8 M
# triangles in the assembled scene).
"$R/.venv/bin/python3" - "$E" "$O/engine_x64.glb" <<'PY'
import copy, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<I", b[12:16])[0]
j = json.loads(b[20:20 + n]); rest = b[20 + n:]
sc = j.get("scene", 0)
roots = j["scenes"][sc]["nodes"]
orig = j["nodes"]; N = len(orig)
nodes, new_roots = [], []
for k in range(64):
    for nd in orig:
        c = copy.deepcopy(nd)
        if "children" in c:
            c["children"] = [ch + k * N for ch in c["children"]]
        nodes.append(c)
    nodes.append({"translation": [800.0 * (k % 8), 0, 400.0 * (k // 8)], "children": [r + k * N for r in roots]})
    new_roots.append(len(nodes) - 1)
# the per-copy wrapper nodes were appended after each copy: fix the child offsets
fixed, idx_map = [], {}
pos = 0
for k in range(64):
    for i in range(N):
        idx_map[k * N + i] = pos; pos += 1
    pos += 1
for nd in nodes:
    if "children" in nd:
        nd["children"] = [idx_map[ch] for ch in nd["children"]]
j["nodes"] = nodes
j["scenes"][sc]["nodes"] = new_roots
js = json.dumps(j).encode(); js += b" " * (-len(js) % 4)
out = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(js) + len(rest)) + struct.pack("<I4s", len(js), b"JSON") + js + rest
open(sys.argv[2], "wb").write(out)
PY
"$B/bin/compare_readers" "$O" "$E" "$M/draco/2CylinderEngine.gltf" "$O/engine_quantized.glb" "$O/engine_x64.glb" \
  "$M/IndexOutOfRange/IndexOutOfRange.gltf" "$M/IncorrectVertexArrays/Cube.gltf" "$M/BoxWithInfinites-glTF-Binary/BoxWithInfinites.glb" \
  | tee "$O/readers.txt"
echo "L1-CD (bbox-normalized, 50k samples) against the baked reference:"
for f in "$O"/2CylinderEngine.*.obj "$O"/engine_quantized.*.obj; do
  "$B/bin/mash" eval "$f" "$O/reference.obj" --num-points 50000 --json "$O/e.json" >/dev/null 2>&1 || { echo "$f: eval failed"; continue; }
  "$R/.venv/bin/python3" -c "import json,sys; e=json.load(open(sys.argv[1])); print('%-40s L1-CD %.4f  P/R@1%% %.3f/%.3f' % (sys.argv[2], e['l1_cd'], e['precision']['0.01'], e['recall']['0.01']))" "$O/e.json" "$(basename "$f")"
done | tee -a "$O/readers.txt"
