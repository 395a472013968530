#!/usr/bin/env bash
# `mash train` as users run it: (1) a resumed run continues exactly (same losses as an
# uninterrupted run), (2) 2 processes on loopback (c10d Gloo) match 1 process with the same
# global batch, (3) bad configs / checkpoints fail with a one-line error and exit code 2.
#   train_resume_ddp.sh MASH_BIN CONFIG WORKDIR
set -euo pipefail
PY=${MASH_PYTHON:-$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/python3}
MASH=$1 CONFIG=$2 W=$3
rm -rf "$W" && mkdir -p "$W"
# (1) changes train.steps between the runs; with the cosine schedule train.steps is the schedule's
# length (a different run by design), so the resume check uses the constant schedule.
# All runs accumulate 2 micro-batches per optimizer step (train.accumulate), counted the original's
# way (schedule_unit: micro_batches), so resume and process-count equality hold with accumulation.
COMMON=(--set train.log_every=1 --set train.val_every=1000 --set train.checkpoint_every=3 --set sample.val_samples=0
        --set train.lr_schedule=constant --set train.accumulate=2 --set train.schedule_unit=micro_batches --log-level warn)

loss_at() { "$PY" -c "
import json,sys
for l in open(sys.argv[1]):
    j=json.loads(l)
    if j['step']==int(sys.argv[2]) and 'loss' in j: print(repr(j['loss']))" "$1" "$2"; }

# (1) exact resume
"$MASH" train --config "$CONFIG" -o "$W/full" --threads 1 --set train.steps=6 "${COMMON[@]}"
"$MASH" train --config "$CONFIG" -o "$W/part" --threads 1 --set train.steps=3 "${COMMON[@]}"
if "$MASH" train --config "$CONFIG" -o "$W/part" --threads 1 --set train.steps=6 "${COMMON[@]}" 2>"$W/err.txt"; then
  echo "FAIL: training into a folder with a checkpoint must ask for --resume"; exit 1
fi
grep -q -- "--resume" "$W/err.txt"
"$MASH" train --config "$CONFIG" -o "$W/part" --threads 1 --resume --set train.steps=6 "${COMMON[@]}"
for s in 4 5 6; do
  a=$(loss_at "$W/full/metrics.jsonl" $s); b=$(loss_at "$W/part/metrics.jsonl" $s)
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "FAIL: step $s loss $a (uninterrupted) vs $b (resumed)"; exit 1; }
done
echo "resume: steps 4-6 identical"

# (2) 2 processes x batch 2 == 1 process x batch 4 (data visited by epochs): training and validation losses; and the
# multi-process logs hold no warning lines (collectives outside autograd).
PORT=$((20000 + RANDOM % 20000))
DDP=(--set train.steps=5 --set train.val_every=5 --set train.log_every=1 --set train.checkpoint_every=3
     --set sample.val_samples=0 --set data.order=epochs --set train.accumulate=2 --set train.schedule_unit=micro_batches
     --log-level info)
"$MASH" train --config "$CONFIG" -o "$W/one" --threads 1 --set train.batch_size=4 "${DDP[@]}" 2>"$W/one.log"
for r in 0 1; do
  WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$PORT \
    "$MASH" train --config "$CONFIG" -o "$W/two" --threads 1 --set train.batch_size=2 "${DDP[@]}" >"$W/rank$r.log" 2>&1 &
  pids[$r]=$!
done
wait "${pids[0]}"; wait "${pids[1]}"
warnings=$(cat "$W/rank0.log" "$W/rank1.log" | grep -ci 'warning' || true)
[ "$warnings" -eq 0 ] || { echo "FAIL: $warnings warning lines in the 2-process logs:"; grep -i -m3 warning "$W"/rank*.log; exit 1; }
"$PY" - "$W/one/metrics.jsonl" "$W/two/metrics.jsonl" <<'PY'
import json, sys
def read(path, key):
    return {j["step"]: j[key] for j in map(json.loads, open(path)) if key in j}
a, b = read(sys.argv[1], "loss"), read(sys.argv[2], "loss")
assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5], (a, b)
for s in a:
    assert abs(a[s] - b[s]) <= 1e-5 * max(1.0, abs(a[s])), (s, a[s], b[s])
va, vb = read(sys.argv[1], "val_loss"), read(sys.argv[2], "val_loss")
assert sorted(va) == sorted(vb) and va, (va, vb)
for s in va:
    assert abs(va[s] - vb[s]) <= 1e-5 * max(1.0, abs(va[s])), ("validation", s, va[s], vb[s])
print("ddp: 2-process losses match 1 process:", [round(a[s], 6) for s in sorted(a)], "validation", va)
PY
echo "ddp: no warning lines in the 2-process logs"

# (3) bad input
printf 'model:\n  widht: 3\n' > "$W/bad.yaml"
set +e
"$MASH" train --config "$W/bad.yaml" -o "$W/bad" 2>"$W/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "bad.yaml.*model.widht" "$W/err.txt" || { echo "FAIL: bad key: rc=$rc $(cat "$W/err.txt")"; exit 1; }
head -c 1000 "$W/full/checkpoint.pt" > "$W/trunc.pt"
set +e
"$MASH" generate --checkpoint "$W/trunc.pt" -o "$W/gen_bad" 2>"$W/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "trunc.pt: not a usable mash generator checkpoint" "$W/err.txt" && [ ! -e "$W/gen_bad/generate.json" ] \
  || { echo "FAIL: corrupt checkpoint: rc=$rc $(cat "$W/err.txt")"; exit 1; }
echo "all train checks passed"
