# SPDX-License-Identifier: MIT
"""A MASH as a layer in your own loop: fit 64 anchors to a point cloud with torch.optim.Adam and a
chamfer loss written in plain torch (no mash.fit). Prints the loss as it falls.
    .venv/bin/python examples/mash_layer.py [STEPS]"""
import sys

import torch

import mash

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
g = torch.Generator().manual_seed(0)
target = torch.randn(4000, 3, generator=g, dtype=torch.float64)
target = target / target.norm(dim=1, keepdim=True) * torch.tensor([1.0, 0.6, 0.4], dtype=torch.float64)  # an ellipsoid

m = mash.Mash(anchors=64, mask_degree=2, sh_degree=2)
with torch.no_grad():  # start: anchors on the target, looking outward
    m.positions.copy_(target[torch.ops.mash.fps(target, 64)] * 0.9)
opt = torch.optim.Adam(m.parameters(), lr=1e-2)
for step in range(steps):
    pts = m.sample()                                               # [P, 3], differentiable
    d = torch.cdist(pts, target)
    loss = d.min(1).values.mean() + d.min(0).values.mean()         # chamfer (L1)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == steps - 1:
        print(f"step {step:4d}  chamfer {loss.item():.4f}  samples {pts.shape[0]}")
