#!/usr/bin/env bash
# Fit benchmark: `mash fit` with default settings and 2 threads over shapes from
# $MASH_DATA; writes experiments/fit_benchmark/out/results.md (a markdown table) plus each
# shape's report, MASH file and loss curve. Not a test.
#   experiments/fit_benchmark/run.sh [extra mash fit args, e.g. --config configs/fit/fast.yaml]
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${MASH_DATA:?set MASH_DATA to the data folder (meshes/, shapenet_like/, images/: see the README, section Data)}
OUT=experiments/fit_benchmark/out
mkdir -p "$OUT"
SHAPES=(
  meshes/npm-bunny.obj
  meshes/cgal_fandisk.off
  meshes/cgal_eight.off
  shapenet_like/chair/shapenetv2_341c9b0583d31770492d9da2668ec34c.obj
  shapenet_like/chair/fgsynth_ChairArms4.obj
  shapenet_like/airplane/shapenetv2_4e2769ec84c0bd0454eefcdc602d4520.obj
)
ROWS="$OUT/rows.tsv"
: >"$ROWS"
for s in "${SHAPES[@]}"; do
  name=$(basename "${s%.*}")
  [[ -f "$DATA/$s" ]] || { echo "missing $DATA/$s" >&2; exit 1; }
  echo "== $s"
  build/bin/mash fit "$DATA/$s" -o "$OUT/$name.npz" --threads 2 --report "$OUT/$name.json" \
    --plot "$OUT/$name.png" "$@" 2>&1 | tail -1
  /usr/bin/python3 - "$OUT/$name.json" "$s" >>"$ROWS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
print(f"{sys.argv[2]}\t{r['input_points']}\t{r['steps']}\t{r['wall_seconds']:.1f}\t{m['l1_cd']:.5f}\t{m['fscore']:.4f}\t{r['fit_seconds']/r['steps']*1000:.0f}")
PY
done
{
  echo "| shape | GT points | steps | wall s | L1-CD | F-score@0.01 | ms/step |"
  echo "|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r a b c d e f g; do echo "| \`$a\` | $b | $c | $d | $e | $f | $g |"; done <"$ROWS"
} >"$OUT/results.md"
cat "$OUT/results.md"
