#!/usr/bin/env bash
# Fit-loss comparison: the paper's fit (each MASH sample's distance to its nearest GT
# point) against the surfel distance (configs/fit/sparse_points.yaml: to the disc around that
# point in its tangent plane, FitOptions::surfel_radius), on the shapes of run.sh with the same
# protocol: 8192 points sampled from each GT mesh (same seed) are the only input; both fits are
# meshed with `mash mesh` defaults (M+M, winding orientation); SPR = `mash mesh --from-points`
# (defaults); metrics by `mash eval` against the GT mesh (GT bbox → longest side 1, 100k points).
# Writes experiments/reconstruction/out/fit_loss/results.md and grid_fit_loss.png (GT | SPR | MASH
# paper fit | MASH surfel fit, the CC0 / public-domain and procedural shapes). Not a test.
#   MASH_DATA=... experiments/reconstruction/fit_loss.sh [extra mash fit args for both fits]
# A shape whose fits are already in out/fit_loss/ is not fitted again (delete the folder to redo).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${MASH_DATA:?set MASH_DATA to the data folder (meshes/, shapenet_like/: see the README, section Data)}
OUT=experiments/reconstruction/out/fit_loss
MASH=build/bin/mash
SURFEL_CONFIG=configs/fit/sparse_points.yaml
mkdir -p "$OUT"
source experiments/reconstruction/shapes.sh  # SHAPES, PUBLIC_SHAPES, shape_name, shape_gt, mesh_timed
ROWS="$OUT/rows.tsv"
: >"$ROWS"
# timed OUTFILE_SECONDS CMD...: runs CMD, writes its wall seconds
timed() {
  local out=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  awk "BEGIN{print $t1 - $t0}" >"$out"
}
# mesh_row NAME LABEL KEY FIT_SECONDS MESH_ARGS...: meshes (timed), evaluates, appends a row
mesh_row() {
  local name=$1 label=$2 key=$3 fit_s=$4; shift 4
  local stats
  stats=$(mesh_timed "$OUT/$name.$key.ply" "$@")
  $MASH eval "$OUT/$name.$key.ply" "$gt" --tau 0.01,0.02 --json "$OUT/$name.$key.json" >/dev/null
  /usr/bin/python3 - "$OUT/$name.$key.json" "$name" "$label" "$fit_s" $stats >>"$ROWS" <<'PY'
import json, sys
js, name, label, fit_s, secs, comps, bnd, nm = sys.argv[1:9]
m = json.load(open(js))
print("\t".join([name, label, f"{m['l1_cd']:.5f}", f"{m['fscore']['0.01']:.3f}", f"{m['fscore']['0.02']:.3f}",
                 f"{m['normal_consistency']:.3f}", f"{float(secs):.1f}", fit_s, comps, "yes" if bnd == "0" and nm == "0" else "no"]))
PY
}
samples_row() {
  local name=$1 label=$2 npz=$3 fit_s=$4
  $MASH eval "$npz" "$gt" --tau 0.01,0.02 --json "$npz.json" >/dev/null
  /usr/bin/python3 - "$npz.json" "$name" "$label" "$fit_s" >>"$ROWS" <<'PY'
import json, sys
js, name, label, fit_s = sys.argv[1:5]
m = json.load(open(js))
print("\t".join([name, label, f"{m['l1_cd']:.5f}", f"{m['fscore']['0.01']:.3f}", f"{m['fscore']['0.02']:.3f}", "-", "-", fit_s, "-", "-"]))
PY
}
for s in "${SHAPES[@]}"; do
  n=$(shape_name "$s")
  gt=$(shape_gt "$s" "$OUT")
  echo "== $s ($(date +%T))"
  [[ -f $OUT/$n.input.ply ]] || $MASH sample "$gt" -o "$OUT/$n.input.ply" -n 8192 --log-level warn
  [[ -f $OUT/$n.paper.npz ]] || timed "$OUT/$n.paper.fit_seconds" $MASH fit "$OUT/$n.input.ply" -o "$OUT/$n.paper.npz" --log-level warn "$@"
  [[ -f $OUT/$n.surfel.npz ]] || timed "$OUT/$n.surfel.fit_seconds" $MASH fit "$OUT/$n.input.ply" -o "$OUT/$n.surfel.npz" --config "$SURFEL_CONFIG" --log-level warn "$@"
  fp=$(printf %.0f "$(cat "$OUT/$n.paper.fit_seconds")")
  fs=$(printf %.0f "$(cat "$OUT/$n.surfel.fit_seconds")")
  mesh_row "$n" "SPR" spr - --from-points "$OUT/$n.input.ply"
  mesh_row "$n" "MASH, paper fit" paper "$fp" "$OUT/$n.paper.npz"
  mesh_row "$n" "MASH, surfel fit" surfel "$fs" "$OUT/$n.surfel.npz"
  samples_row "$n" "MASH samples, paper fit" "$OUT/$n.paper.npz" "$fp"
  samples_row "$n" "MASH samples, surfel fit" "$OUT/$n.surfel.npz" "$fs"
done
PUB=()
for n in "${PUBLIC_SHAPES[@]}"; do PUB+=("$(shape_gt "$n" "$OUT")" "$OUT/$n.spr.ply" "$OUT/$n.paper.ply" "$OUT/$n.surfel.ply"); done
$MASH render "${PUB[@]}" --columns 8 --views 1 --size 180x180 -o experiments/reconstruction/grid_fit_loss.png --log-level warn
/usr/bin/python3 experiments/reconstruction/table.py "$ROWS" L1-CD F@0.01 F@0.02 NC "meshing s" "fit s" components "closed manifold" >"$OUT/results.md"
cat "$OUT/results.md"
