// SPDX-License-Identifier: MIT
// Point clouds and meshes in and out (torch-free interface).
// Points are flat row-major float64 arrays [P*3].
//   Read point clouds: .ply .pcd .xyz .xyzn .pts, .off with 0 faces, .npy/.npz holding [P,3].
//   Read meshes:       .obj .off .ply (with faces) .stl .glb .gltf — the surface is sampled
//                      uniformly by area (deterministic for a given seed).
//   Every reader is ours: OBJ (here), OFF / PLY / STL / XYZ / XYZN / PTS / PCD (geometry_formats.h, one .cpp per format),
//   glTF / GLB scenes with node transforms and Draco (gltf.h). Point clouds are written by our own
//   writers (geometry_formats.h serialize_points); no Open3D.
//   Write point clouds: .ply (binary) .pcd .xyz .pts .npy ([P,3] float64) — atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mash::io {

/// The two geometry types of the package: a point cloud (with optional normals) and a triangle mesh.
struct PointCloud {
    std::vector<double> points;   ///< [P*3]
    std::vector<double> normals;  ///< [P*3] or empty
    bool from_mesh = false;       ///< true if the points were sampled from a mesh surface
    int64_t size() const { return int64_t(points.size() / 3); }
};

struct TriangleMesh {
    std::vector<double> vertices;    ///< [V*3]
    std::vector<int64_t> triangles;  ///< [F*3]
    int64_t num_vertices() const { return int64_t(vertices.size() / 3); }
    int64_t num_triangles() const { return int64_t(triangles.size() / 3); }
};

/// Loads a point cloud, or samples `num_samples` points uniformly by area from a mesh. Throws
/// IoError naming the file (missing, unsupported extension, unreadable, empty, non-finite).
PointCloud load_points(const std::string& path, int64_t num_samples = 100000, uint64_t seed = 0);

/// n samples uniformly by area on a triangle mesh, with their face normals (deterministic for a
/// seed). Throws IoError naming `path` for bad indices, non-finite coordinates or zero area.
PointCloud sample_mesh_surface(const std::vector<double>& vertices, const std::vector<int64_t>& triangles, int64_t n,
                               uint64_t seed = 0, const std::string& path = "mesh");

/// Keeps a random subset of at most n points (seeded, order preserved), normals alongside.
void random_subset(PointCloud& pc, int64_t n, uint64_t seed);

/// Reads a triangle mesh (.obj .off .ply .stl .glb .gltf) through the same readers as load_points
/// (OBJ ignores materials; polygons are triangulated). Throws IoError naming the file.
TriangleMesh read_mesh(const std::string& path);
/// Writes a mesh atomically (.ply .obj .off .stl, our own writers). Throws IoError naming the file.
void save_mesh(const std::string& path, const TriangleMesh& mesh);

/// Writes points (and normals if given) atomically; format from the extension.
void save_points(const std::string& path, const std::vector<double>& points, const std::vector<double>& normals = {});

/// True if the extension names a format save_points can write.
bool is_point_output_ext(const std::string& path);

}  // namespace mash::io
