// SPDX-License-Identifier: MIT
// Our own readers and writers of the geometry formats, one .cpp each: off.cpp, ply.cpp, stl.cpp,
// xyz.cpp (XYZ / XYZN / PTS), pcd.cpp, geometry_writers.cpp (OBJ/glTF: geometry_io.cpp, gltf.cpp).
// Readers work from the file's bytes (torch-free, no Open3D, fuzzed through load_points:
// tests/fuzz/fuzz_geometry.cpp); every reader either fills
// the mesh or throws IoError naming the file, the line or field, and what was expected; no
// declared count is trusted before the bytes that would hold it are there.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mash::io {

struct RawGeometry {
    std::vector<double> vertices;    ///< [V*3]
    std::vector<double> normals;     ///< [V*3] or empty
    std::vector<int64_t> triangles;  ///< [F*3], every index < V (polygons fan-triangulated)
};

/// OFF / NOFF / COFF / CNOFF (ASCII; also "OFF<counts>" on one line as in ModelNet); faces with
/// k >= 3 vertices. Binary OFF is refused.
RawGeometry parse_off(const std::vector<uint8_t>& bytes, const std::string& path);
/// One point per non-empty line: "x y z" (extra columns ignored), or with `normals` "x y z nx ny
/// nz". Lines starting with '#' are comments.
RawGeometry parse_xyz(const std::vector<uint8_t>& bytes, const std::string& path, bool normals);
/// PTS: an optional first line with the point count, then "x y z [intensity r g b]" lines.
RawGeometry parse_pts(const std::vector<uint8_t>& bytes, const std::string& path);
/// PCD v0.5–0.7 (PCL): DATA ascii, binary or binary_compressed (LZF); fields x y z and, when all
/// three are present, normal_x normal_y normal_z. F/I/U types of 1, 2, 4 or 8 bytes.
RawGeometry parse_pcd(const std::vector<uint8_t>& bytes, const std::string& path);

/// Throws IoError when a PLY header is malformed or declares more elements than the file can
/// hold (ASCII or binary).
void check_ply(const std::vector<uint8_t>& bytes, const std::string& path);
/// PLY (ascii, binary little / big endian): vertex x y z (+ nx ny nz), face vertex_indices (or
/// vertex_index) lists fan-triangulated and range-checked; other elements and properties skipped.
RawGeometry parse_ply(const std::vector<uint8_t>& bytes, const std::string& path);
/// STL, binary (a triangle count that does not fit the file is an error) or ASCII (loops of 3 or
/// more vertices, fan-triangulated). Facet normals are ignored; vertices are not merged.
RawGeometry parse_stl(const std::vector<uint8_t>& bytes, const std::string& path);

/// The bytes of a point cloud file for the extension `ext` (what save_points writes): ".ply"
/// binary little-endian float64 x y z (+ nx ny nz); ".pcd" v0.7 DATA binary float32 (PCL's
/// convention; + normal_x normal_y normal_z); ".xyz", ".xyzn" (x y z nx ny nz) and ".pts" (count
/// line, then x y z) as text with 17 significant digits (exact round trip). normals: [P*3] or
/// empty (".xyzn" then writes zeros). Throws IoError for another extension.
std::vector<uint8_t> serialize_points(const std::string& ext, const std::vector<double>& points,
                                      const std::vector<double>& normals);

/// The bytes of a triangle mesh file for `ext`: ".ply" binary little-endian (float64 x y z, area-
/// weighted unit vertex normals nx ny nz, faces as uchar-count int32 lists), ".obj" (v, vn, f a//a
/// b//b c//c; 17 significant digits), ".off" (17 digits), ".stl" binary (float32, facet normals).
/// vertices [V*3], triangles [F*3] with indices < V < 2^31. Throws IoError for another extension.
std::vector<uint8_t> serialize_mesh(const std::string& ext, const std::vector<double>& vertices,
                                    const std::vector<int64_t>& triangles);

}  // namespace mash::io
