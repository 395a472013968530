#!/usr/bin/env python3
"""import-original + eval-net on original-format checkpoints of other sizes and head counts than
the goldens: random weights under the original's state_dict names, saved with
torch.save like base_trainer (model, ema_model, numpy ema_loss, step, epoch, loss_min), and a
reference forward written here in plain torch from the golden README's description of
CFMLatentTransformer (independent of the C++ code). Exit 77 (skipped) without torch.
    original_sizes.py MASH_BIN WORKDIR
"""
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # e.g. a build against MASH_LIBTORCH without the torch wheel
    print(f"skipped: {e}")
    sys.exit(77)

MASH, W = sys.argv[1], sys.argv[2]
os.makedirs(W, exist_ok=True)


def make(width, heads, depth, context, n_cat, channels=25, t_ch=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s, scale=1.0: torch.randn(*s, generator=g) * scale
    lin = lambda o, i: r(o, i, scale=i ** -0.5)
    sd = {"category_emb.weight": r(n_cat, context), "model.proj_in.weight": lin(width, channels)}
    for b in range(depth):
        p = f"model.transformer_blocks.{b}."
        for a, kv in (("attn1", width), ("attn2", context)):
            sd[p + a + ".to_q.weight"] = lin(width, width)
            sd[p + a + ".to_k.weight"] = lin(width, kv)
            sd[p + a + ".to_v.weight"] = lin(width, kv)
            sd[p + a + ".to_out.0.weight"] = lin(width, width)
            sd[p + a + ".to_out.0.bias"] = r(width, scale=0.05)
        sd[p + "ff.net.0.proj.weight"] = lin(8 * width, width)
        sd[p + "ff.net.0.proj.bias"] = r(8 * width, scale=0.05)
        sd[p + "ff.net.2.weight"] = lin(width, 4 * width)
        sd[p + "ff.net.2.bias"] = r(width, scale=0.05)
        for n in ("norm1", "norm2", "norm3"):
            sd[p + n + ".linear.weight"] = lin(2 * width, width)
            sd[p + n + ".linear.bias"] = r(2 * width, scale=0.05)
    sd["model.norm.weight"] = 1 + r(width, scale=0.1)
    sd["model.norm.bias"] = r(width, scale=0.05)
    sd["model.proj_out.weight"] = lin(channels, width)
    sd["model.map_layer0.weight"] = lin(width, t_ch)
    sd["model.map_layer0.bias"] = r(width, scale=0.05)
    sd["model.map_layer1.weight"] = lin(width, width)
    sd["model.map_layer1.bias"] = r(width, scale=0.05)
    return sd


def reference(sd, heads, x, t, context):
    """The original's forward, from the golden README (section 1)."""
    width = sd["model.proj_in.weight"].shape[0]
    half = sd["model.map_layer0.weight"].shape[1] // 2
    freqs = (1.0 / 10000) ** (torch.arange(half, dtype=torch.float32) / half)
    a = t.reshape(-1, 1).float() * freqs[None]
    pe = torch.cat([torch.cos(a), torch.sin(a)], -1)
    temb = F.silu(F.linear(F.silu(F.linear(pe[:, None], sd["model.map_layer0.weight"], sd["model.map_layer0.bias"])),
                           sd["model.map_layer1.weight"], sd["model.map_layer1.bias"]))

    def ada(h, p):
        scale, shift = F.linear(temb, sd[p + ".linear.weight"], sd[p + ".linear.bias"]).chunk(2, dim=2)
        return F.layer_norm(h, (width,), eps=1e-5) * (1 + scale) + shift

    def attn(h, ctx, p):
        B, N, _ = h.shape
        dh = width // heads
        split = lambda z: z.reshape(z.shape[0], z.shape[1], heads, dh).permute(0, 2, 1, 3)
        q, k, v = (split(F.linear(z, sd[p + n])) for z, n in ((h, ".to_q.weight"), (ctx, ".to_k.weight"), (ctx, ".to_v.weight")))
        w = torch.softmax(q @ k.transpose(-1, -2) * dh ** -0.5, dim=-1)
        o = (w @ v).permute(0, 2, 1, 3).reshape(B, N, width)
        return F.linear(o, sd[p + ".to_out.0.weight"], sd[p + ".to_out.0.bias"])

    h = F.linear(x, sd["model.proj_in.weight"])
    b = 0
    while f"model.transformer_blocks.{b}.attn1.to_q.weight" in sd:
        p = f"model.transformer_blocks.{b}."
        n1 = ada(h, p + "norm1")
        h = attn(n1, n1, p + "attn1") + h
        h = attn(ada(h, p + "norm2"), context, p + "attn2") + h
        av, gate = F.linear(ada(h, p + "norm3"), sd[p + "ff.net.0.proj.weight"], sd[p + "ff.net.0.proj.bias"]).chunk(2, -1)
        h = F.linear(av * F.gelu(gate), sd[p + "ff.net.2.weight"], sd[p + "ff.net.2.bias"]) + h
        b += 1
    h = F.layer_norm(h, (width,), sd["model.norm.weight"], sd["model.norm.bias"], eps=1e-5)
    return F.linear(h, sd["model.proj_out.weight"])


cases = [  # name, width, heads, depth, context, categories, image?
    ("cat_w48_h3_d3", 48, 3, 3, 40, 7, False),
    ("cat_w64_h16_d1", 64, 16, 1, 64, 55, False),
    ("img_w32_h8_d2", 32, 8, 2, 768, 55, True),
]
for name, width, heads, depth, context, n_cat, image in cases:
    ema, model = make(width, heads, depth, context, n_cat, seed=1), make(width, heads, depth, context, n_cat, seed=2)
    ck = f"{W}/{name}.pth"
    torch.save({"model": model, "ema_model": ema, "ema_loss": np.float32(0.25), "step": 77, "epoch": 3,
                "loss_min": float("inf")}, ck)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 400, 25, generator=g)
    t = torch.tensor([0.2, 0.9])
    inputs = {"x": x.numpy(), "t": t.numpy()}
    if image:
        tokens = torch.randn(2, 5, context, generator=g)
        inputs["cond_tokens"] = tokens.numpy()
        ctx = tokens + 0.0 * ema["category_emb.weight"][torch.zeros(2, dtype=torch.long)][:, None]
    else:
        cat = torch.tensor([n_cat - 1, 2])
        inputs["category"] = cat.numpy()
        ctx = ema["category_emb.weight"][cat][:, None]
    np.savez(f"{W}/{name}_in.npz", **inputs)
    with torch.no_grad():
        ref = reference(ema, heads, x, t, ctx).numpy()
    subprocess.run([MASH, "import-original", "--checkpoint", ck, "--heads", str(heads), "-o", f"{W}/{name}.pt",
                    "--threads", "2", "--log-level", "warn"], check=True)
    subprocess.run([MASH, "eval-net", "--checkpoint", f"{W}/{name}.pt", "--inputs", f"{W}/{name}_in.npz",
                    "-o", f"{W}/{name}_out.npz", "--threads", "2", "--log-level", "warn"], check=True)
    out = np.load(f"{W}/{name}_out.npz")["out"]
    err = float(np.abs(out - ref).max())
    print(f"{name}: width {width}, heads {heads}, depth {depth}, context {context}: max |mash - reference| = {err:.3g}")
    assert err < 1e-5, (name, err)
    # the wrong head count changes the answer (the flag matters and is used)
    if heads > 1:
        subprocess.run([MASH, "import-original", "--checkpoint", ck, "--heads", "1", "-o", f"{W}/{name}_h1.pt",
                        "--threads", "2", "--log-level", "warn"], check=True)
        subprocess.run([MASH, "eval-net", "--checkpoint", f"{W}/{name}_h1.pt", "--inputs", f"{W}/{name}_in.npz",
                        "-o", f"{W}/{name}_h1_out.npz", "--threads", "2", "--log-level", "warn"], check=True)
        assert float(np.abs(np.load(f"{W}/{name}_h1_out.npz")["out"] - ref).max()) > 1e-3
# a mis-shaped and an unknown tensor: one-line errors naming the tensor
bad = make(48, 3, 1, 40, 7)
bad["model.transformer_blocks.0.attn1.to_v.weight"] = torch.zeros(48, 47)
torch.save({"model": bad, "ema_model": bad}, f"{W}/bad_shape.pth")
extra = make(48, 3, 1, 40, 7)
extra["model.to_outputs.weight"] = torch.zeros(25, 48)
torch.save({"model": extra, "ema_model": extra}, f"{W}/extra.pth")
for f, msg in (("bad_shape", "tensor 'model.transformer_blocks.0.attn1.to_v.weight' has shape [48, 47]"),
               ("extra", "unknown tensor 'model.to_outputs.weight'")):
    p = subprocess.run([MASH, "import-original", "--checkpoint", f"{W}/{f}.pth", "--heads", "3", "-o", f"{W}/{f}.pt"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and msg in p.stderr and p.stderr.count("error:") == 1 and not os.path.exists(f"{W}/{f}.pt"), p.stderr
    print("ok:", p.stderr.strip())
print("all original-size checks passed")
