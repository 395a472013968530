#!/usr/bin/env bash
# `mash fit` on bad input: each case must exit with code 2, print one "error: ..." line naming the
# problem, and leave no output file behind.  Usage: fit_bad_inputs.sh <mash binary> <bunny.obj>
set -u
MASH=$1
BUNNY=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0

expect_error() {  # name, expected message fragment, args...
  local name=$1 frag=$2
  shift 2
  rm -f "$T/out.npz"
  "$MASH" fit "$@" -o "${OUT:-$T/out.npz}" >"$T/stdout" 2>"$T/stderr"
  local rc=$?
  if [[ $rc -ne 2 ]]; then echo "FAIL $name: exit code $rc (expected 2)"; cat "$T/stderr"; fail=1; return; fi
  if ! grep -q -- "$frag" "$T/stderr"; then echo "FAIL $name: message lacks '$frag':"; cat "$T/stderr"; fail=1; return; fi
  if [[ $(grep -c '^error:' "$T/stderr") -ne 1 ]]; then echo "FAIL $name: expected one error line"; cat "$T/stderr"; fail=1; return; fi
  if ls -A "$T" | grep -q '^out\.\|^\.tmp'; then echo "FAIL $name: output file was written"; fail=1; return; fi
  echo "ok   $name: $(grep '^error:' "$T/stderr")"
}

# a tiny tetrahedron-like cloud of 5 points, a planar cloud, identical points, NaN, empty
printf '0 0 0\n1 0 0\n0 1 0\n0 0 1\n1 1 1\n' >"$T/five.xyz"
for i in $(seq 0 499); do echo "$((i % 23)) $((i / 23)) 0"; done >"$T/plane.xyz"
for i in $(seq 0 499); do echo "1 2 3"; done >"$T/same.xyz"
{ for i in $(seq 0 499); do echo "$i $((i * 7 % 13)) $((i % 5))"; done; echo "nan 0 0"; } >"$T/nan.xyz"
: >"$T/empty.xyz"
echo "not a mesh" >"$T/bad.txt"
printf 'fit:\n  learning_rate: 0.1\n' >"$T/unknown_key.yaml"
printf 'model:\n  x: 1\n' >"$T/unknown_section.yaml"

expect_error missing_file "no such file" "$T/nope.obj"
expect_error unsupported_ext "unsupported extension" "$T/bad.txt"
expect_error empty_geometry "empty geometry" "$T/empty.xyz"
expect_error fewer_points_than_anchors "fewer than the 400 anchors" "$T/five.xyz"
expect_error nan_coordinates "non-finite" "$T/nan.xyz"
expect_error identical_points "identical" "$T/same.xyz" --anchors 10
expect_error planar_cloud "flat" "$T/plane.xyz" --anchors 10
expect_error zero_anchors "expected >= 1" "$BUNNY" --anchors 0
expect_error sh_degree_range "fit.sh_degree: expected 0..6" "$BUNNY" --set sh_degree=9
expect_error mask_degree_range "fit.mask_degree: expected 0..10" "$BUNNY" --set mask_degree=11
expect_error unknown_set_key "unknown key 'fit.not_a_key'" "$BUNNY" --set not_a_key=1
expect_error unknown_yaml_key "unknown key 'fit.learning_rate'" "$BUNNY" --config "$T/unknown_key.yaml"
expect_error unknown_yaml_section "unknown section 'model'" "$BUNNY" --config "$T/unknown_section.yaml"
OUT="$T/out.txt" expect_error bad_output_ext "unsupported MASH output extension" "$BUNNY"
expect_error diverging_fit "fit diverged at step" "$BUNNY" --anchors 20 --set lr=1e30 --set min_lr=1e30 --set num_gt_points=2000
exit $fail
