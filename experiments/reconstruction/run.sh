#!/usr/bin/env bash
# Reconstruction benchmark: for each shape, 8192 points sampled from the GT mesh
# are the only input. Compared against the GT mesh with `mash eval` (GT bbox → longest side 1;
# 100k points per shape; F-score at 0.01 and 0.02; NC):
#   SPR   = `mash mesh --from-points` (PCA normals, orientation, screened Poisson depth 8)
#   MASH  = `mash fit` (default settings) + `mash mesh` (M+M: the MASH's samples with PCA normals
#           (--normals points, the default) or its patch normals (--normals patches), orientation,
#           Poisson)
# each with both orientation methods (--orient winding, the default, and graph, the earlier local
# one), the default without its thin-part step (--thin-offset 0), the default with every sample
# given to Poisson (--sample-cell 0), and the MASH's own samples
# (what meshing can at best reach). Shapes: the 12 real ones
# plus the procedural hard shapes of `mash shape`.
# Writes experiments/reconstruction/out/results.md and grid.png (GT | SPR | MASH). Not a test.
#   experiments/reconstruction/run.sh [extra mash fit args, e.g. --config configs/fit/fast.yaml]
#   RECON_REMESH_ONLY=1 experiments/reconstruction/run.sh   # keep inputs and fits; redo meshes + evals
# A shape whose input, fit and fit time are already in out/ is not fitted again (delete out/ to redo).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${MASH_DATA:?set MASH_DATA to the data folder (meshes/, shapenet_like/, images/: see the README, section Data)}
OUT=experiments/reconstruction/out
MASH=build/bin/mash
mkdir -p "$OUT"
source experiments/reconstruction/shapes.sh  # SHAPES, PUBLIC_SHAPES, shape_name, shape_gt, mesh_timed
ROWS="$OUT/rows.tsv"
: >"$ROWS"
GRID=()
for s in "${SHAPES[@]}"; do
  n=$(shape_name "$s")
  gt=$(shape_gt "$s" "$OUT")
  echo "== $s"
  if [[ ${RECON_REMESH_ONLY:-0} != 1 && ! ( -f $OUT/$n.input.ply && -f $OUT/$n.npz && -f $OUT/$n.fit_seconds ) ]]; then
    # The only input: 8192 points sampled uniformly from the GT surface.
    $MASH sample "$gt" -o "$OUT/$n.input.ply" -n 8192 --log-level warn
    t0=$(date +%s.%N)
    $MASH fit "$OUT/$n.input.ply" -o "$OUT/$n.npz" --log-level warn "$@"
    t1=$(date +%s.%N)
    awk "BEGIN{print $t1 - $t0}" >"$OUT/$n.fit_seconds"
  fi
  fit_s=$(cat "$OUT/$n.fit_seconds")
  : >"$OUT/$n.meshing"
  # Variants: the orientation method, (thin0) the winding orientation without the thin-part step
  # (--thin-offset 0: the meshing of this table before that step existed) and (cell0) with every
  # sample given to Poisson (--sample-cell 0: the default before one sample per cell).
  for variant in winding graph thin0 cell0; do
    orient=$variant; extra=()
    if [[ $variant == thin0 ]]; then orient=winding; extra=(--thin-offset 0); fi
    if [[ $variant == cell0 ]]; then orient=winding; extra=(--sample-cell 0); fi
    echo "spr $variant $(mesh_timed "$OUT/$n.spr.$variant.ply" --from-points "$OUT/$n.input.ply" --orient $orient "${extra[@]}")" >>"$OUT/$n.meshing"
    echo "mash $variant $(mesh_timed "$OUT/$n.mash.$variant.ply" "$OUT/$n.npz" --orient $orient "${extra[@]}")" >>"$OUT/$n.meshing"
    $MASH eval "$OUT/$n.spr.$variant.ply" "$gt" --tau 0.01,0.02 --json "$OUT/$n.spr.$variant.json" >/dev/null
    $MASH eval "$OUT/$n.mash.$variant.ply" "$gt" --tau 0.01,0.02 --json "$OUT/$n.mash.$variant.json" >/dev/null
  done
  # MASH only: the patch normals (--normals patches, the default before the point normals) with
  # each orientation method.
  for variant in patches patches_graph; do
    orient=winding; [[ $variant == patches_graph ]] && orient=graph
    echo "mash $variant $(mesh_timed "$OUT/$n.mash.$variant.ply" "$OUT/$n.npz" --normals patches --orient $orient)" >>"$OUT/$n.meshing"
    $MASH eval "$OUT/$n.mash.$variant.ply" "$gt" --tau 0.01,0.02 --json "$OUT/$n.mash.$variant.json" >/dev/null
  done
  $MASH eval "$OUT/$n.npz" "$gt" --tau 0.01,0.02 --json "$OUT/$n.samples.json" >/dev/null
  /usr/bin/python3 - "$OUT/$n" "$n" "$fit_s" >>"$ROWS" <<'PY'
import json, sys
base, name, fit_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
meshing = {}
for line in open(f"{base}.meshing"):
    kind, orient, secs, comps, bnd, nm = line.split()
    meshing[(kind, orient)] = (float(secs), comps, int(bnd) == 0 and int(nm) == 0)
def row(label, js, secs, comps, closed):
    m = json.load(open(js))
    # (the MASH samples' patch normals have arbitrary signs per patch: their NC means nothing)
    nc = None if label == "MASH samples" else m["normal_consistency"]
    print("\t".join([name, label, f"{m['l1_cd']:.5f}", f"{m['fscore']['0.01']:.3f}", f"{m['fscore']['0.02']:.3f}",
                     "-" if nc is None else f"{nc:.3f}", secs, comps, closed]))
for kind, label in (("spr", "SPR"), ("mash", "MASH")):
    for variant, vlabel in (("graph", "graph"), ("thin0", "winding, no thin step"),
                            ("cell0", "winding, all samples to Poisson"), ("patches_graph", "patch normals, graph"),
                            ("patches", "patch normals, winding"), ("winding", "winding")):
        if (kind, variant) not in meshing:
            continue
        secs, comps, closed = meshing[(kind, variant)]
        row(f"{label} {vlabel}", f"{base}.{kind}.{variant}.json", f"{secs:.1f}", comps, "yes" if closed else "no")
row("MASH samples", f"{base}.samples.json", f"{fit_s:.0f} (fit)", "-", "-")
PY
  GRID+=("$gt" "$OUT/$n.spr.winding.ply" "$OUT/$n.mash.winding.ply")
done
$MASH render "${GRID[@]}" --columns 3 --views 1 --size 220x220 -o "$OUT/grid.png" --log-level warn
# The picture for the README: only the CC0 / public-domain shapes and our procedural ones (no
# ShapeNet or unlicensed files): GT | SPR (winding) | MASH + M+M (winding), two shapes per row.
PUB=()
for n in "${PUBLIC_SHAPES[@]}"; do PUB+=("$(shape_gt "$n" "$OUT")" "$OUT/$n.spr.winding.ply" "$OUT/$n.mash.winding.ply"); done
$MASH render "${PUB[@]}" --columns 6 --views 1 --size 200x200 -o experiments/reconstruction/grid.png --log-level warn
/usr/bin/python3 experiments/reconstruction/table.py "$ROWS" L1-CD F@0.01 F@0.02 NC "meshing s" components "closed manifold" >"$OUT/results.md"
cat "$OUT/results.md"
