# SPDX-License-Identifier: MIT
"""A MASH as a layer in your own loop: fit 64 anchors to a point cloud with torch.optim.Adam and a
chamfer loss written in a few lines of torch over mash's exact nearest-neighbour operator (no
mash.fit). Prints the loss as it falls.
    .venv/bin/python examples/mash_layer.py [STEPS]"""
import sys

import torch

import mash

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
g = torch.Generator().manual_seed(0)
target = torch.randn(4000, 3, generator=g, dtype=torch.float64)
target = target / target.norm(dim=1, keepdim=True) * torch.tensor([1.0, 0.6, 0.4], dtype=torch.float64)  # an ellipsoid

m = mash.Mash(anchors=64, mask_degree=2, sh_degree=2, num_directions=400)
with torch.no_grad():  # start: anchors on the target, looking outward
    m.positions.copy_(target[torch.ops.mash.fps(target, 64)] * 0.9)
opt = torch.optim.Adam(m.parameters(), lr=1e-2)
first = None
for step in range(steps):
    pts = m.sample()                                               # [P, 3], differentiable
    i = torch.ops.mash.nearest(pts.detach(), target)               # each sample's nearest target point
    j = torch.ops.mash.nearest(target, pts.detach())               # each target point's nearest sample
    loss = (pts - target[i]).norm(dim=1).mean() + (target - pts[j]).norm(dim=1).mean()  # chamfer (L1)
    first = loss.item() if first is None else first
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0 or step == steps - 1:
        print(f"step {step:4d}  chamfer {loss.item():.4f}  samples {pts.shape[0]}")
if loss.item() > 0.5 * first:
    sys.exit(f"the chamfer distance did not halve ({first:.4f} -> {loss.item():.4f})")
print(f"chamfer {first:.4f} -> {loss.item():.4f}")
