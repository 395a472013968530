#!/usr/bin/env bash
# One command for the GPU machine: build, run the GPU tests, run the benchmarks, write one JSON
# file of results (every step's log folded in) and print a summary table.
#   scripts/gpu_check.sh [--cpu] [--vendored] [--build DIR] [--out DIR] [--budget SECONDS]
#     --cpu        the same steps on the CPU with tiny sizes (a smoke test; ctest and CI run it)
#     --vendored   configure the GPU machine's build even here: Open3D OFF, dependencies from
#                  third_party/vendor (the default wherever that folder exists and Open3D does not)
#     --build DIR  use (or make) the build in DIR, brought up to date with the sources (default:
#                  build-gpu/, or build/ with --cpu)
#     --out DIR    where gpu_check.json goes (default: $OUT when set, else DIR of --build); the
#                  only file written there, so it fits a machine that returns a few files
#     --budget S   wall-clock seconds for everything (GPU mode default 540; --cpu: none unless
#                  given; 0 = none): the build gets at most 60 %,
#                  the steps share what is left in proportion to their nominal limits, and the JSON
#                  is written before the budget ends
# On the GPU machine (one command of at most 10 minutes, only $OUT comes back):
#   scripts/gpu_check.sh --out "$OUT"        (carry third_party/vendor with the working tree)
# GPU mode configures with CUDA ON and an explicit nvcc ($CUDACXX, nvcc on PATH, or
# /usr/local/cuda/bin/nvcc) and fails if any [cuda] test reports itself skipped: a run that did
# not test the GPU never passes.
# Building: with no usable build in DIR it configures one against the LibTorch of the Python that
# has torch (MASH_PYTHON, .venv, /opt/torch/.venv, python3 on PATH: torch.utils.cmake_prefix_path)
# and every core. The GPU machine has no Debian dev packages: there the build is Open3D-free
# (-DMASH_WITH_OPEN3D=OFF) and takes its headers and libraries from third_party/vendor, which
# `scripts/vendor_deps.sh` fills on a Debian machine (git-ignored, ~17 MB). Every number printed
# was measured by this run; nothing is estimated.
set -uo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
MODE=gpu BUILD="" OUTDIR="" VENDORED=auto BUDGET=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --cpu) MODE=cpu; shift ;;
    --vendored) VENDORED=yes; shift ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    *) echo "error: gpu_check.sh: unknown argument '$1' (expected --cpu, --vendored, --build DIR, --out DIR, --budget SECONDS)" >&2; exit 2 ;;
  esac
done
# GPU mode: 540 s unless given (the GPU machine's 10-minute command); --cpu: no limit unless given.
if [[ -z $BUDGET ]]; then [[ $MODE == gpu ]] && BUDGET=540 || BUDGET=0; fi
[[ $BUDGET =~ ^[0-9]+$ && ( $BUDGET -eq 0 || $BUDGET -ge 60 ) ]] \
  || { echo "error: gpu_check.sh: --budget '$BUDGET' (expected whole seconds >= 60, or 0 for none)" >&2; exit 2; }
if [[ $MODE == cpu ]]; then DEVICE=cpu; BUILD=${BUILD:-$R/build}; else DEVICE=cuda; BUILD=${BUILD:-$R/build-gpu}; fi
OUTDIR=${OUTDIR:-${OUT:-$BUILD}}
mkdir -p "$OUTDIR" || { echo "error: gpu_check.sh: cannot create the output folder $OUTDIR" >&2; exit 2; }
OUT=$OUTDIR/gpu_check.json
NVCC=""
if [[ $MODE == gpu ]]; then
  for c in ${CUDACXX:-} "$(command -v nvcc || true)" /usr/local/cuda/bin/nvcc; do
    if [[ -n $c && -x $c ]]; then NVCC=$c; break; fi
  done
  [[ -n $NVCC ]] || { echo "error: gpu_check.sh: no nvcc found (expected \$CUDACXX, nvcc on PATH or /usr/local/cuda/bin/nvcc): GPU mode needs a CUDA build" >&2; exit 2; }
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/mash_gpu_check.XXXXXX")
trap 'rm -rf "$W"' EXIT
PY=""
for c in ${MASH_PYTHON:-} "$R/.venv/bin/python3" /opt/torch/.venv/bin/python3 "$(command -v python3 || true)"; do
  if [[ -n $c && -x $c ]] && "$c" -c "import torch" >/dev/null 2>&1; then PY=$c; break; fi
