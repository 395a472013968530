#!/usr/bin/env python3
"""Scores generated shapes against reference shapes (numpy only). Use >= 10 000 points for F@0.01
(with 2048 the point spacing alone caps a shape against itself at F@0.01 = 0.63).

  score.py nearest GEN_DIR DATA_ROOT [--points N] [--seed S]
      memorization: every shape of GEN_DIR/generate.json against its nearest shape of the same
      category under DATA_ROOT/<category>/*.npz, both in the training frame (each reference MASH
      centred, longest anchor-bbox side 1, as data.normalize: box); L1-CD and F@0.01 per category.
  score.py families GEN_DIR HELDOUT_ROOT TRAIN_ROOT [--points N]
      generalization: MMD-CD, COV-CD, 1-NNA-CD against the held-out shapes (all families pooled),
      family accuracy (the family of the nearest held-out shape equals the conditioned one).

Clouds: generated shapes from their --points .ply; reference MASH files sampled with
`mash sample` (MASH_BIN), cached beside GEN_DIR. Prints one JSON object.
"""
import argparse, glob, json, os, subprocess, sys
import numpy as np

MASH = os.environ.get("MASH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin/mash"))


def read_ply(path):
    with open(path, "rb") as f:
        head = b""
        while not head.endswith(b"end_header\n"):
            head += f.readline()
        n = int(head.split(b"element vertex ")[1].split(b"\n")[0])
        props = head.count(b"property double")
        return np.frombuffer(f.read(8 * props * n), "<f8").reshape(n, props)[:, :3]


def unit_box(npz):
    p = np.load(npz)["positions"]
    lo, hi = p.min(0), p.max(0)
    return (lo + hi) / 2, 1.0 / (hi - lo).max()


def reference_cloud(npz, cache, n, rng):
    os.makedirs(cache, exist_ok=True)
    out = os.path.join(cache, os.path.relpath(npz, os.path.dirname(os.path.dirname(npz))).replace("/", "__") + ".npy")
    if not os.path.exists(out):
        subprocess.run([MASH, "sample", npz, "-o", out, "--threads", "1", "--log-level", "warn"], check=True)
    pts = np.load(out)
    c, s = unit_box(npz)
    return (pts[rng.choice(len(pts), min(n, len(pts)), replace=False)] - c) * s


def nn_dist(a, b, chunk=2048):
    """min_j |a_i - b_j| for every i (float32 products, centred: ample for distances ~1e-3)."""
    c = b.mean(0)
    a, b = (a - c).astype(np.float32), (b - c).astype(np.float32)
    out = np.empty(len(a))
    bb = (b * b).sum(1)
    for i in range(0, len(a), chunk):
        x = a[i:i + chunk]
        d2 = (x * x).sum(1)[:, None] + bb[None, :] - 2 * x @ b.T
        out[i:i + chunk] = np.sqrt(np.maximum(d2.min(1).astype(np.float64), 0))
    return out


def pair(a, b, tau=0.01):
    da, db = nn_dist(a, b), nn_dist(b, a)
    p, r = (da < tau).mean(), (db < tau).mean()
    return 0.5 * (da.mean() + db.mean()), (2 * p * r / (p + r) if p + r > 0 else 0.0), (da ** 2).mean() + (db ** 2).mean()


def generated(gen_dir):
    g = json.load(open(os.path.join(gen_dir, "generate.json")))
    return [(s.get("category", ""), read_ply(s["points"])) for s in g["shapes"]]


def nearest(args):
    rng = np.random.default_rng(args.seed)
    refs = {}
    for f in sorted(glob.glob(os.path.join(args.data, "*", "*.npz"))):
        refs.setdefault(os.path.basename(os.path.dirname(f)), []).append(
            reference_cloud(f, os.path.join(os.path.dirname(os.path.abspath(args.gen)), "ref_cache"), args.points, rng))
    per = {}
    for cat, pts in generated(args.gen):
        pts = pts[rng.choice(len(pts), min(args.points, len(pts)), replace=False)]
        # the nearest reference by a coarse L1-CD (2048 points), then the metrics at full density
        coarse = lambda x: x[rng.choice(len(x), min(2048, len(x)), replace=False)]
        c = coarse(pts)
        nearest_ref = min(refs[cat], key=lambda r: pair(c, coarse(r))[0])
        per.setdefault(cat, []).append(pair(pts, nearest_ref))
    res = {c: {"n": len(v), "l1_cd": float(np.mean([x[0] for x in v])), "f_0.01": float(np.mean([x[1] for x in v]))}
           for c, v in sorted(per.items())}
    res["mean_f_0.01"] = float(np.mean([res[c]["f_0.01"] for c in per]))
    res["min_category_f_0.01"] = float(min(res[c]["f_0.01"] for c in per))
    print(json.dumps(res))


def families(args):
    rng = np.random.default_rng(args.seed)
    held = [(os.path.basename(os.path.dirname(f)), reference_cloud(f, os.path.join(os.path.dirname(os.path.abspath(args.gen)), "ref_cache"), args.points, rng))
            for f in sorted(glob.glob(os.path.join(args.data, "*", "*.npz")))]
    gen = []
    if args.gen_dir_is_data:
        gen = [(os.path.basename(os.path.dirname(f)), reference_cloud(f, os.path.join(args.gen, "gen_cache"), args.points, rng))
               for f in sorted(glob.glob(os.path.join(args.gen_dir_is_data, "*", "*.npz")))]
    else:
        gen = [(c, p[rng.choice(len(p), min(args.points, len(p)), replace=False)]) for c, p in generated(args.gen)]
    G, R = len(gen), len(held)
    cd = lambda a, b: pair(a, b)[2]
    gr = np.array([[cd(g[1], h[1]) for h in held] for g in gen])
    gg = np.array([[cd(a[1], b[1]) if i != j else np.inf for j, b in enumerate(gen)] for i, a in enumerate(gen)])
    rr = np.array([[cd(a[1], b[1]) if i != j else np.inf for j, b in enumerate(held)] for i, a in enumerate(held)])
    mmd = gr.min(0).mean()
    cov = len(set(gr.argmin(1))) / R
    # 1-NNA: leave-one-out nearest neighbour in the union; correct if it has the same origin.
    correct = sum(gg[i].min() < gr[i].min() for i in range(G)) + sum(rr[j].min() < gr[:, j].min() for j in range(R))
    acc = float(np.mean([held[gr[i].argmin()][0] == gen[i][0] for i in range(G)]))
    print(json.dumps({"generated": G, "heldout": R, "mmd_cd": float(mmd), "cov_cd": cov, "nna_cd": correct / (G + R),
                      "family_accuracy": acc}))


ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["nearest", "families"])
ap.add_argument("gen")
ap.add_argument("data")
ap.add_argument("--points", type=int, default=2048)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--gen-dir-is-data", default="", help="families: score a folder of MASH files (a reference row) instead of GEN")
a = ap.parse_args()
nearest(a) if a.mode == "nearest" else families(a)
