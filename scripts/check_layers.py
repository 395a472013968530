#!/usr/bin/env python3
"""The rooms of the source tree:
  * include direction: every source of mash/, models/ and scripts/ may include only its own folder
    and the folders below it in LAYERS;
  * folder = namespace: code in mash/X/ is in namespace mash::X (mash/ops/OP/ in mash::ops::OP),
    models/ in mash::models, scripts/cli/ in mash::cli; core is the root namespace mash (and
    mash::config), representation re-exports its types into mash.
Prints each violation (file:line) and exits 1 on any.
   scripts/check_layers.py [REPO_ROOT]"""
import os
import re
import sys

# Lowest first. A folder may include itself and anything earlier in this list.
LAYERS = [
    "mash/core",            # errors, files, config values, MashParams, point clouds, k-d tree
    "mash/formats",         # npy/npz, pickle, zip, png byte formats
    "mash/ops",             # differentiable ops, one folder each (math, CPU, CUDA, registration), runtime
    "mash/representation",  # the Mash module
    "mash/io",              # geometry and MASH files, glTF
    "mash/losses",          # chamfer / coverage, surfel and boundary losses
    "mash/dataset",         # dataset layouts and shards
    "mash/pictures",        # rendering and plots
    "mash/fitting",         # the fitter and its pipeline
    "mash/mesh",            # surface extraction, winding numbers, procedural shapes
    "mash/mash.h",          # the umbrella header of the C++ package
    "models",               # the generator
    "scripts",              # the mash command-line program
]
INCLUDE = re.compile(r'\s*#\s*include\s+"([^"]+)"')
NAMESPACE = re.compile(r"^namespace (mash(?:::\w+)*) \{")


def namespaces_allowed(rel):
    """The namespaces a file may open (exact names; nested ones below them are allowed too)."""
    parts = rel.split("/")
    if parts[0] == "models":
        return ["mash::models"]
    if parts[0] == "scripts":
        return ["mash::cli"]
    if parts[0] != "mash" or len(parts) < 3:
        return []
    folder = parts[1]
    if folder == "core":
        return ["mash", "mash::config"]
    if folder == "representation":
        return ["mash::representation", "mash"]
    if folder == "ops" and len(parts) > 3:
        return ["mash::ops::" + parts[2]]
    return ["mash::" + folder]


def namespace_ok(name, allowed):
    return any(name == a or (a != "mash" and name.startswith(a + "::")) for a in allowed)


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
                allowed = namespaces_allowed(rel)
                with open(full, encoding="utf-8", errors="replace") as f:
                    for ln, line in enumerate(f, 1):
                        ns = NAMESPACE.match(line)
                        if ns and not namespace_ok(ns.group(1), allowed):
                            bad.append(f"{rel}:{ln}: namespace {ns.group(1)} in {os.path.dirname(rel)}/ "
                                       f"(expected {' or '.join(allowed) or 'none'})")
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = layer_of(m.group(1))
                        if target is not None and target > own:
                            bad.append(f"{rel}:{ln}: includes {m.group(1)} ({LAYERS[target]} is above {LAYERS[own]})")
    for b in bad:
        print(b)
    if bad:
        print(f"check_layers: {len(bad)} problem(s)")
        return 1
    print(f"check_layers: {files} files, no upward include, each folder in its namespace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
