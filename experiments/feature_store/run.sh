#!/usr/bin/env bash
# Image features on disk vs in RAM (data.image_features), side by side in one run on this machine:
# a store of VIEWS synthetic views (DINOv2 ViT-B/14-reg at 224 px: 261 tokens x 768, float16),
# then the same training steps reading each batch from RAM or from the memory-mapped store.
#   experiments/feature_store/run.sh [BUILD_DIR] [WORK_DIR]     (VIEWS=20000 STEPS=30 THREADS=2)
# Needs VIEWS x 392 KB on disk in WORK_DIR and as much free RAM for the in-RAM run.
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$R/build}
W=${2:-$R/experiments/feature_store/out}
VIEWS=${VIEWS:-20000} STEPS=${STEPS:-30} THREADS=${THREADS:-2}
BIN=$B/bin/bench_feature_store
mkdir -p "$W"
rm -rf "$W/store"
run() { "$BIN" --dir "$W/store" --views "$VIEWS" --threads "$THREADS" "$@" | tee -a "$W/results.jsonl"; }
: > "$W/results.jsonl"
run --mode fill
run --mode disk --steps "$STEPS"
run --mode ram --steps "$STEPS"
run --mode disk --steps "$STEPS"   # again, after the in-RAM run (page cache state differs)
rm -rf "$W/store"
echo "feature store benchmark: $W/results.jsonl"
