#!/usr/bin/env bash
# Reconstruction benchmark (issue #4): for each shape, 8192 points sampled from the GT mesh are the
# only input; compare (a) screened Poisson on the points with estimated normals (SPR) and
# (b) MASH fit + M+M (patch normals, orientation, Poisson) against the GT mesh with `mash eval`
# (GT bbox → longest side 1; 100k points per shape; F-score at 0.01 and 0.02; NC).
# Writes experiments/reconstruction/out/results.md and grid.png (GT | SPR | MASH). Not a test.
#   experiments/reconstruction/run.sh [extra mash fit args, e.g. --config configs/fit/fast.yaml]
#   RECON_REMESH_ONLY=1 experiments/reconstruction/run.sh   # keep inputs, SPR meshes and fits (and
#       their recorded times); redo only the M+M meshes and all evaluations
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${MASH_DATA:?set MASH_DATA to the data folder (meshes/, shapenet_like/, images/: see the README, section Data)}
OUT=experiments/reconstruction/out
MASH=build/bin/mash
mkdir -p "$OUT"
SHAPES=(
  meshes/npm-bunny.obj
  meshes/cgal_fandisk.off
  meshes/cgal_eight.off
  meshes/cgal_cow.off
  meshes/c3d_spot.obj
  meshes/cgal_rotor.off
  meshes/cgal_knot1.off
  meshes/cgal_dino.off
  shapenet_like/chair/shapenetv2_341c9b0583d31770492d9da2668ec34c.obj
  shapenet_like/airplane/shapenetv2_4e2769ec84c0bd0454eefcdc602d4520.obj
  shapenet_like/bench/shapenetv2_50c0de8fb13d6421dbbc9440457e303e.obj
  shapenet_like/bottle/shapenetv2_1ffd7113492d375593202bf99dddc268.obj
)
ROWS="$OUT/rows.tsv"
: >"$ROWS"
GRID=()
for s in "${SHAPES[@]}"; do
  n=$(basename "${s%.*}")
  gt="$DATA/$s"
  echo "== $s"
  if [[ ${RECON_REMESH_ONLY:-0} == 1 ]]; then
    $MASH mesh "$OUT/$n.npz" -o "$OUT/$n.mash.ply" --log-level warn
    read -r spr_s mash_s <"$OUT/$n.times"
  else
    # The only input: 8192 points sampled uniformly from the GT surface.
    $MASH sample "$gt" -o "$OUT/$n.input.ply" -n 8192 --log-level warn
    t0=$(date +%s.%N)
    $MASH mesh --from-points "$OUT/$n.input.ply" -o "$OUT/$n.spr.ply" --log-level warn
    t1=$(date +%s.%N)
    $MASH fit "$OUT/$n.input.ply" -o "$OUT/$n.npz" --log-level warn "$@"
    $MASH mesh "$OUT/$n.npz" -o "$OUT/$n.mash.ply" --log-level warn
    t2=$(date +%s.%N)
    spr_s=$(awk "BEGIN{print $t1 - $t0}")
    mash_s=$(awk "BEGIN{print $t2 - $t1}")
    echo "$spr_s $mash_s" >"$OUT/$n.times"
  fi
  $MASH eval "$OUT/$n.spr.ply" "$gt" --tau 0.01,0.02 --json "$OUT/$n.spr.json" >/dev/null
  $MASH eval "$OUT/$n.mash.ply" "$gt" --tau 0.01,0.02 --json "$OUT/$n.mash.json" >/dev/null
  /usr/bin/python3 - "$OUT/$n" "$s" "$spr_s" "$mash_s" >>"$ROWS" <<'PY'
import json, sys
base, name, spr_s, mash_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
for method, secs in (("SPR", spr_s), ("MASH", mash_s)):
    m = json.load(open(f"{base}.{method.lower()}.json"))
    nc = m["normal_consistency"]
    print("\t".join([name, method, f"{m['l1_cd']:.5f}", f"{m['l2_cd']:.2e}", f"{m['fscore']['0.01']:.3f}",
                     f"{m['fscore']['0.02']:.3f}", "-" if nc is None else f"{nc:.3f}", f"{secs:.1f}"]))
PY
  GRID+=("$gt" "$OUT/$n.spr.ply" "$OUT/$n.mash.ply")
done
$MASH render "${GRID[@]}" --columns 3 --views 1 --size 220x220 -o "$OUT/grid.png" --log-level warn
# The picture for the README: only the CC0 / public-domain shapes (no ShapeNet or unlicensed files).
PUB=()
for n in npm-bunny cgal_fandisk cgal_eight cgal_cow cgal_rotor cgal_knot1 cgal_dino; do
  for s in "${SHAPES[@]}"; do [[ $(basename "${s%.*}") == "$n" ]] && PUB+=("$DATA/$s" "$OUT/$n.spr.ply" "$OUT/$n.mash.ply"); done
done
$MASH render "${PUB[@]}" --columns 6 --views 1 --size 200x200 -o experiments/reconstruction/grid.png --log-level warn
{
  echo "| shape | method | L1-CD | L2-CD | F@0.01 | F@0.02 | NC | wall s |"
  echo "|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r a b c d e f g h; do echo "| \`$(basename "$a")\` | $b | $c | $d | $e | $f | $g | $h |"; done <"$ROWS"
  /usr/bin/python3 - "$ROWS" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
agg = collections.defaultdict(list)
for r in rows: agg[r[1]].append(r)
for method, rs in agg.items():
    mean = lambda i: sum(float(r[i]) for r in rs) / len(rs)
    print(f"| **mean ({len(rs)} shapes)** | {method} | {mean(2):.5f} | {mean(3):.2e} | {mean(4):.3f} | {mean(5):.3f} | "
          f"{mean(6):.3f} | {mean(7):.1f} |")
PY
} >"$OUT/results.md"
cat "$OUT/results.md"
