#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the hand-made glTF test scenes of this folder (committed; rerun only to change them).
# Plain Python 3. World coordinates are derived by hand in tests/test_geometry_formats.cpp.
#   hierarchy.glb  default scene [0, 4]: nested translation / rotation / non-uniform scale / matrix,
#                  mesh 0 instanced twice, a triangle strip, a skipped points primitive,
#                  KHR_mesh_quantization (normalized int16 positions), a node outside the scene
#   noscene.glb    the same without "scene"/"scenes": every root node (0, 4, 5) is read
#   sparse_fan.gltf  embedded buffer (data: URI): a sparse accessor over zeros, a triangle fan
#   bad_count.glb  TRIANGLES with 4 indices (not a multiple of 3)
import base64, json, math, os, struct

here = os.path.dirname(os.path.abspath(__file__))

class Buf:
    def __init__(self):
        self.data = b""
        self.views = []
    def add(self, raw):
        while len(self.data) % 4:
            self.data += b"\0"
        self.views.append({"buffer": 0, "byteOffset": len(self.data), "byteLength": len(raw)})
        self.data += raw
        return len(self.views) - 1

def glb(doc, binary):
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    out = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(js) + 8 + len(binary))
    out += struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return out

def scene(with_scene, bad_count=False):
    b = Buf()
    acc = []
    def accessor(raw, ctype, count, typ, **kw):
        v = b.add(raw)
        acc.append(dict({"bufferView": v, "componentType": ctype, "count": count, "type": typ}, **kw))
        return len(acc) - 1
    tri = [0, 0, 0, 1, 0, 0, 0, 1, 0]
    p0 = accessor(struct.pack("<9f", *tri), 5126, 3, "VEC3", min=[0, 0, 0], max=[1, 1, 0])
    i0 = accessor(struct.pack("<4B", 0, 1, 2, 0)[:4 if bad_count else 3], 5121, 4 if bad_count else 3, "SCALAR")
    p1 = accessor(struct.pack("<12f", 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0), 5126, 4, "VEC3", min=[0, 0, 0], max=[1, 1, 0])
    q = accessor(struct.pack("<9h", 32767, 0, 0, 0, 32767, 0, 0, 0, -32767), 5122, 3, "VEC3", normalized=True,
                 min=[0, 0, -32767], max=[32767, 32767, 0])
    iq = accessor(struct.pack("<3H", 0, 1, 2), 5123, 3, "SCALAR")
    meshes = [
        {"primitives": [{"attributes": {"POSITION": p0}, "indices": i0}]},
        {"primitives": [{"attributes": {"POSITION": p1}, "mode": 5}, {"attributes": {"POSITION": p1}, "mode": 0}]},
        {"primitives": [{"attributes": {"POSITION": q}, "indices": iq}]},
    ]
    s45 = math.sin(math.pi / 4)
    nodes = [
        {"translation": [10, 0, 0], "children": [1, 2]},
        {"rotation": [0, 0, s45, s45], "scale": [2, 3, 1], "mesh": 0},
        {"matrix": [0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 5, 0, 1], "mesh": 0, "children": [3]},
        {"translation": [0, 0, 1], "mesh": 1},
        {"translation": [0, 0, -3], "mesh": 2},
        {"translation": [100, 0, 0], "mesh": 0},
    ]
    doc = {"asset": {"version": "2.0", "generator": "mash tests/data/gltf/make_gltf.py"},
           "extensionsUsed": ["KHR_mesh_quantization"], "extensionsRequired": ["KHR_mesh_quantization"],
           "buffers": [{"byteLength": len(b.data) + (-len(b.data) % 4)}], "bufferViews": b.views, "accessors": acc,
           "meshes": meshes, "nodes": nodes}
    if with_scene:
        doc["scene"] = 0
        doc["scenes"] = [{"nodes": [0, 4]}]
    return glb(doc, b.data)

open(os.path.join(here, "hierarchy.glb"), "wb").write(scene(True))
open(os.path.join(here, "noscene.glb"), "wb").write(scene(False))
open(os.path.join(here, "bad_count.glb"), "wb").write(scene(True, bad_count=True))

# Sparse accessor over an all-zero (no bufferView) accessor of 4 vertices; fan (0,1,2) (0,2,3).
sp_idx = struct.pack("<3H", 1, 2, 3) + b"\0\0"
sp_val = struct.pack("<9f", 2, 0, 0, 2, 2, 0, 0, 2, 0)
data = sp_idx + sp_val
doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
       "buffers": [{"byteLength": len(data), "uri": "data:application/octet-stream;base64," + base64.b64encode(data).decode()}],
       "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 6}, {"buffer": 0, "byteOffset": 8, "byteLength": 36}],
       "accessors": [{"componentType": 5126, "count": 4, "type": "VEC3", "min": [0, 0, 0], "max": [2, 2, 0],
                      "sparse": {"count": 3, "indices": {"bufferView": 0, "componentType": 5123},
                                 "values": {"bufferView": 1}}}],
       "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 6}]}]}
open(os.path.join(here, "sparse_fan.gltf"), "w").write(json.dumps(doc, indent=1))
