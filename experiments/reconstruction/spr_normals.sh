#!/usr/bin/env bash
# Screened Poisson from the same inputs as fit_loss.sh, twice: with the input file's normals (what
# `mash mesh --from-points` uses when the file has them, the information the MASH fits get) and
# with normals estimated from the points alone (the normals dropped). Scored against the GT with
# the benchmark's protocol. Rows for results of docs/reconstruction.md. Not a test.
#   MASH_DATA=/path/to/data experiments/reconstruction/spr_normals.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${MASH_DATA:?set MASH_DATA to the data folder (meshes/: see docs/reconstruction.md)}
OUT=experiments/reconstruction/out/spr_normals
MASH=build/bin/mash
PY=${MASH_PYTHON:-.venv/bin/python3}
mkdir -p "$OUT"
source experiments/reconstruction/shapes.sh
printf "| shape | SPR, input normals: L1-CD / F@0.01 / NC | SPR, estimated normals: L1-CD / F@0.01 / NC |\n|---|---|---|\n"
for s in "${SHAPES[@]}"; do
  n=$(shape_name "$s")
  gt=$(shape_gt "$s" "$OUT")
  [[ -f $OUT/$n.input.ply ]] || $MASH sample "$gt" -o "$OUT/$n.input.ply" -n 8192 --log-level warn
  "$PY" - "$OUT/$n.input.ply" "$OUT/$n.input.xyz" <<'PY'
import sys, numpy as np
f = open(sys.argv[1], "rb"); head = b""
while not head.endswith(b"end_header\n"): head += f.readline()
n = int(head.split(b"element vertex ")[1].split(b"\n")[0]); k = head.count(b"property double")
assert k == 6, "the input has no normals"
np.savetxt(sys.argv[2], np.frombuffer(f.read(8 * k * n), "<f8").reshape(n, k)[:, :3])
PY
  row="| $n"
  for v in ply xyz; do
    $MASH mesh --from-points "$OUT/$n.input.$v" -o "$OUT/$n.spr_$v.ply" --log-level warn
    $MASH eval "$OUT/$n.spr_$v.ply" "$gt" --tau 0.01 --json "$OUT/$n.spr_$v.json" >/dev/null
    row+=" | $("$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); print('%.5f / %.3f / %.3f' % (m['l1_cd'], m['fscore']['0.01'], m['normal_consistency']))" "$OUT/$n.spr_$v.json")"
  done
  echo "$row |"
done
