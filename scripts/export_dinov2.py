#!/usr/bin/env python3
"""Export an image encoder for `mash` image conditioning as TorchScript + a JSON sidecar.

Real DINOv2 (needs PyTorch and network access for torch.hub; run it on any machine, copy the
two files over):
    python3 scripts/export_dinov2.py --model dinov2_vitb14_reg -o dinov2_vitb14_reg.pt
    python3 scripts/export_dinov2.py --model dinov2_vitb14 -o dinov2_vitb14.pt       # no registers
The paper's image model uses ViT-B/14 with 4 registers at 518x518: all 1 + 4 + 37*37 = 1374 tokens
of the final LayerNorm ("x_norm"), width 768 (generation-spec section 2.3).

Stand-in (no download; what the tests and the CPU experiment use): a tiny ViT with the same
interface, random weights from a fixed seed:
    /usr/bin/python3 scripts/export_dinov2.py --standin -o tests/data/standin_encoder.pt

Interface of the exported module: forward(x: float32 [B, 3, S, S], ImageNet-normalized RGB)
-> float32 [B, T, C] tokens. Sidecar `<output>.json`: {"name", "input_size": S, "mean": [3],
"std": [3], "tokens": T, "width": C, "patch_size", "registers"}.
"""
import argparse
import json
import os
import sys

import torch

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class DinoTokens(torch.nn.Module):
    """All tokens of DINOv2's final norm: CLS, registers, patches."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone.forward_features(x)
        parts = [f["x_norm_clstoken"].unsqueeze(1)]
        if f.get("x_norm_regtokens") is not None and f["x_norm_regtokens"].shape[1] > 0:
            parts.append(f["x_norm_regtokens"])
        parts.append(f["x_norm_patchtokens"])
        return torch.cat(parts, dim=1)


class StandinViT(torch.nn.Module):
    """A tiny ViT with DINOv2's token layout (CLS + registers + patches, final LayerNorm)."""

    def __init__(self, size=112, patch=14, width=32, depth=2, heads=2, registers=4):
        super().__init__()
        self.patch = torch.nn.Conv2d(3, width, patch, patch)
        n = (size // patch) ** 2
        self.cls = torch.nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.reg = torch.nn.Parameter(torch.randn(1, registers, width) * 0.02)
        self.pos = torch.nn.Parameter(torch.randn(1, 1 + n, width) * 0.02)
        layer = torch.nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(layer, depth)
        self.norm = torch.nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch(x).flatten(2).transpose(1, 2)
        b = p.shape[0]
        t = torch.cat([self.cls.expand(b, -1, -1), p], 1) + self.pos
        t = torch.cat([t[:, :1], self.reg.expand(b, -1, -1), t[:, 1:]], 1)
        return self.norm(self.blocks(t))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="dinov2_vitb14_reg", help="torch.hub name (dinov2_vitb14_reg, dinov2_vitb14, ...)")
    ap.add_argument("--size", type=int, default=None, help="input size (default 518; stand-in 112)")
    ap.add_argument("--standin", action="store_true", help="export the tiny stand-in instead (no download)")
    ap.add_argument("--standin-width", type=int, default=32, help="the stand-in's token width (768: DINOv2 ViT-B's, for full-size runs)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.standin:
        size = a.size or 112
        model, name, patch, regs = StandinViT(size=size, width=a.standin_width), "standin-vit-tiny", 14, 4
    else:
        size = a.size or 518
        backbone = torch.hub.load("facebookresearch/dinov2", a.model)
        model, name, patch = DinoTokens(backbone), a.model, 14
        regs = getattr(backbone, "num_register_tokens", 0)
    model.eval()
    example = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
        out = traced(example)
    if out.dim() != 3:
        sys.exit(f"unexpected output shape {tuple(out.shape)}")
    traced.save(a.output)
    side = {"name": name, "input_size": size, "mean": MEAN, "std": STD, "tokens": int(out.shape[1]),
            "width": int(out.shape[2]), "patch_size": patch, "registers": int(regs)}
    with open(a.output + ".json", "w") as f:
        json.dump(side, f, indent=1)
    print(f"wrote {a.output} ({os.path.getsize(a.output)} bytes) and {a.output}.json: {side}")


if __name__ == "__main__":
    main()
