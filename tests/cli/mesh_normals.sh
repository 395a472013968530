#!/usr/bin/env bash
# `mash mesh --from-points` uses the normals a point file carries: a sphere's exact outward
# normals are used as they are, inward ones are flipped with a note, a file without normals gets
# estimated ones; the meshes with and without the file's normals differ.
#   mesh_normals.sh MASH_BIN WORKDIR
set -euo pipefail
PY=${MASH_PYTHON:-$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python3}
MASH=$1 W=$2
rm -rf "$W" && mkdir -p "$W"
"$PY" - "$W" <<'PY'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(3)
p = rng.normal(size=(3000, 3)); p /= np.linalg.norm(p, axis=1, keepdims=True)
p[:, 2] *= 0.6  # an ellipsoid: the exact normals differ from radial directions
n = p / np.array([1, 1, 0.36]); n /= np.linalg.norm(n, axis=1, keepdims=True)
np.savetxt(f"{w}/out.xyzn", np.hstack([p, n]))
np.savetxt(f"{w}/in.xyzn", np.hstack([p, -n]))
np.savetxt(f"{w}/none.xyz", p)
PY
run() { "$MASH" mesh --from-points "$W/$1" -o "$W/$2.ply" --depth 6 --threads 2 2>&1 | tee "$W/$2.log"; }
run out.xyzn out >/dev/null; run in.xyzn in >/dev/null; run none.xyz none >/dev/null
grep -q "with the file's normals" "$W/out.log" || { echo "FAIL: outward normals not used"; cat "$W/out.log"; exit 1; }
! grep -q "flipped" "$W/out.log" || { echo "FAIL: outward normals flipped"; exit 1; }
grep -q "point inward on 100% of the points.*flipped" "$W/in.log" || { echo "FAIL: inward normals not flipped"; cat "$W/in.log"; exit 1; }
grep -q "PCA normals" "$W/none.log" || { echo "FAIL: no normals: not estimated"; cat "$W/none.log"; exit 1; }
cmp -s "$W/out.ply" "$W/in.ply" || { echo "FAIL: flipped inward normals give another mesh than outward ones"; exit 1; }
! cmp -s "$W/out.ply" "$W/none.ply" || { echo "FAIL: the mesh with the file's normals equals the one without"; exit 1; }
echo "mesh normals: all checks passed"
