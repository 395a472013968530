#!/usr/bin/env bash
# The README's demo: installs dependencies (Debian 12), builds, fits the bundled bunny mesh to a
# MASH, and writes into demo_out/: the MASH, its sample points, a report, the loss curve, the
# watertight M+M mesh, its metrics against the input, and a picture (input | patches | mesh); then
# generates shapes of each procedural family (chair, table, mug, lamp, airplane) with the bundled
# pretrained model (models/pretrained/families.pt) and renders them (demo_out/families.png).
#   scripts/demo.sh            # fast preset (~1-2 min of fitting on 2 cores)
#   MASH_DEMO_CONFIG=configs/fit/default.yaml scripts/demo.sh   # the paper's settings
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
OUT=demo_out
mkdir -p "$OUT"
CONFIG=${MASH_DEMO_CONFIG:-configs/fit/fast.yaml}
MASH=build/bin/mash
echo "== mash fit tests/data/npm-bunny.obj (config $CONFIG)"
$MASH fit tests/data/npm-bunny.obj -o "$OUT/bunny.npz" --config "$CONFIG" \
  --points-out "$OUT/bunny_points.ply" --report "$OUT/bunny_report.json" --plot "$OUT/bunny_loss.png"
echo "== mash info $OUT/bunny.npz"
$MASH info "$OUT/bunny.npz"
echo "== mash sample $OUT/bunny.npz -o $OUT/bunny_10k.ply -n 10000"
$MASH sample "$OUT/bunny.npz" -o "$OUT/bunny_10k.ply" -n 10000
echo "== mash mesh $OUT/bunny.npz -o $OUT/bunny_mesh.ply"
$MASH mesh "$OUT/bunny.npz" -o "$OUT/bunny_mesh.ply"
echo "== mash eval $OUT/bunny_mesh.ply tests/data/npm-bunny.obj"
$MASH eval "$OUT/bunny_mesh.ply" tests/data/npm-bunny.obj --json "$OUT/bunny_eval.json" --tau 0.01,0.02
echo "== mash render (input | MASH patches | mesh) -> $OUT/bunny.png"
$MASH render tests/data/npm-bunny.obj "$OUT/bunny.npz" "$OUT/bunny_mesh.ply" --columns 3 --views 1 --size 360x360 \
  -o "$OUT/bunny.png"
echo "== mash generate --checkpoint models/pretrained/families.pt --num 3 (per family) -> $OUT/families/"
rm -rf "$OUT/families"
$MASH generate --checkpoint models/pretrained/families.pt --num 3 --seed 0 -o "$OUT/families" --no-render
echo "== mash render (3 generated shapes per family, one family per row) -> $OUT/families.png"
$MASH render "$OUT"/families/chair_*.npz "$OUT"/families/table_*.npz "$OUT"/families/mug_*.npz "$OUT"/families/lamp_*.npz \
  "$OUT"/families/airplane_*.npz --columns 3 --views 1 --size 240x240 -o "$OUT/families.png"
echo "== outputs in $OUT/:"
ls -l "$OUT"
