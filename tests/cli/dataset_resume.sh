#!/usr/bin/env bash
# fit-dataset as a user runs it: a flat tree of small shapes plus a broken file; start with two
# workers, kill -9 the whole run mid-way, rerun: every output must exist and load, outputs
# finished before the kill must not be redone, the broken file must give a failed manifest line
# and exit code 3; --shard and --merge must cover the same set.
#   dataset_resume.sh <mash binary> <bunny.obj>
set -u
MASH=$1
BUNNY=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for c in chair lamp; do for i in 1 2 3; do mkdir -p "$T/in/$c"; cp "$BUNNY" "$T/in/$c/${c}_$i.obj"; done; done
echo "this is not a mesh" >"$T/in/lamp/broken.off"
FAST=(--set num_anchors=30 --set num_gt_points=3000 --set num_directions=100 --set num_boundary=12
      --set warmup_steps=5 --set adaptive_epochs=1 --set max_epoch_steps=5)

# 1. Start, kill -9 after the first output appears.
setsid "$MASH" fit-dataset --input "$T/in" --output "$T/out" --workers 2 "${FAST[@]}" >"$T/run1.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  n=$(find "$T/out" -name '*.npz' 2>/dev/null | wc -l)
  [[ $n -ge 1 ]] && break
  sleep 0.1
done
kill -9 -- -"$(ps -o pgid= $pid | tr -d ' ')" 2>/dev/null || kill -9 $pid
wait $pid 2>/dev/null
before=$(find "$T/out" -name '*.npz' | sort)
nbefore=$(echo "$before" | grep -c npz)
[[ $nbefore -ge 1 && $nbefore -lt 6 ]] || echo "note: $nbefore outputs existed at the kill"
declare -A mtime
for f in $before; do mtime[$f]=$(stat -c %Y.%N "$f"); done
sleep 1.1

# 2. Rerun to completion.
"$MASH" fit-dataset --input "$T/in" --output "$T/out" --workers 2 "${FAST[@]}" >"$T/run2.log" 2>&1
rc=$?
[[ $rc -eq 3 ]] || { cat "$T/run2.log"; fail "rerun exit code $rc (expected 3: one broken shape)"; }
for c in chair lamp; do for i in 1 2 3; do
  f="$T/out/$c/${c}_$i.npz"
  [[ -f $f ]] || fail "missing output $f"
  "$MASH" info "$f" >/dev/null 2>&1 || fail "output does not load: $f"
done; done
for f in $before; do
  [[ $(stat -c %Y.%N "$f") == "${mtime[$f]}" ]] || fail "$f was redone after resume"
done
grep -q '"id":"broken".*"status":"failed"' "$T/out/manifest.jsonl" || fail "no failed manifest line for broken.off"
grep -q '"error":".*broken.off' "$T/out/manifest.jsonl" || fail "failed line lacks the reason"
ls -A "$T/out"/*/ | grep -q '^\.' && fail "temporary files left behind"

# 3. Shards 0/2 and 1/2 into a fresh folder, then merge: the union is complete.
for s in 0/2 1/2; do
  "$MASH" fit-dataset --input "$T/in" --output "$T/sh" --shard $s "${FAST[@]}" >"$T/shard.log" 2>&1
done
"$MASH" fit-dataset --merge --input "$T/in" --output "$T/sh" >"$T/merge.log" 2>&1
grep -q "ok 6, skipped (existing) 0, failed 1" "$T/merge.log" || { cat "$T/merge.log"; fail "merge counts"; }
grep -q "1 of 7 shapes" "$T/merge.log" || { cat "$T/merge.log"; fail "merge should report the broken shape as missing"; }
echo "ok: $nbefore outputs before the kill; resume finished the rest without redoing them; shards merged"
