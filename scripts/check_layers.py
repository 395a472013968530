#!/usr/bin/env python3
"""Include direction: every source of mash/, models/ and scripts/ may include only its own folder
and the folders below it in LAYERS. Prints each upward include (file:line) and exits 1 on any.
   scripts/check_layers.py [REPO_ROOT]"""
import os
import re
import sys

# Lowest first. A folder may include itself and anything earlier in this list.
LAYERS = [
    "mash/core",            # errors, files, runtime, point clouds, k-d tree
    "mash/formats",         # npy/npz, pickle, zip, png byte formats
    "mash/kernels",         # CPU/CUDA math shared by the ops (__host__ __device__)
    "mash/ops",             # differentiable ops: rotation, SH, mask, sampling, world points
    "mash/representation",  # MashParams and the Mash module
    "mash/io",              # geometry and MASH files, glTF
    "mash/losses",          # chamfer / coverage / boundary losses, nearest neighbours
    "mash/dataset",         # dataset layouts and shards
    "mash/pictures",        # rendering and plots
    "mash/fitting",         # the fitter and its pipeline
    "mash/mesh",            # surface extraction, winding numbers, procedural shapes
    "mash/mash.h",          # the umbrella header of the C++ package
    "models",               # the generator
    "scripts",              # the mash command-line program
]
INCLUDE = re.compile(r'\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    for i, name in enumerate(LAYERS):
        if path == name or path.startswith(name + "/"):
            return i
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    bad, files = [], 0
    for top in ("mash", "models", "scripts"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if not n.endswith((".h", ".cpp", ".cu", ".cuh")):
                    continue
                full = os.path.join(dirpath, n)
                rel = os.path.relpath(full, root)
                own = layer_of(rel)
                if own is None:
                    bad.append(f"{rel}: folder not in scripts/check_layers.py LAYERS")
                    continue
                files += 1
                with open(full, encoding="utf-8", errors="replace") as f:
                    for ln, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = layer_of(m.group(1))
                        if target is not None and target > own:
                            bad.append(f"{rel}:{ln}: includes {m.group(1)} ({LAYERS[target]} is above {LAYERS[own]})")
    for b in bad:
        print(b)
    if bad:
        print(f"check_layers: {len(bad)} upward include(s)")
        return 1
    print(f"check_layers: {files} files, no upward include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
