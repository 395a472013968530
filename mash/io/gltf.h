// SPDX-License-Identifier: MIT
// glTF 2.0 (.gltf + buffers, .glb) read as the scene it describes: the default scene (or every
// root node when the file sets none), node matrices and translation / rotation / scale composed
// down the hierarchy in float64, every triangle primitive of every mesh instance (a mesh used by
// several nodes appears several times), triangle strips and fans converted, points and lines
// skipped with a note, materials and textures ignored. Accessors: byte strides, sparse
// substitution, normalized / quantized integer positions (KHR_mesh_quantization);
// KHR_draco_mesh_compression through Debian's libdraco. JSON and buffers are parsed by tinygltf
// (Debian's libtinygltf-dev); accessor decoding and every range check are ours.
// Coordinates stay the file's own (glTF: Y up, metres); nothing is rotated or rescaled.
// Anything broken is an IoError naming the file and the problem (unsupported required extension,
// missing buffer, index out of range, index count not a multiple of 3, non-finite position,
// cyclic node graph, empty scene).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mash/io/geometry_formats.h"

namespace mash::io {

struct GltfReport {
    int64_t nodes = 0;           ///< nodes visited in the scene
    int64_t mesh_instances = 0;  ///< (node, mesh) pairs
    int64_t primitives = 0;      ///< triangle primitives read
    int64_t draco_primitives = 0;
    int64_t skipped_primitives = 0;  ///< points / lines
    std::vector<std::string> notes;  ///< one-line notes (skipped primitives, ...)
};

/// Reads a .gltf or .glb file into world-space triangles (vertices per primitive instance).
RawGeometry read_gltf(const std::string& path, GltfReport* report = nullptr);

}  // namespace mash::io
