#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the small hand-made seed inputs of tests/fuzz/seeds/{geometry,json} (committed; rerun
# only to change them). Plain Python 3, no numpy. Geometry seeds start with one byte choosing the
# extension in fuzz_geometry.cpp: 0 .obj 1 .off 2 .ply 3 .xyz 4 .xyzn 5 .pts 6 .pcd 7 .stl 8 .glb
# 9 .gltf (the glTF seeds are tests/data/gltf's files).
import json, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
geo = os.path.join(here, "seeds", "geometry")
V = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
F = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]

def put(name, ext_index, data):
    with open(os.path.join(geo, name), "wb") as f:
        f.write(bytes([ext_index]) + (data.encode() if isinstance(data, str) else data))

put("tetra.obj", 0, "# tetrahedron\n" + "".join("v %g %g %g\n" % v for v in V) + "f 1 3 2\nf 1//1 2//1 4//1\nf -4 -1 -2\nf 2/1 3/1 4/1 2/1\n")
put("tetra.off", 1, "OFF\n# comment\n4 4 6\n" + "".join("%g %g %g\n" % v for v in V) + "".join("3 %d %d %d\n" % f for f in F))
put("modelnet_header.off", 1, "OFF4 1 0\n" + "".join("%g %g %g\n" % v for v in V) + "4 0 1 2 3\n")
put("points.off", 1, "NOFF\n3 0 0\n0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n")
put("tetra_ascii.ply", 2, "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
    "element face 4\nproperty list uchar int vertex_indices\nend_header\n" + "".join("%g %g %g\n" % v for v in V)
    + "".join("3 %d %d %d\n" % f for f in F))
put("tetra_binary.ply", 2, b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
    b"property float z\nelement face 4\nproperty list uchar int vertex_indices\nend_header\n"
    + b"".join(struct.pack("<3f", *v) for v in V) + b"".join(struct.pack("<B3i", 3, *f) for f in F))
put("points_binary.ply", 2, b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty double x\nproperty double y\n"
    b"property double z\nproperty double nx\nproperty double ny\nproperty double nz\nend_header\n"
    + b"".join(struct.pack("<6d", *v, 0, 0, 1) for v in V[:3]))
put("points.xyz", 3, "0 0 0\n1 0 0 extra\n# comment\n0 1 0\r\n")
put("points.xyzn", 4, "0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n")
put("counted.pts", 5, "3\n0 0 0 10 255 0 0\n1 0 0 10 0 255 0\n0 1 0 10 0 0 255\n")
put("plain.pts", 5, "0 0 0\n1 0 0\n0 1 0\n")
hdr = "VERSION .7\nFIELDS x y z normal_x normal_y normal_z\nSIZE 4 4 4 4 4 4\nTYPE F F F F F F\nCOUNT 1 1 1 1 1 1\nWIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\n"
put("ascii.pcd", 6, "# .PCD v0.7\n" + hdr + "DATA ascii\n" + "".join("%g %g %g 0 0 1\n" % v for v in V[:3]))
put("binary.pcd", 6, (hdr + "DATA binary\n").encode() + b"".join(struct.pack("<6f", *v, 0, 0, 1) for v in V[:3]))
# binary_compressed: column-major payload, LZF literal runs (ctrl = length - 1) and one back reference.
cols = b"".join(struct.pack("<3f", *(v[k] for v in V[:3])) for k in range(3)) + struct.pack("<9f", 0, 0, 0, 0, 0, 0, 1, 1, 1)
lit = cols[:32]
rest = cols[32:]
lzf = bytes([len(lit) - 1]) + lit + bytes([len(rest) - 1]) + rest
put("compressed.pcd", 6, (hdr + "DATA binary_compressed\n").encode() + struct.pack("<II", len(lzf), len(cols)) + lzf)
put("uint8_xyz.pcd", 6, "FIELDS x y z rgb\nSIZE 1 1 1 4\nTYPE U U U U\nCOUNT 1 1 1 1\nWIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA ascii\n1 2 3 0\n4 5 6 0\n")
stl = b"binary stl".ljust(80, b" ") + struct.pack("<I", len(F))
for f in F:
    stl += struct.pack("<3f", 0, 0, 1) + b"".join(struct.pack("<3f", *V[i]) for i in f) + b"\0\0"
put("tetra_binary.stl", 7, stl)
put("tetra_ascii.stl", 7, "solid t\n" + "".join("facet normal 0 0 1\nouter loop\n" + "".join("vertex %g %g %g\n" % V[i] for i in f)
    + "endloop\nendfacet\n" for f in F) + "endsolid t\n")

gl = os.path.join(here, "..", "data", "gltf")
put("hierarchy.glb", 8, open(os.path.join(gl, "hierarchy.glb"), "rb").read())
put("sparse_fan.gltf", 9, open(os.path.join(gl, "sparse_fan.gltf"), "rb").read())

js = os.path.join(here, "seeds", "json")
knots = [-3.0 + 6.0 * i / 100 for i in range(101)]
norm = {"format": "mash-quantile-normalizer", "version": 1, "columns": ["a", "b"],
        "source_knots": [knots, [2 * k for k in knots]], "target_knots": knots}
open(os.path.join(js, "normalizer.json"), "w").write(json.dumps(norm))
lines = [{"id": "m1", "category": "chair", "source": "chair/m1.obj", "status": "ok", "wall_s": 12.5, "steps": 900, "l1_cd": 0.002, "error": ""},
         {"id": "m2", "category": "chair", "source": "chair/m2.obj", "status": "failed", "wall_s": 0.1, "steps": 0, "l1_cd": None,
          "error": "chair/m2.obj: no points or faces found (empty geometry)"},
         {"id": "m3", "category": "table", "source": "", "status": "skipped", "wall_s": 0, "steps": 0, "l1_cd": None, "error": ""}]
open(os.path.join(js, "manifest.jsonl"), "w").write("".join(json.dumps(l) + "\n" for l in lines) + '{"id": "torn", "categ')
