#!/usr/bin/env bash
# Bad inputs across the commands (the README's table, rows not covered by fit_bad_inputs.sh,
# original.sh, image.sh and device_errors.sh): each must exit with code 2, print exactly one
# "error: ..." line containing the expected fragment, and leave no output behind (an existing
# output stays untouched).
#   bad_inputs.sh MASH_BIN REPO_ROOT WORKDIR
set -u
MASH=$1 R=$2 W=$3
PY=${MASH_PYTHON:-$R/.venv/bin/python3}
rm -rf "$W" && mkdir -p "$W"
fail=0
row() {  # row NAME FRAGMENT OUTPUT cmd...
  local name=$1 frag=$2 out=$3; shift 3
  "$@" >"$W/stdout" 2>"$W/stderr"; local rc=$?
  local msg; msg=$(grep '^error:' "$W/stderr")
  if [[ $rc -ne 2 ]]; then echo "FAIL $name: exit code $rc (expected 2): $(tail -2 "$W/stderr")"; fail=1; return; fi
  if [[ $(grep -c '^error:' "$W/stderr") -ne 1 ]]; then echo "FAIL $name: expected one error line: $(cat "$W/stderr")"; fail=1; return; fi
  if ! grep -q -- "$frag" <<<"$msg"; then echo "FAIL $name: message lacks '$frag': $msg"; fail=1; return; fi
  if [[ -n $out && -e $out ]]; then echo "FAIL $name: $out was written"; fail=1; return; fi
  echo "ok   $name: $msg"
}
SMALL=$R/tests/data/mash_small/animal/cow.npz
# files: truncated, random bytes, NaN, wrong shapes
head -c 300 "$SMALL" >"$W/cut.npz"
head -c 4096 /dev/urandom >"$W/random.npy"
"$PY" - "$SMALL" "$W" <<'PY'
import sys, numpy as np
z = dict(np.load(sys.argv[1])); w = sys.argv[2]
n = dict(z); n["positions"] = n["positions"].copy(); n["positions"][3, 1] = np.nan; np.savez(w + "/nan.npz", **n)
s = dict(z); s["positions"] = s["positions"][:, :2]; np.savez(w + "/shape.npz", **s)
e = {k: v[:0] if v.ndim else v for k, v in z.items()}; np.savez(w + "/zero.npz", **e)
PY
row info_truncated "cut.npz" "" "$MASH" info "$W/cut.npz"
row info_random_bytes "random.npy" "" "$MASH" info "$W/random.npy"
row sample_nan "non-finite" "$W/s1.ply" "$MASH" sample "$W/nan.npz" -o "$W/s1.ply"
row sample_wrong_shape "positions" "$W/s2.ply" "$MASH" sample "$W/shape.npz" -o "$W/s2.ply"
row mesh_zero_anchors "anchors" "$W/m.ply" "$MASH" mesh "$W/zero.npz" -o "$W/m.ply"
row mesh_unknown_orient "unknown orientation method" "$W/m2.ply" "$MASH" mesh "$SMALL" -o "$W/m2.ply" --orient magic
row mesh_unknown_normals "unknown normal source" "$W/m3.ply" "$MASH" mesh "$SMALL" -o "$W/m3.ply" --normals pca
row mesh_too_few_points "expected at least 10" "$W/m4.ply" "$MASH" mesh "$SMALL" -o "$W/m4.ply" --num-points 5
awk 'BEGIN { for (i = 0; i < 200; ++i) print i / 200, 2 * i / 200, 0.5 }' >"$W/line.xyz"
awk 'BEGIN { for (i = 0; i < 50; ++i) print 0.25, 0.5, 1 }' >"$W/same.xyz"
row mesh_collinear_points "line.xyz: all 200 points lie on one line (expected at least 10 points spanning a surface)" "$W/m7.ply" "$MASH" mesh --from-points "$W/line.xyz" -o "$W/m7.ply"
row mesh_coincident_points "same.xyz: 1 distinct point (expected at least 10 points spanning a surface)" "$W/m8.ply" "$MASH" mesh --from-points "$W/same.xyz" -o "$W/m8.ply"
row mesh_normals_from_points "excludes" "$W/m5.ply" "$MASH" mesh --from-points "$R/tests/data/npm-bunny.obj" -o "$W/m5.ply" --normals patches
row cli_wrong_type "Could not convert: --depth = abc" "$W/m6.ply" "$MASH" mesh "$SMALL" -o "$W/m6.ply" --depth abc
row shape_unknown "unknown procedural shape 'dragon'" "$W/dragon.obj" "$MASH" shape dragon -o "$W/dragon.obj"
row sample_no_such_dir "does not exist" "" "$MASH" sample "$SMALL" -o /proc/mash_nope/out.ply
row sample_parent_is_file "is not a directory" "" "$MASH" sample "$SMALL" -o "$SMALL/out.ply"
row eval_truncated "cut.npz" "$W/e.json" "$MASH" eval "$W/cut.npz" "$SMALL" --json "$W/e.json"
row render_missing "no such file" "$W/r.png" "$MASH" render "$W/none.npz" -o "$W/r.png"
# configs
printf 'model:\n  widht: 64\n' >"$W/typo.yaml"
printf 'train:\n  steps: many\n' >"$W/type.yaml"
row train_unknown_key "widht" "$W/t1" "$MASH" train --config "$W/typo.yaml" -o "$W/t1"
row train_wrong_type "train.steps" "$W/t2" "$MASH" train --config "$W/type.yaml" -o "$W/t2"
row train_unknown_set "model.nope" "$W/t3" "$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/t3" --set model.nope=1
row dataset_missing_input "$W/none" "$W/ds" "$MASH" fit-dataset --input "$W/none" --output "$W/ds"
# checkpoints
"$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/ck" --set train.steps=2 --log-level warn --threads 2 >/dev/null 2>&1 \
  || { echo "FAIL: could not make a checkpoint"; exit 1; }
cp "$W/ck/checkpoint.pt" "$W/good.pt"
head -c 5000 "$W/good.pt" >"$W/ck/checkpoint.pt"
cp "$W/ck/checkpoint.pt" "$W/corrupt_before.pt"
row train_resume_corrupt "not a usable mash generator checkpoint" "" "$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/ck" --resume
cmp -s "$W/ck/checkpoint.pt" "$W/corrupt_before.pt" || { echo "FAIL train_resume_corrupt: the checkpoint was overwritten"; fail=1; }
row generate_random_checkpoint "not a usable mash generator checkpoint" "$W/g1" "$MASH" generate --checkpoint "$W/random.npy" -o "$W/g1"
row generate_unknown_category "unknown category 'dragon'" "$W/g2" "$MASH" generate --checkpoint "$W/good.pt" --category dragon -o "$W/g2"
row generate_keep_out_of_range "outside 0..31" "$W/g3" "$MASH" generate --checkpoint "$W/good.pt" --category animal --complete "$SMALL" --keep-anchors 0-999 -o "$W/g3"
row generate_bad_box "a box needs 6 numbers" "$W/g4" "$MASH" generate --checkpoint "$W/good.pt" --category animal --complete "$SMALL" --keep-box 1,2,3 -o "$W/g4"
[[ $fail -eq 0 ]] && echo "all bad-input checks passed"
exit $fail
