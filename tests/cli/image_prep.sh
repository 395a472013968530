#!/usr/bin/env bash
# The image an encoder sees, against Python PIL (Debian python3-pil, test-only): the original's
# Image.open(f).convert('RGB').resize((S, S), Image.BILINEAR) on real photos, shrinking and
# growing, must agree to <= 1 gray level (measured: identical). Skipped (77) without PIL.
#   image_prep.sh MASH_BIN REPO_ROOT WORKDIR
set -euo pipefail
MASH=$1 R=$2 W=$3
PY=/usr/bin/python3
"$PY" -c "import PIL" 2>/dev/null || { echo "skipped: python3-pil not installed (scripts/install-deps.sh installs it)"; exit 77; }
rm -rf "$W" && mkdir -p "$W"
D=$R/tests/data
cases=()
for img in images/skimage_rocket.jpg images/skimage_chelsea.png rgba_2x2.png; do
  for s in 518 224 61 7; do
    out="$W/$(basename "$img" | tr . _)_$s.png"
    "$MASH" preprocess-image --image "$D/$img" --size "$s" -o "$out" --log-level warn
    cases+=("$D/$img" "$s" "$out")
  done
done
"$PY" - "${cases[@]}" <<'PY'
import sys
from PIL import Image
args = sys.argv[1:]
worst = 0
for i in range(0, len(args), 3):
    src, s, ours = args[i], int(args[i + 1]), args[i + 2]
    ref = Image.open(src).convert("RGB").resize((s, s), Image.BILINEAR).tobytes()
    got = Image.open(ours).convert("RGB").tobytes()
    assert len(ref) == len(got), (src, s, len(ref), len(got))
    d = [abs(a - b) for a, b in zip(ref, got)]
    m, same = max(d), sum(1 for v in d if v == 0) / len(d)
    worst = max(worst, m)
    print(f"{src.split('/')[-1]} -> {s}x{s}: max |mash - PIL| = {m} gray levels, {100 * same:.2f} % identical")
    assert m <= 1, (src, s, m)
print(f"image preprocessing matches PIL (worst {worst} gray level)")
PY
