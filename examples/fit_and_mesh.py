# SPDX-License-Identifier: MIT
"""Fit a MASH to a mesh file as `mash fit` does, save it, mesh it and look at it.
    .venv/bin/python examples/fit_and_mesh.py tests/data/npm-bunny.obj bunny.npz [MAX_STEPS]
writes bunny.npz (the MASH), bunny.obj (its closed mesh) and bunny.png (MASH | mesh)."""
import sys

import numpy as np

import mash

src, out = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 300
m = mash.fit(src, num_anchors=200, max_steps=steps, seed=0, threads=2)
r = m.fit_report
print(f"{src}: {r['steps']} steps in {r['seconds']:.1f} s, L1-CD {r['l1_cd']:.5f}, F-score {r['fscore']:.3f} (normalized frame)")
m.save(out)
V, F = mash.mesh(m, depth=7)
stem = out.rsplit(".", 1)[0]
with open(stem + ".obj", "w") as f:
    np.savetxt(f, V.numpy(), fmt="v %.6f %.6f %.6f")
    np.savetxt(f, F.numpy() + 1, fmt="f %d %d %d")
mash.save_png(stem + ".png", np.concatenate([mash.render(m, views=1, width=320, height=320),
                                             mash.render((V, F), views=1, width=320, height=320)], axis=1))
print(f"wrote {out}, {stem}.obj ({V.shape[0]} vertices, {F.shape[0]} triangles) and {stem}.png")
