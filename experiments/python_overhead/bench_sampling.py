# SPDX-License-Identifier: MIT
"""The sampling pass from Python, timed as build/bin/bench_sampling times it: mash.Mash (float32,
the paper's sampling defaults), forward (sample) + backward of sum(points²), median over iterations
after 3 warm-up ones.   python bench_sampling.py MASH_FILE THREADS ITERS"""
import json
import sys
import time

import torch

import mash

path, threads, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mash.set_threads(threads)
torch.set_num_threads(threads)
m = mash.load(path, dtype=torch.float32)
fwd, total, npts = [], [], 0
for it in range(iters + 3):
    m.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    pts = m.sample()
    t1 = time.perf_counter()
    (pts * pts).sum().backward()
    t2 = time.perf_counter()
    npts = pts.shape[0]
    if it >= 3:
        fwd.append(1e3 * (t1 - t0))
        total.append(1e3 * (t2 - t0))
med = lambda v: sorted(v)[len(v) // 2]
print(json.dumps({"points": npts, "threads": threads, "iters": iters, "forward_ms": med(fwd), "forward_backward_ms": med(total)}))
