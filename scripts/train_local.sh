#!/usr/bin/env bash
# Data-parallel `mash train` with N processes on this machine (what torchrun --nproc_per_node=N
# does): sets WORLD_SIZE / RANK / LOCAL_RANK / MASTER_ADDR / MASTER_PORT for each process,
# splits the cores between them, and waits; rank 0 writes the outputs. Gradients are averaged
# over processes with c10d Gloo, so N processes x train.batch_size equal one process with
# N x train.batch_size.
#   scripts/train_local.sh N --config experiments/NAME/config.yaml [-o OUT] [--set k=v ...]
set -euo pipefail
N=${1:?usage: train_local.sh N mash-train-args...}
shift
MASH=${MASH:-$(dirname "$0")/../build/bin/mash}
PORT=${MASTER_PORT:-$((20000 + RANDOM % 20000))}
THREADS=$(( $(nproc) / N )); [ "$THREADS" -ge 1 ] || THREADS=1
pids=()
for ((r = 0; r < N; r++)); do
  WORLD_SIZE=$N RANK=$r LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$PORT \
    "$MASH" train --threads "$THREADS" "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
