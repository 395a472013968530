#!/usr/bin/env bash
# The sampling pass from C++ (bench_sampling) and from Python (mash.Mash.sample) side by side in
# one run, alternating, on the original's 400-anchor bunny (196 182 points), float32; both with
# OMP_WAIT_POLICY=PASSIVE (what every mash binary sets for itself).
#   experiments/python_overhead/run.sh [BUILD_DIR]      (THREADS=2 ITERS=30 ROUNDS=3)
set -euo pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$R/build}
THREADS=${THREADS:-2} ITERS=${ITERS:-30} ROUNDS=${ROUNDS:-3}
F=$R/tests/data/mash_official/bunny_a400_params.npz
for r in $(seq "$ROUNDS"); do
  "$B/bin/bench_sampling" --mash "$F" --threads "$THREADS" --iters "$ITERS" --no-breakdown | sed "s/^/c++    round $r: /" | grep "forward"
  OMP_WAIT_POLICY=PASSIVE "$R/.venv/bin/python3" "$R/experiments/python_overhead/bench_sampling.py" "$F" "$THREADS" "$ITERS" | sed "s/^/python round $r: /"
done
