# What the reconstruction benchmarks share (sourced by run.sh and fit_loss.sh): the shapes — 12
# real ones (paths under $MASH_DATA) and the procedural hard shapes of `mash shape` — and the
# helpers below.
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
  procedural:rope_knot
  procedural:thin_bowl
  procedural:nested_spheres
  procedural:touching_spheres
)
# The CC0 / public-domain shapes and our procedural ones: pictured in the README (no ShapeNet files).
PUBLIC_SHAPES=(npm-bunny cgal_fandisk cgal_eight cgal_cow cgal_rotor cgal_knot1 cgal_dino rope_knot thin_bowl nested_spheres touching_spheres)
# shape_name ENTRY: the short name of a SHAPES entry (file name without extension, or the procedural name)
shape_name() {
  local s=${1#procedural:}
  s=${s%.*}
  echo "${s##*/}"
}
# shape_gt ENTRY_OR_NAME OUTDIR: the GT mesh of a shape (uses $DATA and $MASH; a procedural shape is
# written to OUTDIR/NAME.gt.obj the first time)
shape_gt() {
  local s=$1 out=$2 e
  if [[ $s != */* && $s != procedural:* ]]; then  # a short name: find its entry
    for e in "${SHAPES[@]}"; do
      if [[ $(shape_name "$e") == "$s" ]]; then s=$e; fi
    done
  fi
  if [[ $s == procedural:* ]]; then
    local n=${s#procedural:}
    [[ -f $out/$n.gt.obj ]] || $MASH shape "$n" -o "$out/$n.gt.obj" --log-level warn >&2
    echo "$out/$n.gt.obj"
  else
    echo "$DATA/$s"
  fi
}
# mesh_timed OUTFILE ARGS... : runs `mash mesh`, prints "seconds components boundary nonmanifold"
mesh_timed() {
  local out=$1; shift
  local t0 t1 log
  t0=$(date +%s.%N)
  log=$($MASH mesh "$@" -o "$out" --log-level info 2>&1 | grep "mesh: wrote")
  t1=$(date +%s.%N)
  echo "$(awk "BEGIN{print $t1 - $t0}") $(echo "$log" | sed -E 's/.* ([0-9]+) components?, boundary edges ([0-9]+), non-manifold edges ([0-9]+).*/\1 \2 \3/')"
}
