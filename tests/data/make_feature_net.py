#!/usr/bin/python3
"""Makes pointnet_features.pt: a tiny, randomly initialised (seed 0) PointNet-style feature network
for `mash eval-gen --feature-net` tests: [B, N, 3] float32 -> [B, 64] (shared MLP, max-pool).
It is a stand-in with the interface of a real point-cloud classifier's penultimate features
(e.g. the PointNet++ of Point-E's evaluator); its FID/KID values only test the plumbing.
Run with Debian's python3-torch: /usr/bin/python3 tests/data/make_feature_net.py"""
import os
import torch


class PointFeatures(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 64), torch.nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.size(2) != 3:
            raise ValueError("expected points [B, N, 3]")
        return self.mlp(x).max(dim=1).values


torch.manual_seed(0)
m = torch.jit.script(PointFeatures().eval())
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pointnet_features.pt")
m.save(out)
print("wrote", out, os.path.getsize(out), "bytes")
