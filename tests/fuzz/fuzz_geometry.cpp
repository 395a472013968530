// SPDX-License-Identifier: MIT
// libFuzzer target for the point / mesh readers behind every command that reads geometry
// (load_points, read_mesh): our OBJ and vertex-only OFF readers, the header checks in front of
// Open3D's PLY / STL readers, the OFF / XYZ / XYZN / PTS / PCD readers and the glTF / GLB scene
// reader (JSON pre-pass, tinygltf, our accessor decoding, Draco). The first byte
// picks the extension, the rest is the file. Any input must load or throw mash::Error.
// Build and run with scripts/fuzz.sh geometry.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/io/geometry_io.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    static const char* kExt[] = {".obj", ".off", ".ply", ".xyz", ".xyzn", ".pts", ".pcd", ".stl", ".glb", ".gltf"};
    const std::string ext = kExt[data[0] % 10];
    const std::string path = mash::fuzz::scratch_file(data + 1, size - 1, ext);
    try {
        auto pc = mash::io::load_points(path, 64, 1);
        if (pc.points.size() % 3 != 0 || pc.points.empty()) __builtin_trap();
    } catch (const mash::Error&) {
    }
    if (ext == ".obj" || ext == ".off" || ext == ".ply" || ext == ".stl" || ext == ".glb" || ext == ".gltf") {
        try {
            const mash::io::TriangleMesh m = mash::io::read_mesh(path);
            for (int64_t i : m.triangles)
                if (i < 0 || i >= m.num_vertices()) __builtin_trap();  // every index must be valid
        } catch (const mash::Error&) {
        }
    }
    return 0;
}