done
[[ -n $PY ]] || { echo "error: gpu_check.sh: no Python with torch found (expected MASH_PYTHON, .venv, /opt/torch/.venv or python3 with PyTorch 2.11)" >&2; exit 2; }
VENDOR=$R/third_party/vendor
if [[ $VENDORED == auto ]]; then
  VENDORED=no
  [[ -d $VENDOR && ! -d /usr/lib/x86_64-linux-gnu/cmake/Open3D ]] && VENDORED=yes
fi
T0=$(date +%s.%N)
now() { date +%s.%N; }
# The budget: the build may use 60 %; after it, each step's nominal limit (they add up to
# NOMINAL_TOTAL) is scaled by what is left (minus RESERVE seconds for the JSON) over that total.
RESERVE=15 NOMINAL_TOTAL=540 SCALE=1
left() {  # seconds of the budget left (no budget: a day)
  if [[ $BUDGET -eq 0 ]]; then echo 86400; return; fi
  "$PY" -c "import sys; print(int(float(sys.argv[1]) + float(sys.argv[2]) - float(sys.argv[3])))" "$T0" "$BUDGET" "$(now)"; }
# lim NOMINAL cmd...: a step with its share of the budget (its line says so when it hits it).
lim() {
  local s; s=$("$PY" -c "import sys; n, f, l = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(max(1, int(min(n * f, l))))" \
    "$1" "$SCALE" "$(( $(left) - RESERVE ))")
  shift; timeout --signal=TERM --kill-after=5 "$s" "$@"; local rc=$?; [[ $rc == 124 ]] && log "time limit ${s}s reached: $*" >&2; return $rc; }
