# The shapes of the reconstruction benchmarks (sourced by run.sh and fit_loss.sh): the 12 of
# issue #4 (paths under $MASH_DATA) and the procedural hard shapes of `mash shape` (issue #14).
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
