# SPDX-License-Identifier: MIT
"""Fit a MASH to a mesh file as `mash fit` does, save it, and sample its surface.
    .venv/bin/python examples/fit_and_mesh.py tests/data/npm-bunny.obj bunny.npz [MAX_STEPS]"""
import sys

import mash

src, out = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 300
m = mash.fit(src, num_anchors=200, max_steps=steps, seed=0, threads=2)
print(f"{src}: {m.fit_report['steps']} steps in {m.fit_report['seconds']:.1f} s, "
      f"L1-CD {m.fit_report['l1_cd']:.5f}, F-score {m.fit_report['fscore']:.3f} (normalized frame)")
m.save(out)
points = m.sample().detach()
print(f"wrote {out}; its surface: {points.shape[0]} points")