secs() { "$PY" -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
log() { echo "gpu_check: $*"; }

# ---- 1. build -----------------------------------------------------------------------------------
B0=$(now)
BUILD_LIMIT=$(( BUDGET > 0 ? BUDGET * 6 / 10 : 86400 ))
fail_build() {  # the JSON still comes back, with the log that says why
  echo "error: gpu_check.sh: $1" >&2
  "$PY" - "$OUT" "$MODE" "$1" "$W/configure.log" "$W/build.log" <<'PY'
import json, sys
out, mode, why = sys.argv[1:4]
logs = {}
for p in sys.argv[4:]:
    try:
        logs[p.rsplit("/", 1)[1]] = open(p, errors="replace").read()[-20000:]
    except OSError:
        pass
json.dump({"mode": mode, "error": why, "logs": logs}, open(out + ".tmp", "w"), indent=1)
import os; os.replace(out + ".tmp", out)
PY
  exit 2; }
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  PREFIX=$("$PY" -c "import torch; print(torch.utils.cmake_prefix_path)" 2>/dev/null) \
    || { echo "error: gpu_check.sh: no torch in $PY (expected PyTorch 2.11 with its LibTorch)" >&2; exit 2; }
  EXTRA=()
  if [[ $VENDORED == yes ]]; then
    [[ -f $VENDOR/MANIFEST.txt ]] || { echo "error: gpu_check.sh: $VENDOR: no vendored dependencies (expected the output of scripts/vendor_deps.sh, run on a Debian machine and carried here)" >&2; exit 2; }
    EXTRA=(-DMASH_WITH_OPEN3D=OFF -DMASH_DEPS_DIR="$VENDOR")
  fi
  [[ $MODE == gpu ]] && EXTRA+=(-DMASH_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$NVCC")
  log "configuring $BUILD against $PREFIX${EXTRA:+ (${EXTRA[*]})}"
  timeout "$BUILD_LIMIT" cmake -S "$R" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" -DMASH_PYTHON="$PY" \
    "${EXTRA[@]}" ${MASH_GPU_CHECK_CMAKE_ARGS:-} >"$W/configure.log" 2>&1 \
    || fail_build "configure failed: $(grep -m1 -iA2 'error' "$W/configure.log" | tr '\n' ' ')"
  if [[ $MODE == gpu ]] && ! grep -q "CUDA ON" "$W/configure.log"; then
    fail_build "the build came out without CUDA: $(grep -m1 'mash: LibTorch' "$W/configure.log")"
  fi
elif [[ $MODE == gpu ]] && ! grep -q "^MASH_WITH_CUDA:BOOL=ON" "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "error: gpu_check.sh: $BUILD is not a CUDA build (expected MASH_WITH_CUDA=ON in its CMakeCache.txt; remove it or choose another --build)" >&2
  exit 2
fi
# An existing build is brought up to date with the sources (nothing to do when it is).
timeout $(( BUILD_LIMIT - ${SECONDS:-0} > 30 ? BUILD_LIMIT - ${SECONDS:-0} : 30 )) \
  cmake --build "$BUILD" -j"$(nproc)" --target mash mash_tests bench_sampling >"$W/build.log" 2>&1 \
  || fail_build "build failed or exceeded ${BUILD_LIMIT}s: $(grep -m1 'error' "$W/build.log")"
BUILD_S=$(secs "$B0" "$(now)")
SCALE=$("$PY" -c "import sys; print(min(1.0, max(0.05, (float(sys.argv[1]) - float(sys.argv[2])) / float(sys.argv[3]))))" \
  "$(left)" "$RESERVE" "$NOMINAL_TOTAL")
log "budget: ${BUDGET}s, build ${BUILD_S}s, step limits scaled by $SCALE"
MASH=$BUILD/bin/mash

# ---- 2. GPU tests (each CUDA kernel against its CPU twin, ...) --------------------------------
lim 180 "$BUILD/bin/mash_tests" "[cuda]" >"$W/tests.log" 2>&1
TEST_RC=$?
TEST_LINE=$(grep -E "^(All tests passed|test cases:)" "$W/tests.log" | tail -1)
SKIPPED=$(grep -c "no CUDA device" "$W/tests.log")
log "GPU tests (rc $TEST_RC): ${TEST_LINE:-?} ($SKIPPED reported 'no CUDA device')"

# ---- 3. benchmarks ------------------------------------------------------------------------------
if [[ $MODE == cpu ]]; then
  ITERS=2 FIT_ARGS=(--set num_anchors=40 --set num_gt_points=4000 --set num_directions=100 --set num_boundary=10 --set warmup_steps=5
                    --set adaptive_epochs=1 --set max_epoch_steps=5)
  DATA_SHAPES=2 TRAIN_SIZE=(--set model.width=32 --set model.depth=1 --set model.heads=2 --set model.time_channels=16
                            --set model.context_dim=32) BATCH=4 STEPS=3 ANCHORS=16 GEN_NUM=2
else
  ITERS=50 FIT_ARGS=() DATA_SHAPES=32 TRAIN_SIZE=() BATCH=32 STEPS=30 ANCHORS=400 GEN_NUM=16
fi
# 3a. sampling pass forward + backward (A = 400, the paper's defaults)
lim 45 "$BUILD/bin/bench_sampling" --device "$DEVICE" --iters "$ITERS" --threads "$(nproc)" --json "$W/sampling.json" >"$W/sampling.log" 2>&1 \
  || log "sampling benchmark failed: $(tail -1 "$W/sampling.log")"
# 3b. mash fit of the bundled bunny (default settings on the GPU)
F0=$(now)
lim 60 "$MASH" fit "$R/tests/data/npm-bunny.obj" -o "$W/bunny.npz" --device "$DEVICE" --report "$W/fit.json" "${FIT_ARGS[@]}" \
  >"$W/fit.log" 2>&1 || log "fit failed: $(grep -m1 -E "error|time limit" "$W/fit.log")"
FIT_S=$(secs "$F0" "$(now)")
# 3c. dataset fitting: the bundled meshes, copied DATA_SHAPES times into a flat tree
mkdir -p "$W/ds/in"
meshes=("$R/tests/data/npm-bunny.obj" "$R/tests/data/meshes/cgal_cow.off")
for ((i = 0; i < DATA_SHAPES; ++i)); do
  m=${meshes[$((i % ${#meshes[@]}))]}
  mkdir -p "$W/ds/in/c$((i % 4))" && ln -s "$m" "$W/ds/in/c$((i % 4))/s$i.${m##*.}"
done
D0=$(now)
lim 90 "$MASH" fit-dataset --input "$W/ds/in" --output "$W/ds/out" --layout flat --device "$DEVICE" "${FIT_ARGS[@]}" \
  >"$W/ds.log" 2>&1 || log "fit-dataset failed: $(grep -m1 -E "error|time limit" "$W/ds.log")"
DS_S=$(secs "$D0" "$(now)")
# 3d. generator training steps (fp32 and bf16) on synthetic MASH tokens, then 3e. sampling
"$PY" - "$W/tok" "$ANCHORS" <<'PY'
import os, sys, numpy as np
out, A = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for c in ("a", "b"):
    os.makedirs(f"{out}/{c}", exist_ok=True)
    for i in range(8):
        np.savez(f"{out}/{c}/s{i}.npz", rotate_vectors=rng.normal(0, 0.5, (A, 3)), positions=rng.uniform(-0.5, 0.5, (A, 3)),
                 mask_params=np.concatenate([np.full((A, 1), 0.5), rng.normal(0, 0.05, (A, 6))], 1),
                 sh_params=np.concatenate([np.full((A, 1), 0.1), rng.normal(0, 0.01, (A, 8))], 1), use_inv=np.array(True))
PY
TRAIN_CFG=$R/configs/train/full_category.yaml
for prec in fp32 bf16; do
  lim 60 "$MASH" train --config "$TRAIN_CFG" -o "$W/train_$prec" --device "$DEVICE" --set data.root="$W/tok" --set data.val_fraction=0 \
    --set train.batch_size=$BATCH --set train.steps=$STEPS --set train.precision=$prec --set train.log_every=1 \
    --set train.val_every=100000 --set train.checkpoint_every=100000 --set sample.val_samples=0 "${TRAIN_SIZE[@]}" \
    >"$W/train_$prec.log" 2>&1 || log "train ($prec) failed: $(grep -m1 -E "error|time limit" "$W/train_$prec.log")"
done
G0=$(now)
# Heun with 16 fixed steps (32 network evaluations): the adaptive dopri5 is no measure on a model
# trained for a few steps on random tokens (its step size can underflow there).
GEN_OK=1
lim 45 "$MASH" generate --checkpoint "$W/train_fp32/checkpoint.pt" --num "$GEN_NUM" --category a --solver heun --steps 16 \
  --device "$DEVICE" -o "$W/gen" >"$W/gen.log" 2>&1 || { GEN_OK=0; log "generate failed: $(grep -m1 -E "error|time limit" "$W/gen.log")"; }
GEN_S=$(secs "$G0" "$(now)")

# ---- 4. results -----------------------------------------------------------------------------------
"$PY" - "$W" "$OUT" "$MODE" "$DEVICE" "$BUILD_S" "$TEST_RC" "$SKIPPED" "$FIT_S" "$DS_S" "$DATA_SHAPES" "$GEN_S" "$GEN_NUM" "$BATCH" "$(secs "$T0" "$(now)")" "$BUDGET" "$GEN_OK" <<'PY'
import glob, json, os, statistics, subprocess, sys, datetime
W, out, mode, device = sys.argv[1:5]
budget, gen_ok = int(sys.argv[15]), sys.argv[16] == "1"
build_s, test_rc, skipped, fit_s, ds_s, shapes, gen_s, gen_num, batch, total_s = sys.argv[5:15]
def load(p):
    try:
        return json.load(open(p))
    except Exception:
        return None
def step_time(run):
    try:
        rows = [json.loads(l) for l in open(f"{W}/{run}/metrics.jsonl") if '"sec_per_step"' in l]
        t = [r["sec_per_step"] for r in rows[2:]] or [r["sec_per_step"] for r in rows]
        return statistics.median(t)
    except Exception:
        return None
fit = load(f"{W}/fit.json") or {}
man = [json.loads(l) for l in open(f"{W}/ds/out/manifest.jsonl")] if os.path.exists(f"{W}/ds/out/manifest.jsonl") else []
ok = sum(1 for l in man if l["status"] == "ok")
gpu = ""
try:
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
except Exception:
    pass
r = {
    "date": datetime.datetime.now().isoformat(timespec="seconds"), "mode": mode, "device": device, "gpu": gpu or None,
    "build_seconds": float(build_s), "gpu_tests": {"exit_code": int(test_rc), "reported_no_cuda_device": int(skipped)},
    "sampling": load(f"{W}/sampling.json"),
    "fit_bunny": {"wall_seconds": float(fit_s), "l1_cd": fit.get("metrics", {}).get("l1_cd"), "steps": fit.get("steps")},
    "fit_dataset": {"shapes": int(shapes), "ok": ok, "wall_seconds": float(ds_s),
                    "shapes_per_hour": ok / float(ds_s) * 3600 if float(ds_s) > 0 and ok else None},
    "train_step_seconds": {"batch": int(batch), "fp32": step_time("train_fp32"), "bf16": step_time("train_bf16")},
    "sample_heun16": {"shapes": int(gen_num), "wall_seconds": float(gen_s), "ok": gen_ok},
    "total_seconds": float(total_s), "budget_seconds": budget,
    # every step's log (its last 20 000 characters), so that one file brings everything back
    "logs": {os.path.basename(p): open(p, errors="replace").read()[-20000:] for p in sorted(glob.glob(f"{W}/*.log"))},
}
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
json.dump(r, open(out + ".tmp", "w"), indent=1)
os.replace(out + ".tmp", out)
s = r["sampling"] or {}
f = lambda v, fmt="%.3f": "-" if v is None else fmt % v
print(f"gpu_check ({mode}, {device}{', ' + gpu if gpu else ''}) -> {out}")
rows = [("sampling fwd+bwd, A=%s" % s.get("anchors", "?"), f(s.get("forward_backward_ms"), "%.2f ms")),
        ("fit bunny", "%s s, L1-CD %s" % (f(r["fit_bunny"]["wall_seconds"], "%.1f"), f(r["fit_bunny"]["l1_cd"], "%.4f"))),
        ("fit-dataset", "%d/%d ok in %.1f s, %s shapes/h" % (ok, int(shapes), float(ds_s), f(r["fit_dataset"]["shapes_per_hour"], "%.0f"))),
        ("train step fp32 / bf16, batch %s" % batch, "%s / %s s" % (f(r["train_step_seconds"]["fp32"]), f(r["train_step_seconds"]["bf16"]))),
        ("sample %s shapes, heun 16 steps" % gen_num, "%.1f s" % float(gen_s) if gen_ok else "failed (gen.log)"),
        ("GPU tests", "exit %s, %s reported 'no CUDA device'" % (test_rc, skipped))]
for k, v in rows:
    print("  %-36s %s" % (k, v))
complete = all(x is not None for x in (r["sampling"], r["fit_bunny"]["l1_cd"], r["train_step_seconds"]["fp32"], r["train_step_seconds"]["bf16"])) and ok == int(shapes) and gen_ok
untested = mode == "gpu" and int(skipped) > 0
if untested:
    print("gpu_check: FAILED: %s [cuda] tests reported themselves skipped ('no CUDA device'): the GPU was not tested" % skipped)
print("gpu_check: %s" % ("all steps ran" if complete else "INCOMPLETE (see the lines above)"))
sys.exit(0 if complete and int(test_rc) == 0 and not untested else 1)
PY
