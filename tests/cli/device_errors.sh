#!/usr/bin/env bash
# --device cuda where it cannot run (no GPU visible, or a build without CUDA): fit, fit-dataset,
# train and generate each exit with code 2, one "error: --device cuda: ..." line naming the
# cause, and no output. On a machine with a usable GPU the check does not apply: exit 77 (skipped).
#   device_errors.sh MASH_BIN REPO_ROOT WORKDIR
set -u
MASH=$1 R=$2 W=$3
rm -rf "$W" && mkdir -p "$W"
if "$MASH" info "$R/tests/data/mash_official/handmade_3anchor.npy" --device cuda >/dev/null 2>&1; then
  echo "a CUDA device is usable here: nothing to check"; exit 77
fi
fail=0
check() {  # name, output path that must not appear, command...
  local name=$1 out=$2; shift 2
  "$@" >"$W/stdout" 2>"$W/stderr"; local rc=$?
  if [[ $rc -ne 2 ]]; then echo "FAIL $name: exit code $rc (expected 2)"; cat "$W/stderr"; fail=1; return; fi
  if [[ $(grep -c '^error: --device cuda: ' "$W/stderr") -ne 1 ]]; then echo "FAIL $name: expected one 'error: --device cuda:' line"; cat "$W/stderr"; fail=1; return; fi
  if [[ -e $out ]]; then echo "FAIL $name: $out was written"; fail=1; return; fi
  echo "ok   $name: $(grep '^error:' "$W/stderr")"
}
check fit "$W/fit.npz" "$MASH" fit "$R/tests/data/npm-bunny.obj" -o "$W/fit.npz" --device cuda
check fit-dataset "$W/ds" "$MASH" fit-dataset --input "$R/tests/data/mash_small" --layout flat --output "$W/ds" --device cuda
check train "$W/train" "$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/train" --device cuda
# generate needs a checkpoint: a 2-step CPU training makes one.
"$MASH" train --config "$R/configs/train/tiny_category.yaml" -o "$W/ck" --set train.steps=2 --log-level warn --threads 2 >/dev/null 2>&1 \
  || { echo "FAIL: could not make a checkpoint"; exit 1; }
check generate "$W/gen" "$MASH" generate --checkpoint "$W/ck/checkpoint.pt" --num 1 -o "$W/gen" --device cuda
[[ $fail -eq 0 ]] && echo "all device checks passed"
exit $fail
