# SPDX-License-Identifier: MIT
"""Generate shapes with the bundled model of the procedural families and look at them.
    .venv/bin/python examples/generate.py [OUT_DIR]
writes OUT_DIR/<family>_<i>.npz (MASH files) and OUT_DIR/generated.png (one row per family, then
a row of completions: the first shape's lower half kept, the rest generated three times)."""
import os
import pathlib
import sys

import numpy as np

import mash

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "generated")
out.mkdir(parents=True, exist_ok=True)
model = pathlib.Path(__file__).resolve().parents[1] / "models" / "pretrained" / "families.pt"
g = mash.Generator.load(model)
rows = []
for family in g.categories:
    shapes = g.generate(category=family, num=3, seed=0)
    for i, m in enumerate(shapes):
        m.save(out / f"{family}_{i}.npz")
    rows.append(np.concatenate([mash.render(m, views=1, width=160, height=160) for m in shapes], axis=1))
# Completion: keep the anchors of the last family's first shape that lie below its median height, regenerate the rest.
given = shapes[0]
y = given.positions[:, 1].detach()
keep = (y <= y.median()).nonzero().flatten().tolist()
completed = g.generate(category=family, num=3, seed=1, complete=given, keep=keep)
for i, m in enumerate(completed):
    m.save(out / f"{family}_completed_{i}.npz")
rows.append(np.concatenate([mash.render(m, views=1, width=160, height=160) for m in completed], axis=1))
mash.save_png(out / "generated.png", np.concatenate(rows, axis=0))
print(f"wrote {3 * len(g.categories)} shapes of {', '.join(g.categories)}, 3 completions of a {family} with "
      f"{len(keep)} of {g.num_anchors} anchors kept, and {os.fspath(out / 'generated.png')}")
