#!/usr/bin/env bash
# Dataset-fit benchmark: batch-fit the ShapeNet-like shapes of $MASH_DATA (flat
# layout, category = folder) with default fit settings on 2 cores (2 workers x 1 thread), then
# summarize shapes/hour, failures and the median L1-CD from the manifest. Not a test.
#   experiments/dataset_fit/run.sh [extra fit-dataset args, e.g. --shard 0/4 for a quarter]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=experiments/dataset_fit/out
rm -rf "$OUT"
start=$(date +%s.%N)
DATA=${MASH_DATA:?set MASH_DATA to the data folder (meshes/, shapenet_like/, images/: see the README, section Data)}
build/bin/mash fit-dataset --config configs/dataset/shapenet_like.yaml --input "$DATA/shapenet_like" --output "$OUT" --threads 2 "$@" || true
end=$(date +%s.%N)
/usr/bin/python3 - "$OUT" "$start" "$end" <<'PY' | tee "$OUT/results.md"
import glob, json, statistics, sys
out, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
lines = [json.loads(l) for f in glob.glob(out + "/manifest*.jsonl") for l in open(f) if l.strip()]
ok = [l for l in lines if l["status"] == "ok"]
failed = [l for l in lines if l["status"] == "failed"]
hours = (t1 - t0) / 3600
print("| shapes | ok | failed | wall (min) | shapes/hour | median L1-CD | median steps |")
print("|---|---|---|---|---|---|---|")
print(f"| {len(lines)} | {len(ok)} | {len(failed)} | {(t1 - t0) / 60:.1f} | {len(lines) / hours:.1f} | "
      f"{statistics.median(l['l1_cd'] for l in ok):.5f} | {statistics.median(l['steps'] for l in ok):.0f} |")
for l in failed:
    print(f"\nfailed: `{l['category']}/{l['id']}`: {l['error']}")
PY
